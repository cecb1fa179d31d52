"""Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
(LOAD, EXISTS, FLUSH, KILL, HELP); the interpreter is pikamp.scripting.
Functions: FCALL, FCALL_RO and FUNCTION (LOAD, DELETE, FLUSH, LIST, STATS,
DUMP, RESTORE, KILL, HELP); the libraries are pikamp.functions.

Each worker has its own interpreter and script cache. A script loaded in one
worker (SCRIPT LOAD, or the first EVAL of it) is sent to the others at once,
so that EVALSHA finds it whichever worker owns the client's DB: SCRIPT LOAD
answers once all have it, and SCRIPT EXISTS asks them all. (An EVAL answers
at once: another client's EVALSHA of that script, sent within the moment it
takes to reach a third worker, can still get NOSCRIPT.) SCRIPT KILL
stops a script that runs longer than busy-reply-threshold (lua-time-limit)
and has not written, as in Redis; but the busy worker serves nothing
meanwhile (no BUSY replies: its clients wait), so SCRIPT KILL must come
through a connection of another worker. SCRIPT DEBUG is not provided.
"""
from __future__ import annotations

from pikamp import functions, rdb, scripting
from pikamp.commands.table import ALL, LOCAL, command, dispatch
from pikamp.deferred import Deferred
from pikamp.errors import RespError
from pikamp.glob import Glob
from pikamp.numbers import parse_int
from pikamp.resp import Raw, decode, ordered_set

_EVAL_FLAGS = "noscript stale skip_monitor no_mandatory_keys movablekeys"


def _eval_keys(args: list[bytes]) -> list[int]:
    """EVAL script numkeys key... arg...: the keys' positions."""
    try:
        n = int(args[2])
    except (IndexError, ValueError):
        return []
    return list(range(3, min(3 + max(n, 0), len(args))))


def _share(w, body: bytes, done=None) -> None:
    """A script new to this worker goes to the other workers' caches too;
    ``done()`` once all of them have it."""
    others = [i for i in range(w.nworkers) if i != w.index]
    left = [len(others)]

    def acked(reply: bytes) -> None:
        left[0] -= 1
        if left[0] == 0 and done is not None:
            done()

    for i in others:
        w.call_worker(i, [b"__script_load", body], acked)


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
    if not new or w.nworkers == 1:
        return script.sha
    # Answered once every worker has it: an EVALSHA sent after the reply
    # finds it whichever worker owns the DB.
    d = Deferred(ctx.resp3)
    _share(w, args[2], lambda: d.resolve(script.sha))
    return d


@command("script|exists", -3, "noscript", route=LOCAL, group="scripting", since="2.6.0",
         summary="Check existence of scripts in the script cache.",
         complexity="O(N) with N being the number of scripts to check (so checking a single script is an "
                    "O(1) operation).")
def script_exists(ctx, args):
    # Any worker's cache counts (a script an EVAL cached elsewhere may still
    # be on its way here).
    shas = [sha.lower() for sha in args[2:]]
    d = Deferred(ctx.resp3)

    def combine(replies: list[bytes]) -> None:
        found = [0] * len(shas)
        for reply in replies:
            value = decode(reply)
            if isinstance(value, list):
                found = [a | b for a, b in zip(found, value)]
        d.resolve(found)

    ctx.worker.call_all([b"__script_exists", *shas], combine, ctx.resp3)
    return d


@command("__script_exists", -1, "", route=ALL, internal=True, summary="SCRIPT EXISTS in this worker's cache")
def script_exists_here(ctx, args):
    cache = scripting.of(ctx.worker).cache
    return [1 if sha in cache else 0 for sha in args[1:]]


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


# -- functions (Redis 7.0) ------------------------------------------------------------
def _fcall(ctx, args: list[bytes], readonly: bool):
    numkeys = parse_int(args[2], "ERR Bad number of keys provided")
    if numkeys > len(args) - 3:
        raise RespError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise RespError("ERR Number of keys can't be negative")
    f = functions.of(ctx.worker)
    fn = f.by_name.get(args[1])
    if fn is None:
        raise RespError("ERR Function not found")
    if readonly and not fn.no_writes:
        raise RespError("ERR Can not execute a script with write flag using *_ro command.")
    return f.runtime.run(ctx, fn, args[3:3 + numkeys], args[3 + numkeys:], readonly)


@command("fcall", -3, _EVAL_FLAGS, group="scripting", categories="@slow @scripting", since="7.0.0",
         key_finder=_eval_keys, summary="Invoke a function", complexity="Depends on the function that is executed.")
def fcall(ctx, args):
    return _fcall(ctx, args, False)


@command("fcall_ro", -3, "readonly " + _EVAL_FLAGS, group="scripting", categories="@slow @scripting",
         since="7.0.0", key_finder=_eval_keys, summary="Invoke a read-only function",
         complexity="Depends on the function that is executed.")
def fcall_ro(ctx, args):
    return _fcall(ctx, args, True)


@command("function", -2, "", route=LOCAL, group="scripting", categories="@slow", since="7.0.0",
         summary="A container for function commands", complexity="Depends on subcommand.")
def function_(ctx, args):
    return dispatch(ctx, args, b"function")


def _change_everywhere(ctx, change: list[bytes], reply: object) -> Deferred:
    """Store a change of the libraries in every worker's DBs (each one then
    reads them back); the reply once all have it."""
    w = ctx.worker
    if w.write_refusal:  # (a container's subcommand: the pipeline judged FUNCTION itself)
        raise RespError(w.write_refusal[1:-2].decode("latin-1"))
    d = Deferred(ctx.resp3)

    def done(replies: list[bytes]) -> None:
        errors = [r for r in replies if r[:1] == b"-"]
        if errors:
            d.resolve_raw(errors[0])
        else:
            d.resolve(reply)

    w.call_all([b"__function_apply", *change], done, ctx.resp3)
    return d


@command("function|load", -3, "write denyoom noscript", route=LOCAL, group="scripting", since="7.0.0",
         summary="Create a function with the given arguments (name, code, description)",
         complexity="O(1) (considering compilation time is redundant)")
def function_load(ctx, args):
    replace = False
    rest = args[2:]
    while len(rest) > 1:
        if rest[0].lower() != b"replace":
            raise RespError("ERR Unknown option given: " + rest[0].decode("latin-1"))
        replace, rest = True, rest[1:]
    if not rest:
        raise RespError("ERR Function code was not given")
    code = rest[0]
    f = functions.of(ctx.worker)
    name, _ = functions.metadata(code)
    if name in f.libraries and not replace:
        raise RespError(f"ERR Library '{name.decode('latin-1')}' already exists")
    lib = f.compile(code)
    f.check(lib, replace)
    return _change_everywhere(ctx, [b"load", lib.name, code], lib.name)


@command("function|delete", 3, "write noscript", route=LOCAL, group="scripting", since="7.0.0",
         summary="Delete a function by name", complexity="O(1)")
def function_delete(ctx, args):
    if args[2] not in functions.of(ctx.worker).libraries:
        raise RespError("ERR Library not found")
    return _change_everywhere(ctx, [b"delete", args[2], b""], "OK")


@command("function|flush", -2, "write noscript", route=LOCAL, group="scripting", since="7.0.0",
         summary="Deleting all functions", complexity="O(N) where N is the number of functions deleted")
def function_flush(ctx, args):
    if len(args) > 3 or (len(args) == 3 and args[2].lower() not in (b"sync", b"async")):
        raise RespError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    return _change_everywhere(ctx, [b"flush", b"", b""], "OK")


@command("function|list", -2, "noscript", route=LOCAL, group="scripting", since="7.0.0",
         summary="List information about all the functions", complexity="O(N) where N is the number of functions")
def function_list(ctx, args):
    pattern = None
    with_code = False
    i = 2
    while i < len(args):
        word = args[i].lower()
        if word == b"withcode":
            with_code = True
        elif word == b"libraryname":
            if i + 1 >= len(args):
                raise RespError("ERR library name argument was not given")
            if pattern is not None:
                raise RespError("ERR library name can be given only once")
            pattern = Glob(args[i + 1])
            i += 1
        else:
            raise RespError("ERR Unknown argument " + args[i].decode("latin-1"))
        i += 1
    out = []
    libraries = functions.of(ctx.worker).libraries
    for _, lib in sorted(libraries.items()):
        if pattern is not None and not pattern.match(lib.name):
            continue
        entry = {b"library_name": lib.name, b"engine": b"LUA", b"functions": [
            {b"name": fn.sha, b"description": fn.description,
             b"flags": ordered_set([flag.decode() for flag in fn.flags], ctx.resp3)}
            for fn in lib.functions.values()]}
        if with_code:
            entry[b"library_code"] = lib.code
        out.append(entry)
    return out


@command("function|dump", 2, "noscript", route=LOCAL, group="scripting", since="7.0.0",
         summary="Dump all functions into a serialized binary payload",
         complexity="O(N) where N is the number of functions")
def function_dump(ctx, args):
    libraries = functions.of(ctx.worker).libraries
    try:
        return rdb.encode_functions([lib.code for _, lib in sorted(libraries.items())], ctx.worker.max_bulk)
    except rdb.PayloadTooLarge as e:
        raise RespError(f"ERR the FUNCTION DUMP payload would be larger than proto-max-bulk-len ({e.args[0]} "
                        "bytes)") from None


@command("function|restore", -3, "write denyoom noscript", route=LOCAL, group="scripting", since="7.0.0",
         summary="Restore all the functions on the given payload",
         complexity="O(N) where N is the number of functions on the payload")
def function_restore(ctx, args):
    policy = b"append"
    if len(args) > 4:
        raise RespError(f"ERR unknown subcommand or wrong number of arguments for '{args[1].decode('latin-1')}'. "
                        "Try FUNCTION HELP.")
    if len(args) == 4:
        policy = args[3].lower()
        if policy not in (b"flush", b"append", b"replace"):
            raise RespError("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    try:
        codes = rdb.decode_functions(args[2], ctx.worker.max_bulk)
    except rdb.PayloadError as e:
        raise RespError(str(e)) from None
    f = functions.of(ctx.worker)
    restored: dict[bytes, functions.Library] = {}
    for code in codes:
        lib = f.compile(code)
        if lib.name in restored:
            raise RespError(f"ERR Library '{lib.name.decode('latin-1')}' already exists")
        restored[lib.name] = lib
    kept = {} if policy == b"flush" else dict(f.libraries)
    for name in restored:
        if name in kept:
            if policy == b"append":
                raise RespError(f"ERR Library {name.decode('latin-1')} already exists")
            del kept[name]
    taken = {fname for lib in kept.values() for fname in lib.functions}
    for lib in restored.values():
        for fname in lib.functions:
            if fname in taken:
                raise RespError(f"ERR Function {fname.decode('latin-1')} already exists")
            taken.add(fname)
    change = [b"restore", b"1" if policy == b"flush" else b"0"]
    for lib in restored.values():
        change += [lib.name, lib.code]
    return _change_everywhere(ctx, change, "OK")


@command("function|stats", 2, "noscript allow_busy", route=LOCAL, group="scripting", since="7.0.0",
         summary="Return information about the function currently running (name, description, duration)",
         complexity="O(1)")
def function_stats(ctx, args):
    f = functions.of(ctx.worker)
    # A running function is never seen here: it holds its worker until it ends.
    return {b"running_script": None, b"engines": {b"LUA": {b"libraries_count": len(f.libraries),
                                                          b"functions_count": len(f.by_name)}}}


@command("function|kill", 2, "noscript allow_busy", route=LOCAL, group="scripting", since="7.0.0",
         summary="Kill the function currently in execution.", complexity="O(1)")
def function_kill(ctx, args):
    return scripting.kill(ctx.worker)


_FUNCTION_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION "
    "RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
]


@command("function|help", 2, "loading stale", route=LOCAL, group="scripting", since="7.0.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def function_help(ctx, args):
    return _FUNCTION_HELP


@command("__function_apply", -3, "write", route=ALL, internal=True,
         summary="Store a change of the function libraries in this worker's DBs")
def function_apply(ctx, args):
    functions.store(ctx.worker, args[1], args[2:])
    return "OK"
