"""Bitmaps: bit operations on string values (bit 0 is the top bit of byte 0, as in Redis).

Reads and writes go through pikamp.storage.strings; the pure functions here
(``bit_range``, ``count_bits``, ``find_bit``) work on a value already read.
"""
from __future__ import annotations

from functools import reduce
from operator import and_, or_, xor

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
    """SETBIT: set or clear one bit, growing the value with zero bytes; the old bit. TTL kept."""
    old = strings.lookup(db, key)
    byte = offset >> 3
    current = 0
    if old is not None and byte < strings.length(old):
        current = strings.read(db, key, old, byte, byte + 1)[0]
    mask = 0x80 >> (offset & 7)
    strings.write_range(db, key, old, byte, bytes([current | mask if on else current & ~mask]))
    return 1 if current & mask else 0


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
