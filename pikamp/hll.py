"""Redis 7.0's HyperLogLog string format and algorithms (src/hyperloglog.c of
Redis 7.0.15), as pure functions on ``bytes``: a value PFADDed here is byte
for byte what Redis stores for the same PFADDs, so GET / SET copies between
pikamp and Redis carry HLLs unchanged.

Format: a 16-byte header (b"HYLL", encoding 0 dense / 1 sparse, 3 unused
bytes, the cached cardinality as 8 bytes little endian whose top bit, byte
15's MSB, marks the cache invalid), then either 12288 bytes of 16384 6-bit
registers packed LSB first (dense), or run-length opcodes (sparse):
ZERO 00xxxxxx (1..64 zero registers), XZERO 01xxxxxx yyyyyyyy (1..16384 zero
registers) and VAL 1vvvvvxx (1..4 registers of value 1..32).

Reference: Redis 7.0.15 as Debian ships it (7.0.15-1~deb12u*), which carries
the CVE-2025-32023 fix of 7.2.10 / 7.4.5: a sparse opcode running past
register 16383 makes the value corrupted everywhere (plain 7.0.15's hllMerge
and hllSparseToDense still accepted opcodes after exactly 16384 registers).
Here a sparse value decodes iff its opcodes cover exactly 16384 registers.

Internally a sparse value is worked on as a list of opcodes (ints: the byte of
a ZERO or VAL, the two bytes big endian of an XZERO) with, beside it, the
index of the first register each covers; an update only rewrites the few
opcodes around its register (exactly as hllSparseSet does in place), so the
other opcodes' starts do not move.
"""
from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from itertools import accumulate

__all__ = [
    "HllInvalid", "HllCorrupted", "REGISTERS", "HEADER_SIZE", "DENSE_SIZE",
    "murmurhash64a", "pat_len", "new_sparse", "validate", "is_dense", "invalidate_cache",
    "add", "count_cached", "registers", "merge_max", "count_registers",
    "store_registers",
]

P = 14                      # HLL_P
REGISTERS = 1 << P          # HLL_REGISTERS
P_MASK = REGISTERS - 1
Q = 64 - P                  # HLL_Q
BITS = 6
HEADER_SIZE = 16
PAYLOAD_SIZE = (REGISTERS * BITS + 7) // 8          # 12288
DENSE_SIZE = HEADER_SIZE + PAYLOAD_SIZE             # HLL_DENSE_SIZE
DENSE = 0
SPARSE = 1
MAX_ENCODING = 1
MAGIC = b"HYLL"
SEED = 0xADC83B19
ALPHA_INF = 0.721347520444481703680  # HLL_ALPHA_INF, 0.5/ln(2)

SPARSE_VAL_MAX_VALUE = 32
SPARSE_VAL_MAX_LEN = 4
SPARSE_ZERO_MAX_LEN = 64
SPARSE_XZERO_MAX_LEN = 16384

_M = 0xC6A4A7935BD1E995
_MASK64 = (1 << 64) - 1
_PROMOTE = 2                # internal hllSparseSet outcome: goto promote


class HllInvalid(Exception):
    """Not a valid HLL string: WRONGTYPE Key is not a valid HyperLogLog string value."""


class HllCorrupted(Exception):
    """A sparse encoding that does not decode to 16384 registers:
    INVALIDOBJ Corrupted HLL object detected.

    ``partial`` is, for add(), the value as Redis leaves it in the keyspace
    (it edits in place: the elements added before the failing one stay, with
    the cache invalidated if a sparse register was updated), or None when
    nothing was modified."""

    def __init__(self, partial: bytes | None = None) -> None:
        super().__init__("Corrupted HLL object detected")
        self.partial = partial


# ----------------------------------------------------------------- hashing

def murmurhash64a(data: bytes, seed: int = SEED) -> int:
    """MurmurHash64A as in Redis (little-endian 8-byte reads, then the tail)."""
    n = len(data)
    h = (seed ^ (n * _M)) & _MASK64
    n8 = n - (n & 7)
    for i in range(0, n8, 8):
        k = int.from_bytes(data[i:i + 8], "little")
        k = (k * _M) & _MASK64
        k ^= k >> 47
        k = (k * _M) & _MASK64
        h ^= k
        h = (h * _M) & _MASK64
    if n & 7:
        h ^= int.from_bytes(data[n8:], "little")
        h = (h * _M) & _MASK64
    h ^= h >> 47
    h = (h * _M) & _MASK64
    h ^= h >> 47
    return h


def pat_len(element: bytes) -> tuple[int, int]:
    """hllPatLen: (register index, length of the 000..1 pattern, 1..Q+1)."""
    h = murmurhash64a(element)
    index = h & P_MASK
    h = (h >> P) | (1 << Q)
    return index, (h & -h).bit_length()


# ------------------------------------------------------------ header, misc

def new_sparse() -> bytes:
    """createHLLObject: an empty sparse HLL (XZERO opcodes covering all
    registers), cached cardinality 0 and valid. PFADD and PFMERGE store it
    with the cache invalidated (a PFADD of a missing key counts as an
    update even with no elements)."""
    body = bytearray()
    left = REGISTERS
    while left:
        run = min(left, SPARSE_XZERO_MAX_LEN)
        body += (0x4000 | (run - 1)).to_bytes(2, "big")
        left -= run
    return MAGIC + bytes([SPARSE, 0, 0, 0]) + bytes(8) + bytes(body)


def validate(value: bytes) -> None:
    """isHLLObjectOrReply's checks on a string value; raises HllInvalid."""
    if len(value) < HEADER_SIZE or value[:4] != MAGIC or value[4] > MAX_ENCODING:
        raise HllInvalid()
    if value[4] == DENSE and len(value) != DENSE_SIZE:
        raise HllInvalid()


def is_dense(value: bytes) -> bool:
    """Whether a (validated) HLL uses the dense encoding."""
    return value[4] == DENSE


def invalidate_cache(value: bytes) -> bytes:
    """HLL_INVALIDATE_CACHE: byte 15 |= 0x80."""
    if value[15] & 0x80:
        return value
    out = bytearray(value)
    out[15] |= 0x80
    return bytes(out)


# ---------------------------------------------------------- dense registers

def _dense_set(buf: bytearray, index: int, count: int) -> bool:
    """hllDenseSet on a whole dense value: raise register ``index`` to
    ``count`` if lower; True if it changed."""
    bit = index * BITS
    b = HEADER_SIZE + (bit >> 3)
    fb = bit & 7
    if fb > 2:
        old = ((buf[b] >> fb) | (buf[b + 1] << (8 - fb))) & 63
    else:
        old = (buf[b] >> fb) & 63
    if count <= old:
        return False
    buf[b] = (buf[b] & ~(63 << fb) & 0xFF) | ((count << fb) & 0xFF)
    if fb > 2:
        fb8 = 8 - fb
        buf[b + 1] = (buf[b + 1] & ~(63 >> fb8) & 0xFF) | (count >> fb8)
    return True


def _table(f) -> bytes:
    return bytes(f(x) & 0xFF for x in range(256))


_T_AND63 = _table(lambda x: x & 63)
_T_SHR6 = _table(lambda x: x >> 6)
_T_SHR4 = _table(lambda x: x >> 4)
_T_SHR2 = _table(lambda x: x >> 2)
_T_AND15_SHL2 = _table(lambda x: (x & 15) << 2)
_T_AND3_SHL4 = _table(lambda x: (x & 3) << 4)
_T_AND3_SHL6 = _table(lambda x: (x & 3) << 6)
_T_AND15_SHL4 = _table(lambda x: (x & 15) << 4)
_T_SHL2 = _table(lambda x: x << 2)
_LOW7 = bytes(range(128))


def _or(a: bytes, b: bytes) -> bytes:
    """Bytewise OR of two equal-length byte strings."""
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(len(a), "little")


def _dense_to_raw(payload: bytes) -> bytearray:
    """The 16384 registers (one byte each) of a 12288-byte dense payload:
    every 3 bytes hold 4 registers, LSB first (HLL_DENSE_GET_REGISTER)."""
    b0, b1, b2 = payload[0::3], payload[1::3], payload[2::3]
    raw = bytearray(REGISTERS)
    raw[0::4] = b0.translate(_T_AND63)
    raw[1::4] = _or(b0.translate(_T_SHR6), b1.translate(_T_AND15_SHL2))
    raw[2::4] = _or(b1.translate(_T_SHR4), b2.translate(_T_AND3_SHL4))
    raw[3::4] = b2.translate(_T_SHR2)
    return raw


def _raw_to_dense(raw: bytes) -> bytes:
    """The 12288-byte dense payload of 16384 registers of value 0..63."""
    raw = bytes(raw)
    r0, r1, r2, r3 = raw[0::4], raw[1::4], raw[2::4], raw[3::4]
    out = bytearray(PAYLOAD_SIZE)
    out[0::3] = _or(r0, r1.translate(_T_AND3_SHL6))
    out[1::3] = _or(r1.translate(_T_SHR2), r2.translate(_T_AND15_SHL4))
    out[2::3] = _or(r2.translate(_T_SHR4), r3.translate(_T_SHL2))
    return bytes(out)



def _max_bytes(a: bytes, b: bytes) -> bytes:
    """Bytewise max of two equal-length byte strings (SWAR on big ints when
    every byte is < 128, which registers always are)."""
    if a.translate(None, _LOW7) or b.translate(None, _LOW7):
        return bytes(map(max, a, b))
    n = len(a)
    high = int.from_bytes(b"\x80" * n, "little")
    ia = int.from_bytes(a, "little")
    ib = int.from_bytes(b, "little")
    ge = (((ia | high) - ib) & high) >> 7      # 1 in each lane where a >= b
    mask = ge * 255
    return ((ia & mask) | (ib & ~mask)).to_bytes(n, "little")


# --------------------------------------------------------- sparse opcodes

def _span(op: int) -> int:
    """Registers covered by one opcode (ints as stored in _Sparse.ops)."""
    if op < 0x40:
        return op + 1                 # ZERO
    if op < 0x100:
        return (op & 3) + 1           # VAL
    return (op & 0x3FFF) + 1          # XZERO


_SPANS = [_span(op) for op in range(0x8000)]
_VAL_FILL = {op: bytes([((op >> 2) & 0x1F) + 1]) * ((op & 3) + 1) for op in range(0x80, 0x100)}
_XZERO_RE = re.compile(rb"[\x40-\x7f]")


def _val(value: int, run: int) -> int:
    return 0x80 | ((value - 1) << 2) | (run - 1)


def _zeros(run: int) -> int:
    """ZERO for up to 64 registers, else XZERO (as hllSparseSet picks)."""
    return run - 1 if run <= SPARSE_ZERO_MAX_LEN else 0x4000 | (run - 1)


def _sparse_histogram(value: bytes) -> tuple[list[int], bool]:
    """hllSparseRegHisto: (histogram, valid); valid iff the opcodes cover
    exactly 16384 registers (no opcode may run past the last one)."""
    hist = [0] * 64
    idx = 0
    for op, times in Counter(_Sparse(value).ops).items():
        run = _SPANS[op] * times
        if 0x80 <= op < 0x100:
            hist[((op >> 2) & 0x1F) + 1] += run
        else:
            hist[0] += run
        idx += run
    return hist, idx == REGISTERS


def _sparse_merge(into: bytearray, value: bytes) -> None:
    """hllMerge of a sparse value into raw registers; HllCorrupted if the
    opcodes do not decode to 16384 registers."""
    raw = _Sparse(value).to_raw()
    if raw is None:
        raise HllCorrupted()
    into[:] = _max_bytes(bytes(into), bytes(raw))


class _Sparse:
    """A sparse HLL being updated: header, opcodes and their first registers."""

    __slots__ = ("header", "ops", "starts", "length", "trunc")

    def __init__(self, value: bytes) -> None:
        self.header = bytearray(value[:HEADER_SIZE])
        payload = bytes(value[HEADER_SIZE:])
        n = len(payload)
        ops: list[int] = []
        p = 0
        self.trunc = False
        # Mostly one-byte opcodes: copy the runs between XZEROs in bulk.
        while p < n:
            m = _XZERO_RE.search(payload, p)
            if m is None:
                ops.extend(payload[p:])
                break
            q = m.start()
            ops.extend(payload[p:q])
            if q + 1 < n:
                ops.append((payload[q] << 8) | payload[q + 1])
            else:       # cut by the end of the string (only in crafted ones)
                ops.append(payload[q] << 8)
                self.trunc = True
            p = q + 2
        self.ops = ops
        self.starts = [0]
        self.starts += accumulate(map(_SPANS.__getitem__, ops[:-1]))
        if not ops:
            self.starts = []
        self.length = len(value)        # sdslen: header included

    def serialize(self) -> bytes:
        ops = self.ops
        parts = []
        p = 0
        for i in [i for i, op in enumerate(ops) if op > 0xFF]:
            parts.append(bytes(ops[p:i]))
            parts.append(ops[i].to_bytes(2, "big"))
            p = i + 1
        parts.append(bytes(ops[p:]))
        body = b"".join(parts)
        if self.trunc:
            body = body[:-1]
        return bytes(self.header) + body

    def total(self) -> int:
        """Registers covered by all the opcodes."""
        return self.starts[-1] + _SPANS[self.ops[-1]] if self.ops else 0

    def to_raw(self) -> bytearray | None:
        """The registers, or None unless the opcodes cover exactly 16384
        (hllSparseToDense / hllMerge: any opcode running past the last
        register makes the value corrupted)."""
        if self.total() != REGISTERS:
            return None
        raw = bytearray(REGISTERS)
        fill = _VAL_FILL
        for op, start in zip(self.ops, self.starts):
            if 0x80 <= op < 0x100:
                raw[start:start + (op & 3) + 1] = fill[op]
        return raw

    def to_dense(self) -> bytearray | None:
        """hllSparseToDense: the dense value (header copied, encoding 0), or
        None if the sparse encoding is corrupted."""
        raw = self.to_raw()
        if raw is None:
            return None
        header = bytearray(self.header)
        header[4] = DENSE
        return header + _raw_to_dense(raw)

    def set(self, index: int, count: int, sparse_max_bytes: int) -> int:
        """hllSparseSet up to its promotion: 1 updated, 0 not needed,
        -1 invalid encoding, _PROMOTE when the dense encoding is needed."""
        if count > SPARSE_VAL_MAX_VALUE:
            return _PROMOTE
        ops, starts = self.ops, self.starts
        i = bisect_right(starts, index) - 1
        if i < 0 or index >= self.total():
            return -1                   # ran past the end: invalid format
        op = ops[i]
        first = starts[i]
        is_val = 0x80 <= op < 0x100
        is_xzero = op >= 0x100
        runlen = _span(op)
        prev = i - 1 if i > 0 else None
        if is_val:
            if ((op >> 2) & 0x1F) + 1 >= count:          # case A
                return 0
            if runlen == 1:                               # case B
                ops[i] = _val(count, 1)
                return self._updated(prev)
        elif not is_xzero and runlen == 1:                # case C
            ops[i] = _val(count, 1)
            return self._updated(prev)
        # Case D: split the opcode into up to three.
        last = first + runlen - 1
        seq: list[int] = []
        seq_starts: list[int] = []
        if is_val:
            cur = ((op >> 2) & 0x1F) + 1
            if index != first:
                seq.append(_val(cur, index - first))
                seq_starts.append(first)
            seq.append(_val(count, 1))
            seq_starts.append(index)
            if index != last:
                seq.append(_val(cur, last - index))
                seq_starts.append(index + 1)
        else:
            if index != first:
                seq.append(_zeros(index - first))
                seq_starts.append(first)
            seq.append(_val(count, 1))
            seq_starts.append(index)
            if index != last:
                seq.append(_zeros(last - index))
                seq_starts.append(index + 1)
        seqlen = sum(2 if o >= 0x100 else 1 for o in seq)
        deltalen = seqlen - (2 if is_xzero else 1)
        if deltalen > 0 and self.length + deltalen > sparse_max_bytes:
            return _PROMOTE
        if self.trunc and i == len(ops) - 1:
            # The cut XZERO is rewritten: Redis' string ends one byte short
            # of the new sequence (sdsIncrLen by seqlen - 2).
            if seq[-1] < 0x100:
                seq.pop()
                seq_starts.pop()
                self.trunc = False
        ops[i:i + 1] = seq
        starts[i:i + 1] = seq_starts
        self.length += deltalen
        return self._updated(prev)

    def _updated(self, prev: int | None) -> int:
        """hllSparseSet step 4: merge adjacent VAL opcodes of equal value,
        scanning up to 5 opcodes from the one before the update."""
        ops, starts = self.ops, self.starts
        p = prev if prev is not None else 0
        scan = 5
        while p < len(ops) and scan > 0:
            scan -= 1
            op = ops[p]
            if not 0x80 <= op < 0x100:
                p += 1
                continue
            if p + 1 < len(ops):
                nxt = ops[p + 1]
                if 0x80 <= nxt < 0x100 and (op >> 2) == (nxt >> 2):
                    run = (op & 3) + (nxt & 3) + 2
                    if run <= SPARSE_VAL_MAX_LEN:
                        ops[p] = _val(((op >> 2) & 0x1F) + 1, run)
                        del ops[p + 1]
                        del starts[p + 1]
                        self.length -= 1
                        continue
            p += 1
        self.header[15] |= 0x80        # HLL_INVALIDATE_CACHE
        return 1


# -------------------------------------------------------------------- PFADD

def add(value: bytes, elements: list[bytes], sparse_max_bytes: int) -> tuple[bytes, bool]:
    """PFADD's element loop on a validated HLL: (new value, whether any
    register changed). When changed the cache is invalidated. A sparse HLL is
    promoted to dense when a register needs a value > 32 or when its length
    would exceed ``sparse_max_bytes``. HllCorrupted (with ``partial``) for a
    sparse encoding Redis finds invalid on the way."""
    if value[4] == DENSE:
        buf = bytearray(value)
        changed = False
        for element in elements:
            index, count = pat_len(element)
            if _dense_set(buf, index, count):
                changed = True
        if not changed:
            return value, False
        buf[15] |= 0x80
        return bytes(buf), True
    sparse = _Sparse(value)
    dense: bytearray | None = None
    changed = False
    for element in elements:
        index, count = pat_len(element)
        if dense is not None:
            if _dense_set(dense, index, count):
                changed = True
            continue
        r = sparse.set(index, count, sparse_max_bytes)
        if r == 1:
            changed = True
        elif r == _PROMOTE:
            dense = sparse.to_dense()
            if dense is None:
                raise HllCorrupted(sparse.serialize() if changed else None)
            _dense_set(dense, index, count)    # always an update here
            changed = True
        elif r == -1:
            raise HllCorrupted(sparse.serialize() if changed else None)
    if not changed:
        return value, False
    out = dense if dense is not None else bytearray(sparse.serialize())
    out[15] |= 0x80
    return bytes(out), True


# ------------------------------------------------------------------ PFCOUNT

def _tau(x: float) -> float:
    """hllTau (Ertl, arXiv:1702.01284)."""
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        z_prime = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if z_prime == z:
            return z / 3


def _sigma(x: float) -> float:
    """hllSigma (Ertl, arXiv:1702.01284)."""
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prime = z
        z += x * y
        y += y
        if z_prime == z:
            return z


def _estimate(hist: list[int]) -> int:
    """hllCount's estimator on a register histogram; the uint64 it returns
    (llroundl into a double, then cast)."""
    m = float(REGISTERS)
    z = m * _tau((m - hist[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += hist[j]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    e = ALPHA_INF * m * m / z if z != 0.0 else math.inf
    if not e < 9223372036854775808.0:     # llroundl overflow (x86-64: LLONG_MIN)
        return 1 << 63
    f = math.floor(e)
    r = int(f) + (1 if e - f >= 0.5 else 0)  # round half away from zero
    return int(float(r))


def _to_reply(card: int) -> int:
    """The uint64 as addReplyLongLong prints it."""
    return card - (1 << 64) if card >= 1 << 63 else card


def _raw_histogram(raw: bytes) -> list[int]:
    """Register histogram of raw registers (values 0..63)."""
    return [raw.count(v) for v in range(64)]


def count_cached(value: bytes) -> tuple[int, bytes | None]:
    """Single-key PFCOUNT on a validated HLL: (cardinality, None) from a valid
    cache, else (cardinality, the value with the cache bytes 8..15 set) for
    the caller to store. HllCorrupted for an invalid sparse encoding."""
    if not value[15] & 0x80:
        return int.from_bytes(value[8:16], "little"), None
    if value[4] == DENSE:
        hist = _raw_histogram(_dense_to_raw(value[HEADER_SIZE:DENSE_SIZE]))
    else:
        hist, valid = _sparse_histogram(value)
        if not valid:
            raise HllCorrupted()
    card = _estimate(hist)
    return _to_reply(card), value[:8] + card.to_bytes(8, "little") + value[16:]


def registers(value: bytes) -> bytearray:
    """The 16384 registers of a validated HLL, one byte each (HLL_RAW);
    HllCorrupted for an invalid sparse encoding."""
    if value[4] == DENSE:
        return _dense_to_raw(value[HEADER_SIZE:DENSE_SIZE])
    raw = bytearray(REGISTERS)
    _sparse_merge(raw, value)
    return raw


def to_dense(value: bytes) -> bytes:
    """hllSparseToDense of a validated sparse HLL (header and cache kept);
    HllCorrupted if its opcodes do not cover exactly 16384 registers."""
    dense = _Sparse(value).to_dense()
    if dense is None:
        raise HllCorrupted()
    return bytes(dense)


def describe_sparse(value: bytes) -> bytes:
    """PFDEBUG DECODE: the opcodes of a sparse HLL as Redis prints them
    ("z:<run>" ZERO, "Z:<run>" XZERO, "v:<value>,<run>" VAL)."""
    out = []
    p, n = HEADER_SIZE, len(value)
    while p < n:
        op = value[p]
        if op < 0x40:
            out.append(b"z:%d" % ((op & 0x3F) + 1))
            p += 1
        elif op < 0x80:
            nxt = value[p + 1] if p + 1 < n else 0  # (Redis reads the byte past the end as it is)
            out.append(b"Z:%d" % ((((op & 0x3F) << 8) | nxt) + 1))
            p += 2
        else:
            out.append(b"v:%d,%d" % (((op >> 2) & 0x1F) + 1, (op & 3) + 1))
            p += 1
    return b" ".join(out)


def merge_max(into: bytearray, value: bytes) -> None:
    """hllMerge: into[i] = max(into[i], register i of ``value``) for a
    validated HLL; HllCorrupted for an invalid sparse encoding (``into`` may
    then be partly merged, as in Redis, which replies an error anyway)."""
    if value[4] == DENSE:
        raw = _dense_to_raw(value[HEADER_SIZE:DENSE_SIZE])
        into[:] = _max_bytes(bytes(into), bytes(raw))
    else:
        _sparse_merge(into, value)


def count_registers(regs: bytearray) -> int:
    """hllCount on 16384 raw registers (multi-key PFCOUNT)."""
    return _to_reply(_estimate(_raw_histogram(bytes(regs))))


# ------------------------------------------------------------------ PFMERGE

def store_registers(value: bytes, regs: bytearray, dense: bool, sparse_max_bytes: int) -> bytes:
    """PFMERGE's write step: raise the registers of the destination ``value``
    (its current HLL, or new_sparse() if missing) to ``regs``, converting it
    to dense first when ``dense`` (some input was dense), else setting each
    non-zero register with hllSparseSet in index order (which may promote);
    the cache is invalidated, as Redis 7.0 does (7.2 and 7.4 do the same:
    their pfmergeCommand is unchanged)."""
    if value[4] == SPARSE and dense:
        converted = _Sparse(value).to_dense()
        if converted is None:
            raise HllCorrupted()
        value = bytes(converted)
    if value[4] == DENSE:
        cur = _dense_to_raw(value[HEADER_SIZE:DENSE_SIZE])
        merged = _max_bytes(bytes(cur), bytes(regs))
        return invalidate_cache(value[:HEADER_SIZE] + _raw_to_dense(merged))
    sparse = _Sparse(value)
    for j in range(REGISTERS):
        v = regs[j]
        if not v:
            continue
        r = sparse.set(j, v, sparse_max_bytes)
        if r == _PROMOTE:
            converted = sparse.to_dense()
            if converted is None:       # Redis ignores the failure here
                continue
            cur = _dense_to_raw(bytes(converted[HEADER_SIZE:]))
            tail = _max_bytes(bytes(cur[j:]), bytes(regs[j:]))
            cur[j:] = tail
            return invalidate_cache(bytes(converted[:HEADER_SIZE]) + _raw_to_dense(cur))
    return invalidate_cache(sparse.serialize())
