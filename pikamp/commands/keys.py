"""Generic key-space commands (every type)."""
from __future__ import annotations

from pikamp.commands.table import ALL, command
from pikamp.errors import SYNTAX, RespError
from pikamp.storage import codec


@command("del", -2, "write", (1, -1, 1), group="generic", summary="Delete a key", complexity="O(N)")
def del_(ctx, args):
    db = ctx.db
    n = 0
    for key in args[1:]:
        raw = db.lookup(key)
        if raw is not None:
            db.delete(key, raw)
            n += 1
    return n


command("unlink", -2, "write fast", (1, -1, 1), group="generic", since="4.0.0",
        summary="Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.")(del_)


@command("exists", -2, "readonly fast", (1, -1, 1), group="generic", summary="Determine if a key exists")
def exists(ctx, args):
    db = ctx.db
    return sum(1 for key in args[1:] if db.lookup(key) is not None)


@command("type", 2, "readonly fast", (1, 1, 1), group="generic", summary="Determine the type stored at key")
def type_(ctx, args):
    raw = ctx.db.lookup(args[1])
    return "none" if raw is None else codec.TYPE_NAMES[raw[0]]


@command("dbsize", 1, "readonly fast", group="server", summary="Return the number of keys in the selected database")
def dbsize(ctx, args):
    return ctx.db.size


def _flush_mode(args: list[bytes]) -> None:
    if len(args) > 2 or (len(args) == 2 and args[1].lower() not in (b"async", b"sync")):
        raise RespError(SYNTAX)


@command("flushdb", -1, "write", group="server", summary="Remove all keys from the current database")
def flushdb(ctx, args):
    _flush_mode(args)
    ctx.db.flush()
    return "OK"


@command("flushall", -1, "write", route=ALL, group="server", summary="Remove all keys from all databases")
def flushall(ctx, args):
    _flush_mode(args)
    for db in ctx.worker.dbs.values():
        db.flush()
    return "OK"
