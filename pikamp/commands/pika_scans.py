"""Pika's key range scans: SCANX, PKSCANRANGE, PKRSCANRANGE, PKPATTERNMATCHDEL.

Semantics follow Pika 4.0 (src/pika_kv.cc, storage.cc): LIMIT/COUNT count the
keys returned; the next key is the next matching key of the type ("" at the end).
"""
from __future__ import annotations

from pikamp.commands.table import command
from pikamp.errors import SYNTAX, RespError
from pikamp.glob import compile_pattern
from pikamp.numbers import parse_int
from pikamp.storage import codec, keyspace, strings

# Pika answers an unknown type with kInvalidDbType and no argument.
INVALID_TYPE = "ERR invalid DB for ''"
BAD_RANGE = "ERR Invalid argument: error in given range"
_TYPES = {b"string": codec.STRING, b"hash": codec.HASH, b"set": codec.SET,
          b"zset": codec.ZSET, b"list": codec.LIST}


def _options(args: list[bytes], i: int, count_word: bytes) -> tuple[object, int]:
    """[MATCH pattern] [<count_word> n] -> (compiled glob, n); n defaults to 10."""
    glob = None
    n = 10
    while i < len(args):
        opt = args[i].lower()
        if opt not in (b"match", count_word) or i + 1 >= len(args):
            raise RespError(SYNTAX)
        if opt == b"match":
            glob = compile_pattern(args[i + 1])
        else:
            n = parse_int(args[i + 1])
            if n <= 0:
                raise RespError("ERR value is not an integer or out of range")
        i += 2
    return glob, n


def _range(ctx, args: list[bytes], reverse: bool):
    name = args[1].lower()
    with_value = name == b"string_with_value"
    typ = codec.STRING if with_value else _TYPES.get(name)
    if typ is None:
        raise RespError(INVALID_TYPE)
    start, end = args[2], args[3]
    glob, limit = _options(args, 4, b"limit")
    if start and end and (start < end if reverse else start > end):
        raise RespError(BAD_RANGE)
    found, next_key = keyspace.range_scan(ctx.db, typ, start, end, glob, limit, reverse)
    out: list[bytes] = []
    for key, raw in found:
        out.append(key)
        if with_value:
            out.append(strings.value_of(ctx.db, key, raw))
    return [next_key, out]


@command("pkscanrange", -4, "readonly", group="generic", since="pika",
         summary="Keys of one type in [key_start, key_end] (\"\" = unbounded), with the next key",
         complexity="O(N)")
def pkscanrange(ctx, args):
    """PKSCANRANGE string_with_value|string|hash|set|zset|list start end [MATCH p] [LIMIT n]"""
    return _range(ctx, args, reverse=False)


@command("pkrscanrange", -4, "readonly", group="generic", since="pika",
         summary="PKSCANRANGE in reverse: from key_start down to key_end", complexity="O(N)")
def pkrscanrange(ctx, args):
    """PKRSCANRANGE type start end [MATCH p] [LIMIT n]: keys from start down to end."""
    return _range(ctx, args, reverse=True)


@command("scanx", -3, "readonly", group="generic", since="pika",
         summary="Keys of one type from start_key on, with the next start key", complexity="O(N)")
def scanx(ctx, args):
    """SCANX string|hash|set|zset|list start_key [MATCH p] [COUNT n]"""
    typ = _TYPES.get(args[1].lower())
    if typ is None:
        raise RespError(INVALID_TYPE)
    glob, count = _options(args, 3, b"count")
    found, next_key = keyspace.range_scan(ctx.db, typ, args[2], b"", glob, count)
    return [next_key, [key for key, _ in found]]


@command("pkpatternmatchdel", -2, "write", group="generic", since="pika",
         summary="Delete the keys matching a pattern (at most max_count); returns how many",
         complexity="O(N)")
def pkpatternmatchdel(ctx, args):
    """PKPATTERNMATCHDEL pattern [max_count]"""
    if len(args) > 3:
        raise RespError(SYNTAX)
    limit = parse_int(args[2]) if len(args) == 3 else None
    if limit is not None and limit <= 0:
        raise RespError("ERR value is not an integer or out of range")
    db = ctx.db
    glob = compile_pattern(args[1])
    victims = []
    for key, raw in db.scan_keys(b""):
        if glob is None or glob.match(key):
            victims.append((key, raw))
            if limit is not None and len(victims) >= limit:
                break
    for key, raw in victims:
        db.delete(key, raw)
    return len(victims)
