"""CLIENT PAUSE / UNPAUSE / REPLY / UNBLOCK and the tracking queries, as Redis
7.0 answers them: errors and CLIENT REPLY sequences compared with
redis-server; pauses checked through clients on both workers (a held
command answers only once the pause ends, reads go on under WRITE, the
pause starts at the end of a transaction, nothing expires meanwhile)."""
from __future__ import annotations

import socket
import time

import pytest
import redis

from resp_client import RawConn, encode_command
from servers import HOST

END = b"$3\r\nend\r\n"


@pytest.fixture
def port(pikamp_server):
    yield pikamp_server.port
    c = RawConn(pikamp_server.port)  # whatever a test did, no pause outlives it
    c.call("CLIENT", "UNPAUSE")
    c.close()


def _silent(c: RawConn, secs: float) -> bool:
    """True when the server sends nothing to ``c`` for ``secs``."""
    if c.buf:
        return False
    c.sock.settimeout(secs)
    try:
        return not c.sock.recv(1, socket.MSG_PEEK)  # b"": closed, not silent
    except TimeoutError:
        return True
    finally:
        c.sock.settimeout(10.0)


def _replies(c: RawConn, commands) -> list[bytes]:
    """Send commands and ECHO end in one write; every reply before end's."""
    c.send_raw(b"".join(encode_command(cmd) for cmd in commands) + encode_command(["ECHO", "end"]))
    out = []
    while (reply := c.read_reply()) != END:
        out.append(reply)
    return out


def _info(c: RawConn, field: str) -> int:
    text = c.call("INFO", "everything").decode()
    return int(text.split(f"\r\n{field}:", 1)[1].split("\r\n", 1)[0])


def _clients(port: int, n: int) -> list[RawConn]:
    """n connections, half of them on DB 1 (the other worker owns it)."""
    out = []
    for i in range(n):
        c = RawConn(port)
        if i % 2:
            assert c.call("SELECT", "1") == b"+OK\r\n"
        out.append(c)
    return out


ERRORS = [
    ("CLIENT", "PAUSE"),
    ("CLIENT", "PAUSE", "10", "all", "x"),
    ("CLIENT", "PAUSE", "abc"),
    ("CLIENT", "PAUSE", "-1"),
    ("CLIENT", "PAUSE", "10", "foo"),
    ("CLIENT", "UNPAUSE", "x"),
    ("CLIENT", "REPLY"),
    ("CLIENT", "REPLY", "foo"),
    ("CLIENT", "REPLY", "on", "x"),
    ("CLIENT", "UNBLOCK"),
    ("CLIENT", "UNBLOCK", "abc"),
    ("CLIENT", "UNBLOCK", "5", "foo"),
    ("CLIENT", "UNBLOCK", "5", "timeout", "x"),
    ("CLIENT", "UNBLOCK", "999999"),
    ("CLIENT", "UNBLOCK", "999999", "ERROR"),
    ("CLIENT", "GETREDIR"),
    ("CLIENT", "GETREDIR", "x"),
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "TRACKINGINFO", "x"),
    ("CLIENT", "CACHING", "yes"),
    ("CLIENT", "CACHING"),
    ("CLIENT", "PAUSE", "0", "WRITE"),
    ("CLIENT", "UNPAUSE"),
]


def test_errors_and_queries_as_redis(diff):
    diff.run(ERRORS)


REPLY_SEQUENCES = [
    [("CLIENT", "REPLY", "OFF"), ("SET", "a", "1"), ("GET", "a"), ("NOSUCH",), ("CLIENT", "REPLY", "ON"), ("GET", "a")],
    [("CLIENT", "REPLY", "SKIP"), ("SET", "a", "2"), ("GET", "a")],
    [("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "SKIP"), ("INCR", "n"), ("INCR", "n"), ("GET", "n")],
    [("CLIENT", "REPLY", "OFF"), ("CLIENT", "REPLY", "SKIP"), ("INCR", "n"), ("CLIENT", "REPLY", "ON"), ("GET", "n")],
    [("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "ON"), ("GET", "n")],
    # DB 1 is the other worker's: the dropped replies come back over IPC
    [("SELECT", "1"), ("CLIENT", "REPLY", "OFF"), ("RPUSH", "l", "a", "b"), ("LRANGE", "l", "0", "-1"),
     ("CLIENT", "REPLY", "ON"), ("LLEN", "l"), ("CLIENT", "REPLY", "SKIP"), ("LPOP", "l"), ("LPOP", "l")],
]  # (not CLIENT REPLY inside MULTI: Redis then sends an EXEC array short of its length)


@pytest.mark.parametrize("seq", range(len(REPLY_SEQUENCES)))
def test_client_reply_as_redis(diff, seq):
    commands = REPLY_SEQUENCES[seq]
    got, want = _replies(diff.p, commands), _replies(diff.r, commands)
    assert got == want, f"RESP{diff.proto} {commands}:\n  pikamp: {got}\n  redis:  {want}"


def test_reply_off_mutes_messages(port):
    sub, pub = RawConn(port), RawConn(port)
    try:
        sub.call("HELLO", "3")  # RESP2 would refuse CLIENT while subscribed
        sub.call("SUBSCRIBE", "ch")
        # Neither has a reply: the name, set after REPLY OFF, shows when it is in force.
        sub.send_raw(encode_command(["CLIENT", "REPLY", "OFF"]) + encode_command(["CLIENT", "SETNAME", "muted"]))
        deadline = time.monotonic() + 5
        while b"name=muted " not in pub.call("CLIENT", "LIST") and time.monotonic() < deadline:
            time.sleep(0.01)
        pub.call("PUBLISH", "ch", "unseen")
        assert _silent(sub, 0.3)
        sub.send_raw(encode_command(["CLIENT", "REPLY", "ON"]))
        assert sub.read_reply() == b"+OK\r\n"
        pub.call("PUBLISH", "ch", "seen")
        assert sub.read_reply() == b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nseen\r\n"
    finally:
        sub.close()
        pub.close()


def test_write_pause_holds_writes_not_reads(port):
    admin = RawConn(port)
    writers = _clients(port, 4)
    readers = _clients(port, 2)
    try:
        for i, c in enumerate(writers):
            c.call("SET", f"k{i}", "old")
        assert admin.call("CLIENT", "PAUSE", "20000", "WRITE") == b"+OK\r\n"
        for i, c in enumerate(writers):
            c.send_raw(encode_command(["SET", f"k{i}", "new"]) + encode_command(["GET", f"k{i}"]))
        for c in readers:  # reads are served at once, wherever their DB is
            assert c.call("GET", "k0") in (b"$3\r\nold\r\n", b"$-1\r\n")
            assert c.call("SET", "x") == b"-ERR wrong number of arguments for 'set' command\r\n"
        pub = RawConn(port)
        pub.send_raw(encode_command(["PUBLISH", "ch", "m"]))
        assert all(_silent(c, 0.2) for c in writers + [pub])
        assert _info(admin, "blocked_clients") == 5
        assert admin.call("CLIENT", "UNPAUSE") == b"+OK\r\n"
        for c in writers:  # the held command, then the one behind it
            assert c.read_reply() == b"+OK\r\n"
            assert c.read_reply() == b"$3\r\nnew\r\n"
        assert pub.read_reply() == b":0\r\n"
        assert _info(admin, "blocked_clients") == 0
        pub.close()
    finally:
        for c in [admin, *writers, *readers]:
            c.close()


def test_all_pause_ends_by_itself(port):
    admin, c = RawConn(port), RawConn(port)
    try:
        c.call("SELECT", "1")
        t0 = time.monotonic()
        assert admin.call("CLIENT", "PAUSE", "400") == b"+OK\r\n"  # ALL by default
        assert c.call("PING") == b"+PONG\r\n"
        assert time.monotonic() - t0 >= 0.3
        # A later, shorter WRITE pause keeps the earlier end and ALL.
        t0 = time.monotonic()
        admin.call("CLIENT", "PAUSE", "400", "ALL")
        admin.send_raw(encode_command(["CLIENT", "PAUSE", "10", "WRITE"]))  # held itself
        assert c.call("GET", "x") == b"$-1\r\n"
        assert time.monotonic() - t0 >= 0.3
        assert admin.read_reply() == b"+OK\r\n"
        assert c.call("QUIT") == b"+OK\r\n"
    finally:
        admin.close()
        c.close()


def test_transactions_under_a_write_pause(port):
    admin, a, b = RawConn(port), RawConn(port), RawConn(port)
    try:
        admin.call("SET", "foo", "bar")
        assert a.call("MULTI") == b"+OK\r\n"
        assert a.call("SET", "q", "1") == b"+QUEUED\r\n"
        admin.call("CLIENT", "PAUSE", "20000", "WRITE")
        # Read-only transaction: runs at once.
        assert _replies(b, [("MULTI",), ("PING",), ("GET", "foo"), ("EXEC",)])[-1] == (
            b"*2\r\n+PONG\r\n$3\r\nbar\r\n")
        a.send_raw(encode_command(["EXEC"]))  # it writes: held
        assert _silent(a, 0.2)
        admin.call("CLIENT", "UNPAUSE")
        assert a.read_reply() == b"*1\r\n+OK\r\n"
        # The pause starts when the transaction that asks for it is done.
        assert _replies(admin, [("MULTI",), ("SET", "f1", "x"), ("CLIENT", "PAUSE", "20000", "WRITE"),
                                ("SET", "f2", "x"), ("EXEC",)])[-1] == b"*3\r\n+OK\r\n+OK\r\n+OK\r\n"
        b.send_raw(encode_command(["SET", "f3", "x"]))
        assert _silent(b, 0.2)
        assert admin.call("MGET", "f1", "f2", "f3") == b"*3\r\n$1\r\nx\r\n$1\r\nx\r\n$-1\r\n"
        admin.call("CLIENT", "UNPAUSE")
        assert b.read_reply() == b"+OK\r\n"
    finally:
        for c in (admin, a, b):
            c.close()


def test_no_key_expires_while_paused(port):
    admin = RawConn(port)
    try:
        before = _info(admin, "expired_keys")
        assert _replies(admin, [("MULTI",), ("SET", "e1", "v", "PX", "30"), ("SET", "e2", "v", "PX", "30"),
                                ("CLIENT", "PAUSE", "20000", "WRITE"), ("EXEC",)])[-1] == (
            b"*3\r\n+OK\r\n+OK\r\n+OK\r\n")
        time.sleep(0.4)  # active expiry runs every 100 ms: not now
        assert admin.call("GET", "e1") == b"$-1\r\n"  # gone for readers ...
        assert admin.call("EXISTS", "e2") == b":0\r\n"
        assert _info(admin, "expired_keys") == before  # ... but not deleted
        admin.call("CLIENT", "UNPAUSE")
        admin.call("GET", "e1")
        admin.call("GET", "e2")
        assert _info(admin, "expired_keys") == before + 2
    finally:
        admin.close()


def test_client_unblock(port):
    admin = RawConn(port)
    blocked = _clients(port, 2)  # one per worker's DB
    try:
        ids = [int(c.call("CLIENT", "ID")[1:-2]) for c in blocked]
        for how, want in (("TIMEOUT", b"*-1\r\n"), ("ERROR", b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")):
            for c in blocked:
                c.send_raw(encode_command(["BLPOP", "nolist", "0"]))
            deadline = time.monotonic() + 5
            while _info(admin, "blocked_clients") < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            for cid, c in zip(ids, blocked):
                assert admin.call("CLIENT", "UNBLOCK", str(cid), how) == b":1\r\n"
                assert c.read_reply() == want
                assert admin.call("CLIENT", "UNBLOCK", str(cid), how) == b":0\r\n"
        # A command held by CLIENT PAUSE is not blocked on a key: nothing to unblock.
        admin.call("CLIENT", "PAUSE", "20000", "WRITE")
        blocked[0].send_raw(encode_command(["BLPOP", "nolist", "0"]))
        assert _silent(blocked[0], 0.1)
        assert admin.call("CLIENT", "UNBLOCK", str(ids[0])) == b":0\r\n"
        admin.call("CLIENT", "UNPAUSE")
        deadline = time.monotonic() + 5
        while admin.call("CLIENT", "UNBLOCK", str(ids[0])) != b":1\r\n" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert blocked[0].read_reply() == b"*-1\r\n"
    finally:
        for c in [admin, *blocked]:
            c.close()


def test_redis_py_pause(port):
    r = redis.Redis(host=HOST, port=port)
    w = redis.Redis(host=HOST, port=port, socket_timeout=5)
    try:
        assert r.client_pause(300, all=False) is True
        t0 = time.monotonic()
        assert w.get("nothing") is None  # a read goes through
        assert time.monotonic() - t0 < 0.25
        assert w.set("k", "v") is True  # a write waits for the end
        assert time.monotonic() - t0 >= 0.25
        assert r.client_unpause() in (True, b"OK")
        assert r.client_getredir() == -1
    finally:
        r.close()
        w.close()
