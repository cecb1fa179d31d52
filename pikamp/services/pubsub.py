"""The pubsub process: the one registry of every subscription, and the router
of every PUBLISH.

A subscribed connection stays in the worker that accepted it (a RESP3
client keeps issuing ordinary commands while subscribed, and a RESP2 client
returns to them after its last UNSUBSCRIBE: both need the worker's command
pipeline). Each worker keeps one link here and mirrors its clients'
subscriptions; a PUBLISH from any worker comes here, is matched against the
channels and patterns of all workers, answered with the number of
receivers, and sent as one message per worker that has receivers, listing
them. One link per worker, processed in order: the messages of a publisher
arrive in the order it published them, and a subscription acknowledged here
sees every message published after it.

link protocol (RESP arrays both ways):
  worker -> here: H index                          (hello, first on a link)
                  S rid client kind name...        (subscribe; kind c, p or s)
                  U rid client kind name...        (unsubscribe those names)
                  G rid client                     (the client is gone)
                  P rid kind channel message       (publish; kind c or s)
                  Q rid what arg...                (PUBSUB CHANNELS/NUMSUB/NUMPAT ...; COUNTS)
                  E db event key K? E?             (a keyspace event to publish; no answer)
  here -> worker: R rid value                      (the answer to rid)
                  M type channel message client... (type message or smessage)
                  N pattern channel message client...  (pmessage)
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal

import hiredis
from setproctitle import setproctitle

from pikamp.config import Config
from pikamp.glob import Glob

log = logging.getLogger("pikamp.pubsub")

SOCKET_NAME = "pubsub.sock"


def socket_path(run_dir: str) -> str:
    return os.path.join(run_dir, SOCKET_NAME)


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(b), b)


def encode_array(items: list) -> bytes:
    """RESP array of bytes / ints / nested lists (the link's frames)."""
    parts = [b"*%d\r\n" % len(items)]
    for x in items:
        if type(x) is int:
            parts.append(b":%d\r\n" % x)
        elif type(x) is list:
            parts.append(encode_array(x))
        else:
            parts.append(_bulk(x))
    return b"".join(parts)


class Registry:
    """Who is subscribed to what, across all workers. Clients are known by
    id (unique over the workers) and by the link they came through."""

    def __init__(self) -> None:
        # kind -> name -> {client id: link}; dicts keep subscription order,
        # which is the order Redis delivers in.
        self.subs: dict[bytes, dict[bytes, dict[int, "WorkerLink"]]] = {b"c": {}, b"p": {}, b"s": {}}
        self.globs: dict[bytes, Glob] = {}
        # client id -> (kind, name) it holds, to drop them all when it goes.
        self.held: dict[int, set[tuple[bytes, bytes]]] = {}

    def subscribe(self, link: "WorkerLink", client: int, kind: bytes, names: list[bytes]) -> None:
        table = self.subs[kind]
        held = self.held.setdefault(client, set())
        for name in names:
            table.setdefault(name, {})[client] = link
            held.add((kind, name))
            if kind == b"p" and name not in self.globs:
                self.globs[name] = Glob(name)

    def unsubscribe(self, client: int, kind: bytes, names: list[bytes]) -> None:
        table = self.subs[kind]
        held = self.held.get(client)
        for name in names:
            who = table.get(name)
            if who is not None and who.pop(client, None) is not None and not who:
                del table[name]
                if kind == b"p":
                    self.globs.pop(name, None)
            if held is not None:
                held.discard((kind, name))
        if held is not None and not held:
            del self.held[client]

    def gone(self, client: int) -> None:
        for kind, name in list(self.held.get(client, ())):
            self.unsubscribe(client, kind, [name])

    def drop_link(self, link: "WorkerLink") -> None:
        """A worker went away: so did its clients."""
        for client in [c for kind in self.subs.values() for who in kind.values()
                       for c, lk in who.items() if lk is link]:
            self.gone(client)

    def publish(self, kind: bytes, channel: bytes, message: bytes) -> int:
        """Send ``message`` to the receivers; the number of receivers."""
        n = 0
        if kind == b"s":
            who = self.subs[b"s"].get(channel)
            if who:
                n += _fan_out(who, [b"M", b"smessage", channel, message])
            return n
        who = self.subs[b"c"].get(channel)
        if who:
            n += _fan_out(who, [b"M", b"message", channel, message])
        for pattern, clients in self.subs[b"p"].items():
            if self.globs[pattern].match(channel):
                n += _fan_out(clients, [b"N", pattern, channel, message])
        return n

    def query(self, what: bytes, args: list[bytes]) -> object:
        if what in (b"channels", b"shardchannels"):
            table = self.subs[b"c" if what == b"channels" else b"s"]
            if not args:
                return list(table)
            glob = Glob(args[0])
            return [name for name in table if glob.match(name)]
        if what in (b"numsub", b"shardnumsub"):
            table = self.subs[b"c" if what == b"numsub" else b"s"]
            return [x for name in args for x in (name, len(table.get(name, ())))]
        if what == b"numpat":
            return len(self.subs[b"p"])
        if what == b"counts":  # INFO stats
            return [len(self.subs[b"c"]), len(self.subs[b"p"]), len(self.subs[b"s"])]
        return b"unknown query"


def _fan_out(who: dict[int, "WorkerLink"], head: list[bytes]) -> int:
    """One frame per link, naming its receivers."""
    by_link: dict[WorkerLink, list[bytes]] = {}
    for client, link in who.items():
        by_link.setdefault(link, []).append(b"%d" % client)
    for link, clients in by_link.items():
        link.send(head + clients)
    return len(who)


class WorkerLink(asyncio.Protocol):
    """One worker's link."""

    def __init__(self, hub: "Hub") -> None:
        self.hub = hub
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.out: list[bytes] = []
        self.worker = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, frame: list) -> None:
        if not self.out:
            self.hub.dirty.append(self)
            self.hub.schedule()
        self.out.append(encode_array(frame))

    def flush(self) -> None:
        if self.out and self.transport is not None:
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        reg = self.hub.registry
        while (msg := self.reader.gets()) is not False:
            op = msg[0]
            if op == b"P":
                self.send([b"R", msg[1], reg.publish(msg[2], msg[3], msg[4])])
            elif op == b"S":
                reg.subscribe(self, int(msg[2]), msg[3], msg[4:])
                self.send([b"R", msg[1], 1])
            elif op == b"U":
                reg.unsubscribe(int(msg[2]), msg[3], msg[4:])
                self.send([b"R", msg[1], 1])
            elif op == b"G":
                reg.gone(int(msg[2]))
                self.send([b"R", msg[1], 1])
            elif op == b"E":  # a keyspace event: [E db event key K? E?], no answer
                db, event, key = msg[1], msg[2], msg[3]
                if msg[4]:
                    reg.publish(b"c", b"__keyspace@%b__:%b" % (db, key), event)
                if msg[5]:
                    reg.publish(b"c", b"__keyevent@%b__:%b" % (db, event), key)
            elif op == b"Q":
                self.send([b"R", msg[1], reg.query(msg[2], msg[3:])])
            elif op == b"H":
                self.worker = int(msg[1])
                log.info("worker %d linked", self.worker)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.hub.registry.drop_link(self)
        if self.worker >= 0:
            log.info("worker %d unlinked", self.worker)


class Hub:
    """The pubsub process' state: the registry and the links to flush."""

    def __init__(self) -> None:
        self.registry = Registry()
        self.dirty: list[WorkerLink] = []
        self.scheduled = False
        self.loop: asyncio.AbstractEventLoop | None = None

    def schedule(self) -> None:
        # Everything a turn produced goes out in one write per link.
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.flush)  # type: ignore[union-attr]

    def flush(self) -> None:
        self.scheduled = False
        dirty, self.dirty = self.dirty, []
        for link in dirty:
            link.flush()

    async def serve(self, run_dir: str) -> None:
        self.loop = asyncio.get_running_loop()
        os.makedirs(run_dir, exist_ok=True)
        path = socket_path(run_dir)
        if os.path.exists(path):
            os.unlink(path)
        server = await self.loop.create_unix_server(lambda: WorkerLink(self), path)
        stop = asyncio.Event()
        self.loop.add_signal_handler(signal.SIGTERM, stop.set)
        self.loop.add_signal_handler(signal.SIGINT, lambda: None)  # the supervisor decides
        log.info("pubsub service listening on %s", path)
        await stop.wait()
        server.close()


def run(config: Config) -> None:
    """Entry point of the pubsub process."""
    import uvloop

    setproctitle("pikamp: pubsub")
    run_dir = os.path.join(config.path_of("db-path"), ".run")
    uvloop.run(Hub().serve(run_dir))
    log.info("pubsub service stopped")
