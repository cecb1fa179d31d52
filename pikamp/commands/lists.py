"""List commands, blocking ones included: argument parsing and reply shaping.

Storage semantics live in pikamp.storage.lists; parking and waking blocked
clients in pikamp.blocking. Each handler validates everything before its
first write, so a command is one atomic batch.
"""
from __future__ import annotations

from pikamp import blocking
from pikamp.commands.table import command
from pikamp.errors import NO_SUCH_KEY, OUT_OF_RANGE, SYNTAX, RespError, wrong_arity
from pikamp.numbers import parse_int
from pikamp.resp import NULL_ARRAY
from pikamp.storage import lists
from pikamp.storage.database import Database

POP_COUNT = "ERR value is out of range, must be positive"
NUMKEYS = "ERR numkeys should be greater than 0"
MPOP_COUNT = "ERR count should be greater than 0"
RANK_ZERO = ("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
             "or use negative to start from the end of the list")
LPOS_COUNT = "ERR COUNT can't be negative"
LPOS_MAXLEN = "ERR MAXLEN can't be negative"
_LONG_MIN = -(2**63)

_PUSH_COMPLEXITY = ("O(1) for each element added, so O(N) to add N elements when the command "
                    "is called with multiple arguments.")


_LIST_ENDS = {b"left": True, b"right": False}


def keyword(arg: bytes, words: dict[bytes, bool]) -> bool:
    """The flag of a keyword argument (any case); anything else is a syntax error."""
    flag = words.get(arg.lower())
    if flag is None:
        raise RespError(SYNTAX)
    return flag


def parse_mpop(args: list[bytes], numkeys_at: int, ends: dict[bytes, bool]) -> tuple[list[bytes], bool, int]:
    """``numkeys key... <end> [COUNT n]`` of LMPOP/BLMPOP/BZMPOP, starting at
    args[numkeys_at]; ``ends`` maps the lowercase end words to a flag.
    Returns (keys, flag, count)."""
    numkeys = parse_int(args[numkeys_at], NUMKEYS)
    if numkeys <= 0:
        raise RespError(NUMKEYS)
    end_at = numkeys_at + numkeys + 1
    if end_at >= len(args):
        raise RespError(SYNTAX)
    flag = keyword(args[end_at], ends)
    count = -1
    i = end_at + 1
    while i < len(args):
        if count == -1 and args[i].lower() == b"count" and i + 1 < len(args):
            count = parse_int(args[i + 1], MPOP_COUNT)
            if count <= 0:
                raise RespError(MPOP_COUNT)
            i += 2
        else:
            raise RespError(SYNTAX)
    return args[numkeys_at + 1 : end_at], flag, max(count, 1)


# -- push ----------------------------------------------------------------------
def _push(db: Database, args: list[bytes], head: bool, create: bool) -> int:
    meta = lists.load(db, args[1])
    if meta is None:
        if not create:
            return 0
        meta = lists.new(db, args[1])
    lists.push(db, meta, args[2:], head)
    meta.save(db)
    return meta.count


@command("lpush", -3, "write denyoom fast", (1, 1, 1), group="list",
         summary="Prepend one or multiple elements to a list", complexity=_PUSH_COMPLEXITY)
def lpush(ctx, args):
    return _push(ctx.db, args, True, True)


@command("rpush", -3, "write denyoom fast", (1, 1, 1), group="list",
         summary="Append one or multiple elements to a list", complexity=_PUSH_COMPLEXITY)
def rpush(ctx, args):
    return _push(ctx.db, args, False, True)


@command("lpushx", -3, "write denyoom fast", (1, 1, 1), group="list", since="2.2.0",
         summary="Prepend an element to a list, only if the list exists", complexity=_PUSH_COMPLEXITY)
def lpushx(ctx, args):
    return _push(ctx.db, args, True, False)


@command("rpushx", -3, "write denyoom fast", (1, 1, 1), group="list", since="2.2.0",
         summary="Append an element to a list, only if the list exists", complexity=_PUSH_COMPLEXITY)
def rpushx(ctx, args):
    return _push(ctx.db, args, False, False)


# -- pop -----------------------------------------------------------------------
def _pop(ctx, args: list[bytes], head: bool):
    if len(args) > 3:
        raise wrong_arity(args[0].decode("latin-1").lower())
    count = None
    if len(args) == 3:
        count = parse_int(args[2], POP_COUNT)
        if count < 0:
            raise RespError(POP_COUNT)
    db = ctx.db
    meta = lists.load(db, args[1])
    if meta is None:
        return None if count is None else NULL_ARRAY
    if count is None:
        value = lists.pop(db, meta, 1, head)[0]
        meta.save(db)
        return value
    if count == 0:
        return []
    values = lists.pop(db, meta, count, head)
    meta.save(db)
    return values


@command("lpop", -2, "write fast", (1, 1, 1), group="list",
         summary="Remove and get the first elements in a list",
         complexity="O(N) where N is the number of elements returned")
def lpop(ctx, args):
    return _pop(ctx, args, True)


@command("rpop", -2, "write fast", (1, 1, 1), group="list",
         summary="Remove and get the last elements in a list",
         complexity="O(N) where N is the number of elements returned")
def rpop(ctx, args):
    return _pop(ctx, args, False)


# -- reads ---------------------------------------------------------------------
@command("llen", 2, "readonly fast", (1, 1, 1), group="list", summary="Get the length of a list")
def llen(ctx, args):
    meta = lists.load(ctx.db, args[1])
    return 0 if meta is None else meta.count


def _position(meta: lists.ListMeta, index: int) -> int | None:
    """The position of a (possibly negative) index, or None when out of range."""
    pos = index + meta.count if index < 0 else index
    return pos if 0 <= pos < meta.count else None


@command("lindex", 3, "readonly", (1, 1, 1), group="list",
         summary="Get an element from a list by its index",
         complexity="O(N) where N is the number of elements to traverse to get to the element at index. "
                    "This makes asking for the first or the last element of the list O(1).")
def lindex(ctx, args):
    db = ctx.db
    meta = lists.load(db, args[1])
    if meta is None:
        return None
    pos = _position(meta, parse_int(args[2]))
    return None if pos is None else lists.get(db, meta, pos)


@command("lset", 4, "write denyoom", (1, 1, 1), group="list",
         summary="Set the value of an element in a list by its index",
         complexity="O(N) where N is the length of the list. Setting either the first or the last "
                    "element of the list is O(1).")
def lset(ctx, args):
    db = ctx.db
    meta = lists.load(db, args[1])
    if meta is None:
        raise RespError(NO_SUCH_KEY)
    pos = _position(meta, parse_int(args[2]))
    if pos is None:
        raise RespError(OUT_OF_RANGE)
    lists.set_at(db, meta, pos, args[3])
    return "OK"


def _clamp(meta: lists.ListMeta, start: int, stop: int) -> tuple[int, int]:
    """Redis's range normalisation; returns start > stop for an empty range."""
    n = meta.count
    if start < 0:
        start += n
    if stop < 0:
        stop += n
    start = max(start, 0)
    if start > stop or start >= n:
        return 1, 0
    return start, min(stop, n - 1)


@command("lrange", 4, "readonly", (1, 1, 1), group="list", summary="Get a range of elements from a list",
         complexity="O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest "
                    "end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.")
def lrange(ctx, args):
    start, stop = parse_int(args[2]), parse_int(args[3])
    db = ctx.db
    meta = lists.load(db, args[1])
    if meta is None:
        return []
    start, stop = _clamp(meta, start, stop)
    return lists.span(db, meta, start, stop)


@command("lpos", -3, "readonly", (1, 1, 1), group="list", since="6.0.6",
         summary="Return the index of matching elements on a list",
         complexity="O(N) where N is the number of elements in the list, for the average case. When searching "
                    "for elements near the head or the tail of the list, or when the MAXLEN option is provided, "
                    "the command may run in constant time.")
def lpos(ctx, args):
    rank, count, maxlen = _lpos_options(args)
    db = ctx.db
    meta = lists.load(db, args[1])
    if meta is None:
        return None if count is None else []
    if count is None:
        found = _lpos_scan(db, meta, args[2], rank, 1, maxlen)
        return found[0] if found else None
    if rank == _LONG_MIN:
        # Redis negates RANK in a C long: LONG_MIN stays negative, which makes
        # its COUNT check overflow, so every match is returned.
        count = 0
    return _lpos_scan(db, meta, args[2], rank, count, maxlen)


def _lpos_options(args: list[bytes]) -> tuple[int, int | None, int]:
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if i + 1 >= len(args) or opt not in (b"rank", b"count", b"maxlen"):
            raise RespError(SYNTAX)
        value = args[i + 1]
        if opt == b"rank":
            rank = parse_int(value)
            if rank == 0:
                raise RespError(RANK_ZERO)
        elif opt == b"count":
            count = parse_int(value, LPOS_COUNT)
            if count < 0:
                raise RespError(LPOS_COUNT)
        else:
            maxlen = parse_int(value, LPOS_MAXLEN)
            if maxlen < 0:
                raise RespError(LPOS_MAXLEN)
        i += 2
    return rank, count, maxlen


def _lpos_scan(db: Database, meta: lists.ListMeta, element: bytes, rank: int, count: int,
               maxlen: int) -> list[int]:
    """Positions of the matches from the ``rank``-th on (negative: from the
    tail), at most ``count`` of them (0: all), looking at ``maxlen`` elements (0: all)."""
    from_head = rank > 0
    skip = 0 if rank == _LONG_MIN else abs(rank) - 1
    found: list[int] = []
    for i, value in enumerate(lists.scan(db, meta, from_head)):
        if maxlen and i >= maxlen:
            break
        if value != element:
            continue
        if skip:
            skip -= 1
            continue
        found.append(i if from_head else meta.count - 1 - i)
        if len(found) == count:
            break
    return found


# -- in-place edits ------------------------------------------------------------
@command("ltrim", 4, "write", (1, 1, 1), group="list", summary="Trim a list to the specified range",
         complexity="O(N) where N is the number of elements to be removed by the operation.")
def ltrim(ctx, args):
    start, stop = parse_int(args[2]), parse_int(args[3])
    db = ctx.db
    meta = lists.load(db, args[1])
    if meta is None:
        return "OK"
    start, stop = _clamp(meta, start, stop)
    if start != 0 or stop != meta.count - 1:
        lists.trim(db, meta, start, stop)
        meta.save(db)
    return "OK"


@command("linsert", 5, "write denyoom", (1, 1, 1), group="list", since="2.2.0",
         summary="Insert an element before or after another element in a list",
         complexity="O(N) where N is the number of elements to traverse before seeing the value pivot. This "
                    "means that inserting somewhere on the left end on the list (head) can be considered O(1) "
                    "and inserting somewhere on the right end (tail) is O(N).")
def linsert(ctx, args):
    where = args[2].lower()
    if where not in (b"before", b"after"):
        raise RespError(SYNTAX)
    db = ctx.db
    meta = lists.load(db, args[1])
    if meta is None:
        return 0
    pivot = args[3]
    head: list[bytes] = []
    for value in lists.scan(db, meta):
        head.append(value)
        if value == pivot:
            break
    else:
        return -1
    pos = len(head) if where == b"after" else len(head) - 1
    lists.insert(db, meta, pos, args[4], head[:pos])
    meta.save(db)
    return meta.count


@command("lrem", 4, "write", (1, 1, 1), group="list", summary="Remove elements from a list",
         complexity="O(N+M) where N is the length of the list and M is the number of elements removed.")
def lrem(ctx, args):
    count = parse_int(args[2])
    db = ctx.db
    meta = lists.load(db, args[1])
    if meta is None:
        return 0
    element = args[3]
    from_head = count >= 0
    limit = abs(count)
    elems: list[bytes] = []
    hits: list[int] = []  # indexes into elems
    for value in lists.scan(db, meta, from_head):
        if value == element:
            hits.append(len(elems))
        elems.append(value)
        if limit and len(hits) == limit:
            break
    if not hits:
        return 0
    if from_head:
        start, drop = 0, hits
    else:
        elems.reverse()
        start = meta.count - len(elems)
        drop = [meta.count - 1 - h for h in reversed(hits)]
    lists.remove(db, meta, start, elems, drop)
    meta.save(db)
    return len(hits)


# -- moves between lists -------------------------------------------------------
def _move(db: Database, src: bytes, dst: bytes, from_head: bool, to_head: bool) -> bytes | None:
    """Pop from ``src`` and push onto ``dst`` in one batch; None if ``src`` is empty."""
    smeta = lists.load(db, src)
    if smeta is None:
        return None
    dmeta = smeta if dst == src else lists.load_or_new(db, dst)
    value = lists.pop(db, smeta, 1, from_head)[0]
    lists.push(db, dmeta, [value], to_head)
    if dmeta is not smeta:
        smeta.save(db)
    dmeta.save(db)
    return value


@command("rpoplpush", 3, "write denyoom", (1, 2, 1), group="list", since="1.2.0",
         summary="Remove the last element in a list, prepend it to another list and return it")
def rpoplpush(ctx, args):
    return _move(ctx.db, args[1], args[2], False, True)


@command("lmove", 5, "write denyoom", (1, 2, 1), group="list", since="6.2.0",
         summary="Pop an element from a list, push it to another list and return it")
def lmove(ctx, args):
    from_head, to_head = keyword(args[3], _LIST_ENDS), keyword(args[4], _LIST_ENDS)
    return _move(ctx.db, args[1], args[2], from_head, to_head)


def _mpop_first(db: Database, keys: list[bytes], head: bool, count: int):
    """[key, elements] popped from the first non-empty list, or None."""
    for key in keys:
        meta = lists.load(db, key)
        if meta is not None:
            values = lists.pop(db, meta, count, head)
            meta.save(db)
            return [key, values]
    return None


@command("lmpop", -4, "write movablekeys", group="list", since="7.0.0", summary="Pop elements from a list",
         complexity="O(N+M) where N is the number of provided keys and M is the number of elements returned.")
def lmpop(ctx, args):
    keys, head, count = parse_mpop(args, 1, _LIST_ENDS)
    found = _mpop_first(ctx.db, keys, head, count)
    return NULL_ARRAY if found is None else found


# -- blocking ------------------------------------------------------------------
def _serve_pop(head: bool, count: int | None):
    """A waiter's serve function for BLPOP/BRPOP (count None) and BLMPOP."""

    def serve(db: Database, key: bytes):
        meta = lists.load_if_list(db, key)
        if meta is None:
            return blocking.NOT_READY
        values = lists.pop(db, meta, count or 1, head)
        meta.save(db)
        return [key, values[0] if count is None else values]

    return serve


def _bpop(ctx, args: list[bytes], head: bool):
    timeout = blocking.parse_timeout(args[-1])
    keys = args[1:-1]
    found = _mpop_first(ctx.db, keys, head, 1)
    if found is not None:
        return [found[0], found[1][0]]
    return blocking.block(ctx, keys, timeout, _serve_pop(head, None))


@command("blpop", -3, "write noscript blocking", (1, -2, 1), group="list", since="2.0.0",
         summary="Remove and get the first element in a list, or block until one is available",
         complexity="O(N) where N is the number of provided keys.")
def blpop(ctx, args):
    return _bpop(ctx, args, True)


@command("brpop", -3, "write noscript blocking", (1, -2, 1), group="list", since="2.0.0",
         summary="Remove and get the last element in a list, or block until one is available",
         complexity="O(N) where N is the number of provided keys.")
def brpop(ctx, args):
    return _bpop(ctx, args, False)


@command("blmpop", -5, "write blocking movablekeys", group="list", since="7.0.0",
         summary="Pop elements from a list, or block until one is available",
         complexity="O(N+M) where N is the number of provided keys and M is the number of elements returned.")
def blmpop(ctx, args):
    timeout = blocking.parse_timeout(args[1])
    keys, head, count = parse_mpop(args, 2, _LIST_ENDS)
    found = _mpop_first(ctx.db, keys, head, count)
    if found is not None:
        return found
    return blocking.block(ctx, keys, timeout, _serve_pop(head, count))


def _serve_move(dst: bytes, from_head: bool, to_head: bool):
    """A waiter's serve function for BLMOVE/BRPOPLPUSH: the pop and the push
    happen in the same batch. A destination of another type answers WRONGTYPE
    and leaves the element where it was (as Redis does)."""

    def serve(db: Database, key: bytes):
        if lists.load_if_list(db, key) is None:
            return blocking.NOT_READY
        return _move(db, key, dst, from_head, to_head)

    return serve


def _bmove(ctx, args: list[bytes], from_head: bool, to_head: bool, timeout_arg: bytes):
    timeout = blocking.parse_timeout(timeout_arg)
    db = ctx.db
    src, dst = args[1], args[2]
    if lists.load(db, src) is not None:
        return _move(db, src, dst, from_head, to_head)
    return blocking.block(ctx, [src], timeout, _serve_move(dst, from_head, to_head), None)


@command("brpoplpush", 4, "write denyoom noscript blocking", (1, 2, 1), group="list", since="2.2.0",
         summary="Pop an element from a list, push it to another list and return it; "
                 "or block until one is available")
def brpoplpush(ctx, args):
    return _bmove(ctx, args, False, True, args[3])


@command("blmove", 6, "write denyoom noscript blocking", (1, 2, 1), group="list", since="6.2.0",
         summary="Pop an element from a list, push it to another list and return it; "
                 "or block until one is available")
def blmove(ctx, args):
    from_head, to_head = keyword(args[3], _LIST_ENDS), keyword(args[4], _LIST_ENDS)
    return _bmove(ctx, args, from_head, to_head, args[5])
