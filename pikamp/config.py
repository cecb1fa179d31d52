"""Configuration in Pika's ``key : value`` file format.

DEFAULTS is the list of known keys with their default values and a one-line
description; conf/pika.conf is generated from it and documents every key.
"""
from __future__ import annotations

import os

# key -> (default, description)
DEFAULTS: dict[str, tuple[str, str]] = {
    "port": ("9221", "TCP port clients connect to."),
    "bind": ("127.0.0.1", "Address to listen on (loopback by default; use 0.0.0.0 for all)."),
    "workers": ("0", "Worker processes; 0 = one per CPU core. DB i is owned by worker i % workers."),
    "databases": ("16", "Number of logical DBs (SELECT 0..databases-1), one RocksDB each."),
    "db-path": ("./db/", "Directory holding db0, db1, ... (one RocksDB per DB)."),
    "log-path": ("./log/", "Directory of the log file pikamp.log."),
    "pidfile": ("./pika.pid", "Supervisor pid file, used by 'pikamp stop' and 'pikamp status'."),
    "daemonize": ("no", "yes: detach from the terminal and write the pid file."),
    "requirepass": ("", "Password clients must AUTH with (empty: none)."),
    "masterauth": ("", "Password this replica uses to authenticate to its master."),
    "timeout": ("60", "Close a client idle for this many seconds (0: never)."),
    "maxclients": ("20000", "Most client connections accepted by the whole server (all workers together)."),
    "client-output-buffer-limit": ("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
                                   "Redis' output limits per class: <class> <hard> <soft> <soft-seconds> (0: none)."),
    "client-query-buffer-limit": ("1073741824", "Most bytes of unread requests buffered for one client."),
    "proto-max-bulk-len": ("536870912", "Largest bulk string a client may send (bytes)."),
    "appendfsync": ("everysec", "fsync of the write-ahead log: always (before each reply), everysec, no (the OS decides)."),
    "write-buffer-size": ("67108864", "RocksDB memtable size per column family (bytes)."),
    "max-write-buffer-size": ("268435456", "Memtable budget of one worker, all its DBs together (bytes)."),
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
    "least-free-disk-resume-size": ("268435456", "After a disk-full error, writes resume once this much disk is free (bytes)."),
    "manually-resume-interval": ("10", "Seconds between automatic checks whether writes can resume after disk full."),
    "binlog-file-size": ("104857600", "Size of one binlog file write2file<N> (bytes)."),
    "expire-logs-nums": ("10", "Keep at least this many binlog files."),
    "expire-logs-days": ("7", "Delete binlog files older than this many days."),
    "dump-path": ("./dump/", "Directory for BGSAVE checkpoints."),
    "dump-prefix": ("", "Prefix of BGSAVE directory names."),
    "dump-expire": ("0", "Delete dumps older than this many days (0: keep)."),
    "slowlog-log-slower-than": ("10000", "Log commands slower than this many microseconds."),
    "slowlog-max-len": ("128", "Entries kept in the slow log."),
    "slave-read-only": ("yes", "Replicas refuse writes from clients."),
}


class Config:
    """Parsed configuration: string values by key, with typed accessors."""

    def __init__(self, values: dict[str, str] | None = None, path: str | None = None) -> None:
        self.values = {k: v for k, (v, _) in DEFAULTS.items()}
        if values:
            self.values.update(values)
        self.path = path

    @classmethod
    def load(cls, path: str | None) -> "Config":
        """Read ``path`` (or defaults only when None)."""
        if path is None:
            return cls()
        return cls(parse(open(path, encoding="utf-8").read()), os.path.abspath(path))

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    def int(self, key: str) -> int:
        v = self.values.get(key, "0").strip().lower()
        mult = 1
        for suffix, m in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if v.endswith(suffix):
                v, mult = v[: -len(suffix)], m
                break
        return int(v) * mult

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


def parse(text: str) -> dict[str, str]:
    """Parse ``key : value`` lines; '#' starts a comment line."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if ":" not in line:
            raise ValueError(f"bad config line (expected 'key : value'): {line!r}")
        key, _, value = line.partition(":")
        out[key.strip().lower()] = value.strip()
    return out


def render_default_file() -> str:
    """The text of conf/pika.conf: every key, commented, with its default."""
    lines = ["# pikamp configuration (Pika's format: key : value).", ""]
    for key, (value, doc) in DEFAULTS.items():
        lines.append(f"# {doc}")
        lines.append(f"{key} : {value}")
        lines.append("")
    return "\n".join(lines)
