"""What Redis 7.0 answers as a standalone server without modules, which is
what pikamp is: CLUSTER and its subcommands, READONLY, READWRITE and ASKING
("This instance has cluster support disabled"), and MODULE (LIST: none;
LOAD / LOADEX / UNLOAD gated by enable-module-command as in Redis, and
pikamp loads no Redis module); and LOLWUT's plain version line."""
from __future__ import annotations

import logging

from pikamp import REDIS_VERSION
from pikamp.commands.table import LOCAL, command, dispatch
from pikamp.errors import RespError, unknown_subcommand
from pikamp.numbers import parse_int
from pikamp.resp import Verbatim

log = logging.getLogger("pikamp.standalone")

NO_CLUSTER = "ERR This instance has cluster support disabled"
MODULE_NOT_ALLOWED = ('ERR MODULE command not allowed. If the enable-module-command option is set to "local", you '
                      'can run it from a local connection, otherwise you need to set this option in the '
                      'configuration file, and then restart the server.')
# Redis 7.0's CLUSTER subcommands: each answers NO_CLUSTER here, others are unknown.
_CLUSTER_SUBCOMMANDS = frozenset("""
    reset count-failure-reports addslotsrange delslots setslot set-config-epoch info meet slaves addslots myid
    slots forget links saveconfig replicate flushslots bumpepoch shards nodes countkeysinslot help failover
    keyslot replicas getkeysinslot delslotsrange
""".split())


@command("cluster", -2, "", route=LOCAL, group="cluster", categories="@slow", since="3.0.0",
         summary="A container for cluster commands", complexity="Depends on subcommand.")
def cluster(ctx, args):
    if args[1].lower().decode("latin-1") not in _CLUSTER_SUBCOMMANDS:
        raise unknown_subcommand(args[1], "cluster")
    raise RespError(NO_CLUSTER)


@command("readonly", 1, "loading stale fast", route=LOCAL, group="cluster", categories="@fast @connection",
         since="3.0.0", summary="Enables read queries for a connection to a cluster replica node")
def readonly(ctx, args):
    raise RespError(NO_CLUSTER)


@command("readwrite", 1, "loading stale fast", route=LOCAL, group="cluster", categories="@fast @connection",
         since="3.0.0", summary="Disables read queries for a connection to a cluster replica node")
def readwrite(ctx, args):
    raise RespError(NO_CLUSTER)


@command("asking", 1, "fast", route=LOCAL, group="cluster", categories="@fast @connection", since="3.0.0",
         summary="Sent by cluster clients after an -ASK redirect")
def asking(ctx, args):
    raise RespError(NO_CLUSTER)


@command("module", -2, "", route=LOCAL, group="server", categories="@slow", since="4.0.0",
         summary="A container for module commands", complexity="Depends on subcommand.")
def module(ctx, args):
    return dispatch(ctx, args, b"module")


@command("module|list", 2, "admin noscript", route=LOCAL, group="server", since="4.0.0",
         summary="List all modules loaded by the server", complexity="O(N) where N is the number of loaded modules.")
def module_list(ctx, args):
    return []


def _load(ctx, args):
    conn = ctx.conn
    setting = conn.worker.config.values.get("enable-module-command", "no").lower()
    if not (setting == "yes" or (setting == "local" and conn.addr.startswith("127."))):
        raise RespError(MODULE_NOT_ALLOWED)
    log.warning("MODULE %s %r refused: pikamp does not load Redis modules", args[1].decode("latin-1"),
                args[2:3])
    if args[1].lower() == b"unload":
        raise RespError("ERR Error unloading module: no such module with that name")
    raise RespError("ERR Error loading the extension. Please check the server logs.")


@command("module|load", -3, "admin noscript no_async_loading", route=LOCAL, group="server", since="4.0.0",
         summary="Load a module", complexity="O(1)")
def module_load(ctx, args):
    return _load(ctx, args)


@command("module|loadex", -3, "admin noscript no_async_loading", route=LOCAL, group="server", since="7.0.0",
         summary="Load a module with extended parameters", complexity="O(1)")
def module_loadex(ctx, args):
    return _load(ctx, args)


@command("module|unload", 3, "admin noscript no_async_loading", route=LOCAL, group="server", since="4.0.0",
         summary="Unload a module", complexity="O(1)")
def module_unload(ctx, args):
    return _load(ctx, args)


@command("module|help", 2, "loading stale", route=LOCAL, group="server", since="5.0.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def module_help(ctx, args):
    return [
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module library from <path>, while passing it module configurations and optional arguments.",
        "UNLOAD <name>",
        "    Unload a module.",
        "HELP",
        "    Prints this help.",
    ]


@command("lolwut", -1, "readonly fast", route=LOCAL, group="server", categories="@read @fast", since="5.0.0",
         summary="Display some computer art and the Redis version")
def lolwut(ctx, args):
    version = 7
    if len(args) >= 3 and args[1].lower() == b"version":
        version = parse_int(args[2])
    if version in (5, 6):  # (the art of those versions is not drawn here)
        raise RespError(f"ERR pikamp does not draw LOLWUT version {version}")
    return Verbatim(b"Redis ver. " + REDIS_VERSION.encode() + b"\n")
