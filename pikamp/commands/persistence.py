"""BGSAVE, SAVE, DELBACKUP (Pika): dumps made by the bgsave process
(pikamp.services.bgsave) from each owner's RocksDB checkpoint."""
from __future__ import annotations

import os

from pikamp import servicecall
from pikamp.commands.table import ALL, LOCAL, command
from pikamp.deferred import Deferred
from pikamp.errors import SYNTAX, RespError
from pikamp.services.bgsave import socket_path

UNAVAILABLE = b"-ERR the bgsave process is not available; try again\r\n"


def _ask(conn, args: list[bytes], timeout: float | None) -> Deferred:
    d = Deferred(conn.resp3)
    path = socket_path(conn.worker.run_dir)
    servicecall.ask(conn.worker, path, args, d.resolve_raw, timeout, UNAVAILABLE)
    return d


@command("bgsave", -1, "admin noscript no_async_loading", route=LOCAL, group="server",
         summary="Asynchronously save the dataset to disk")
def bgsave(ctx, args):
    conn = ctx.conn
    if len(args) > 2 or (len(args) == 2 and args[1].lower() != b"schedule"):
        raise RespError(SYNTAX)
    return _ask(conn, [b"BGSAVE", *args[1:]], 10.0)


@command("save", 1, "admin noscript no_async_loading no_multi", route=LOCAL, group="server",
         summary="Synchronously save the dataset to disk",
         complexity="O(N) where N is the total number of keys in all databases")
def save(ctx, args):
    conn = ctx.conn
    return _ask(conn, [b"SAVE"], None)


@command("delbackup", 1, "admin", route=LOCAL, group="server", summary="Delete every BGSAVE dump (Pika)")
def delbackup(ctx, args):
    conn = ctx.conn
    return _ask(conn, [b"DELBACKUP"], 60.0)


@command("__checkpoint", 2, internal=True, route=ALL, group="server",
         summary="Checkpoint every DB of this worker into args[1]/db<i> (bgsave)")
def checkpoint(ctx, args):
    """Each DB's committed state, checkpointed in a thread one after the
    other (RocksDB flushes the memtable first, which takes a while): the loop
    keeps serving meanwhile."""
    w = ctx.worker
    base = os.fsdecode(args[1])
    dbs = sorted(w.dbs.items())
    for _, db in dbs:
        db.commit()

    def work() -> str:
        for index, db in dbs:
            try:
                db.engine.checkpoint_committed(os.path.join(base, f"db{index}"))
            except Exception as e:  # a full disk ...: the dump fails, the DB does not
                raise RespError(f"ERR checkpoint of db{index} failed: {e}") from None
        return "OK"

    return w.in_thread(work, ctx.resp3, "checkpoint")
