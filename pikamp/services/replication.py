"""The replication process: a master's replicas are fed from the binlogs; a
replica follows its master.

Master side: it listens on ``port + 2000`` (Pika's convention). A replica
sends, for every DB, the binlog position it holds. A replica's binlog is a
copy of its master's (same items, file numbers, offsets and identity), so
where the position is in this master's history (its identity, or one it
continues: it was a replica of that history's master before a failover), and
the file is not purged, the DB resyncs partially: the items from there on are
read from the binlog files (storage.binlog.Reader, following the owner's
appends) and streamed. Else (a
new replica, a purged position, ``SLAVEOF ... force``) it is a full sync: the
owner makes a RocksDB checkpoint of the DB (``__checkpoint_db``: hard links,
and the binlog position it holds), its files are streamed, and the items
after that position follow. Writes go on meanwhile; binlog files a replica
still needs are not purged (``needed`` in the published state).

Replica side: it connects to the master (``masterauth``), sends the positions
(``__master_position`` of each owner), and hands what comes to the owners:
items (``__replicate``: the owner applies them, appends them verbatim to its
own binlog, the position after them in the same batch, then it is acked) and full
syncs' files (``__install_db``). A cut link reconnects and resumes from the
positions the DBs hold, so a replica restarted or cut off resyncs partially.

Wire protocol (RESP arrays, both ways):
  replica -> master  AUTH pw | SYNC listening-port force ndbs pos0 ... | ACK db pos
  replica -> master  HAVE db name size ... (after FULL: SST files a cut-off full sync left)
  master -> replica  FULL db total-bytes origin | FILE db relpath chunk | SYNCED db pos |
                     ITEMS db pos frame... | PING | -ERR ...
Control (RESP on ``.run/replication.sock``): SLAVEOF host port force | SLAVEOF NO ONE.
State for INFO replication, ROLE and the purge process: ``.run/replication.json``.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import shutil
import time

import hiredis
from setproctitle import setproctitle

from pikamp import ipc
from pikamp.commands.replication import ORIGIN_FILE, REPL_SOCKET, REPL_STATE
from pikamp.config import Config, load_runtime, parse_slaveof
from pikamp.services.requests import RequestConn, listen, stop_event
from pikamp.storage import binlog as bl

log = logging.getLogger("pikamp.replication")

PORT_OFFSET = 2000
CHUNK = 1 << 20  # bytes of a checkpoint file per FILE message
ITEMS_BYTES = 1 << 20  # binlog bytes per ITEMS message
# Seconds between looks at a binlog that has nothing new: from POLL, doubling
# while it stays idle up to POLL_IDLE (an idle replica costs ~no CPU; the first
# write after a quiet spell reaches it within POLL_IDLE).
POLL = 0.002
POLL_IDLE = 0.05
PING_EVERY = 1.0
TIMEOUT = 20.0  # a link silent this long is dead


def encode(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


def position_value(record: bytes | None, file_size: int) -> int:
    """Redis-style scalar offset of a position: file number x file size + offset."""
    if not record:
        return 0
    _, filenum, offset = bl.unpack_position(record)
    return bl.offset_value(filenum, offset, file_size)


class Workers:
    """Requests to the owner workers over their IPC sockets (pipelined, in order)."""

    def __init__(self, run_dir: str, nworkers: int) -> None:
        self.run_dir = run_dir
        self.n = nworkers
        self.links: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter, hiredis.Reader]] = {}
        self.locks = {i: asyncio.Lock() for i in range(nworkers)}
        self.next_id = 1

    async def call(self, db: int, args: list[bytes], timeout: float = 600.0) -> bytes:
        """The owner's raw RESP reply to ``args`` run on DB ``db``."""
        i = db % self.n
        async with self.locks[i]:
            link = self.links.get(i)
            if link is None:
                reader, writer = await asyncio.open_unix_connection(ipc.socket_path(self.run_dir, i),
                                                                    limit=1 << 26)
                link = self.links[i] = (reader, writer, hiredis.Reader())
            reader, writer, parser = link
            rid = self.next_id
            self.next_id += 1
            try:
                writer.write(ipc.encode_request(rid, db, False, 0, args))
                while True:
                    msg = parser.gets()
                    if msg is not False:
                        return msg[1]
                    data = await asyncio.wait_for(reader.read(1 << 20), timeout)
                    if not data:
                        raise ConnectionError(f"worker {i} closed the link")
                    parser.feed(data)
            except BaseException:
                self.links.pop(i, None)
                writer.close()
                raise


class Service:
    """State shared by the master side and the replica side."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.run_dir = os.path.join(config.path_of("db-path"), ".run")
        self.log_path = config.path_of("log-path")
        self.ndbs = config.databases
        self.file_size = config.int("binlog-file-size")
        self.workers = Workers(self.run_dir, config.workers)
        self.sessions: list[ReplicaSession] = []
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        self.follower: Follower | None = None
        self.throttle_at = 0.0  # when the full-sync bytes sent so far may all have gone

    async def throttle(self, nbytes: int) -> None:
        """Pace full syncs to throttle-bytes-per-second, all of them together."""
        rate = self.config.int("throttle-bytes-per-second")
        now = time.monotonic()
        self.throttle_at = max(self.throttle_at, now) + nbytes / rate
        if self.throttle_at - now > 0.001:
            await asyncio.sleep(self.throttle_at - now)

    def binlog_dir(self, db: int) -> str:
        return os.path.join(self.log_path, f"log_db{db}")

    def publish(self) -> None:
        needed: dict[str, int] = {}
        for s in self.sessions:
            for db, filenum in s.needed.items():
                needed[str(db)] = min(filenum, needed.get(str(db), filenum))
        state = {
            "published": time.time(),  # readers treat a stale state (this process died) as links down
            "replicas": [s.info() for s in self.sessions],
            "needed": needed,
            "sync_full": self.sync_full,
            "sync_partial_ok": self.sync_partial_ok,
            "sync_partial_err": self.sync_partial_err,
        }
        if self.follower is not None:
            state.update(self.follower.info())
        path = os.path.join(self.run_dir, REPL_STATE)
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, path)

    def follow(self, target: tuple[str, int] | None, force: bool) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
        if target is not None:
            self.follower = Follower(self, target, force)
            self.follower.start()
        self.publish()


# -- master side -----------------------------------------------------------------
class ReplicaSession:
    """One connected replica: a feeding task per DB."""

    def __init__(self, service: Service, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.service = service
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.ip = peer[0]
        self.port = 0
        self.acked: dict[int, bytes] = {}
        self.needed: dict[int, int] = {}  # db -> first binlog file it still needs
        self.syncing: set[int] = set()
        self.fed = 0  # DBs streaming (after their full sync, if any)
        self.full = False  # some DB needed a full sync
        self.partial_err = False  # some DB asked for a purged position
        self.last_ack = time.monotonic()
        self.tasks: list[asyncio.Task] = []
        # db -> [(filenum, end offset, items)] sent and not yet acked: at most
        # sync-window-size items ahead of the replica's acks.
        self.inflight: dict[int, collections.deque] = {}
        self.unacked: dict[int, int] = {}
        self.have: dict[int, asyncio.Future] = {}  # db -> what its full sync's staging holds (HAVE)

    def info(self) -> dict:
        offset = sum(position_value(r, self.service.file_size) for r in self.acked.values())
        return {"ip": self.ip, "port": self.port, "state": "online" if not self.syncing else "wait_bgsave",
                "offset": offset, "lag": int(time.monotonic() - self.last_ack),
                "syncing": sorted(self.syncing)}

    def send(self, args: list[bytes]) -> None:
        self.writer.write(encode(args))

    async def run(self) -> None:
        svc = self.service
        parser = hiredis.Reader()
        try:
            hello = await self._next(parser)
            password = svc.config.get("requirepass")
            if hello and hello[0] == b"AUTH":
                if password and hello[1:2] != [password.encode()]:
                    self.writer.write(b"-ERR invalid password\r\n")
                    return
                self.send([b"OK"])
                hello = await self._next(parser)
            elif password:
                self.writer.write(b"-NOAUTH Authentication required.\r\n")
                return
            if not hello or hello[0] != b"SYNC":
                return
            self.port = int(hello[1])
            force = hello[2] == b"1"
            ndbs = int(hello[3])
            records = hello[4 : 4 + ndbs]
            log.info("replica %s:%d connected (%s)", self.ip, self.port, "force" if force else "resync")
            self.send([b"HELLO", b"%d" % svc.file_size])  # offsets are counted in our file size
            svc.sessions.append(self)
            for db in range(min(ndbs, svc.ndbs)):
                self.tasks.append(asyncio.create_task(self.feed(db, records[db], force)))
            while True:
                msg = await self._next(parser)
                if msg is None:
                    return
                if msg[0] == b"HAVE":
                    fut = self.have.get(int(msg[1]))
                    if fut is not None and not fut.done():
                        fut.set_result({msg[i]: int(msg[i + 1]) for i in range(2, len(msg) - 1, 2)})
                elif msg[0] == b"ACK":
                    db = int(msg[1])
                    self.acked[db] = msg[2]
                    _, filenum, offset = bl.unpack_position(msg[2])
                    self.needed[db] = filenum
                    self.last_ack = time.monotonic()
                    sent = self.inflight.get(db)
                    while sent and sent[0][:2] <= (filenum, offset):
                        self.unacked[db] -= sent.popleft()[2]
        except (OSError, ValueError, IndexError, hiredis.ProtocolError, asyncio.TimeoutError) as e:
            log.warning("replica %s:%d: %s", self.ip, self.port, e or type(e).__name__)
        finally:
            for t in self.tasks:
                t.cancel()
            if self in svc.sessions:
                svc.sessions.remove(self)
                log.info("replica %s:%d gone", self.ip, self.port)
            self.writer.close()

    async def _next(self, parser: hiredis.Reader) -> list | None:
        while (msg := parser.gets()) is False:
            data = await asyncio.wait_for(self.reader.read(1 << 16), TIMEOUT)
            if not data:
                return None
            parser.feed(data)
        return msg

    async def feed(self, db: int, record: bytes, force: bool) -> None:
        svc = self.service
        path = svc.binlog_dir(db)
        try:
            manifest = bl.read_manifest(path)
            if manifest is None:
                raise bl.BinlogError(f"db{db} has no binlog")
            ident = manifest[4]
            reader = None
            if record and not force:
                rid, filenum, offset = bl.unpack_position(record)
                # Ours, or of a history ours continues (this server was a
                # replica of the one the position comes from): partial.
                if bl.serves_from(path, rid, filenum, offset):
                    reader = bl.Reader(path, filenum, offset)
                    self.needed[db] = filenum
                elif bl.continues(path, ident, rid):
                    self.partial_err = True  # purged, or past where our copy of that history ends
            if reader is None:
                self.full = True
                reader, ident = await self.full_sync(db)
            self.fed += 1
            if self.fed == len(self.tasks):  # every DB is streaming: count the sync once, as Redis does
                if self.full:
                    svc.sync_full += 1
                else:
                    svc.sync_partial_ok += 1
                if self.partial_err:
                    svc.sync_partial_err += 1
                svc.publish()  # (INFO shows it now, not at the next twice-a-second publish)
            idle = last_look = time.monotonic()
            wait = POLL
            sent = self.inflight[db] = collections.deque()
            self.unacked[db] = 0
            while True:
                if self.unacked[db] >= svc.config.int("sync-window-size"):
                    await asyncio.sleep(POLL)  # the replica is that far behind: wait for its acks
                    continue
                items = reader.read(ITEMS_BYTES)
                now = time.monotonic()
                if items or now - last_look >= 1.0:
                    # The identity to label items with, read after them: an item
                    # appended under a new identity was appended after the
                    # manifest named it. A new identity that continues ours
                    # (promoted; following another master that took our
                    # position) labels them; a binlog that started afresh or
                    # was replaced by a full sync ends the link (the replica
                    # comes back and finds out where it stands).
                    last_look = now
                    m = bl.read_manifest(path)
                    if m is not None and m[4] != ident:
                        if not bl.continues(path, m[4], ident):
                            log.info("db%d: the binlog started afresh; replica %s:%d resyncs",
                                     db, self.ip, self.port)
                            self.writer.close()
                            return
                        ident = m[4]
                if items:
                    wait = POLL
                    filenum, offset, frame = items[-1]
                    pos = bl.pack_position(ident, filenum, offset + len(frame))
                    sent.append((filenum, offset + len(frame), len(items)))
                    self.unacked[db] += len(items)
                    self.send([b"ITEMS", b"%d" % db, pos, *[f for _, _, f in items]])
                    await self.writer.drain()
                    idle = now
                    continue
                if now - idle >= PING_EVERY and db == 0:
                    self.send([b"PING"])
                    await self.writer.drain()
                    idle = now
                await asyncio.sleep(wait)
                wait = min(wait * 2, POLL_IDLE)
        except bl.BinlogError as e:
            log.warning("db%d: feeding replica %s:%d stopped: %s", db, self.ip, self.port, e)
            self.writer.close()
        except (OSError, ConnectionError):
            self.writer.close()

    async def full_sync(self, db: int) -> tuple[bl.Reader, bytes]:
        """Checkpoint DB ``db`` in its owner, send its files; a Reader from its position."""
        svc = self.service
        self.syncing.add(db)
        started = time.monotonic()
        target = os.path.join(svc.run_dir, "fullsync", f"{os.getpid()}-{id(self)}-db{db}")
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            reply = await svc.workers.call(db, [b"__checkpoint_db", os.fsencode(target)])
            if reply[:1] == b"-":
                raise bl.BinlogError(reply[1:].decode("latin-1").strip())
            record = hiredis.Reader()
            record.feed(reply)
            position = record.gets()
            ident, filenum, offset = bl.unpack_position(position)
            self.needed[db] = filenum
            paths = [os.path.join(root, name) for root, _, files in os.walk(target) for name in sorted(files)]
            total = sum(os.path.getsize(p) for p in paths)
            # The replica answers with the SST files a cut-off full sync of
            # this DB already brought (same origin): they are sent from where
            # they stop (an SST file never changes once written).
            fut = self.have[db] = asyncio.get_running_loop().create_future()
            self.send([b"FULL", b"%d" % db, b"%d" % total, ident])
            await self.writer.drain()
            have = await asyncio.wait_for(fut, TIMEOUT)
            sent = skipped = 0
            reported = time.monotonic()
            for full in paths:
                rel = os.path.relpath(full, target).encode()
                size = os.path.getsize(full)
                start = have.get(rel, 0) if rel.endswith(b".sst") else 0
                if start > size:
                    start = 0
                skipped += start
                if start and start == size:
                    continue
                with open(full, "rb") as f:
                    f.seek(start)
                    first = not start
                    while True:
                        chunk = f.read(CHUNK)
                        if not chunk and not first:
                            break
                        self.send([b"FILE", b"%d" % db, rel, chunk])
                        sent += len(chunk)
                        first = False
                        await self.writer.drain()
                        await svc.throttle(len(chunk))
                        if time.monotonic() - reported >= 5.0:
                            reported = time.monotonic()
                            log.info("db%d: full sync to %s:%d: %d of %d bytes sent (%.0f%%)", db, self.ip,
                                     self.port, sent, total, 100.0 * sent / max(total, 1))
                        if not chunk:
                            break
            self.send([b"SYNCED", b"%d" % db, position])
            await self.writer.drain()
            log.info("db%d: full sync to %s:%d: %d bytes in %.2fs (%d bytes the replica had), then from %s%d:%d",
                     db, self.ip, self.port, sent, time.monotonic() - started, skipped, bl.PREFIX, filenum, offset)
            return bl.Reader(svc.binlog_dir(db), filenum, offset), ident
        finally:
            shutil.rmtree(target, ignore_errors=True)
            self.syncing.discard(db)


# -- replica side ----------------------------------------------------------------
class Follower:
    """This server's link to its master."""

    def __init__(self, service: Service, master: tuple[str, int], force: bool) -> None:
        self.service = service
        self.master = master
        self.force = force
        self.link = "connect"
        self.task: asyncio.Task | None = None
        self.last_io = 0.0
        self.down_since = time.time()
        self.syncing: set[int] = set()
        self.positions: dict[int, bytes] = {}
        self.master_file_size = service.file_size
        self.sync_total: dict[int, int] = {}  # db -> bytes of its full sync, and received so far
        self.sync_read: dict[int, int] = {}
        self.sync_io = 0.0

    def info(self) -> dict:
        size = self.master_file_size
        return {"master_host": self.master[0], "master_port": self.master[1], "link": self.link,
                "last_io": self.last_io, "down_since": self.down_since, "syncing": sorted(self.syncing),
                "master_file_size": size,
                "sync_total": sum(self.sync_total.values()), "sync_read": sum(self.sync_read.values()),
                "sync_io": self.sync_io,
                "offset": sum(position_value(p, size) for p in self.positions.values())}

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def run(self) -> None:
        while True:
            try:
                await self.session()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any failure: reconnect
                log.warning("link to master %s:%d: %s", *self.master, e or type(e).__name__)
            if self.link == "connected":
                self.down_since = time.time()
            self.link = "connect"
            self.service.publish()
            await asyncio.sleep(1.0)

    async def session(self) -> None:
        svc = self.service
        host, port = self.master
        self.link = "connecting"
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port + PORT_OFFSET, limit=1 << 26), 10.0)
        parser = hiredis.Reader()

        async def next_msg() -> list | None:
            while (msg := parser.gets()) is False:
                data = await asyncio.wait_for(reader.read(1 << 20), TIMEOUT)
                if not data:
                    return None
                parser.feed(data)
            return msg

        try:
            password = svc.config.get("masterauth")
            if password:
                writer.write(encode([b"AUTH", password.encode()]))
                reply = await next_msg()
                if not isinstance(reply, list) or reply[:1] != [b"OK"]:
                    raise ConnectionError(f"master refused AUTH: {reply}")
            records = []
            for db in range(svc.ndbs):
                raw = await svc.workers.call(db, [b"__master_position"])
                value = hiredis.Reader()
                value.feed(raw)
                rec = value.gets()
                records.append(rec or b"")
                if rec:
                    self.positions[db] = rec
            writer.write(encode([b"SYNC", b"%d" % svc.config.int("port"), b"1" if self.force else b"0",
                                 b"%d" % svc.ndbs, *records]))
            self.force = False  # once: a reconnect resumes from what was synced
            self.syncing.clear()  # (a full sync cut off starts over)
            self.sync_total.clear()
            self.sync_read.clear()
            self.link = "sync"
            svc.publish()
            staging: dict[int, str] = {}
            while True:
                msg = await next_msg()
                if msg is None:
                    raise ConnectionError("master closed the link")
                if isinstance(msg, hiredis.ReplyError):
                    raise ConnectionError(str(msg))
                self.last_io = time.time()
                kind = msg[0]
                if kind == b"HELLO":
                    self.master_file_size = int(msg[1])
                elif kind == b"ITEMS":
                    db = int(msg[1])
                    reply = await svc.workers.call(db, [b"__replicate", msg[2], *msg[3:]])
                    if reply[:1] == b"-":
                        raise ConnectionError(f"db{db}: applying failed: {reply!r}")
                    self.positions[db] = msg[2]
                    writer.write(encode([b"ACK", msg[1], msg[2]]))
                    if self.link != "connected" and not self.syncing:
                        self.link = "connected"
                        svc.publish()
                elif kind == b"PING":
                    if self.link != "connected" and not self.syncing:
                        self.link = "connected"
                        svc.publish()
                    for db, rec in self.positions.items():
                        writer.write(encode([b"ACK", b"%d" % db, rec]))
                elif kind == b"FULL":
                    db = int(msg[1])
                    self.syncing.add(db)
                    self.link = "sync"
                    path = os.path.join(svc.run_dir, "incoming", f"db{db}")
                    have = keep_staged(path, msg[3])
                    writer.write(encode([b"HAVE", msg[1], *[x for name, size in have.items()
                                                            for x in (name, b"%d" % size)]]))
                    staging[db] = path
                    self.sync_total[db] = int(msg[2])
                    self.sync_read[db] = sum(have.values())
                    self.sync_io = time.time()
                    log.info("db%d: full sync from %s:%d started (%d bytes)", db, host, port, self.sync_total[db])
                    svc.publish()
                elif kind == b"FILE":
                    path = os.path.join(staging[int(msg[1])], os.fsdecode(msg[2]))
                    if ".." in os.fsdecode(msg[2]).split(os.sep):
                        raise ConnectionError("bad file name in a full sync")
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "ab") as f:
                        f.write(msg[3])
                    db = int(msg[1])
                    self.sync_read[db] = self.sync_read.get(db, 0) + len(msg[3])
                    self.sync_io = time.time()
                elif kind == b"SYNCED":
                    db = int(msg[1])
                    path = staging.pop(db)
                    reply = await svc.workers.call(db, [b"__install_db", os.fsencode(path), msg[2]])
                    if reply[:1] == b"-":
                        shutil.rmtree(path, ignore_errors=True)  # the next try starts from nothing
                        raise ConnectionError(f"db{db}: installing the full sync failed: {reply!r}")
                    self.positions[db] = msg[2]
                    self.syncing.discard(db)
                    self.sync_total.pop(db, None)
                    self.sync_read.pop(db, None)
                    writer.write(encode([b"ACK", msg[1], msg[2]]))
                    log.info("db%d: full sync from %s:%d done", db, host, port)
                    svc.publish()
        finally:
            writer.close()


def keep_staged(path: str, origin: bytes) -> dict[bytes, int]:
    """A full sync's staging directory, kept from an earlier attempt of the
    same origin (the master DB's binlog identity): its SST files and their
    sizes (everything else is fetched again); emptied for another origin."""
    mark = os.path.join(path, ORIGIN_FILE)
    try:
        with open(mark, "rb") as f:
            same = f.read() == origin
    except OSError:
        same = False
    have: dict[bytes, int] = {}
    if same:
        for root, _, files in os.walk(path):
            for name in files:
                full = os.path.join(root, name)
                if name.endswith(".sst"):
                    have[os.path.relpath(full, path).encode()] = os.path.getsize(full)
                elif full != mark:
                    os.unlink(full)
    else:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        with open(mark, "wb") as f:
            f.write(origin)
    return have


def acked_count(service: Service, target: list[tuple[int, int, int]]) -> int:
    """Replicas whose acks reach every (db, filenum, offset) of ``target``."""
    n = 0
    for s in service.sessions:
        ok = True
        for db, filenum, offset in target:
            rec = s.acked.get(db)
            if rec is None or bl.unpack_position(rec)[1:] < (filenum, offset):
                ok = False
                break
        n += ok
    return n


# -- the process -------------------------------------------------------------------
class ControlConn(RequestConn):
    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service

    def handle(self, msg: list) -> None:
        if msg[0] == b"WAIT":
            asyncio.get_running_loop().create_task(self.wait(msg))
        elif msg[:3] == [b"SLAVEOF", b"NO", b"ONE"]:
            self.service.follow(None, False)
            self.reply(b"+OK\r\n")
        elif len(msg) == 4 and msg[0] == b"SLAVEOF":
            self.service.follow((msg[1].decode("latin-1"), int(msg[2])), msg[3] == b"1")
            self.reply(b"+OK\r\n")
        else:
            self.reply(b"-ERR unknown replication request\r\n")

    async def wait(self, msg: list) -> None:
        """WAIT numreplicas timeout db filenum offset ...: answered with the
        count (timeout -1: at once, 0: no limit)."""
        want, timeout = int(msg[1]), int(msg[2])
        nums = [int(x) for x in msg[3:]]
        target = [(nums[i], nums[i + 1], nums[i + 2]) for i in range(0, len(nums), 3)]
        deadline = time.monotonic() + max(timeout, 0) / 1000 if timeout else None
        while True:
            n = acked_count(self.service, target)
            if n >= want or (deadline is not None and time.monotonic() >= deadline):
                break
            await asyncio.sleep(0.002)
        self.reply(b":%d\r\n" % n)


async def serve(config: Config) -> None:
    load_runtime(config)  # SLAVEOF since the start, when this process is restarted
    svc = Service(config)
    os.makedirs(svc.run_dir, exist_ok=True)
    ctl_server = await listen(os.path.join(svc.run_dir, REPL_SOCKET), lambda: ControlConn(svc))

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await ReplicaSession(svc, reader, writer).run()

    port = config.int("port") + PORT_OFFSET
    bind = (config.get("bind") or "127.0.0.1").split()
    server = await asyncio.start_server(accept, bind, port, limit=1 << 26, reuse_address=True)
    log.info("replication service listening on %s:%d", config.get("bind"), port)
    svc.follow(parse_slaveof(config.values.get("slaveof", "")), False)
    stop = stop_event()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            load_runtime(config)  # CONFIG SET throttle-bytes-per-second, sync-window-size ...
            svc.publish()
    server.close()
    ctl_server.close()


def run(config: Config) -> None:
    """Entry point of the replication process."""
    import uvloop

    setproctitle("pikamp: replication")
    uvloop.run(serve(config))
    log.info("replication service stopped")
