"""String values: stored inline in the meta record (no data entries)."""
from __future__ import annotations

from pikamp.storage import codec
from pikamp.storage.codec import STRING
from pikamp.storage.database import Database


def get(db: Database, key: bytes) -> bytes | None:
    """The string value of ``key``; None if absent; WRONGTYPE for other types."""
    raw = db.lookup_type(key, STRING)
    return None if raw is None else raw[codec.HEADER_LEN:]


def put(db: Database, key: bytes, value: bytes, expire_ms: int, old: bytes | None) -> None:
    """Store a string over ``old`` (the key's live meta record or None)."""
    db.put_meta(key, codec.encode_string(value, expire_ms), old)
