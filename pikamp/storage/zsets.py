"""Sorted sets on disk.

Layout (pikamp.storage.codec): the meta record holds ZSET | expire | version |
count, so ZCARD is O(1). Each member has two entries under
``P = codec.data_prefix(key, version)``:

  data CF    P + member -> codec.pack_double(score)     (ZSCORE, ZMSCORE, membership)
  zscore CF  P + codec.encode_score(score) + member -> b""

The score encoding preserves order, so the zscore CF holds a sorted set in
exactly Redis's (score, member) order: a score or lex range is a seek plus a
scan, the lowest and highest members are the first and last entries.

There is no rank index. A rank (ZRANK, ZRANGE by index, ZCOUNT, ZLEXCOUNT)
is found by counting entries, from whichever side of the wanted position is
shorter: O(min(rank, N - rank)) for ZRANK and index ranges, O(min(M, N - M))
for counting M members of a range.

Scores are stored with -0.0 turned into 0.0, as Redis's listpack encoding
(every sorted set of up to 128 members) does; replies computed from a command's
arguments (ZINCRBY, ZUNION ...) keep the sign, as in Redis.

Writes only go to the engine after every read of the command is done (the
engine commits pending writes before an iteration), so each write command is
one atomic batch.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Iterator

from pikamp.errors import WRONGTYPE, RespError
from pikamp.glob import compile_pattern
from pikamp.storage import codec, hashes
from pikamp.storage import collections as coll
from pikamp.storage.codec import SET, ZSET
from pikamp.storage.collections import CollectionMeta
from pikamp.storage.database import Database
from pikamp.storage.engine import DATA, ZSCORE
from pikamp.storage.hashes import sample

NAN_SCORE = "ERR resulting score is not a number (NaN)"

# Redis keeps a sorted set of up to this many members in a listpack, whose
# ZSCAN answers everything at once in score order.
LISTPACK_MAX_ENTRIES = 128

Entry = tuple[bytes, float]  # (member, score)
_END = object()


# == ranges ===================================================================
@dataclass(slots=True, frozen=True)
class ScoreRange:
    """A score interval; ``minex``/``maxex`` make an end exclusive ("(1.5")."""

    min: float
    max: float
    minex: bool = False
    maxex: bool = False

    def gte_min(self, score: float) -> bool:
        return score > self.min if self.minex else score >= self.min

    def lte_max(self, score: float) -> bool:
        return score < self.max if self.maxex else score <= self.max


# A lex bound as a sortable tuple: "-" is (0,), a member m is (1, m), "+" is (2,).
LEX_MIN: tuple = (0,)
LEX_MAX: tuple = (2,)


def lex_bound(member: bytes) -> tuple:
    return (1, member)


@dataclass(slots=True, frozen=True)
class LexRange:
    """A member interval of ZRANGEBYLEX & co. ("-" and "+" are exclusive, as in Redis)."""

    min: tuple
    max: tuple
    minex: bool
    maxex: bool

    def empty(self) -> bool:
        return self.min > self.max or (self.min == self.max and (self.minex or self.maxex))

    def gte_min(self, member: bytes) -> bool:
        m = (1, member)
        return m > self.min if self.minex else m >= self.min

    def lte_max(self, member: bytes) -> bool:
        m = (1, member)
        return m < self.max if self.maxex else m <= self.max

    def key_bounds(self, base: bytes) -> tuple[bytes, bytes]:
        """[lo, hi) of the zscore keys ``base + member`` with a member in range."""
        return _lex_key(base, self.min, self.minex, low=True), _lex_key(base, self.max, self.maxex, low=False)


def _lex_key(base: bytes, bound: tuple, exclusive: bool, low: bool) -> bytes:
    if bound == LEX_MIN:
        return base
    if bound == LEX_MAX:
        return codec.prefix_end(base)
    # member + b"\0" is the smallest member greater than ``member``.
    after = low == exclusive
    return base + bound[1] + (b"\0" if after else b"")


# == entries ==================================================================
def load(db: Database, key: bytes) -> CollectionMeta | None:
    """The live sorted set at ``key`` (WRONGTYPE for another type), or None."""
    return coll.load(db, key, ZSET)


def card(db: Database, key: bytes) -> int:
    meta = load(db, key)
    return 0 if meta is None else meta.count


def score(db: Database, meta: CollectionMeta, member: bytes) -> float | None:
    """The member's score, or None if it is not in the set."""
    raw = db.engine.get(DATA, meta.prefix + member)
    return None if raw is None else codec.unpack_double(raw)


def scores(db: Database, key: bytes, members: list[bytes]) -> list[float | None]:
    """ZMSCORE: each member's score or None (all None for a missing key)."""
    meta = load(db, key)
    if meta is None:
        return [None] * len(members)
    return [score(db, meta, m) for m in members]


def entries(db: Database, meta: CollectionMeta, lo: bytes | None = None, hi: bytes | None = None,
            reverse: bool = False) -> Iterator[Entry]:
    """(member, score) in (score, member) order, or reversed, for the zscore keys in [lo, hi)."""
    prefix = meta.prefix
    n = len(prefix)
    start = prefix if lo is None else lo
    end = codec.prefix_end(prefix) if hi is None else hi
    decode = codec.decode_score
    for k, _ in db.engine.iterate(ZSCORE, start, end, reverse):
        yield k[n + 8:], decode(k[n:n + 8])


def _score_key(meta: CollectionMeta, member: bytes, s: float) -> bytes:
    return meta.prefix + codec.encode_score(s) + member


def _count_keys(db: Database, meta: CollectionMeta, lo: bytes, hi: bytes) -> int:
    """How many zscore entries lie in [lo, hi), which must lie within the set's prefix.

    Counts the entries inside and, at the same pace, those outside the interval
    (the count is known), and stops with whichever is done first."""
    if lo >= hi:
        return 0
    it = db.engine.iterate
    prefix = meta.prefix
    inside = it(ZSCORE, lo, hi)
    outside = itertools.chain(it(ZSCORE, prefix, lo), it(ZSCORE, hi, codec.prefix_end(prefix)))
    n_in = n_out = 0
    while True:
        if next(inside, _END) is _END:
            return n_in
        n_in += 1
        if next(outside, _END) is _END:
            return meta.count - n_out
        n_out += 1


def _slice(db: Database, meta: CollectionMeta, first: int, last: int) -> list[Entry]:
    """Entries of ranks first..last (0 <= first <= last < count), read from the nearer end."""
    size = last - first + 1
    if first <= meta.count - 1 - last:
        return list(itertools.islice(entries(db, meta), first, first + size))
    skip = meta.count - 1 - last
    out = list(itertools.islice(entries(db, meta, reverse=True), skip, skip + size))
    out.reverse()
    return out


def _window(it: Iterator[Entry], offset: int, limit: int, in_range: Callable[[Entry], bool]) -> list[Entry]:
    """Redis's LIMIT walk: skip ``offset`` entries (a negative offset skips them all),
    then take up to ``limit`` (negative: no limit) while ``in_range`` holds."""
    if offset < 0:
        return []
    out: list[Entry] = []
    for e in itertools.islice(it, offset, None):
        if len(out) == limit or not in_range(e):
            break
        out.append(e)
    return out


# == ranks and ranges =========================================================
def rank(db: Database, meta: CollectionMeta, member: bytes, reverse: bool) -> int | None:
    """ZRANK / ZREVRANK: the member's 0-based rank, or None. O(min(rank, N - rank))."""
    s = score(db, meta, member)
    if s is None:
        return None
    r = _count_keys(db, meta, meta.prefix, _score_key(meta, member, s))
    return meta.count - 1 - r if reverse else r


def sanitize_ranks(start: int, stop: int, size: int) -> tuple[int, int] | None:
    """Redis's index clamping for ZRANGE/ZREMRANGEBYRANK: (first, last) or None if empty."""
    if start < 0:
        start += size
    if stop < 0:
        stop += size
    if start < 0:
        start = 0
    if start > stop or start >= size:
        return None
    return start, min(stop, size - 1)


def range_by_rank(db: Database, meta: CollectionMeta, start: int, stop: int, reverse: bool) -> list[Entry]:
    """ZRANGE by index (``reverse``: ranks counted from the highest score)."""
    ranks = sanitize_ranks(start, stop, meta.count)
    if ranks is None:
        return []
    first, last = ranks
    if not reverse:
        return _slice(db, meta, first, last)
    n = meta.count
    out = _slice(db, meta, n - 1 - last, n - 1 - first)
    out.reverse()
    return out


def score_bounds(meta: CollectionMeta, rng: ScoreRange) -> tuple[bytes, bytes]:
    """[lo, hi) of the zscore keys whose score lies in ``rng``."""
    p = meta.prefix
    lo = p + codec.encode_score(rng.min)
    if rng.minex:
        lo = codec.prefix_end(lo)
    hi = p + codec.encode_score(rng.max)
    if not rng.maxex:
        hi = codec.prefix_end(hi)
    return lo, hi


def range_by_score(db: Database, meta: CollectionMeta, rng: ScoreRange, reverse: bool,
                   offset: int = 0, limit: int = -1) -> list[Entry]:
    """ZRANGEBYSCORE / ZREVRANGEBYSCORE with Redis's LIMIT semantics: a seek and a scan."""
    if offset > 0 and offset >= meta.count:
        return []
    lo, hi = score_bounds(meta, rng)
    if lo >= hi:
        return []
    return _window(entries(db, meta, lo, hi, reverse), offset, limit, _always)


def count_by_score(db: Database, meta: CollectionMeta, rng: ScoreRange) -> int:
    lo, hi = score_bounds(meta, rng)
    return _count_keys(db, meta, lo, hi)


def _always(_: Entry) -> bool:
    return True


def _lex_ends(db: Database, meta: CollectionMeta, rng: LexRange) -> tuple[Entry, Entry] | None:
    """The set's first and last entries, or None when Redis sees at once that
    nothing can be in range (the range is empty, or lies wholly outside)."""
    if rng.empty():
        return None
    first = next(entries(db, meta))
    last = next(entries(db, meta, reverse=True))
    if not rng.gte_min(last[0]) or not rng.lte_max(first[0]):
        return None
    return first, last


def _lex_walk(db: Database, meta: CollectionMeta, rng: LexRange, reverse: bool) -> Iterator[Entry]:
    """Entries from the first one in ``rng`` on (the last one, walking backwards), as
    Redis's listpack code walks them: the first member >= min, if it is <= max.

    Lex ranges assume one score for all members. Then members are in order and
    the start is a seek; with mixed scores this is a linear walk whose result
    is what Redis gives for sets of up to 128 members."""
    ends = _lex_ends(db, meta, rng)
    if ends is None:
        return iter(())
    first, last = ends
    if first[1] == last[1]:
        lo, hi = rng.key_bounds(meta.prefix + codec.encode_score(first[1]))
        return entries(db, meta, lo, hi, reverse)
    enters, stays = (rng.lte_max, rng.gte_min) if reverse else (rng.gte_min, rng.lte_max)
    walk = entries(db, meta, reverse=reverse)
    for e in walk:
        if enters(e[0]):
            return itertools.chain((e,), walk) if stays(e[0]) else iter(())
    return iter(())


def range_by_lex(db: Database, meta: CollectionMeta, rng: LexRange, reverse: bool,
                 offset: int = 0, limit: int = -1) -> list[Entry]:
    """ZRANGEBYLEX / ZREVRANGEBYLEX with Redis's LIMIT semantics."""
    stays = rng.gte_min if reverse else rng.lte_max
    return _window(_lex_walk(db, meta, rng, reverse), offset, limit, lambda e: stays(e[0]))


def count_by_lex(db: Database, meta: CollectionMeta, rng: LexRange) -> int:
    ends = _lex_ends(db, meta, rng)
    if ends is None:
        return 0
    first, last = ends
    if first[1] == last[1]:
        lo, hi = rng.key_bounds(meta.prefix + codec.encode_score(first[1]))
        return _count_keys(db, meta, lo, hi)
    return len(range_by_lex(db, meta, rng, False))


# == writes ===================================================================
def _put(db: Database, meta: CollectionMeta, member: bytes, s: float) -> None:
    eng = db.engine
    eng.put(DATA, meta.prefix + member, codec.pack_double(s))
    eng.put(ZSCORE, _score_key(meta, member, s), b"")


def _unlink(db: Database, meta: CollectionMeta, member: bytes, s: float) -> None:
    eng = db.engine
    eng.delete(DATA, meta.prefix + member)
    eng.delete(ZSCORE, _score_key(meta, member, s))


@dataclass(slots=True)
class AddResult:
    added: int = 0
    updated: int = 0
    processed: int = 0  # members added or (possibly unchanged) updated: not NOPs
    score: float | None = None  # the last member's new score (ZADD INCR / ZINCRBY)


def add(db: Database, key: bytes, pairs: list[tuple[float, bytes]], *, nx: bool = False, xx: bool = False,
        gt: bool = False, lt: bool = False, incr: bool = False) -> AddResult:
    """ZADD / ZINCRBY with Redis's zsetAdd rules. ``pairs`` are (score, member),
    already validated (no NaN); with ``incr`` there is exactly one. An increment
    that makes a NaN raises before anything is written."""
    res = AddResult()
    meta = coll.load_or_new(db, key, ZSET)
    if xx and not meta.exists:
        return res
    for s, member in pairs:
        cur = score(db, meta, member)  # the engine sees this command's earlier writes
        if cur is None:
            if xx:
                continue
            _put(db, meta, member, s + 0.0)  # + 0.0 stores -0.0 as 0.0
            meta.count += 1
            res.added += 1
        else:
            if nx:
                continue
            if incr:
                s += cur
                if math.isnan(s):
                    raise RespError(NAN_SCORE)
            if (lt and s >= cur) or (gt and s <= cur):
                continue
            if s != cur:
                _unlink(db, meta, member, cur)
                _put(db, meta, member, s + 0.0)
                res.updated += 1
        res.processed += 1
        res.score = s
    if res.added:
        meta.save(db)
    return res


def remove(db: Database, key: bytes, members: list[bytes]) -> int:
    """ZREM: how many members were there. The key goes with its last member."""
    meta = load(db, key)
    if meta is None:
        return 0
    removed = 0
    for m in members:
        s = score(db, meta, m)
        if s is not None:
            _unlink(db, meta, m, s)
            removed += 1
    if removed:
        meta.count -= removed
        meta.save(db)
    return removed


def remove_entries(db: Database, meta: CollectionMeta, items: list[Entry]) -> int:
    """Delete entries read from the set (ZREMRANGEBY*, pops) and save the meta."""
    for m, s in items:
        _unlink(db, meta, m, s)
    if items:
        meta.count -= len(items)
        meta.save(db)
    return len(items)


def pop(db: Database, key: bytes, count: int, highest: bool) -> list[Entry]:
    """Remove and return up to ``count`` members with the lowest (``highest``: the
    highest) scores, in pop order; [] if the key is missing. WRONGTYPE for other types.
    Used by ZPOPMIN/ZPOPMAX/ZMPOP and the blocking BZ* commands."""
    meta = load(db, key)
    if meta is None or count <= 0:
        return []
    items = list(itertools.islice(entries(db, meta, reverse=highest), count))
    remove_entries(db, meta, items)
    return items


def store(db: Database, key: bytes, items: list[Entry]) -> int:
    """Replace whatever ``key`` holds by a sorted set of ``items`` (distinct members),
    without a TTL; no items deletes the key. Returns the new size."""
    old = db.lookup(key)
    if not items:
        if old is not None:
            db.delete(key, old)
        return 0
    meta = CollectionMeta(key, ZSET, 0, db.new_version(), len(items), old)
    # Save first: replacing a collection range-deletes its entries, which must
    # come before the new version's entries in the batch.
    meta.save(db)
    for m, s in items:
        _put(db, meta, m, s + 0.0)
    return len(items)


# == random members ===========================================================
def random_entries(db: Database, meta: CollectionMeta, count: int, distinct: bool) -> list[Entry]:
    """ZRANDMEMBER: ``count`` random members, distinct (at most all: then the
    whole set from the highest score down, as Redis answers) or with repeats."""
    if distinct and count >= meta.count:
        return list(entries(db, meta, reverse=True))
    unpack = codec.unpack_double
    return [(m, unpack(v)) for m, v in sample(db, meta, count, distinct)]


# == ZSCAN =====================================================================
def scan(db: Database, meta: CollectionMeta, cursor: int, pattern: bytes | None,
         count: int) -> tuple[int, list[Entry]]:
    """One ZSCAN step: (next cursor, 0 when done; the entries matching ``pattern``).

    A set Redis would keep in a listpack is answered whole, in score order, as
    Redis does; a bigger one page by page in member order, resuming from a
    cursor table (pikamp.storage.hashes), so a member present throughout the
    scan is returned exactly once whatever the score changes."""
    if meta.count <= LISTPACK_MAX_ENTRIES:
        glob = None if pattern is None else compile_pattern(pattern)
        return 0, [e for e in entries(db, meta) if glob is None or glob.match(e[0])]
    nxt, found = hashes.scan(db, meta, cursor, pattern, count)
    unpack = codec.unpack_double
    return nxt, [(m, unpack(v)) for m, v in found]


# == ZUNION / ZINTER / ZDIFF ==================================================
class Source:
    """An input of ZUNION/ZINTER/ZDIFF: a sorted set, or a set whose members score 1."""

    __slots__ = ("db", "meta", "is_set")

    def __init__(self, db: Database, meta: CollectionMeta) -> None:
        self.db = db
        self.meta = meta
        self.is_set = meta.typ == SET

    def __len__(self) -> int:
        return self.meta.count

    def items(self) -> Iterator[Entry]:
        """Every (member, score), in member order."""
        unpack = codec.unpack_double
        n = len(self.meta.prefix)
        for k, v in self.db.engine.iterate(DATA, self.meta.prefix, codec.prefix_end(self.meta.prefix)):
            yield k[n:], 1.0 if self.is_set else unpack(v)

    def find(self, member: bytes) -> float | None:
        raw = self.db.engine.get(DATA, self.meta.prefix + member)
        if raw is None:
            return None
        return 1.0 if self.is_set else codec.unpack_double(raw)


def source(db: Database, key: bytes) -> Source | None:
    """The key as an input of a set operation: None if missing, WRONGTYPE unless a zset or set."""
    raw = db.lookup(key)
    if raw is None:
        return None
    if raw[0] not in (ZSET, SET):
        raise RespError(WRONGTYPE)
    return Source(db, coll.load(db, key, raw[0]))  # type: ignore[arg-type]


SUM, MIN, MAX = 0, 1, 2


def _aggregate(target: float, value: float, how: int) -> float:
    """Redis's zunionInterAggregate (inf + -inf sums to 0, NaN never wins MIN/MAX)."""
    if how == SUM:
        t = target + value
        return 0.0 if t != t else t
    if how == MIN:
        return value if value < target else target
    return value if value > target else target


def _weighted(score_: float, weight: float) -> float:
    s = weight * score_
    return 0.0 if s != s else s


def _by_size(inputs: list[tuple[Source | None, float]]) -> list[tuple[Source | None, float]]:
    # Redis sorts inputs by size with glibc's qsort (a stable merge sort here).
    return sorted(inputs, key=lambda sw: len(sw[0]) if sw[0] is not None else 0)


def union(inputs: list[tuple[Source | None, float]], how: int) -> dict[bytes, float]:
    """Members of any input with their aggregated weighted scores. ``inputs`` are
    (source or None for a missing key, weight)."""
    acc: dict[bytes, float] = {}
    for src, weight in _by_size(inputs):
        if src is None:
            continue
        for m, s in src.items():
            s = _weighted(s, weight)
            cur = acc.get(m)
            acc[m] = s if cur is None else _aggregate(cur, s, how)
    return acc


def inter(inputs: list[tuple[Source | None, float]], how: int, limit: int = 0) -> dict[bytes, float]:
    """Members of every input with aggregated weighted scores; stops after ``limit``
    members (0: no limit), which is all ZINTERCARD needs."""
    ordered = _by_size(inputs)
    first, w0 = ordered[0]
    out: dict[bytes, float] = {}
    if first is None or len(first) == 0:
        return out
    rest = ordered[1:]
    for m, s0 in first.items():
        total = _weighted(s0, w0)
        for src, weight in rest:
            # Redis reads the same key twice as the same object: no lookup needed.
            value = s0 if src.meta.key == first.meta.key else src.find(m)  # type: ignore[union-attr]
            if value is None:
                break
            total = _aggregate(total, value * weight, how)
        else:
            out[m] = total
            if len(out) == limit:
                break
    return out


def diff(inputs: list[Source | None]) -> dict[bytes, float]:
    """Members of the first input in none of the others, with their first-input scores."""
    first = inputs[0]
    if first is None:
        return {}
    others = [src for src in inputs[1:] if src is not None and len(src)]
    return {m: s for m, s in first.items() if all(src.find(m) is None for src in others)}


def sorted_entries(result: dict[bytes, float]) -> list[Entry]:
    """A set operation's result in (score, member) order."""
    return sorted(result.items(), key=lambda e: (e[1], e[0]))
