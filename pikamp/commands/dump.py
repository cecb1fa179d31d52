"""DUMP and RESTORE: a key's value in Redis' RDB serialization (pikamp.rdb),
so values move between pikamp and Redis 7.0 in either direction.

DUMP writes the encoding Redis 7.0 would hold the same value in, by the
configured thresholds (the ones OBJECT ENCODING answers by): intsets,
listpacks, quicklists cut as RPUSH fills them, hashtables and skiplists;
LZF where rdbcompression says so. A payload larger than proto-max-bulk-len
could not be sent back in a RESTORE: DUMP refuses it.

RESTORE checks as Redis' restoreCommand does, in its order: the options,
the key (BUSYKEY), the TTL, the footer, then the value. IDLETIME and FREQ
are checked and then have no effect: pikamp keeps no LRU or LFU data.

COPY and MOVE to another worker's DB do not go through here: they ship
pikamp's own key image (keys.py, ``__restore``), which needs no re-encoding
and keeps every layout detail.
"""
from __future__ import annotations

from pikamp import rdb
from pikamp.commands.introspection import encoding
from pikamp.commands.table import command
from pikamp.errors import SYNTAX, RespError
from pikamp.numbers import c_word, parse_int, wrap_int64
from pikamp.storage import codec, collections, keyspace, lists, strings, zsets
from pikamp.storage.codec import HASH, LIST, SET, STRING

BUSYKEY = "BUSYKEY Target key name already exists."
INVALID_TTL = "ERR Invalid TTL value, must be >= 0"
INVALID_IDLETIME = "ERR Invalid IDLETIME value, must be >= 0"
INVALID_FREQ = "ERR Invalid FREQ value, must be >= 0 and <= 255"
TOO_LARGE = "ERR the DUMP payload of this key would be larger than proto-max-bulk-len ({} bytes)"


@command("dump", 2, "readonly", (1, 1, 1), since="2.6.0",
         summary="Return a serialized version of the value stored at the specified key.",
         complexity="O(1) to access the key and additional O(N*M) to serialize it, where N is the number of "
                    "Redis objects composing the value and M their average size. For small string values "
                    "the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).")
def dump(ctx, args):
    key = args[1]
    raw = ctx.db.lookup(key)
    if raw is None:
        return None
    limit = ctx.worker.max_bulk
    if codec.logical_type(raw) == STRING and strings.length(raw) > limit:  # refused before it is read
        raise RespError(TOO_LARGE.format(limit))
    try:
        return payload(ctx, key, raw, limit)
    except rdb.PayloadTooLarge:
        raise RespError(TOO_LARGE.format(limit)) from None


def payload(ctx, key: bytes, raw: bytes, limit: int) -> bytes:
    db = ctx.db
    cfg = ctx.worker.config
    w = rdb.Writer(limit, cfg.values.get("rdbcompression", "yes").lower() == "yes")
    typ = codec.logical_type(raw)
    if typ == STRING:
        rdb.encode_string(w, strings.value_of(db, key, raw))
    elif typ == LIST:
        rdb.encode_list(w, lists.scan(db, lists.from_raw(key, raw)), cfg.redis_int("list-max-listpack-size"))
    else:
        meta = collections.from_raw(key, raw)
        small = encoding(ctx, key, raw) in ("intset", "listpack")
        if typ == SET:
            members = (m for m, _ in collections.entries(db, meta))
            if small:
                rdb.encode_intset(w, members)
            else:
                rdb.encode_set(w, meta.count, members)
        elif typ == HASH:
            if small:
                rdb.encode_hash_listpack(w, collections.entries(db, meta))
            else:
                rdb.encode_hash(w, meta.count, collections.entries(db, meta))
        elif small:
            rdb.encode_zset_listpack(w, zsets.entries(db, meta))
        else:
            rdb.encode_zset(w, meta.count, zsets.entries(db, meta, reverse=True))
    return w.finish()


def _restore_options(args: list[bytes]) -> tuple[bool, bool]:
    """-> (REPLACE, ABSTTL), after checking IDLETIME / FREQ as Redis does
    (either one, not both; a value in range)."""
    replace = absttl = False
    idle = freq = None
    j = 4
    while j < len(args):
        opt = c_word(args[j])
        more = len(args) - j - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        # IDLETIME and FREQ are checked only: pikamp keeps no LRU / LFU data to set.
        elif opt == b"idletime" and more and freq is None:
            j += 1
            idle = parse_int(args[j])
            if idle < 0:
                raise RespError(INVALID_IDLETIME)
        elif opt == b"freq" and more and idle is None:
            j += 1
            freq = parse_int(args[j])
            if not 0 <= freq <= 255:
                raise RespError(INVALID_FREQ)
        else:
            raise RespError(SYNTAX)
        j += 1
    return replace, absttl


@command("restore", -4, "write denyoom", (1, 1, 1), since="2.6.0",
         categories="@keyspace @write @slow @dangerous",
         summary="Create a key using the provided serialized value, previously obtained using DUMP.",
         complexity="O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, "
                    "where N is the number of Redis objects composing the value and M their average size. "
                    "For small string values the time complexity is thus O(1)+O(1*M) where M is small, so "
                    "simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because "
                    "inserting values into sorted sets is O(log(N)).")
def restore(ctx, args):
    """RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]."""
    replace, absttl = _restore_options(args)
    db = ctx.db
    key = args[1]
    old = db.lookup(key)
    if old is not None and not replace:
        raise RespError(BUSYKEY)
    ttl = parse_int(args[2])
    if ttl < 0:
        raise RespError(INVALID_TTL)
    try:
        kind, value = rdb.decode(args[3], ctx.worker.max_bulk)
    except rdb.PayloadError as e:
        raise RespError(str(e)) from None
    now = db.clock.ms
    if ttl and not absttl:
        ttl = wrap_int64(ttl + now)  # as Redis' long long sum: past LLONG_MAX it is in the past
    if ttl and ttl <= now:  # already expired: Redis does not create the key (a replaced one goes)
        if old is not None:
            db.delete(key, old)
        return "OK"
    keyspace.store_value(db, key, codec.TYPE_BY_NAME[kind], value, ttl, old)
    return "OK"
