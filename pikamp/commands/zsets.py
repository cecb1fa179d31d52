"""Sorted set commands (Redis 7.0): argument parsing and reply shaping;
storage in pikamp.storage.zsets.

The B* blocking variants (BZPOPMIN, BZPOPMAX, BZMPOP) live with the other
blocking commands and use pikamp.storage.zsets.pop.
"""
from __future__ import annotations

import math

from pikamp.commands.hashes import (
    SCAN_COMPLEXITY,
    range_count,
    scan_options,
)
from pikamp.commands.table import command
from pikamp.errors import NOT_FLOAT, SYNTAX, RespError
from pikamp.numbers import SPACE, parse_cursor, parse_int, strtod
from pikamp.resp import NULL_ARRAY, Pairs, format_double
from pikamp.storage import zsets
from pikamp.storage.zsets import (
    LEX_MAX,
    LEX_MIN,
    MAX,
    MIN,
    SUM,
    Entry,
    LexRange,
    ScoreRange,
    lex_bound,
)

_LONG_MAX = 2**63 - 1
NOT_FLOAT_RANGE = "ERR min or max is not a float"
NOT_LEX_RANGE = "ERR min or max not valid string range item"
NOT_FLOAT_WEIGHT = "ERR weight value is not a float"
LIMIT_NEEDS_BY = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
WITHSCORES_BYLEX = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
NOT_POSITIVE = "ERR value is out of range, must be positive"

_RANGE_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                     "elements returned.")
_BY_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                  "elements being returned. If M is constant (e.g. always asking for the first 10 elements "
                  "with LIMIT), you can consider it O(log(N)).")
_REMRANGE_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set and M the number "
                        "of elements removed by the operation.")


def _z(name: str, arity: int, flags: str, summary: str, since: str, complexity: str = "O(1)",
       keys: tuple[int, int, int] = (1, 1, 1)):
    return command(name, arity, flags, keys, group="sorted_set", summary=summary, since=since,
                   complexity=complexity)


# == numbers as Redis reads them ================================================
def parse_score(arg: bytes, error: str = NOT_FLOAT) -> float:
    """Redis's string2d (scores, increments, weights): the whole argument, no
    leading space, no NaN, no overflow or underflow to zero."""
    v, used, erange = strtod(arg)
    if not arg or arg[0] in SPACE or used != len(arg) or math.isnan(v) or erange:
        raise RespError(error)
    return v


def _range_end(arg: bytes) -> tuple[float, bool]:
    """One end of a score range, as zslParseRange reads it (plain strtod): ->
    (value, exclusive). Leading spaces, overflow and an empty number are accepted."""
    exclusive = arg[:1] == b"("
    text = arg[1:] if exclusive else arg
    v, used, _ = strtod(text)
    if (used < len(text) and text[used] != 0) or math.isnan(v):
        raise RespError(NOT_FLOAT_RANGE)
    return v, exclusive


def score_range(lo: bytes, hi: bytes) -> ScoreRange:
    mn, minex = _range_end(lo)
    mx, maxex = _range_end(hi)
    return ScoreRange(mn, mx, minex, maxex)


def _lex_end(arg: bytes) -> tuple[tuple, bool]:
    """One end of a lex range: "-", "+", "(member" or "[member" -> (bound, exclusive)."""
    c = arg[:1]
    if c in (b"-", b"+"):
        if arg[1:2] not in (b"", b"\0"):  # Redis checks the byte after the sign only
            raise RespError(NOT_LEX_RANGE)
        return (LEX_MIN if c == b"-" else LEX_MAX), True
    if c in (b"(", b"["):
        return lex_bound(arg[1:]), c == b"("
    raise RespError(NOT_LEX_RANGE)


def lex_range(lo: bytes, hi: bytes) -> LexRange:
    mn, minex = _lex_end(lo)
    mx, maxex = _lex_end(hi)
    return LexRange(mn, mx, minex, maxex)


def _long_in(arg: bytes, lo: int, hi: int, error: str) -> int:
    """getRangeLongFromObjectOrReply with a message: one error for bad and out-of-range values."""
    try:
        n = parse_int(arg)
    except RespError:
        raise RespError(error) from None
    if not lo <= n <= hi:
        raise RespError(error)
    return n


def _members(items: list[Entry]) -> list[bytes]:
    return [m for m, _ in items]


def _flat(items: list[Entry]) -> list:
    return [x for e in items for x in e]


# == ZADD / ZINCRBY =============================================================
_ZADD_OPTIONS = {b"nx", b"xx", b"ch", b"incr", b"gt", b"lt"}


def _zadd(ctx, args: list[bytes], incr: bool):
    """zaddGenericCommand: ZINCRBY is ZADD with INCR (its options are parsed too)."""
    opts: set[bytes] = {b"incr"} if incr else set()
    i = 2
    while i < len(args) and args[i].lower() in _ZADD_OPTIONS:
        opts.add(args[i].lower())
        i += 1
    elements = len(args) - i
    if elements % 2 or not elements:
        raise RespError(SYNTAX)
    nx, xx, gt, lt, incr = (o in opts for o in (b"nx", b"xx", b"gt", b"lt", b"incr"))
    if nx and xx:
        raise RespError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise RespError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and elements > 2:
        raise RespError("ERR INCR option supports a single increment-element pair")
    pairs = [(parse_score(args[j]), args[j + 1]) for j in range(i, len(args), 2)]
    res = zsets.add(ctx.db, args[1], pairs, nx=nx, xx=xx, gt=gt, lt=lt, incr=incr)
    if incr:
        return res.score if res.processed else None
    return res.added + res.updated if b"ch" in opts else res.added


@_z("zadd", -4, "write denyoom fast", "Add one or more members to a sorted set, or update its score if it already exists",
    "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.")
def zadd(ctx, args):
    return _zadd(ctx, args, False)


@_z("zincrby", 4, "write denyoom fast", "Increment the score of a member in a sorted set", "1.2.0",
    "O(log(N)) where N is the number of elements in the sorted set.")
def zincrby(ctx, args):
    return _zadd(ctx, args, True)


# == reads of one set ===========================================================
@_z("zcard", 2, "readonly fast", "Get the number of members in a sorted set", "1.2.0")
def zcard(ctx, args):
    return zsets.card(ctx.db, args[1])


@_z("zscore", 3, "readonly fast", "Get the score associated with the given member in a sorted set", "1.2.0")
def zscore(ctx, args):
    return zsets.scores(ctx.db, args[1], [args[2]])[0]


@_z("zmscore", -3, "readonly fast", "Get the score associated with the given members in a sorted set", "6.2.0",
    "O(N) where N is the number of members being requested.")
def zmscore(ctx, args):
    return zsets.scores(ctx.db, args[1], args[2:])


@_z("zcount", 4, "readonly fast", "Count the members in a sorted set with scores within the given values",
    "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.")
def zcount(ctx, args):
    rng = score_range(args[2], args[3])
    meta = zsets.load(ctx.db, args[1])
    return 0 if meta is None else zsets.count_by_score(ctx.db, meta, rng)


@_z("zlexcount", 4, "readonly fast",
    "Count the number of members in a sorted set between a given lexicographical range", "2.8.9",
    "O(log(N)) with N being the number of elements in the sorted set.")
def zlexcount(ctx, args):
    rng = lex_range(args[2], args[3])
    meta = zsets.load(ctx.db, args[1])
    return 0 if meta is None else zsets.count_by_lex(ctx.db, meta, rng)


# ZRANK/ZREVRANK ... WITHSCORE is Redis 7.2: in 7.0 the arity is exactly 3, so
# the option is a wrong-number-of-arguments error.
@_z("zrank", 3, "readonly fast", "Determine the index of a member in a sorted set", "2.0.0", "O(log(N))")
def zrank(ctx, args):
    return _rank(ctx, args, False)


@_z("zrevrank", 3, "readonly fast",
    "Determine the index of a member in a sorted set, with scores ordered from high to low", "2.0.0", "O(log(N))")
def zrevrank(ctx, args):
    return _rank(ctx, args, True)


def _rank(ctx, args: list[bytes], reverse: bool) -> int | None:
    meta = zsets.load(ctx.db, args[1])
    return None if meta is None else zsets.rank(ctx.db, meta, args[2], reverse)


# == ZRANGE and its family ======================================================
_RANK, _SCORE, _LEX = 1, 2, 3


def _zrange(ctx, args: list[bytes], src: int, store: bool, by: int | None, rev: bool | None):
    """zrangeGenericCommand. ``args[src]`` is the source key, then min and max;
    ``by``/``rev`` None mean "chosen by the options" (ZRANGE, ZRANGESTORE)."""
    withscores = False
    offset, limit = 0, -1
    i = src + 3
    while i < len(args):
        opt = args[i].lower()
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and len(args) - i - 1 >= 2:
            offset = parse_int(args[i + 1])
            limit = parse_int(args[i + 2])
            i += 2
        elif rev is None and opt == b"rev":
            rev = True
        elif by is None and opt in (b"bylex", b"byscore"):
            by = _LEX if opt == b"bylex" else _SCORE
        else:
            raise RespError(SYNTAX)
        i += 1
    by = by or _RANK
    if limit != -1 and by == _RANK:  # Redis tells "no LIMIT" by limit == -1
        raise RespError(LIMIT_NEEDS_BY)
    if withscores and by == _LEX:
        raise RespError(WITHSCORES_BYLEX)
    first, second = args[src + 1], args[src + 2]
    if rev and by != _RANK:  # Z[REV]RANGEBY* take max before min
        first, second = second, first
    db = ctx.db
    if by == _RANK:
        start, stop = parse_int(first), parse_int(second)
    elif by == _SCORE:
        rng = score_range(first, second)
    else:
        rng = lex_range(first, second)
    meta = zsets.load(db, args[src])
    items: list[Entry] = []
    if meta is not None:
        if by == _RANK:
            items = zsets.range_by_rank(db, meta, start, stop, bool(rev))
        elif by == _SCORE:
            items = zsets.range_by_score(db, meta, rng, bool(rev), offset, limit)  # type: ignore[arg-type]
        else:
            items = zsets.range_by_lex(db, meta, rng, bool(rev), offset, limit)  # type: ignore[arg-type]
    if store:
        return zsets.store(db, args[1], items)
    return Pairs(items) if withscores else _members(items)


@_z("zrange", -4, "readonly", "Return a range of members in a sorted set", "1.2.0", _RANGE_COMPLEXITY)
def zrange(ctx, args):
    return _zrange(ctx, args, 1, False, None, None)


@_z("zrangestore", -5, "write denyoom", "Store a range of members from sorted set into another key", "6.2.0",
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored "
    "into the destination key.", keys=(1, 2, 1))
def zrangestore(ctx, args):
    return _zrange(ctx, args, 2, True, None, None)


@_z("zrevrange", -4, "readonly",
    "Return a range of members in a sorted set, by index, with scores ordered from high to low", "1.2.0",
    _RANGE_COMPLEXITY)
def zrevrange(ctx, args):
    return _zrange(ctx, args, 1, False, _RANK, True)


@_z("zrangebyscore", -4, "readonly", "Return a range of members in a sorted set, by score", "1.0.5",
    _BY_COMPLEXITY)
def zrangebyscore(ctx, args):
    return _zrange(ctx, args, 1, False, _SCORE, False)


@_z("zrevrangebyscore", -4, "readonly",
    "Return a range of members in a sorted set, by score, with scores ordered from high to low", "2.2.0",
    _BY_COMPLEXITY)
def zrevrangebyscore(ctx, args):
    return _zrange(ctx, args, 1, False, _SCORE, True)


@_z("zrangebylex", -4, "readonly", "Return a range of members in a sorted set, by lexicographical range",
    "2.8.9", _BY_COMPLEXITY)
def zrangebylex(ctx, args):
    return _zrange(ctx, args, 1, False, _LEX, False)


@_z("zrevrangebylex", -4, "readonly",
    "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
    "2.8.9", _BY_COMPLEXITY)
def zrevrangebylex(ctx, args):
    return _zrange(ctx, args, 1, False, _LEX, True)


# == removals ===================================================================
@_z("zrem", -3, "write fast", "Remove one or more members from a sorted set", "1.2.0",
    "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be "
    "removed.")
def zrem(ctx, args):
    return zsets.remove(ctx.db, args[1], args[2:])


@_z("zremrangebyrank", 4, "write", "Remove all members in a sorted set within the given indexes", "2.0.0",
    _REMRANGE_COMPLEXITY)
def zremrangebyrank(ctx, args):
    start, stop = parse_int(args[2]), parse_int(args[3])
    db = ctx.db
    meta = zsets.load(db, args[1])
    if meta is None:
        return 0
    return zsets.remove_entries(db, meta, zsets.range_by_rank(db, meta, start, stop, False))


@_z("zremrangebyscore", 4, "write", "Remove all members in a sorted set within the given scores", "1.2.0",
    _REMRANGE_COMPLEXITY)
def zremrangebyscore(ctx, args):
    rng = score_range(args[2], args[3])
    db = ctx.db
    meta = zsets.load(db, args[1])
    if meta is None:
        return 0
    return zsets.remove_entries(db, meta, zsets.range_by_score(db, meta, rng, False))


@_z("zremrangebylex", 4, "write",
    "Remove all members in a sorted set between the given lexicographical range", "2.8.9", _REMRANGE_COMPLEXITY)
def zremrangebylex(ctx, args):
    rng = lex_range(args[2], args[3])
    db = ctx.db
    meta = zsets.load(db, args[1])
    if meta is None:
        return 0
    return zsets.remove_entries(db, meta, zsets.range_by_lex(db, meta, rng, False))


# == pops =======================================================================
def _zpop(ctx, args: list[bytes], highest: bool):
    """ZPOPMIN/ZPOPMAX: without a count a flat [member, score]; with one, pairs
    (nested in RESP3)."""
    if len(args) > 3:
        raise RespError(SYNTAX)
    count = _long_in(args[2], 0, _LONG_MAX, NOT_POSITIVE) if len(args) == 3 else None
    db = ctx.db
    if zsets.load(db, args[1]) is None or count == 0:
        return []
    items = zsets.pop(db, args[1], 1 if count is None else count, highest)
    return _flat(items) if count is None else Pairs(items)


@_z("zpopmin", -2, "write fast", "Remove and return members with the lowest scores in a sorted set", "5.0.0",
    "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements "
    "popped.")
def zpopmin(ctx, args):
    return _zpop(ctx, args, False)


@_z("zpopmax", -2, "write fast", "Remove and return members with the highest scores in a sorted set", "5.0.0",
    "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements "
    "popped.")
def zpopmax(ctx, args):
    return _zpop(ctx, args, True)


def parse_zmpop(args: list[bytes], numkeys_at: int) -> tuple[list[bytes], bool, int]:
    """numkeys key... MIN|MAX [COUNT n] of ZMPOP (and BZMPOP, where numkeys_at is 2)
    -> (keys, highest, count)."""
    numkeys = _long_in(args[numkeys_at], 1, _LONG_MAX, "ERR numkeys should be greater than 0")
    where_at = numkeys_at + numkeys + 1
    if where_at >= len(args) or args[where_at].lower() not in (b"min", b"max"):
        raise RespError(SYNTAX)
    count = None
    j = where_at + 1
    while j < len(args):
        if count is None and args[j].lower() == b"count" and j + 1 < len(args):
            count = _long_in(args[j + 1], 1, _LONG_MAX, "ERR count should be greater than 0")
            j += 2
        else:
            raise RespError(SYNTAX)
    return args[numkeys_at + 1:where_at], args[where_at].lower() == b"max", count or 1


def zmpop_reply(key: bytes, items: list[Entry]) -> list:
    """[key, [[member, score], ...]]: nested pairs in both protocols."""
    return [key, [[m, s] for m, s in items]]


@_z("zmpop", -4, "write movablekeys", "Remove and return members with scores in a sorted set", "7.0.0",
    "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted "
    "set, and M being the number of elements popped.", keys=(0, 0, 0))
def zmpop(ctx, args):
    keys, highest, count = parse_zmpop(args, 1)
    db = ctx.db
    for key in keys:
        if zsets.load(db, key) is not None:
            return zmpop_reply(key, zsets.pop(db, key, count, highest))
    return NULL_ARRAY


# == ZRANDMEMBER ================================================================
@_z("zrandmember", -2, "readonly", "Get one or multiple random elements from a sorted set", "6.2.0",
    "O(N) where N is the number of elements returned")
def zrandmember(ctx, args):
    db = ctx.db
    if len(args) == 2:
        meta = zsets.load(db, args[1])
        return None if meta is None else zsets.random_entries(db, meta, 1, True)[0][0]
    count = range_count(args[2])
    if len(args) > 4 or (len(args) == 4 and args[3].lower() != b"withscores"):
        raise RespError(SYNTAX)
    withscores = len(args) == 4
    if withscores and not -(_LONG_MAX // 2) <= count <= _LONG_MAX // 2:
        raise RespError("ERR value is out of range")
    meta = zsets.load(db, args[1])
    if meta is None or count == 0:
        return []
    items = zsets.random_entries(db, meta, abs(count), count > 0)
    return Pairs(items) if withscores else _members(items)


# == ZUNION / ZINTER / ZDIFF ====================================================
_UNION, _INTER, _DIFF = 0, 1, 2
_AGGREGATES = {b"sum": SUM, b"min": MIN, b"max": MAX}


def _setop(ctx, args: list[bytes], name: str, op: int, store: bool = False, card: bool = False):
    """zunionInterDiffGenericCommand: numkeys, the keys (type-checked first),
    then WEIGHTS / AGGREGATE / WITHSCORES / LIMIT as the command allows."""
    at = 2 if store else 1
    setnum = parse_int(args[at])
    if setnum < 1:
        raise RespError(f"ERR at least 1 input key is needed for '{name}' command")
    if setnum > len(args) - (at + 1):
        raise RespError(SYNTAX)
    db = ctx.db
    sources = [zsets.source(db, k) for k in args[at + 1:at + 1 + setnum]]
    weights = [1.0] * setnum
    how, withscores, limit = SUM, False, 0
    j = at + 1 + setnum
    while j < len(args):
        opt = args[j].lower()
        left = len(args) - j
        if op != _DIFF and not card and left >= setnum + 1 and opt == b"weights":
            weights = [parse_score(w, NOT_FLOAT_WEIGHT) for w in args[j + 1:j + 1 + setnum]]
            j += 1 + setnum
        elif op != _DIFF and not card and left >= 2 and opt == b"aggregate":
            how = _AGGREGATES.get(args[j + 1].lower(), -1)
            if how < 0:
                raise RespError(SYNTAX)
            j += 2
        elif not store and not card and opt == b"withscores":
            withscores = True
            j += 1
        elif card and left >= 2 and opt == b"limit":
            limit = _long_in(args[j + 1], 0, _LONG_MAX, "ERR LIMIT can't be negative")
            j += 2
        else:
            raise RespError(SYNTAX)
    if op == _UNION:
        result = zsets.union(list(zip(sources, weights)), how)
    elif op == _INTER:
        result = zsets.inter(list(zip(sources, weights)), how, limit)
    else:
        result = zsets.diff(sources)
    if card:
        return len(result)
    items = zsets.sorted_entries(result)
    if store:
        return zsets.store(db, args[1], items)
    return Pairs(items) if withscores else _members(items)


_UNION_COMPLEXITY = ("O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being "
                     "the number of elements in the resulting sorted set.")
_INTER_COMPLEXITY = ("O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the "
                     "number of input sorted sets and M being the number of elements in the resulting sorted set.")
_DIFF_COMPLEXITY = ("O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is "
                    "the size of the first set, and K is the size of the result set.")


@_z("zunion", -3, "readonly movablekeys", "Add multiple sorted sets", "6.2.0", _UNION_COMPLEXITY, keys=(0, 0, 0))
def zunion(ctx, args):
    return _setop(ctx, args, "zunion", _UNION)


@_z("zinter", -3, "readonly movablekeys", "Intersect multiple sorted sets", "6.2.0", _INTER_COMPLEXITY,
    keys=(0, 0, 0))
def zinter(ctx, args):
    return _setop(ctx, args, "zinter", _INTER)


@_z("zdiff", -3, "readonly movablekeys", "Subtract multiple sorted sets", "6.2.0", _DIFF_COMPLEXITY,
    keys=(0, 0, 0))
def zdiff(ctx, args):
    return _setop(ctx, args, "zdiff", _DIFF)


@_z("zunionstore", -4, "write denyoom movablekeys",
    "Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", _UNION_COMPLEXITY)
def zunionstore(ctx, args):
    return _setop(ctx, args, "zunionstore", _UNION, store=True)


@_z("zinterstore", -4, "write denyoom movablekeys",
    "Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", _INTER_COMPLEXITY)
def zinterstore(ctx, args):
    return _setop(ctx, args, "zinterstore", _INTER, store=True)


@_z("zdiffstore", -4, "write denyoom movablekeys",
    "Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0", _DIFF_COMPLEXITY)
def zdiffstore(ctx, args):
    return _setop(ctx, args, "zdiffstore", _DIFF, store=True)


@_z("zintercard", -3, "readonly movablekeys", "Intersect multiple sorted sets and return the cardinality of the result",
    "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
    keys=(0, 0, 0))
def zintercard(ctx, args):
    return _setop(ctx, args, "zintercard", _INTER, card=True)


# == ZSCAN ======================================================================
@_z("zscan", -3, "readonly", "Incrementally iterate sorted sets elements and associated scores", "2.8.0",
    SCAN_COMPLEXITY)
def zscan(ctx, args):
    db = ctx.db
    cursor = parse_cursor(args[2])
    meta = zsets.load(db, args[1])
    if meta is None:  # Redis answers before it looks at the options
        return [b"0", []]
    pattern, count = scan_options(args, 3)
    nxt, items = zsets.scan(db, meta, cursor, pattern, count)
    return [str(nxt).encode(), [x for m, s in items for x in (m, format_double(s))]]
