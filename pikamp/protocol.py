"""Client request parsing: RESP multibulk through hiredis, with a Python
fallback that handles what hiredis cannot judge the Redis way: inline
commands, partial requests (to check lengths before buffering them) and
malformed input, answered with Redis's own protocol error texts."""
from __future__ import annotations

import hiredis

INLINE_MAX = 64 * 1024  # PROTO_INLINE_MAX_SIZE
MBULK_BIG_ARG = 32 * 1024
INT_MAX = 2**31 - 1


class ProtocolError(Exception):
    """Malformed request; the message is what Redis sends before closing."""


def _encoded_size(args: list) -> int:
    n = len(b"*%d\r\n" % len(args))
    for a in args:
        n += len(a) + len(b"%d" % len(a)) + 5
    return n


def split_inline(line: bytes) -> list[bytes]:
    """Split an inline command like Redis's sdssplitargs (quotes, escapes)."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    raise ProtocolError("unbalanced quotes in request")
                c = line[i]
                if (
                    c == 0x5C
                    and i + 3 < n
                    and line[i + 1] == 0x78
                    and _ishex(line[i + 2])
                    and _ishex(line[i + 3])
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur.append({0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x61: 7}.get(line[i], line[i]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        raise ProtocolError("unbalanced quotes in request")
                    inq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    raise ProtocolError("unbalanced quotes in request")
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        raise ProtocolError("unbalanced quotes in request")
                    insq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t\0":
                    break
                if c == 0x22 and not cur:
                    inq = True
                elif c == 0x27 and not cur:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


def _ishex(c: int) -> bool:
    return c in b"0123456789abcdefABCDEF"


class RequestParser:
    """Feed bytes, get complete commands (lists of bytes).

    Fast path: hiredis parses whole well-formed requests. When a read ends in
    the middle of a request, or hiredis meets something it should not accept,
    the remaining bytes go to the Python parser (slow path) until the buffer is
    at a request boundary again.
    """

    __slots__ = ("reader", "buf", "max_bulk", "_need")

    def __init__(self, max_bulk: int = 512 * 1024 * 1024) -> None:
        self.reader = hiredis.Reader()
        self.buf: bytearray | None = None  # slow path active when not None
        self.max_bulk = max_bulk
        self._need = 0  # bytes the slow path waits for before parsing again

    def feed(self, data: bytes) -> list[list[bytes]]:
        """Parse ``data``; returns complete commands. Raises ProtocolError
        (after the commands before the bad one were returned via ``.partial``)."""
        if self.buf is not None:
            self.buf += data
            if len(self.buf) < self._need:
                return []
            return self._slow([])
        if data[0] != 42:  # not '*': inline command
            self.buf = bytearray(data)
            return self._slow([])
        reader = self.reader
        reader.feed(data)
        out: list[list[bytes]] = []
        try:
            while True:
                cmd = reader.gets()
                if cmd is False:
                    break
                if type(cmd) is list and cmd and all(type(a) is bytes for a in cmd):
                    out.append(cmd)
                elif cmd == [] or cmd is None:
                    continue  # "*0" / "*-1": Redis skips them
                else:
                    return self._divert(data, out)
        except hiredis.ProtocolError:
            return self._divert(data, out)
        if reader.has_data():
            return self._divert(data, out)
        return out

    def _divert(self, data: bytes, done: list[list[bytes]]) -> list[list[bytes]]:
        """Switch to the slow path at the first request hiredis did not finish."""
        consumed = sum(_encoded_size(c) for c in done)
        self.reader = hiredis.Reader()
        self.buf = bytearray(data[consumed:])
        return self._slow(done)

    def _slow(self, out: list[list[bytes]]) -> list[list[bytes]]:
        buf = self.buf
        assert buf is not None
        pos = 0
        n = len(buf)
        self._need = 0
        try:
            while pos < n:
                if buf[pos] == 42:
                    cmd, newpos = self._multibulk(buf, pos)
                else:
                    cmd, newpos = self._inline(buf, pos)
                if newpos < 0:
                    break
                pos = newpos
                if cmd:
                    out.append(cmd)
        except ProtocolError as e:
            e.partial = out  # type: ignore[attr-defined]
            self.buf = None
            raise
        if pos >= n:
            self.buf = None  # back to the fast path
        else:
            del buf[:pos]
        return out

    def _inline(self, buf: bytearray, pos: int) -> tuple[list[bytes] | None, int]:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if len(buf) - pos > INLINE_MAX:
                raise ProtocolError("too big inline request")
            return None, -1
        line = bytes(buf[pos:nl])
        if line.endswith(b"\r"):
            line = line[:-1]
        return split_inline(line), nl + 1

    def _multibulk(self, buf: bytearray, pos: int) -> tuple[list[bytes] | None, int]:
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            if len(buf) - pos > INLINE_MAX:
                raise ProtocolError("too big mbulk count string")
            return None, -1
        count = _parse_int(buf[pos + 1 : nl])
        if count is None or count > INT_MAX:
            raise ProtocolError("invalid multibulk length")
        p = nl + 2
        if count <= 0:
            return None, p
        args: list[bytes] = []
        for _ in range(count):
            if p >= len(buf):
                return None, -1
            if buf[p] != 36:
                ch = chr(buf[p])
                raise ProtocolError(f"expected '$', got '{ch}'")
            nl = buf.find(b"\r\n", p)
            if nl < 0:
                if len(buf) - p > INLINE_MAX:
                    raise ProtocolError("too big bulk count string")
                return None, -1
            ln = _parse_int(buf[p + 1 : nl])
            if ln is None or ln < 0 or ln > self.max_bulk:
                raise ProtocolError("invalid bulk length")
            start = nl + 2
            end = start + ln
            if end + 2 > len(buf):
                self._need = end + 2 - pos  # relative to the request start
                return None, -1
            args.append(bytes(buf[start:end]))
            p = end + 2
        return args, p


def _parse_int(b: bytes | bytearray) -> int | None:
    """Redis string2ll: optional '-', digits, no leading '+', spaces or zeros."""
    if not b or len(b) > 20:
        return None
    s = bytes(b)
    digits = s[1:] if s[:1] == b"-" else s
    if not digits.isdigit() or (len(digits) > 1 and digits[:1] == b"0"):
        return None
    return int(s)
