"""Pub/sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH,
SPUBLISH, PUBSUB. The subscriptions are registered in, and messages routed
by, the pubsub process (pikamp.services.pubsub); see pikamp.pubsub."""
from __future__ import annotations

from pikamp.commands.table import dispatch
from pikamp.commands.table import LOCAL, command
from pikamp.deferred import Deferred
from pikamp.errors import RespError
from pikamp.pubsub import CHANNEL, PATTERN, SHARD, Subscriptions, confirmation
from pikamp.resp import Raw

UNAVAILABLE = "ERR the pubsub process is restarting; try again"


def _after_hub(conn, op: bytes, kind: bytes, names: list[bytes], reply: bytes) -> object:
    """The confirmations, once the pubsub process has applied the change: a
    PUBLISH made after the client read them reaches it (or no longer does)."""
    if not names:
        return Raw(reply)
    d = Deferred(conn.resp3)
    # Lost link: the change is sent again with all subscriptions on reconnect.
    conn.worker.hub.request(op, [b"%d" % conn.id, kind, *names], lambda value: d.resolve_raw(reply))
    return d


def _subscribe(conn, args: list[bytes], kind: bytes, what: bytes) -> object:
    subs = conn.pubsub
    if subs is None:
        subs = conn.pubsub = Subscriptions()
    table = subs.of(kind)
    new: list[bytes] = []
    parts: list[bytes] = []
    for name in args[1:]:
        if name not in table:
            table[name] = None
            new.append(name)
        parts.append(confirmation(conn.resp3, what, name, subs.count(kind)))
    return _after_hub(conn, b"S", kind, new, b"".join(parts))


def _unsubscribe(conn, args: list[bytes], kind: bytes, what: bytes) -> object:
    subs = conn.pubsub
    table = subs.of(kind) if subs is not None else {}
    names = args[1:] or list(table)
    if not names:  # nothing to leave: one confirmation without a name
        return Raw(confirmation(conn.resp3, what, None, subs.count(kind) if subs is not None else 0))
    removed: list[bytes] = []
    parts: list[bytes] = []
    for name in names:
        if name in table:
            del table[name]
            removed.append(name)
        parts.append(confirmation(conn.resp3, what, name, subs.count(kind) if subs is not None else 0))
    if subs is not None and not subs.total():
        conn.pubsub = None  # out of the subscribed state
    return _after_hub(conn, b"U", kind, removed, b"".join(parts))


@command("subscribe", -2, "pubsub noscript loading stale", route=LOCAL, group="pubsub", since="2.0.0",
         summary="Listen for messages published to the given channels",
         complexity="O(N) where N is the number of channels to subscribe to.")
def subscribe(ctx, args):
    conn = ctx.conn
    return _subscribe(conn, args, CHANNEL, b"subscribe")


@command("psubscribe", -2, "pubsub noscript loading stale", route=LOCAL, group="pubsub", since="2.0.0",
         summary="Listen for messages published to channels matching the given patterns",
         complexity="O(N) where N is the number of patterns the client is already subscribed to.")
def psubscribe(ctx, args):
    conn = ctx.conn
    return _subscribe(conn, args, PATTERN, b"psubscribe")


@command("ssubscribe", -2, "pubsub noscript loading stale", (1, -1, 1), route=LOCAL, group="pubsub",
         since="7.0.0", summary="Listen for messages published to the given shard channels",
         complexity="O(N) where N is the number of shard channels to subscribe to.")
def ssubscribe(ctx, args):
    conn = ctx.conn
    return _subscribe(conn, args, SHARD, b"ssubscribe")


@command("unsubscribe", -1, "pubsub noscript loading stale", route=LOCAL, group="pubsub", since="2.0.0",
         summary="Stop listening for messages posted to the given channels",
         complexity="O(N) where N is the number of clients already subscribed to a channel.")
def unsubscribe(ctx, args):
    conn = ctx.conn
    return _unsubscribe(conn, args, CHANNEL, b"unsubscribe")


@command("punsubscribe", -1, "pubsub noscript loading stale", route=LOCAL, group="pubsub", since="2.0.0",
         summary="Stop listening for messages posted to channels matching the given patterns",
         complexity="O(N+M) where N is the number of patterns the client is already subscribed and M is "
                    "the number of total patterns subscribed in the system (by any client).")
def punsubscribe(ctx, args):
    conn = ctx.conn
    return _unsubscribe(conn, args, PATTERN, b"punsubscribe")


@command("sunsubscribe", -1, "pubsub noscript loading stale", (1, -1, 1), route=LOCAL, group="pubsub",
         since="7.0.0", summary="Stop listening for messages posted to the given shard channels",
         complexity="O(N) where N is the number of clients already subscribed to a shard channel.")
def sunsubscribe(ctx, args):
    conn = ctx.conn
    return _unsubscribe(conn, args, SHARD, b"sunsubscribe")


def _ask_hub(conn, op: bytes, args: list[bytes]) -> Deferred:
    d = Deferred(conn.resp3)
    conn.worker.hub.request(op, args, lambda value: d.resolve(RespError(UNAVAILABLE) if value is None else value))
    return d


@command("publish", 3, "pubsub loading stale fast", route=LOCAL, group="pubsub", since="2.0.0",
         summary="Post a message to a channel",
         complexity="O(N+M) where N is the number of clients subscribed to the receiving channel and M is "
                    "the total number of subscribed patterns (by any client).")
def publish(ctx, args):
    conn = ctx.conn
    return _ask_hub(conn, b"P", [CHANNEL, args[1], args[2]])


@command("spublish", 3, "pubsub loading stale fast", (1, 1, 1), route=LOCAL, group="pubsub", since="7.0.0",
         summary="Post a message to a shard channel",
         complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.")
def spublish(ctx, args):
    conn = ctx.conn
    return _ask_hub(conn, b"P", [SHARD, args[1], args[2]])


@command("pubsub", -2, "", route=LOCAL, group="pubsub", categories="@slow", since="2.8.0",
         summary="A container for Pub/Sub commands", complexity="Depends on subcommand.")
def pubsub_(ctx, args):
    return dispatch(ctx, args, b"pubsub")


def _pattern_arg(args: list[bytes], sub: str) -> list[bytes]:
    if len(args) > 3:  # Redis' words for a third argument
        raise RespError(f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try PUBSUB HELP.")
    return args[2:]


@command("pubsub|channels", -2, "pubsub loading stale", route=LOCAL, group="pubsub", since="2.8.0",
         summary="List active channels",
         complexity="O(N) where N is the number of active channels, and assuming constant time pattern "
                    "matching (relatively short channels and patterns)")
def pubsub_channels(ctx, args):
    conn = ctx.conn
    return _ask_hub(conn, b"Q", [b"channels", *_pattern_arg(args, args[1].decode("latin-1"))])


@command("pubsub|shardchannels", -2, "pubsub loading stale", route=LOCAL, group="pubsub", since="7.0.0",
         summary="List active shard channels",
         complexity="O(N) where N is the number of active shard channels, and assuming constant time "
                    "pattern matching (relatively short shard channels).")
def pubsub_shardchannels(ctx, args):
    conn = ctx.conn
    return _ask_hub(conn, b"Q", [b"shardchannels", *_pattern_arg(args, args[1].decode("latin-1"))])


@command("pubsub|numsub", -2, "pubsub loading stale", route=LOCAL, group="pubsub", since="2.8.0",
         summary="Get the count of subscribers for channels",
         complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels")
def pubsub_numsub(ctx, args):
    conn = ctx.conn
    return _ask_hub(conn, b"Q", [b"numsub", *args[2:]])


@command("pubsub|shardnumsub", -2, "pubsub loading stale", route=LOCAL, group="pubsub", since="7.0.0",
         summary="Get the count of subscribers for shard channels",
         complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels")
def pubsub_shardnumsub(ctx, args):
    conn = ctx.conn
    return _ask_hub(conn, b"Q", [b"shardnumsub", *args[2:]])


@command("pubsub|numpat", 2, "pubsub loading stale", route=LOCAL, group="pubsub", since="2.8.0",
         summary="Get the count of unique patterns pattern subscriptions", complexity="O(1)")
def pubsub_numpat(ctx, args):
    conn = ctx.conn
    return _ask_hub(conn, b"Q", [b"numpat"])


_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


@command("pubsub|help", 2, "loading stale", route=LOCAL, group="pubsub", categories="@slow", since="6.2.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def pubsub_help(ctx, args):
    return _HELP
