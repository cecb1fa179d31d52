"""The monitor process: serves every MONITOR connection and streams to it
the commands all workers execute, in Redis' line format.

A worker hands a connection that sent MONITOR over with its fd
(pikamp.handover) and forgets it. While at least one monitor is attached,
every worker sends here what it executes (one frame per command, batched
per event-loop turn); with none, the workers send nothing and pay one flag
check per command. A new monitor gets its +OK only once every worker has
acknowledged that it feeds, so it sees every command executed after it.

link protocol (RESP arrays both ways):
  worker -> here: H index                      (hello, first on a link)
                  A                            (acknowledges ON: feeding now)
                  C client addr                (a client's address, while monitored)
                  X client                     (that client has gone)
                  L micros db client args...   (a command it executed)
  here -> worker: ON / OFF                     (start / stop feeding)
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket

import hiredis
from setproctitle import setproctitle

from pikamp import handover
from pikamp.config import Config, parse_output_limits

log = logging.getLogger("pikamp.monitor")

LINK_NAME = "monitor.sock"
HANDOVER_NAME = "monitor-fd.sock"
HOLD_SECONDS = 0.2  # how long a line waits for its client's address
ONLY = b"-ERR a MONITOR connection only takes QUIT and RESET here\r\n"

# sdscatrepr: printable ASCII as is, the usual escapes, the rest as \xHH.
_ESCAPES = {ord("\\"): b"\\\\", ord('"'): b'\\"', ord("\n"): b"\\n", ord("\r"): b"\\r", ord("\t"): b"\\t",
            7: b"\\a", 8: b"\\b"}
_TABLE = [_ESCAPES.get(c, bytes([c]) if 32 <= c <= 126 else b"\\x%02x" % c) for c in range(256)]
_SPECIAL = re.compile(rb'[^\x20-\x21\x23-\x5b\x5d-\x7e]')


def quote(arg: bytes) -> bytes:
    """An argument as Redis' MONITOR shows it: quoted, escaped."""
    return b'"' + _SPECIAL.sub(lambda m: _TABLE[m.group()[0]], arg) + b'"'


def line(micros: int, db: bytes, addr: bytes, args: list[bytes]) -> bytes:
    """One MONITOR line as a status reply."""
    head = b"+%d.%06d [%b %b] " % (micros // 1_000_000, micros % 1_000_000, db, addr)
    return head + b" ".join([quote(a) for a in args]) + b"\r\n"


def _line(msg: list[bytes], addrs: dict[bytes, bytes]) -> bytes:
    """The line for a worker's L frame."""
    addr = addrs.get(msg[3], b"?") if msg[3] != b"0" else b"pikamp"
    return line(int(msg[1]), msg[2], addr, msg[4:])


def link_path(run_dir: str) -> str:
    return os.path.join(run_dir, LINK_NAME)


def handover_path(run_dir: str) -> str:
    return os.path.join(run_dir, HANDOVER_NAME)


class MonitorConn(asyncio.Protocol):
    """One MONITOR client."""

    def __init__(self, service: "MonitorService", fields: list) -> None:
        self.service = service
        self.id, self.resp3 = int(fields[0]), fields[1] == b"3"
        self.addr, self.name = fields[2], fields[3]
        self.pending_input = fields[4]
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.active = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.service.attach(self)

    def data_received(self, data: bytes) -> None:
        if not self.active:  # answered after the +OK, in order
            self.pending_input += data
            return
        self.reader.feed(data)
        try:
            while (args := self.reader.gets()) is not False:
                self.command(args)
        except hiredis.ProtocolError:
            self.write(b"-ERR Protocol error\r\n")
            self.close()

    def command(self, args: list[bytes]) -> None:
        if not isinstance(args, list) or not args or self.transport is None:
            return
        name = args[0].lower() if isinstance(args[0], bytes) else b""
        if name == b"quit":
            self.write(b"+OK\r\n")
            self.close()
        elif name == b"reset":
            self.service.hand_back(self)
        else:
            self.write(ONLY)

    def write(self, data: bytes) -> None:
        t = self.transport
        if t is None:
            return
        t.write(data)
        limit = self.service.limit
        if limit and t.get_write_buffer_size() > limit:
            log.warning("monitor client id=%d addr=%s closed: %d bytes it did not read",
                        self.id, self.addr.decode("latin-1"), t.get_write_buffer_size())
            t.abort()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.service.detach(self)


class WorkerLink(asyncio.Protocol):
    """One worker's feed."""

    def __init__(self, service: "MonitorService") -> None:
        self.service = service
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.worker = -1
        # Lines of a client whose address has not come yet: a forwarded
        # command runs (and is fed) on the DB's owner, while the client's own
        # worker sends its address, so the two reach here over two links.
        self.held: list[list[bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        svc = self.service
        out: list[bytes] = []
        addrs = svc.addrs
        held = self.held
        while (msg := self.reader.gets()) is not False:
            op = msg[0]
            if op == b"L":
                if held or (msg[3] not in addrs and msg[3] != b"0"):
                    held.append(msg)  # its client's address comes over another worker's link
                    svc.hold()
                else:
                    out.append(_line(msg, addrs))
            elif op == b"C":
                addrs[msg[1]] = msg[2]
                svc.address_came()
            elif op == b"X":  # after lines still on their way from other workers
                svc.loop.call_later(HOLD_SECONDS, addrs.pop, msg[1], None)  # type: ignore[union-attr]
            elif op == b"A":
                svc.acked(self)
            elif op == b"H":
                self.worker = int(msg[1])
                svc.links[self.worker] = self
                if svc.monitors or svc.starting:
                    self.send(b"ON")
        if out:
            svc.broadcast(b"".join(out))

    def release(self, force: bool) -> bytes:
        """The held lines whose client's address is known now (all of
        them when ``force``: the address is not coming), in order."""
        addrs = self.service.addrs
        held = self.held
        n = 0
        while n < len(held) and (force or held[n][3] in addrs or held[n][3] == b"0"):
            n += 1
        out = b"".join([_line(msg, addrs) for msg in held[:n]])
        del held[:n]
        return out

    def send(self, op: bytes) -> None:
        if self.transport is not None:
            self.transport.write(b"*1\r\n$%d\r\n%b\r\n" % (len(op), op))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.held:  # what the worker executed before it went
            self.service.broadcast(self.release(True))
        if self.service.links.get(self.worker) is self:
            del self.service.links[self.worker]
        self.service.acked(self)  # a worker that went is not waited for


class MonitorService:
    """The monitor process' state."""

    def __init__(self, config: Config) -> None:
        self.run_dir = os.path.join(config.path_of("db-path"), ".run")
        self.nworkers = config.workers
        self.links: dict[int, WorkerLink] = {}
        self.monitors: list[MonitorConn] = []  # streaming
        self.starting: list[MonitorConn] = []  # waiting for the workers' acks
        self.unacked: set[WorkerLink] = set()
        self.addrs: dict[bytes, bytes] = {}  # client id -> addr, sent by the workers
        # A monitor that does not read is cut off: Redis' normal class has no
        # limit by default, so the pubsub class' hard limit bounds it here.
        limits = parse_output_limits(config.get("client-output-buffer-limit"))
        self.limit = limits.get("normal", (0, 0, 0))[0] or limits.get("pubsub", (0, 0, 0))[0]
        self.loop: asyncio.AbstractEventLoop | None = None
        self.hold_timer: asyncio.TimerHandle | None = None

    def receive(self, sock: socket.socket, fields: list) -> None:
        """A worker handed over a connection that sent MONITOR."""
        self.loop.create_task(  # type: ignore[union-attr]
            self.loop.connect_accepted_socket(lambda: MonitorConn(self, fields), sock))  # type: ignore[union-attr]

    def attach(self, m: MonitorConn) -> None:
        if self.monitors:
            self.activate(m)
            return
        self.starting.append(m)
        if len(self.starting) == 1:
            self.unacked = set(self.links.values())
            for link in self.unacked:
                link.send(b"ON")
            if not self.unacked:
                self.acked(None)

    def acked(self, link: WorkerLink | None) -> None:
        self.unacked.discard(link)  # type: ignore[arg-type]
        if not self.unacked and self.starting:
            starting, self.starting = self.starting, []
            for m in starting:
                self.activate(m)

    def activate(self, m: MonitorConn) -> None:
        if m.transport is None:
            return
        m.active = True
        self.monitors.append(m)
        m.write(b"+OK\r\n")
        log.info("monitor client id=%d addr=%s attached", m.id, m.addr.decode("latin-1"))
        if m.pending_input:  # what the client sent after MONITOR
            data, m.pending_input = m.pending_input, b""
            m.data_received(data)

    def detach(self, m: MonitorConn) -> None:
        if m in self.starting:
            self.starting.remove(m)
        if m in self.monitors:
            self.monitors.remove(m)
            log.info("monitor client id=%d detached", m.id)
        if not self.monitors and not self.starting:
            for link in self.links.values():
                link.send(b"OFF")
                link.held.clear()
            self.addrs.clear()

    def hold(self) -> None:
        """A link holds lines for an address; wait for it a bounded time."""
        if self.hold_timer is None:
            self.hold_timer = self.loop.call_later(HOLD_SECONDS, self.release_held, True)  # type: ignore[union-attr]

    def address_came(self) -> None:
        if self.hold_timer is not None:
            self.release_held(False)

    def release_held(self, force: bool) -> None:
        """Send the held lines that can go (all of them when ``force``)."""
        out = [link.release(force) for link in list(self.links.values())]
        if self.hold_timer is not None and (force or not any(link.held for link in self.links.values())):
            self.hold_timer.cancel()
            self.hold_timer = None
        if any(out):
            self.broadcast(b"".join(out))

    def broadcast(self, data: bytes) -> None:
        for m in list(self.monitors):
            m.write(data)

    def hand_back(self, m: MonitorConn) -> None:
        """RESET: out of monitor mode; the connection goes back to the worker
        it came from, as a fresh client (RESP2, DB 0, as RESET leaves it)."""
        t = m.transport
        if t is None:
            return
        m.write(b"+RESET\r\n")
        sock = t.get_extra_info("socket")
        worker = m.id % self.nworkers
        path = os.path.join(self.run_dir, f"worker{worker}-fd.sock")
        try:
            if t.get_write_buffer_size():
                raise OSError("its output is not written yet")
            handover.send_connection(path, sock.fileno(), [b"%d" % m.id, m.name])
        except OSError as e:
            log.warning("monitor client id=%d could not go back to worker %d: %s", m.id, worker, e)
        m.transport = None
        self.detach(m)
        t.abort()  # our copy of the fd; the worker has its own

    async def serve(self) -> None:
        loop = self.loop = asyncio.get_running_loop()
        os.makedirs(self.run_dir, exist_ok=True)
        path = link_path(self.run_dir)
        if os.path.exists(path):
            os.unlink(path)
        server = await loop.create_unix_server(lambda: WorkerLink(self), path)
        listener = handover.listen(loop, handover_path(self.run_dir), self.receive)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, lambda: None)  # the supervisor decides
        log.info("monitor service listening on %s", path)
        await stop.wait()
        server.close()
        listener.close()


def run(config: Config) -> None:
    """Entry point of the monitor process."""
    import uvloop

    setproctitle("pikamp: monitor")
    uvloop.run(MonitorService(config).serve())
    log.info("monitor service stopped")
