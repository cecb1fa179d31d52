"""String commands: argument parsing and reply shaping; storage in pikamp.storage.strings."""
from __future__ import annotations

from pikamp import lcs
from pikamp.commands.table import command
from pikamp.errors import INVALID_EXPIRE, NOT_INTEGER, SYNTAX, RespError, wrong_arity
from pikamp.numbers import c_word, parse_int
from pikamp.storage import strings

_MAX_MS = 2**63 - 1
_PKSETEXAT_MAX = 2**31 - 1  # Pika keeps the timestamp in an int32 and refuses INT32_MAX itself

OFFSET_OUT_OF_RANGE = "ERR offset is out of range"
DECREMENT_OVERFLOW = "ERR decrement would overflow"
LCS_NOT_STRINGS = "ERR The specified keys must contain string values"
LCS_LEN_AND_IDX = "ERR If you want both the length and indexes, please just use IDX."
LCS_TOO_LONG = "ERR String too long for LCS"
LCS_TOO_BIG = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"

# SET / GETEX options (Redis's parseExtendedStringArgumentsOrReply).
_NX, _XX, _GET, _KEEPTTL, _PERSIST = 1, 2, 4, 8, 16
_EXPIRE_UNITS = (b"ex", b"px", b"exat", b"pxat")


def expire_at_ms(now_ms: int, unit: bytes, arg: bytes, cmd: str) -> int:
    """Absolute expiry in ms from EX/PX/EXAT/PXAT and its argument (Redis's checks)."""
    n = parse_int(arg)
    if n <= 0:
        raise RespError(INVALID_EXPIRE.format(cmd))
    if unit in (b"ex", b"exat"):
        if n > _MAX_MS // 1000:
            raise RespError(INVALID_EXPIRE.format(cmd))
        n *= 1000
    if unit in (b"ex", b"px"):
        if n > _MAX_MS - now_ms:
            raise RespError(INVALID_EXPIRE.format(cmd))
        n += now_ms
    return n


def _parse_options(args: list[bytes], first: int, for_set: bool) -> tuple[int, bytes | None, bytes | None]:
    """SET's or GETEX's options from ``args[first:]`` -> (flags, expire unit, expire argument).

    As in Redis, repeating an option is allowed (the last expire value wins)
    while conflicting ones (NX with XX, two different units, KEEPTTL or
    PERSIST with an expire) are a syntax error.
    """
    flags = 0
    unit = expire = None
    i, n = first, len(args)
    while i < n:
        opt = args[i].lower()
        if for_set and opt == b"nx" and not flags & _XX:
            flags |= _NX
        elif for_set and opt == b"xx" and not flags & _NX:
            flags |= _XX
        elif for_set and opt == b"get":
            flags |= _GET
        elif for_set and opt == b"keepttl" and unit is None:
            flags |= _KEEPTTL
        elif not for_set and opt == b"persist" and unit is None:
            flags |= _PERSIST
        elif opt in _EXPIRE_UNITS and unit in (None, opt) and not flags & (_KEEPTTL | _PERSIST) and i + 1 < n:
            unit = opt
            i += 1
            expire = args[i]
        else:
            raise RespError(SYNTAX)
        i += 1
    return flags, unit, expire


# -- SET and its variants ------------------------------------------------------------
@command("get", 2, "readonly fast", (1, 1, 1), group="string", summary="Get the value of a key")
def get(ctx, args):
    return strings.get(ctx.db, args[1])


@command("set", -3, "write denyoom", (1, 1, 1), group="string", summary="Set the string value of a key")
def set_(ctx, args):
    db = ctx.db
    key = args[1]
    if len(args) == 3:  # the common case, kept flat
        strings.put(db, key, args[2], 0, db.lookup(key))
        return "OK"
    flags, unit, expire = _parse_options(args, 3, True)
    when = 0 if unit is None else expire_at_ms(db.clock.ms, unit, expire, "set")
    written, previous = strings.set_value(
        db, key, args[2], when,
        nx=bool(flags & _NX), xx=bool(flags & _XX),
        keep_ttl=bool(flags & _KEEPTTL), want_old=bool(flags & _GET),
    )
    if flags & _GET:
        return previous
    return "OK" if written else None


@command("setnx", 3, "write denyoom fast", (1, 1, 1), group="string",
         summary="Set the value of a key, only if the key does not exist")
def setnx(ctx, args):
    written, _ = strings.set_value(ctx.db, args[1], args[2], 0, nx=True)
    return int(written)


def _set_with_ttl(ctx, args: list[bytes], unit: bytes, cmd: str) -> str:
    when = expire_at_ms(ctx.db.clock.ms, unit, args[2], cmd)
    strings.set_value(ctx.db, args[1], args[3], when)
    return "OK"


@command("setex", 4, "write denyoom", (1, 1, 1), group="string", since="2.0.0",
         summary="Set the value and expiration of a key")
def setex(ctx, args):
    return _set_with_ttl(ctx, args, b"ex", "setex")


@command("psetex", 4, "write denyoom", (1, 1, 1), group="string", since="2.6.0",
         summary="Set the value and expiration in milliseconds of a key")
def psetex(ctx, args):
    return _set_with_ttl(ctx, args, b"px", "psetex")


@command("pksetexat", 4, "write denyoom", (1, 1, 1), group="string", since="0.1.0",
         summary="Set the value of a key with an absolute expiry in unix seconds (Pika)")
def pksetexat(ctx, args):
    seconds = parse_int(args[2])
    if seconds >= _PKSETEXAT_MAX:
        raise RespError(NOT_INTEGER)
    strings.set_expire_at(ctx.db, args[1], args[3], seconds * 1000)
    return "OK"


@command("getset", 3, "write denyoom fast", (1, 1, 1), group="string",
         summary="Set the string value of a key and return its old value")
def getset(ctx, args):
    _, previous = strings.set_value(ctx.db, args[1], args[2], 0, want_old=True)
    return previous


@command("getdel", 2, "write fast", (1, 1, 1), group="string", since="6.2.0",
         summary="Get the value of a key and delete the key")
def getdel(ctx, args):
    return strings.get_del(ctx.db, args[1])


@command("getex", -2, "write fast", (1, 1, 1), group="string", since="6.2.0",
         summary="Get the value of a key and optionally set its expiration")
def getex(ctx, args):
    db = ctx.db
    flags, unit, expire = _parse_options(args, 2, False)
    raw = strings.lookup(db, args[1])
    if raw is None:
        return None
    # Redis validates the expire value only once it knows the key is a string.
    if unit is not None:
        strings.change_expire(db, args[1], raw, expire_at_ms(db.clock.ms, unit, expire, "getex"))
    elif flags & _PERSIST:
        strings.change_expire(db, args[1], raw, 0)
    return strings.value_of(db, args[1], raw)


@command("delvx", 3, "write", (1, 1, 1), group="string", since="0.1.0",
         summary="Delete a key if its value equals the given one (Pika)")
def delvx(ctx, args):
    return strings.delete_if_equal(ctx.db, args[1], args[2])


# -- several keys ----------------------------------------------------------------------
@command("mget", -2, "readonly fast", (1, -1, 1), group="string",
         summary="Get the values of all the given keys", complexity="O(N) where N is the number of keys to retrieve.")
def mget(ctx, args):
    return strings.get_many(ctx.db, args[1:])


@command("mset", -3, "write denyoom", (1, -1, 2), group="string", since="1.0.1",
         summary="Set multiple keys to multiple values", complexity="O(N) where N is the number of keys to set.")
def mset(ctx, args):
    if len(args) % 2 == 0:
        raise wrong_arity("mset")
    strings.set_many(ctx.db, args[1:])
    return "OK"


@command("msetnx", -3, "write denyoom", (1, -1, 2), group="string", since="1.0.1",
         summary="Set multiple keys to multiple values, only if none of the keys exist",
         complexity="O(N) where N is the number of keys to set.")
def msetnx(ctx, args):
    if len(args) % 2 == 0:
        raise wrong_arity("msetnx")
    return int(strings.set_many_if_none_exist(ctx.db, args[1:]))


# -- edits in place --------------------------------------------------------------------
@command("append", 3, "write denyoom fast", (1, 1, 1), group="string", since="2.0.0",
         summary="Append a value to a key",
         complexity="O(1). The amortized time complexity is O(1) assuming the appended value is small "
                    "and the already present value is of any size, since the dynamic string library used "
                    "by Redis will double the free space available on every reallocation.")
def append(ctx, args):
    return strings.append(ctx.db, args[1], args[2], ctx.worker.max_bulk)


@command("strlen", 2, "readonly fast", (1, 1, 1), group="string", since="2.2.0",
         summary="Get the length of the value stored in a key")
def strlen(ctx, args):
    return strings.strlen(ctx.db, args[1])


_RANGE_COMPLEXITY = (
    "O(N) where N is the length of the returned string. The complexity is ultimately determined by the "
    "returned length, but because creating a substring from an existing string is very cheap, it can be "
    "considered O(1) for small strings."
)


@command("getrange", 4, "readonly", (1, 1, 1), group="string", since="2.4.0",
         summary="Get a substring of the string stored at a key", complexity=_RANGE_COMPLEXITY)
def getrange(ctx, args):
    start = parse_int(args[2])
    end = parse_int(args[3])
    return strings.get_range(ctx.db, args[1], start, end)


command("substr", 4, "readonly", (1, 1, 1), group="string", since="1.0.0",
        summary="Get a substring of the string stored at a key", complexity=_RANGE_COMPLEXITY)(getrange)


@command("setrange", 4, "write denyoom", (1, 1, 1), group="string", since="2.2.0",
         summary="Overwrite part of a string at key starting at the specified offset",
         complexity="O(1), not counting the time taken to copy the new string in place. Usually, this "
                    "string is very small so the amortized complexity is O(1). Otherwise, complexity is "
                    "O(M) with M being the length of the value argument.")
def setrange(ctx, args):
    offset = parse_int(args[2])
    if offset < 0:
        raise RespError(OFFSET_OUT_OF_RANGE)
    return strings.set_range(ctx.db, args[1], offset, args[3], ctx.worker.max_bulk)


# -- counters ----------------------------------------------------------------------------
@command("incr", 2, "write denyoom fast", (1, 1, 1), group="string",
         summary="Increment the integer value of a key by one")
def incr(ctx, args):
    return strings.incr_by(ctx.db, args[1], 1)


@command("decr", 2, "write denyoom fast", (1, 1, 1), group="string",
         summary="Decrement the integer value of a key by one")
def decr(ctx, args):
    return strings.incr_by(ctx.db, args[1], -1)


@command("incrby", 3, "write denyoom fast", (1, 1, 1), group="string",
         summary="Increment the integer value of a key by the given amount")
def incrby(ctx, args):
    return strings.incr_by(ctx.db, args[1], parse_int(args[2]))


@command("decrby", 3, "write denyoom fast", (1, 1, 1), group="string",
         summary="Decrement the integer value of a key by the given number")
def decrby(ctx, args):
    delta = parse_int(args[2])
    if delta == -(2**63):  # its negation does not fit in 64 bits
        raise RespError(DECREMENT_OVERFLOW)
    return strings.incr_by(ctx.db, args[1], -delta)


@command("incrbyfloat", 3, "write denyoom fast", (1, 1, 1), group="string", since="2.6.0",
         summary="Increment the float value of a key by the given amount")
def incrbyfloat(ctx, args):
    # A bulk string in RESP3 too: it is the stored value, not a double reply.
    return strings.incr_by_float(ctx.db, args[1], args[2])


# -- LCS -------------------------------------------------------------------------------
@command("lcs", -3, "readonly", (1, 2, 1), group="string", since="7.0.0", summary="Find longest common substring",
         complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively")
def lcs_(ctx, args):
    """LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: a missing key
    is an empty string; refused where Redis' table would pass proto-max-bulk-len."""
    db = ctx.db
    records = [db.lookup(args[1]), db.lookup(args[2])]
    if any(raw is not None and not strings.is_string(raw) for raw in records):
        raise RespError(LCS_NOT_STRINGS)
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 3
    while j < len(args):
        opt = c_word(args[j])
        if opt == b"idx":
            getidx = True
        elif opt == b"len":
            getlen = True
        elif opt == b"withmatchlen":
            withmatchlen = True
        elif opt == b"minmatchlen" and j + 1 < len(args):
            minmatchlen = max(parse_int(args[j + 1]), 0)
            j += 1
        else:
            raise RespError(SYNTAX)
        j += 1
    if getlen and getidx:
        raise RespError(LCS_LEN_AND_IDX)
    alen, blen = (0 if raw is None else strings.length(raw) for raw in records)
    if max(alen, blen) >= 2**32 - 2:
        raise RespError(LCS_TOO_LONG)
    if lcs.table_bytes(alen, blen) > ctx.worker.max_bulk:
        raise RespError(LCS_TOO_BIG)
    a, b = (b"" if raw is None else strings.value_of(db, key, raw) for key, raw in zip(args[1:3], records))
    if getlen:
        return lcs.length(a, b)
    text, ranges = lcs.matches(a, b)
    if not getidx:
        return text
    found = [[[a_start, a_end], [b_start, b_end]] + ([a_end - a_start + 1] if withmatchlen else [])
             for a_start, a_end, b_start, b_end in ranges if a_end - a_start + 1 >= minmatchlen]
    return {b"matches": found, b"len": len(text)}
