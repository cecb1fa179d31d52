"""ACL and its subcommands (Redis 7.0), over the workers' user registries.

Every worker holds the same users (pikamp.acl.Registry): its clients are
checked there, in the pipeline, without asking anyone. A change (SETUSER,
DELUSER, LOAD, CONFIG SET requirepass) is made by worker 0 alone, which
orders them; it then sends the whole new set of users to every worker
(``__acl_state``) and answers only once all of them hold it. Worker 0 also
keeps the ACL log, and writes the users to a runtime file, from which a
worker restarted later starts. Clients of a deleted user (of every non-default
user, for ACL LOAD) are disconnected, as Redis does.
"""
from __future__ import annotations

from pikamp import acl, stats
from pikamp.commands.table import ALL, COMMANDS, LOCAL, command, dispatch, subcommand
from pikamp.deferred import Deferred
from pikamp.errors import RespError, subcommand_syntax
from pikamp.numbers import parse_int
from pikamp.resp import ordered_set

KEEPER = 0  # the worker that makes every change and keeps the ACL log
NO_FILE = ("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the "
           "ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file "
           "set) in order to store users in the Redis configuration.")

_HELP = [
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _at_keeper(conn, args: list[bytes]) -> Deferred:
    """Run ``__acl_op args...`` in worker 0; its reply is the answer."""
    d = Deferred(conn.resp3)
    conn.worker.call_worker(KEEPER, [b"__acl_op", *args], d.resolve_raw, conn.resp3, conn.id)
    return d


@command("acl", -2, "", route=LOCAL, group="server", categories="@slow", since="6.0.0",
         summary="A container for Access List Control commands", complexity="Depends on subcommand.")
def acl_(ctx, args):
    return dispatch(ctx, args, b"acl")


@command("acl|whoami", 2, "noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="Return the name of the user associated to the current connection")
def acl_whoami(ctx, args):
    conn = ctx.conn
    return conn.user.name.encode()


@command("acl|users", 2, "admin noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="List the username of all the configured ACL rules", complexity="O(N). Where N is the number of configured users.")
def acl_users(ctx, args):
    return [name.encode() for name in sorted(ctx.worker.acl.users)]


@command("acl|list", 2, "admin noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="List the current ACL rules in ACL config file format",
         complexity="O(N). Where N is the number of configured users.")
def acl_list(ctx, args):
    return [line.encode("utf-8", "surrogateescape") for line in ctx.worker.acl.lines()]


@command("acl|getuser", 3, "admin noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="Get the rules for a specific ACL user", complexity="O(N). Where N is the number of password, command and pattern rules that the user has.")
def acl_getuser(ctx, args):
    user = ctx.worker.acl.get(_text(args[2]))
    if user is None:
        return None
    root = user.selectors[0]
    resp3 = ctx.resp3

    def enc(s: str) -> bytes:
        return s.encode("utf-8", "surrogateescape")

    return {
        b"flags": ordered_set([f.encode() for f in user.flags()], resp3),
        b"passwords": [p.encode() for p in user.passwords],
        b"commands": enc(root.describe_commands()),
        b"keys": enc(root.describe_keys()),
        b"channels": enc(root.describe_channels()),
        b"selectors": [{b"commands": enc(s.describe_commands()), b"keys": enc(s.describe_keys()),
                        b"channels": enc(s.describe_channels())} for s in user.selectors[1:]],
    }


@command("acl|cat", -2, "noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="List the ACL categories or the commands inside a category",
         complexity="O(1) since the categories and commands are a fixed set.")
def acl_cat(ctx, args):
    if len(args) > 3:
        raise subcommand_syntax(args)
    if len(args) == 2:
        return [c.encode() for c in acl.CATEGORY_NAMES]
    category = _text(args[2]).lower()
    if category not in acl.CATEGORY_NAMES:
        raise RespError(f"ERR Unknown category '{_text(args[2])}'")
    out = []
    for name in sorted(COMMANDS):
        cmd = COMMANDS[name]
        for c in [cmd, *cmd.subcommands.values()]:
            if "@" + category in c.acl_categories:
                out.append(c.name.encode())
    return out


@command("acl|genpass", -2, "noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="Generate a pseudorandom secure password to use for ACL users")
def acl_genpass(ctx, args):
    if len(args) > 3:
        raise subcommand_syntax(args)
    bits = parse_int(args[2]) if len(args) == 3 else 256
    if not 0 < bits <= 4096:
        raise RespError("ERR ACL GENPASS argument must be the number of bits for the output password, "
                        "a positive number up to 4096")
    return acl.genpass(bits).encode()


@command("acl|dryrun", -4, "admin noscript loading stale", route=LOCAL, group="server", since="7.0.0",
         summary="Returns whether the user can execute the given command without executing the command.")
def acl_dryrun(ctx, args):
    user = ctx.worker.acl.get(_text(args[2]))
    if user is None:
        raise RespError(f"ERR User '{_text(args[2])}' not found")
    line = args[3:]
    cmd = COMMANDS.get(line[0].lower())
    if cmd is not None and cmd.subcommands and len(line) > 1:
        cmd = subcommand(cmd, line)
    if cmd is None:
        raise RespError(f"ERR Command '{_text(line[0])}' not found")
    if (cmd.arity > 0 and len(line) != cmd.arity) or len(line) < -cmd.arity:
        raise RespError(f"ERR wrong number of arguments for '{cmd.name}' command")
    why, pos = user.check(cmd, line)
    if why == acl.DENIED_CMD:
        return f"This user has no permissions to run the '{cmd.name}' command".encode()
    if why == acl.DENIED_KEY:
        return b"This user has no permissions to access the '" + line[pos] + b"' key"
    if why == acl.DENIED_CHANNEL:
        return b"This user has no permissions to access the '" + line[pos] + b"' channel"
    return "OK"


@command("acl|setuser", -3, "admin noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="Modify or create the rules for a specific ACL user",
         complexity="O(N). Where N is the number of rules provided.")
def acl_setuser(ctx, args):
    conn = ctx.conn
    return _at_keeper(conn, [b"setuser", *args[2:]])


@command("acl|deluser", -3, "admin noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="Remove the specified ACL users and the associated rules",
         complexity="O(1) amortized time considering the typical user.")
def acl_deluser(ctx, args):
    conn = ctx.conn
    return _at_keeper(conn, [b"deluser", *args[2:]])


@command("acl|load", 2, "admin noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="Reload the ACLs from the configured ACL file",
         complexity="O(N). Where N is the number of configured users.")
def acl_load(ctx, args):
    conn = ctx.conn
    return _with_file(conn, b"load")


@command("acl|save", 2, "admin noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="Save the current ACL rules in the configured ACL file",
         complexity="O(N). Where N is the number of configured users.")
def acl_save(ctx, args):
    conn = ctx.conn
    return _with_file(conn, b"save")


def _with_file(conn, op: bytes) -> Deferred:
    """ACL LOAD / SAVE, in worker 0, if an aclfile is configured."""
    if not conn.worker.config.get("aclfile"):
        raise RespError(NO_FILE)
    return _at_keeper(conn, [op])


@command("acl|log", -2, "admin noscript loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="List latest events denied because of ACLs in place",
         complexity="O(N) with N being the number of entries shown.")
def acl_log(ctx, args):
    conn = ctx.conn
    if len(args) > 3:
        raise subcommand_syntax(args)
    if len(args) == 3 and args[2].lower() == b"reset":
        return _at_keeper(conn, [b"logreset"])
    count = parse_int(args[2]) if len(args) == 3 else 10
    return _at_keeper(conn, [b"log", b"%d" % max(count, 0)])


@command("acl|help", 2, "loading stale", route=LOCAL, group="server", since="6.0.0",
         summary="Show helpful text about the different subcommands")
def acl_help(ctx, args):
    return _HELP


# -- worker 0: every change, and the log ----------------------------------------
@command("__acl_op", -2, internal=True, route=ALL, group="server", summary="An ACL change or ACL LOG, in worker 0")
def _acl_op(ctx, args):
    w = ctx.worker
    op = args[1]
    registry = w.acl
    try:
        if op == b"setuser":
            registry.set_user(_text(args[2]), [_text(a) for a in args[3:]])
            return _spread(ctx, "OK")
        if op == b"deluser":
            gone = registry.delete([_text(a) for a in args[2:]])
            return _spread(ctx, gone)
        if op == b"load":
            path = w.config.get("aclfile")
            registry.load_lines(acl.read_acl_file(path), where=f"{path}:")
            return _spread(ctx, "OK", everyone=True)
        if op == b"save":
            try:
                acl.write_acl_file(w.config.get("aclfile"), registry.lines())
            except OSError as e:
                raise RespError(f"ERR There was an error trying to save the ACLs. Please check the server "
                                f"logs for more information ({e.strerror or e})") from None
            return "OK"
    except acl.AclLinesError as e:
        raise RespError(f"ERR {e} WARNING: ACL errors detected, no change to the previously active "
                        "ACL rules was performed") from None
    except acl.AclError as e:
        raise RespError(f"ERR {e}") from None
    if op == b"log":
        return w.acl_log.reply(int(args[2]))
    if op == b"logreset":
        w.acl_log.entries.clear()
        return "OK"
    if op == b"logadd":
        w.acl_log.add(_text(args[2]), _text(args[3]), args[4], args[5], int(args[6]), args[7])
        return "OK"
    raise RespError("ERR unknown ACL operation")


def _spread(ctx, answer: object, everyone: bool = False) -> Deferred:
    """Send worker 0's users to every worker (itself too); ``answer`` once
    all hold them. ``everyone``: every client of a user other than the
    default one is disconnected (ACL LOAD), else those whose user is gone."""
    w = ctx.worker
    state = [b"__acl_state", b"%d" % ctx.client_id, b"1" if everyone else b"0"]
    state += [line.encode("utf-8", "surrogateescape") for line in w.acl.lines()]
    return stats.gather(w, state, ctx.resp3, lambda replies: answer)


@command("__acl_state", -3, internal=True, route=ALL, group="server", summary="Take worker 0's ACL users")
def _acl_state(ctx, args):
    w = ctx.worker
    caller, everyone = int(args[1]), args[2] == b"1"
    lines = [_text(line) for line in args[3:]]
    w.acl.load_lines(lines)
    if w.index == KEEPER:
        acl.save_state(w.config, lines)
    disconnect_gone(w, caller, everyone)
    return "OK"


def disconnect_gone(w, caller: int, everyone: bool = False) -> None:
    """Disconnect the clients whose user no longer exists (``everyone``: all
    but the default user's), and, as Redis 7.0, subscribers to a channel or
    pattern their user may no longer use; the caller's own connection after
    its reply."""
    registry = w.acl
    for c in list(w.clients.values()):
        user = c.user
        if registry.users.get(user.name) is user and not (everyone and user is not registry.default) \
                and not (c.pubsub is not None and not user.free and _subscribed_beyond(c)):
            continue
        c.user, c.authed = registry.default, False
        if c.id == caller:
            c.closing = True  # closed once its reply is written, as Redis does
        elif c.transport is not None:
            c.transport.close()


def _subscribed_beyond(c) -> bool:
    subs, user = c.pubsub, c.user
    return (any(not user.channel_ok(p, True) for p in subs.patterns)
            or any(not user.channel_ok(ch, False) for ch in (*subs.channels, *subs.shard)))
