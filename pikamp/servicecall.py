"""One request to a service process (bgsave ...) over its unix socket,
answered later without blocking the worker's event loop."""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Callable

import hiredis

from pikamp.resp import encode

if TYPE_CHECKING:
    from pikamp.worker import Worker

log = logging.getLogger("pikamp.servicecall")


def ask(worker: "Worker", path: str, args: list[bytes], done: Callable[[bytes], None],
        timeout: float | None, unavailable: bytes) -> None:
    """Send ``args`` to the service on ``path``; ``done(reply_bytes)`` gets
    its one RESP reply as sent, or ``unavailable`` if it cannot be had in
    ``timeout`` seconds (None: wait as long as it takes, e.g. SAVE)."""

    async def go() -> bytes:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), 5.0)
        try:
            writer.write(encode(args, False))
            parser = hiredis.Reader()
            raw = b""
            while True:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("closed")
                raw += data
                parser.feed(data)
                if parser.gets() is not False:
                    return raw
        finally:
            writer.close()

    async def run() -> None:
        try:
            reply = await asyncio.wait_for(go(), timeout)
        except (OSError, asyncio.TimeoutError, hiredis.ProtocolError) as e:
            log.warning("%s: %s", path, e or type(e).__name__)
            reply = unavailable
        worker.begin_turn()  # the reply goes out at the end of this turn
        done(reply)

    worker.loop.create_task(run())  # type: ignore[union-attr]
