"""Bitmaps: bit operations on string values (bit 0 is the top bit of byte 0, as in Redis).

Reads and writes go through pikamp.storage.strings; the pure functions here
(``bit_range``, ``count_bits``, ``find_bit``) work on a value already read.
BITFIELD reads and writes only the bytes of the fields it names.
"""
from __future__ import annotations

from bisect import bisect_right
from functools import reduce
from operator import and_, or_, xor
from typing import NamedTuple

from pikamp.numbers import wrap_int64
from pikamp.storage import strings
from pikamp.storage.database import Database

AND, OR, XOR, NOT = "and", "or", "xor", "not"
_COMBINE = {AND: and_, OR: or_, XOR: xor}
_INVERT = bytes(255 - i for i in range(256))


def get_bit(db: Database, key: bytes, offset: int) -> int:
    """GETBIT: the bit at ``offset``; 0 past the end or for a missing key."""
    raw = strings.lookup(db, key)
    byte = offset >> 3
    if raw is None or byte >= strings.length(raw):
        return 0
    return (strings.read(db, key, raw, byte, byte + 1)[0] >> (7 - (offset & 7))) & 1


def set_bit(db: Database, key: bytes, offset: int, on: int) -> int:
    """SETBIT: set or clear one bit, growing the value with zero bytes; the old bit. TTL kept.

    As Redis 7.0, setting a bit to what it is (inside the string) writes
    nothing: no change for WATCH, no "setbit" event."""
    old = strings.lookup(db, key)
    byte = offset >> 3
    inside = old is not None and byte < strings.length(old)
    current = strings.read(db, key, old, byte, byte + 1)[0] if inside else 0  # type: ignore[arg-type]
    mask = 0x80 >> (offset & 7)
    was = 1 if current & mask else 0
    if not inside or was != on:
        strings.write_range(db, key, old, byte, bytes([current | mask if on else current & ~mask]))
    return was


def read_span(db: Database, key: bytes, raw: bytes, first: int, last: int) -> tuple[bytes, int, int]:
    """The bytes holding bits ``first``..``last`` of a string, and the two bit
    positions relative to them (so BITCOUNT/BITPOS read only their range)."""
    lo = first >> 3
    return strings.read(db, key, raw, lo, (last >> 3) + 1), first - lo * 8, last - lo * 8


def bit_range(size: int, start: int, end: int, in_bits: bool) -> tuple[int, int] | None:
    """Redis's BITCOUNT/BITPOS range rules on a value of ``size`` bytes.

    ``start`` and ``end`` count bytes (or bits if ``in_bits``), negative from the
    end, clamped to the value. Returns the inclusive bit range, or None if empty.
    """
    total = size * 8 if in_bits else size
    if start < 0:
        start = max(start + total, 0)
    if end < 0:
        end = max(end + total, 0)
    end = min(end, total - 1)
    if start > end:
        return None
    return (start, end) if in_bits else (start * 8, end * 8 + 7)


def _bits(value: bytes, first: int, last: int) -> int:
    """Bits ``first``..``last`` of ``value`` as one unsigned integer (``first`` is the top bit)."""
    n = int.from_bytes(value[first >> 3 : (last >> 3) + 1], "big")
    return (n >> (7 - (last & 7))) & ((1 << (last - first + 1)) - 1)


def count_bits(value: bytes, first: int, last: int) -> int:
    """How many bits are set in the inclusive bit range."""
    return _bits(value, first, last).bit_count()


def find_bit(value: bytes, bit: int, first: int, last: int) -> int:
    """Position of the first ``bit`` (0 or 1) in the inclusive bit range, or -1."""
    width = last - first + 1
    n = _bits(value, first, last)
    if not bit:
        n ^= (1 << width) - 1
    return -1 if n == 0 else first + width - n.bit_length()


def bit_op(db: Database, op: str, dest: bytes, sources: list[bytes]) -> int:
    """BITOP: store ``op`` over the sources (shorter ones zero-padded) at ``dest``.

    Returns the result's length; an empty result deletes ``dest`` instead. The
    destination is overwritten whatever its type, and loses its TTL.
    """
    values = [strings.get(db, key) or b"" for key in sources]
    size = max(len(v) for v in values)
    old = db.lookup(dest)
    if size == 0:
        if old is not None:
            db.delete(dest, old)
        return 0
    if op == NOT:
        result = values[0].translate(_INVERT)
    else:
        ints = (int.from_bytes(v.ljust(size, b"\0"), "big") for v in values)
        result = reduce(_COMBINE[op], ints).to_bytes(size, "big")
    strings.put(db, dest, result, 0, old)
    return size


# -- BITFIELD ----------------------------------------------------------------------
GET, SET, INCRBY = "get", "set", "incrby"
WRAP, SAT, FAIL = "wrap", "sat", "fail"


class FieldOp(NamedTuple):
    """One BITFIELD operation on the field of ``bits`` bits at bit ``offset``."""

    kind: str  # GET, SET or INCRBY
    signed: bool
    bits: int
    offset: int
    value: int = 0  # SET's value, INCRBY's increment
    overflow: str = WRAP  # the OVERFLOW in force (SET and INCRBY)


def bit_field(db: Database, key: bytes, ops: list[FieldOp]) -> list[int | None]:
    """BITFIELD: run ``ops`` in order; each one's reply (None: an overflow under FAIL).

    As Redis 7.0: a SET or INCRBY among them first zero-pads the string (a
    missing key is created) up to the last byte any of them writes, even one
    that then fails; the key counts as changed (WATCH, the "setbit" event)
    only when a field is written and the string grew or the field's value
    changed. The TTL is kept. GETs alone write nothing.
    """
    old = strings.lookup(db, key)
    size = 0 if old is None else strings.length(old)
    new_size = max([size] + [((op.offset + op.bits - 1) >> 3) + 1 for op in ops if op.kind != GET])
    grown = new_size > size
    fields = _Fields(db, key, old, size, ops)
    changed = False
    replies: list[int | None] = []
    for op in ops:
        current = fields.get(op)
        if op.kind == GET:
            replies.append(current)
            continue
        new = _stored(op, current)
        if new is None:
            replies.append(None)
            continue
        fields.put(op, new)
        replies.append(new if op.kind == INCRBY else current)
        changed = changed or grown or new != current
    if changed:
        strings.write_ranges(db, key, old, fields.written(new_size))
    elif grown:  # every write failed: Redis pads the string all the same, and signals nothing
        with db.unsignalled():
            strings.write_ranges(db, key, old, fields.written(new_size))
    return replies


def _stored(op: FieldOp, current: int) -> int | None:
    """What SET / INCRBY stores in a field holding ``current``, under its
    OVERFLOW; None when it overflows under FAIL. The overflow tests are
    Redis' (checkSignedBitfieldOverflow / checkUnsignedBitfieldOverflow),
    int64 arithmetic included."""
    bits = op.bits
    value, incr = (op.value, 0) if op.kind == SET else (current, op.value)
    if op.signed:
        top = (1 << (bits - 1)) - 1
        bottom = -top - 1
        # Redis computes the room in int64: it wraps for a SET far below the
        # range, which then counts as too big (SAT stores the maximum).
        room_up, room_down = wrap_int64(top - value), wrap_int64(bottom - value)
        if value > top or (bits != 64 and incr > room_up) or (value >= 0 and incr > 0 and incr > room_up):
            too_big = True
        elif value < bottom or (bits != 64 and incr < room_down) or (value < 0 and incr < 0 and incr < room_down):
            too_big = False
        else:
            return value + incr
    else:
        value &= 2**64 - 1  # a negative SET value reads as a huge unsigned one, as in C
        top, bottom = (1 << bits) - 1, 0
        if value > top or (incr > 0 and incr > top - value):
            too_big = True
        elif incr < 0 and incr < -value:
            too_big = False
        else:
            return value + incr
    if op.overflow == FAIL:
        return None
    if op.overflow == SAT:
        return top if too_big else bottom
    wrapped = (value + incr) & ((1 << bits) - 1)
    return wrapped - (1 << bits) if op.signed and wrapped >> (bits - 1) else wrapped


class _Fields:
    """The bytes holding the fields of some BITFIELD ops, read once: the
    fields' byte ranges, merged where they overlap or meet, zeros past the
    end of the string; the ops then read and write these copies."""

    def __init__(self, db: Database, key: bytes, raw: bytes | None, size: int, ops: list[FieldOp]) -> None:
        spans: list[list[int]] = []
        for lo, hi in sorted((op.offset >> 3, ((op.offset + op.bits - 1) >> 3) + 1) for op in ops):
            if spans and lo <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], hi)
            else:
                spans.append([lo, hi])
        self.starts = [lo for lo, _ in spans]
        self.bufs = []
        for lo, hi in spans:
            have = strings.read(db, key, raw, lo, min(hi, size)) if lo < size else b""  # type: ignore[arg-type]
            self.bufs.append(bytearray(have.ljust(hi - lo, b"\0")))
        # The spans with a SET or INCRBY field: what the command writes back.
        self.writes = sorted({self._span(op) for op in ops if op.kind != GET})

    def _span(self, op: FieldOp) -> int:
        return bisect_right(self.starts, op.offset >> 3) - 1

    def get(self, op: FieldOp) -> int:
        i = self._span(op)
        first = op.offset - self.starts[i] * 8
        n = _bits(self.bufs[i], first, first + op.bits - 1)
        return n - (1 << op.bits) if op.signed and n >> (op.bits - 1) else n

    def put(self, op: FieldOp, value: int) -> None:
        i = self._span(op)
        buf = self.bufs[i]
        first = op.offset - self.starts[i] * 8
        last = first + op.bits - 1
        lo, hi = first >> 3, (last >> 3) + 1
        shift = 7 - (last & 7)
        mask = ((1 << op.bits) - 1) << shift
        n = (int.from_bytes(buf[lo:hi], "big") & ~mask) | ((value << shift) & mask)
        buf[lo:hi] = n.to_bytes(hi - lo, "big")

    def written(self, size: int) -> list[tuple[int, bytes]]:
        """(offset, bytes) of the spans SET / INCRBY fields are in, cut at
        ``size`` (a GET may reach past the end of the grown string)."""
        return [(self.starts[i], bytes(self.bufs[i][: size - self.starts[i]])) for i in self.writes]
