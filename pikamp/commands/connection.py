"""Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, CLIENT, RESET."""
from __future__ import annotations

from pikamp import REDIS_VERSION, acl, blocking, multi, pause, pubsub, stats, tracking
from pikamp.clientline import client_line
from pikamp.commands.table import ALL, LOCAL, command, dispatch
from pikamp.deferred import Deferred
from pikamp.errors import DB_INDEX, SYNTAX, WRONGPASS, RespError, subcommand_syntax
from pikamp.numbers import parse_int
from pikamp.resp import Verbatim, decode, ordered_set


@command("ping", -1, "fast", route=LOCAL, group="connection", summary="Ping the server")
def ping(ctx, args):
    conn = ctx.conn
    if len(args) > 2:
        raise RespError("ERR wrong number of arguments for 'ping' command")
    if conn.pubsub is not None and not conn.resp3:
        # RESP2 subscribed: Redis answers a message-like array.
        return [b"pong", args[1] if len(args) == 2 else b""]
    return args[1] if len(args) == 2 else "PONG"


@command("echo", 2, "loading stale fast", route=LOCAL, group="connection", summary="Echo the given string")
def echo(ctx, args):
    return args[1]


@command("quit", -1, "noscript loading stale fast no_auth allow_busy", route=LOCAL, group="connection",
         summary="Close the connection")
def quit_(ctx, args):
    conn = ctx.conn
    conn.closing = True
    return "OK"


@command("select", 2, "loading stale fast", route=LOCAL, group="connection", summary="Change the selected database")
def select(ctx, args):
    conn = ctx.conn
    n = parse_int(args[1])
    if not 0 <= n < conn.worker.ndbs:
        raise RespError(DB_INDEX)
    conn.db_index = n
    return "OK"


def _check_password(conn, args: list[bytes], user: bytes | None, password: bytes) -> None:
    """Log the client in as ``user`` (None: AUTH <password>), or raise
    WRONGPASS after an ACL log entry, as Redis does. A password for the
    default user may be Pika's userpass: then the client is user "limit"
    (clients given only a password send HELLO 3 AUTH default <password>).
    Passwords are compared as hashes, in constant time."""
    registry = conn.worker.acl
    name = "default" if user is None else user.decode("utf-8", "surrogateescape")
    found = registry.get(name)
    if found is None or not found.enabled or not found.password_ok(password):
        limit = registry.get(acl.LIMIT_USER) if name == "default" and registry.limit_from_userpass else None
        if limit is None or not limit.enabled or not limit.password_ok(password):
            conn.worker.log_acl(conn, "auth", b"multi" if conn.multi is not None else b"toplevel", args[0], name)
            raise RespError(WRONGPASS)
        found = limit
    conn.user = found
    conn.authed = True
    conn.parser.auth_required = False


@command("auth", -2, "noscript loading stale fast no_auth allow_busy", route=LOCAL, group="connection",
         summary="Authenticate to the server")
def auth(ctx, args):
    conn = ctx.conn
    if len(args) > 3:
        raise RespError(SYNTAX)
    if conn.worker.acl.default.nopass and len(args) == 2:
        raise RespError(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"
        )
    if len(args) == 3:
        _check_password(conn, args, args[1], args[2])
    else:
        _check_password(conn, args, None, args[1])
    return "OK"


@command("hello", -1, "noscript loading stale fast no_auth allow_busy", route=LOCAL, group="connection",
         summary="Handshake with the server", since="6.0.0")
def hello(ctx, args):
    conn = ctx.conn
    proto = None
    if len(args) >= 2:
        try:
            proto = parse_int(args[1])
        except RespError:
            raise RespError("ERR Protocol version is not an integer or out of range") from None
        if proto not in (2, 3):
            raise RespError("NOPROTO unsupported protocol version")
    name = None
    i = 2
    while i < len(args):
        opt = args[i].lower()
        more = len(args) - i - 1
        if opt == b"auth" and more >= 2:
            _check_password(conn, args, args[i + 1], args[i + 2])
            i += 3
        elif opt == b"setname" and more >= 1:
            name = args[i + 1]
            _check_name(name)
            i += 2
        else:
            raise RespError(f"ERR Syntax error in HELLO option '{args[i].decode('latin-1')}'")
    if not conn.authed:
        raise RespError("NOAUTH HELLO must be called with the client already authenticated, "
                        "otherwise the HELLO AUTH <user> <pass> option can be used to "
                        "authenticate the client and select the RESP protocol version at the same time")
    if name is not None:
        conn.name = name
    if proto is not None:
        conn.resp3 = proto == 3
    return {
        b"server": b"redis",
        b"version": REDIS_VERSION.encode(),
        b"proto": 3 if conn.resp3 else 2,
        b"id": conn.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


def _check_name(name: bytes) -> None:
    if any(c < 33 or c > 126 for c in name):
        raise RespError("ERR Client names cannot contain spaces, newlines or special characters.")


@command("client", -2, "", route=LOCAL, group="connection", categories="@slow", summary="A container for client connection commands")
def client(ctx, args):
    handler = _CLIENT_NEWER.get(args[1].lower())
    if handler is not None:
        return handler(ctx, args)
    return dispatch(ctx, args, b"client")


def _client_id(ctx, args):
    conn = ctx.conn
    if len(args) != 2:
        raise RespError("ERR wrong number of arguments for 'client|id' command")
    return conn.id


def _client_setname(ctx, args):
    conn = ctx.conn
    if len(args) != 3:
        raise RespError("ERR wrong number of arguments for 'client|setname' command")
    _check_name(args[2])
    conn.name = args[2]
    return "OK"


def _client_getname(ctx, args):
    conn = ctx.conn
    if len(args) != 2:
        raise RespError("ERR wrong number of arguments for 'client|getname' command")
    return conn.name or None


def _client_setinfo(ctx, args):
    conn = ctx.conn
    # CLIENT SETINFO is Redis 7.2; 7.0 has no such subcommand. We accept it because
    # redis-py >= 5 sends it on every connection (it ignores an error, but logs noise).
    if len(args) != 4:
        raise RespError("ERR wrong number of arguments for 'client|setinfo' command")
    attr = args[2].lower()
    if any(c < 33 or c > 126 for c in args[3]):
        raise RespError(f"ERR {args[2].decode('latin-1')} cannot contain spaces, newlines or special characters.")
    if attr == b"lib-name":
        conn.lib_name = args[3]
    elif attr == b"lib-ver":
        conn.lib_ver = args[3]
    else:
        raise RespError(f"ERR Unrecognized option '{args[2].decode('latin-1')}'")
    return "OK"


def _client_info(ctx, args):
    conn = ctx.conn
    return Verbatim(client_line(conn))


_CLIENT_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
]

# Client types Redis knows. Workers hold normal and pubsub clients (a client
# with subscriptions); replicas will be served by the replication process.
_CLIENT_TYPES = {b"normal", b"master", b"replica", b"slave", b"pubsub"}


def _client_help(ctx, args):
    if len(args) != 2:
        raise RespError("ERR wrong number of arguments for 'client|help' command")
    return _CLIENT_HELP


def _client_on_off(args: list[bytes], sub: str) -> None:
    if len(args) != 3:
        raise RespError(f"ERR wrong number of arguments for 'client|{sub}' command")
    if args[2].lower() not in (b"on", b"off"):
        raise RespError(SYNTAX)


def _client_no_evict(ctx, args):
    # Clients are never evicted here (there is no maxmemory-clients), so the
    # protection holds whether it is on or off.
    _client_on_off(args, "no-evict")
    return "OK"


def _client_no_touch(ctx, args):
    # Redis 7.2 (7.0 lacks it), accepted for clients that use it: no access
    # times are kept here, so no command ever "touches" a key anyway.
    _client_on_off(args, "no-touch")
    return "OK"


def _client_type(name: bytes) -> bytes:
    kind = name.lower()
    if kind not in _CLIENT_TYPES:
        raise RespError(f"ERR Unknown client type '{name.decode('latin-1')}'")
    return kind


def _client_list_all(ctx, args):
    """CLIENT LIST [TYPE type | ID id ...]: the clients of every worker."""
    ids = None
    kind = None
    if len(args) == 4 and args[2].lower() == b"type":
        kind = _client_type(args[3])
        if kind not in (b"normal", b"pubsub"):
            return Verbatim(b"")
    elif len(args) > 3 and args[2].lower() == b"id":
        ids = [parse_int(a, "ERR Invalid client ID") for a in args[3:]]
    elif len(args) != 2:
        raise RespError(SYNTAX)

    def combine(replies: list) -> Verbatim:
        lines = {cid: line for reply in replies for cid, line, subscribed in reply
                 if kind is None or (kind == b"pubsub") == bool(subscribed)}
        order = sorted(lines) if ids is None else [i for i in ids if i in lines]
        return Verbatim(b"".join(lines[i] for i in order))

    return stats.gather(ctx.worker, [b"__client_list"], ctx.resp3, combine)


@command("__client_list", 1, internal=True, group="connection", summary="This worker's CLIENT LIST lines")
def _client_list_here(ctx, args):
    return [[c.id, client_line(c), int(c.pubsub is not None)] for c in ctx.worker.clients.values()]


def _client_kill_filters(registry, args: list[bytes]) -> tuple[list[bytes], bool, bool]:
    """CLIENT KILL <option> <value> ... -> (filters for __client_kill, skipme,
    whether any client of a worker can match), with Redis's checks and errors."""
    filters: list[bytes] = []
    skipme = True
    matchable = True
    for i in range(2, len(args), 2):
        opt = args[i].lower()
        if i + 1 == len(args):
            raise RespError(SYNTAX)
        value = args[i + 1]
        if opt == b"id":
            n = parse_int(value, "ERR client-id should be greater than 0")
            if n < 1:
                raise RespError("ERR client-id should be greater than 0")
            filters += [b"id", str(n).encode()]
        elif opt == b"type":
            kind = _client_type(value)
            matchable = kind in (b"normal", b"pubsub") and matchable
            filters += [b"type", kind]
        elif opt in (b"addr", b"laddr"):
            filters += [opt, value]
        elif opt == b"user":
            if registry.get(value.decode("utf-8", "surrogateescape")) is None:
                raise RespError(f"ERR No such user '{value.decode('latin-1')}'")
            filters += [b"user", value]
        elif opt == b"skipme" and value.lower() in (b"yes", b"no"):
            skipme = value.lower() == b"yes"
        else:
            raise RespError(SYNTAX)
    return filters, skipme, matchable


def _client_kill(ctx, args):
    """CLIENT KILL ip:port (old form: OK or an error) or CLIENT KILL <option>
    <value> ... (the number killed), over the clients of every worker."""
    conn = ctx.conn
    if len(args) < 3:
        raise RespError("ERR wrong number of arguments for 'client|kill' command")
    old_form = len(args) == 3
    if old_form:
        filters, skipme, matchable = [b"addr", args[2]], False, True
    else:
        filters, skipme, matchable = _client_kill_filters(conn.worker.acl, args)
    if not matchable:
        return 0

    def combine(replies: list) -> object:
        killed = sum(replies)
        if not old_form:
            return killed
        if killed == 0:
            raise RespError("ERR No such client")
        return "OK"

    request = [b"__client_kill", str(conn.id).encode(), b"1" if skipme else b"0"] + filters
    return stats.gather(conn.worker, request, conn.resp3, combine)


@command("__client_kill", -3, internal=True, group="connection", summary="CLIENT KILL in this worker")
def _client_kill_here(ctx, args):
    caller, skipme = int(args[1]), args[2] == b"1"
    want = dict(zip(args[3::2], args[4::2]))
    killed = 0
    for c in list(ctx.worker.clients.values()):
        if ((b"addr" in want and c.addr.encode() != want[b"addr"])
                or (b"laddr" in want and c.laddr.encode() != want[b"laddr"])
                or (b"id" in want and c.id != int(want[b"id"]))
                or (b"user" in want and c.user.name.encode("utf-8", "surrogateescape") != want[b"user"])
                or (b"type" in want and (want[b"type"] == b"pubsub") != (c.pubsub is not None))):
            continue
        if c.id == caller:
            if skipme:
                continue
            c.closing = True  # closed once its reply is sent, as Redis does
        elif c.transport is not None:
            c.transport.close()
        killed += 1
    return killed


def _client_pause(ctx, args):
    """CLIENT PAUSE timeout [WRITE|ALL]: set in every worker, then OK."""
    if len(args) < 3:
        raise RespError("ERR wrong number of arguments for 'client|pause' command")
    if len(args) > 4:
        raise subcommand_syntax(args)
    ms = parse_int(args[2], "ERR timeout is not an integer or out of range")
    if ms < 0:
        raise RespError("ERR timeout is negative")
    kind = pause.ALL
    if len(args) == 4:
        mode = args[3].lower()
        if mode not in (b"write", b"all"):
            raise RespError("ERR CLIENT PAUSE mode must be WRITE or ALL")
        kind = pause.WRITE if mode == b"write" else pause.ALL
    end = pause.end_time(min(ms, 1 << 53))  # past that, "for ever" all the same
    return stats.gather(ctx.worker, [b"__pause", repr(end).encode(), b"%d" % kind], ctx.resp3,
                        lambda replies: "OK")


def _client_unpause(ctx, args):
    if len(args) != 2:
        raise RespError("ERR wrong number of arguments for 'client|unpause' command")
    return stats.gather(ctx.worker, [b"__unpause"], ctx.resp3, lambda replies: "OK")


def _client_reply(ctx, args):
    conn = ctx.conn
    if len(args) != 3:
        raise RespError("ERR wrong number of arguments for 'client|reply' command")
    mode = args[2].lower()
    if mode not in (b"on", b"off", b"skip"):
        raise RespError(SYNTAX)
    conn.set_reply_mode(mode)
    return "OK"  # dropped for OFF and SKIP


def _client_unblock(ctx, args):
    """CLIENT UNBLOCK id [TIMEOUT|ERROR]: the client's blocked command is parked
    in the owner of its DB, whichever worker that is: 1 if one was found."""
    if len(args) < 3:
        raise RespError("ERR wrong number of arguments for 'client|unblock' command")
    if len(args) > 4:
        raise subcommand_syntax(args)
    client_id = parse_int(args[2])
    how = b"timeout"
    if len(args) == 4:
        how = args[3].lower()
        if how not in (b"timeout", b"error"):
            raise RespError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    return stats.gather(ctx.worker, [b"__unblock", b"%d" % client_id, how], ctx.resp3,
                        lambda replies: int(any(replies)))


@command("__unblock", 3, internal=True, route=ALL, group="connection",
         summary="CLIENT UNBLOCK in the DBs this worker owns")
def _unblock_here(ctx, args):
    return int(blocking.unblock(ctx.worker, int(args[1]), args[2] == b"error"))


def _client_getredir(ctx, args):
    conn = ctx.conn
    t = conn.tracker
    return -1 if t is None else 0 if t.target == conn.id else t.target


def _client_trackinginfo(ctx, args):
    conn = ctx.conn
    t = conn.tracker
    flags = [b"on" if t is not None else b"off"]
    if t is not None:
        if t.bcast:
            flags.append(b"bcast")
        if t.optin:
            flags += [b"optin"] + ([b"caching-yes"] if conn.caching else [])
        if t.optout:
            flags += [b"optout"] + ([b"caching-no"] if conn.caching else [])
        if t.noloop:
            flags.append(b"noloop")
        if t.broken:
            flags.append(b"broken_redirect")
    return {
        b"flags": ordered_set(flags, conn.resp3),
        b"redirect": _client_getredir(ctx, args),
        b"prefixes": sorted(t.prefixes) if t is not None and t.bcast else [],
    }


def _client_caching(ctx, args):
    conn = ctx.conn
    t = conn.tracker
    if t is None:
        raise RespError("ERR CLIENT CACHING can be called only when the client is in tracking mode with "
                        "OPTIN or OPTOUT mode enabled")
    opt = args[2].lower()
    if opt == b"yes":
        if not t.optin:
            raise RespError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    elif opt == b"no":
        if not t.optout:
            raise RespError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    else:
        raise RespError(SYNTAX)
    conn.caching = True
    return "OK"


def _client_tracking(ctx, args):
    """CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
    [OPTOUT] [NOLOOP], with Redis' checks in Redis' order; the tracker is
    then known to every worker before the OK."""
    conn = ctx.conn
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes: list[bytes] = []
    i = 3
    while i < len(args):
        opt = args[i].lower()
        more = i + 1 < len(args)
        if opt == b"redirect" and more:
            i += 1
            if redirect:
                raise RespError("ERR A client can only redirect to a single other client")
            redirect = parse_int(args[i])
        elif opt == b"bcast":
            bcast = True
        elif opt == b"optin":
            optin = True
        elif opt == b"optout":
            optout = True
        elif opt == b"noloop":
            noloop = True
        elif opt == b"prefix" and more:
            i += 1
            prefixes.append(args[i])
        else:
            raise RespError(SYNTAX)
        i += 1
    w = conn.worker
    if not redirect or redirect == conn.id:
        return _tracking_on_off(conn, args[2].lower(), redirect, bcast, optin, optout, noloop, prefixes)
    # As Redis, the client redirected to must exist now (it may go later),
    # checked first: it is asked of the worker it is on.
    d = Deferred(conn.resp3)
    owner = redirect % w.nworkers
    if redirect < 1 or (owner not in w.peers and owner != w.index):
        d.resolve(RespError("ERR The client ID you want redirect to does not exist"))
        return d

    def found(reply: bytes) -> None:
        try:
            if decode(reply)[0] == b"":
                raise RespError("ERR The client ID you want redirect to does not exist")
            value = _tracking_on_off(conn, args[2].lower(), redirect, bcast, optin, optout, noloop, prefixes)
        except RespError as e:
            d.resolve(e)
            return
        if type(value) is Deferred:
            value.then(d.resolve_raw)
        else:
            d.resolve(value)

    w.call_worker(owner, [b"__client_addr", b"%d" % redirect], found)
    return d


def _tracking_on_off(conn, mode: bytes, redirect: int, bcast: bool, optin: bool, optout: bool, noloop: bool,
                     prefixes: list[bytes]) -> object:
    """CLIENT TRACKING's checks after the options are read, then the change."""
    w = conn.worker
    if mode == b"off":
        if conn.tracker is None:
            return "OK"
        conn.tracker, conn.caching = None, False
        return stats.gather(w, [b"__tracking", b"drop", b"%d" % conn.id], conn.resp3, lambda _: "OK")
    if mode != b"on":
        raise RespError(SYNTAX)
    old = conn.tracker
    if not bcast and prefixes:
        raise RespError("ERR PREFIX option requires BCAST mode to be enabled")
    if old is not None and old.bcast != bcast:
        raise RespError("ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
                        "and then re-enabling it with a different mode.")
    if bcast and (optin or optout):
        raise RespError("ERR OPTIN and OPTOUT are not compatible with BCAST")
    if optin and optout:
        raise RespError("ERR You can't specify both OPTIN mode and OPTOUT mode")
    if old is not None and ((optin and old.optout) or (optout and old.optin)):
        raise RespError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
                        "and then re-enabling it with a different mode.")
    if bcast:
        existing = old.prefixes if old is not None else []
        for j, p in enumerate(prefixes):
            for e in existing:
                if p.startswith(e) or e.startswith(p):
                    raise RespError(f"ERR Prefix '{p.decode('latin-1')}' overlaps with an existing prefix "
                                    f"'{e.decode('latin-1')}'. Prefixes for a single client must not overlap.")
            for q in prefixes[j + 1:]:
                if p.startswith(q) or q.startswith(p):
                    raise RespError(f"ERR Prefix '{p.decode('latin-1')}' overlaps with another provided prefix "
                                    f"'{q.decode('latin-1')}'. Prefixes for a single client must not overlap.")
        # As Redis: no PREFIX is the empty prefix (every key); a second ON adds to them.
        prefixes = list(dict.fromkeys((old.prefixes if old is not None else []) + (prefixes or [b""])))

    t = tracking.Tracker(conn.id, redirect or conn.id, bcast, prefixes, optin, optout, noloop)
    conn.tracker, conn.caching = t, False
    return stats.gather(w, [b"__tracking", b"set", *t.encode()], conn.resp3, lambda _: "OK")


@command("__tracking", -3, internal=True, route=ALL, group="connection",
         summary="A client's CLIENT TRACKING, known to this worker: set <tracker> | drop <id>")
def _tracking_here(ctx, args):
    if args[1] == b"set":
        ctx.worker.tracking.set(tracking.Tracker.decode(args[2:]))
    else:
        ctx.worker.tracking.drop(int(args[2]))
    return "OK"


@command("__track", -3, internal=True, group="connection",
         summary="Keys a tracking client is about to read here (it may cache them)")
def _track_here(ctx, args):
    ctx.worker.tracking.remember(int(args[1]), args[2:])
    return "OK"


@command("__invalidate", -3, internal=True, route=ALL, group="connection",
         summary="Invalidation messages for a client of this worker")
def _invalidate_here(ctx, args):
    messages: list = []
    i = 2
    while i < len(args):
        client, n = int(args[i]), int(args[i + 1])
        if n < 0:
            messages.append((client, None))
            i += 2
        else:
            messages.append((client, args[i + 2 : i + 2 + n]))
            i += 2 + n
    tracking.deliver(ctx.worker, int(args[1]), messages)
    return "OK"


@command("__redirect_broken", 3, internal=True, route=ALL, group="connection",
         summary="The client a tracking client of this worker redirects to is gone")
def _redirect_broken_here(ctx, args):
    tracking.redirect_broken(ctx.worker, int(args[1]), int(args[2]))
    return "OK"


# Redis 7.0's CLIENT subcommands: (arity, flags, handler, summary). Their
# table entries give ACL rules (+client|id), COMMAND INFO and commandstats.
_CLIENT_SUBS = {
    "id": (2, "noscript loading stale", _client_id, "Returns the client ID for the current connection"),
    "setname": (3, "noscript loading stale", _client_setname, "Set the current connection name"),
    "getname": (2, "noscript loading stale", _client_getname, "Get the current connection name"),
    "info": (2, "noscript loading stale", _client_info, "Returns information about the current client connection."),
    "list": (-2, "admin noscript loading stale", _client_list_all, "Get the list of client connections"),
    "kill": (-3, "admin noscript loading stale", _client_kill, "Kill the connection of a client"),
    "no-evict": (3, "admin noscript loading stale", _client_no_evict, "Set client eviction mode for the current connection"),
    "help": (2, "loading stale", _client_help, "Show helpful text about the different subcommands"),
    "pause": (-3, "admin noscript loading stale", _client_pause, "Stop processing commands from clients for some time"),
    "unpause": (2, "admin noscript loading stale", _client_unpause, "Resume processing of clients that were paused"),
    "reply": (3, "noscript loading stale", _client_reply, "Instruct the server whether to reply to commands"),
    "unblock": (-3, "admin noscript loading stale", _client_unblock, "Unblock a client blocked in a blocking command from a different connection"),
    "getredir": (2, "noscript loading stale", _client_getredir, "Get tracking notifications redirection client ID if any"),
    "tracking": (-3, "noscript loading stale", _client_tracking, "Enable or disable server assisted client side caching support"),
    "trackinginfo": (2, "noscript loading stale", _client_trackinginfo, "Return information about server assisted client side caching for the current connection"),
    "caching": (3, "noscript loading stale", _client_caching, "Instruct the server about tracking or not keys in the next request"),
}
for _sub, (_arity, _flags, _fn, _summary) in _CLIENT_SUBS.items():
    command(f"client|{_sub}", _arity, _flags, route=LOCAL, group="connection", summary=_summary)(_fn)

# Redis 7.2's, served for the clients that send them (7.0 has no such entries).
_CLIENT_NEWER = {b"setinfo": _client_setinfo, b"no-touch": _client_no_touch}


@command("reset", 1, "noscript loading stale fast no_auth allow_busy", route=LOCAL, group="connection",
         since="6.2.0", summary="Reset the connection")
def reset(ctx, args):
    """As Redis: the transaction and WATCHes go, RESP2, DB 0, and a
    connection that needed AUTH needs it again."""
    conn = ctx.conn
    conn.multi, conn.multi_failed = None, False
    multi.unwatch_all(conn)
    pubsub.forget(conn)
    conn.resp3 = False
    conn.db_index = 0
    if conn.tracker is not None:  # as Redis: RESET turns tracking off
        conn.tracker, conn.caching = None, False
        conn.worker.call_all([b"__tracking", b"drop", b"%d" % conn.id], lambda replies: None)
    conn.user = conn.worker.acl.default
    conn.authed = conn.worker.acl.open
    conn.parser.auth_required = not conn.authed
    return "RESET"
