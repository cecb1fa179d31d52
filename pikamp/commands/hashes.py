"""Hash commands (Redis 7.0 and Pika's HSCANX / PKHSCANRANGE / PKHRSCANRANGE):
argument parsing and reply shaping; storage in pikamp.storage.hashes."""
from __future__ import annotations

from pikamp.commands.table import command
from pikamp.errors import NOT_FLOAT, NOT_INTEGER, SYNTAX, RespError, wrong_arity
from pikamp.numbers import is_finite, parse_cursor, parse_int, parse_long_double
from pikamp.resp import Pairs
from pikamp.storage import hashes
from pikamp.storage.hashes import Entry

_LONG_MAX = 2**63 - 1
NAN_OR_INFINITY_ARG = "ERR value is NaN or Infinity"
OUT_OF_RANGE = "ERR value is out of range"
PIKA_RANGE_ERROR = "ERR Invalid argument: error in given range"
SCAN_COMPLEXITY = ("O(1) for every call. O(N) for a complete iteration, including enough command calls for "
                   "the cursor to return back to 0. N is the number of elements inside the collection..")


def _h(name: str, arity: int, flags: str, complexity: str = "O(1)", since: str = "2.0.0", summary: str = ""):
    return command(name, arity, flags, (1, 1, 1), group="hash", since=since, complexity=complexity,
                   summary=summary)


def _pairs(args: list[bytes], name: str) -> list[Entry]:
    if len(args) % 2:
        raise wrong_arity(name)
    return list(zip(args[2::2], args[3::2]))


def _flat(pairs: list[Entry]) -> list[bytes]:
    return [x for pair in pairs for x in pair]


def range_count(arg: bytes) -> int:
    """Redis's getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) for HRANDFIELD / SRANDMEMBER."""
    n = parse_int(arg)
    if n < -_LONG_MAX:
        raise RespError(f"ERR value is out of range, value must between {-_LONG_MAX} and {_LONG_MAX}")
    return n


def scan_options(args: list[bytes], start: int) -> tuple[bytes | None, int]:
    """[MATCH pattern] [COUNT n] of HSCAN / SSCAN -> (pattern or None for all, count)."""
    pattern: bytes | None = None
    count = 10
    i = start
    while i < len(args):
        opt = args[i].lower()
        if opt == b"count" and i + 1 < len(args):
            count = parse_int(args[i + 1])
            if count < 1:
                raise RespError(SYNTAX)
        elif opt == b"match" and i + 1 < len(args):
            pattern = None if args[i + 1] == b"*" else args[i + 1]
        else:
            raise RespError(SYNTAX)
        i += 2
    return pattern, count


@_h("hset", -4, "write denyoom fast",
    "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called "
    "with multiple field/value pairs.",
    summary="Set the string value of a hash field")
def hset(ctx, args):
    return hashes.set_fields(ctx.db, args[1], _pairs(args, "hset"))


@_h("hmset", -4, "write denyoom fast", "O(N) where N is the number of fields being set.",
    summary="Set multiple hash fields to multiple values")
def hmset(ctx, args):
    hashes.set_fields(ctx.db, args[1], _pairs(args, "hmset"))
    return "OK"


@_h("hsetnx", 4, "write denyoom fast", summary="Set the value of a hash field, only if the field does not exist")
def hsetnx(ctx, args):
    return hashes.setnx(ctx.db, args[1], args[2], args[3])


@_h("hget", 3, "readonly fast", summary="Get the value of a hash field")
def hget(ctx, args):
    return hashes.get(ctx.db, args[1], args[2])


@_h("hmget", -3, "readonly fast", "O(N) where N is the number of fields being requested.",
    summary="Get the values of all the given hash fields")
def hmget(ctx, args):
    return hashes.mget(ctx.db, args[1], args[2:])


@_h("hdel", -3, "write fast", "O(N) where N is the number of fields to be removed.",
    summary="Delete one or more hash fields")
def hdel(ctx, args):
    return hashes.delete_fields(ctx.db, args[1], args[2:])


@_h("hlen", 2, "readonly fast", summary="Get the number of fields in a hash")
def hlen(ctx, args):
    return hashes.length(ctx.db, args[1])


@_h("hstrlen", 3, "readonly fast", since="3.2.0", summary="Get the length of the value of a hash field")
def hstrlen(ctx, args):
    return hashes.strlen(ctx.db, args[1], args[2])


@_h("hexists", 3, "readonly fast", summary="Determine if a hash field exists")
def hexists(ctx, args):
    return int(hashes.exists(ctx.db, args[1], args[2]))


@_h("hincrby", 4, "write denyoom fast", summary="Increment the integer value of a hash field by the given number")
def hincrby(ctx, args):
    return hashes.incrby(ctx.db, args[1], args[2], parse_int(args[3]))


@_h("hincrbyfloat", 4, "write denyoom fast", since="2.6.0",
    summary="Increment the float value of a hash field by the given amount")
def hincrbyfloat(ctx, args):
    incr = parse_long_double(args[3])
    if incr is None:
        raise RespError(NOT_FLOAT)
    if not is_finite(incr):  # +-inf
        raise RespError(NAN_OR_INFINITY_ARG)
    return hashes.incrbyfloat(ctx.db, args[1], args[2], incr)


@_h("hkeys", 2, "readonly", "O(N) where N is the size of the hash.", summary="Get all the fields in a hash")
def hkeys(ctx, args):
    return [f for f, _ in hashes.items(ctx.db, args[1])]


@_h("hvals", 2, "readonly", "O(N) where N is the size of the hash.", summary="Get all the values in a hash")
def hvals(ctx, args):
    return [v for _, v in hashes.items(ctx.db, args[1])]


@_h("hgetall", 2, "readonly", "O(N) where N is the size of the hash.",
    summary="Get all the fields and values in a hash")
def hgetall(ctx, args):
    return dict(hashes.items(ctx.db, args[1]))


@_h("hrandfield", -2, "readonly", "O(N) where N is the number of fields returned", since="6.2.0",
    summary="Get one or multiple random fields from a hash")
def hrandfield(ctx, args):
    if len(args) == 2:
        picked = hashes.random_fields(ctx.db, args[1], 1, True)
        return picked[0][0] if picked else None
    count = range_count(args[2])
    if len(args) > 4 or (len(args) == 4 and args[3].lower() != b"withvalues"):
        raise RespError(SYNTAX)
    with_values = len(args) == 4
    if with_values and not -(_LONG_MAX // 2) <= count <= _LONG_MAX // 2:  # C division
        raise RespError(OUT_OF_RANGE)
    picked = hashes.random_fields(ctx.db, args[1], abs(count), count > 0) or []
    if with_values:
        return Pairs(picked)
    return [f for f, _ in picked]


@_h("hscan", -3, "readonly", SCAN_COMPLEXITY, since="2.8.0",
    summary="Incrementally iterate hash fields and associated values")
def hscan(ctx, args):
    db = ctx.db
    cursor = parse_cursor(args[2])
    meta = hashes.load(db, args[1])
    if meta is None:  # Redis answers before it looks at the options
        return [b"0", []]
    pattern, count = scan_options(args, 3)
    nxt, found = hashes.scan(db, meta, cursor, pattern, count)
    return [str(nxt).encode(), _flat(found)]


# -- Pika's field-ordered scans ------------------------------------------------
def _pika_options(args: list[bytes], start: int, size_opt: bytes) -> tuple[bytes | None, int]:
    """[MATCH p] [COUNT|LIMIT n] as Pika parses them; n defaults to 10, a LIMIT must be > 0."""
    pattern: bytes | None = None
    size = 10
    i = start
    while i < len(args):
        opt = args[i].lower()
        if opt not in (b"match", size_opt) or i + 1 >= len(args):
            raise RespError(SYNTAX)
        if opt == b"match":
            pattern = None if args[i + 1] == b"*" else args[i + 1]
        else:
            size = parse_int(args[i + 1])
            if size <= 0 and size_opt == b"limit":
                raise RespError(NOT_INTEGER)
        i += 2
    if size < 0:  # Pika checks COUNT's sign after the whole parse
        raise RespError(SYNTAX)
    return pattern, size


@_h("hscanx", -3, "readonly", "O(N) where N is COUNT", since="3.0.0",
    summary="Pika: scan a hash's fields in order from start_field; returns the next start field")
def hscanx(ctx, args):
    pattern, count = _pika_options(args, 3, b"count")
    nxt, found = hashes.scan_from(ctx.db, args[1], args[2], pattern, count)
    return [nxt, _flat(found)]


def _scan_range(ctx, args: list[bytes], reverse: bool):
    start, end = args[2], args[3]
    pattern, limit = _pika_options(args, 4, b"limit")
    if start and end and (start < end if reverse else start > end):
        raise RespError(PIKA_RANGE_ERROR)
    nxt, found = hashes.scan_range(ctx.db, args[1], start, end, pattern, limit, reverse)
    return [nxt, _flat(found)]


@_h("pkhscanrange", -4, "readonly", "O(N) where N is LIMIT", since="3.0.0",
    summary="Pika: fields of a hash between field_start and field_end (inclusive, \"\" = unbounded)")
def pkhscanrange(ctx, args):
    return _scan_range(ctx, args, False)


@_h("pkhrscanrange", -4, "readonly", "O(N) where N is LIMIT", since="3.0.0",
    summary="Pika: like PKHSCANRANGE, in descending field order from field_start down to field_end")
def pkhrscanrange(ctx, args):
    return _scan_range(ctx, args, True)
