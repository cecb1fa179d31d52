"""String values: stored inline in the meta record (no data entries).

Each function does one command's storage work: the lookup (lazy expiry,
WRONGTYPE), the new value, and the write through ``db.put_meta`` / ``db.delete``
so that DBSIZE and the expiry index stay right. Every check comes before the
first write, so a failed command leaves nothing behind.

Where Redis keeps the TTL (APPEND, SETRANGE, INCR*, SETBIT) the new value is
stored with the old record's expiry; where it drops it (SET, GETSET, MSET) the
caller passes the new expiry.
"""
from __future__ import annotations

from pikamp.errors import NOT_FLOAT, OVERFLOW, STRING_TOO_LONG, WRONGTYPE, RespError
from pikamp.numbers import add_long_doubles, parse_int, parse_long_double
from pikamp.storage import codec
from pikamp.storage.codec import STRING
from pikamp.storage.database import Database

NAN_OR_INFINITY = "ERR increment would produce NaN or Infinity"

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


# -- reads and plain writes ----------------------------------------------------
def get(db: Database, key: bytes) -> bytes | None:
    """The string value of ``key``; None if absent; WRONGTYPE for other types."""
    raw = db.lookup_type(key, STRING)
    return None if raw is None else raw[codec.HEADER_LEN:]


def put(db: Database, key: bytes, value: bytes, expire_ms: int, old: bytes | None) -> None:
    """Store a string over ``old`` (the key's live meta record or None)."""
    db.put_meta(key, codec.encode_string(value, expire_ms), old)


def lookup(db: Database, key: bytes) -> bytes | None:
    """The live string record of ``key`` (None if absent; WRONGTYPE for other types)."""
    return db.lookup_type(key, STRING)


def value_of(raw: bytes) -> bytes:
    """The value held by a string record from ``lookup``."""
    return codec.string_value(raw)


def replace_value(db: Database, key: bytes, value: bytes, old: bytes | None) -> None:
    """Store a new value for ``key``, keeping the expiry of ``old`` (None: a new key)."""
    put(db, key, value, 0 if old is None else codec.meta_expire(old), old)


def get_many(db: Database, keys: list[bytes]) -> list[bytes | None]:
    """MGET: each key's string value; None for a missing key or another type."""
    out: list[bytes | None] = []
    for key in keys:
        raw = db.lookup(key)
        out.append(raw[codec.HEADER_LEN:] if raw is not None and raw[0] == STRING else None)
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
        if old[0] != STRING:
            raise RespError(WRONGTYPE)
        previous = codec.string_value(old)
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
    db.delete(key, old)
    return codec.string_value(old)


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
    if codec.string_value(old) != value:
        return -1
    db.delete(key, old)
    return 1


# -- in-place edits (TTL kept) ---------------------------------------------------
def append(db: Database, key: bytes, suffix: bytes, max_len: int) -> int:
    """APPEND: the new length. A missing key is created, even with an empty suffix."""
    old = lookup(db, key)
    value = b"" if old is None else codec.string_value(old)
    if old is not None and len(value) + len(suffix) > max_len:
        raise RespError(STRING_TOO_LONG)
    replace_value(db, key, value + suffix, old)
    return len(value) + len(suffix)


def strlen(db: Database, key: bytes) -> int:
    """STRLEN: 0 for a missing key."""
    value = get(db, key)
    return 0 if value is None else len(value)


def set_range(db: Database, key: bytes, offset: int, part: bytes, max_len: int) -> int:
    """SETRANGE: overwrite from ``offset`` (zero-padding a gap); the new length.

    An empty ``part`` writes nothing, not even a missing key, and skips the size check.
    """
    old = lookup(db, key)
    value = b"" if old is None else codec.string_value(old)
    if not part:
        return len(value)
    end = offset + len(part)
    if end > max_len:
        raise RespError(STRING_TOO_LONG)
    if offset > len(value):
        value += bytes(offset - len(value))
    new = value[:offset] + part + value[end:]
    replace_value(db, key, new, old)
    return len(new)


def get_range(db: Database, key: bytes, start: int, end: int) -> bytes:
    """GETRANGE: bytes ``start``..``end`` inclusive, negative from the end, clamped."""
    value = get(db, key)
    if not value:
        return b""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    start = max(start + n if start < 0 else start, 0)
    end = min(max(end + n if end < 0 else end, 0), n - 1)
    return value[start : end + 1] if start <= end else b""


def incr_by(db: Database, key: bytes, delta: int) -> int:
    """INCRBY and friends: the new value (a missing key counts as 0)."""
    old = lookup(db, key)
    result = delta + (0 if old is None else parse_int(codec.string_value(old)))
    if not _I64_MIN <= result <= _I64_MAX:
        raise RespError(OVERFLOW)
    replace_value(db, key, b"%d" % result, old)
    return result


def incr_by_float(db: Database, key: bytes, increment: bytes) -> bytes:
    """INCRBYFLOAT: the new value as stored, computed in C long double as Redis does."""
    old = lookup(db, key)
    current = parse_long_double(b"0" if old is None else codec.string_value(old))
    incr = parse_long_double(increment)
    if current is None or incr is None:
        raise RespError(NOT_FLOAT)
    result = add_long_doubles(current, incr)
    if result is None:
        raise RespError(NAN_OR_INFINITY)
    replace_value(db, key, result, old)
    return result
