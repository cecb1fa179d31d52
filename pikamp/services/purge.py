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

from setproctitle import setproctitle

from pikamp.commands.replication import read_state as read_repl_state
from pikamp.config import Config
from pikamp.services.requests import RequestConn, listen, stop_event
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


class PurgeConn(RequestConn):
    def __init__(self, purger: Purger) -> None:
        super().__init__()
        self.purger = purger

    def handle(self, msg: list) -> None:
        if len(msg) == 3 and msg[0] == b"PURGE":
            try:
                self.purger.purge(int(msg[1]), int(msg[2]))
                self.reply(b"+OK\r\n")
            except OSError as e:
                self.reply(b"-ERR purge failed: " + str(e).encode("latin-1", "replace") + b"\r\n")
        else:
            self.reply(b"-ERR unknown purge request\r\n")


async def serve(config: Config) -> None:
    purger = Purger(config)
    os.makedirs(purger.run_dir, exist_ok=True)
    path = socket_path(purger.run_dir)
    server = await listen(path, lambda: PurgeConn(purger))
    stop = stop_event()
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
