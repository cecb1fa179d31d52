"""The worker's side of pub/sub: each client's subscriptions, the link to the
pubsub process (pikamp.services.pubsub: the registry and router), and the
messages it delivers, encoded once per protocol.

The client's own sets are the truth for its replies (the counts in
``subscribe ch 3``); the pubsub process mirrors them. When the link is lost
(the pubsub process restarted), the worker reconnects and sends every
client's subscriptions again.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import TYPE_CHECKING, Callable

import hiredis

from pikamp.errors import RespError
from pikamp.ipc import recv_message
from pikamp.services.pubsub import encode_array, socket_path

if TYPE_CHECKING:
    from pikamp.worker import Worker

log = logging.getLogger("pikamp.pubsub")

CHANNEL, PATTERN, SHARD = b"c", b"p", b"s"
GIVE_UP = 2.0  # seconds without a pubsub process after which requests fail
# What a RESP2 client with subscriptions may send (Redis 7.0).
ALLOWED_SUBSCRIBED = frozenset({"subscribe", "ssubscribe", "psubscribe", "unsubscribe", "sunsubscribe",
                                "punsubscribe", "ping", "quit", "reset"})


def not_allowed(name: str) -> str:
    """The error a RESP2 subscribed client gets for any other command."""
    return (f"ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
            "are allowed in this context")


def forget(conn) -> None:
    """Drop every subscription of a client that goes (or RESETs)."""
    if conn.pubsub is not None:
        conn.pubsub = None
        conn.worker.hub.request(b"G", [b"%d" % conn.id], lambda value: None)


class Subscriptions:
    """What one client is subscribed to, in subscription order."""

    __slots__ = ("channels", "patterns", "shard")

    def __init__(self) -> None:
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard: dict[bytes, None] = {}

    def of(self, kind: bytes) -> dict[bytes, None]:
        return self.channels if kind == CHANNEL else self.patterns if kind == PATTERN else self.shard

    def count(self, kind: bytes) -> int:
        """The count a (un)subscribe confirmation shows: channels and patterns
        together, shard channels on their own (as Redis 7.0)."""
        if kind == SHARD:
            return len(self.shard)
        return len(self.channels) + len(self.patterns)

    def total(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shard)


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(b), b)


def confirmation(resp3: bool, what: bytes, name: bytes | None, count: int) -> bytes:
    """``subscribe ch 1`` and its kin: a push in RESP3, an array in RESP2."""
    head = b">3\r\n" if resp3 else b"*3\r\n"
    if name is None:
        named = b"_\r\n" if resp3 else b"$-1\r\n"
    else:
        named = _bulk(name)
    return b"%b%b%b:%d\r\n" % (head, _bulk(what), named, count)


class HubLink(asyncio.Protocol):
    """The worker's link to the pubsub process."""

    def __init__(self, worker: "Worker") -> None:
        self.worker = worker
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.queue: list[bytes] = []
        self.inflight: dict[int, Callable[[object], None]] = {}
        self.unsent: dict[int, Callable[[object], None]] = {}
        self.next_id = 1
        self.connecting = False
        self.was_linked = False  # a link was lost: send the subscriptions again
        self.side: socket.socket | None = None  # blocking link for publish_now

    def publish_now(self, kind: bytes, channel: bytes, message: bytes) -> int:
        """PUBLISH without returning to the event loop (a script's: it cannot
        wait); how many clients received it. What this worker queued before
        goes out first. RespError when the pubsub process does not answer."""
        self.flush()
        deadline = time.monotonic() + GIVE_UP
        for attempt in (1, 2):  # a side link left from a pubsub process that restarted: once more
            try:
                if self.side is None:
                    self.side = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self.side.settimeout(GIVE_UP)
                    self.side.connect(socket_path(self.worker.run_dir))
                s = self.side
                s.sendall(encode_array([b"P", b"0", kind, channel, message]))
                return int(recv_message(s, deadline)[2])  # type: ignore[index]
            except OSError:
                if self.side is not None:
                    self.side.close()
                    self.side = None
                if attempt == 2 or time.monotonic() >= deadline:
                    break
        raise RespError("ERR the pubsub process is restarting; try again")

    # -- requests ----------------------------------------------------------
    def request(self, op: bytes, args: list[bytes], done: Callable[[object], None]) -> None:
        """Send ``op rid args...``; ``done(value)`` gets the answer, or None
        when the link was lost before it came."""
        rid = self.next_id
        self.next_id += 1
        self.queue.append(encode_array([op, b"%d" % rid, *args]))
        self.unsent[rid] = done
        self.worker.mark_link(self)

    def send(self, op: bytes, args: list[bytes]) -> None:
        """A frame that gets no answer (a keyspace event to publish)."""
        self.queue.append(encode_array([op, *args]))
        self.worker.mark_link(self)

    def flush(self) -> None:
        if self.transport is None:
            self.connect()
            return
        if self.queue:
            self.transport.write(b"".join(self.queue))
            self.queue.clear()
            self.inflight.update(self.unsent)
            self.unsent.clear()

    # -- connection --------------------------------------------------------
    def connect(self) -> None:
        if not self.connecting:
            self.connecting = True
            asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        path = socket_path(self.worker.run_dir)
        delay = 0.01
        since = loop.time()
        while not self.worker.stopping:
            try:
                await loop.create_unix_connection(lambda: self, path)
                break
            except OSError:
                if self.unsent and loop.time() - since > GIVE_UP:
                    self.fail_unsent()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
        self.connecting = False

    def fail_unsent(self) -> None:
        """No pubsub process to ask: the waiting requests are answered
        (None) instead of hanging; subscriptions are sent again on connect."""
        failed, self.unsent = self.unsent, {}
        self.queue.clear()
        self.worker.begin_turn()
        for cb in failed.values():
            cb(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.reader = hiredis.Reader()
        # Say who we are, then (after a lost link) what our clients hold,
        # before anything queued. On the first link every subscription is
        # still in the queue.
        frames = [encode_array([b"H", b"%d" % self.worker.index])]
        for c in (self.worker.clients.values() if self.was_linked else ()):
            subs = c.pubsub
            if subs is not None:
                for kind in (CHANNEL, PATTERN, SHARD):
                    names = list(subs.of(kind))
                    if names:
                        frames.append(encode_array([b"S", b"0", b"%d" % c.id, kind, *names]))
        transport.write(b"".join(frames))  # type: ignore[attr-defined]
        self.worker.begin_turn()
        self.worker.mark_link(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.was_linked = True
        lost, self.inflight = self.inflight, {}
        w = self.worker
        if w.stopping:
            return
        if lost:
            log.warning("link to the pubsub process lost with %d requests in flight", len(lost))
            w.begin_turn()
            for cb in lost.values():
                cb(None)
        if self.unsent or any(c.pubsub is not None for c in w.clients.values()):
            self.connect()  # the subscriptions are sent again when it is back

    # -- what comes back -----------------------------------------------------
    def data_received(self, data: bytes) -> None:
        w = self.worker
        w.begin_turn()
        self.reader.feed(data)
        clients = w.clients
        while (msg := self.reader.gets()) is not False:
            op = msg[0]
            if op == b"R":
                cb = self.inflight.pop(int(msg[1]), None)
                if cb is not None:
                    cb(msg[2])
                continue
            if op == b"M":  # message / smessage: [M type channel payload client...]
                tail = _bulk(msg[1]) + _bulk(msg[2]) + _bulk(msg[3])
                two, three = b"*3\r\n" + tail, b">3\r\n" + tail
                kind, name = (SHARD if msg[1] == b"smessage" else CHANNEL), msg[2]
            else:  # N: a pattern's message [N pattern channel payload client...]
                tail = b"$8\r\npmessage\r\n" + _bulk(msg[1]) + _bulk(msg[2]) + _bulk(msg[3])
                two, three = b"*4\r\n" + tail, b">4\r\n" + tail
                kind, name = PATTERN, msg[1]
            for cid in msg[4:]:
                c = clients.get(int(cid))
                # Not to a client that unsubscribed while the message was on its way.
                # CLIENT REPLY OFF mutes them too (Redis 7.0; 7.2 lets pushes through).
                if (c is not None and c.pubsub is not None and name in c.pubsub.of(kind) and not c.closing
                        and not c.mute):
                    # A push goes after the replies complete so far, ahead of
                    # those still held: it never splits a reply.
                    c.out.append(three if c.resp3 else two)
                    w.mark_client(c)
