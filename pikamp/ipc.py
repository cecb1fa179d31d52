"""Forwarding between workers over unix sockets.

A worker that receives a command for a DB it does not own sends it to the
owner over one persistent, pipelined link per peer. Requests and replies are
RESP arrays; replies are matched by request id, not by order, so a reply that
is held back at the owner never blocks the others. Everything queued during
one event-loop turn goes out in one write per link.

request: *N  $reqid $db $proto $client  <command args...>   (db -1: "every DB you own";
         proto: "2" or "3", then the client's user name if the ACL restricts it)
reply:   *2  :reqid $<encoded reply bytes>
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from typing import TYPE_CHECKING, Callable

import hiredis

if TYPE_CHECKING:
    from pikamp.worker import Worker

log = logging.getLogger("pikamp.ipc")


def socket_path(run_dir: str, index: int) -> str:
    return os.path.join(run_dir, f"worker{index}.sock")


def encode_request(reqid: int, db: int, resp3: bool, client: int, args: list[bytes], user: str = "") -> bytes:
    proto = b"3" if resp3 else b"2"
    if user:
        proto += user.encode("utf-8", "surrogateescape")
    fields = [b"%d" % reqid, b"%d" % db, proto, b"%d" % client, *args]
    return b"*%d\r\n" % len(fields) + b"".join([b"$%d\r\n%b\r\n" % (len(f), f) for f in fields])


def encode_reply(reqid: int, reply: bytes) -> bytes:
    return b"*2\r\n:%d\r\n$%d\r\n%b\r\n" % (reqid, len(reply), reply)


def call_blocking(run_dir: str, worker: int, db: int, args: list[bytes], timeout: float) -> bytes:
    """Run a command on ``worker`` over a private connection and wait for its
    encoded reply without returning to the event loop (for the rare operation,
    like SWAPDB, that must not let this worker serve anything meanwhile)."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(socket_path(run_dir, worker))
        s.sendall(encode_request(1, db, False, 0, args))
        return recv_message(s, deadline)[1]


def recv_message(s: socket.socket, deadline: float) -> object:
    """Read one RESP message from a blocking socket by ``deadline``
    (time.monotonic); OSError (a timeout too) if it does not come."""
    reader = hiredis.Reader()
    while (msg := reader.gets()) is False:
        s.settimeout(max(deadline - time.monotonic(), 0.001))
        data = s.recv(65536)
        if not data:
            raise ConnectionError("connection closed")
        reader.feed(data)
    return msg


# The owner may have applied the command (and even binlogged it) before it died:
# the outcome is unknown, so the reply must not promise that a retry is safe.
UNAVAILABLE = (b"-ERR the worker owning this DB exited while the command was in flight; "
               b"it may or may not have been applied\r\n")


class PeerLink(asyncio.Protocol):
    """Client side of the link to one peer worker (the owner of some DBs)."""

    def __init__(self, worker: "Worker", peer: int) -> None:
        self.worker = worker
        self.peer = peer
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.queue: list[bytes] = []
        self.inflight: dict[int, Callable[[bytes], None]] = {}
        self.unsent: dict[int, Callable[[bytes], None]] = {}
        self.next_id = 1
        self.connecting = False

    def send(self, db: int, resp3: bool, args: list[bytes], done: Callable[[bytes], None],
             client: int = 0, user: str = "") -> None:
        """Queue a request on behalf of client id ``client`` (0: the worker itself)
        with restricted user ``user`` (""; none); ``done(reply_bytes)`` is
        called when the owner answers."""
        rid = self.next_id
        self.next_id += 1
        self.queue.append(encode_request(rid, db, resp3, client, args, user))
        self.unsent[rid] = done
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

    def connect(self) -> None:
        if not self.connecting:
            self.connecting = True
            asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        path = socket_path(self.worker.run_dir, self.peer)
        delay = 0.01
        while True:
            try:
                await loop.create_unix_connection(lambda: self, path)
                break
            except OSError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
        self.connecting = False
        self.worker.mark_link(self)
        self.worker.schedule_turn()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.reader = hiredis.Reader()

    def data_received(self, data: bytes) -> None:
        self.worker.begin_turn()
        self.reader.feed(data)
        inflight = self.inflight
        while True:
            msg = self.reader.gets()
            if msg is False:
                break
            cb = inflight.pop(msg[0], None)
            if cb is not None:
                cb(msg[1])

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        failed, self.inflight = self.inflight, {}
        if failed:
            log.warning("link to worker %d lost with %d requests in flight; their outcome is unknown, "
                        "so they are answered with an error", self.peer, len(failed))
            self.worker.begin_turn()
            for cb in failed.values():
                cb(UNAVAILABLE)
        if not self.worker.stopping:
            self.worker.peer_lost(self.peer)
        if self.unsent and not self.worker.stopping:
            self.connect()


class OwnerLink(asyncio.Protocol):
    """Server side: requests from one peer, executed on the DBs this worker owns."""

    def __init__(self, worker: "Worker") -> None:
        self.worker = worker
        self.reader = hiredis.Reader()
        self.out: list[bytes] = []
        self.sources: list[tuple[int, bytes]] = []  # (rid, reply) of each entry of out
        self.transport: asyncio.Transport | None = None
        # client id -> requests waiting behind one of its commands that is
        # answered later (commands of one client run in order, as in Redis).
        self.held: dict[int, deque] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        w = self.worker
        w.begin_turn()
        self.reader.feed(data)
        while True:
            msg = self.reader.gets()
            if msg is False:
                break
            rid = int(msg[0])
            db = int(msg[1])
            proto = msg[2]
            user = proto[1:].decode("utf-8", "surrogateescape") if len(proto) > 1 else ""
            w.execute_forwarded(db, proto[:1] == b"3", int(msg[3]), msg[4:], self, rid, user)

    def reply(self, rid: int, reply: bytes) -> None:
        self.out.append(encode_reply(rid, reply))
        self.sources.append((rid, reply))
        self.worker.mark_link(self)

    def replace_replies(self, bad: dict[int, bytes]) -> None:
        """Replace the not yet sent replies whose object id is in ``bad``
        (their writes could not be committed) by the given error replies."""
        for i, (rid, reply) in enumerate(self.sources):
            if id(reply) in bad:
                self.out[i] = encode_reply(rid, bad[id(reply)])

    def flush(self) -> None:
        if self.out and self.transport is not None:
            self.transport.write(b"".join(self.out))
        self.out.clear()
        self.sources.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self in self.worker.owner_links:
            self.worker.owner_links.remove(self)
