"""Server commands: COMMAND, CONFIG, INFO, TIME, LASTSAVE, SHUTDOWN.

They run on the worker holding the client socket (LOCAL). COMMAND reads the
command table; what lives in every worker (clients, DB counters, the copy of
the configuration each worker holds) is read or changed with internal
commands sent to all workers (pikamp.stats.gather), so the answer is the same
whichever worker the client's socket landed on.
"""
from __future__ import annotations

import os
import platform
import signal
import sys
import time
from collections.abc import Callable

from pikamp import REDIS_VERSION, __version__, acl, pause, redis_params, servicecall, slowlog, stats
from pikamp.commands.table import COMMANDS, LOCAL, Command, command, dispatch
from pikamp.config import (
    CHOICES,
    DEFAULTS,
    MULTI_KEYS,
    RANGES,
    has_control,
    parse_output_limits,
    quote,
    render_output_limits,
    save_runtime,
    to_bytes,
    to_text,
)
from pikamp.deferred import Deferred
from pikamp.errors import SYNTAX, RespError
from pikamp.glob import Glob
from pikamp.numbers import parse_int
from pikamp.redis_params import REDIS_PARAMS
from pikamp.services.bgsave import read_state as bgsave_state
from pikamp.commands.replication import read_state as repl_state
from pikamp.storage.binlog import offset_value
from pikamp.services.keyscan import info_lines as keyscan_lines
from pikamp.services.keyscan import read_state as keyscan_state
from pikamp.services.keyscan import socket_path as keyscan_socket
from pikamp.resp import Raw, Verbatim, ordered_set


# == shared helpers ============================================================
def _glob(pattern: bytes) -> Glob:
    """Redis matches command and config names with a case-insensitive glob."""
    return Glob(pattern.lower())


# == COMMAND ===================================================================
# ACL categories in the order Redis lists them.
_CATEGORY_ORDER = [
    "@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash", "@string",
    "@bitmap", "@hyperloglog", "@geo", "@stream", "@pubsub", "@admin", "@fast", "@slow",
    "@blocking", "@dangerous", "@connection", "@transaction", "@scripting",
]
_CATEGORY_RANK = {c: i for i, c in enumerate(_CATEGORY_ORDER)}

_COMMAND_HELP = [
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
]


def _lookup_full(name: bytes) -> Command | None:
    """A command by its full name: ``get`` or ``config|get`` (any case)."""
    parent, _, sub = name.lower().partition(b"|")
    cmd = COMMANDS.get(parent)
    if cmd is None or not sub:
        return cmd
    return cmd.subcommands.get(sub.decode("latin-1"))


def _lookup_args(args: list[bytes]) -> Command | None:
    """The command a full command line runs (its subcommand for containers)."""
    cmd = COMMANDS.get(args[0].lower())
    if cmd is None or not cmd.subcommands or len(args) == 1:
        return cmd
    return cmd.subcommands.get(args[1].lower().decode("latin-1"))


def _key_flags(cmd: Command) -> list[str]:
    """Key-spec access flags derived from the command's flags (the table
    carries no per-key specs)."""
    if "write" in cmd.flags:
        return ["RW", "update"]
    return ["RO", "access"]


def _key_specs(cmd: Command, resp3: bool) -> list[dict]:
    """The command's key positions as one Redis 7 key spec (index + range)."""
    if cmd.first_key == 0:
        return []
    last = cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key
    return [{
        b"flags": ordered_set(_key_flags(cmd), resp3),
        b"begin_search": {b"type": b"index", b"spec": {b"index": cmd.first_key}},
        b"find_keys": {b"type": b"range", b"spec": {b"lastkey": last, b"keystep": cmd.step, b"limit": 0}},
    }]


def _info_entry(cmd: Command, resp3: bool) -> list:
    """One COMMAND INFO entry, shaped as Redis 7.0 shapes it."""
    cats = sorted(cmd.acl_categories, key=lambda c: _CATEGORY_RANK.get(c, len(_CATEGORY_RANK)))
    subs = [_info_entry(s, resp3) for s in cmd.subcommands.values()]
    return [
        cmd.name.encode(),
        cmd.arity,
        ordered_set(list(cmd.flags), resp3),
        cmd.first_key,
        cmd.last_key,
        cmd.step,
        ordered_set(cats, resp3),
        ordered_set([], resp3),  # tips: none recorded in the table
        ordered_set(_key_specs(cmd, resp3), resp3),
        subs if subs else ordered_set([], resp3),
    ]


def _doc_entry(cmd: Command) -> dict:
    """One COMMAND DOCS entry (no argument specs: the table has none)."""
    doc: dict = {
        b"summary": cmd.summary.encode(),
        b"since": cmd.since.encode(),
        b"group": cmd.group.replace("_", "-").encode(),
        b"complexity": cmd.complexity.encode(),
    }
    if cmd.subcommands:
        doc[b"subcommands"] = {s.name.encode(): _doc_entry(s) for s in cmd.subcommands.values()}
    return doc


def _all_names() -> list[tuple[str, Command]]:
    """Every command and subcommand by full name."""
    out = []
    for cmd in COMMANDS.values():
        out.append((cmd.name, cmd))
        out += [(s.name, s) for s in cmd.subcommands.values()]
    return out


@command("command", -1, "loading stale", route=LOCAL, group="server", categories="@slow @connection", since="2.8.13",
         summary="Get array of Redis command details",
         complexity="O(N) where N is the total number of Redis commands")
def command_(ctx, args):
    if len(args) == 1:
        return [_info_entry(c, ctx.resp3) for c in COMMANDS.values()]
    return dispatch(ctx, args, b"command")


@command("command|count", 2, "loading stale", categories="@slow @connection", route=LOCAL, group="server", since="2.8.13",
         summary="Get total number of Redis commands")
def command_count(ctx, args):
    return len(COMMANDS)


@command("command|info", -2, "loading stale", categories="@slow @connection", route=LOCAL, group="server", since="2.8.13",
         summary="Get array of specific Redis command details, or all when no argument is given.",
         complexity="O(N) where N is the number of commands to look up")
def command_info(ctx, args):
    if len(args) == 2:
        return [_info_entry(c, ctx.resp3) for c in COMMANDS.values()]
    entries = []
    for name in args[2:]:
        cmd = _lookup_full(name)
        entries.append(None if cmd is None else _info_entry(cmd, ctx.resp3))
    return entries


@command("command|docs", -2, "loading stale", categories="@slow @connection", route=LOCAL, group="server", since="7.0.0",
         summary="Get array of specific Redis command documentation",
         complexity="O(N) where N is the number of commands to look up")
def command_docs(ctx, args):
    if len(args) == 2:
        return {c.name.encode(): _doc_entry(c) for c in COMMANDS.values()}
    docs = {}
    for name in args[2:]:
        cmd = _lookup_full(name)
        if cmd is not None:
            docs[cmd.name.encode()] = _doc_entry(cmd)
    return docs


def _keys_of(args: list[bytes]) -> tuple[Command, list[bytes]]:
    """COMMAND GETKEYS: the command ``args[2:]`` would run and its keys."""
    line = args[2:]
    cmd = _lookup_args(line)
    if cmd is None:
        raise RespError("ERR Invalid command specified")
    if cmd.first_key == 0 and "movablekeys" not in cmd.flags:
        raise RespError("ERR The command has no key arguments")
    if (cmd.arity > 0 and cmd.arity != len(line)) or len(line) < -cmd.arity:
        raise RespError("ERR Invalid number of arguments specified for command")
    keys = cmd.keys(line)
    if not keys:
        raise RespError("ERR Invalid arguments specified for command")
    return cmd, keys


@command("command|getkeys", -4, "loading stale", categories="@slow @connection", route=LOCAL, group="server", since="2.8.13",
         summary="Extract keys given a full Redis command",
         complexity="O(N) where N is the number of arguments to the command")
def command_getkeys(ctx, args):
    return _keys_of(args)[1]


@command("command|getkeysandflags", -4, "loading stale", categories="@slow @connection", route=LOCAL, group="server", since="7.0.0",
         summary="Extract keys and access flags given a full Redis command",
         complexity="O(N) where N is the number of arguments to the command")
def command_getkeysandflags(ctx, args):
    cmd, keys = _keys_of(args)
    flags = ordered_set(_key_flags(cmd), ctx.resp3)
    return [[k, flags] for k in keys]


@command("command|list", -2, "loading stale", categories="@slow @connection", route=LOCAL, group="server", since="7.0.0",
         summary="Get an array of Redis command names",
         complexity="O(N) where N is the total number of Redis commands")
def command_list(ctx, args):
    names = _all_names()
    if len(args) == 2:
        return [n.encode() for n, _ in names]
    if len(args) != 5 or args[2].lower() != b"filterby":
        raise RespError(SYNTAX)
    kind, value = args[3].lower(), args[4]
    if kind == b"module":
        return []  # no modules
    if kind == b"aclcat":
        cat = "@" + value.decode("latin-1").lower()
        return [n.encode() for n, c in names if cat in c.acl_categories]
    if kind == b"pattern":
        glob = _glob(value)
        return [n.encode() for n, _ in names if glob.match(n.encode())]
    raise RespError(SYNTAX)


@command("command|help", 2, "loading stale", categories="@slow @connection", route=LOCAL, group="server", since="5.0.0",
         summary="Show helpful text about the different subcommands")
def command_help(ctx, args):
    return _COMMAND_HELP


# == CONFIG ====================================================================
# Keys Redis clients and tools (redis-benchmark, redis-py) read at connect
# time, answered with what is true of this server.

# Keys CONFIG SET may change at runtime, with their integer ranges (None: any string).
_MUTABLE: dict[str, tuple | None] = {  # (lo, hi) integers, or the names allowed
    "timeout": RANGES["timeout"],
    "maxclients": RANGES["maxclients"],
    "slowlog-log-slower-than": (-1, 2**63 - 1),
    "slowlog-max-len": (0, 2**63 - 1),
    "requirepass": None,
    "userpass": None,
    "userblacklist": None,
    "appendfsync": CHOICES["appendfsync"],
    "client-output-buffer-limit": None,  # checked by parse_output_limits
    "client-query-buffer-limit": RANGES["client-query-buffer-limit"],  # Redis' minimum: 1 MB
    "proto-max-bulk-len": RANGES["proto-max-bulk-len"],
}

_MEMORY_KEYS = {"client-query-buffer-limit", "proto-max-bulk-len"}

_CONFIG_HELP = [
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
]


def _config_value(config, key: str) -> str:
    key = redis_params.canonical(key)
    if key in config.values:
        return config.get(key)
    if key == "dir":  # Redis' default: where the server was started
        return os.getcwd()
    # Redis' own parameters (pikamp.redis_params): stored, never acted on.
    # save "": no snapshots, appendonly no: the write-ahead log is the
    # durability here; maxmemory 0: data lives on disk, nothing is evicted.
    return REDIS_PARAMS[key][0]


def _config_keys() -> list[str]:
    # Keys of several lines: ACL LIST shows the users; neither is a CONFIG GET key in Redis.
    return [k for k in DEFAULTS if k not in MULTI_KEYS] + [k for k in REDIS_PARAMS if k not in DEFAULTS]


@command("config", -2, "", route=LOCAL, group="server", categories="@slow", since="2.0.0",
         summary="A container for server configuration commands", complexity="Depends on subcommand.")
def config_(ctx, args):
    return dispatch(ctx, args, b"config")


@command("config|get", -3, "admin noscript loading stale", route=LOCAL, group="server", since="2.0.0",
         summary="Get the values of configuration parameters",
         complexity="O(N) when N is the number of configuration parameters provided")
def config_get(ctx, args):
    config = ctx.worker.config
    known = _config_keys()
    found: dict[str, tuple[bytes, str]] = {}  # lower-case name -> (name as replied, key)
    for pattern in args[2:]:
        if not any(c in pattern for c in b"[*?"):
            key = pattern.lower().decode("latin-1")
            if key in known and key not in found:
                found[key] = (pattern, key)
            continue
        glob = _glob(pattern)
        for key in known:
            if key not in found and glob.match(key.encode()):
                found[key] = (key.encode(), key)
    return {name: to_bytes(_config_value(config, key)) for name, key in found.values()}


def _parse_setting(key: str, value: bytes) -> str:
    """Validate one CONFIG SET value the way Redis does; returns it as stored."""
    text = to_text(value)
    # Redis quotes such values on rewrite; we refuse them: they have no use in
    # a setting and a newline in the line-based file would inject keys.
    if has_control(text):
        raise RespError("argument must not contain control characters")
    if key not in DEFAULTS:
        try:
            return redis_params.check(key, text)
        except ValueError as e:
            raise RespError(str(e)) from None
    bounds = _MUTABLE[key]
    if key == "client-output-buffer-limit":
        try:
            parse_output_limits(text)
        except ValueError as e:
            raise RespError(str(e)) from None
    if bounds is None:
        return text
    if isinstance(bounds[0], str):
        if text.lower() not in bounds:
            raise RespError(f"argument(s) must be one of the following: {', '.join(bounds)}")
        return text.lower()
    if key in _MEMORY_KEYS:  # Redis' memory values: units (1k = 1000, 1kb = 1024 ...)
        n = redis_params.memory(text)
        if n is None:
            raise RespError("argument must be a memory value")
    else:
        n = parse_int(value, "argument couldn't be parsed into an integer")
    lo, hi = bounds
    if not lo <= n <= hi:
        raise RespError(f"argument must be between {lo} and {hi} inclusive")
    return str(n)


def _config_set_error(name: bytes, why: str) -> RespError:
    return RespError(
        f"ERR CONFIG SET failed (possibly related to argument '{name.decode('latin-1')}') - {why}")


def _validate_settings(args: list[bytes]) -> list[bytes]:
    """CONFIG SET's checks, in Redis's order: names first (unknown, immutable,
    duplicate; the first problem wins), then values. Returns the internal
    command that applies the settings."""
    if len(args) % 2:
        raise RespError(SYNTAX)
    known = set(_config_keys())
    seen: set[str] = set()
    error: RespError | None = None
    for name in args[2::2]:
        key = name.lower().decode("latin-1")
        if key not in known:
            if error is None:
                error = RespError(
                    f"ERR Unknown option or number of arguments for CONFIG SET - '{name.decode('latin-1')}'")
            break
        if error is not None:
            continue
        kind = REDIS_PARAMS[key][1] if key not in DEFAULTS else None
        if kind == "protected":
            error = _config_set_error(name, "can't set protected config")
        elif kind == "immutable" or (key in DEFAULTS and key not in _MUTABLE):
            error = _config_set_error(name, "can't set immutable config")
        elif key in seen:
            error = _config_set_error(name, "duplicate parameter")
        seen.add(key)
    if error is not None:
        raise error
    apply = [b"__config_set"]
    for name, value in zip(args[2::2], args[3::2]):
        key = name.lower().decode("latin-1")
        try:
            stored = _parse_setting(key, value)
        except RespError as e:
            raise _config_set_error(key.encode(), e.message) from None
        apply += [redis_params.canonical(key).encode(), to_bytes(stored)]
    return apply


@command("config|set", -4, "admin noscript loading stale", route=LOCAL, group="server", since="2.0.0",
         summary="Set configuration parameters to the given values",
         complexity="O(N) when N is the number of configuration parameters provided")
def config_set(ctx, args):
    apply = _validate_settings(args)
    # Every worker holds its own copy of the configuration: change them all.
    return stats.gather(ctx.worker, apply, ctx.resp3, lambda _: "OK")


@command("__config_set", -3, internal=True, group="server", summary="Apply CONFIG SET in this worker")
def _apply_config(ctx, args):
    w = ctx.worker
    users_changed = False
    for key, value in zip(args[1::2], args[2::2]):
        name, text = key.decode(), to_text(value)
        if name == "client-output-buffer-limit":  # the classes given replace theirs only
            limits = parse_output_limits(w.config.get(name))
            limits.update(parse_output_limits(text))
            text = render_output_limits(limits)
            w.set_output_limits(text)
        w.config.values[name] = text
        if name == "requirepass":
            w.requirepass = text
            w.acl.set_default_password(text)  # as Redis: the default user's one password
            users_changed = True
        elif name in ("userpass", "userblacklist"):
            users_changed = True
        elif name == "acllog-max-len":
            w.acl_log.max_len = int(text)
            del w.acl_log.entries[int(text):]
        elif name == "tracking-table-max-keys":
            w.tracking.max_keys = int(text) or 1 << 62  # 0: no limit
        elif name == "latency-tracking":
            w.track_latency = text != "no"
        elif name == "acl-pubsub-default":
            w.acl.pubsub_default = text == "allchannels"
        elif name == "maxclients":
            w.maxclients = int(text)
        elif name == "appendfsync":
            w.set_fsync(text)
        elif name == "client-query-buffer-limit":
            w.query_limit = int(text)
        elif name == "proto-max-bulk-len":
            w.max_bulk = int(text)
            for c in w.clients.values():  # (a bulk being read now was checked already)
                c.parser.max_bulk = w.max_bulk
        elif name == "slowlog-max-len":
            w.slowlog.resize(int(text))
        elif name == "slowlog-log-slower-than":
            w.set_slowlog_threshold(int(text))
        elif name == "latency-monitor-threshold":
            w.set_latency_threshold(int(text))
        elif name == "notify-keyspace-events":
            w.set_notify(text)
    if users_changed:
        acl.apply_userpass(w.acl, w.config)
    if w.index == 0:  # one of the workers keeps it for the ones restarted later
        save_runtime(w.config, [k.decode() for k in args[1::2]])
        if users_changed:
            acl.save_state(w.config, w.acl.lines())
    return "OK"


@command("config|resetstat", 2, "admin noscript loading stale", route=LOCAL, group="server",
         since="2.0.0", summary="Reset the stats returned by INFO")
def config_resetstat(ctx, args):
    return stats.gather(ctx.worker, [b"__resetstat"], ctx.resp3, lambda _: "OK")


@command("__resetstat", 1, internal=True, group="server", summary="Reset this worker's INFO stats")
def _reset_stats(ctx, args):
    w = ctx.worker
    w.stat_commands = 0
    w.stat_connections = 0
    w.stat_net_in = w.stat_net_out = w.stat_rejected = 0
    w.errors.clear()
    for cmd in COMMANDS.values():
        for c in (cmd, *cmd.subcommands.values()):
            c.calls = c.nanos = c.rejected = c.failed = 0
            c.hist = None
    for db in w.dbs.values():
        db.expired_keys = db.hits = db.misses = 0
    stats.ops_meter(w).reset()
    return "OK"


def _default_of(key: str) -> str | None:
    if key in DEFAULTS:
        return DEFAULTS[key][0]
    return REDIS_PARAMS[key][0] if key in REDIS_PARAMS else None


def rewrite_config_file(path: str, values: dict[str, str]) -> None:
    """Write ``values`` into the Pika-format file at ``path``: a key's first line
    gets its current value (later duplicates are dropped), comments and other
    lines stay, keys not in the file whose value differs from the default
    are appended. The file is replaced atomically."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        # Split as config.parse does: other line ends (\x85, U+2028...) are data.
        lines = f.read().removesuffix("\n").split("\n")
    out: list[str] = []
    written: set[str] = set()

    def lines_of(key: str) -> list[str]:  # a key of several lines (user) gets one per value
        parts = values[key].split("\n") if key in MULTI_KEYS else [values[key]]
        return [f"{key} : {quote(v)}" for v in parts if v or key not in MULTI_KEYS]

    for line in lines:
        text = line.strip()
        key = text.partition(":")[0].strip().lower()
        if text and not text.startswith("#") and key in values:
            if key not in written:
                out += lines_of(key)
                written.add(key)
            continue
        out.append(line)
    extra = [k for k, v in values.items() if k not in written and v != _default_of(k)]
    if extra:
        out += ["", "# Generated by CONFIG REWRITE"] + [line for k in extra for line in lines_of(k)]
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("\n".join(out) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@command("config|rewrite", 2, "admin noscript loading stale", route=LOCAL, group="server",
         since="2.8.0", summary="Rewrite the configuration file with the in memory configuration")
def config_rewrite(ctx, args):
    config = ctx.worker.config
    if not config.path:
        raise RespError("ERR The server is running without a config file")
    values = dict(config.values)
    if not config.get("aclfile"):  # as Redis: the users go to the file as user lines
        values["user"] = "\n".join(line.removeprefix("user ") for line in ctx.worker.acl.lines())
    try:
        rewrite_config_file(config.path, values)
    except OSError as e:
        raise RespError(f"ERR Rewriting config file: {e.strerror}") from None
    return "OK"


@command("config|help", 2, "loading stale", route=LOCAL, group="server", since="5.0.0",
         summary="Show helpful text about the different subcommands")
def config_help(ctx, args):
    return _CONFIG_HELP


# == INFO ======================================================================
Lines = list[tuple[str, object]]


def _server(w, gathered) -> Lines:
    ident = stats.identity()
    now = time.time()
    uptime = int(now - ident.started)
    return [
        ("redis_version", REDIS_VERSION),
        ("pikamp_version", __version__),
        ("redis_mode", "standalone"),
        ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("multiplexing_api", "uvloop"),
        ("python_version", platform.python_version()),
        ("process_id", ident.pid),
        ("process_supervised", "no"),
        ("run_id", ident.run_id),
        ("tcp_port", w.config.int("port")),
        ("server_time_usec", time.time_ns() // 1000),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", 10),
        ("configured_hz", 10),
        ("executable", os.path.abspath(sys.argv[0])),
        ("config_file", w.config.path or ""),
        ("workers", w.nworkers),
        ("databases", w.ndbs),
    ]


def _clients(w, gathered) -> Lines:
    return [
        ("connected_clients", sum(g[b"clients"] for g in gathered)),
        ("cluster_connections", 0),
        ("maxclients", w.maxclients),
        # Clients waiting in BLPOP & co, wherever they are parked (redis-cli --stat shows it).
        ("blocked_clients", sum(g[b"blocked"] for g in gathered)),
        ("tracking_clients", len(w.trackers)),  # (every worker knows every tracking client)
    ]


def _memory(w, gathered) -> Lines:
    rss = sum(p.rss for p in stats.process_tree())
    peak = stats.memory_peak(w.run_dir, rss)
    system = stats.total_memory()
    return [
        # The whole process tree's RSS: data lives in RocksDB (memtables, block cache).
        ("used_memory", rss),
        ("used_memory_human", stats.human_bytes(rss)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", stats.human_bytes(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", stats.human_bytes(peak)),
        ("used_memory_peak_perc", f"{rss * 100 / peak if peak else 0:.2f}%"),
        ("used_memory_startup", stats.memory_startup(w.run_dir)),
        ("total_system_memory", system),
        ("total_system_memory_human", stats.human_bytes(system)),
        ("used_memory_lua", 0),  # no scripting engine
        ("maxmemory", 0),
        ("maxmemory_human", "0B"),
        ("maxmemory_policy", "noeviction"),
        # RSS is what is used here, so there is no fragmentation to measure apart.
        ("mem_fragmentation_ratio", "1.00"),
        ("mem_fragmentation_bytes", 0),
        ("mem_replication_backlog", 0),  # the binlog is on disk
        ("mem_allocator", "libc"),
    ]


def _write_errors(errors: list[tuple[int, str]]) -> str:
    """'No space left on device (db0 db3)': no commas, which INFO parsers split on."""
    by_cause: dict[str, list[str]] = {}
    for i, why in sorted(errors):
        by_cause.setdefault(why.replace(",", ";"), []).append(f"db{i}")
    return "; ".join(f"{why} ({' '.join(dbs)})" for why, dbs in by_cause.items())


def _persistence(w, gathered) -> Lines:
    errors = [(i, why.decode()) for g in gathered for i, why in g.get(b"write_errors", [])]
    saving = bgsave_state(w.run_dir)  # what the bgsave process published
    return [
        ("loading", 0),
        ("async_loading", 0),
        # Every acknowledged write is in RocksDB's WAL: nothing is ever unsaved.
        ("rdb_changes_since_last_save", 0),
        ("rdb_bgsave_in_progress", saving.get("in_progress", 0)),
        ("rdb_last_save_time", stats.last_save(w.config.path_of("dump-path"), saving)),
        ("rdb_last_bgsave_status", saving.get("last_status", "ok")),
        ("rdb_last_bgsave_time_sec", saving.get("last_duration", -1)),
        ("rdb_current_bgsave_time_sec", int(time.time()) - saving["started"] if saving.get("in_progress") else -1),
        ("rdb_saves", saving.get("saves", 0)),
        ("aof_enabled", 0),
        ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0),
        ("aof_last_bgrewrite_status", "ok"),
        # The WAL is our AOF: "err" while a DB refuses writes after a disk error.
        ("aof_last_write_status", "err" if errors else "ok"),
    ] + ([("aof_last_write_error", _write_errors(errors))] if errors else [])


def _stats(w, gathered) -> Lines:
    pubsub_counts = gathered[0].get(b"pubsub") or [0, 0, 0]
    saving = bgsave_state(w.run_dir)
    return [
        ("total_connections_received", sum(g[b"connections"] for g in gathered)),
        ("total_commands_processed", sum(g[b"commands"] for g in gathered)),
        ("instantaneous_ops_per_sec", sum(g[b"ops"] for g in gathered)),
        ("total_net_input_bytes", sum(g[b"net_in"] for g in gathered)),
        ("total_net_output_bytes", sum(g[b"net_out"] for g in gathered)),
        ("instantaneous_input_kbps", f"{sum(g[b'in_rate'] for g in gathered) / 1024:.2f}"),
        ("instantaneous_output_kbps", f"{sum(g[b'out_rate'] for g in gathered) / 1024:.2f}"),
        ("rejected_connections", sum(g[b"rejected"] for g in gathered)),
        *[(k, v.get(k, 0)) for v in [repl_state(w.run_dir)] for k in ("sync_full", "sync_partial_ok",
                                                                         "sync_partial_err")],
        ("expired_keys", sum(g[b"expired_keys"] for g in gathered)),
        ("evicted_keys", 0),
        ("keyspace_hits", sum(g[b"hits"] for g in gathered)),
        ("keyspace_misses", sum(g[b"misses"] for g in gathered)),
        # Counted by the pubsub process (zeros if it did not answer).
        ("pubsub_channels", pubsub_counts[0]),
        ("pubsub_patterns", pubsub_counts[1]),
        ("pubsubshard_channels", pubsub_counts[2]),
        # CLIENT TRACKING: keys remembered (each owner for its DBs), clients per key, BCAST prefixes.
        ("tracking_total_keys", sum(g[b"tracking"][0] for g in gathered)),
        ("tracking_total_items", sum(g[b"tracking"][1] for g in gathered)),
        ("tracking_total_prefixes", len({p for t in w.trackers.values() if t.bcast for p in t.prefixes})),
        ("total_error_replies", sum(_error_counts(gathered).values())),
        ("unexpected_error_replies", 0),
        # Pika's fields: a dump is being made ("Yes, <dump>, <start time>",
        # and here the workers done of all), a COMPACT runs in some worker.
        ("is_bgsaving", f"Yes, {saving['dump']}, {saving['started']}, {saving['done']}/{saving['total']} workers"
         if saving.get("in_progress") else "No"),
        ("is_compact", "yes" if any(g[b"compacting"] for g in gathered) else "no"),
    ]


def _replication(w, gathered) -> Lines:
    """Redis' fields (what Sentinel and exporters read), then Pika's per-DB binlog lines.
    Offsets are binlog positions as one number: file number x binlog-file-size + offset,
    summed over the DBs, on the master and on its replicas alike."""
    state = repl_state(w.run_dir)
    size = w.config.int("binlog-file-size")
    positions = sorted(p for g in gathered for p in g.get(b"binlog", []))
    own_offset = sum(offset_value(f, o, size) for _, f, o in positions)
    replicas = state.get("replicas", [])
    lines: Lines = []
    if w.replica_of is None:
        lines.append(("role", "master"))
    else:
        up = state.get("link") == "connected"
        last_io = state.get("last_io") or 0
        # A replica's binlogs copy its master's: their ends are the master
        # positions applied, counted in the master's file size.
        msize = state.get("master_file_size", size)
        applied = sum(offset_value(f, o, msize) for _, f, o in positions)
        lines += [
            ("role", "slave"),
            ("master_host", w.replica_of[0]),
            ("master_port", w.replica_of[1]),
            ("master_link_status", "up" if up else "down"),
            ("master_last_io_seconds_ago", int(time.time() - last_io) if last_io else -1),
            ("master_sync_in_progress", int(bool(state.get("syncing")))),
        ]
        if state.get("syncing"):  # Redis' progress fields of a full sync
            total, read = state.get("sync_total", 0), state.get("sync_read", 0)
            lines += [
                ("master_sync_total_bytes", total),
                ("master_sync_read_bytes", read),
                ("master_sync_left_bytes", max(total - read, 0)),
                ("master_sync_perc", f"{100.0 * read / total if total else 0:.2f}"),
                ("master_sync_last_io_seconds_ago", int(time.time() - (state.get("sync_io") or time.time()))),
            ]
        lines += [
            ("slave_read_repl_offset", applied),
            ("slave_repl_offset", applied),
        ]
        if not up:
            lines.append(("master_link_down_since_seconds", int(time.time() - state.get("down_since", time.time()))))
        lines += [
            ("slave_priority", w.config.values.get("slave-priority", "100")),
            ("slave_read_only", int(w.config.bool("slave-read-only"))),
            ("replica_announced", 1),
        ]
    lines.append(("connected_slaves", len(replicas)))
    lines += [(f"slave{i}", f"ip={r['ip']},port={r['port']},state={r['state']},offset={r['offset']},lag={r['lag']}")
              for i, r in enumerate(replicas)]
    lines += [
        ("master_failover_state", "no-failover"),
        ("master_replid", stats.identity().replid),
        ("master_replid2", "0" * 40),
        ("master_repl_offset", own_offset),
        ("second_repl_offset", -1),
        ("repl_backlog_active", int(bool(positions))),  # the binlog is the backlog
    ]
    # Pika's line per DB: its binlog's end, and the file up to which a purge is safe.
    lines += [(f"db{i}", f"binlog_offset={filenum} {offset},safety_purge=write2file{max(filenum - 10, 0)}")
              for i, filenum, offset in positions]
    return lines


def _cpu(w, gathered) -> Lines:
    procs = stats.process_tree()
    lines: Lines = [
        # The whole process tree; its processes are listed one by one below.
        ("used_cpu_sys", f"{sum(p.sys for p in procs):.6f}"),
        ("used_cpu_user", f"{sum(p.user for p in procs):.6f}"),
        ("used_cpu_sys_children", "0.000000"),
        ("used_cpu_user_children", "0.000000"),
    ]
    lines += [(f"{p.role}_cpu", f"sys={p.sys:.6f},user={p.user:.6f},pid={p.pid}") for p in procs]
    return lines


def _modules(w, gathered) -> Lines:
    return []


def _cluster(w, gathered) -> Lines:
    return [("cluster_enabled", 0)]


def _keyspace(w, gathered) -> Lines:
    dbs = sorted(tuple(entry) for g in gathered for entry in g[b"keyspace"])
    live: Lines = [(f"db{i}", f"keys={keys},expires={expires},avg_ttl=0") for i, keys, expires in dbs if keys]
    # Then Pika's per-type counts of the last "INFO keyspace 1" scan, if any
    # (lines without a colon: Redis' INFO parsers keep them apart).
    return live + [(text, None) for text in keyscan_lines(keyscan_state(w.run_dir), w.ndbs)]


_ROCKSDB_TOTALS = (b"memtable_bytes", b"table_readers_bytes", b"pending_compaction_bytes",
                   b"running_compactions", b"running_flushes", b"write_stopped", b"estimated_keys", b"sst_bytes")


def _rocksdb(w, gathered) -> Lines:
    """Pika's section (its field names where it has them), summed over every
    DB of every worker, then one line per DB."""
    dbs = sorted((entry[0], stats.pairs_to_dict(entry[1])) for g in gathered for entry in g.get(b"rocksdb", []))
    caches = [g[b"block_cache"] for g in gathered if b"block_cache" in g]
    lines: Lines = [
        ("block_cache_capacity", sum(c[0] for c in caches)),
        ("block_cache_usage", sum(c[1] for c in caches)),
        ("block_cache_pinned_usage", sum(c[2] for c in caches)),
    ]
    if dbs and b"block_cache_hits" in dbs[0][1]:  # enable-db-statistics: RocksDB's tickers
        hits = sum(d[b"block_cache_hits"] for _, d in dbs)
        misses = sum(d[b"block_cache_misses"] for _, d in dbs)
        lines += [("block_cache_hits", hits), ("block_cache_misses", misses),
                  ("block_cache_hit_rate", f"{hits / (hits + misses) if hits + misses else 0:.4f}"),
                  ("write_stall_micros", sum(d[b"write_stall_micros"] for _, d in dbs))]
    lines.append(("memtable_budget", w.config.int("max-write-buffer-size") * w.nworkers))
    lines += [(name.decode(), sum(d[name] for _, d in dbs)) for name in _ROCKSDB_TOTALS]
    levels = sorted({k for _, d in dbs for k in d if k.startswith(b"sst_bytes_l")})
    lines += [(k.decode(), sum(d.get(k, 0) for _, d in dbs)) for k in levels]
    for i, d in dbs:
        if not (d[b"estimated_keys"] or d[b"sst_bytes"]):
            continue
        per_level = "/".join(f"{d.get(k, 0)}" for k in levels)
        lines.append((f"rocksdb_db{i}", f"estimated_keys={d[b'estimated_keys']},sst_bytes={d[b'sst_bytes']},"
                                f"memtable_bytes={d[b'memtable_bytes']},"
                                f"pending_compaction_bytes={d[b'pending_compaction_bytes']},"
                                f"sst_bytes_per_level={per_level or 0}"))
    return lines


def _commandstats(w, gathered) -> Lines:
    """Redis' cmdstat_<name> lines, summed over the workers that ran them."""
    totals: dict[bytes, list[int]] = {}
    for g in gathered:
        for name, calls, nanos, rejected, failed in g.get(b"cmdstats", []):
            t = totals.setdefault(name, [0, 0, 0, 0])
            for i, v in enumerate((calls, nanos, rejected, failed)):
                t[i] += v
    lines: Lines = []
    for name, (calls, nanos, rejected, failed) in totals.items():
        usec = nanos // 1000
        per_call = usec / calls if calls else 0
        lines.append((f"cmdstat_{name.decode()}", f"calls={calls},usec={usec},usec_per_call={per_call:.2f},"
                                                  f"rejected_calls={rejected},failed_calls={failed}"))
    return lines


def _latencystats(w, gathered) -> Lines:
    """Redis' latency_percentiles_usec_<name> lines (latency-tracking-info-percentiles)."""
    wanted = []
    for word in w.config.values.get("latency-tracking-info-percentiles", "50 99 99.9").split():
        try:
            wanted.append(float(word))
        except ValueError:
            continue
    lines: Lines = []
    for name, hist in _histograms(gathered).items():
        shown = ",".join(f"p{p:g}={slowlog.percentile(hist, p) / 1000:.3f}" for p in wanted)
        lines.append((f"latency_percentiles_usec_{name.decode()}", shown))
    return lines


def _histograms(gathered) -> dict[bytes, dict[int, int]]:
    """Every worker's command latency histograms, added up by command."""
    merged: dict[bytes, dict[int, int]] = {}
    for g in gathered:
        for name, flat in g.get(b"latency", []):
            slowlog.merge(merged.setdefault(name, {}), flat)
    return merged


def worker_histograms(w, names: list[bytes] | None = None) -> list:
    """This worker's [name, [index, count ...]] of the commands that ran here."""
    out = []
    for cmd in COMMANDS.values():
        for c in (cmd, *cmd.subcommands.values()):
            if c.hist is not None and (names is None or c.name.encode() in names):
                out.append([c.name.encode(), [x for kv in slowlog.sparse(c.hist).items() for x in kv]])
    return out


def _error_counts(gathered) -> dict[bytes, int]:
    """Error replies by code, summed over the workers."""
    counts: dict[bytes, int] = {}
    for g in gathered:
        for code, n in stats.pairs_to_dict(g[b"errors"]).items():
            counts[code] = counts.get(code, 0) + n
    return counts


def _errorstats(w, gathered) -> Lines:
    return [(f"errorstat_{code.decode('latin-1')}", f"count={n}") for code, n in sorted(_error_counts(gathered).items())]


# Sections in Redis's order: name -> (title, lines, needs numbers from every worker).
_SECTIONS: dict[bytes, tuple[str, Callable[..., Lines], bool]] = {
    b"server": ("Server", _server, False),
    b"clients": ("Clients", _clients, True),
    b"memory": ("Memory", _memory, False),
    b"persistence": ("Persistence", _persistence, True),
    b"stats": ("Stats", _stats, True),
    b"replication": ("Replication", _replication, True),
    b"cpu": ("CPU", _cpu, False),
    b"modules": ("Modules", _modules, False),
    b"commandstats": ("Commandstats", _commandstats, True),
    b"errorstats": ("Errorstats", _errorstats, True),
    b"latencystats": ("Latencystats", _latencystats, True),
    b"cluster": ("Cluster", _cluster, False),
    b"keyspace": ("Keyspace", _keyspace, True),
    # Pika's: in INFO all / everything or by name, not in the default set.
    b"rocksdb": ("RocksDB", _rocksdb, True),
}
_NOT_DEFAULT = {b"rocksdb", b"commandstats", b"latencystats"}
_ALL = {b"all", b"everything"}


def _requested(args: list[bytes]) -> list[bytes]:
    if len(args) == 1:
        return [s for s in _SECTIONS if s not in _NOT_DEFAULT]
    names = {a.lower() for a in args[1:]}
    if names & _ALL:
        return list(_SECTIONS)
    if b"default" in names:
        names |= _SECTIONS.keys() - _NOT_DEFAULT
    return [s for s in _SECTIONS if s in names]


def _render(w, sections: list[bytes], gathered: list[dict]) -> Verbatim:
    parts = []
    for name in sections:
        title, lines, _ = _SECTIONS[name]
        body = "".join(f"{k}:{v}\r\n" if v is not None else f"{k}\r\n" for k, v in lines(w, gathered))
        parts.append(f"# {title}\r\n{body}")
    return Verbatim("\r\n".join(parts).encode())


@command("info", -1, "loading stale", route=LOCAL, group="server", categories="@slow @dangerous",
         summary="Get information and statistics about the server")
def info(ctx, args):
    w = ctx.worker
    sections = _requested(args)
    if len(args) == 3 and args[1].lower() == b"keyspace" and args[2] == b"1":
        # Pika: start the background key statistics (the keyscan process).
        servicecall.ask(w, keyscan_socket(w.run_dir), [b"START"], lambda reply: None, 5.0, b"")
    if not any(_SECTIONS[s][2] for s in sections):
        return _render(w, sections, [])

    pubsub_counts: list = []

    def combine(replies: list) -> Verbatim:
        gathered = [stats.pairs_to_dict(r) for r in replies]
        gathered[0][b"pubsub"] = pubsub_counts  # the pubsub process' answer, for _stats
        return _render(w, sections, gathered)

    # RocksDB's numbers cost a few properties per DB: only when shown.
    ask = [b"__info"] + [s for s in (b"rocksdb", b"commandstats", b"latencystats") if s in sections]
    if b"stats" not in sections:
        return stats.gather(w, ask, ctx.resp3, combine)
    d = Deferred(ctx.resp3)

    def counted(value: object) -> None:
        if type(value) is list:
            pubsub_counts[:] = value
        stats.gather(w, ask, ctx.resp3, combine).then(d.resolve_raw)

    w.hub.request(b"Q", [b"counts"], counted)
    return d


@command("__info", -1, internal=True, group="server", summary="This worker's numbers for INFO")
def _worker_info(ctx, args):
    w = ctx.worker
    extra = {}
    if b"rocksdb" in args[1:] and w.dbs:
        engines = [db.engine for db in w.dbs.values()]
        shared = w.tuning.cache is not None  # one cache for all: count it once
        caches = [e.cache_numbers() for e in (engines[:1] if shared else engines)]
        extra = {
            b"rocksdb": [[i, [x for kv in db.engine.numbers().items() for x in kv]] for i, db in w.dbs.items()],
            b"block_cache": [sum(c[j] for c in caches) for j in range(3)],
        }
    if b"latencystats" in args[1:]:
        extra[b"latency"] = worker_histograms(w)
    if b"commandstats" in args[1:]:
        extra[b"cmdstats"] = [[c.name.encode(), c.calls, c.nanos, c.rejected, c.failed]
                              for cmd in COMMANDS.values() for c in (cmd, *cmd.subcommands.values())
                              if c.calls or c.rejected]
    return extra | {
        b"binlog": [[i, *db.engine.binlog.position] for i, db in sorted(w.dbs.items())
                    if db.engine.binlog is not None],
        b"errors": w.errors,
        b"clients": len(w.clients),
        # Clients held by a blocking command, and those held by CLIENT PAUSE (as Redis counts them).
        b"blocked": len({id(waiter) for db in w.dbs.values() for queue in db.blocked.values() for waiter in queue})
        + pause.held_count(w),
        b"connections": w.stat_connections,
        b"commands": w.stat_commands,
        b"ops": stats.ops_meter(w).rate(),
        b"in_rate": stats.ops_meter(w).rate(stats.OpsMeter.NET_IN),
        b"out_rate": stats.ops_meter(w).rate(stats.OpsMeter.NET_OUT),
        b"net_in": w.stat_net_in,
        b"net_out": w.stat_net_out,
        b"rejected": w.stat_rejected,
        b"hits": sum(db.hits for db in w.dbs.values()),
        b"misses": sum(db.misses for db in w.dbs.values()),
        b"expired_keys": sum(db.expired_keys for db in w.dbs.values()),
        b"compacting": w.compacting,
        b"write_errors": [[i, db.engine.failed.encode()] for i, db in w.dbs.items()
                          if db.engine.failed is not None],
        b"keyspace": [[i, db.size, stats.expires_count(db)] for i, db in w.dbs.items()],
        b"tracking": [len(w.tracking.keys), sum(len(ids) for ids in w.tracking.keys.values())],
        b"client_output": sum(c.transport.get_write_buffer_size() for c in w.clients.values()
                              if c.transport is not None),
    }


# == TIME, LASTSAVE, SHUTDOWN ==================================================
@command("time", 1, "loading stale fast", route=LOCAL, group="server", categories="@fast", since="2.6.0",
         summary="Return the current server time")
def time_(ctx, args):
    us = time.time_ns() // 1000
    return [str(us // 1_000_000).encode(), str(us % 1_000_000).encode()]


@command("lastsave", 1, "loading stale fast", route=LOCAL, group="server", categories="@admin @fast @dangerous",
         summary="Get the UNIX time stamp of the last successful save to disk")
def lastsave(ctx, args):
    return stats.last_save(ctx.worker.config.path_of("dump-path"), bgsave_state(ctx.worker.run_dir))


_SHUTDOWN_FLAGS = {b"nosave", b"save", b"now", b"force"}


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", route=LOCAL, group="server",
         summary="Synchronously save the dataset to disk and then shut down the server",
         complexity="O(N) when saving, where N is the total number of keys in all databases "
                    "when saving data, otherwise O(1)")
def shutdown(ctx, args):
    conn = ctx.conn
    opts = [a.lower() for a in args[1:]]
    if any(o not in _SHUTDOWN_FLAGS and o != b"abort" for o in opts):
        raise RespError(SYNTAX)
    abort = b"abort" in opts
    if (abort and len(set(opts)) > 1) or {b"save", b"nosave"} <= set(opts):
        raise RespError(SYNTAX)
    if abort:
        raise RespError("ERR No shutdown in progress.")
    # SAVE and NOSAVE mean the same here: every write is already in the WAL,
    # and the supervisor's clean stop flushes and closes every DB.
    supervisor = os.getppid()
    if supervisor <= 1:  # orphaned: there is no supervisor to ask
        raise RespError("ERR Errors trying to SHUTDOWN. Check logs.")
    os.kill(supervisor, signal.SIGTERM)
    conn.closing = True  # like Redis, no reply: the connection just closes
    return Raw(b"")
