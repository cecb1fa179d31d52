"""The worker's side of MONITOR: the link to the monitor process
(pikamp.services.monitor), which tells the worker when to feed it, and the
feed itself: one frame per executed command, sent once per event-loop turn.

While no monitor is attached the worker sends nothing; the pipeline pays one
``worker.monitoring`` check per command.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import hiredis

from pikamp.commands.table import runs
from pikamp.services.monitor import link_path
from pikamp.services.pubsub import encode_array

if TYPE_CHECKING:
    from pikamp.commands.table import Command
    from pikamp.worker import Worker

log = logging.getLogger("pikamp.monitor")

REDACTED = b"(redacted)"


def redact(args: list[bytes]) -> list[bytes]:
    """Passwords never reach a monitor (as Redis 7.0: AUTH's arguments,
    HELLO's AUTH user pass, MIGRATE's AUTH / AUTH2)."""
    name = args[0].lower()
    if name == b"auth":
        return args[:1] + [REDACTED] * (len(args) - 1)
    if name not in (b"hello", b"migrate"):
        return args
    out = list(args)
    for i, a in enumerate(args):
        opt = a.lower()
        if opt == b"auth" and i > 0:
            n = 2 if name == b"hello" else 1
            out[i + 1 : i + 1 + n] = [REDACTED] * len(out[i + 1 : i + 1 + n])
        elif opt == b"auth2" and name == b"migrate":
            out[i + 1 : i + 3] = [REDACTED] * len(out[i + 1 : i + 3])
    return out


def shown(cmd: "Command", args: list[bytes]) -> bool:
    """Whether a monitor sees this command (Redis hides admin commands,
    judged by the subcommand for a container: CONFIG GET is hidden)."""
    cmd = runs(cmd, args)
    return not ("admin" in cmd.flags or "skip_monitor" in cmd.flags or cmd.name[:2] == "__")


class MonitorLink(asyncio.Protocol):
    """The worker's link to the monitor process."""

    def __init__(self, worker: "Worker") -> None:
        self.worker = worker
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.queue: list[bytes] = []

    def feed(self, db: int, client_id: int, args: list[bytes]) -> None:
        """Record a command this worker executed (only while monitoring)."""
        if not self.queue:
            self.worker.mark_link(self)
        self.queue.append(encode_array([b"L", b"%d" % (time.time_ns() // 1000), b"%d" % db,
                                        b"%d" % client_id, *redact(args)]))

    def client_seen(self, client) -> None:
        """Tell the monitor process a client's address (its lines name it)."""
        if not self.queue:
            self.worker.mark_link(self)
        self.queue.append(encode_array([b"C", b"%d" % client.id, client.addr.encode()]))

    def client_gone(self, client) -> None:
        """Tell the monitor process a client has gone (it forgets the address)."""
        if not self.queue:
            self.worker.mark_link(self)
        self.queue.append(encode_array([b"X", b"%d" % client.id]))

    def flush(self) -> None:
        if self.queue:
            if self.transport is not None:
                self.transport.write(b"".join(self.queue))
            self.queue.clear()

    def connect(self) -> None:
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        path = link_path(self.worker.run_dir)
        delay = 0.01
        while not self.worker.stopping:
            try:
                await loop.create_unix_connection(lambda: self, path)
                return
            except OSError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.reader = hiredis.Reader()
        transport.write(encode_array([b"H", b"%d" % self.worker.index]))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        w = self.worker
        self.reader.feed(data)
        while (msg := self.reader.gets()) is not False:
            if msg[0] == b"ON":
                w.begin_turn()
                w.monitoring = True
                for c in w.clients.values():
                    self.client_seen(c)
                self.queue.append(encode_array([b"A"]))  # after the addresses
                w.mark_link(self)
            elif msg[0] == b"OFF":
                w.monitoring = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.worker.monitoring = False
        self.queue.clear()
        if not self.worker.stopping:
            self.connect()
