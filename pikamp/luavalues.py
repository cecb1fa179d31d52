"""Values between Redis replies and Lua, by Redis' rules (script_lua.c):
a command's encoded reply as Lua values (RESP2, or RESP3 after
redis.setresp(3)), a script's result as a reply in the caller's protocol,
and redis.call's arguments as a command line."""
from __future__ import annotations

import math

from lupa.lua51 import lua_type

from pikamp.resp import format_double

_LLONG_MIN = -(1 << 63)
_MAX_DEPTH = 1000  # nested tables in a reply (Redis: "reached lua stack limit")


class Converter:
    """Conversions for one interpreter (they make its tables)."""

    def __init__(self, lua) -> None:
        self.lua = lua
        self.table_from = lua.table_from

    def error_table(self, msg: bytes):
        """{err = msg}: an error reply as Lua sees it."""
        return self.table_from({b"err": msg})

    def to_lua(self, buf: bytes, pos: int) -> tuple[object, int]:
        """The reply at ``buf[pos:]`` as Lua values (Redis' rules); and where it ends."""
        kind = buf[pos]
        end = buf.index(b"\r\n", pos)
        line = buf[pos + 1:end]
        pos = end + 2
        if kind == 36:  # $ bulk
            n = int(line)
            if n < 0:
                return False, pos
            return buf[pos:pos + n], pos + n + 2
        if kind == 58:  # : integer
            return int(line), pos
        if kind == 43:  # + status
            return self.table_from({b"ok": line}), pos
        if kind == 45:  # - error
            return self.error_table(line if b" " in line else b"ERR " + line), pos
        if kind == 42 or kind == 62 or kind == 126:  # * array, > push, ~ set
            n = int(line)
            if n < 0:
                return False, pos
            items = []
            for _ in range(n):
                v, pos = self.to_lua(buf, pos)
                items.append(v)
            if kind == 126:
                members = self.lua.table()
                for v in items:
                    if v is not None:
                        members[v] = True
                return self.table_from({b"set": members}), pos
            t = self.lua.table()
            for i, v in enumerate(items, 1):
                if v is not None:
                    t[i] = v
            return t, pos
        if kind == 37:  # % map
            m = self.lua.table()
            for _ in range(int(line)):
                k, pos = self.to_lua(buf, pos)
                v, pos = self.to_lua(buf, pos)
                if k is not None:
                    m[k] = v
            return self.table_from({b"map": m}), pos
        if kind == 95:  # _ null
            return None, pos
        if kind == 35:  # # boolean
            return line == b"t", pos
        if kind == 44:  # , double
            return self.table_from({b"double": float(line)}), pos
        if kind == 40:  # ( big number
            return self.table_from({b"big_number": line}), pos
        if kind == 61:  # = verbatim
            n = int(line)
            text = buf[pos:pos + n]
            return self.table_from({b"verbatim_string": self.table_from({b"format": text[:3], b"string": text[4:]})}), \
                pos + n + 2
        if kind == 124:  # | attribute: skipped, then the reply it is attached to
            for _ in range(2 * int(line)):
                _, pos = self.to_lua(buf, pos)
            return self.to_lua(buf, pos)
        raise ValueError(f"unexpected reply type {chr(kind)!r}")

    def to_reply(self, v, resp3: bool, script_resp: int, depth: int = 0) -> bytes:
        """A Lua value returned by a script as a reply (luaReplyToRedisReply)."""
        t = type(v)
        if t is bytes:
            return b"$%d\r\n%b\r\n" % (len(v), v)
        if t is bool:
            if script_resp == 2:
                return b":1\r\n" if v else (b"_\r\n" if resp3 else b"$-1\r\n")
            if resp3:
                return b"#t\r\n" if v else b"#f\r\n"
            return b":1\r\n" if v else b":0\r\n"
        if t is int or t is float:
            return b":%d\r\n" % to_long_long(v)
        if v is None or lua_type(v) != "table":
            return b"_\r\n" if resp3 else b"$-1\r\n"
        if depth > _MAX_DEPTH:
            return b"-ERR reached lua stack limit\r\n"
        err = v[b"err"]
        if type(err) is bytes:
            return error_line(err)
        ok = v[b"ok"]
        if type(ok) is bytes:
            return b"+%b\r\n" % ok.replace(b"\r", b" ").replace(b"\n", b" ")
        d = v[b"double"]
        if type(d) is int or type(d) is float:
            text = format_double(float(d))
            return b",%b\r\n" % text if resp3 else b"$%d\r\n%b\r\n" % (len(text), text)
        big = v[b"big_number"]
        if type(big) is bytes:
            big = big.replace(b"\r", b" ").replace(b"\n", b" ")
            return b"(%b\r\n" % big if resp3 else b"$%d\r\n%b\r\n" % (len(big), big)
        verbatim = v[b"verbatim_string"]
        if verbatim is not None and lua_type(verbatim) == "table":
            fmt, text = verbatim[b"format"], verbatim[b"string"]
            if type(fmt) is bytes and type(text) is bytes:
                if resp3:
                    return b"=%d\r\n%b:%b\r\n" % (len(text) + 4, fmt[:3], text)
                return b"$%d\r\n%b\r\n" % (len(text), text)
        depth += 1
        m = v[b"map"]
        if m is not None and lua_type(m) == "table":
            parts = [self.to_reply(k, resp3, script_resp, depth) + self.to_reply(x, resp3, script_resp, depth)
                     for k, x in m.items()]
            head = b"%%%d\r\n" % len(parts) if resp3 else b"*%d\r\n" % (2 * len(parts))
            return head + b"".join(parts)
        s = v[b"set"]
        if s is not None and lua_type(s) == "table":
            parts = [self.to_reply(k, resp3, script_resp, depth) for k in s.keys()]
            return (b"~%d\r\n" if resp3 else b"*%d\r\n") % len(parts) + b"".join(parts)
        parts = []
        i = 1
        while (x := v[i]) is not None:
            parts.append(self.to_reply(x, resp3, script_resp, depth))
            i += 1
        return b"*%d\r\n" % len(parts) + b"".join(parts)


def arguments(args: tuple) -> list[bytes] | None:
    """redis.call's arguments as a command line (numbers as Redis prints them
    with %.17g); None if one is neither a string nor a number."""
    argv = []
    for a in args:
        t = type(a)
        if t is bytes:
            argv.append(a)
        elif t is int:
            argv.append(b"%d" % a)
        elif t is float:
            argv.append(_g17(a))
        else:
            return None
    return argv


def lua_string(v) -> bytes | None:
    """lua_tolstring: a string, a number as Lua prints it (%.14g), else None."""
    t = type(v)
    if t is bytes:
        return v
    if t is int or t is float:
        return b"%.14g" % v
    return None


def lua_number(v) -> float | int | None:
    """lua_tonumber where lua_isnumber holds (numbers, numeric strings), else None."""
    t = type(v)
    if t is int or t is float:
        return v
    if t is bytes:
        try:
            return float(v.strip()) if not v.strip().lower().startswith(b"0x") else int(v.strip(), 16)
        except ValueError:
            return None
    return None


def _g17(d: float) -> bytes:
    if math.isinf(d):
        return b"inf" if d > 0 else b"-inf"
    if math.isnan(d):
        return b"nan" if math.copysign(1.0, d) > 0 else b"-nan"
    return b"%.17g" % d


def to_long_long(v) -> int:
    """(long long) of a Lua number, as C converts it on x86 (out of range: LLONG_MIN)."""
    if type(v) is int:
        return v if _LLONG_MIN <= v < -_LLONG_MIN else _LLONG_MIN
    if math.isnan(v) or math.isinf(v) or not (-9.223372036854775808e18 <= v < 9.223372036854775808e18):
        return _LLONG_MIN
    return int(v)


def error_line(msg: bytes) -> bytes:
    """An error reply of ``msg`` (no newline inside: Redis maps them to spaces)."""
    msg = msg.strip(b"\r\n").replace(b"\r", b" ").replace(b"\n", b" ")
    return b"-%b\r\n" % msg
