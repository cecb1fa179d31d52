"""SLOWLOG GET / LEN / RESET / HELP over every worker's slow log (each worker
logs the commands it runs: pikamp.slowlog)."""
from __future__ import annotations

from pikamp import stats
from pikamp.commands.server import dispatch
from pikamp.commands.table import LOCAL, command
from pikamp.errors import RespError
from pikamp.numbers import parse_int

_HELP = [
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
]


@command("slowlog", -2, "", route=LOCAL, group="server", categories="@slow", since="2.2.12",
         summary="A container for slow log commands", complexity="Depends on subcommand.")
def slowlog(conn, args):
    return dispatch(conn, args, b"slowlog")


@command("slowlog|get", -2, "admin loading stale", route=LOCAL, group="server", since="2.2.12",
         summary="Get the slow log's entries", complexity="O(N) where N is the number of entries returned")
def slowlog_get(conn, args):
    if len(args) > 3:  # Redis 7.0's own wording for this one
        raise RespError(f"ERR unknown subcommand or wrong number of arguments for "
                        f"'{args[1].decode('latin-1')}'. Try SLOWLOG HELP.")
    count = 10
    if len(args) == 3:
        count = parse_int(args[2], "ERR count should be greater than or equal to -1")
        if count < -1:
            raise RespError("ERR count should be greater than or equal to -1")

    def merge(replies: list) -> list:
        entries = [e for r in replies for e in r]
        entries.sort(key=lambda e: (e[1], e[0]), reverse=True)  # newest first, over all workers
        return entries if count == -1 else entries[:count]

    return stats.gather(conn.worker, [b"__slowlog", b"get"], conn.resp3, merge)


@command("slowlog|len", 2, "admin loading stale", route=LOCAL, group="server", since="2.2.12",
         summary="Get the slow log's length")
def slowlog_len(conn, args):
    return stats.gather(conn.worker, [b"__slowlog", b"len"], conn.resp3, sum)


@command("slowlog|reset", 2, "admin loading stale", route=LOCAL, group="server", since="2.2.12",
         summary="Clear all entries from the slow log", complexity="O(N) where N is the number of entries in the slowlog")
def slowlog_reset(conn, args):
    return stats.gather(conn.worker, [b"__slowlog", b"reset"], conn.resp3, lambda _: "OK")


@command("slowlog|help", 2, "loading stale", route=LOCAL, group="server", since="6.2.0",
         summary="Show helpful text about the different subcommands")
def slowlog_help(conn, args):
    return _HELP


@command("__slowlog", 2, internal=True, summary="This worker's slow log: get, len or reset")
def _slowlog(ctx, args):
    log = ctx.worker.slowlog
    if args[1] == b"len":
        return len(log.entries)
    if args[1] == b"reset":
        log.entries.clear()
        return "OK"
    return [list(e) for e in log.entries]
