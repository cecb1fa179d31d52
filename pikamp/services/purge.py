"""The purge process: deletes binlog files nobody needs any more.

Every PURGE_EVERY seconds, and on request, for each DB's binlog directory
(``log-path/log_db<i>``), Pika's rules (storage.binlog.purge): keep
``expire-logs-nums`` files, delete files older than ``expire-logs-days``
while more than 10 remain; never the file being written. Deleting is safe
while the owner appends: it only ever writes the newest file. Nor a file a
replica still needs (``needed`` in the replication process' state: from the
file of its position on, or of its full sync's checkpoint).

Request (RESP array on ``.run/purge.sock``): PURGE <db> <filenum>
(PURGELOGSTO write2file<filenum> db<db>) -> +OK.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal

import hiredis
from setproctitle import setproctitle

from pikamp.commands.replication import read_state as read_repl_state
from pikamp.config import Config
from pikamp.storage import binlog

log = logging.getLogger("pikamp.purge")

SOCKET_NAME = "purge.sock"
PURGE_EVERY = 10.0


def socket_path(run_dir: str) -> str:
    return os.path.join(run_dir, SOCKET_NAME)


class Purger:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.run_dir = os.path.join(config.path_of("db-path"), ".run")
        self.log_path = config.path_of("log-path")

    def binlog_dir(self, db: int) -> str:
        return os.path.join(self.log_path, f"log_db{db}")

    def purge(self, db: int, up_to: int | None = None) -> list[int]:
        cfg = self.config
        needed = read_repl_state(self.run_dir).get("needed", {}).get(str(db))
        deleted = binlog.purge(self.binlog_dir(db), cfg.int("expire-logs-nums"), cfg.int("expire-logs-days"),
                               up_to, needed)
        if deleted:
            log.info("db%d: purged binlog %s%d..%d (%d files)", db, binlog.PREFIX, deleted[0], deleted[-1],
                     len(deleted))
        return deleted

    def purge_all(self) -> None:
        for db in range(self.config.databases):
            try:
                self.purge(db)
            except OSError as e:
                log.warning("db%d: binlog purge: %s", db, e)


class RequestConn(asyncio.Protocol):
    def __init__(self, purger: Purger) -> None:
        self.purger = purger
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (msg := self.reader.gets()) is not False:
            if len(msg) == 3 and msg[0] == b"PURGE":
                try:
                    self.purger.purge(int(msg[1]), int(msg[2]))
                    reply = b"+OK\r\n"
                except OSError as e:
                    reply = b"-ERR purge failed: " + str(e).encode("latin-1", "replace") + b"\r\n"
            else:
                reply = b"-ERR unknown purge request\r\n"
            if self.transport is not None:
                self.transport.write(reply)


async def serve(config: Config) -> None:
    purger = Purger(config)
    loop = asyncio.get_running_loop()
    os.makedirs(purger.run_dir, exist_ok=True)
    path = socket_path(purger.run_dir)
    if os.path.exists(path):
        os.unlink(path)
    server = await loop.create_unix_server(lambda: RequestConn(purger), path)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, lambda: None)  # the supervisor decides
    log.info("purge service listening on %s", path)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), PURGE_EVERY)
        except asyncio.TimeoutError:
            purger.purge_all()
    server.close()


def run(config: Config) -> None:
    """Entry point of the purge process."""
    import uvloop

    setproctitle("pikamp: purge")
    uvloop.run(serve(config))
    log.info("purge service stopped")
