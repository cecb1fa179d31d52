"""MULTI / EXEC / DISCARD / WATCH / UNWATCH (the mechanics live in pikamp.multi)."""
from __future__ import annotations

from pikamp import multi
from pikamp.commands.table import LOCAL, command
from pikamp.errors import RespError


@command("multi", 1, "noscript loading stale fast allow_busy", route=LOCAL, group="transactions",
         since="1.2.0", summary="Mark the start of a transaction block")
def multi_(ctx, args):
    conn = ctx.conn
    if conn.multi is not None:
        raise RespError("ERR MULTI calls can not be nested")
    conn.multi = []
    conn.multi_failed = False
    return "OK"


@command("exec", 1, "noscript loading stale skip_slowlog", route=LOCAL, group="transactions",
         since="1.2.0", summary="Execute all commands issued after MULTI",
         complexity="Depends on commands in the transaction")
def exec_(ctx, args):
    conn = ctx.conn
    if conn.multi is None:
        raise RespError("ERR EXEC without MULTI")
    queued, failed = conn.multi, conn.multi_failed
    conn.multi, conn.multi_failed = None, False
    if failed:
        multi.unwatch_all(conn)
        raise RespError(multi.EXECABORT)
    return multi.execute(conn, queued)


@command("discard", 1, "noscript loading stale fast allow_busy", route=LOCAL, group="transactions",
         since="2.0.0", summary="Discard all commands issued after MULTI", complexity="O(N), when N is the number of "
         "queued commands")
def discard(ctx, args):
    conn = ctx.conn
    if conn.multi is None:
        raise RespError("ERR DISCARD without MULTI")
    conn.multi, conn.multi_failed = None, False
    multi.unwatch_all(conn)
    return "OK"


@command("watch", -2, "noscript loading stale fast allow_busy", (1, -1, 1), route=LOCAL, group="transactions",
         since="2.2.0", summary="Watch the given keys to determine execution of the MULTI/EXEC block",
         complexity="O(1) for every key.")
def watch(ctx, args):
    conn = ctx.conn
    if conn.multi is not None:
        raise RespError("ERR WATCH inside MULTI is not allowed")
    from pikamp.deferred import Deferred

    d = Deferred(conn.resp3)
    conn.watch_dbs.add(conn.db_index)
    conn.worker.call_owner(conn.db_index, [b"__watch", *args[1:]], d.resolve_raw, conn.resp3, conn.id)
    return d


@command("unwatch", 1, "noscript loading stale fast allow_busy", route=LOCAL, group="transactions",
         since="2.2.0", summary="Forget about all watched keys")
def unwatch(ctx, args):
    conn = ctx.conn
    multi.unwatch_all(conn)
    return "OK"


@command("__watch", -2, internal=True, summary="WATCH keys of a DB owned here for a client")
def _watch(ctx, args):
    multi.watch(ctx.worker, ctx.db, ctx.client_id, args[1:])
    return "OK"


@command("__unwatch", 1, internal=True, summary="Forget a client's WATCHes in the DBs owned here")
def _unwatch(ctx, args):
    multi.unwatch(ctx.worker, ctx.client_id)
    return "OK"


@command("__exec", -1, "write", internal=True, summary="Run a transaction's commands here, back to back")
def _exec(ctx, args):
    return multi.run(ctx.worker, ctx.client_id, ctx.resp3, args, ctx.user)
