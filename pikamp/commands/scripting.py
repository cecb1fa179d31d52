"""Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
(LOAD, EXISTS, FLUSH, HELP); the interpreter is pikamp.scripting.

Each worker has its own interpreter and script cache. A script loaded in one
worker (SCRIPT LOAD, or the first EVAL of it) is sent to the others at once,
so that EVALSHA finds it whichever worker owns the client's DB. SCRIPT KILL
stops a script that runs longer than busy-reply-threshold (lua-time-limit)
and has not written, as in Redis; but the busy worker serves nothing
meanwhile (no BUSY replies: its clients wait), so SCRIPT KILL must come
through a connection of another worker. SCRIPT DEBUG and FUNCTION / FCALL
are not provided.
"""
from __future__ import annotations

from pikamp import scripting
from pikamp.commands.table import ALL, LOCAL, command, dispatch
from pikamp.deferred import Deferred
from pikamp.errors import RespError
from pikamp.numbers import parse_int
from pikamp.resp import Raw

_EVAL_FLAGS = "noscript stale skip_monitor no_mandatory_keys movablekeys"


def _eval_keys(args: list[bytes]) -> list[int]:
    """EVAL script numkeys key... arg...: the keys' positions."""
    try:
        n = int(args[2])
    except (IndexError, ValueError):
        return []
    return list(range(3, min(3 + max(n, 0), len(args))))


def _share(w, body: bytes) -> None:
    """A script new to this worker goes to the other workers' caches too."""
    for i in range(w.nworkers):
        if i != w.index:
            w.call_worker(i, [b"__script_load", body], _ignore)


def _ignore(reply: bytes) -> None:
    pass


def _eval(ctx, args: list[bytes], by_sha: bool, readonly: bool):
    w = ctx.worker
    numkeys = parse_int(args[2])
    if numkeys > len(args) - 3:
        raise RespError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise RespError("ERR Number of keys can't be negative")
    s = scripting.of(w)
    if by_sha:
        script = s.cache.get(args[1].lower())
        if script is None:
            raise RespError(scripting.NOSCRIPT)
    else:
        script, new = s.load(args[1])
        if new:
            _share(w, args[1])
    return s.run(ctx, script, args[3:3 + numkeys], args[3 + numkeys:], readonly)


@command("eval", -3, _EVAL_FLAGS, group="scripting", categories="@slow @scripting", since="2.6.0",
         key_finder=_eval_keys, summary="Execute a Lua script server side",
         complexity="Depends on the script that is executed.")
def eval_(ctx, args):
    return _eval(ctx, args, False, False)


@command("evalsha", -3, _EVAL_FLAGS, group="scripting", categories="@slow @scripting", since="2.6.0",
         key_finder=_eval_keys, summary="Execute a Lua script server side",
         complexity="Depends on the script that is executed.")
def evalsha(ctx, args):
    return _eval(ctx, args, True, False)


@command("eval_ro", -3, "readonly " + _EVAL_FLAGS, group="scripting", categories="@slow @scripting",
         since="7.0.0", key_finder=_eval_keys, summary="Execute a read-only Lua script server side",
         complexity="Depends on the script that is executed.")
def eval_ro(ctx, args):
    return _eval(ctx, args, False, True)


@command("evalsha_ro", -3, "readonly " + _EVAL_FLAGS, group="scripting", categories="@slow @scripting",
         since="7.0.0", key_finder=_eval_keys, summary="Execute a read-only Lua script server side",
         complexity="Depends on the script that is executed.")
def evalsha_ro(ctx, args):
    return _eval(ctx, args, True, True)


@command("script", -2, "", route=LOCAL, group="scripting", categories="@slow", since="2.6.0",
         summary="A container for Lua scripts management commands", complexity="Depends on subcommand.")
def script_(ctx, args):
    return dispatch(ctx, args, b"script")


@command("script|load", 3, "noscript stale", route=LOCAL, group="scripting", since="2.6.0",
         summary="Load the specified Lua script into the script cache.",
         complexity="O(N) with N being the length in bytes of the script body.")
def script_load(ctx, args):
    w = ctx.worker
    script, new = scripting.of(w).load(args[2])
    if new:
        _share(w, args[2])
    return script.sha


@command("script|exists", -3, "noscript", route=LOCAL, group="scripting", since="2.6.0",
         summary="Check existence of scripts in the script cache.",
         complexity="O(N) with N being the number of scripts to check (so checking a single script is an "
                    "O(1) operation).")
def script_exists(ctx, args):
    cache = scripting.of(ctx.worker).cache
    return [1 if sha.lower() in cache else 0 for sha in args[2:]]


@command("script|flush", -2, "noscript", route=LOCAL, group="scripting", since="2.6.0",
         summary="Remove all the scripts from the script cache.",
         complexity="O(N) with N being the number of scripts in cache")
def script_flush(ctx, args):
    if len(args) > 3 or (len(args) == 3 and args[2].lower() not in (b"sync", b"async")):
        raise RespError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    d = Deferred(ctx.resp3)

    def done(replies: list[bytes]) -> None:
        errors = [r for r in replies if r[:1] == b"-"]
        d.resolve_raw(errors[0] if errors else b"+OK\r\n")

    ctx.worker.call_all([b"__script_flush"], done, ctx.resp3)
    return d


@command("script|kill", 2, "noscript allow_busy", route=LOCAL, group="scripting", since="2.6.0",
         summary="Kill the script currently in execution.", complexity="O(1)")
def script_kill(ctx, args):
    return scripting.kill(ctx.worker)


_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]


@command("script|help", 2, "loading stale", route=LOCAL, group="scripting", since="5.0.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def script_help(ctx, args):
    return _HELP


@command("__script_load", 2, "", route=LOCAL, internal=True, summary="Cache a script another worker loaded")
def script_load_shared(ctx, args):
    try:
        scripting.of(ctx.worker).load(args[1])
    except RespError:  # (it compiled there: the same interpreter compiles it here)
        pass
    return Raw(b"+OK\r\n")


@command("__script_flush", 1, "", route=ALL, internal=True, summary="SCRIPT FLUSH in this worker")
def script_flush_here(ctx, args):
    scripting.of(ctx.worker).flush()
    return "OK"
