"""Client request parsing, exactly as Redis 7.0 reads its query buffer.

Two parsers share the work:

- the fast path hands a whole read to hiredis. hiredis is lenient where Redis
  is strict (it accepts RESP3 types, ``+status`` elements, counts above
  INT_MAX, bulks above proto-max-bulk-len) and cannot say whether it stopped
  in the middle of a request, so its result is only trusted when the read is
  a run of canonical ``*N $len`` requests that ends on a request boundary;
- everything else goes to a Python port of Redis's processInlineBuffer /
  processMultibulkBuffer (slow path): inline commands, malformed input with
  Redis's own protocol error texts, and the one request that a read boundary
  splits. Once that request is complete, the rest of the read goes back to
  hiredis, so a long pipeline split across many reads stays on the fast path.
"""
from __future__ import annotations

import re
from itertools import chain

import hiredis

INLINE_MAX = 64 * 1024  # PROTO_INLINE_MAX_SIZE
INT_MAX = 2**31 - 1
_LLONG_MAX = 2**63 - 1

# hiredis allocates an aggregate's whole list when it reads the count (Redis
# grows argv as the arguments arrive): "*2147483647" would cost 16 GB of
# address space and seconds of CPU to free. hiredis never sees such a read;
# in a well-formed pipeline these bytes only occur inside values.
_BIG_COUNT = re.compile(rb"[*~>%|]\d{7}")
# hiredis is lenient where Redis is strict: it takes a line starting with
# +status, (bignum or =verbatim for a string, and ~set or |attribute for an
# array. After such a line, what hiredis made of a read is checked byte by byte.
_LENIENT_LINE = re.compile(rb"\n[~|+(=]")


_SPACE = b" \t\n\r\v\f"  # C isspace()
_HEX = b"0123456789abcdefABCDEF"
_ESCAPES = {0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07}  # \n \r \t \b \a


class ProtocolError(Exception):
    """Malformed request; the message is what Redis sends (after "ERR Protocol
    error: ") before closing. ``partial`` holds the complete commands that
    preceded the bad one in the same read; they run before the error reply."""

    partial: list[list[bytes]]


class _Unbalanced(ProtocolError):
    def __init__(self) -> None:
        super().__init__("unbalanced quotes in request")


def split_inline(line: bytes) -> list[bytes]:
    """Split an inline command line like Redis's sdssplitargs (quotes, escapes)."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = done = False
        while not done:
            c = line[i] if i < n else 0
            if inq:
                if c == 0x5C and i + 3 < n and line[i + 1] == 0x78 and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        raise _Unbalanced()  # a closing quote must end the argument
                    done = True
                elif i >= n:
                    raise _Unbalanced()
                else:
                    cur.append(c)
            elif insq:
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        raise _Unbalanced()
                    done = True
                elif i >= n:
                    raise _Unbalanced()
                else:
                    cur.append(c)
            elif i >= n or c in b" \n\r\t":
                done = True
            elif c == 0x22:
                inq = True
            elif c == 0x27:
                insq = True
            else:
                cur.append(c)
            if i < n:
                i += 1
        args.append(bytes(cur))


def _string2ll(b: bytes | bytearray) -> int | None:
    """Redis string2ll: optional '-', digits, no '+', spaces or leading zeros; 64-bit."""
    if not b or len(b) > 20:
        return None
    s = bytes(b)
    if s == b"0":
        return 0
    digits = s[1:] if s[:1] == b"-" else s
    if not digits.isdigit() or digits[:1] == b"0":
        return None
    v = int(s)
    return v if -_LLONG_MAX - 1 <= v <= _LLONG_MAX else None


def _find(buf: bytearray, ch: bytes, pos: int) -> int:
    """``strchr(buf + pos, ch)``: Redis searches C strings, so a NUL byte ends the search."""
    i = buf.find(ch, pos)
    if buf.find(b"\0", pos, i if i >= 0 else len(buf)) >= 0:
        return -1
    return i


def _encode(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join([b"$%d\r\n%b\r\n" % (len(a), a) for a in args])


def _encoded_len(args: list[bytes]) -> int:
    n = 3 + len(str(len(args)))
    for a in args:
        size = len(a)
        n += size + (6 if size < 10 else 7 if size < 100 else 5 + len(str(size)))
    return n


_LIST = {list}
_BYTES = {bytes}


def _whole_requests(data: bytes, cmds: list) -> bool:
    """Whether hiredis read ``data`` as exactly the canonical encoding of
    ``cmds``, all of them commands (non-empty lists of strings), with no
    request left unfinished at the end of the read."""
    last = cmds[-1]
    if len(cmds) == 1:
        return type(last) is list and bool(last) and set(map(type, last)) == _BYTES \
            and len(data) == _encoded_len(last)
    return (
        set(map(type, cmds)) == _LIST
        and all(cmds)
        and set(map(type, chain.from_iterable(cmds))) == _BYTES
        and data.endswith(_encode(last))
        # The tail may look like the last command yet belong to an unfinished
        # request it is nested in (*3 ECHO *1 PING): then the lengths differ.
        and len(data) == sum(map(_encoded_len, cmds))
    )


BIG_BULK = 1 << 20  # bulks from this size on are collected as a list of reads


class RequestParser:
    """Feed the bytes of each read, get the complete commands (lists of bytes)."""

    __slots__ = ("_args", "_bulk", "_bulk_left", "_bulk_size", "_dead", "_left", "_need", "auth_required", "buf",
                 "max_bulk", "reader", "whole")

    def __init__(self, max_bulk: int = 512 * 1024 * 1024) -> None:
        self.reader = hiredis.Reader()
        self.buf: bytearray | None = None  # unparsed bytes of a split request (slow path)
        self.max_bulk = max_bulk
        self._need = 0  # length buf must reach before the split request can be complete
        self._dead = False  # after a protocol error nothing more is read, as in Redis
        self._args: list[bytes] | None = None  # arguments so far of a split multibulk request
        self._left = 0  # arguments that request still lacks
        # A big bulk that spans many reads is kept as the reads themselves and
        # joined once when complete (one copy, not a growing buffer and a slice).
        self._bulk: list[bytes] | None = None
        self._bulk_left = 0  # bytes of that bulk still to come, with its CRLF
        self._bulk_size = 0  # bytes held in _bulk
        # True when the last read was exactly its commands, canonically encoded
        # (so it can be forwarded as it came).
        self.whole = False
        # Before AUTH, Redis refuses requests of more than 10 arguments or
        # bulks over 16 KB; such a client is parsed by the slow path only.
        self.auth_required = False

    def feed(self, data: bytes) -> list[list[bytes]]:
        """Parse one read; returns the commands it completes.

        Raises ProtocolError (with ``.partial``) at the first malformed
        request; the parser then ignores all further input.
        """
        self.whole = False
        if (
            self.buf is not None
            or self.auth_required
            or self._dead
            or not data
            or data[0] != 42  # inline command
            or _BIG_COUNT.search(data)
        ):
            return self._careful(data, [])
        reader = self.reader
        reader.feed(data)
        cmds: list = []
        try:
            cmd = reader.gets()
            while cmd is not False:
                cmds.append(cmd)
                cmd = reader.gets()
        except hiredis.ProtocolError:
            pass
        else:
            if (
                cmds
                and _whole_requests(data, cmds)
                and not _LENIENT_LINE.search(data)
                and not reader.has_data()
                and (len(data) <= self.max_bulk or self._bulks_fit(cmds))
            ):
                self.whole = True
                return cmds
        self.reader = hiredis.Reader()  # it may hold part of a request: the slow path takes it
        return self._careful(data, cmds)

    def _careful(self, data: bytes, parsed: list) -> list[list[bytes]]:
        """Every read but a run of whole, well-formed requests: ``parsed`` is
        what hiredis made of ``data``, if it saw it."""
        out: list[list[bytes]] = []
        if self._dead or not data:
            return out
        rest = None
        try:
            if self._bulk is not None:
                data = self._take_bulk(data, out)
                if data is None:
                    return out
            if self.buf is not None:
                self.buf += data
                if len(self.buf) < self._need:
                    return out
                rest = self._slow(out, hand_back=True)
            else:
                self._recover(data, parsed, out)
        except ProtocolError as e:
            e.partial = out
            self._dead = True
            self.buf = self._args = self._bulk = None
            raise
        if rest is None:
            return out
        try:
            out += self.feed(rest)
            self.whole = False  # the read began with the end of a split request
            return out
        except ProtocolError as e:
            e.partial = out + e.partial
            raise

    def _recover(self, data: bytes, parsed: list, out: list[list[bytes]]) -> None:
        """Keep the commands hiredis parsed that are exactly the first bytes of
        the read; the slow path takes over at the first byte hiredis should not
        have judged (or at the request the read ends in)."""
        pos = 0
        for cmd in parsed:
            if type(cmd) is not list or not cmd or set(map(type, cmd)) != _BYTES:
                break
            enc = _encode(cmd)
            if not data.startswith(enc, pos) or not self._bulks_fit([cmd]):
                break
            pos += len(enc)
            out.append(cmd)
        if pos < len(data):
            self.buf = bytearray(data[pos:])
            self._slow(out, hand_back=False)

    def buffered(self) -> int:
        """Bytes of a split request held so far (client-query-buffer-limit)."""
        return (0 if self.buf is None else len(self.buf)) + self._bulk_size

    def _take_bulk(self, data: bytes, out: list[list[bytes]]) -> bytes | None:
        """Add a read to the big bulk in progress; once it is complete, the
        bytes after it (None while it is not)."""
        bulk = self._bulk
        assert bulk is not None and self._args is not None
        left = self._bulk_left
        payload = left - 2  # bytes of the value still missing (<= 0: only its CRLF)
        if len(data) < left:
            if payload > 0:
                bulk.append(data if len(data) <= payload else data[:payload])
                self._bulk_size += min(len(data), payload)
            self._bulk_left -= len(data)
            return None
        if payload > 0:
            bulk.append(data[:payload])
        self._args.append(bulk[0] if len(bulk) == 1 else b"".join(bulk))
        self._bulk = None
        self._bulk_size = 0
        self._left -= 1
        if not self._left:
            out.append(self._args)
            self._args = None
            self.buf = None
        return data[left:]

    def _bulks_fit(self, cmds: list[list[bytes]]) -> bool:
        limit = self.max_bulk
        return all(len(a) <= limit for cmd in cmds for a in cmd)

    def _slow(self, out: list[list[bytes]], hand_back: bool) -> bytes | None:
        """Parse ``self.buf`` in Python. With ``hand_back``, once a request is
        complete and the next one is multibulk, return the rest for the fast path."""
        buf = self.buf
        assert buf is not None
        pos = 0
        n = len(buf)
        self._need = 0
        while pos < n:
            if self._args is not None or buf[pos] == 42:
                if hand_back and pos and self._args is None:
                    self.buf = None
                    return bytes(buf[pos:])
                cmd, pos, complete = self._multibulk(buf, pos)
            else:
                cmd, pos, complete = self._inline(buf, pos)
            if not complete:
                break
            if cmd:
                out.append(cmd)
        if pos >= n and self._args is None:
            self.buf = None
        else:
            del buf[:pos]
            self._need -= pos
        return None

    @staticmethod
    def _inline(buf: bytearray, pos: int) -> tuple[list[bytes] | None, int, bool]:
        nl = _find(buf, b"\n", pos)
        if nl < 0:
            if len(buf) - pos > INLINE_MAX:
                raise ProtocolError("too big inline request")
            return None, pos, False
        end = nl - 1 if nl > pos and buf[nl - 1] == 0x0D else nl
        return split_inline(bytes(buf[pos:end])), nl + 1, True

    def _multibulk(self, buf: bytearray, pos: int) -> tuple[list[bytes] | None, int, bool]:
        """One multibulk request from ``pos``: (command, next position, complete).

        An incomplete request keeps its arguments so far in ``self._args``, so a
        request that arrives over many reads is parsed once, as Redis does.
        """
        n = len(buf)
        if self._args is None:
            cr = _find(buf, b"\r", pos)
            if cr < 0:
                if n - pos > INLINE_MAX:
                    raise ProtocolError("too big mbulk count string")
                return None, pos, False
            if cr + 2 > n:  # Redis takes "\r" and the byte after it as the line end
                return None, pos, False
            count = _string2ll(buf[pos + 1 : cr])
            if count is None or count > INT_MAX:
                raise ProtocolError("invalid multibulk length")
            if count > 10 and self.auth_required:
                raise ProtocolError("unauthenticated multibulk length")
            pos = cr + 2
            if count <= 0:
                return None, pos, True
            self._args = []
            self._left = count
        args = self._args
        while self._left:
            cr = _find(buf, b"\r", pos)
            if cr < 0:
                if n - pos > INLINE_MAX:
                    raise ProtocolError("too big bulk count string")
                return None, pos, False
            if cr + 2 > n:
                return None, pos, False
            if buf[pos] != 36:
                got = " " if buf[pos] in (10, 13) else chr(buf[pos])
                raise ProtocolError(f"expected '$', got '{got}'")
            ln = _string2ll(buf[pos + 1 : cr])
            if ln is None or ln < 0 or ln > self.max_bulk:
                raise ProtocolError("invalid bulk length")
            if ln > 16384 and self.auth_required:
                raise ProtocolError("unauthenticated bulk length")
            start = cr + 2
            end = start + ln
            if end > n and ln >= BIG_BULK:
                with memoryview(buf) as view:
                    self._bulk = [view[start:n].tobytes()]
                self._bulk_size = n - start
                self._bulk_left = end + 2 - n
                self._need = 0
                return None, n, False
            if end + 2 > n:  # the two bytes after a bulk are skipped unread, as in Redis
                self._need = end + 2
                return None, pos, False
            if ln < 65536:
                args.append(bytes(buf[start:end]))
            else:  # one copy, not two (a slice of a bytearray is a copy already)
                with memoryview(buf) as view:
                    args.append(view[start:end].tobytes())
            self._left -= 1
            pos = end + 2
        self._args = None
        return args, pos, True
