"""Blocking sorted-set pops: BZPOPMIN, BZPOPMAX, BZMPOP.

Parking and waking live in pikamp.blocking; the pops themselves are
pikamp.storage.zsets.pop, imported when first needed.
"""
from __future__ import annotations

from pikamp import blocking
from pikamp.commands.lists import parse_mpop
from pikamp.commands.table import command
from pikamp.storage.codec import ZSET
from pikamp.storage.database import Database

_ZSET_ENDS = {b"min": False, b"max": True}


def _pop(db: Database, key: bytes, count: int, highest: bool) -> list[tuple[bytes, float]]:
    from pikamp.storage import zsets

    return zsets.pop(db, key, count, highest)


def _first(db: Database, keys: list[bytes], count: int, highest: bool):
    """(key, popped pairs) from the first non-empty sorted set (WRONGTYPE on
    another type met first), or None."""
    for key in keys:
        if db.lookup_type(key, ZSET) is not None:
            return key, _pop(db, key, count, highest)
    return None


def _serve(count: int | None, highest: bool):
    """A waiter's serve function: BZPOPMIN/MAX (count None) or BZMPOP."""

    def serve(db: Database, key: bytes):
        raw = db.lookup(key)
        if raw is None or raw[0] != ZSET:
            return blocking.NOT_READY
        return _reply(key, _pop(db, key, count or 1, highest), count)

    return serve


def _reply(key: bytes, pairs: list[tuple[bytes, float]], count: int | None) -> list:
    if count is None:
        member, score = pairs[0]
        return [key, member, float(score)]
    return [key, [[member, float(score)] for member, score in pairs]]


def _bzpop(ctx, args: list[bytes], highest: bool):
    timeout = blocking.parse_timeout(args[-1])
    keys = args[1:-1]
    found = _first(ctx.db, keys, 1, highest)
    if found is not None:
        return _reply(found[0], found[1], None)
    return blocking.block(ctx, keys, timeout, _serve(None, highest))


@command("bzpopmin", -3, "write noscript blocking fast", (1, -2, 1), group="sorted_set", since="5.0.0",
         summary="Remove and return the member with the lowest score from one or more sorted sets, "
                 "or block until one is available",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def bzpopmin(ctx, args):
    return _bzpop(ctx, args, False)


@command("bzpopmax", -3, "write noscript blocking fast", (1, -2, 1), group="sorted_set", since="5.0.0",
         summary="Remove and return the member with the highest score from one or more sorted sets, "
                 "or block until one is available",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def bzpopmax(ctx, args):
    return _bzpop(ctx, args, True)


@command("bzmpop", -5, "write blocking movablekeys", group="sorted_set", since="7.0.0",
         summary="Remove and return members with scores in a sorted set or block until one is available",
         complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of "
                    "elements in the sorted set, and M being the number of elements popped.")
def bzmpop(ctx, args):
    timeout = blocking.parse_timeout(args[1])
    keys, highest, count = parse_mpop(args, 2, _ZSET_ENDS)
    found = _first(ctx.db, keys, count, highest)
    if found is not None:
        return _reply(found[0], found[1], count)
    return blocking.block(ctx, keys, timeout, _serve(count, highest))
