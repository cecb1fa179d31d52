"""The command table: the single source of truth for every command.

Routing (where a command runs), arity checks, COMMAND INFO/DOCS/COUNT/GETKEYS,
and later the binlog, slowlog and commandstats all read this table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pikamp.errors import unknown_subcommand, wrong_arity

# Where a command runs.
LOCAL = 0  # on the worker holding the client socket (connection/server state)
OWNER = 1  # on the worker owning the client's selected DB
ALL = 2  # on every worker, for the DBs each owns (FLUSHALL)


@dataclass(slots=True)
class Command:
    """One entry of the table. ``arity`` follows Redis: N exact, -N at least N."""

    name: str
    arity: int
    flags: tuple[str, ...]
    first_key: int
    last_key: int
    step: int
    handler: Callable[..., Any]
    route: int
    group: str
    summary: str
    since: str
    complexity: str
    acl_categories: tuple[str, ...] = ()
    subcommands: dict[str, "Command"] = field(default_factory=dict)
    # INFO commandstats, counted by the pipeline in the worker that runs it.
    calls: int = 0
    nanos: int = 0
    rejected: int = 0  # refused before it ran (arity, NOAUTH, not allowed in MULTI)
    failed: int = 0  # ran and answered an error
    hist: list[int] | None = None  # latency histogram (pikamp.slowlog.record), from the first call
    reads: bool = False  # "readonly": its key lookups are keyspace hits / misses
    # Where its keys are, for a command whose keys no range or numkeys gives
    # (SORT ... STORE dst): argument indexes from the whole line.
    key_finder: Callable[[list[bytes]], list[int]] | None = None

    @property
    def is_write(self) -> bool:
        return "write" in self.flags

    def key_positions(self, args: list[bytes]) -> list[int]:
        """Indexes of the key arguments of ``args`` (args[0] is the command name).

        A "movablekeys" command names its keys with a numkeys argument, right
        after the fixed keys (ZUNIONSTORE dest numkeys ...) or after the
        timeout (BLMPOP timeout numkeys ...), else first (LMPOP numkeys ...).
        """
        if self.key_finder is not None:
            return self.key_finder(args)
        n = len(args)
        positions: list[int] = []
        if self.first_key:
            last = self.last_key if self.last_key >= 0 else n + self.last_key
            positions = list(range(self.first_key, min(last, n - 1) + 1, self.step or 1))
        if "movablekeys" in self.flags:
            at = (self.last_key + 1) if self.first_key else 2 if "blocking" in self.flags else 1
            try:
                count = int(args[at])
            except (IndexError, ValueError):
                return positions
            positions += range(at + 1, min(at + 1 + max(count, 0), n))
        return positions

    def keys(self, args: list[bytes]) -> list[bytes]:
        """The key arguments of ``args``."""
        return [args[i] for i in self.key_positions(args)]


# Redis 7.0's command flags: a flag outside this set is a typo, refused at import.
FLAGS = frozenset("""
    write readonly denyoom module admin pubsub noscript blocking loading stale skip_monitor skip_slowlog
    asking fast no_auth may_replicate sentinel only_sentinel no_mandatory_keys protected module_getkeys
    module_no_cluster no_async_loading no_multi movablekeys allow_busy
""".split())
CATEGORIES = frozenset("""
    @keyspace @read @write @set @sortedset @list @hash @string @bitmap @hyperloglog @geo @stream @pubsub
    @admin @fast @slow @blocking @dangerous @connection @transaction @scripting
""".split())

COMMANDS: dict[bytes, Command] = {}
# Worker-to-worker commands (never accepted from clients, not listed by COMMAND).
INTERNAL: dict[bytes, Command] = {}

_CATEGORY_BY_GROUP = {
    "string": "@string",
    "generic": "@keyspace",
    "hash": "@hash",
    "list": "@list",
    "set": "@set",
    "sorted_set": "@sortedset",
    "connection": "@connection",
    "bitmap": "@bitmap",
    "hyperloglog": "@hyperloglog",
    "geo": "@geo",
    "pubsub": "@pubsub",
    "transactions": "@transaction",
    "scripting": "@scripting",
}


def command(
    name: str,
    arity: int,
    flags: str = "",
    keys: tuple[int, int, int] = (0, 0, 0),
    *,
    route: int = OWNER,
    group: str = "generic",
    summary: str = "",
    since: str = "1.0.0",
    complexity: str = "O(1)",
    internal: bool = False,
    categories: str | None = None,
    key_finder: Callable[[list[bytes]], list[int]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler.

    Every handler is called as ``fn(ctx, args)`` with a ``pikamp.worker.Ctx``:
    for OWNER/ALL ones ``ctx.db`` is the Database, for LOCAL ones ``ctx.conn``
    the client connection.
    ``args[0]`` is the command name as the client sent it. A handler may
    return a ``pikamp.deferred.Deferred`` to answer later. ``internal`` commands
    are only run by workers for each other (see Worker.call_owner).
    ``categories`` gives the ACL categories where Redis' do not follow from
    the flags and the group (in Redis' order).
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        fl = tuple(flags.split())
        unknown = set(fl) - FLAGS
        if unknown:
            raise ValueError(f"command {name!r}: unknown flags {sorted(unknown)}")
        cats = []
        if "write" in fl:
            cats.append("@write")
        if "readonly" in fl:
            cats.append("@read")
        if "admin" in fl:
            cats += ["@admin", "@dangerous"]
        if "fast" in fl:
            cats.append("@fast")
        else:
            cats.append("@slow")
        if group in _CATEGORY_BY_GROUP and _CATEGORY_BY_GROUP[group] not in cats:
            cats.insert(0, _CATEGORY_BY_GROUP[group])
        if "blocking" in fl:
            cats.append("@blocking")
        if categories is not None:
            cats = categories.split()
            if set(cats) - CATEGORIES:
                raise ValueError(f"command {name!r}: unknown ACL categories {sorted(set(cats) - CATEGORIES)}")
        cmd = Command(
            name=name.lower(),
            arity=arity,
            flags=fl,
            first_key=keys[0],
            last_key=keys[1],
            step=keys[2],
            handler=fn,
            route=route,
            group=group,
            summary=summary or (fn.__doc__ or "").strip().split("\n")[0],
            since=since,
            complexity=complexity,
            acl_categories=tuple(cats),
            reads="readonly" in fl,
            key_finder=key_finder,
        )
        if internal:
            INTERNAL[name.lower().encode()] = cmd
        elif "|" in name:
            parent, sub = name.lower().split("|", 1)
            COMMANDS[parent.encode()].subcommands[sub] = cmd
        else:
            COMMANDS[name.lower().encode()] = cmd
        return fn

    return register


def lookup(name: bytes) -> Command | None:
    """The command for a client-sent name (any case)."""
    cmd = COMMANDS.get(name)
    if cmd is None:
        cmd = COMMANDS.get(name.lower())
    return cmd


def lookup_any(name: bytes) -> Command | None:
    """A command a worker runs for another (forwarded, internal) by its name:
    a public one (any case) or an internal one."""
    return COMMANDS.get(name) or COMMANDS.get(name.lower()) or INTERNAL.get(name)


def subcommand(cmd: Command, args: list[bytes]) -> Command | None:
    """The table entry a container command line runs (None: not one it has)."""
    return cmd.subcommands.get(args[1].lower().decode("latin-1")) if len(args) > 1 else None


def runs(cmd: Command, args: list[bytes]) -> Command:
    """The entry a command line is judged and counted by: a container's
    subcommand where it has that one (config|set), else the command itself."""
    return (subcommand(cmd, args) or cmd) if cmd.subcommands else cmd


def dispatch(ctx, args: list[bytes], parent: bytes) -> object:
    """Run the subcommand ``args[1]`` of a container command registered as
    ``parent|sub`` entries, with the subcommand's own arity check."""
    sub = subcommand(COMMANDS[parent], args)
    if sub is None:
        raise unknown_subcommand(args[1], parent.decode())
    if (sub.arity > 0 and len(args) != sub.arity) or len(args) < -sub.arity:
        raise wrong_arity(sub.name)
    return sub.handler(ctx, args)
