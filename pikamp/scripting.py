"""Lua scripting (EVAL, EVALSHA, SCRIPT): one Lua 5.1 interpreter per worker.

Redis embeds Lua 5.1; so does pikamp (lupa.lua51). The interpreter is
sandboxed as Redis 7.0 sandboxes its own: no os, io, package, loadfile,
dofile, print or debug; bit, cjson, cmsgpack and struct as Redis bundles them
(pikamp.lualibs, pikamp.luamsgpack); globals and the library tables are read-only
("Attempt to modify a readonly table"), and reading a global that does not
exist is an error, so no script can leave state behind for the next one.

A script runs in the worker that owns the client's DB, inside one event-loop
turn: nothing else runs meanwhile and its writes join that turn's write
batch, as EXEC's do. ``redis.call`` sends each command through the same
pipeline as a client's (Worker.run_owned: stats, keyspace events, MONITOR,
the binlog), after Redis' checks for scripts (noscript, arity, the caller's
ACL user, read-only scripts, a replica refusing writes). Commands that need
another process to answer (a DB of another worker, INFO, CLIENT ...) cannot
be waited for inside a script and are refused with an error that says so.

The replies a command gives are converted to Lua values, and the script's
result back to a reply, by Redis' rules (script_lua.c), in RESP2 or, after
``redis.setresp(3)``, RESP3.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from typing import TYPE_CHECKING

import lupa.lua51 as lua51

from pikamp import REDIS_VERSION, acl, lualibs, luamsgpack, luasandbox, luavalues, multi
from pikamp.commands.table import ALL, LOCAL, lookup, runs
from pikamp.deferred import Deferred, Pending
from pikamp.errors import RespError
from pikamp.resp import Raw

if TYPE_CHECKING:
    from pikamp.worker import Worker

log = logging.getLogger("pikamp.scripting")

NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
_VERSION_NUM = sum(int(p) << s for p, s in zip(REDIS_VERSION.split("."), (16, 8, 0)))
_MAX_CALL_ARGS = 4000  # values one call into Lua may take (the C stack holds about 8000)
# What one worker's Lua may allocate: a script past it fails ("not enough
# memory") and the worker lives on. Redis sets no limit.
MEMORY_LIMIT = 1 << 30


def _no_attributes(obj, name, is_setting):
    """No Python attribute is reachable from Lua (the callbacks are plain functions)."""
    raise AttributeError("not accessible from scripts")


def sha1hex(body: bytes) -> bytes:
    return hashlib.sha1(body).hexdigest().encode()


class _Raised(Exception):
    """An error reply redis.call raises into the script (its error table)."""

    def __init__(self, table) -> None:
        super().__init__()
        self.table = table


class Script:
    """A compiled script of the cache."""

    __slots__ = ("sha", "body", "fn", "no_writes", "function")

    def __init__(self, sha: bytes, body: bytes, fn, no_writes: bool) -> None:
        self.sha = sha  # what errors name it by (a function: its name)
        self.body = body
        self.fn = fn
        self.no_writes = no_writes
        self.function = False  # a registered function (FCALL), called with (keys, args)


class _Run:
    """The state of the script running now."""

    __slots__ = ("ctx", "db", "resp", "readonly", "user", "engines", "script", "started", "busy_after",
                 "busy", "wrote", "mark")

    def __init__(self, ctx, script: Script, readonly: bool, busy_after: float) -> None:
        self.ctx = ctx
        self.db = ctx.db.index
        self.resp = 2
        self.readonly = readonly or script.no_writes
        self.user: acl.User | None = ctx.user
        self.engines: list = []
        self.script = script
        self.started = time.monotonic()
        self.busy_after = busy_after  # seconds (busy-reply-threshold, lua-time-limit)
        self.busy = False  # past busy_after: told to SCRIPT KILL (mark files)
        self.wrote = False  # ran a write command: SCRIPT KILL may not stop it
        self.mark = b""  # what the busy mark file says


_SHEBANG_FLAGS = {b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys"}


def _shebang(body: bytes) -> tuple[bytes, bool]:
    """(the code to compile, no-writes) of a script; RespError for a bad shebang.
    The shebang line becomes an empty line, so that line numbers stay."""
    if not body.startswith(b"#!"):
        return body, False
    end = body.find(b"\n")
    line = body if end < 0 else body[:end]
    words = line.split(b" ")
    if words[0] != b"#!lua":
        raise RespError("ERR Unexpected engine in script shebang: " + words[0].decode("latin-1"))
    flags: set[bytes] = set()
    for word in words[1:]:
        if not word:
            continue
        if not word.startswith(b"flags="):
            raise RespError("ERR Unknown lua shebang option: " + word.decode("latin-1"))
        for flag in word[6:].split(b","):
            if flag and flag not in _SHEBANG_FLAGS:
                raise RespError("ERR Unexpected flag in script shebang: " + flag.decode("latin-1"))
            flags.add(flag)
    return (b"" if end < 0 else body[end:]), b"no-writes" in flags


class Scripting:
    """A worker's interpreter and script cache."""

    def __init__(self, worker: "Worker") -> None:
        self.w = worker
        self.cache: dict[bytes, Script] = {}  # by SHA1 (hex)
        self.by_body: dict[bytes, Script] = {}
        self._busy_setting: tuple[str | None, float] = ("", 0.0)  # busy-reply-threshold as set, in s
        self.running: _Run | None = None
        # redis.register_function while a library loads (pikamp.functions sets it).
        self.register = None
        self._new_interpreter()

    def _new_interpreter(self) -> None:
        self.lua = lua51.LuaRuntime(encoding=None, unpack_returned_tuples=True, register_eval=False,
                                    max_memory=MEMORY_LIMIT,
                                    register_builtins=False, attribute_filter=_no_attributes)
        lua = self.lua
        libs = lualibs.Libraries(lua)
        self._compile, self._run, self._collect, self._load_library, self._call_function = lua.execute(
            luasandbox.SETUP, self._call, self._pcall, self._unwrap, self._log, self._sha1hex, self._setresp,
            self._acl_check, self._set_repl, REDIS_VERSION.encode(), _VERSION_NUM, libs.bit, libs.cjson,
            luamsgpack.Msgpack(lua).table(), luamsgpack.Struct(lua).table(), self._check,
            lambda *args: self.register(*args))
        self._table = self.lua.table_from
        self.values = luavalues.Converter(lua)
        self._err = self.values.error_table

    # -- the cache -------------------------------------------------------------
    def load(self, body: bytes) -> tuple[Script, bool]:
        """The script of ``body``, compiled and cached; (it, whether it was new).
        RespError if it does not compile."""
        script = self.by_body.get(body)  # (a dict lookup costs less than SHA1 for each EVAL)
        if script is not None:
            return script, False
        sha = sha1hex(body)
        script = self.cache.get(sha)
        if script is not None:
            self.by_body[body] = script
            return script, False
        code, no_writes = _shebang(body)
        ok, fn = self._compile(code)
        if not ok:
            raise RespError("ERR Error compiling script (new function): "
                            + fn.decode("utf-8", "replace").replace("\r", " ").replace("\n", " "))
        script = self.cache[sha] = self.by_body[body] = Script(sha, body, fn, no_writes)
        return script, True

    def flush(self) -> None:
        """SCRIPT FLUSH: forget every script, with a fresh interpreter (as Redis)."""
        self.cache.clear()
        self.by_body.clear()
        self._new_interpreter()

    # -- running ---------------------------------------------------------------
    def run(self, ctx, script: Script, keys: list[bytes], argv: list[bytes], readonly: bool) -> object:
        """Run a script for the command whose handler context is ``ctx`` (EVAL
        at the owner of its DB); the reply, encoded in the caller's protocol."""
        w = self.w
        caller_resp3 = ctx.resp3
        conn, client_id = ctx.conn, ctx.client_id
        state = _Run(ctx, script, readonly, self._busy_after())
        self.running = state
        was_in_exec, w.in_exec = w.in_exec, True  # blocking commands answer at once
        engines = [db.engine for db in w.dbs.values()]
        merging = [e.merging for e in engines]
        for e in engines:  # range reads see the script's own writes, in one batch
            e.merging = True
        try:
            runner = self._call_function if script.function else self._run
            if len(keys) + len(argv) <= _MAX_CALL_ARGS:
                result = runner(script.fn, len(keys), *keys, *argv)
            else:
                result = runner(script.fn, -1, self._table(keys), self._table(argv))
            ok, value = result[:2] if type(result) is tuple else (result, None)
            if ok:
                out = self.values.to_reply(value, caller_resp3, state.resp)
            else:
                out = self._error_reply(value, script.sha)
        finally:
            self.running = None
            if state.busy:
                log.warning("slow script %s finished after %.1f s", script.sha.decode(),
                            time.monotonic() - state.started)
                clear_marks(w.run_dir, w.index)
            w.in_exec = was_in_exec
            for e, m in zip(engines, merging):
                e.merging = m
        # The run_owned calls inside pointed the context elsewhere: back to the caller.
        ctx.resp3, ctx.conn, ctx.client_id, ctx.user = caller_resp3, conn, client_id, state.user
        if w.notify and ctx.db.touched is not None:
            ctx.db.touched.clear()  # the commands inside announced their own events
        if state.engines:  # the reply shows writes not committed yet (see Worker.tainted)
            out = Pending(out)
            w.tainted += [(e, out, 1) for e in dict.fromkeys(state.engines)]
            return out
        return Raw(out)

    def _error_reply(self, err, sha: bytes) -> bytes:
        """The reply for a script that raised ``err`` (an error table, see the
        handler in pikamp.luasandbox): its message, with where it was raised."""
        msg = None
        if type(err) is bytes:  # no handler ran: Lua itself failed
            self._collect()  # (what the script held is garbage now)
            return luavalues.error_line(b"ERR " + err + (b" (a script's Lua memory is at most %d MB)" % (MEMORY_LIMIT >> 20)
                                                if err == b"not enough memory" else b""))
        if lua51.lua_type(err) == "table":
            msg = err[b"err"]
            source, line = err[b"source"], err[b"line"]
        if type(msg) is not bytes:
            msg, source, line = b"ERR unknown error", None, None
        if source is not None and line is not None:
            msg = b"%s script: %s, on %s:%d." % (msg, sha, source, line)
        return luavalues.error_line(msg)

    # -- the commands of a script ---------------------------------------------
    def _call(self, *args) -> object:
        """redis.call: the reply as Lua values; an error reply is raised."""
        ok, value = self._command(args)
        if not ok:
            raise _Raised(value)
        return value

    def _pcall(self, *args) -> object:
        """redis.pcall: the reply as Lua values, an error reply as its table."""
        return self._command(args)[1]

    def _unwrap(self, e: BaseException):
        """The error table of what a Python function raised into Lua."""
        if isinstance(e, _Raised):
            return e.table
        if isinstance(e, lualibs.LuaArgError):  # a plain message (and: say where, see the handler)
            return str(e).encode(), True
        log.error("script callback failed: %r", e)
        return self._err(b"ERR internal error: " + type(e).__name__.encode())

    def _command(self, args: tuple) -> tuple[bool, object]:
        state = self.running
        if state is None:
            return False, self._err(b"ERR redis.call/pcall can only be called inside a script invocation")
        if not args:
            return False, self._err(b"ERR Please specify at least one argument for this redis lib call")
        argv = luavalues.arguments(args)
        if argv is None:
            return False, self._err(b"ERR Lua redis lib command arguments must be strings or integers")
        try:
            reply = self._execute(state, argv)
        except RespError as e:
            return False, self._err(e.message.encode("latin-1", "replace"))
        value, _ = self.values.to_lua(reply, 0)
        if type(reply) is Pending:
            multi.untaint(self.w, reply, state.engines)
        if reply[:1] == b"-":
            return False, value
        return True, value

    def _execute(self, state: _Run, argv: list[bytes]) -> bytes:
        """Run one command of the script through the pipeline; its encoded reply."""
        w = self.w
        cmd = lookup(argv[0])
        if cmd is None:
            raise RespError("ERR Unknown Redis command called from script")
        ar = cmd.arity
        if (ar > 0 and len(argv) != ar) or len(argv) < -ar:
            raise RespError("ERR Wrong number of args calling Redis command from script")
        judged = runs(cmd, argv)
        if "noscript" in judged.flags:
            raise RespError("ERR This Redis command is not allowed from script")
        if state.user is not None:
            self._check_acl(state, judged, argv)
        if judged.is_write:
            if state.readonly:
                raise RespError("ERR Write commands are not allowed from read-only scripts.")
            if w.write_refusal:
                return w.write_refusal
            state.wrote = True
        name = cmd.name
        resp3 = state.resp == 3
        ctx = state.ctx
        if cmd.route == LOCAL:
            return self._local(state, name, argv, resp3)
        if cmd.route == ALL:
            if w.nworkers > 1:
                raise RespError(f"ERR pikamp runs a script inside one worker: {name.upper()} needs all "
                                f"{w.nworkers} of them (workers 1 allows it)")
            r = w.run_owned(cmd, -1, resp3, argv, ctx.conn, ctx.client_id, state.user)
        else:
            if name in ("move", "copy", "swapdb"):
                self._same_worker(name, argv)
            r = w.run_owned(cmd, state.db, resp3, argv, ctx.conn, ctx.client_id, state.user)
        if type(r) is Deferred:
            if r.result is None:  # (every command that waits is refused above)
                raise RespError(f"ERR {name.upper()} cannot be waited for inside a script")
            r = r.result
        return r

    def _check_acl(self, state: _Run, cmd, argv: list[bytes]) -> None:
        why, pos = state.user.check(cmd, argv)  # type: ignore[union-attr]
        if why == acl.OK:
            return
        ctx = state.ctx
        obj = cmd.name.encode() if why == acl.DENIED_CMD else argv[pos]
        self.w.log_acl(ctx.conn, acl.REASONS[why], b"lua", obj, state.user.name)  # type: ignore[union-attr]
        if why == acl.DENIED_CMD:
            raise RespError("ERR The user executing the script can't run this command or subcommand")
        if why == acl.DENIED_KEY:
            raise RespError("ERR The user executing the script can't access at least one of the keys "
                            "mentioned in the command arguments")
        raise RespError("ERR The user executing the script can't publish to the channel mentioned in the command")

    def _same_worker(self, name: str, argv: list[bytes]) -> None:
        """MOVE / COPY ... DB / SWAPDB reach another DB: it must be this worker's
        (a script cannot wait for another worker)."""
        w = self.w
        targets: list[bytes] = []
        if name == "move":
            targets = [argv[2]]
        elif name == "swapdb":
            targets = argv[1:3]
        else:
            for i in range(3, len(argv) - 1):
                if argv[i].lower() == b"db":
                    targets = [argv[i + 1]]
        for t in targets:
            index = multi.db_index(t)
            if index is not None and 0 <= index < w.ndbs and index % w.nworkers != w.index:
                raise RespError(f"ERR pikamp runs a script inside one worker: DB {index} is owned by another "
                                f"(db % {w.nworkers})")

    def _local(self, state: _Run, name: str, argv: list[bytes], resp3: bool) -> bytes:
        """The connection-level commands a script may run (Redis allows them and
        they need no other process): SELECT, PING, ECHO, TIME, PUBLISH."""
        w = self.w
        if name == "select":
            index = multi.db_index(argv[1])
            if index is None:
                raise RespError("ERR value is not an integer or out of range")
            if not 0 <= index < w.ndbs:
                raise RespError("ERR DB index is out of range")
            if index % w.nworkers != w.index:
                raise RespError(f"ERR pikamp runs a script inside one worker: DB {index} is owned by another "
                                f"(db % {w.nworkers})")
            state.db = index  # for this script only (Redis 7)
            return b"+OK\r\n"
        if name == "ping":
            if len(argv) > 2:
                raise RespError("ERR wrong number of arguments for 'ping' command")
            return b"+PONG\r\n" if len(argv) == 1 else b"$%d\r\n%b\r\n" % (len(argv[1]), argv[1])
        if name == "echo":
            return b"$%d\r\n%b\r\n" % (len(argv[1]), argv[1])
        if name == "time":
            now = time.time_ns() // 1000
            secs, micros = b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)
            return b"*2\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(secs), secs, len(micros), micros)
        if name in ("publish", "spublish"):
            return b":%d\r\n" % w.hub.publish_now(b"s" if name == "spublish" else b"c", argv[1], argv[2])
        raise RespError(f"ERR pikamp does not run {name.upper()} inside scripts")

    # -- busy scripts ------------------------------------------------------------
    def _busy_after(self) -> float:
        """busy-reply-threshold (lua-time-limit) in seconds, parsed once per value."""
        text = self.w.config.values.get("busy-reply-threshold")
        if text != self._busy_setting[0]:
            self._busy_setting = (text, self.w.config.redis_int("busy-reply-threshold") / 1000)
        return self._busy_setting[1]

    def _check(self) -> None:
        """The count hook: past busy-reply-threshold the script is announced
        (a mark file other workers' SCRIPT KILL reads, and the log); a kill
        asked for since stops it, unless it wrote."""
        state = self.running
        if state is None:
            return
        w = self.w
        if not state.busy:
            if time.monotonic() - state.started < state.busy_after:
                return
            state.busy = True
            log.warning("slow script %s still running after %d ms (SCRIPT KILL stops it while it has "
                        "written nothing)", state.script.sha.decode(), state.busy_after * 1000)
        busy, kill = _mark_paths(w.run_dir, w.index)
        mark = b"w" if state.wrote else b"-"
        if mark != state.mark:
            with open(busy, "wb") as f:
                f.write(mark)
            state.mark = mark
        if not state.wrote and os.path.exists(kill):
            os.unlink(kill)
            log.warning("script %s killed by SCRIPT KILL", state.script.sha.decode())
            raise _Raised(self._err(b"ERR Script killed by user with SCRIPT KILL..."))

    # -- the other redis.* functions ------------------------------------------
    def _sha1hex(self, *args) -> bytes:
        if len(args) != 1:
            raise _Raised(self._err(b"ERR wrong number of arguments"))
        return sha1hex(luavalues.lua_string(args[0]) or b"")

    def _log(self, *args) -> None:
        if len(args) < 2:
            raise _Raised(self._err(b"ERR redis.log() requires two arguments or more."))
        level = luavalues.lua_number(args[0])
        if level is None:
            raise _Raised(self._err(b"ERR First argument must be a number (log level)."))
        level = luavalues.to_long_long(level)
        if not 0 <= level <= 3:
            raise _Raised(self._err(b"ERR Invalid debug level."))
        text = b" ".join(t for t in map(luavalues.lua_string, args[1:]) if t is not None)
        log.log((logging.DEBUG, logging.DEBUG, logging.INFO, logging.WARNING)[level], "%s",
                text.decode("utf-8", "replace"))

    def _setresp(self, *args) -> None:
        if len(args) != 1:
            raise _Raised(self._err(b"ERR redis.setresp() requires one argument."))
        resp = luavalues.lua_number(args[0])
        resp = luavalues.to_long_long(resp) if resp is not None else 0
        if resp != 2 and resp != 3:
            raise _Raised(self._err(b"ERR RESP version must be 2 or 3."))
        if self.running is not None:
            self.running.resp = resp

    def _set_repl(self, *args) -> None:
        if len(args) != 1:
            raise _Raised(self._err(b"ERR redis.set_repl() requires two arguments."))
        flags = luavalues.to_long_long(args[0]) if type(args[0]) in (int, float) else 0
        if flags & ~3:
            raise _Raised(self._err(b"ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL "
                                    b"or REPL_NONE."))
        if flags != 3:
            # pikamp's binlog records the changes the script made, not its
            # commands: there is no leaving some of them out.
            raise _Raised(self._err(b"ERR pikamp replicates every write of a script: redis.set_repl "
                                    b"supports REPL_ALL only"))

    def _acl_check(self, *args) -> bool:
        argv = luavalues.arguments(args) if args else None
        if argv is None:
            msg = (b"ERR Lua redis lib command arguments must be strings or integers" if args
                   else b"ERR Please specify at least one argument for this redis lib call")
            raise _Raised(self._err(msg))
        cmd = lookup(argv[0])
        if cmd is None:
            raise _Raised(self._err(b"ERR Invalid command passed to redis.acl_check_cmd()"))
        state = self.running
        user = state.user if state is not None else None
        return user is None or user.check(runs(cmd, argv), argv)[0] == acl.OK

    # -- conversions -----------------------------------------------------------


def _mark_paths(run_dir: str, index: int) -> tuple[str, str]:
    """The files that say worker ``index`` runs a busy script, and that SCRIPT KILL asks to stop it."""
    return os.path.join(run_dir, f"script-busy-{index}"), os.path.join(run_dir, f"script-kill-{index}")


def clear_marks(run_dir: str, index: int) -> None:
    """No busy script in worker ``index`` (it ended, or the worker starts)."""
    for path in _mark_paths(run_dir, index):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def kill(worker: "Worker") -> str:
    """SCRIPT KILL: stop the busy script of whichever worker runs one (it
    stops at its next check, within 100000 Lua instructions), as Redis."""
    for i in range(worker.nworkers):
        busy, kill_path = _mark_paths(worker.run_dir, i)
        try:
            with open(busy, "rb") as f:
                wrote = f.read() == b"w"
        except FileNotFoundError:
            continue
        if wrote:
            raise RespError("UNKILLABLE Sorry the script already executed write commands against the dataset. "
                            "You can either wait the script termination or kill the server in a hard way using "
                            "the SHUTDOWN NOSAVE command.")
        with open(kill_path, "wb"):
            pass
        return "OK"
    raise RespError("NOTBUSY No scripts in execution right now.")


def of(worker: "Worker") -> Scripting:
    """The worker's interpreter, made on first use."""
    s = worker.scripting
    if s is None:
        s = worker.scripting = Scripting(worker)
    return s
