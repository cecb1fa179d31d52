"""Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, CLIENT, RESET."""
from __future__ import annotations

import hmac
import time

from pikamp import REDIS_VERSION
from pikamp.commands.table import LOCAL, command
from pikamp.errors import DB_INDEX, NOT_INTEGER, SYNTAX, WRONGPASS, RespError, unknown_subcommand
from pikamp.resp import Verbatim


def parse_int(b: bytes, error: str = NOT_INTEGER) -> int:
    """Redis's strict integer parsing (no spaces, no '+', 64-bit range)."""
    try:
        if b[:1] in (b" ", b"+") or b[-1:] == b" " or (len(b) > 1 and b[:1] == b"0") or b[:2] == b"-0":
            raise ValueError
        n = int(b)
    except ValueError:
        raise RespError(error) from None
    if not -(2**63) <= n < 2**63:
        raise RespError(error)
    return n


@command("ping", -1, "fast", route=LOCAL, group="connection", summary="Ping the server")
def ping(conn, args):
    if len(args) > 2:
        raise RespError("ERR wrong number of arguments for 'ping' command")
    return args[1] if len(args) == 2 else "PONG"


@command("echo", 2, "fast", route=LOCAL, group="connection", summary="Echo the given string")
def echo(conn, args):
    return args[1]


@command("quit", -1, "fast", route=LOCAL, group="connection", summary="Close the connection")
def quit_(conn, args):
    conn.closing = True
    return "OK"


@command("select", 2, "fast", route=LOCAL, group="connection", summary="Change the selected database")
def select(conn, args):
    n = parse_int(args[1])
    if not 0 <= n < conn.worker.ndbs:
        raise RespError(DB_INDEX)
    conn.db_index = n
    return "OK"


def _check_password(conn, user: bytes | None, password: bytes) -> None:
    required = conn.worker.requirepass
    if user not in (None, b"default") or not hmac.compare_digest(password, required.encode()):
        raise RespError(WRONGPASS)
    conn.authed = True


@command("auth", -2, "fast", route=LOCAL, group="connection", summary="Authenticate to the server")
def auth(conn, args):
    if len(args) > 3:
        raise RespError(SYNTAX)
    if not conn.worker.requirepass and len(args) == 2:
        raise RespError(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"
        )
    if len(args) == 3:
        _check_password(conn, args[1], args[2])
    else:
        _check_password(conn, None, args[1])
    return "OK"


@command("hello", -1, "fast", route=LOCAL, group="connection", summary="Handshake with the server", since="6.0.0")
def hello(conn, args):
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
            _check_password(conn, args[i + 1], args[i + 2])
            i += 3
        elif opt == b"setname" and more >= 1:
            name = args[i + 1]
            _check_name(name)
            i += 2
        else:
            raise RespError(f"ERR Syntax error in HELLO option '{args[i].decode('latin-1')}'")
    if not conn.authed:
        raise RespError("NOAUTH HELLO must be called with the client already authenticated, "
                        "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
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


@command("client", -2, "slow", route=LOCAL, group="connection", summary="A container for client connection commands")
def client(conn, args):
    sub = args[1].lower()
    handler = _CLIENT_SUBS.get(sub)
    if handler is None:
        raise unknown_subcommand(args[1], "client")
    return handler(conn, args)


def _client_id(conn, args):
    if len(args) != 2:
        raise RespError("ERR wrong number of arguments for 'client|id' command")
    return conn.id


def _client_setname(conn, args):
    if len(args) != 3:
        raise RespError("ERR wrong number of arguments for 'client|setname' command")
    _check_name(args[2])
    conn.name = args[2]
    return "OK"


def _client_getname(conn, args):
    if len(args) != 2:
        raise RespError("ERR wrong number of arguments for 'client|getname' command")
    return conn.name or None


def _client_setinfo(conn, args):
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


def client_line(c) -> bytes:
    """One CLIENT LIST / CLIENT INFO line, in Redis 7.0's field order."""
    now = time.monotonic()
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd=-1 name={c.name.decode('latin-1')} "
        f"age={int(now - c.created)} idle={int(now - c.last_io)} flags=N db={c.db_index} sub=0 psub=0 "
        f"ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 "
        f"events=r cmd={c.last_cmd.name if c.last_cmd else 'NULL'} user=default redir=-1 resp={3 if c.resp3 else 2}\n"
    ).encode()


def _client_info(conn, args):
    return Verbatim(client_line(conn))


def _client_list(conn, args):
    # Lists the clients of this worker process.
    return Verbatim(b"".join(client_line(c) for c in conn.worker.clients.values()))


_CLIENT_SUBS = {
    b"id": _client_id,
    b"setname": _client_setname,
    b"getname": _client_getname,
    b"setinfo": _client_setinfo,
    b"info": _client_info,
    b"list": _client_list,
}
