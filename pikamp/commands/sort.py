"""SORT and SORT_RO, as Redis 7.0's sort.c: the elements of a list, set or
sorted set, sorted by their own value or by other keys (BY pattern, a hash
field with ``->``), LIMITed, fetched through GET patterns, and optionally
STOREd as a list. Every key involved is in the client's DB, so it all runs
in that DB's owner."""
from __future__ import annotations

from typing import Iterator

from pikamp import acl
from pikamp.commands.table import Command, command
from pikamp.errors import SYNTAX, WRONGTYPE, RespError
from pikamp.numbers import parse_int, strtod
from pikamp.storage import codec, hashes, lists, strings, zsets
from pikamp.storage import collections as coll
from pikamp.storage.codec import HASH, LIST, SET, STRING, ZSET

_COMPLEXITY = ("O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of "
               "returned elements. When the elements are not sorted, complexity is O(N).")


def _store_key(args: list[bytes]) -> list[int]:
    """SORT's keys: the sorted key, and the last STORE's destination (as
    Redis' sortGetKeys, skipping LIMIT's, BY's and GET's arguments)."""
    found = [1]
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    while i < len(args):
        word = args[i].lower()
        if word in skip:
            i += skip[word]
        elif word == b"store" and i + 1 < len(args):
            found[1:] = [i + 1]  # (the next word is looked at too, as Redis does)
        i += 1
    return found


def _lookup(db, pattern: bytes, element: bytes) -> bytes | None:
    """Redis' lookupKeyByPattern: ``#`` is the element itself; the first
    ``*`` is replaced by it; ``->field`` after it reads that hash field. A
    key of another type than the one read gives None (no WRONGTYPE)."""
    if pattern == b"#":
        return element
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2:]
        pattern = pattern[:arrow]
    key = pattern[:star] + element + pattern[star + 1:]
    raw = db.lookup(key)
    if raw is None:
        return None
    typ = codec.logical_type(raw)
    if field is not None:
        return hashes.get(db, key, field) if typ == HASH else None
    return strings.value_of(db, key, raw) if typ == STRING else None


def _load(db, key: bytes):
    """The list, set or sorted set SORT reads (None: no such key), from one lookup."""
    raw = db.lookup(key)
    if raw is None:
        return None
    if raw[0] == LIST:
        return lists.from_raw(key, raw)
    if raw[0] in (SET, ZSET):
        return coll.from_raw(key, raw)
    raise RespError(WRONGTYPE)


def _score(value: bytes) -> float | None:
    """The number a numeric SORT compares (None: not one, as Redis' strtod
    check: the whole text, in range, not NaN; an empty text is 0)."""
    v, used, erange = strtod(value)
    if used != len(value) or erange or v != v:
        return None
    return v


def _elements(db, meta, dontsort: bool, desc: bool, start: int, end: int) -> list[bytes]:
    """What SORT works on. Unsorted lists and sorted sets keep their order
    (reversed for DESC) and only the LIMIT range is read."""
    if meta.typ == LIST:
        if not dontsort:
            return lists.span(db, meta, 0, meta.count - 1)
        if end < start:
            return []
        if desc:
            n = meta.count
            return lists.span(db, meta, n - 1 - end, n - 1 - start)[::-1]
        return lists.span(db, meta, start, end)
    if meta.typ == SET:
        return [m for m, _ in coll.entries(db, meta)]
    if not dontsort:
        return [m for m, _ in zsets.entries(db, meta)]
    if end < start:
        return []
    return [m for m, _ in zsets.range_by_rank(db, meta, start, end, desc)]


def _options(args: list[bytes], readonly: bool) -> Iterator[tuple[bytes, object]]:
    """SORT's options in order, as sort.c parses them: (word, its argument:
    LIMIT's (offset, count), BY's, GET's or STORE's pattern or key). ERR
    syntax error at the first it does not take, LIMIT's non-integers as Redis."""
    j, n = 2, len(args)
    while j < n:
        word, left = args[j].lower(), n - j - 1
        if word in (b"asc", b"desc", b"alpha"):
            yield word, None
        elif word == b"limit" and left >= 2:
            yield word, (parse_int(args[j + 1]), parse_int(args[j + 2]))
            j += 2
        elif (word in (b"by", b"get") or (word == b"store" and not readonly)) and left >= 1:
            yield word, args[j + 1]
            j += 1
        else:
            raise RespError(SYNTAX)
        j += 1


def acl_refusal(user: acl.User, cmd: Command, args: list[bytes]) -> str | None:
    """Redis 7.0's SORT check: BY a pattern and GET read keys made from the
    data, so only a user whose selector for SORT has every key may use them
    (the first such option refused, in SORT's order)."""
    if any(s.allkeys and s.check(cmd, args)[0] == acl.OK for s in user.selectors):
        return None
    try:
        for word, value in _options(args, cmd.name == "sort_ro"):
            if word == b"by" and b"*" in value:  # type: ignore[operator]
                return "ERR BY option of SORT denied due to insufficient ACL permissions."
            if word == b"get":
                return "ERR GET option of SORT denied due to insufficient ACL permissions."
    except RespError:
        pass  # SORT answers the error itself
    return None


def _sort(ctx, args: list[bytes], readonly: bool) -> object:
    db = ctx.db
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    sortby: bytes | None = None
    store: bytes | None = None
    gets: list[bytes] = []
    for word, value in _options(args, readonly):
        if word == b"asc":
            desc = False
        elif word == b"desc":
            desc = True
        elif word == b"alpha":
            alpha = True
        elif word == b"limit":
            limit_start, limit_count = value  # type: ignore[misc]
        elif word == b"store":
            store = value  # type: ignore[assignment]
        elif word == b"by":
            sortby = value  # type: ignore[assignment]
            dontsort = b"*" not in sortby  # BY a constant: "nosort"
        else:
            gets.append(value)  # type: ignore[arg-type]

    meta = _load(db, args[1])
    if dontsort and meta is not None and meta.typ == SET and store is not None:
        # A set has no order of its own: what is stored (and replicated) must not depend on it.
        dontsort, alpha, sortby = False, True, None
    size = 0 if meta is None else meta.count

    # Redis' LIMIT sanity checks, to the letter.
    start = min(max(limit_start, 0), size)
    limit_count = min(max(limit_count, -1), size)
    end = size - 1 if limit_count < 0 else start + limit_count - 1
    if start >= size:
        start, end = size - 1, size - 2
    if end >= size:
        end = size - 1

    elements = [] if meta is None else _elements(db, meta, dontsort, desc, start, end)
    if dontsort and meta is not None and meta.typ != SET:
        end -= start  # only the LIMIT range was read
        start = 0

    if not dontsort:
        if alpha:
            if sortby is None:
                elements.sort(reverse=desc)
            else:
                by = [_lookup(db, sortby, e) for e in elements]
                order = sorted(range(len(elements)), key=lambda i: (by[i] is not None, by[i] or b""), reverse=desc)
                elements = [elements[i] for i in order]
        else:
            scores = []
            for e in elements:
                value = e if sortby is None else _lookup(db, sortby, e)
                s = 0.0 if value is None else _score(value)
                if s is None:
                    raise RespError("ERR One or more scores can't be converted into double")
                scores.append((s, e))
            scores.sort(reverse=desc)  # ties by the element's bytes, as Redis (deterministic)
            elements = [e for _, e in scores]

    picked = elements[start:end + 1] if end >= start else []
    if gets:
        out = [_lookup(db, g, e) for e in picked for g in gets]
    else:
        out = picked
    if store is None:
        return out
    lists.replace(db, store, [b"" if v is None else v for v in out])
    return len(out)


@command("sort", -2, "write denyoom movablekeys", (1, 1, 1), group="generic", since="1.0.0",
         categories="@write @set @sortedset @list @slow @dangerous", key_finder=_store_key,
         summary="Sort the elements in a list, set or sorted set", complexity=_COMPLEXITY)
def sort(ctx, args):
    """SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE destination]."""
    return _sort(ctx, args, False)


@command("sort_ro", -2, "readonly movablekeys", (1, 1, 1), group="generic", since="7.0.0",
         categories="@read @set @sortedset @list @slow @dangerous", key_finder=lambda args: [1],
         summary="Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
         complexity=_COMPLEXITY)
def sort_ro(ctx, args):
    return _sort(ctx, args, True)
