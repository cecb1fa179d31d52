"""SORT and SORT_RO, as Redis 7.0's sort.c: the elements of a list, set or
sorted set, sorted by their own value or by other keys (BY pattern, a hash
field with ``->``), LIMITed, fetched through GET patterns, and optionally
STOREd as a list. Every key involved is in the client's DB, so it all runs
in that DB's owner."""
from __future__ import annotations

from pikamp.commands.table import command
from pikamp.errors import SYNTAX, WRONGTYPE, RespError
from pikamp.numbers import parse_int, strtod
from pikamp.storage import codec, hashes, lists, sets, strings, zsets
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


def _score(value: bytes) -> float | None:
    """The number a numeric SORT compares (None: not one, as Redis' strtod
    check: the whole text, in range, not NaN; an empty text is 0)."""
    v, used, erange = strtod(value)
    if used != len(value) or erange or v != v:
        return None
    return v


def _elements(db, key: bytes, raw: bytes, dontsort: bool, desc: bool, start: int, end: int) -> list[bytes]:
    """What SORT works on. Unsorted lists and sorted sets keep their order
    (reversed for DESC) and only the LIMIT range is read."""
    typ = raw[0]
    if typ == LIST:
        meta = lists.load(db, key)
        if dontsort:
            n = meta.count
            if end < start:
                return []
            if desc:
                return lists.span(db, meta, n - 1 - end, n - 1 - start)[::-1]
            return lists.span(db, meta, start, end)
        return lists.span(db, meta, 0, meta.count - 1)
    if typ == SET:
        return sets.members(db, key)
    meta = zsets.load(db, key)
    if dontsort:
        if end < start:
            return []
        return [m for m, _ in zsets.range_by_rank(db, meta, start, end, desc)]
    return [m for m, _ in zsets.entries(db, meta)]


def _sort(ctx, args: list[bytes], readonly: bool) -> object:
    db = ctx.db
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    sortby: bytes | None = None
    store: bytes | None = None
    gets: list[bytes] = []
    j, n = 2, len(args)
    while j < n:
        word = args[j].lower()
        left = n - j - 1
        if word == b"asc":
            desc = False
        elif word == b"desc":
            desc = True
        elif word == b"alpha":
            alpha = True
        elif word == b"limit" and left >= 2:
            limit_start, limit_count = parse_int(args[j + 1]), parse_int(args[j + 2])
            j += 2
        elif word == b"store" and left >= 1 and not readonly:
            store = args[j + 1]
            j += 1
        elif word == b"by" and left >= 1:
            sortby = args[j + 1]
            dontsort = b"*" not in sortby  # BY a constant: "nosort"
            j += 1
        elif word == b"get" and left >= 1:
            gets.append(args[j + 1])
            j += 1
        else:
            raise RespError(SYNTAX)
        j += 1

    raw = db.lookup(args[1])
    if raw is not None and codec.logical_type(raw) not in (LIST, SET, ZSET):
        raise RespError(WRONGTYPE)
    if dontsort and raw is not None and raw[0] == SET and store is not None:
        # A set has no order of its own: what is stored (and replicated) must not depend on it.
        dontsort, alpha, sortby = False, True, None
    if raw is None:
        size = 0
    elif raw[0] == LIST:
        size = lists.load(db, args[1]).count
    else:
        size = sets.card(db, args[1]) if raw[0] == SET else zsets.card(db, args[1])

    # Redis' LIMIT sanity checks, to the letter.
    start = min(max(limit_start, 0), size)
    limit_count = min(max(limit_count, -1), size)
    end = size - 1 if limit_count < 0 else start + limit_count - 1
    if start >= size:
        start, end = size - 1, size - 2
    if end >= size:
        end = size - 1

    elements = [] if raw is None else _elements(db, args[1], raw, dontsort, desc, start, end)
    if dontsort and raw is not None and raw[0] != SET:
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
