"""What every service process' request socket shares: a connection that
parses RESP requests and writes replies, the unix server on ``.run/<name>.sock``,
and the stop signal (SIGTERM from the supervisor; SIGINT is its to handle)."""
from __future__ import annotations

import asyncio
import os
import signal
from typing import Callable

import hiredis


class RequestConn(asyncio.Protocol):
    """One connection to a service: each RESP request goes to ``handle``."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (msg := self.reader.gets()) is not False:
            self.handle(msg)

    def handle(self, msg: list) -> None:
        raise NotImplementedError

    def reply(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)


async def listen(path: str, factory: Callable[[], asyncio.Protocol]) -> asyncio.AbstractServer:
    """Serve ``factory``'s connections on the unix socket ``path`` (a stale one is replaced)."""
    if os.path.exists(path):
        os.unlink(path)
    return await asyncio.get_running_loop().create_unix_server(factory, path)


def stop_event() -> asyncio.Event:
    """Set on SIGTERM; SIGINT (a Ctrl-C of the foreground server) is left to the supervisor."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    return stop
