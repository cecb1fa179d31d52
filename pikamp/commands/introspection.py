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

from pikamp import stats
from pikamp.commands.table import ALL, command, dispatch
from pikamp.errors import SYNTAX, RespError
from pikamp.numbers import parse_int
from pikamp.resp import Verbatim
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
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
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
        limit = ctx.worker.config.redis_int("set-max-intset-entries")
        if meta.count <= limit and all(_is_int(m) for m, _ in collections.entries(ctx.db, meta)):
            return "intset"
        return "hashtable"
    cfg = ctx.worker.config
    entries_max = cfg.redis_int("hash-max-listpack-entries" if typ == HASH else "zset-max-listpack-entries")
    value_max = cfg.redis_int("hash-max-listpack-value" if typ == HASH else "zset-max-listpack-value")
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
    return None if raw is None else refcount(raw)


def refcount(raw: bytes) -> int:
    """What Redis would count: its shared integers 0..9999 are never freed."""
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


@command("memory|stats", 2, "", group="server", since="4.0.0", summary="Show memory usage details")
def memory_stats(ctx, args):
    """Redis' fields, with what they mean on a disk store: total is the process
    tree's RSS, the dataset the memtables and cached blocks, the overhead the
    rest; nothing of the kind there is no such thing of (AOF, Lua, cluster)."""
    w = ctx.worker

    def combine(replies: list) -> dict:
        m = stats.memory(w.run_dir, [stats.pairs_to_dict(r) for r in replies])
        overhead = m.used - m.dataset
        return {
            b"peak.allocated": m.peak, b"total.allocated": m.used, b"startup.allocated": m.startup,
            b"replication.backlog": 0,  # the binlog is on disk
            b"clients.slaves": 0,  # replicas are served by the replication process, from disk
            b"clients.normal": m.clients_normal, b"cluster.links": 0, b"aof.buffer": 0,
            b"lua.caches": 0, b"functions.caches": 0,
            b"overhead.total": overhead, b"keys.count": m.keys,
            b"keys.bytes-per-key": m.used // m.keys if m.keys else 0,
            b"dataset.bytes": m.dataset, b"dataset.percentage": m.dataset * 100.0 / m.used if m.used else 0.0,
            b"peak.percentage": m.used * 100.0 / m.peak if m.peak else 0.0,
            b"allocator.allocated": m.used, b"allocator.active": m.used, b"allocator.resident": m.used,
            b"allocator-fragmentation.ratio": 1.0, b"allocator-fragmentation.bytes": 0,
            b"allocator-rss.ratio": 1.0, b"allocator-rss.bytes": 0,
            b"rss-overhead.ratio": 1.0, b"rss-overhead.bytes": 0,
            b"fragmentation": 1.0, b"fragmentation.bytes": 0,
        }

    return stats.gather(w, [b"__info", b"rocksdb"], ctx.resp3, combine)


_MEMORY_FINE = ("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on "
                "this base.\n")
_MEMORY_EMPTY = ("Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used "
                 "in these conditions. Please, leave for your mission on Earth and fill it with some data. The new "
                 "Sam and I will be back to our programming as soon as I finished rebooting.\n")
_BIG_PEAK = (" * Peak memory: In the past this instance used more than 150% the memory that is currently using. "
             "The allocator is normally not able to release memory after a peak, so you can expect to see a big "
             "fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if "
             "the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be "
             "used as soon as you fill the Redis instance with more data. If the memory peak was only occasional "
             "and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only "
             "other option is to shutdown and restart the instance.\n\n")
_BIG_CLIENTS = (" * Big client buffers: The clients output buffers in this instance are greater than 200K per "
                "client (on average). This may result from different causes, like Pub/Sub clients subscribed to "
                "channels bot not receiving data fast enough, so that data piles on the Redis instance output "
                "buffer, or clients sending commands with large replies or very large sequences of commands in "
                "the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it "
                "causes problems in your instance, or to understand better why certain clients are using a big "
                "amount of memory.\n\n")


@command("memory|doctor", 2, "", group="server", since="4.0.0", summary="Outputs memory problems report")
def memory_doctor(ctx, args):
    """Redis' report, on the checks that apply here: a past peak, big client buffers."""
    w = ctx.worker

    def combine(replies: list) -> Verbatim:
        gathered = [stats.pairs_to_dict(r) for r in replies]
        m = stats.memory(w.run_dir, gathered)
        if m.used < 5 << 20:
            return Verbatim(_MEMORY_EMPTY.encode())
        clients = sum(g.get(b"clients", 0) for g in gathered)
        found = [text for bad, text in ((m.peak / m.used > 1.5, _BIG_PEAK),
                                        (clients and m.clients_normal / clients > 200 << 10, _BIG_CLIENTS)) if bad]
        if not found:
            return Verbatim(_MEMORY_FINE.encode())
        return Verbatim(("Sam, I detected a few issues in this Redis instance memory implants:\n\n" + "".join(found)
                         + "I'm here to keep you safe, Sam. I want to help you.\n").encode())

    return stats.gather(w, [b"__info", b"rocksdb"], ctx.resp3, combine)


@command("memory|malloc-stats", 2, "", group="server", since="4.0.0", summary="Show allocator internal stats")
def memory_malloc_stats(ctx, args):
    return b"Stats not supported for the current allocator"  # (Redis' answer without jemalloc)


@command("memory|purge", 2, "", group="server", since="4.0.0", summary="Ask the allocator to release memory")
def memory_purge(ctx, args):
    return stats.gather(ctx.worker, [b"__memory_purge"], ctx.resp3, lambda replies: "OK")


@command("__memory_purge", 1, internal=True, route=ALL, group="server", summary="MEMORY PURGE in this worker")
def _memory_purge(ctx, args):
    """Collect Python's garbage and hand free heap pages back to the system (glibc's malloc_trim)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return "OK"


@command("memory|help", 2, "loading stale", group="server", since="4.0.0",
         summary="Show helpful text about the different subcommands")
def memory_help(ctx, args):
    return MEMORY_HELP
