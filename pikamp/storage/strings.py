"""String values: up to INLINE_MAX bytes inline in the meta record; longer
ones in CHUNK-byte chunks in the data CF under a version (codec.CHUNKED), so
that APPEND, SETRANGE, GETRANGE, STRLEN, GETBIT/SETBIT and ranged BITCOUNT
cost what they touch, not the whole value, and DEL stays one range delete.

Each function does one command's storage work: the lookup (lazy expiry,
WRONGTYPE), the new value, and the write through ``db.put_meta`` / ``db.delete``
so that DBSIZE and the expiry index stay right. Every check comes before the
first write, so a failed command leaves nothing behind. Chunks are read with
point reads (which see this turn's uncommitted writes), never an iterator,
so a command stays inside one write batch.

Where Redis keeps the TTL (APPEND, SETRANGE, INCR*, SETBIT) the new value is
stored with the old record's expiry; where it drops it (SET, GETSET, MSET) the
caller passes the new expiry.
"""
from __future__ import annotations

from pikamp.errors import NOT_FLOAT, NOT_INTEGER, OVERFLOW, STRING_TOO_LONG, WRONGTYPE, RespError
from pikamp.numbers import add_long_doubles, parse_int, parse_long_double
from pikamp.storage import codec
from pikamp.storage.codec import CHUNK, CHUNKED, HEADER_LEN, STRING
from pikamp.storage.database import Database
from pikamp.storage.engine import DATA

NAN_OR_INFINITY = "ERR increment would produce NaN or Infinity"

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1

# Longest value kept inline. Below it a whole rewrite per edit costs less than
# the chunk reads; above it an edit of a few bytes no longer rewrites the
# whole value (benchmarks/big_values.py).
INLINE_MAX = 4 * CHUNK


# -- the two layouts ---------------------------------------------------------
def is_string(raw: bytes) -> bool:
    """Whether a meta record holds a string (inline or chunked)."""
    return codec.logical_type(raw) == STRING


def length(raw: bytes) -> int:
    """Length of the string held by the meta record ``raw``."""
    return len(raw) - HEADER_LEN if raw[0] == STRING else codec.chunked_length(raw)


def read(db: Database, key: bytes, raw: bytes, start: int, end: int) -> bytes:
    """Bytes ``start`` to ``end`` (exclusive, 0 <= start, end <= length) of the
    string ``key`` whose meta record is ``raw``; reads only the chunks involved."""
    if raw[0] == STRING:
        return raw[HEADER_LEN + start : HEADER_LEN + end]
    if start >= end:
        return b""
    prefix = codec.data_prefix(key, codec.meta_version(raw))
    first, last = start // CHUNK, (end - 1) // CHUNK
    chunks = db.engine.get_many(DATA, [codec.chunk_key(prefix, n) for n in range(first, last + 1)])
    parts = []
    for n, chunk in enumerate(chunks, first):
        want = min(CHUNK, end - n * CHUNK)  # bytes of this chunk up to ``end``
        if chunk is None:  # never written: zeros
            chunk = bytes(want)
        elif len(chunk) != want:
            chunk = chunk[:want] if len(chunk) > want else chunk + bytes(want - len(chunk))
        parts.append(chunk)
    skip = start - first * CHUNK
    if skip:
        parts[0] = parts[0][skip:]
    return parts[0] if len(parts) == 1 else b"".join(parts)


def value_of(db: Database, key: bytes, raw: bytes) -> bytes:
    """The whole value of the string ``key`` whose meta record is ``raw``."""
    if raw[0] == STRING:
        return raw[HEADER_LEN:]
    return read(db, key, raw, 0, codec.chunked_length(raw))


def _new_chunked(db: Database, key: bytes, length: int, expire_ms: int, old: bytes | None, value: bytes) -> bytes:
    """Store ``key`` as a new CHUNKED string of ``length`` bytes over ``old``,
    ``value`` as its first bytes (the rest zeros); returns its data prefix."""
    version = db.new_version()
    # put_meta range-deletes the old members: the chunks must come after it in the batch.
    db.put_meta(key, codec.encode_chunked(version, length, expire_ms), old)
    prefix = codec.data_prefix(key, version)
    put = db.engine.put
    for n, i in enumerate(range(0, len(value), CHUNK)):
        put(DATA, codec.chunk_key(prefix, n), value[i : i + CHUNK])
    return prefix


def _edit_chunks(db: Database, prefix: bytes, offset: int, part: bytes) -> None:
    """Write ``part`` at ``offset`` into the chunks under ``prefix``: chunks
    wholly overwritten are not read, the (at most two) partial ones are."""
    eng = db.engine
    end = offset + len(part)
    pos = 0
    for n in range(offset // CHUNK, (end - 1) // CHUNK + 1):
        base = n * CHUNK
        lo = max(offset, base) - base
        hi = min(end, base + CHUNK) - base
        piece = part[pos : pos + hi - lo]
        pos += hi - lo
        ck = codec.chunk_key(prefix, n)
        if lo or hi != CHUNK:
            current = eng.get(DATA, ck) or b""
            if len(current) < lo:
                current += bytes(lo - len(current))
            piece = current[:lo] + piece + current[hi:]
        eng.put(DATA, ck, piece)


def write_range(db: Database, key: bytes, old: bytes | None, offset: int, part: bytes) -> int:
    """Write ``part`` at ``offset`` of the string ``key`` (``old``: its live
    record, None for a new key), zero-filling any gap, keeping the TTL; the
    new length. A value that outgrows INLINE_MAX becomes chunked."""
    return write_ranges(db, key, old, [(offset, part)])


def write_ranges(db: Database, key: bytes, old: bytes | None, parts: list[tuple[int, bytes]]) -> int:
    """write_range of several (offset, part) pairs that do not overlap, at
    once: the meta record is written once at most; the new length."""
    current = 0 if old is None else length(old)
    new_len = max(current, max(offset + len(part) for offset, part in parts))
    expire = 0 if old is None else codec.meta_expire(old)
    if old is not None and old[0] == CHUNKED:
        version = codec.meta_version(old)
        prefix = codec.data_prefix(key, version)
        for offset, part in parts:
            if part:
                _edit_chunks(db, prefix, offset, part)
        if new_len != current:
            db.put_meta(key, codec.encode_chunked(version, new_len, expire), old)
        return new_len
    value = b"" if old is None else old[HEADER_LEN:]
    if new_len <= INLINE_MAX:
        buf = bytearray(value)
        buf.extend(bytes(new_len - len(buf)))
        for offset, part in parts:
            buf[offset : offset + len(part)] = part
        db.put_meta(key, codec.encode_string(buf, expire), old)  # header + buf: bytes again
        return new_len
    # Outgrows the inline layout: the old bytes become the first chunks.
    prefix = _new_chunked(db, key, new_len, expire, old, value)
    for offset, part in parts:
        if part:
            _edit_chunks(db, prefix, offset, part)
    return new_len


# -- reads and plain writes ----------------------------------------------------
def get(db: Database, key: bytes) -> bytes | None:
    """The string value of ``key``; None if absent; WRONGTYPE for other types."""
    raw = db.lookup_type(key, STRING)
    if raw is None:
        return None
    return raw[HEADER_LEN:] if raw[0] == STRING else value_of(db, key, raw)


def put(db: Database, key: bytes, value: bytes, expire_ms: int, old: bytes | None) -> None:
    """Store a string over ``old`` (the key's live meta record or None)."""
    if len(value) <= INLINE_MAX:
        db.put_meta(key, codec.encode_string(value, expire_ms), old)
    else:
        _new_chunked(db, key, len(value), expire_ms, old, value)


def lookup(db: Database, key: bytes) -> bytes | None:
    """The live string record of ``key`` (None if absent; WRONGTYPE for other types)."""
    return db.lookup_type(key, STRING)


def replace_value(db: Database, key: bytes, value: bytes, old: bytes | None) -> None:
    """Store a new value for ``key``, keeping the expiry of ``old`` (None: a new key)."""
    put(db, key, value, 0 if old is None else codec.meta_expire(old), old)


def get_many(db: Database, keys: list[bytes]) -> list[bytes | None]:
    """MGET: each key's string value; None for a missing key or another type."""
    out: list[bytes | None] = []
    for key in keys:
        raw = db.lookup(key)
        out.append(value_of(db, key, raw) if raw is not None and is_string(raw) else None)
    return out


def set_many(db: Database, pairs: list[bytes]) -> None:
    """MSET: ``pairs`` is key, value, key, value ...; any type is overwritten, TTLs drop."""
    for i in range(0, len(pairs), 2):
        key = pairs[i]
        put(db, key, pairs[i + 1], 0, db.lookup(key))


def set_many_if_none_exist(db: Database, pairs: list[bytes]) -> bool:
    """MSETNX: set every pair only if none of the keys exists."""
    if any(db.lookup(pairs[i]) is not None for i in range(0, len(pairs), 2)):
        return False
    set_many(db, pairs)
    return True


def set_value(
    db: Database,
    key: bytes,
    value: bytes,
    expire_ms: int,
    *,
    nx: bool = False,
    xx: bool = False,
    keep_ttl: bool = False,
    want_old: bool = False,
) -> tuple[bool, bytes | None]:
    """SET and its variants: store unless NX/XX forbid it. Any type is overwritten.

    Returns (written, the old string value if ``want_old``). With ``want_old``
    an existing key of another type is a WRONGTYPE error, as for SET ... GET.
    """
    old = db.lookup(key)
    previous = None
    if want_old and old is not None:
        if not is_string(old):
            raise RespError(WRONGTYPE)
        previous = value_of(db, key, old)
    if (nx and old is not None) or (xx and old is None):
        return False, previous
    if keep_ttl and old is not None:
        expire_ms = codec.meta_expire(old)
    put(db, key, value, expire_ms, old)
    return True, previous


def set_expire_at(db: Database, key: bytes, value: bytes, expire_ms: int) -> None:
    """PKSETEXAT: store with an absolute expiry; one already past deletes the key."""
    old = db.lookup(key)
    if expire_ms > db.clock.ms:
        put(db, key, value, expire_ms, old)
    elif old is not None:
        db.delete(key, old)


def get_del(db: Database, key: bytes) -> bytes | None:
    """GETDEL: the value, and the key is gone."""
    old = lookup(db, key)
    if old is None:
        return None
    value = value_of(db, key, old)
    db.delete(key, old)
    return value


def change_expire(db: Database, key: bytes, old: bytes, expire_ms: int) -> None:
    """GETEX on a live string: new expiry (0 = persist); a time already past deletes the key."""
    if expire_ms and expire_ms <= db.clock.ms:
        db.delete(key, old)
    elif expire_ms != codec.meta_expire(old):
        db.set_expire(key, old, expire_ms)


def delete_if_equal(db: Database, key: bytes, value: bytes) -> int:
    """DELVX (Pika): 1 deleted, 0 no such key, -1 the value differs (as Pika replies)."""
    old = lookup(db, key)
    if old is None:
        return 0
    if length(old) != len(value) or value_of(db, key, old) != value:
        return -1
    db.delete(key, old)
    return 1


# -- in-place edits (TTL kept) ---------------------------------------------------
def append(db: Database, key: bytes, suffix: bytes, max_len: int) -> int:
    """APPEND: the new length. A missing key is created, even with an empty suffix."""
    old = lookup(db, key)
    current = 0 if old is None else length(old)
    if old is not None and current + len(suffix) > max_len:
        raise RespError(STRING_TOO_LONG)
    return write_range(db, key, old, current, suffix)


def strlen(db: Database, key: bytes) -> int:
    """STRLEN: 0 for a missing key."""
    raw = lookup(db, key)
    return 0 if raw is None else length(raw)


def set_range(db: Database, key: bytes, offset: int, part: bytes, max_len: int) -> int:
    """SETRANGE: overwrite from ``offset`` (zero-padding a gap); the new length.

    An empty ``part`` writes nothing, not even a missing key, and skips the size check.
    """
    old = lookup(db, key)
    if not part:
        return 0 if old is None else length(old)
    if offset + len(part) > max_len:
        raise RespError(STRING_TOO_LONG)
    return write_range(db, key, old, offset, part)


def get_range(db: Database, key: bytes, start: int, end: int) -> bytes:
    """GETRANGE: bytes ``start``..``end`` inclusive, negative from the end, clamped."""
    raw = lookup(db, key)
    n = 0 if raw is None else length(raw)
    if not n:
        return b""
    if start < 0 and end < 0 and start > end:
        return b""
    start = max(start + n if start < 0 else start, 0)
    end = min(max(end + n if end < 0 else end, 0), n - 1)
    return read(db, key, raw, start, end + 1) if start <= end else b""  # type: ignore[arg-type]


def incr_by(db: Database, key: bytes, delta: int) -> int:
    """INCRBY and friends: the new value (a missing key counts as 0)."""
    old = lookup(db, key)
    if old is not None and old[0] == CHUNKED:  # far too long for a number
        raise RespError(NOT_INTEGER)
    result = delta + (0 if old is None else parse_int(old[HEADER_LEN:]))
    if not _I64_MIN <= result <= _I64_MAX:
        raise RespError(OVERFLOW)
    replace_value(db, key, b"%d" % result, old)
    return result


def incr_by_float(db: Database, key: bytes, increment: bytes) -> bytes:
    """INCRBYFLOAT: the new value as stored, computed in C long double as Redis does."""
    old = lookup(db, key)
    if old is not None and old[0] == CHUNKED:
        raise RespError(NOT_FLOAT)
    current = parse_long_double(b"0" if old is None else old[HEADER_LEN:])
    incr = parse_long_double(increment)
    if current is None or incr is None:
        raise RespError(NOT_FLOAT)
    result = add_long_doubles(current, incr)
    if result is None:
        raise RespError(NAN_OR_INFINITY)
    replace_value(db, key, result, old)
    return result
