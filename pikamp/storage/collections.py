"""Shared meta handling for hashes, sets and sorted sets (version + count in meta).

A collection's members live in the data (and zscore) column families under
``codec.data_prefix(key, version)``; a new version is taken whenever the key
is created, so members of an older incarnation are invisible at once.
"""
from __future__ import annotations

from collections.abc import Iterator

from pikamp.storage import codec
from pikamp.storage.database import Database
from pikamp.storage.engine import DATA


class CollectionMeta:
    """The decoded meta of one live (or about to be created) collection key."""

    __slots__ = ("key", "typ", "expire", "version", "count", "old", "prefix")

    def __init__(self, key: bytes, typ: int, expire: int, version: int, count: int, old: bytes | None) -> None:
        self.key = key
        self.typ = typ
        self.expire = expire
        self.version = version
        self.count = count
        self.old = old  # the stored record this meta was read from (None: new key)
        self.prefix = codec.data_prefix(key, version)

    @property
    def exists(self) -> bool:
        return self.old is not None

    def encode(self) -> bytes:
        """The meta record as stored."""
        return codec.encode_collection(self.typ, self.version, self.count, self.expire)

    def save(self, db: Database) -> None:
        """Store the meta with its current count; a count of 0 deletes the key."""
        if self.count <= 0:
            if self.old is not None:
                db.delete(self.key, self.old)
                self.old = None
            return
        raw = self.encode()
        db.put_meta(self.key, raw, self.old)
        self.old = raw


def load(db: Database, key: bytes, typ: int) -> CollectionMeta | None:
    """The live collection at ``key`` (WRONGTYPE if another type), or None."""
    raw = db.lookup_type(key, typ)
    return None if raw is None else from_raw(key, raw)


def from_raw(key: bytes, raw: bytes) -> CollectionMeta:
    """The collection (hash, set, sorted set) whose live meta record ``raw`` was read."""
    typ, expire, version, count = codec.decode_collection(raw)
    return CollectionMeta(key, typ, expire, version, count, raw)


def load_or_new(db: Database, key: bytes, typ: int) -> CollectionMeta:
    """The live collection at ``key``, or a fresh empty one with a new version
    (not stored until ``save`` with a count > 0)."""
    meta = load(db, key, typ)
    if meta is None:
        meta = CollectionMeta(key, typ, 0, db.new_version(), 0, None)
    return meta


def entries(db: Database, meta: CollectionMeta, start: bytes = b"", end: bytes | None = None,
            reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
    """Yield (sub, value) of a collection's data entries with start <= sub < end
    (end None: no bound), in key order or reversed."""
    prefix = meta.prefix
    n = len(prefix)
    stop = codec.prefix_end(prefix) if end is None else prefix + end
    for k, v in db.engine.iterate(DATA, prefix + start, stop, reverse):
        yield k[n:], v
