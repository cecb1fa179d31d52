"""LCS (Redis 7.0's lcsCommand): the longest common subsequence of two
strings, and the ranges of it that match, exactly as Redis finds them.

Redis fills an (alen+1) x (blen+1) table of uint32 lengths, LCS(i, j) of the
prefixes a[:i] and b[:j], then walks back from (alen, blen): on equal bytes
diagonally, else towards the larger neighbour, LCS(i-1, j) or LCS(i, j-1),
preferring j-1 on a tie. The matched bytes spell the LCS; runs of diagonal
steps are the ranges IDX reports, last first.

Here the table is bit-parallel: each row is a Python int with one bit per
byte of the longer string (bit t-1 set where the row's LCS grows at t), built
from the previous row with a few big-int operations (Hyyro's recurrence), so
the work is O(alen * blen / 30) C-level digit operations and the rows take
alen * blen / 8 bytes, 1/32 of Redis' table (which proto-max-bulk-len
bounds). The walk reads the same decisions off the rows, jumping over each
run of steps that leave the length unchanged with one bit search, so it costs
O(min(alen, blen)) big-int operations instead of alen + blen steps.
"""
from __future__ import annotations

from typing import Iterator


def table_bytes(alen: int, blen: int) -> int:
    """The size of Redis' table: what proto-max-bulk-len must allow."""
    return (alen + 1) * (blen + 1) * 4


def _masks(text: bytes, wanted: bytes) -> dict[int, int]:
    """For each byte value in ``wanted``: the bits of its positions in ``text``."""
    out = {}
    for c in set(wanted):
        table = bytearray(b"0" * 256)
        table[c] = ord("1")
        out[c] = int(text.translate(table)[::-1], 2) if text else 0
    return out


def _rows(short: bytes, masks: dict[int, int], width: int) -> Iterator[int]:
    """Rows 0 to len(short): in row k, bit t-1 is
    LCS(short[:k], long[:t]) - LCS(short[:k], long[:t-1])."""
    full = (1 << width) - 1
    v = full  # the complement of the increments
    yield 0
    for c in short:
        u = v & masks[c]
        v = ((v + u) | (v - u)) & full
        yield v ^ full


def length(a: bytes, b: bytes) -> int:
    """LCS LEN: the last row's count, keeping no other (the shorter string drives)."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    last = 0
    for last in _rows(short, _masks(long_, short), len(long_)):
        pass
    return last.bit_count()


Range = tuple[int, int, int, int]  # a_start, a_end, b_start, b_end (inclusive)


def matches(a: bytes, b: bytes) -> tuple[bytes, list[Range]]:
    """The LCS as Redis spells it and every matching range, in Redis' order
    (from the ends of the strings backwards)."""
    alen, blen = len(a), len(b)
    if not alen or not blen:
        return b"", []
    by_a = alen <= blen  # rows for prefixes of a, bits over b; else the other way round
    masks = _masks(b, a) if by_a else _masks(a, b)
    rows = list(_rows(a, masks, blen) if by_a else _rows(b, masks, alen))
    idx = rows[-1].bit_count()
    result = bytearray(idx)
    ranges: list[Range] = []
    unset = alen  # Redis marks "no range open" with arange_start == alen
    a_start = a_end = b_start = b_end = unset
    i, j = alen, blen
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if a_start == unset:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:  # contiguous: the range grows backwards
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            emit = a_start != unset
            # Redis steps to (i-1, j) when LCS(i-1, j) > LCS(i, j-1), that is
            # when row i grows at j; else to (i, j-1). Both keep the length.
            if by_a:
                # j-1 while row i does not grow and the bytes differ: to the
                # highest j' <= j where it grows or b[j'-1] == a[i-1].
                top = ((rows[i] | masks[a[i - 1]]) & ((1 << j) - 1)).bit_length()
                if top == j:
                    i -= 1
                else:
                    j = top
            else:
                below = (1 << i) - 1
                here, before = rows[j] & below, rows[j - 1] & below
                if here.bit_count() == before.bit_count():  # row i does not grow at j
                    j -= 1
                else:
                    # i-1 while row i grows at j and the bytes differ: going down,
                    # the growth stops at the highest bit where columns j and j-1
                    # differ, a match stops it one above b[j-1]'s highest position.
                    i = max((here ^ before).bit_length() - 1, (masks[b[j - 1]] & below).bit_length())
        if emit:
            ranges.append((a_start, a_end, b_start, b_end))
            a_start = unset
    return bytes(result), ranges
