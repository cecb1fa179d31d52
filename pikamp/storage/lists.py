"""Lists: meta (version, count, left, right) plus one data entry per element.

Element ``i`` (0 = head) lives in the data column family under
``data_prefix(key, version) + encode_index(left + 1 + i)``; elements occupy
exactly the indexes strictly between ``left`` and ``right``. Pushing at the
head writes at ``left`` and decrements it, pushing at the tail writes at
``right`` and increments it, so both ends are O(1), and so are LLEN and
LINDEX / LSET at either end (one point read). Inserting or removing in the
middle shifts the elements on the shorter side, as Pika does.

Functions here change the ListMeta in memory and write data entries; the
caller stores the meta with ``ListMeta.save`` once per command (a list that
ends up empty is deleted there).

Invariant that makes range deletes safe: an index outside (left, right) is
never read before it has been written again, so entries removed with
``delete_range`` (which does not update the engine's read overlay) are never
seen, even within the turn that removed them.
"""
from __future__ import annotations

from typing import Iterator

from pikamp.storage import codec
from pikamp.storage.codec import LIST
from pikamp.storage.collections import CollectionMeta
from pikamp.storage.database import Database
from pikamp.storage.engine import DATA

# Below this many entries, point operations beat an iterator or a range tombstone.
_POINT_LIMIT = 16


class ListMeta(CollectionMeta):
    """The decoded meta of one live (or about to be created) list: a collection
    whose elements live at indexes strictly between ``left`` and ``right``."""

    __slots__ = ("left", "right")

    def __init__(self, key: bytes, expire: int, version: int, count: int, left: int, right: int,
                 old: bytes | None) -> None:
        super().__init__(key, LIST, expire, version, count, old)
        self.left = left
        self.right = right

    def sub(self, pos: int) -> bytes:
        """Data key of the element at position ``pos`` (0 = head)."""
        return self.prefix + codec.encode_index(self.left + 1 + pos)

    def encode(self) -> bytes:
        return codec.encode_list(self.version, self.count, self.left, self.right, self.expire)


def from_raw(key: bytes, raw: bytes) -> ListMeta:
    """The list whose live meta record ``raw`` was read."""
    _, expire, version, count, left, right = codec.decode_list(raw)
    return ListMeta(key, expire, version, count, left, right, raw)


def load(db: Database, key: bytes) -> ListMeta | None:
    """The live list at ``key`` (WRONGTYPE if another type), or None."""
    raw = db.lookup_type(key, LIST)
    return None if raw is None else from_raw(key, raw)


def load_if_list(db: Database, key: bytes) -> ListMeta | None:
    """The live list at ``key``, or None if absent or of another type (never raises)."""
    raw = db.lookup(key)
    return None if raw is None or raw[0] != LIST else from_raw(key, raw)


def new(db: Database, key: bytes) -> ListMeta:
    """A fresh empty list with a new version (stored by ``save`` once it has elements)."""
    return ListMeta(key, 0, db.new_version(), 0, codec.LIST_INITIAL_LEFT, codec.LIST_INITIAL_RIGHT, None)


def load_or_new(db: Database, key: bytes) -> ListMeta:
    """The live list at ``key`` (WRONGTYPE if another type), or a fresh one."""
    meta = load(db, key)
    return meta if meta is not None else new(db, key)


# -- reads -------------------------------------------------------------------
def get(db: Database, meta: ListMeta, pos: int) -> bytes:
    """The element at position ``pos`` (0 <= pos < count)."""
    value = db.engine.get(DATA, meta.sub(pos))
    assert value is not None, "list element missing"
    return value


def span(db: Database, meta: ListMeta, start: int, stop: int) -> list[bytes]:
    """Elements at positions start..stop inclusive (0 <= start, stop < count)."""
    if stop < start:
        return []
    if stop - start < _POINT_LIMIT:
        # Point reads see this turn's writes without forcing a commit.
        return [get(db, meta, p) for p in range(start, stop + 1)]
    return [v for _, v in db.engine.iterate(DATA, meta.sub(start), meta.sub(stop + 1))]


def scan(db: Database, meta: ListMeta, from_head: bool = True) -> Iterator[bytes]:
    """Every element, from the head (or from the tail), lazily."""
    it = db.engine.iterate(DATA, meta.sub(0), meta.sub(meta.count), not from_head)
    for _, v in it:
        yield v


# -- writes ------------------------------------------------------------------
def push(db: Database, meta: ListMeta, values: list[bytes], head: bool) -> None:
    """LPUSH (head) / RPUSH semantics: each value in turn goes to that end."""
    put = db.engine.put
    prefix = meta.prefix
    if head:
        idx = meta.left
        for v in values:
            put(DATA, prefix + codec.encode_index(idx), v)
            idx -= 1
        meta.left = idx
    else:
        idx = meta.right
        for v in values:
            put(DATA, prefix + codec.encode_index(idx), v)
            idx += 1
        meta.right = idx
    meta.count += len(values)


def replace(db: Database, key: bytes, values: list[bytes]) -> None:
    """Make ``key`` (whatever it holds) the list ``values``; none: delete it."""
    old = db.lookup(key)
    meta = ListMeta(key, 0, db.new_version(), len(values), codec.LIST_INITIAL_LEFT,
                    codec.LIST_INITIAL_RIGHT + len(values), old)
    # The meta goes first: replacing a collection range-deletes every version
    # of the key, and only entries written after that in the batch survive it.
    meta.save(db)
    put = db.engine.put
    for i, v in enumerate(values):
        put(DATA, meta.prefix + codec.encode_index(codec.LIST_INITIAL_RIGHT + i), v)


def pop(db: Database, meta: ListMeta, n: int, head: bool) -> list[bytes]:
    """Remove up to ``n`` elements from one end; returned in pop order."""
    n = min(n, meta.count)
    if n <= 0:
        return []
    if head:
        out = span(db, meta, 0, n - 1)
        _delete_positions(db, meta, 0, n)
        meta.left += n
    else:
        out = span(db, meta, meta.count - n, meta.count - 1)
        out.reverse()
        _delete_positions(db, meta, meta.count - n, meta.count)
        meta.right -= n
    meta.count -= n
    return out


def set_at(db: Database, meta: ListMeta, pos: int, value: bytes) -> None:
    """Overwrite the element at position ``pos`` (0 <= pos < count)."""
    db.engine.put(DATA, meta.sub(pos), value)


def trim(db: Database, meta: ListMeta, start: int, stop: int) -> None:
    """Keep positions start..stop inclusive (already clamped by the caller;
    start > stop empties the list)."""
    if start > stop:
        start, stop = meta.count, meta.count - 1
    _delete_positions(db, meta, 0, start)
    _delete_positions(db, meta, stop + 1, meta.count)
    meta.right -= meta.count - 1 - stop
    meta.left += start
    meta.count = stop - start + 1


def insert(db: Database, meta: ListMeta, pos: int, value: bytes, head_part: list[bytes] | None = None) -> None:
    """Insert ``value`` so that it ends up at position ``pos``, shifting the
    shorter side. ``head_part`` may carry the elements at positions 0..pos-1
    when the caller already read them."""
    put = db.engine.put
    if pos <= meta.count - pos:
        elems = head_part if head_part is not None else span(db, meta, 0, pos - 1)
        for i, e in enumerate(elems):
            put(DATA, meta.sub(i - 1), e)
        put(DATA, meta.sub(pos - 1), value)
        meta.left -= 1
    else:
        elems = span(db, meta, pos, meta.count - 1)
        for i, e in enumerate(elems):
            put(DATA, meta.sub(pos + i + 1), e)
        put(DATA, meta.sub(pos), value)
        meta.right += 1
    meta.count += 1


def remove(db: Database, meta: ListMeta, start: int, elems: list[bytes], drop: list[int]) -> None:
    """Remove the elements at positions ``drop`` (sorted, absolute) from a
    region ``elems`` read from positions ``start``.. that reaches one end of
    the list; the survivors of the region close the gap toward that end."""
    k = len(drop)
    if k == 0:
        return
    dropped = set(drop)
    survivors = [e for i, e in enumerate(elems, start) if i not in dropped]
    put = db.engine.put
    toward_tail = start == 0
    if toward_tail and start + len(elems) == meta.count:
        # The region is the whole list: move whichever side has fewer survivors.
        toward_tail = drop[-1] + 1 <= meta.count - drop[0]
    if toward_tail:
        # Survivors before the last dropped element move k slots toward the
        # tail; those after it are already in place. The head shrinks by k.
        for j in range(drop[-1] + 1 - k):
            put(DATA, meta.sub(k + j), survivors[j])
        _delete_positions(db, meta, 0, k)
        meta.left += k
    else:
        # Survivors after the first dropped element move toward the head.
        first = drop[0]
        for j, e in enumerate(survivors[first - start:]):
            put(DATA, meta.sub(first + j), e)
        _delete_positions(db, meta, meta.count - k, meta.count)
        meta.right -= k
    meta.count -= k


def _delete_positions(db: Database, meta: ListMeta, start: int, stop: int) -> None:
    """Delete the entries at positions start..stop-1 (see the module docstring
    for why a range tombstone is safe here)."""
    n = stop - start
    if n <= 0:
        return
    if n <= _POINT_LIMIT:
        for p in range(start, stop):
            db.engine.delete(DATA, meta.sub(p))
    else:
        db.engine.delete_range(DATA, meta.sub(start), meta.sub(stop))
