"""Configuration in Pika's ``key : value`` file format.

DEFAULTS is the list of known keys with their default values and a one-line
description; conf/pika.conf is generated from it and documents every key.
"""
from __future__ import annotations

import os

from pikamp import redis_params
from pikamp.redis_params import REDIS_PARAMS

# key -> (default, description)
DEFAULTS: dict[str, tuple[str, str]] = {
    "port": ("9221", "TCP port clients connect to."),
    "bind": ("127.0.0.1", "Address to listen on (loopback by default; use 0.0.0.0 for all)."),
    "workers": ("0", "Worker processes; 0 = one per CPU core. DB i is owned by worker i % workers."),
    "databases": ("16", "Number of logical DBs (SELECT 0..databases-1), one RocksDB each."),
    "db-path": ("./db/", "Directory holding db0, db1, ... (one RocksDB per DB)."),
    "log-path": ("./log/", "Directory of the log file pikamp.log and of the binlogs (log_db<i>/)."),
    "pidfile": ("./pika.pid", "Supervisor pid file, used by 'pikamp stop' and 'pikamp status'."),
    "daemonize": ("no", "yes: detach from the terminal and write the pid file."),
    "requirepass": ("", "Password clients must AUTH with (empty: none)."),
    "masterauth": ("", "Password this replica uses to authenticate to its master."),
    "userpass": ("", "Pika's second password: AUTH with it logs in as user 'limit' (empty: no such user)."),
    "userblacklist": ("", "Commands user 'limit' may not run, comma-separated (Pika's: FLUSHALL, SHUTDOWN ...)."),
    "aclfile": ("", "File of ACL users (ACL LOAD / ACL SAVE); empty: users come from 'user' lines."),
    "user": ("", "An ACL user, one per line, as in Redis: 'user : alice on >secret ~app:* +@read'."),
    "rename-command": ("", "A command renamed, one per line: 'rename-command : FLUSHDB 360flushdb' (\"\": disabled)."),
    "timeout": ("60", "Close a client idle for this many seconds (0: never)."),
    "maxclients": ("20000", "Most client connections accepted by the whole server (all workers together)."),
    "client-output-buffer-limit": ("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
                                   "Redis' output limits per class: <class> <hard> <soft> <soft-seconds> (0: none)."),
    "client-query-buffer-limit": ("1073741824", "Most bytes of unread requests buffered for one client."),
    "proto-max-bulk-len": ("536870912", "Largest bulk string a client may send (bytes)."),
    "appendfsync": ("everysec", "fsync of the write-ahead log: always (before each reply), everysec, no (the OS decides)."),
    "write-buffer-size": ("67108864", "RocksDB memtable size per column family (bytes)."),
    "max-write-buffer-size": ("268435456", "Memtable budget of one worker, all its DBs together (bytes)."),
    "max-total-wal-size": ("134217728", "Write-ahead log bytes per DB past which RocksDB flushes the memtables holding it back."),
    "block-cache": ("268435456", "RocksDB block cache (bytes): of each worker with share-block-cache, else per DB."),
    "share-block-cache": ("yes", "yes: the DBs of a worker share one block cache of block-cache bytes."),
    "cache-index-and-filter-blocks": ("yes", "Keep index and filter blocks in the block cache (bounded memory)."),
    "enable-partitioned-index-filters": ("yes", "Two-level index and filters, top level pinned (fast at any size)."),
    "optimize-filters-for-hits": ("no", "yes: no bloom filters on the last level (less memory, slower misses)."),
    "level-compaction-dynamic-level-bytes": ("yes", "Size RocksDB levels from the last one up (less space amplification)."),
    "block-size": ("4096", "RocksDB data block size (bytes)."),
    "target-file-size-base": ("67108864", "Size of an SST file on level 1 (bytes)."),
    "max-subcompactions": ("1", "Threads one compaction job may split into."),
    "rate-limiter-bandwidth": ("0", "Compaction and flush write rate limit per DB (bytes/s; 0: none)."),
    "max-background-jobs": ("2", "RocksDB background flush/compaction threads per DB."),
    "compression": ("snappy", "RocksDB compression: none, snappy, lz4, zstd, zlib."),
    "enable-db-statistics": ("no", "RocksDB tickers (INFO rocksdb block cache hits/misses, stall time); cost ~0.5 us per read."),
    "least-free-disk-resume-size": ("268435456", "After a disk-full error, writes resume once this much disk is free (bytes)."),
    "manually-resume-interval": ("10", "Seconds between automatic checks whether writes can resume after disk full."),
    "write-binlog": ("yes", "Append every write to the DB's binlog (replication's source)."),
    "binlog-file-size": ("104857600", "Size of one binlog file write2file<N> (bytes)."),
    "expire-logs-nums": ("10", "Keep at least this many binlog files."),
    "expire-logs-days": ("7", "Delete binlog files older than this many days."),
    "dump-path": ("./dump/", "Directory for BGSAVE checkpoints."),
    "dump-prefix": ("", "Prefix of BGSAVE directory names."),
    "dump-expire": ("0", "Delete dumps older than this many days (0: keep)."),
    "slowlog-log-slower-than": ("10000", "Log commands slower than this many microseconds."),
    "slowlog-max-len": ("128", "Entries kept in the slow log."),
    "slave-read-only": ("yes", "Replicas refuse writes from clients."),
    "throttle-bytes-per-second": ("207200000", "Full syncs: the most bytes per second the master sends (all replicas together)."),
    "sync-window-size": ("9000", "Binlog items a master sends a replica's DB ahead of its acks."),
    "slaveof": ("", "host:port of the master to replicate (empty: this is a master); SLAVEOF sets it."),
}


# Keys of Pika's configuration that pikamp does not use: accepted in a file
# (a Pika conf works unchanged) without the unknown-key warning.
PIKA_KEYS = frozenset("""
    thread-num thread-pool-size slow-cmd-pool slow-cmd-thread-pool-size slow-cmd-list admin-thread-pool-size
    admin-cmd-list sync-thread-num sync-binlog-thread-num root-connection-num max-conn-rbuf-size
    max-client-response-size network-interface acl-pubsub-default
    acllog-max-len instance-mode db-instance-num default-slot-num replication-num
    consensus-level db-sync-path log-retention-time loglevel
    slave-priority replication-id run-id server-id internal-used-unfinished-full-sync db-sync-speed
    rsync-timeout-ms max-rsync-parallel-num slowlog-write-errorlog
    max-write-buffer-num min-write-buffer-number-to-merge arena-block-size max-bytes-for-level-multiplier
    max-background-flushes max-background-compactions compression_per_level max-cache-files
    level0-file-num-compaction-trigger level0-slowdown-writes-trigger level0-stop-writes-trigger
    disable_auto_compactions delayed-write-rate max-compaction-bytes rate-limiter-mode
    rate-limiter-refill-period-us rate-limiter-fairness rate-limiter-auto-tuned
    pin_l0_filter_and_index_blocks_in_cache enable-blob-files min-blob-size blob-file-size
    blob-compression-type enable-blob-garbage-collection blob-garbage-collection-age-cutoff
    blob-garbage-collection-force-threshold blob-cache blob-num-shard-bits
    db-statistics-level rocksdb-ttl-second rocksdb-periodic-second compact-cron compact-interval
    max-cache-statistic-keys small-compaction-threshold small-compaction-duration-threshold
    min-check-resume-ratio cache-model cache-type cache-num cache-maxmemory cache-maxmemory-policy
    cache-maxmemory-samples cache-lfu-decay-time zset-cache-field-num-per-key zset-cache-start-direction
    rtc-cache-read slotmigrate slotmigrate-thread-num thread-migrate-keys-num
""".split())

# Values a key must have beyond its default's kind (integer, yes/no, text).
RANGES: dict[str, tuple[int, int]] = {
    "port": (1, 65535),
    "workers": (0, 1024),
    "databases": (1, 10000),
    "timeout": (0, 2**31 - 1),
    "maxclients": (1, 2**32 - 1),
    "client-query-buffer-limit": (1 << 20, 2**63 - 1),
    "proto-max-bulk-len": (1, 2**63 - 1),  # Redis: 1 MB; smaller is kept for tests of the limit
    "block-size": (256, 1 << 30),
    "max-background-jobs": (1, 1024),
    "max-subcompactions": (1, 1024),
    "binlog-file-size": (1024, 2**31),  # Pika's 1K-2G
    "expire-logs-nums": (10, 2**31 - 1),  # Pika keeps at least 10
    "expire-logs-days": (1, 2**31 - 1),
    "throttle-bytes-per-second": (1 << 16, 2**63 - 1),
    "sync-window-size": (1, 90000),  # Pika's bounds
}
CHOICES: dict[str, tuple[str, ...]] = {
    "appendfsync": ("always", "everysec", "no"),
    "compression": ("none", "snappy", "lz4", "zstd", "zlib"),
}


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file, the
    line and the key."""


def _int_value(text: str) -> int:
    v = text.strip().lower()
    mult = 1
    for suffix, m in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if v.endswith(suffix):
            v, mult = v[: -len(suffix)], m
            break
    return int(v) * mult


def check_value(key: str, value: str) -> str | None:
    """Why ``value`` is not a valid value of the known ``key`` (None: it is)."""
    default = DEFAULTS[key][0]
    if key in CHOICES:
        if value.strip().lower() not in CHOICES[key]:
            return f"must be one of {', '.join(CHOICES[key])}, not {value!r}"
        return None
    if key == "client-output-buffer-limit":
        try:
            parse_output_limits(value)
        except ValueError as e:
            return str(e)
        return None
    if default in ("yes", "no"):
        if value.strip().lower() not in ("yes", "no", "true", "false", "1", "0"):
            return f"must be yes or no, not {value!r}"
        return None
    if default.lstrip("-").isdigit():
        try:
            n = _int_value(value)
        except ValueError:
            return f"must be an integer (K/M/G suffixes allowed), not {value!r}"
        lo, hi = RANGES.get(key, (-(2**63), 2**63 - 1))
        if not lo <= n <= hi:
            return f"must be between {lo} and {hi}, not {n}"
    return None


class Config:
    """Parsed configuration: string values by key, with typed accessors."""

    def __init__(self, values: dict[str, str] | None = None, path: str | None = None) -> None:
        self.values = {k: v for k, (v, _) in DEFAULTS.items()}
        if values:
            self.values.update(values)
        self.path = path
        # Keys of the file that no one knows (typos), with their line: warned about once at start.
        self.unknown: list[tuple[str, int]] = []

    @classmethod
    def load(cls, path: str | None, overrides: dict[str, str] | None = None) -> "Config":
        """Read and check ``path`` (defaults only when None), then apply
        ``overrides`` (command-line ``--key value``). Raises ConfigError with
        one line saying what is wrong and where."""
        values: dict[str, str] = {}
        lines: dict[str, int] = {}
        if path is not None:
            try:
                with open(path, encoding="utf-8", errors="surrogateescape") as f:
                    text = f.read()
            except OSError as e:
                raise ConfigError(f"{path}: cannot read the configuration file: {e.strerror or e}") from None
            try:
                values = parse(text, lines)
            except ValueError as e:
                raise ConfigError(f"{path}:{e}") from None
        config = cls(path=os.path.abspath(path) if path is not None else None)
        for key, value in values.items():
            where = f"{path}:{lines[key]}"
            if key not in DEFAULTS:
                if key not in PIKA_KEYS and key not in REDIS_PARAMS:
                    config.unknown.append((key, lines[key]))
                config.values[key] = value
                continue
            why = check_value(key, value)
            if why:
                raise ConfigError(f"{where}: {key}: {why}")
            config.values[key] = value
        for key, value in (overrides or {}).items():
            if key not in DEFAULTS and key not in PIKA_KEYS and key not in REDIS_PARAMS:
                raise ConfigError(f"command line: --{key}: unknown configuration key")
            why = check_value(key, value) if key in DEFAULTS else None
            if why:
                raise ConfigError(f"command line: --{key}: {why}")
            config.values[key] = value
        return config

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    def int(self, key: str) -> int:
        return _int_value(self.values.get(key, "0"))

    def redis_int(self, name: str) -> int:
        """A Redis parameter's value as an integer: as set (CONFIG SET stores
        it normalised, a config file as written, units included), else
        Redis' default. ValueError for a value Redis would refuse."""
        text = self.values.get(name)
        return int(redis_params.check(name, REDIS_PARAMS[name][0] if text is None else text))

    def bool(self, key: str) -> bool:
        return self.values.get(key, "no").strip().lower() in ("yes", "true", "1")

    def path_of(self, key: str) -> str:
        """A path setting, relative to the working directory the server started in."""
        return os.path.abspath(self.values[key])

    @property
    def workers(self) -> int:
        n = self.int("workers")
        return n if n > 0 else (os.cpu_count() or 1)

    @property
    def databases(self) -> int:
        return self.int("databases")


def parse_renames(text: str) -> dict[str, str]:
    """``rename-command`` lines: lower-case name -> its new name ("": the
    command is disabled, Redis' ``rename-command CONFIG ""``). ValueError if
    a line is not two words."""
    out: dict[str, str] = {}
    for line in text.split("\n"):
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            raise ValueError(f"rename-command: expected 'name new-name', got {line.strip()!r}")
        new = "" if words[1] in ('""', "''") else words[1]
        out[words[0].lower()] = new
    return out


def parse_slaveof(text: str) -> tuple[str, int] | None:
    """The ``slaveof`` setting ("host:port", Pika's form; "host port" too) or None."""
    text = text.strip()
    if not text:
        return None
    host, _, port = text.replace(" ", ":").rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


def to_text(raw: bytes) -> str:
    """A value as stored: UTF-8 text, other bytes kept as surrogates, so any
    bytes (a password from CONFIG SET, a UTF-8 file) survive unchanged."""
    return raw.decode("utf-8", "surrogateescape")


def to_bytes(value: str) -> bytes:
    """The bytes of a stored value (inverse of to_text)."""
    return value.encode("utf-8", "surrogateescape")


def has_control(value: str) -> bool:
    """Control characters would break the line format (or hide in it)."""
    return any(c < " " or c == "\x7f" for c in value)


# Keys that may be given on several lines (``user : alice on >pw ~* +@all``,
# ``rename-command : FLUSHDB ""``): their lines' values, joined by newlines.
MULTI_KEYS = frozenset({"user", "rename-command"})


def parse(text: str, lines: dict[str, int] | None = None) -> dict[str, str]:
    """Parse ``key : value`` lines; '#' starts a comment line; a value in
    double quotes may hold backslash escapes (see quote). ``lines`` gets
    each key's line number. A malformed line raises ValueError("<n>: why")."""
    out: dict[str, str] = {}
    # Lines end at '\n' only: str.splitlines also splits at \x1c, \x85,
    # U+2028..., which a value may legitimately contain.
    for n, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if has_control(line.replace("\t", " ")):
            raise ValueError(f"{n}: bad config line (control character): {line!r}")
        if ":" not in line:
            raise ValueError(f"{n}: bad config line (expected 'key : value'): {line!r}")
        key, _, value = line.partition(":")
        key = key.strip().lower()
        value = unquote(value.strip())
        if key in MULTI_KEYS and key in out:  # one per line, kept in order
            value = out[key] + "\n" + value
        out[key] = value
        if lines is not None:
            lines[key] = n
    return out


def _needs_quotes(value: str) -> bool:
    # What parse would not read back as written: whitespace it strips, a
    # leading quote, and characters that are unsafe or invisible in a text file.
    return value != value.strip() or value.startswith('"') or not value.isprintable()


def quote(value: str) -> str:
    """``value`` as written in a config file: plain when parse reads it back
    unchanged (Pika-compatible), else in double quotes with \\, \\" and \\xNN."""
    if not _needs_quotes(value):
        return value
    out = []
    for c in value:
        if c in '\\"':
            out.append("\\" + c)
        elif not c.isprintable():
            out += [f"\\x{b:02x}" for b in to_bytes(c)]
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def unquote(value: str) -> str:
    """Inverse of quote for a stripped value; a plain value is taken as is."""
    if not value.startswith('"'):
        return value
    if len(value) < 2 or not value.endswith('"'):
        raise ValueError(f"bad config value (unbalanced quotes): {value!r}")
    out = bytearray()
    body, i = value[1:-1], 0
    while i < len(body):
        c = body[i]
        if c == '"':
            raise ValueError(f"bad config value (unescaped quote): {value!r}")
        if c != "\\":
            out += to_bytes(c)
            i += 1
            continue
        nxt = body[i + 1:i + 2]
        if nxt in ('\\', '"'):
            out += nxt.encode()
            i += 2
        elif nxt == "x" and _is_hex(body[i + 2:i + 4]):
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        else:
            raise ValueError(f"bad config value (bad escape): {value!r}")
    return to_text(bytes(out))


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(c in "0123456789abcdefABCDEF" for c in s)


def render_default_file() -> str:
    """The text of conf/pika.conf: every key, commented, with its default."""
    lines = ["# pikamp configuration (Pika's format: key : value).", ""]
    for key, (value, doc) in DEFAULTS.items():
        lines.append(f"# {doc}")
        lines.append(f"{key} : {quote(value)}")
        lines.append("")
    return "\n".join(lines)


def parse_output_limits(text: str) -> dict[str, tuple[int, int, int]]:
    """client-output-buffer-limit ("normal 0 0 0 slave ... pubsub ...") by class:
    (hard bytes, soft bytes, soft seconds). Raises ValueError as Redis refuses."""
    words = text.split()
    if len(words) % 4:
        raise ValueError("Wrong number of arguments in buffer limit configuration.")
    limits: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(words), 4):
        cls = {"replica": "slave"}.get(words[i].lower(), words[i].lower())
        if cls not in ("normal", "slave", "pubsub"):
            raise ValueError("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft = (Config({"v": w}).int("v") for w in words[i + 1:i + 3])
            secs = int(words[i + 3])
        except ValueError:
            raise ValueError("Error in hard, soft or soft_seconds setting in buffer limit configuration.") from None
        if hard < 0 or soft < 0 or secs < 0:
            raise ValueError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        limits[cls] = (hard, soft, secs)
    return limits


def render_output_limits(limits: dict[str, tuple[int, int, int]]) -> str:
    """As Redis' CONFIG GET shows it: every class, sizes in bytes."""
    return " ".join(f"{c} {' '.join(map(str, limits.get(c, (0, 0, 0))))}" for c in ("normal", "slave", "pubsub"))


# -- CONFIG SET across worker restarts -------------------------------------------
def runtime_file(config: Config, name: str) -> str:
    """A file of state that lives as long as the server runs (a restarted
    worker reads it; a new start of the server removes it)."""
    return os.path.join(config.path_of("db-path"), ".run", name)


# The files clear_runtime removes: CONFIG SET's values, the ACL users, and
# the memory figures of this run (INFO used_memory_peak / _startup).
RUNTIME_FILES = ("config-set.json", "acl-state", "memory-peak", "memory-startup")


def _runtime_path(config: Config) -> str:
    return runtime_file(config, "config-set.json")


def save_runtime(config: Config, keys: list[str]) -> None:
    """Record the current values of ``keys`` (set by CONFIG SET), so that a
    worker restarted later starts with them, not with the file's."""
    import json

    path = _runtime_path(config)
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        saved = {}
    saved.update({k: config.values[k] for k in keys})
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(saved, f)  # ensure_ascii: surrogate-escaped bytes survive as \\udcXX
    os.replace(tmp, path)


def load_runtime(config: Config) -> None:
    """Apply what CONFIG SET changed since the server started (a restarted worker)."""
    import json

    try:
        with open(_runtime_path(config), encoding="utf-8") as f:
            config.values.update(json.load(f))
    except (OSError, ValueError):
        pass


def clear_runtime(config: Config) -> None:
    """A new start of the whole server begins from the file, as Redis does."""
    for name in RUNTIME_FILES:
        try:
            os.unlink(runtime_file(config, name))
        except FileNotFoundError:
            pass
