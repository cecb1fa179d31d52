"""Redis 7.0 functions (FUNCTION LOAD, FCALL ...): the libraries of a worker.

A library's code is stored in the STATE column family of every DB (under
codec.FUNCTION_PREFIX), so it survives restarts, a DB's binlog replicates
it, and SWAPDB or FLUSHALL leave it be. Every worker writes it into the DBs
it owns (FUNCTION LOAD reaches all workers) and keeps the libraries compiled
in its own Lua interpreter (a pikamp.scripting.Scripting of its own, apart
from EVAL's, as in Redis), read back from its lowest DB after any change:
``Worker.functions`` is dropped then and made again on next use.
"""
from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from lupa.lua51 import lua_type

from pikamp.errors import RespError
from pikamp.luavalues import lua_string
from pikamp.scripting import Script, Scripting, _Raised
from pikamp.storage import codec
from pikamp.storage.engine import STATE

if TYPE_CHECKING:
    from pikamp.worker import Worker

log = logging.getLogger("pikamp.functions")

_NAME = re.compile(rb"[A-Za-z0-9_]+\Z")
FLAGS = (b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys")


class Function(Script):
    """A registered function: run like a script, named in errors by its name."""

    __slots__ = ("library", "flags", "description")

    def __init__(self, name: bytes, fn, flags: list[bytes], description: bytes | None) -> None:
        super().__init__(name, b"", fn, b"no-writes" in flags)
        self.function = True
        self.flags = flags
        self.description = description
        self.library = b""


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name: bytes, code: bytes, functions: dict[bytes, Function]) -> None:
        self.name = name
        self.code = code
        self.functions = functions


def metadata(code: bytes) -> tuple[bytes, bytes]:
    """(library name, the code to compile) from ``#!lua name=<name>``; the
    shebang line becomes an empty line, so line numbers stay."""
    if not code.startswith(b"#!"):
        raise RespError("ERR Missing library metadata")
    end = code.find(b"\n")
    line = code[2:] if end < 0 else code[2:end]
    parts = line.split(b" ")
    engine, name = parts[0], None
    for part in parts[1:]:
        if not part:
            continue
        if part.startswith(b"name="):
            name = part[5:]
        else:
            raise RespError("ERR Invalid metadata value given: " + part.decode("latin-1"))
    if name is None:
        raise RespError("ERR Library name was not given")
    if engine.lower() != b"lua":
        raise RespError(f"ERR Engine '{engine.decode('latin-1')}' not found")
    if not _NAME.match(name):
        raise RespError("ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
                        "least one character long")
    return name, (b"" if end < 0 else code[end:])


class Functions:
    """One worker's libraries and the interpreter they run in."""

    def __init__(self, worker: "Worker") -> None:
        self.runtime = Scripting(worker)
        self.runtime.register = self._register  # redis.register_function while a library loads
        self.libraries: dict[bytes, Library] = {}
        self.by_name: dict[bytes, Function] = {}
        self._registering: dict[bytes, Function] | None = None

    # -- loading ---------------------------------------------------------------
    def compile(self, code: bytes) -> Library:
        """Run a library's code (it registers its functions); RespError with
        Redis' words if it cannot be loaded. Nothing is installed yet."""
        name, body = metadata(code)
        return self._compile(name, code, body)

    def _compile(self, name: bytes, code: bytes, body: bytes) -> Library:
        self._registering = {}
        try:
            ok, err, compiled = self.runtime._load_library(body)
            functions = self._registering
        finally:
            self._registering = None
        if not compiled:
            raise RespError("ERR Error compiling function: "
                            + err.decode("utf-8", "replace").replace("\r", " ").replace("\n", " "))
        if not ok:
            msg = err[b"err"] if lua_type(err) == "table" else err
            msg = msg if type(msg) is bytes else b"ERR unknown error"
            raise RespError("ERR Error registering functions: " + msg.decode("utf-8", "replace"))
        if not functions:
            raise RespError("ERR No functions registered")
        for f in functions.values():
            f.library = name
        return Library(name, code, functions)

    def check(self, lib: Library, replace: bool) -> None:
        """Whether ``lib`` may be installed next to the libraries there are."""
        if lib.name in self.libraries and not replace:
            raise RespError(f"ERR Library '{lib.name.decode('latin-1')}' already exists")
        for fname in lib.functions:
            other = self.by_name.get(fname)
            if other is not None and other.library != lib.name:
                raise RespError(f"ERR Function {fname.decode('latin-1')} already exists")

    def install(self, lib: Library) -> None:
        old = self.libraries.pop(lib.name, None)
        if old is not None:
            for fname in old.functions:
                self.by_name.pop(fname, None)
        self.libraries[lib.name] = lib
        self.by_name.update(lib.functions)

    def _register(self, *args) -> None:
        """redis.register_function(name, callback) or
        redis.register_function{function_name=, callback=, flags=, description=}."""
        reg = self._registering
        rt = self.runtime
        if reg is None:
            raise _Raised(rt._err(b"ERR redis.register_function can only be called on FUNCTION LOAD command"))
        flags: list[bytes] = []
        description = None
        if len(args) == 1:
            t = args[0]
            if lua_type(t) != "table":
                raise _Raised(rt._err(b"ERR calling redis.register_function with a single argument is only "
                                      b"applicable to Lua table (representing named arguments)."))
            name = callback = None
            for k, v in t.items():
                if type(k) is not bytes:
                    raise _Raised(rt._err(b"ERR named argument key given to redis.register_function is not a string"))
                if k == b"function_name":
                    v = lua_string(v)
                    if v is None:
                        raise _Raised(rt._err(b"ERR function_name argument given to redis.register_function must "
                                              b"be a string"))
                    name = v
                elif k == b"description":
                    v = lua_string(v)
                    if v is None:
                        raise _Raised(rt._err(b"ERR description argument given to redis.register_function must "
                                              b"be a string"))
                    description = v
                elif k == b"callback":
                    if lua_type(v) != "function":
                        raise _Raised(rt._err(b"ERR callback argument given to redis.register_function must be a "
                                              b"function"))
                    callback = v
                elif k == b"flags":
                    if lua_type(v) != "table":
                        raise _Raised(rt._err(b"ERR flags argument to redis.register_function must be a table "
                                              b"representing function flags"))
                    for _, flag in v.items():
                        if flag not in FLAGS:
                            raise _Raised(rt._err(b"ERR unknown flag given"))
                        flags.append(flag)
                else:
                    raise _Raised(rt._err(b"ERR unknown argument given to redis.register_function"))
            if name is None:
                raise _Raised(rt._err(b"ERR redis.register_function must get a function name argument"))
            if callback is None:
                raise _Raised(rt._err(b"ERR redis.register_function must get a callback argument"))
        elif len(args) == 2:
            name, callback = lua_string(args[0]), args[1]
            if name is None:
                raise _Raised(rt._err(b"ERR first argument to redis.register_function must be a string"))
            if lua_type(callback) != "function":
                raise _Raised(rt._err(b"ERR second argument to redis.register_function must be a function"))
        else:
            raise _Raised(rt._err(b"ERR wrong number of arguments to redis.register_function"))
        if not _NAME.match(name):  # (Redis 7.0 words it so for a function name too)
            raise _Raised(rt._err(b"ERR Library names can only contain letters, numbers, or underscores(_) and "
                                  b"must be at least one character long"))
        if name in reg:
            raise _Raised(rt._err(b"ERR Function already exists in the library"))
        reg[name] = Function(name, callback, [f for f in FLAGS if f in flags], description)

    # -- stored libraries ------------------------------------------------------
    def load_stored(self, w: "Worker") -> None:
        """Compile the libraries stored in this worker's lowest DB."""
        owned = w.owned()
        if not owned:
            return
        eng = w.dbs[owned[0]].engine
        end = codec.FUNCTION_PREFIX[:-1] + bytes((codec.FUNCTION_PREFIX[-1] + 1,))
        for key, code in eng.iterate(STATE, codec.FUNCTION_PREFIX, end):
            try:
                name, body = metadata(code)
                self.install(self._compile(name, code, body))
            except RespError as e:
                log.error("function library %r in DB %d does not load: %s", key[len(codec.FUNCTION_PREFIX):],
                          owned[0], e.message)


def of(worker: "Worker") -> Functions:
    """The worker's libraries, loaded from its DBs on first use after a change."""
    f = worker.functions
    if f is None:
        f = worker.functions = Functions(worker)
        f.load_stored(worker)
    return f


def store(worker: "Worker", op: bytes, args: list[bytes]) -> None:
    """Write a change of the libraries into every DB of this worker, in one
    batch per DB (op, args: b"load" [name, code], b"delete" [name, _],
    b"flush" [_, _], b"restore" [flush 1/0, name, code, name, code ...]);
    RespError if a DB refuses."""
    prefix = codec.FUNCTION_PREFIX
    end = prefix[:-1] + bytes((prefix[-1] + 1,))
    for index in worker.owned():
        db = worker.dbs[index]
        eng = db.engine
        if op == b"flush" or (op == b"restore" and args[0] == b"1"):
            for key, _ in list(eng.iterate(STATE, prefix, end)):
                eng.delete(STATE, key)
        if op == b"load":
            eng.put(STATE, prefix + args[0], args[1])
        elif op == b"delete":
            eng.delete(STATE, prefix + args[0])
        elif op == b"restore":
            for i in range(1, len(args) - 1, 2):
                eng.put(STATE, prefix + args[i], args[i + 1])
        if not eng.commit():
            raise eng.refusal()
    worker.functions = None
