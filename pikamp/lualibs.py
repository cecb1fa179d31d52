"""The libraries Redis bundles for scripts that stock Lua 5.1 lacks: ``bit``
(LuaBitOp), ``cjson`` (lua-cjson's encode / decode and ``cjson.null``),
``cmsgpack`` and ``struct``.

``bit`` is done in Python with LuaBitOp's semantics (numbers are taken
modulo 2^32, rounded to the nearest integer, results are signed 32-bit);
``cjson.encode`` walks the Lua values from Python, ``cjson.decode`` parses
with Python's json. Both are Python functions, which Lua sees as C
functions, as Redis' are: an error names the line of the script that called
them. ``cmsgpack`` and ``struct`` are in pikamp.luamsgpack.
"""
from __future__ import annotations

import json
import math
import re
from typing import Callable

from lupa.lua51 import lua_type as lua51_type

# Run with the bit functions; returns the bit and cjson tables (made read-only
# by the sandbox with the other libraries), cjson.null and a test for it.
SETUP = r"""
local bitfns = ...
local bit = {}
for name, f in pairs(bitfns) do bit[name] = f end

local cjson = {}
local null = newproxy(false)
cjson.null = null
-- encode and decode are set from Python (Libraries): C functions to Lua, as in Redis.
return bit, cjson, null, function(v) return v == null end
"""


def _tobit(v, name: str, pos: int) -> int:
    """LuaBitOp's argument: a number (or numeric string) as a signed 32-bit integer."""
    t = type(v)
    if t is bytes:
        try:
            v = float(v)
        except ValueError:
            v = None
        t = float
    if v is None or (t is not int and t is not float) or t is bool:
        got = "no value" if v is None else {bytes: "string", bool: "boolean"}.get(t, "table")
        raise LuaArgError(f"bad argument #{pos} to '{name}' (number expected, got {got})")
    if t is float:
        if math.isnan(v) or math.isinf(v):
            return 0
        v = round(v)  # (the 2^52+2^51 trick rounds half to even, as round does)
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


class LuaArgError(Exception):
    """A library function refused its arguments (raised into Lua as an error)."""


def _signed(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _fold(name: str, op: Callable[[int, int], int]) -> Callable:
    def f(*args):
        acc = _tobit(args[0] if args else None, name, 1)
        for i, a in enumerate(args[1:], 2):
            acc = op(acc, _tobit(a, name, i))
        return _signed(acc)
    return f


def _shift(name: str, op: Callable[[int, int], int]) -> Callable:
    def f(*args):
        x = _tobit(args[0] if args else None, name, 1)
        n = _tobit(args[1] if len(args) > 1 else None, name, 2) & 31
        return _signed(op(x & 0xFFFFFFFF, n))
    return f


def _tohex(*args):
    x = _tobit(args[0] if args else None, "tohex", 1)
    n = _tobit(args[1], "tohex", 2) if len(args) > 1 and args[1] is not None else 8
    digits = "0123456789abcdef"
    if n < 0:
        n, digits = -n, "0123456789ABCDEF"
    n = min(n, 8)
    x &= 0xFFFFFFFF
    return "".join(digits[(x >> (4 * i)) & 15] for i in range(n - 1, -1, -1)).encode()


def _bswap(*args):
    x = _tobit(args[0] if args else None, "bswap", 1) & 0xFFFFFFFF
    return _signed(int.from_bytes(x.to_bytes(4, "little"), "big"))


BIT_FUNCTIONS = {
    b"tobit": lambda *a: _tobit(a[0] if a else None, "tobit", 1),
    b"bnot": lambda *a: _signed(~_tobit(a[0] if a else None, "bnot", 1)),
    b"band": _fold("band", lambda a, b: a & b),
    b"bor": _fold("bor", lambda a, b: a | b),
    b"bxor": _fold("bxor", lambda a, b: a ^ b),
    b"lshift": _shift("lshift", lambda x, n: x << n),
    b"rshift": _shift("rshift", lambda x, n: x >> n),
    b"arshift": _shift("arshift", lambda x, n: _signed(x) >> n),
    b"rol": _shift("rol", lambda x, n: (x << n) | (x >> (32 - n)) if n else x),
    b"ror": _shift("ror", lambda x, n: (x >> n) | (x << (32 - n)) if n else x),
    b"bswap": _bswap,
    b"tohex": _tohex,
}


class Libraries:
    """bit and cjson for one interpreter."""

    def __init__(self, lua) -> None:
        self.lua = lua
        self.bit, self.cjson, self.null, self._is_null = lua.execute(SETUP, lua.table_from(BIT_FUNCTIONS))
        self.cjson[b"encode"] = self.encode
        self.cjson[b"decode"] = lambda *args: json_decode(lua, args, self.null)

    def encode(self, *args) -> bytes:
        """cjson.encode (lua-cjson's defaults: 14 significant digits, no NaN
        or Inf, nesting up to 1000, sparse arrays refused)."""
        if len(args) != 1:
            raise LuaArgError("bad argument #1 to 'encode' (expected 1 argument)")
        out: list[bytes] = []
        self._encode(args[0], 0, out)
        return b"".join(out)

    def _encode(self, v, depth: int, out: list[bytes]) -> None:
        t = type(v)
        if t is bytes:
            out.append(_json_string(v))
        elif t is bool:
            out.append(b"true" if v else b"false")
        elif t is int or t is float:
            out.append(_json_number(v))
        elif v is None:
            out.append(b"null")
        else:
            kind = lua51_type(v)
            if kind == "table":
                self._encode_table(v, depth + 1, out)
            elif kind == "userdata" and self._is_null(v):
                out.append(b"null")
            else:
                raise LuaArgError(f"Cannot serialise {kind}: type not supported")

    def _encode_table(self, t, depth: int, out: list[bytes]) -> None:
        if depth > 1000:
            raise LuaArgError(f"Cannot serialise, excessive nesting ({depth})")
        items = list(t.items())
        top = 0
        for k, _ in items:
            if type(k) is int and k > 0:
                top = max(top, k)
            elif type(k) is float and k > 0 and k == int(k):
                top = max(top, int(k))
            else:
                top = -1
                break
        if top > 10 and top > 2 * len(items):
            raise LuaArgError("Cannot serialise table: excessively sparse array")
        if top > 0:
            out.append(b"[")
            for i in range(1, top + 1):
                if i > 1:
                    out.append(b",")
                self._encode(t[i], depth, out)
            out.append(b"]")
            return
        out.append(b"{")
        for n, (k, x) in enumerate(items):
            if type(k) is bytes:
                key = _json_string(k)
            elif type(k) in (int, float):
                key = b'"' + _json_number(k) + b'"'
            else:
                raise LuaArgError("Cannot serialise table: table key must be a number or string")
            if n:
                out.append(b",")
            out.append(key + b":")
            self._encode(x, depth, out)
        out.append(b"}")


_ESCAPES = {i: b"\\u%04x" % i for i in range(32)}
_ESCAPES.update({8: b"\\b", 9: b"\\t", 10: b"\\n", 12: b"\\f", 13: b"\\r", 34: b'\\"', 47: b"\\/",
                 92: b"\\\\", 127: b"\\u007f"})
_ESCAPED = re.compile(rb'[\x00-\x1f"\\/\x7f]')


def _json_string(s: bytes) -> bytes:
    return b'"' + _ESCAPED.sub(lambda m: _ESCAPES[m.group()[0]], s) + b'"'


def _json_number(v) -> bytes:
    if type(v) is float and (math.isnan(v) or math.isinf(v)):
        raise LuaArgError("Cannot serialise number: must not be NaN or Inf")
    return b"%.14g" % v


def json_decode(lua, args: tuple, null) -> object:
    """cjson.decode: JSON text as Lua values (objects and arrays as tables,
    null as cjson.null). LuaArgError for text that is not JSON."""
    if len(args) != 1:
        raise LuaArgError("bad argument #1 to 'decode' (expected 1 argument)")
    text = args[0]
    if type(text) is not bytes:
        if type(text) in (int, float):
            text = b"%.14g" % text
        else:
            raise LuaArgError("bad argument #1 to 'decode' (string expected, got "
                              f"{'nil' if text is None else 'table'})")
    try:
        value = json.loads(text.decode("utf-8", "surrogateescape"), parse_int=float)
    except (json.JSONDecodeError, RecursionError) as e:
        pos = getattr(e, "pos", 0) + 1
        raise LuaArgError(f"Expected value but found invalid token at character {pos}") from None
    return _to_lua(lua, value, null)


def _to_lua(lua, v, null):
    t = type(v)
    if t is str:
        return v.encode("utf-8", "surrogateescape")
    if t is list:
        table = lua.table()
        for i, x in enumerate(v, 1):
            table[i] = _to_lua(lua, x, null)
        return table
    if t is dict:
        table = lua.table()
        for k, x in v.items():
            table[k.encode("utf-8", "surrogateescape")] = _to_lua(lua, x, null)
        return table
    if v is None:
        return null
    return v
