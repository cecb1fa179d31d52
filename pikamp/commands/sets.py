"""Set commands: argument parsing and reply shaping; storage in pikamp.storage.sets."""
from __future__ import annotations

from pikamp.commands.hashes import (
    SCAN_COMPLEXITY,
    range_count,
    scan_options,
)
from pikamp.commands.table import command
from pikamp.errors import SYNTAX, RespError
from pikamp.numbers import parse_cursor, parse_int
from pikamp.storage import hashes, sets

MUST_BE_POSITIVE = "ERR value is out of range, must be positive"
NUMKEYS = "ERR numkeys should be greater than 0"
TOO_MANY_NUMKEYS = "ERR Number of keys can't be greater than number of args"
NEGATIVE_LIMIT = "ERR LIMIT can't be negative"
_INTER = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."
_TOTAL = "O(N) where N is the total number of elements in all given sets."


def _s(name: str, arity: int, flags: str, complexity: str = "O(1)", keys: tuple[int, int, int] = (1, 1, 1),
       since: str = "1.0.0", summary: str = ""):
    return command(name, arity, flags, keys, group="set", since=since, complexity=complexity, summary=summary)


def _non_negative(arg: bytes, error: str) -> int:
    """Redis's getPositiveLongFromObjectOrReply: 0..LONG_MAX, one error for everything else."""
    try:
        n = parse_int(arg)
    except RespError:
        raise RespError(error) from None
    if n < 0:
        raise RespError(error)
    return n


@_s("sadd", -3, "write denyoom fast",
    "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
    summary="Add one or more members to a set")
def sadd(ctx, args):
    return sets.add(ctx.db, args[1], args[2:])


@_s("srem", -3, "write fast", "O(N) where N is the number of members to be removed.",
    summary="Remove one or more members from a set")
def srem(ctx, args):
    return sets.remove(ctx.db, args[1], args[2:])


@_s("scard", 2, "readonly fast", summary="Get the number of members in a set")
def scard(ctx, args):
    return sets.card(ctx.db, args[1])


@_s("sismember", 3, "readonly fast", summary="Determine if a given value is a member of a set")
def sismember(ctx, args):
    return sets.contains(ctx.db, args[1], args[2:3])[0]


@_s("smismember", -3, "readonly fast", "O(N) where N is the number of elements being checked for membership",
    since="6.2.0", summary="Returns the membership associated with the given elements for a set")
def smismember(ctx, args):
    return sets.contains(ctx.db, args[1], args[2:])


@_s("smembers", 2, "readonly", "O(N) where N is the set cardinality.", summary="Get all the members in a set")
def smembers(ctx, args):
    return set(sets.members(ctx.db, args[1]))


@_s("srandmember", -2, "readonly",
    "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
    summary="Get one or multiple random members from a set")
def srandmember(ctx, args):
    if len(args) == 2:
        return sets.random_member(ctx.db, args[1])
    if len(args) > 3:
        raise RespError(SYNTAX)
    count = range_count(args[2])
    return sets.random_members(ctx.db, args[1], abs(count), count > 0)


@_s("spop", -2, "write fast",
    "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
    summary="Remove and return one or multiple random members from a set")
def spop(ctx, args):
    if len(args) == 2:
        popped = sets.pop(ctx.db, args[1], 1)
        return popped[0] if popped else None
    if len(args) > 3:
        raise RespError(SYNTAX)
    count = _non_negative(args[2], MUST_BE_POSITIVE)
    return set(sets.pop(ctx.db, args[1], count) or ())


@_s("smove", 4, "write fast", keys=(1, 2, 1), summary="Move a member from one set to another")
def smove(ctx, args):
    return sets.move(ctx.db, args[1], args[2], args[3])


@_s("sunion", -2, "readonly", _TOTAL, keys=(1, -1, 1), summary="Add multiple sets")
def sunion(ctx, args):
    return set(sets.combine(ctx.db, "union", args[1:]))


@_s("sinter", -2, "readonly", _INTER, keys=(1, -1, 1), summary="Intersect multiple sets")
def sinter(ctx, args):
    return set(sets.combine(ctx.db, "inter", args[1:]))


@_s("sdiff", -2, "readonly", _TOTAL, keys=(1, -1, 1), summary="Subtract multiple sets")
def sdiff(ctx, args):
    return set(sets.combine(ctx.db, "diff", args[1:]))


@_s("sunionstore", -3, "write denyoom", _TOTAL, keys=(1, -1, 1),
    summary="Add multiple sets and store the resulting set in a key")
def sunionstore(ctx, args):
    return sets.store(ctx.db, "union", args[1], args[2:])


@_s("sinterstore", -3, "write denyoom", _INTER, keys=(1, -1, 1),
    summary="Intersect multiple sets and store the resulting set in a key")
def sinterstore(ctx, args):
    return sets.store(ctx.db, "inter", args[1], args[2:])


@_s("sdiffstore", -3, "write denyoom", _TOTAL, keys=(1, -1, 1),
    summary="Subtract multiple sets and store the resulting set in a key")
def sdiffstore(ctx, args):
    return sets.store(ctx.db, "diff", args[1], args[2:])


@_s("sintercard", -3, "readonly movablekeys", _INTER, keys=(0, 0, 0), since="7.0.0",
    summary="Intersect multiple sets and return the cardinality of the result")
def sintercard(ctx, args):
    try:
        numkeys = parse_int(args[1])
    except RespError:
        raise RespError(NUMKEYS) from None
    if numkeys < 1:
        raise RespError(NUMKEYS)
    if numkeys > len(args) - 2:
        raise RespError(TOO_MANY_NUMKEYS)
    limit = 0
    i = 2 + numkeys
    while i < len(args):
        if args[i].lower() == b"limit" and i + 1 < len(args):
            limit = _non_negative(args[i + 1], NEGATIVE_LIMIT)
            i += 2
        else:
            raise RespError(SYNTAX)
    return sets.intersection_size(ctx.db, args[2 : 2 + numkeys], limit)


@_s("sscan", -3, "readonly", SCAN_COMPLEXITY, since="2.8.0", summary="Incrementally iterate Set elements")
def sscan(ctx, args):
    db = ctx.db
    cursor = parse_cursor(args[2])
    meta = sets.load(db, args[1])
    if meta is None:  # Redis answers before it looks at the options
        return [b"0", []]
    pattern, count = scan_options(args, 3)
    nxt, found = hashes.scan(db, meta, cursor, pattern, count)
    return [str(nxt).encode(), [m for m, _ in found]]
