"""Redis' RDB value serialization, as DUMP writes it and RESTORE reads it.

A payload is one RDB object and a footer:

    type (1 byte) | the encoded value | RDB version (2 bytes LE) | CRC64 (8 bytes LE)

with the CRC64 (Jones polynomial, reflected, no final xor: Redis' crc64.c)
over everything before it. Redis 7.0 writes RDB version 10 and reads every
version up to 10, so ``decode`` reads every encoding such a Redis writes or
still accepts: strings (raw, as 8/16/32-bit integers, LZF-compressed); lists
(plain, ziplist, quicklists of ziplists, quicklists of listpacks with PLAIN
nodes); sets (plain, intset); hashes (plain, zipmap, ziplist, listpack);
sorted sets (plain with text or binary scores, ziplist, listpack).

The encoders write what Redis 7.0 writes for the same value: quicklists of
listpacks cut as RPUSH fills them, intsets, listpacks for small hashes and
sorted sets, LZF where Redis would compress (liblzf's own algorithm, so the
bytes are Redis' own). The caller says which encoding, from Redis' thresholds.

Pure: bytes in, plain Python values out, and back; no storage here.
Decoded values, by kind:

  "string"  bytes
  "list"    list[bytes], head first
  "set"     list[bytes], distinct
  "hash"    list[tuple[bytes, bytes]], distinct fields
  "zset"    list[tuple[bytes, float]], distinct members, no NaN

Every structure is checked in full (as Redis does with sanitize-dump-payload
yes), and every length is checked against the bytes there are before
anything of that size is made, so a hostile payload costs at most its own
size, plus LZF expansion up to the caller's ``max_expanded``.
"""
from __future__ import annotations

import math
import re
import struct
from typing import Iterable

from pikamp.numbers import strtod

RDB_VERSION = 10  # what Redis 7.0 writes, and the newest it reads

# RDB object types (Redis' rdb.h).
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_MODULE = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19

CHECKSUM_ERROR = "ERR DUMP payload version or checksum are wrong"
BAD_FORMAT = "ERR Bad data format"
NO_STREAMS = "ERR Bad data format: the payload is a stream, and pikamp has no streams yet"
TOO_EXPANDED = "ERR Bad data format: the value expands to more than proto-max-bulk-len bytes"

FOOTER_LEN = 10
_QUICKLIST_PLAIN, _QUICKLIST_PACKED = 1, 2
# An element of at least this many bytes gets a quicklist node of its own (Redis' packed_threshold).
_PACKED_THRESHOLD = 1 << 30
# Quicklist node sizes for list-max-listpack-size -1 .. -5, and the most any node may hold otherwise.
_OPTIMIZATION_LEVEL = (4096, 8192, 16384, 32768, 65536)
_SIZE_SAFETY_LIMIT = 8192
_SIZE_ESTIMATE_OVERHEAD = 8  # what _quicklistNodeAllowInsert adds for a new entry's header
# LZF compression in pure Python costs about 1 us a byte: a DUMP compresses at
# most this many bytes (Redis compresses everything over 20 bytes); the rest
# goes verbatim, which Redis reads just as well.
COMPRESS_BUDGET = 64 * 1024
_LZF_MAX_RATIO = 88  # a 3-byte back reference makes at most 264 bytes


class PayloadError(Exception):
    """A payload RESTORE refuses; the message is the error reply."""


class PayloadTooLarge(Exception):
    """The payload being written would exceed the writer's limit."""


def _bad() -> PayloadError:
    return PayloadError(BAD_FORMAT)


# -- CRC64 (Redis' crc64.c: Jones polynomial 0xad93d23594c935a9, reflected) ---

def _crc_tables() -> list[list[int]]:
    """Slicing-by-8 tables: 8 bytes per step is the fastest in pure Python."""
    poly = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 bit-reversed
    t0 = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t0.append(c)
    tables = [t0]
    for _ in range(7):
        tables.append([t0[c & 0xFF] ^ (c >> 8) for c in tables[-1]])
    return tables


_CRC = _crc_tables()


def crc64(data: bytes, crc: int = 0) -> int:
    """Redis' crc64(crc, data)."""
    t0, t1, t2, t3, t4, t5, t6, t7 = _CRC
    n = len(data) & ~7
    for (w,) in struct.iter_unpack("<Q", memoryview(data)[:n]):
        crc ^= w
        crc = (t7[crc & 0xFF] ^ t6[(crc >> 8) & 0xFF] ^ t5[(crc >> 16) & 0xFF] ^ t4[(crc >> 24) & 0xFF]
               ^ t3[(crc >> 32) & 0xFF] ^ t2[(crc >> 40) & 0xFF] ^ t1[(crc >> 48) & 0xFF] ^ t0[crc >> 56])
    for b in data[n:]:
        crc = t0[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def footer(body: bytes) -> bytes:
    """The RDB version and CRC64 that end a payload whose start is ``body``."""
    head = RDB_VERSION.to_bytes(2, "little")
    return head + crc64(head, crc64(body)).to_bytes(8, "little")


def check_footer(payload: bytes) -> None:
    """Redis' verifyDumpPayload: an RDB version up to ours and a matching CRC64."""
    if len(payload) < FOOTER_LEN:
        raise PayloadError(CHECKSUM_ERROR)
    version = payload[-10] | payload[-9] << 8
    if version > RDB_VERSION:
        raise PayloadError(CHECKSUM_ERROR)
    if crc64(memoryview(payload)[:-8]) != int.from_bytes(payload[-8:], "little"):
        raise PayloadError(CHECKSUM_ERROR)


# -- LZF (liblzf 3.6 as Redis builds it: HLOG 16, VERY_FAST) --------------------

_MAX_LIT = 1 << 5
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


def lzf_decompress(data: bytes, out_len: int) -> bytes | None:
    """liblzf's lzf_decompress into exactly ``out_len`` bytes; None if the
    data is corrupt or does not make exactly that many."""
    out = bytearray()
    ip, n = 0, len(data)
    while ip < n:
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:  # a run of ctrl + 1 literal bytes
            ctrl += 1
            if len(out) + ctrl > out_len or ip + ctrl > n:
                return None
            out += data[ip : ip + ctrl]
            ip += ctrl
            continue
        length = ctrl >> 5  # a back reference of length + 2 bytes
        if ip >= n:
            return None
        if length == 7:
            length += data[ip]
            ip += 1
            if ip >= n:
                return None
        ref = len(out) - ((ctrl & 0x1F) << 8) - 1 - data[ip]
        ip += 1
        length += 2
        if len(out) + length > out_len or ref < 0:
            return None
        distance = len(out) - ref
        if distance >= length:
            out += out[ref : ref + length]
        else:  # overlapping: the last ``distance`` bytes repeat
            pattern = out[ref:]
            out += (pattern * (length // distance + 1))[:length]
    return bytes(out) if len(out) == out_len else None


def lzf_compress(data: bytes, out_len: int) -> bytes | None:
    """liblzf's lzf_compress, byte for byte as Redis runs it (its hash table
    starts empty here; Redis' starts as whatever the stack held, which only
    ever finds other valid matches); None when the output would not fit in
    ``out_len`` bytes. ``data`` must be at least 3 bytes."""
    in_end = len(data)
    htab: dict[int, int] = {}
    out = bytearray(out_len + 8)
    ip, op, lit = 0, 1, 0  # op 0 is the first run's control byte
    hval = (data[0] << 8) | data[1]
    while ip < in_end - 2:
        hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
        slot = ((hval >> 8) - hval * 5) & 0xFFFF
        ref = htab.get(slot, -1)
        htab[slot] = ip
        if (ref > 0 and ip - ref - 1 < _MAX_OFF and data[ref + 2] == data[ip + 2]
                and data[ref] == data[ip] and data[ref + 1] == data[ip + 1]):
            off = ip - ref - 1
            length = 2
            maxlen = min(in_end - ip - length, _MAX_REF)
            if op + 4 >= out_len and op - (not lit) + 4 >= out_len:
                return None
            out[op - lit - 1] = (lit - 1) & 0xFF  # close the literal run
            if not lit:
                op -= 1
            mismatch = False
            if maxlen > 16:  # liblzf compares 16 bytes unrolled before it looks at maxlen
                for _ in range(16):
                    length += 1
                    if data[ref + length] != data[ip + length]:
                        mismatch = True
                        break
            if not mismatch:
                length += 1
                while length < maxlen and data[ref + length] == data[ip + length]:
                    length += 1
            length -= 2
            ip += 1
            if length < 7:
                out[op] = (off >> 8) + (length << 5)
                op += 1
            else:
                out[op] = (off >> 8) + (7 << 5)
                out[op + 1] = length - 7
                op += 2
            out[op] = off & 0xFF
            op += 2  # and the next run's control byte
            lit = 0
            ip += length + 1
            if ip >= in_end - 2:
                break
            ip -= 2  # VERY_FAST: hash the two positions before the new one
            hval = (data[ip] << 8) | data[ip + 1]
            for _ in range(2):
                hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
                htab[((hval >> 8) - hval * 5) & 0xFFFF] = ip
                ip += 1
        else:
            if op >= out_len:
                return None
            out[op] = data[ip]
            op += 1
            ip += 1
            lit += 1
            if lit == _MAX_LIT:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > out_len:
        return None
    while ip < in_end:
        out[op] = data[ip]
        op += 1
        ip += 1
        lit += 1
        if lit == _MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF
    if not lit:
        op -= 1
    return bytes(out[:op])


# -- integers as Redis reads them ------------------------------------------------

_CANONICAL_INT = re.compile(rb"-?[1-9][0-9]{0,18}|0")
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def as_int(s: bytes) -> int | None:
    """Redis' string2ll: the integer ``s`` spells exactly (no sign but '-', no
    leading zeros, no spaces, within 64 bits), else None."""
    if len(s) > 20 or _CANONICAL_INT.fullmatch(s) is None:
        return None
    n = int(s)
    return n if _I64_MIN <= n <= _I64_MAX else None


# == decoding ====================================================================


class _Reader:
    """The object part of a payload, read front to back; every read checks
    that the bytes are there."""

    __slots__ = ("data", "pos", "end", "expand_left")

    def __init__(self, data: bytes, end: int, max_expanded: int) -> None:
        self.data = data
        self.pos = 0
        self.end = end
        self.expand_left = max_expanded

    def byte(self) -> int:
        if self.pos >= self.end:
            raise _bad()
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise _bad()
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def _length(self) -> tuple[int, bool]:
        """rdbLoadLenByRef: (length, whether it is a string encoding instead)."""
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if b == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise _bad()

    def length(self) -> int:
        """A count; as in Redis, a string-encoding byte reads as its low 6 bits."""
        return self._length()[0]

    def count(self, per_item: int = 1) -> int:
        """A count of items that take at least ``per_item`` bytes each: at
        most what the remaining bytes can hold; 0 (an empty key) is refused."""
        n = self.length()
        if n == 0 or n * per_item > self.end - self.pos:
            raise _bad()
        return n

    def string(self) -> bytes:
        """rdbGenericLoadStringObject."""
        n, encoded = self._length()
        if not encoded:
            return self.take(n)
        if n == 0:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if n == 1:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if n == 2:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if n == 3:
            return self._lzf()
        raise _bad()

    def _lzf(self) -> bytes:
        clen = self.length()
        out_len = self.length()
        data = self.take(clen)
        if out_len == 0:  # Redis takes it: liblzf writes nothing, the length it was asked for
            return b""
        if not data or out_len > clen * _LZF_MAX_RATIO:
            raise _bad()
        if out_len > self.expand_left:
            raise PayloadError(TOO_EXPANDED)
        self.expand_left -= out_len
        value = lzf_decompress(data, out_len)
        if value is None:
            raise _bad()
        return value

    def text_double(self) -> float:
        """rdbLoadDoubleValue: a length byte (253 nan, 254 inf, 255 -inf), then text."""
        n = self.byte()
        if n == 253:
            return math.nan
        if n == 254:
            return math.inf
        if n == 255:
            return -math.inf
        text = self.take(n).split(b"\0", 1)[0]
        value, used, _ = strtod(text)  # sscanf %lg: a number must start it
        if not used:
            raise _bad()
        return value

    def binary_double(self) -> float:
        return struct.unpack("<d", self.take(8))[0]


def decode(payload: bytes, max_expanded: int) -> tuple[str, object]:
    """The value a payload holds, as (kind, value) (see the module's doc).
    PayloadError (its message: Redis' reply) for a payload RESTORE refuses;
    LZF may expand the payload by ``max_expanded`` bytes in all."""
    check_footer(payload)
    r = _Reader(payload, len(payload) - FOOTER_LEN, max_expanded)
    typ = r.byte()
    reader = _DECODERS.get(typ)
    if reader is None:
        if typ in (TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2):
            raise PayloadError(NO_STREAMS)
        raise _bad()  # a module's type, or no type at all
    return reader(r)


def _distinct(items: list, what: int | None = 0) -> list:
    """``items`` if no two have the same key (their element ``what``, or the
    item itself when ``what`` is None)."""
    keys = items if what is None else [item[what] for item in items]
    if len(set(keys)) != len(keys):
        raise _bad()
    return items


def _pairs(entries: list[bytes]) -> list[tuple[bytes, bytes]]:
    if not entries or len(entries) % 2:
        raise _bad()
    return list(zip(entries[0::2], entries[1::2]))


def _score(text: bytes) -> float:
    """A score stored as text in a ziplist or listpack (what zzlStrtod reads)."""
    value, used, _ = strtod(text)
    if not used or used != len(text) or math.isnan(value):
        raise _bad()
    return value


def _zset_pairs(entries: list[bytes]) -> list[tuple[bytes, float]]:
    return _distinct([(m, _score(s)) for m, s in _pairs(entries)])


def _string(r: _Reader) -> tuple[str, object]:
    return "string", r.string()


def _list(r: _Reader) -> tuple[str, object]:
    n = r.count()
    return "list", [r.string() for _ in range(n)]


def _set(r: _Reader) -> tuple[str, object]:
    n = r.count()
    return "set", _distinct([r.string() for _ in range(n)], None)


def _zset(r: _Reader, binary: bool) -> tuple[str, object]:
    n = r.count(2)
    read_score = r.binary_double if binary else r.text_double
    items = []
    for _ in range(n):
        member = r.string()
        score = read_score()
        if math.isnan(score):
            raise _bad()
        items.append((member, score))
    return "zset", _distinct(items)


def _hash(r: _Reader) -> tuple[str, object]:
    n = r.count(2)
    return "hash", _distinct([(r.string(), r.string()) for _ in range(n)])


def _nonempty(entries: list) -> list:
    if not entries:
        raise _bad()
    return entries


def _list_ziplist(r: _Reader) -> tuple[str, object]:
    return "list", _nonempty(ziplist_entries(r.string()))


def _quicklist(r: _Reader, version: int) -> tuple[str, object]:
    """Nodes of ziplists (version 1) or of listpacks and PLAIN elements (2);
    empty nodes are skipped, as Redis does, but not an empty list."""
    nodes = r.count()
    out: list[bytes] = []
    for _ in range(nodes):
        container = _QUICKLIST_PACKED
        if version == 2:
            container = r.length()
            if container not in (_QUICKLIST_PLAIN, _QUICKLIST_PACKED):
                raise _bad()
        blob = r.string()
        if not blob:
            raise _bad()
        if container == _QUICKLIST_PLAIN:
            out.append(blob)
        else:
            out += listpack_entries(blob) if version == 2 else ziplist_entries(blob)
    return "list", _nonempty(out)


def _set_intset(r: _Reader) -> tuple[str, object]:
    return "set", _nonempty(intset_members(r.string()))


def _zset_packed(r: _Reader, entries_of) -> tuple[str, object]:
    return "zset", _zset_pairs(entries_of(r.string()))


def _hash_packed(r: _Reader, entries_of) -> tuple[str, object]:
    return "hash", _distinct(_pairs(entries_of(r.string())))


def _hash_zipmap(r: _Reader) -> tuple[str, object]:
    return "hash", _distinct(zipmap_pairs(r.string()))


_DECODERS = {
    TYPE_STRING: _string,
    TYPE_LIST: _list,
    TYPE_SET: _set,
    TYPE_ZSET: lambda r: _zset(r, False),
    TYPE_HASH: _hash,
    TYPE_ZSET_2: lambda r: _zset(r, True),
    TYPE_HASH_ZIPMAP: _hash_zipmap,
    TYPE_LIST_ZIPLIST: _list_ziplist,
    TYPE_SET_INTSET: _set_intset,
    TYPE_ZSET_ZIPLIST: lambda r: _zset_packed(r, ziplist_entries),
    TYPE_HASH_ZIPLIST: lambda r: _hash_packed(r, ziplist_entries),
    TYPE_LIST_QUICKLIST: lambda r: _quicklist(r, 1),
    TYPE_HASH_LISTPACK: lambda r: _hash_packed(r, listpack_entries),
    TYPE_ZSET_LISTPACK: lambda r: _zset_packed(r, listpack_entries),
    TYPE_LIST_QUICKLIST_2: lambda r: _quicklist(r, 2),
}


# -- the packed structures ------------------------------------------------------

def _u32(blob: bytes, at: int) -> int:
    return int.from_bytes(blob[at : at + 4], "little")


def _backlen(n: int) -> bytes:
    """lpEncodeBacklen: a listpack entry's length, to be read backwards."""
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                  (n & 127) | 128))


# Listpack integer encodings: first byte -> (entry size, value bytes).
_LP_INTS = {0xF1: 3, 0xF2: 4, 0xF3: 5, 0xF4: 9}


def listpack_entries(blob: bytes) -> list[bytes]:
    """Every element of a listpack (integers as their decimal text), after
    checking it as lpValidateIntegrity does in depth."""
    size = len(blob)
    if size < 7 or _u32(blob, 0) != size or blob[-1] != 0xFF:
        raise _bad()
    numele = blob[4] | blob[5] << 8
    end = size - 1  # the EOF byte
    out = []
    pos = 6
    while pos < end:
        b = blob[pos]
        if b < 0x80:  # 7-bit unsigned integer
            n = 1
            value = b"%d" % b
        elif b < 0xC0:  # string of up to 63 bytes
            n = 1 + (b & 0x3F)
            value = blob[pos + 1 : pos + n]
        elif b < 0xE0:  # 13-bit signed integer
            if pos + 2 > end:
                raise _bad()
            u = ((b & 0x1F) << 8) | blob[pos + 1]
            n = 2
            value = b"%d" % (u - 8192 if u >= 4096 else u)
        elif b < 0xF0:  # string of up to 4095 bytes
            if pos + 2 > end:
                raise _bad()
            n = 2 + (((b & 0x0F) << 8) | blob[pos + 1])
            value = blob[pos + 2 : pos + n]
        elif b == 0xF0:  # string with a 32-bit length
            if pos + 5 > end:
                raise _bad()
            n = 5 + _u32(blob, pos + 1)
            value = blob[pos + 5 : pos + n]
        elif b in _LP_INTS:
            n = _LP_INTS[b]
            value = b"%d" % int.from_bytes(blob[pos + 1 : pos + n], "little", signed=True)
        else:  # an unused encoding, or EOF before the end
            raise _bad()
        back = _backlen(n)
        if pos + n + len(back) > end or blob[pos + n : pos + n + len(back)] != back:
            raise _bad()
        out.append(value)
        pos += n + len(back)
    if numele != 65535 and numele != len(out):
        raise _bad()
    return out


# Ziplist integer encodings: encoding byte -> value bytes.
_ZL_INTS = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}


def ziplist_entries(blob: bytes) -> list[bytes]:
    """Every element of a ziplist, after checking it as
    ziplistValidateIntegrity does in depth."""
    size = len(blob)
    if size < 11 or _u32(blob, 0) != size or blob[-1] != 0xFF:
        raise _bad()
    tail = _u32(blob, 4)
    zllen = blob[8] | blob[9] << 8
    end = size - 1
    out = []
    pos = 10
    prev_len = 0
    last = 10
    while pos < end:
        b = blob[pos]
        if b < 254:
            prevlen, head = b, 1
        elif b == 254 and pos + 5 <= end:
            prevlen, head = _u32(blob, pos + 1), 5
        else:
            raise _bad()
        if prevlen != prev_len or pos + head >= end:
            raise _bad()
        enc = blob[pos + head]
        kind = enc >> 6
        if kind == 0:
            at, n = pos + head + 1, enc & 0x3F
        elif kind == 1:
            if pos + head + 2 > end:
                raise _bad()
            at, n = pos + head + 2, ((enc & 0x3F) << 8) | blob[pos + head + 1]
        elif kind == 2:
            if pos + head + 5 > end:
                raise _bad()
            at, n = pos + head + 5, int.from_bytes(blob[pos + head + 1 : pos + head + 5], "big")
        elif enc in _ZL_INTS:
            at, n = pos + head + 1, _ZL_INTS[enc]
        elif 0xF1 <= enc <= 0xFD:  # a 4-bit immediate 0..12
            at, n = pos + head + 1, 0
        else:
            raise _bad()
        if at + n > end:
            raise _bad()
        if kind < 3:
            value = blob[at : at + n]
        elif n:
            value = b"%d" % int.from_bytes(blob[at : at + n], "little", signed=True)
        else:
            value = b"%d" % ((enc & 0x0F) - 1)
        out.append(value)
        last = pos
        prev_len = at + n - pos
        pos = at + n
    if tail != last or (zllen != 65535 and zllen != len(out)):
        raise _bad()
    return out


_INTSET_FORMATS = {2: "<h", 4: "<i", 8: "<q"}


def intset_members(blob: bytes) -> list[bytes]:
    """The members of an intset as decimal text, checked as
    intsetValidateIntegrity does in depth (ascending, no duplicates)."""
    if len(blob) < 8:
        raise _bad()
    width, count = _u32(blob, 0), _u32(blob, 4)
    fmt = _INTSET_FORMATS.get(width)
    if fmt is None or 8 + count * width != len(blob):
        raise _bad()
    values = [v for (v,) in struct.iter_unpack(fmt, memoryview(blob)[8:])]
    if any(a >= b for a, b in zip(values, values[1:])):
        raise _bad()
    return [b"%d" % v for v in values]


def zipmap_pairs(blob: bytes) -> list[tuple[bytes, bytes]]:
    """The (field, value) pairs of a zipmap (Redis before 2.6), checked as
    zipmapValidateIntegrity does in depth."""
    size = len(blob)
    if size < 2 or blob[-1] != 0xFF:
        raise _bad()
    end = size - 1
    pos = 1

    def length() -> int:
        nonlocal pos
        b = blob[pos]
        if b < 254:
            pos += 1
            return b
        if pos + 5 > end:
            raise _bad()
        pos += 5
        return _u32(blob, pos - 4)

    out = []
    while blob[pos] != 0xFF:
        n = length()
        field = blob[pos : pos + n]
        pos += n
        if pos >= end:
            raise _bad()
        n = length()
        if pos >= end:
            raise _bad()
        free = blob[pos]
        value = blob[pos + 1 : pos + 1 + n]
        pos += 1 + n + free
        if pos > end:
            raise _bad()
        out.append((field, value))
    if not out or (blob[0] != 254 and blob[0] != len(out)):
        raise _bad()
    return out


# == encoding ====================================================================


class Writer:
    """One payload being written: parts, and the ``limit`` it must fit in
    (PayloadTooLarge past it). ``compress``: Redis' rdbcompression."""

    __slots__ = ("parts", "size", "limit", "compress_left")

    def __init__(self, limit: int, compress: bool = True) -> None:
        self.parts: list[bytes] = []
        self.size = FOOTER_LEN
        self.limit = limit
        self.compress_left = COMPRESS_BUDGET if compress else 0

    def add(self, part: bytes) -> None:
        self.size += len(part)
        if self.size > self.limit:
            raise PayloadTooLarge(self.size)
        self.parts.append(part)

    def expect(self, n: int) -> None:
        """PayloadTooLarge already if ``n`` more bytes, which compression may
        yet shrink, cannot fit."""
        if self.size + n > self.limit + self.compress_left:
            raise PayloadTooLarge(self.size + n)

    def length(self, n: int) -> None:
        """rdbSaveLen."""
        if n < 1 << 6:
            self.add(bytes((n,)))
        elif n < 1 << 14:
            self.add(bytes((0x40 | (n >> 8), n & 0xFF)))
        elif n <= 0xFFFFFFFF:
            self.add(b"\x80" + n.to_bytes(4, "big"))
        else:
            self.add(b"\x81" + n.to_bytes(8, "big"))

    def string(self, s: bytes) -> None:
        """rdbSaveRawString: a small integer as such, else LZF where it saves
        four bytes or more (and the budget lasts), else verbatim."""
        n = len(s)
        if n <= 11:
            v = as_int(s)
            if v is not None and -(2**31) <= v < 2**31:
                if -128 <= v <= 127:
                    self.add(b"\xc0" + v.to_bytes(1, "little", signed=True))
                elif -32768 <= v <= 32767:
                    self.add(b"\xc1" + v.to_bytes(2, "little", signed=True))
                else:
                    self.add(b"\xc2" + v.to_bytes(4, "little", signed=True))
                return
        if n > 20 and n <= self.compress_left:
            self.compress_left -= n
            packed = lzf_compress(s, n - 4)
            if packed is not None:
                self.add(b"\xc3")
                self.length(len(packed))
                self.length(n)
                self.add(packed)
                return
        self.length(n)
        self.add(s)

    def finish(self) -> bytes:
        """The payload: what was written, the RDB version and the CRC64."""
        body = b"".join(self.parts)
        self.parts = []
        return body + footer(body)


def _lp_entry(s: bytes) -> bytes:
    """One listpack entry for ``s`` (lpAppend: an integer when it spells one)."""
    v = as_int(s)
    if v is not None:
        if 0 <= v <= 127:
            enc = bytes((v,))
        elif -4096 <= v <= 4095:
            u = v & 0x1FFF
            enc = bytes((0xC0 | (u >> 8), u & 0xFF))
        elif -32768 <= v <= 32767:
            enc = b"\xf1" + v.to_bytes(2, "little", signed=True)
        elif -8388608 <= v <= 8388607:
            enc = b"\xf2" + v.to_bytes(3, "little", signed=True)
        elif -(2**31) <= v < 2**31:
            enc = b"\xf3" + v.to_bytes(4, "little", signed=True)
        else:
            enc = b"\xf4" + v.to_bytes(8, "little", signed=True)
    else:
        n = len(s)
        if n < 64:
            enc = bytes((0x80 | n,)) + s
        elif n < 4096:
            enc = bytes((0xE0 | (n >> 8), n & 0xFF)) + s
        else:
            enc = b"\xf0" + n.to_bytes(4, "little") + s
    return enc + _backlen(len(enc))


def listpack(entries: list[bytes]) -> bytes:
    """A listpack of already encoded entries (``_lp_entry``)."""
    body = b"".join(entries)
    total = 7 + len(body)
    count = min(len(entries), 65535)
    return total.to_bytes(4, "little") + count.to_bytes(2, "little") + body + b"\xff"


def _node_exceeds(size: int, count: int, fill: int) -> bool:
    """quicklistNodeExceedsLimit: whether a listpack of ``size`` bytes (an
    estimate) and ``count`` elements is too big for a node."""
    if fill < 0:
        return size > _OPTIMIZATION_LEVEL[min(-fill - 1, len(_OPTIMIZATION_LEVEL) - 1)]
    return size > _SIZE_SAFETY_LIMIT or count > (fill or 1)


def encode_list(w: Writer, elements: Iterable[bytes], fill: int) -> None:
    """A list as Redis 7.0 holds one that RPUSH built: a quicklist of
    listpack nodes filled up to ``fill`` (list-max-listpack-size), an
    element of 1 GiB or more in a PLAIN node of its own."""
    fill = max(-5, min(fill, 32767))  # quicklistSetFill
    nodes: list[tuple[int, bytes]] = []  # held until their count is written first
    held = 0
    entries: list[bytes] = []
    lp_size = 0  # bytes of the open node's listpack (0: no open node)

    def close(container: int, blob: bytes) -> None:
        nonlocal held
        nodes.append((container, blob))
        held += len(blob)
        w.expect(held)

    for e in elements:
        sz = len(e)
        if sz >= _PACKED_THRESHOLD:
            if entries:
                close(_QUICKLIST_PACKED, listpack(entries))
                entries, lp_size = [], 0
            close(_QUICKLIST_PLAIN, e)
            continue
        if entries and _node_exceeds(lp_size + sz + _SIZE_ESTIMATE_OVERHEAD, len(entries) + 1, fill):
            close(_QUICKLIST_PACKED, listpack(entries))
            entries, lp_size = [], 0
        entry = _lp_entry(e)
        entries.append(entry)
        lp_size = (lp_size or 7) + len(entry)
    if entries:
        close(_QUICKLIST_PACKED, listpack(entries))
    w.add(bytes((TYPE_LIST_QUICKLIST_2,)))
    w.length(len(nodes))
    for container, blob in nodes:
        w.length(container)
        w.string(blob)


def encode_string(w: Writer, value: bytes) -> None:
    w.add(bytes((TYPE_STRING,)))
    w.string(value)


def encode_intset(w: Writer, members: Iterable[bytes]) -> None:
    """A set of integers (each as string2ll reads it) as an intset."""
    values = sorted(int(m) for m in members)
    lo, hi = values[0], values[-1]
    if lo < -(2**31) or hi >= 2**31:
        width, fmt = 8, "<q"
    elif lo < -32768 or hi > 32767:
        width, fmt = 4, "<i"
    else:
        width, fmt = 2, "<h"
    blob = struct.pack(f"<II{len(values)}{fmt[1]}", width, len(values), *values)
    w.add(bytes((TYPE_SET_INTSET,)))
    w.string(blob)


def encode_set(w: Writer, count: int, members: Iterable[bytes]) -> None:
    """A set as a hashtable: ``count`` members."""
    w.add(bytes((TYPE_SET,)))
    w.length(count)
    for m in members:
        w.string(m)


def encode_hash_listpack(w: Writer, pairs: Iterable[tuple[bytes, bytes]]) -> None:
    entries = []
    for f, v in pairs:
        entries += (_lp_entry(f), _lp_entry(v))
    w.add(bytes((TYPE_HASH_LISTPACK,)))
    w.string(listpack(entries))


def encode_hash(w: Writer, count: int, pairs: Iterable[tuple[bytes, bytes]]) -> None:
    """A hash as a hashtable: ``count`` (field, value) pairs."""
    w.add(bytes((TYPE_HASH,)))
    w.length(count)
    for f, v in pairs:
        w.string(f)
        w.string(v)


_LLONG_HALF = float((2**63 - 1) // 2)


def _score_entry(score: float) -> bytes:
    """A score's listpack entry as zzlInsertAt makes it: an integer where
    double2ll finds one exactly (-0.0 is 0), else d2string's text (%.17g)."""
    if -_LLONG_HALF <= score <= _LLONG_HALF and score == int(score):
        return _lp_entry(b"%d" % int(score))
    if math.isinf(score):
        return _lp_entry(b"inf" if score > 0 else b"-inf")
    return _lp_entry(b"%.17g" % score)


def encode_zset_listpack(w: Writer, items: Iterable[tuple[bytes, float]]) -> None:
    """A small sorted set: (member, score) in ascending (score, member) order."""
    entries = []
    for m, s in items:
        entries += (_lp_entry(m), _score_entry(s))
    w.add(bytes((TYPE_ZSET_LISTPACK,)))
    w.string(listpack(entries))


def encode_zset(w: Writer, count: int, items_descending: Iterable[tuple[bytes, float]]) -> None:
    """A sorted set as a skiplist: ``count`` (member, score) from the highest
    down (Redis saves it tail first), binary scores."""
    w.add(bytes((TYPE_ZSET_2,)))
    w.length(count)
    pack = struct.Struct("<d").pack
    for m, s in items_descending:
        w.string(m)
        w.add(pack(s))


# -- FUNCTION DUMP / RESTORE ------------------------------------------------------
OPCODE_FUNCTION2 = 245
OPCODE_FUNCTION_PRE_GA = 246


def encode_functions(codes: list[bytes], limit: int) -> bytes:
    """FUNCTION DUMP's payload: each library's code after RDB_OPCODE_FUNCTION2."""
    w = Writer(limit)
    for code in codes:
        w.add(bytes((OPCODE_FUNCTION2,)))
        w.string(code)
    return w.finish()


def decode_functions(payload: bytes, max_expanded: int) -> list[bytes]:
    """The library codes of a FUNCTION RESTORE payload; PayloadError with
    Redis' reply for one it refuses."""
    check_footer(payload)
    r = _Reader(payload, len(payload) - FOOTER_LEN, max_expanded)
    codes = []
    while r.pos < r.end:
        if r.byte() != OPCODE_FUNCTION2:
            raise PayloadError("ERR given type is not a function")
        try:
            codes.append(r.string())
        except PayloadError:
            raise PayloadError("ERR Failed loading library payload") from None
    return codes
