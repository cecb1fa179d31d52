"""Pika's operations commands: COMPACT, DISKRECOVERY."""
from __future__ import annotations

import logging
import time

from pikamp.commands.table import ALL, command
from pikamp.errors import SYNTAX, RespError

log = logging.getLogger("pikamp.admin")


def _compact_in_background(worker, dbs: list) -> None:
    """Full-range compaction of ``dbs`` in a thread (RocksDB releases the GIL)."""
    loop = worker.loop

    def work() -> None:
        for db in dbs:
            t = time.monotonic()
            log.info("compacting db%d", db.index)
            db.engine.compact()
            log.info("compacted db%d in %.2fs", db.index, time.monotonic() - t)

    def done(fut) -> None:
        worker.compacting -= 1
        if fut.exception() is not None:
            log.error("compaction failed: %r", fut.exception())

    worker.compacting += 1
    # Pending writes of this turn go to RocksDB first, on the loop thread.
    for db in dbs:
        db.commit()
    loop.run_in_executor(None, work).add_done_callback(done)


@command("compact", -1, "admin write", route=ALL, group="server", since="pika",
         summary="Compact every column family of the DBs (Pika); runs in the background",
         complexity="O(N)")
def compact(ctx, args):
    """COMPACT [db0,db1,...]: reclaim the space of deleted and expired data."""
    worker = ctx.worker
    wanted = None
    if len(args) == 2:
        try:
            wanted = {int(d.strip()[2:]) for d in args[1].decode().split(",")
                      if d.strip().lower().startswith("db")}
        except ValueError:
            raise RespError(SYNTAX) from None
        if not wanted or any(not 0 <= i < worker.ndbs for i in wanted):
            raise RespError("ERR invalid db name")
    elif len(args) > 2:
        raise RespError(SYNTAX)
    dbs = [db for i, db in sorted(worker.dbs.items()) if wanted is None or i in wanted]
    if dbs:
        _compact_in_background(worker, dbs)
    return "OK"


@command("diskrecovery", 1, "admin", route=ALL, group="server", since="pika",
         summary="Resume writes after a disk error, if the disk has room again (Pika)",
         complexity="O(N) where N is the number of DBs")
def diskrecovery(ctx, args):
    """Pika's DISKRECOVERY: each worker reopens the DBs that refuse writes,
    once at least least-free-disk-resume-size bytes are free."""
    why = ctx.worker.resume_writes()
    if why is not None:
        raise RespError(why)
    return "OK"
