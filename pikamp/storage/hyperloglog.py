"""HyperLogLog keys: string values in Redis' own HLL format (pikamp.hll), so
GET / SET / DUMP-style copies between pikamp and Redis carry them unchanged.

Reads and writes go through pikamp.storage.strings; a PFADD or PFMERGE keeps
the key's TTL, as Redis edits the string in place.
"""
from __future__ import annotations

import itertools

from pikamp import hll
from pikamp.errors import RespError
from pikamp.storage import strings
from pikamp.storage.database import Database

NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
CORRUPTED = "INVALIDOBJ Corrupted HLL object detected"


def _read(db: Database, key: bytes) -> tuple[bytes | None, bytes | None]:
    """(meta record, HLL value) of ``key``; (None, None) if absent. WRONGTYPE
    for another type, or for a string that is not an HLL."""
    raw = strings.lookup(db, key)
    if raw is None:
        return None, None
    value = strings.value_of(db, key, raw)
    try:
        hll.validate(value)
    except hll.HllInvalid:
        raise RespError(NOT_HLL) from None
    return raw, value


def pf_add(db: Database, key: bytes, elements: list[bytes], sparse_max_bytes: int) -> int:
    """PFADD: 1 if the key was created or a register changed, else 0."""
    raw, value = _read(db, key)
    created = value is None
    if value is None:
        value = hll.new_sparse()
    try:
        value, changed = hll.add(value, elements, sparse_max_bytes)
    except hll.HllCorrupted as e:
        # As Redis: the elements added before the corruption was found stay.
        if e.partial is not None:
            strings.replace_value(db, key, hll.invalidate_cache(e.partial), raw)
        raise RespError(CORRUPTED) from None
    if not (created or changed):
        return 0
    strings.replace_value(db, key, hll.invalidate_cache(value), raw)
    return 1


def pf_count(db: Database, keys: list[bytes], store_cache: bool) -> int:
    """PFCOUNT: the estimated cardinality of the union of ``keys`` (missing
    keys count as empty). With one key, a stale cached cardinality is
    recomputed and, when ``store_cache`` (a writable master), stored back, as
    Redis does."""
    try:
        if len(keys) == 1:
            raw, value = _read(db, keys[0])
            if value is None:
                return 0
            card, updated = hll.count_cached(value)
            if updated is not None and store_cache:
                strings.replace_value(db, keys[0], updated, raw)
            return card
        regs = bytearray(hll.REGISTERS)
        for key in keys:
            value = _read(db, key)[1]
            if value is not None:
                hll.merge_max(regs, value)
        return hll.count_registers(regs)
    except hll.HllCorrupted:
        raise RespError(CORRUPTED) from None


def pf_merge(db: Database, dest: bytes, sources: list[bytes], sparse_max_bytes: int) -> None:
    """PFMERGE: the union of ``dest`` and ``sources`` stored at ``dest``
    (created if missing). As Redis 7.0, the result is dense if any input was
    dense, else it stays sparse while it fits."""
    raw, target = _read(db, dest)
    regs = bytearray(hll.REGISTERS)
    dense = False
    try:
        # Each key checked, then merged, in turn (as Redis: a corrupted key
        # errs before a later key of another type is looked at).
        for value in itertools.chain([target], (_read(db, key)[1] for key in sources)):
            if value is not None:
                dense = dense or hll.is_dense(value)
                hll.merge_max(regs, value)
        value = hll.store_registers(target if target is not None else hll.new_sparse(), regs, dense,
                                    sparse_max_bytes)  # its cache invalidated
    except hll.HllCorrupted:
        raise RespError(CORRUPTED) from None
    strings.replace_value(db, dest, value, raw)


def pf_debug(db: Database, sub: bytes, key: bytes) -> object:
    """PFDEBUG GETREG / DECODE / ENCODING / TODENSE of an existing HLL
    (GETREG and TODENSE make a sparse one dense, keeping its TTL)."""
    raw = db.lookup(key)
    if raw is None:
        raise RespError("ERR The specified key does not exist")
    raw, value = _read(db, key)
    if sub in (b"getreg", b"todense"):
        converted = False
        if not hll.is_dense(value):
            try:
                value = hll.to_dense(value)
            except hll.HllCorrupted:
                raise RespError(CORRUPTED) from None
            with db.unsignalled():  # (Redis changes the encoding without signalModifiedKey)
                strings.replace_value(db, key, value, raw)
            converted = True
        if sub == b"todense":
            return 1 if converted else 0
        return list(hll.registers(value))
    if sub == b"decode":
        if hll.is_dense(value):
            raise RespError("ERR HLL encoding is not sparse")
        return hll.describe_sparse(value)
    return "dense" if hll.is_dense(value) else "sparse"
