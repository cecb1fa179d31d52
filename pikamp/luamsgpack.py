"""``cmsgpack`` for scripts, as Redis bundles it (lua-cmsgpack 0.4.0):
pack(...), unpack(s), unpack_one(s [, offset]), unpack_limit(s, limit [, offset]).

Encoding follows lua-cmsgpack: a number that is an int64 is the smallest
integer form, another one a float32 when that is exact, else a float64;
strings are fixstr / str8 / str16 / str32; a table whose keys are exactly
1..n is an array, any other a map; tables nested deeper than 16 and values
of other types (functions ...) are nil.
"""
from __future__ import annotations

import math
import struct

from lupa.lua51 import lua_type

from pikamp.lualibs import LuaArgError

MAX_NESTING = 16
VERSION = b"lua-cmsgpack 0.4.0"


class Msgpack:
    """The cmsgpack functions of one interpreter."""

    def __init__(self, lua) -> None:
        self.lua = lua

    def table(self):
        t = self.lua.table()
        for name, fn in ((b"pack", self.pack), (b"unpack", self.unpack), (b"unpack_one", self.unpack_one),
                         (b"unpack_limit", self.unpack_limit)):
            t[name] = fn
        t[b"_VERSION"] = VERSION
        t[b"_COPYRIGHT"] = b"Copyright (C) 2012, Salvatore Sanfilippo"
        t[b"_DESCRIPTION"] = b"MessagePack C implementation for Lua"
        return t

    # -- pack ------------------------------------------------------------------
    def pack(self, *args) -> bytes:
        if not args:
            raise LuaArgError("bad argument #0 to 'pack' (MessagePack pack needs input.)")
        out: list[bytes] = []
        for v in args:
            self._encode(v, 0, out)
        return b"".join(out)

    def _encode(self, v, level: int, out: list[bytes]) -> None:
        t = type(v)
        if t is bytes:
            out.append(_bytes_head(len(v)) + v)
        elif t is bool:
            out.append(b"\xc3" if v else b"\xc2")
        elif t is int or t is float:
            _number(v, out)
        elif v is not None and lua_type(v) == "table" and level < MAX_NESTING:
            self._table(v, level, out)
        else:
            out.append(b"\xc0")

    def _table(self, t, level: int, out: list[bytes]) -> None:
        items = list(t.items())
        count, top = 0, 0
        array = True
        for k, _ in items:
            if type(k) not in (int, float) or k != int(k) or k < 1:
                array = False
                break
            count += 1
            top = int(k)
        if array and top == count:
            out.append(_head(count, 0x90, 0xdc))
            for i in range(1, count + 1):
                self._encode(t[i], level + 1, out)
            return
        out.append(_head(len(items), 0x80, 0xde))
        for k, v in items:
            self._encode(k, level + 1, out)
            self._encode(v, level + 1, out)

    # -- unpack ----------------------------------------------------------------
    def unpack(self, *args):
        return self._unpack(args, 0, 0, "unpack")

    def unpack_one(self, *args):
        offset = _int_arg(args, 1, 0)
        return self._unpack(args[:1], 1, offset, "unpack_one")

    def unpack_limit(self, *args):
        limit = _int_arg(args, 1, 0)
        offset = _int_arg(args, 2, 0)
        return self._unpack(args[:1], limit, offset, "unpack_limit")

    def _unpack(self, args: tuple, limit: int, offset: int, name: str):
        data = args[0] if args else None
        if type(data) in (int, float):
            data = b"%.14g" % data
        if type(data) is not bytes:
            raise LuaArgError("MessagePack decoding needs a string as input.")
        if offset < 0 or limit < 0:
            raise LuaArgError(f"Invalid request to unpack with offset of {offset} and limit of {limit}.")
        if offset > len(data):
            raise LuaArgError(f"Start offset {offset} greater than input length {len(data)}.")
        everything = limit == 0 and offset == 0
        values = []
        pos = offset
        while pos < len(data) and (everything or len(values) < limit):
            v, pos = self._decode(data, pos)
            values.append(v)
        if everything:
            return tuple(values)
        return (-1 if pos >= len(data) else pos, *values)

    def _decode(self, d: bytes, pos: int):
        b = _need(d, pos, 1)[0]
        if b < 0x80:
            return b, pos + 1
        if b >= 0xe0:
            return b - 256, pos + 1
        if 0xa0 <= b <= 0xbf:
            return _take(d, pos + 1, b & 0x1f)
        if 0x90 <= b <= 0x9f:
            return self._array(d, pos + 1, b & 0xf)
        if 0x80 <= b <= 0x8f:
            return self._map(d, pos + 1, b & 0xf)
        fixed = _FIXED.get(b)
        if fixed is not None:
            fmt, size = fixed
            return struct.unpack(fmt, _need(d, pos + 1, size))[0], pos + 1 + size
        if b == 0xc0:
            return None, pos + 1
        if b == 0xc2 or b == 0xc3:
            return b == 0xc3, pos + 1
        sized = _SIZED.get(b)
        if sized is None:
            raise LuaArgError("Bad data format in input.")
        kind, width = sized
        n = int.from_bytes(_need(d, pos + 1, width), "big")
        pos += 1 + width
        if kind == "raw":
            return _take(d, pos, n)
        return (self._array if kind == "array" else self._map)(d, pos, n)

    def _array(self, d: bytes, pos: int, n: int):
        t = self.lua.table()
        for i in range(1, n + 1):
            v, pos = self._decode(d, pos)
            if v is not None:
                t[i] = v
        return t, pos

    def _map(self, d: bytes, pos: int, n: int):
        t = self.lua.table()
        for _ in range(n):
            k, pos = self._decode(d, pos)
            v, pos = self._decode(d, pos)
            if k is not None and not (type(k) is float and math.isnan(k)):
                t[k] = v
        return t, pos


_FIXED = {0xcc: (">B", 1), 0xcd: (">H", 2), 0xce: (">I", 4), 0xcf: (">Q", 8), 0xd0: (">b", 1), 0xd1: (">h", 2),
          0xd2: (">i", 4), 0xd3: (">q", 8), 0xca: (">f", 4), 0xcb: (">d", 8)}
_SIZED = {0xd9: ("raw", 1), 0xda: ("raw", 2), 0xdb: ("raw", 4), 0xdc: ("array", 2), 0xdd: ("array", 4),
          0xde: ("map", 2), 0xdf: ("map", 4)}


def _need(d: bytes, pos: int, n: int) -> bytes:
    if pos + n > len(d):
        raise LuaArgError("Missing bytes in input.")
    return d[pos:pos + n]


def _take(d: bytes, pos: int, n: int) -> tuple[bytes, int]:
    return _need(d, pos, n), pos + n


def _int_arg(args: tuple, i: int, default: int) -> int:
    v = args[i] if len(args) > i else None
    if v is None:
        return default
    if type(v) is bytes:
        try:
            v = float(v)
        except ValueError:
            v = 0
    return int(v) if type(v) in (int, float) and not (math.isnan(v) or math.isinf(v)) else 0


def _bytes_head(n: int) -> bytes:
    if n < 32:
        return bytes((0xa0 | n,))
    if n <= 0xff:
        return b"\xd9" + bytes((n,))
    if n <= 0xffff:
        return b"\xda" + n.to_bytes(2, "big")
    return b"\xdb" + n.to_bytes(4, "big")


def _head(n: int, fix: int, sized: int) -> bytes:
    """An array (fix 0x90, 0xdc/0xdd) or map (fix 0x80, 0xde/0xdf) header."""
    if n <= 15:
        return bytes((fix | n,))
    if n <= 0xffff:
        return bytes((sized,)) + n.to_bytes(2, "big")
    return bytes((sized + 1,)) + n.to_bytes(4, "big")


def _number(v, out: list[bytes]) -> None:
    if type(v) is int or (not math.isinf(v) and not math.isnan(v) and -2**63 <= v < 2**63 and v == int(v)):
        n = int(v)
        if -2**63 <= n < 2**63:
            out.append(_integer(n))
            return
        v = float(n)
    f32 = struct.unpack(">f", struct.pack(">f", v))[0] if abs(v) < 3.5e38 or math.isinf(v) else None
    if f32 is not None and (f32 == v or (math.isinf(v) and math.isinf(f32))):
        out.append(b"\xca" + struct.pack(">f", v))
    else:
        out.append(b"\xcb" + struct.pack(">d", v))


def _integer(n: int) -> bytes:
    if n >= 0:
        if n <= 127:
            return bytes((n,))
        if n <= 0xff:
            return b"\xcc" + bytes((n,))
        if n <= 0xffff:
            return b"\xcd" + n.to_bytes(2, "big")
        if n <= 0xffffffff:
            return b"\xce" + n.to_bytes(4, "big")
        return b"\xcf" + n.to_bytes(8, "big")
    if n >= -32:
        return bytes((n & 0xff,))
    if n >= -128:
        return b"\xd0" + n.to_bytes(1, "big", signed=True)
    if n >= -32768:
        return b"\xd1" + n.to_bytes(2, "big", signed=True)
    if n >= -2147483648:
        return b"\xd2" + n.to_bytes(4, "big", signed=True)
    return b"\xd3" + n.to_bytes(8, "big", signed=True)


class Struct:
    """``struct`` for scripts, as Redis bundles it (Roberto Ierusalimschy's
    struct library): pack(fmt, ...), unpack(fmt, s [, pos]), size(fmt)."""

    def __init__(self, lua) -> None:
        self.lua = lua

    def table(self):
        t = self.lua.table()
        t[b"pack"], t[b"unpack"], t[b"size"] = self.pack, self.unpack, self.size
        return t

    def pack(self, *args) -> bytes:
        fmt = _format_arg(args, "pack")
        out = bytearray()
        arg = 1
        for opt, size, little, align in _options(fmt, "pack"):
            out += b"\0" * _pad(len(out), opt, size, align)
            if opt in _INTS:
                n = _number_arg(args, arg, "pack")
                arg += 1
                value = int(n) & ((1 << 64) - 1)  # (Uinttype)(Itype)n: two's complement in 64 bits
                raw = (value & ((1 << (8 * size)) - 1) if size <= 8 else value).to_bytes(size, "little")
                out += raw if little else raw[::-1]
            elif opt == "x":
                out += b"\0"
            elif opt in "fd":
                n = _number_arg(args, arg, "pack")
                arg += 1
                out += struct.pack(("<" if little else ">") + opt, n)
            else:  # c, s
                s = args[arg] if len(args) > arg else None
                if type(s) in (int, float):
                    s = b"%.14g" % s
                if type(s) is not bytes:
                    raise LuaArgError(f"bad argument #{arg + 1} to 'pack' (string expected, got "
                                      f"{_lua_type_name(s)})")
                n = size if size else len(s)
                if len(s) < n:  # (struct.c names the argument after it)
                    raise LuaArgError(f"bad argument #{arg + 2} to 'pack' (string too short)")
                out += s[:n] + (b"\0" if opt == "s" else b"")
                arg += 1
        return bytes(out)

    def unpack(self, *args):
        fmt = _format_arg(args, "unpack")
        data = args[1] if len(args) > 1 else None
        if type(data) in (int, float):
            data = b"%.14g" % data
        if type(data) is not bytes:
            raise LuaArgError(f"bad argument #2 to 'unpack' (string expected, got {_lua_type_name(data)})")
        pos = int(args[2]) - 1 if len(args) > 2 and type(args[2]) in (int, float) else 0
        if not 0 <= pos <= len(data):
            raise LuaArgError("bad argument #3 to 'unpack' (offset must be 1 <= offset <= len)")
        values: list = []
        for opt, size, little, align in _options(fmt, "unpack"):
            pos += _pad(pos, opt, size, align)
            if pos + size > len(data):
                raise LuaArgError("bad argument #2 to 'unpack' (data string too short)")
            if opt in _INTS:
                raw = data[pos:pos + size]
                res = int.from_bytes(raw if little else raw[::-1], "little") & ((1 << 64) - 1)
                if opt.islower() and size <= 8:
                    mask = 1 << (size * 8 - 1)
                    res = ((res ^ mask) - mask)
                elif opt.islower() and res >= 1 << 63:
                    res -= 1 << 64
                values.append(res)
            elif opt in "fd":
                values.append(struct.unpack(("<" if little else ">") + opt, data[pos:pos + size])[0])
            elif opt == "c":
                if size == 0:
                    if not values or type(values[-1]) not in (int, float):
                        raise LuaArgError("format 'c0' needs a previous size")
                    size = int(values.pop())
                    if size > len(data) or pos > len(data) - size:
                        raise LuaArgError("bad argument #2 to 'unpack' (data string too short)")
                values.append(data[pos:pos + size])
            elif opt == "s":
                end = data.find(b"\0", pos)
                if end < 0:
                    raise LuaArgError("unfinished string in data")
                values.append(data[pos:end])
                size = end - pos + 1
            pos += size
        return (*values, pos + 1)

    def size(self, *args) -> int:
        fmt = _format_arg(args, "size")
        total = 0
        for opt, size, _, align in _options(fmt, "size"):
            if opt == "s" or (opt == "c" and size == 0):
                raise LuaArgError(f"bad argument #1 to 'size' (option '{'s' if opt == 's' else 'c0'}' has no "
                                  "fixed size)")
            total += _pad(total, opt, size, align) + size
        return total


_INTS = "bBhHlLTiI"
_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
_MAX_INT_SIZE = 32
_MAX_ALIGN = 8


def _format_arg(args: tuple, name: str) -> str:
    fmt = args[0] if args else None
    if type(fmt) in (int, float):
        fmt = b"%.14g" % fmt
    if type(fmt) is not bytes:
        raise LuaArgError(f"bad argument #1 to '{name}' (string expected, got {_lua_type_name(fmt)})")
    return fmt.decode("latin-1")


def _number_arg(args: tuple, i: int, name: str):
    v = args[i] if len(args) > i else None
    if type(v) is bytes:
        try:
            v = float(v)
        except ValueError:
            pass
    if type(v) not in (int, float) or type(v) is bool:
        raise LuaArgError(f"bad argument #{i + 1} to '{name}' (number expected, got {_lua_type_name(v)})")
    return v


def _lua_type_name(v) -> str:
    if v is None:
        return "nil"
    return {bytes: "string", bool: "boolean", int: "number", float: "number"}.get(type(v)) or lua_type(v)


def _options(fmt: str, name: str):
    """(option, size, little endian, max alignment) for each data option of a format."""
    little, align = True, 1
    i, n = 0, len(fmt)

    def number(default: int) -> int:
        nonlocal i
        j = i
        while j < n and fmt[j].isdigit():
            j += 1
        if j == i:
            return default
        v, i = int(fmt[i:j]), j
        return v

    while i < n:
        opt = fmt[i]
        i += 1
        if opt in _SIZES:
            yield opt, _SIZES[opt], little, align
        elif opt in "iI":
            size = number(4)
            if size > _MAX_INT_SIZE:
                raise LuaArgError(f"integral size {size} is larger than limit of {_MAX_INT_SIZE}")
            yield opt, size, little, align
        elif opt == "c":
            yield opt, number(1), little, align
        elif opt == "s":
            yield opt, 0, little, align
        elif opt == " ":
            continue
        elif opt in "<>":
            little = opt == "<"
        elif opt == "!":
            a = number(_MAX_ALIGN)
            if a & (a - 1):
                raise LuaArgError(f"alignment {a} is not a power of 2")
            align = a
        else:
            raise LuaArgError(f"bad argument #1 to '{name}' (invalid format option '{opt}')")


def _pad(length: int, opt: str, size: int, align: int) -> int:
    """Bytes of padding before an option (gettoalign)."""
    if size == 0 or opt == "c":
        return 0
    size = min(size, align)
    return (size - (length & (size - 1))) & (size - 1)
