"""Redis 7.0's configuration parameters that are not pikamp's own keys.

CONFIG GET / SET accept every one of them with Redis' validation and error
texts, store the value and return it, so tools and deploy scripts written for
Redis work unchanged. A few act here: latency-monitor-threshold (the LATENCY
monitor), maxmemory-policy (which OBJECT FREQ / IDLETIME error applies) and
the listpack / intset thresholds (what OBJECT ENCODING reports). The others
tune structures pikamp does not have (RDB and AOF files, eviction, active
defrag, cluster, TLS ...). pikamp's own keys, with their own meaning, are in
pikamp.config.DEFAULTS.

Derived from redis-server 7.0.15 (Debian): ``CONFIG GET *`` for the names and
defaults (``save`` as pikamp answers it: no snapshots), and its CONFIG SET
error replies for each parameter's kind and range.

name -> (default, kind, spec); kind is one of
  bool       yes / no
  int        an integer, spec = (lowest, highest)
  memory     bytes with an optional k/kb/m/mb/g/gb unit, spec = (lowest, highest)
  enum       spec = the names allowed
  string     any text
  immutable  CONFIG SET refuses it ("can't set immutable config")
  protected  CONFIG SET refuses it ("can't set protected config")
"""
from __future__ import annotations

REDIS_PARAMS: dict[str, tuple[str, str, tuple | None]] = {
    'acl-pubsub-default': ('resetchannels', 'enum', ('allchannels', 'resetchannels')),
    'aclfile': ('', 'immutable', None),
    'acllog-max-len': ('128', 'int', (0, 9223372036854775807)),
    'active-defrag-cycle-max': ('25', 'int', (1, 99)),
    'active-defrag-cycle-min': ('1', 'int', (1, 99)),
    'active-defrag-ignore-bytes': ('104857600', 'memory', (1, 9223372036854775807)),
    'active-defrag-max-scan-fields': ('1000', 'int', (1, 9223372036854775807)),
    'active-defrag-threshold-lower': ('10', 'int', (0, 1000)),
    'active-defrag-threshold-upper': ('100', 'int', (0, 1000)),
    'active-expire-effort': ('1', 'int', (1, 10)),
    'activedefrag': ('no', 'bool', None),
    'activerehashing': ('yes', 'bool', None),
    'always-show-logo': ('no', 'immutable', None),
    'aof-disable-auto-gc': ('no', 'bool', None),
    'aof-load-truncated': ('yes', 'bool', None),
    'aof-rewrite-incremental-fsync': ('yes', 'bool', None),
    'aof-timestamp-enabled': ('no', 'bool', None),
    'aof-use-rdb-preamble': ('yes', 'bool', None),
    'aof_rewrite_cpulist': ('', 'immutable', None),
    'appenddirname': ('appendonlydir', 'immutable', None),
    'appendfilename': ('appendonly.aof', 'immutable', None),
    'appendonly': ('no', 'bool', None),
    'auto-aof-rewrite-min-size': ('67108864', 'memory', (0, 9223372036854775807)),
    'auto-aof-rewrite-percentage': ('100', 'int', (0, 2147483647)),
    'bgsave_cpulist': ('', 'immutable', None),
    'bind-source-addr': ('', 'string', None),
    'bio_cpulist': ('', 'immutable', None),
    'busy-reply-threshold': ('5000', 'int', (0, 9223372036854775807)),
    'cluster-allow-pubsubshard-when-down': ('yes', 'bool', None),
    'cluster-allow-reads-when-down': ('no', 'bool', None),
    'cluster-allow-replica-migration': ('yes', 'bool', None),
    'cluster-announce-bus-port': ('0', 'int', (0, 65535)),
    'cluster-announce-hostname': ('', 'string', None),
    'cluster-announce-ip': ('', 'string', None),
    'cluster-announce-port': ('0', 'int', (0, 65535)),
    'cluster-announce-tls-port': ('0', 'int', (0, 65535)),
    'cluster-config-file': ('nodes.conf', 'immutable', None),
    'cluster-enabled': ('no', 'immutable', None),
    'cluster-link-sendbuf-limit': ('0', 'memory', (0, 18446744073709551615)),
    'cluster-migration-barrier': ('1', 'int', (0, 2147483647)),
    'cluster-node-timeout': ('15000', 'int', (0, 9223372036854775807)),
    'cluster-port': ('0', 'immutable', None),
    'cluster-preferred-endpoint-type': ('ip', 'enum', ('ip', 'hostname', 'unknown-endpoint')),
    'cluster-replica-no-failover': ('no', 'bool', None),
    'cluster-replica-validity-factor': ('10', 'int', (0, 2147483647)),
    'cluster-require-full-coverage': ('yes', 'bool', None),
    'cluster-slave-no-failover': ('no', 'bool', None),
    'cluster-slave-validity-factor': ('10', 'int', (0, 2147483647)),
    'crash-log-enabled': ('yes', 'bool', None),
    'crash-memcheck-enabled': ('yes', 'bool', None),
    'dbfilename': ('dump.rdb', 'protected', None),
    'dir': ('', 'protected', None),
    'disable-thp': ('yes', 'immutable', None),
    'dynamic-hz': ('yes', 'bool', None),
    'enable-debug-command': ('no', 'immutable', None),
    'enable-module-command': ('no', 'immutable', None),
    'enable-protected-configs': ('no', 'immutable', None),
    'hash-max-listpack-entries': ('512', 'int', (0, 9223372036854775807)),
    'hash-max-listpack-value': ('64', 'memory', (0, 9223372036854775807)),
    'hash-max-ziplist-entries': ('512', 'int', (0, 9223372036854775807)),
    'hash-max-ziplist-value': ('64', 'memory', (0, 9223372036854775807)),
    'hll-sparse-max-bytes': ('3000', 'memory', (0, 9223372036854775807)),
    'hz': ('10', 'int', (0, 2147483647)),
    'ignore-warnings': ('', 'string', None),
    'io-threads': ('1', 'immutable', None),
    'io-threads-do-reads': ('no', 'immutable', None),
    'jemalloc-bg-thread': ('yes', 'bool', None),
    'latency-monitor-threshold': ('0', 'int', (0, 9223372036854775807)),
    'latency-tracking': ('yes', 'bool', None),
    'latency-tracking-info-percentiles': ('50 99 99.9', 'string', None),
    'lazyfree-lazy-eviction': ('no', 'bool', None),
    'lazyfree-lazy-expire': ('no', 'bool', None),
    'lazyfree-lazy-server-del': ('no', 'bool', None),
    'lazyfree-lazy-user-del': ('no', 'bool', None),
    'lazyfree-lazy-user-flush': ('no', 'bool', None),
    'lfu-decay-time': ('1', 'int', (0, 2147483647)),
    'lfu-log-factor': ('10', 'int', (0, 2147483647)),
    'list-compress-depth': ('0', 'int', (0, 2147483647)),
    'list-max-listpack-size': ('-2', 'int', (-2147483648, 2147483647)),
    'list-max-ziplist-size': ('-2', 'int', (-2147483648, 2147483647)),
    'logfile': ('', 'immutable', None),
    'loglevel': ('notice', 'enum', ('debug', 'verbose', 'notice', 'warning')),
    'lua-time-limit': ('5000', 'int', (0, 9223372036854775807)),
    'masteruser': ('', 'string', None),
    'maxmemory': ('0', 'memory', (0, 18446744073709551615)),
    'maxmemory-clients': ('0', 'string', None),
    'maxmemory-eviction-tenacity': ('10', 'int', (0, 100)),
    'maxmemory-policy': ('noeviction', 'enum', ('volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'noeviction')),
    'maxmemory-samples': ('5', 'int', (1, 2147483647)),
    'min-replicas-max-lag': ('10', 'int', (0, 2147483647)),
    'min-replicas-to-write': ('0', 'int', (0, 2147483647)),
    'min-slaves-max-lag': ('10', 'int', (0, 2147483647)),
    'min-slaves-to-write': ('0', 'int', (0, 2147483647)),
    'no-appendfsync-on-rewrite': ('no', 'bool', None),
    'notify-keyspace-events': ('', 'string', None),
    'oom-score-adj': ('no', 'enum', ('no', 'yes', 'relative', 'absolute')),
    'oom-score-adj-values': ('0 200 800', 'string', None),
    'proc-title-template': ('{title} {listen-addr} {server-mode}', 'string', None),
    'propagation-error-behavior': ('ignore', 'enum', ('ignore', 'panic', 'panic-on-replicas')),
    'protected-mode': ('yes', 'bool', None),
    'rdb-del-sync-files': ('no', 'bool', None),
    'rdb-save-incremental-fsync': ('yes', 'bool', None),
    'rdbchecksum': ('yes', 'immutable', None),
    'rdbcompression': ('yes', 'bool', None),
    'repl-backlog-size': ('1048576', 'memory', (1, 9223372036854775807)),
    'repl-backlog-ttl': ('3600', 'int', (0, 9223372036854775807)),
    'repl-disable-tcp-nodelay': ('no', 'bool', None),
    'repl-diskless-load': ('disabled', 'enum', ('disabled', 'on-empty-db', 'swapdb')),
    'repl-diskless-sync': ('yes', 'bool', None),
    'repl-diskless-sync-delay': ('5', 'int', (0, 2147483647)),
    'repl-diskless-sync-max-replicas': ('0', 'int', (0, 2147483647)),
    'repl-ping-replica-period': ('10', 'int', (1, 2147483647)),
    'repl-ping-slave-period': ('10', 'int', (1, 2147483647)),
    'repl-timeout': ('60', 'int', (1, 2147483647)),
    'replica-announce-ip': ('', 'string', None),
    'replica-announce-port': ('0', 'int', (0, 65535)),
    'replica-announced': ('yes', 'bool', None),
    'replica-ignore-disk-write-errors': ('no', 'bool', None),
    'replica-ignore-maxmemory': ('yes', 'bool', None),
    'replica-lazy-flush': ('no', 'bool', None),
    'replica-priority': ('100', 'int', (0, 2147483647)),
    'replica-read-only': ('yes', 'bool', None),
    'replica-serve-stale-data': ('yes', 'bool', None),
    'replicaof': ('', 'immutable', None),
    'sanitize-dump-payload': ('no', 'enum', ('no', 'yes', 'clients')),
    'save': ('', 'string', None),
    'server_cpulist': ('', 'immutable', None),
    'set-max-intset-entries': ('512', 'int', (0, 9223372036854775807)),
    'set-proc-title': ('yes', 'immutable', None),
    'shutdown-on-sigint': ('default', 'enum', ('default', 'save', 'nosave', 'now', 'force')),
    'shutdown-on-sigterm': ('default', 'enum', ('default', 'save', 'nosave', 'now', 'force')),
    'shutdown-timeout': ('10', 'int', (0, 2147483647)),
    'slave-announce-ip': ('', 'string', None),
    'slave-announce-port': ('0', 'int', (0, 65535)),
    'slave-ignore-maxmemory': ('yes', 'bool', None),
    'slave-lazy-flush': ('no', 'bool', None),
    'slave-priority': ('100', 'int', (0, 2147483647)),
    'slave-serve-stale-data': ('yes', 'bool', None),
    'slaveof': ('', 'immutable', None),
    'socket-mark-id': ('0', 'immutable', None),
    'stop-writes-on-bgsave-error': ('yes', 'bool', None),
    'stream-node-max-bytes': ('4096', 'memory', (0, 9223372036854775807)),
    'stream-node-max-entries': ('100', 'int', (0, 9223372036854775807)),
    'supervised': ('no', 'immutable', None),
    'syslog-enabled': ('no', 'immutable', None),
    'syslog-facility': ('local0', 'immutable', None),
    'syslog-ident': ('redis', 'immutable', None),
    'tcp-backlog': ('511', 'immutable', None),
    'tcp-keepalive': ('300', 'int', (0, 2147483647)),
    'tls-auth-clients': ('yes', 'enum', ('no', 'yes', 'optional')),
    'tls-ca-cert-dir': ('', 'string', None),
    'tls-ca-cert-file': ('', 'string', None),
    'tls-cert-file': ('', 'string', None),
    'tls-ciphers': ('', 'string', None),
    'tls-ciphersuites': ('', 'string', None),
    'tls-client-cert-file': ('', 'string', None),
    'tls-client-key-file': ('', 'string', None),
    'tls-client-key-file-pass': ('', 'string', None),
    'tls-cluster': ('no', 'bool', None),
    'tls-dh-params-file': ('', 'string', None),
    'tls-key-file': ('', 'string', None),
    'tls-key-file-pass': ('', 'string', None),
    'tls-port': ('0', 'int', (0, 65535)),
    'tls-prefer-server-ciphers': ('no', 'bool', None),
    'tls-protocols': ('', 'string', None),
    'tls-replication': ('no', 'bool', None),
    'tls-session-cache-size': ('20480', 'int', (0, 2147483647)),
    'tls-session-cache-timeout': ('300', 'int', (0, 2147483647)),
    'tls-session-caching': ('yes', 'bool', None),
    'tracking-table-max-keys': ('1000000', 'int', (0, 9223372036854775807)),
    'unixsocket': ('', 'immutable', None),
    'unixsocketperm': ('0', 'immutable', None),
    'zset-max-listpack-entries': ('128', 'int', (0, 9223372036854775807)),
    'zset-max-listpack-value': ('64', 'memory', (0, 9223372036854775807)),
    'zset-max-ziplist-entries': ('128', 'int', (0, 9223372036854775807)),
    'zset-max-ziplist-value': ('64', 'memory', (0, 9223372036854775807)),
}

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


def memory(text: str) -> int | None:
    """Redis' memtoull: digits and an optional unit (k = 1000, kb = 1024 ...)."""
    t = text.lower()
    i = len(t)
    while i and t[i - 1].isalpha():
        i -= 1
    digits, unit = t[:i], t[i:]
    if not digits.isdigit() or not digits.isascii() or unit not in _UNITS:
        return None
    return int(digits) * _UNITS[unit]


def _integer(text: str) -> int | None:
    """Redis' string2ll: optional '-', ASCII digits, no leading zeros or '+'."""
    body = text[1:] if text.startswith("-") else text
    if not body or not body.isascii() or not body.isdigit() or (body[0] == "0" and len(text) > 1):
        return None
    n = int(text)
    return n if -(2**63) <= n < 2**63 else None


def _save(text: str) -> str:
    parts = text.split()
    if len(parts) % 2 or any(_integer(p) is None or int(p) < 0 for p in parts):
        raise ValueError("Invalid save parameters")
    return " ".join(parts)


_EVENT_CLASSES = "Ag$lshzxeKEtmdn"


def _events(text: str) -> str:
    """Redis' canonical spelling of the classes: A for all types, then K E m."""
    if any(c not in _EVENT_CLASSES for c in text):
        raise ValueError(f"Invalid event class character. Use '{_EVENT_CLASSES}'.")
    chars = set(text.replace("A", "g$lshzxetd"))
    types = "".join(c for c in "g$lshzxetdn" if c in chars)
    if set("g$lshzxetd") <= chars:
        types = "A" + ("n" if "n" in chars else "")
    return types + "".join(c for c in "KEm" if c in chars)


def _hz(text: str) -> str:
    return str(min(max(int(_ranged("hz", text)), 1), 500))  # Redis' CONFIG_MIN_HZ, CONFIG_MAX_HZ


def _backlog(text: str) -> str:
    return str(max(int(_ranged("repl-backlog-size", text)), 16384))  # Redis' minimum backlog


_SPECIAL = {"save": _save, "notify-keyspace-events": _events, "hz": _hz, "repl-backlog-size": _backlog}

# Old names Redis 7.0 still takes for the same parameter (one value for both).
ALIASES = {
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
    "slave-priority": "replica-priority",
    "slave-serve-stale-data": "replica-serve-stale-data",
    "slave-ignore-maxmemory": "replica-ignore-maxmemory",
    "slave-lazy-flush": "replica-lazy-flush",
    "slave-announce-ip": "replica-announce-ip",
    "slave-announce-port": "replica-announce-port",
    "repl-ping-slave-period": "repl-ping-replica-period",
    "min-slaves-to-write": "min-replicas-to-write",
    "min-slaves-max-lag": "min-replicas-max-lag",
    "cluster-slave-validity-factor": "cluster-replica-validity-factor",
    "cluster-slave-no-failover": "cluster-replica-no-failover",
    "lua-time-limit": "busy-reply-threshold",
}


def canonical(name: str) -> str:
    """The name a parameter's value is stored under."""
    return ALIASES.get(name, name)


def check(name: str, text: str) -> str:
    """The value to store for CONFIG SET ``name`` ``text``; ValueError with
    Redis' wording (after "... - ") when Redis would refuse it."""
    if name in _SPECIAL:
        return _SPECIAL[name](text)
    return _ranged(name, text)


def _ranged(name: str, text: str) -> str:
    _, kind, spec = REDIS_PARAMS[name]
    if kind == "bool":
        v = text.lower()
        if v not in ("yes", "no"):
            raise ValueError("argument must be 'yes' or 'no'")
        return v
    if kind == "enum":
        v = text.lower()
        if v not in spec:  # type: ignore[operator]
            raise ValueError(f"argument(s) must be one of the following: {', '.join(spec)}")  # type: ignore[arg-type]
        return v
    if kind in ("int", "memory"):
        n = _integer(text) if kind == "int" else memory(text)
        if n is None:
            raise ValueError("argument couldn't be parsed into an integer" if kind == "int"
                             else "argument must be a memory value")
        lo, hi = spec  # type: ignore[misc]
        if not lo <= n <= hi:
            raise ValueError(f"argument must be between {lo} and {hi} inclusive")
        return str(n)
    return text
