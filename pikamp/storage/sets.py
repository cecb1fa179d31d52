"""Sets on disk.

Layout (pikamp.storage.codec): the meta record holds SET | expire | version |
count, so SCARD is O(1); each member is one entry of the data column family,
``codec.data_prefix(key, version) + member -> b""``. Scanning and random
sampling come from pikamp.storage.hashes, which works on any collection's entries.
"""
from __future__ import annotations

from pikamp.storage import collections as coll
from pikamp.storage.codec import SET
from pikamp.storage.collections import CollectionMeta, entries
from pikamp.storage.database import Database
from pikamp.storage.engine import DATA
from pikamp.storage.hashes import sample

Members = list[bytes]


def load(db: Database, key: bytes) -> CollectionMeta | None:
    """The live set at ``key`` (WRONGTYPE for another type), or None."""
    return coll.load(db, key, SET)


def add(db: Database, key: bytes, members: Members) -> int:
    """SADD: how many members were new."""
    meta = coll.load_or_new(db, key, SET)
    added = _add_to(db, meta, members)
    if added:
        meta.count += added
        meta.save(db)
    return added


def _add_to(db: Database, meta: CollectionMeta, members: Members) -> int:
    """Put members under ``meta``'s version; returns how many were not there (meta not saved)."""
    eng = db.engine
    prefix = meta.prefix
    added = 0
    if meta.exists:
        for m in members:
            sub = prefix + m
            if eng.get(DATA, sub) is None:  # sees this command's earlier puts too
                eng.put(DATA, sub, b"")
                added += 1
    else:  # a fresh version has no entries yet: only repeats within the call matter
        for m in dict.fromkeys(members):
            eng.put(DATA, prefix + m, b"")
            added += 1
    return added


def remove(db: Database, key: bytes, members: Members) -> int:
    """SREM: how many members were there. The key goes with its last member."""
    meta = coll.load(db, key, SET)
    if meta is None:
        return 0
    removed = _remove_from(db, meta, members)
    if removed:
        meta.count -= removed
        meta.save(db)
    return removed


def _remove_from(db: Database, meta: CollectionMeta, members: Members) -> int:
    eng = db.engine
    removed = 0
    for m in members:
        sub = meta.prefix + m
        if eng.get(DATA, sub) is not None:
            eng.delete(DATA, sub)
            removed += 1
    return removed


def card(db: Database, key: bytes) -> int:
    meta = coll.load(db, key, SET)
    return 0 if meta is None else meta.count


def contains(db: Database, key: bytes, members: Members) -> list[int]:
    """SMISMEMBER: 1 or 0 for each member."""
    meta = coll.load(db, key, SET)
    if meta is None:
        return [0] * len(members)
    get = db.engine.get
    prefix = meta.prefix
    return [0 if get(DATA, prefix + m) is None else 1 for m in members]


def members(db: Database, key: bytes) -> Members:
    """Every member, in byte order."""
    meta = coll.load(db, key, SET)
    return [] if meta is None else [m for m, _ in entries(db, meta)]


def random_members(db: Database, key: bytes, count: int, distinct: bool) -> Members:
    """SRANDMEMBER with a count: distinct members, or with repeats."""
    meta = coll.load(db, key, SET)
    if meta is None or count == 0:
        return []
    return [m for m, _ in sample(db, meta, count, distinct)]


def random_member(db: Database, key: bytes) -> bytes | None:
    meta = coll.load(db, key, SET)
    return None if meta is None else sample(db, meta, 1, True)[0][0]


def pop(db: Database, key: bytes, count: int) -> Members | None:
    """SPOP: remove and return ``count`` distinct random members; None if no such key."""
    meta = coll.load(db, key, SET)
    if meta is None:
        return None
    if count == 0:
        return []
    if count >= meta.count:
        popped = [m for m, _ in entries(db, meta)]
        meta.count = 0
    else:
        popped = [m for m, _ in sample(db, meta, count, True)]
        for m in popped:
            db.engine.delete(DATA, meta.prefix + m)
        meta.count -= len(popped)
    meta.save(db)  # a count of 0 deletes the key and drops its members in O(1)
    return popped


def move(db: Database, src: bytes, dst: bytes, member: bytes) -> int:
    """SMOVE, with Redis's order of checks (a missing source wins over a wrong-type destination)."""
    src_meta = coll.load(db, src, SET)
    if src_meta is None:
        return 0
    dst_meta = coll.load_or_new(db, dst, SET)
    sub = src_meta.prefix + member
    if db.engine.get(DATA, sub) is None:
        return 0
    if src == dst:
        return 1
    db.engine.delete(DATA, sub)
    src_meta.count -= 1
    src_meta.save(db)
    if _add_to(db, dst_meta, [member]):
        dst_meta.count += 1
        dst_meta.save(db)
    return 1


# -- multi-key algebra ---------------------------------------------------------
def _load_all(db: Database, keys: list[bytes]) -> list[CollectionMeta | None]:
    """Every key's set (None if missing); WRONGTYPE if any is another type, as
    Redis checks every key before it computes anything."""
    return [coll.load(db, k, SET) for k in keys]


def _contains(db: Database, meta: CollectionMeta, member: bytes) -> bool:
    return db.engine.get(DATA, meta.prefix + member) is not None


def _intersect(db: Database, metas: list[CollectionMeta | None], limit: int = 0) -> Members:
    """Members of every set: walk the smallest, probe the others (stop at ``limit`` if > 0)."""
    if not metas or any(m is None for m in metas):
        return []
    ordered = sorted(metas, key=lambda m: m.count)  # type: ignore[union-attr]
    smallest, others = ordered[0], ordered[1:]
    out: Members = []
    for member, _ in entries(db, smallest):  # type: ignore[arg-type]
        if all(_contains(db, o, member) for o in others):  # type: ignore[arg-type]
            out.append(member)
            if len(out) == limit:
                break
    return out


def _union(db: Database, metas: list[CollectionMeta | None]) -> Members:
    out: dict[bytes, None] = {}
    for meta in metas:
        if meta is not None:
            out.update((m, None) for m, _ in entries(db, meta))
    return list(out)


def _difference(db: Database, metas: list[CollectionMeta | None]) -> Members:
    """Members of the first set in none of the others: walk the first, probe the rest."""
    first = metas[0]
    if first is None:
        return []
    others = [m for m in metas[1:] if m is not None]
    return [m for m, _ in entries(db, first) if not any(_contains(db, o, m) for o in others)]


_OPS = {"inter": _intersect, "union": _union, "diff": _difference}


def combine(db: Database, op: str, keys: list[bytes]) -> Members:
    """SINTER / SUNION / SDIFF of ``keys`` (op: "inter", "union" or "diff")."""
    return _OPS[op](db, _load_all(db, keys))


def intersection_size(db: Database, keys: list[bytes], limit: int) -> int:
    """SINTERCARD: size of the intersection, counting no further than ``limit`` (0: no limit)."""
    return len(_intersect(db, _load_all(db, keys), limit))


def store(db: Database, op: str, dst: bytes, keys: list[bytes]) -> int:
    """S*STORE: replace ``dst`` (whatever its type) with the result; an empty result deletes it."""
    result = combine(db, op, keys)
    old = db.lookup(dst)
    if not result:
        if old is not None:
            db.delete(dst, old)
        return 0
    meta = CollectionMeta(dst, SET, 0, db.new_version(), len(result), old)
    # The meta goes first: replacing a collection range-deletes every version
    # of dst, and only entries written after that in the batch survive it.
    meta.save(db)
    put = db.engine.put
    for m in result:  # distinct already
        put(DATA, meta.prefix + m, b"")
    return len(result)
