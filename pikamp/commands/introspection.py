"""OBJECT and MEMORY: what a key looks like, in Redis' terms.

pikamp stores every key the same way on disk, so OBJECT ENCODING answers the
encoding Redis 7.0 would use for the same value (its listpack / intset
thresholds are the configured ``*-max-listpack-*`` parameters), which is what
tools that look at it (redis-cli --bigkeys, dashboards) expect. MEMORY USAGE
is an estimate from the stored sizes: key, value or members, plus RocksDB's
per-entry overhead; nested values are sampled as Redis does.
"""
from __future__ import annotations

from itertools import islice

from pikamp.commands.table import dispatch
from pikamp.commands.table import command
from pikamp.errors import SYNTAX, RespError
from pikamp.numbers import parse_int
from pikamp.storage import codec, collections, strings
from pikamp.storage.codec import CHUNKED, HASH, LIST, SET, STRING, ZSET

OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]
MEMORY_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
]
NO_LFU = ("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that "
          "when switching between policies at runtime LRU and LFU data will take some time to adjust.")
LFU_SELECTED = ("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
                "switching between policies at runtime LRU and LFU data will take some time to adjust.")
SHARED_REFCOUNT = 2147483647  # Redis' small integers 0..9999 are shared objects
ENTRY_OVERHEAD = 24  # RocksDB's per-entry cost: internal key suffix, index share


def _param(ctx, name: str, default: int) -> int:
    value = ctx.worker.config.values.get(name)
    return int(value) if value is not None else default


def _is_int(value: bytes) -> bool:
    try:
        parse_int(value)
    except RespError:
        return False
    return True


def encoding(ctx, key: bytes, raw: bytes) -> str:
    """The encoding Redis 7.0 would report for this value."""
    typ = raw[0]
    if typ == CHUNKED:
        return "raw"
    if typ == STRING:
        value = raw[codec.HEADER_LEN:]
        if len(value) <= 20 and _is_int(value):
            return "int"
        return "embstr" if len(value) <= 44 else "raw"
    if typ == LIST:
        return "quicklist"  # Redis 7.0 (listpack lists came in 7.2)
    meta = collections.load(ctx.db, key, typ)
    assert meta is not None
    if typ == SET:
        limit = _param(ctx, "set-max-intset-entries", 512)
        if meta.count <= limit and all(_is_int(m) for m, _ in collections.entries(ctx.db, meta)):
            return "intset"
        return "hashtable"
    entries_max = _param(ctx, "hash-max-listpack-entries" if typ == HASH else "zset-max-listpack-entries",
                         512 if typ == HASH else 128)
    value_max = _param(ctx, "hash-max-listpack-value" if typ == HASH else "zset-max-listpack-value", 64)
    small = meta.count <= entries_max and all(
        len(sub) <= value_max and (typ != HASH or len(v) <= value_max)
        for sub, v in collections.entries(ctx.db, meta))
    if typ == HASH:
        return "listpack" if small else "hashtable"
    return "listpack" if small else "skiplist"


@command("object", -2, "", group="generic", categories="@slow", since="2.2.3", summary="A container for object introspection commands",
         complexity="Depends on subcommand.")
def object_(ctx, args):
    return dispatch(ctx, args, b"object")


@command("object|encoding", 3, "readonly", (2, 2, 1), group="generic", since="2.2.3",
         summary="Inspect the internal encoding of a Redis object")
def object_encoding(ctx, args):
    raw = ctx.db.lookup(args[2])
    return None if raw is None else encoding(ctx, args[2], raw).encode()  # a bulk string, as Redis


def _policy(ctx) -> str:
    return ctx.worker.config.values.get("maxmemory-policy", "noeviction")


@command("object|freq", 3, "readonly", (2, 2, 1), group="generic", since="4.0.0",
         summary="Get the logarithmic access frequency counter of a Redis object")
def object_freq(ctx, args):
    if ctx.db.lookup(args[2]) is None:
        return None
    if "lfu" not in _policy(ctx):
        raise RespError(NO_LFU)
    return 0  # accesses are not counted: no eviction here


@command("object|idletime", 3, "readonly", (2, 2, 1), group="generic", since="2.2.3",
         summary="Get the time since a Redis object was last accessed")
def object_idletime(ctx, args):
    if ctx.db.lookup(args[2]) is None:
        return None
    if "lfu" in _policy(ctx):
        raise RespError(LFU_SELECTED)
    return 0  # access times are not recorded: no eviction here


@command("object|refcount", 3, "readonly", (2, 2, 1), group="generic", since="2.2.3",
         summary="Get the number of references to the value of the key")
def object_refcount(ctx, args):
    raw = ctx.db.lookup(args[2])
    if raw is None:
        return None
    if raw[0] == STRING:
        value = raw[codec.HEADER_LEN:]
        if len(value) <= 4 and _is_int(value) and 0 <= int(value) < 10000:
            return SHARED_REFCOUNT
    return 1


@command("object|help", 2, "loading stale", group="generic", since="6.2.0",
         summary="Show helpful text about the different subcommands")
def object_help(ctx, args):
    return OBJECT_HELP


@command("memory", -2, "", group="server", categories="@slow", since="4.0.0", summary="A container for memory diagnostics commands",
         complexity="Depends on subcommand.")
def memory(ctx, args):
    return dispatch(ctx, args, b"memory")


@command("memory|usage", -3, "readonly", (2, 2, 1), group="server", since="4.0.0",
         summary="Estimate the memory usage of a key", complexity="O(N) where N is the number of samples.")
def memory_usage(ctx, args):
    samples = 5
    if len(args) > 3:
        if len(args) != 5 or args[3].lower() != b"samples":
            raise RespError(SYNTAX)
        samples = parse_int(args[4])
        if samples < 0:
            raise RespError(SYNTAX)
    key = args[2]
    raw = ctx.db.lookup(key)
    if raw is None:
        return None
    base = len(key) + len(raw) + ENTRY_OVERHEAD
    typ = raw[0]
    if typ == STRING:
        return base
    if typ == CHUNKED:
        length = strings.length(raw)
        return base + length + ENTRY_OVERHEAD * (-(-length // codec.CHUNK))
    meta = collections.load(ctx.db, key, codec.logical_type(raw))
    assert meta is not None
    if meta.count == 0:
        return base
    sampled = collections.entries(ctx.db, meta)
    sizes = [len(sub) + len(v) for sub, v in (sampled if samples == 0 else islice(sampled, samples))]
    per_entry = sum(sizes) / len(sizes) + len(meta.prefix) + ENTRY_OVERHEAD if sizes else 0
    # A zset keeps each member twice (by name and by score).
    copies = 2 if typ == ZSET else 1
    return base + int(per_entry * meta.count * copies)


@command("memory|help", 2, "loading stale", group="server", since="4.0.0",
         summary="Show helpful text about the different subcommands")
def memory_help(ctx, args):
    return MEMORY_HELP
