"""CLIENT TRACKING (client-side caching), compared with redis-server: the
invalidation pushes (RESP3) and __redis__:invalidate messages (RESP2 with
REDIRECT), BCAST prefixes, OPTIN / OPTOUT with CLIENT CACHING, NOLOOP,
FLUSHDB, and the errors; connections spread over both workers."""
from __future__ import annotations

import re
import time

from resp_client import RawConn


def _drain(conn: RawConn, wait: float = 0.25) -> bytes:
    """What arrived without being asked for (pushes, messages)."""
    deadline = time.monotonic() + wait
    data = b""
    conn.sock.settimeout(0.05)
    try:
        while time.monotonic() < deadline:
            try:
                chunk = conn.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
    finally:
        conn.sock.settimeout(10)
    data, conn.buf = conn.buf + data, b""
    return data


def _script(port: int) -> list[bytes]:
    """One sequence, run against one server; its replies and what was pushed."""
    out: list[bytes] = []
    a, b, c, d, e, f = (RawConn(port) for _ in range(6))
    try:
        for conn in (c, d, e, f):
            conn.call("HELLO", "3")
        a.call("FLUSHALL")
        out += [c.call("CLIENT", "TRACKING", "ON"), c.call("GET", "k1"), c.call("MGET", "k2", "k3"),
                c.call("HGETALL", "h"), c.call("CLIENT", "TRACKINGINFO"), c.call("CLIENT", "GETREDIR")]
        out += [a.call("SET", "k1", "x"), _drain(c)]
        out += [a.call("MSET", "k2", "1", "k3", "2"), _drain(c)]
        out += [a.call("SET", "k1", "y"), _drain(c)]  # invalidated once: forgotten
        out += [a.call("HSET", "h", "f", "v"), _drain(c)]
        out += [c.call("GET", "k1"), a.call("DEL", "k1"), _drain(c)]
        out += [c.call("GET", "k2"), a.call("EXPIRE", "k2", "100"), _drain(c)]
        out += [c.call("GET", "k3"), a.call("FLUSHDB"), _drain(c)]
        out += [c.call("GET", "t1"), c.call("SET", "t1", "mine"), _drain(c)]  # without NOLOOP: told too
        out += [c.call("CLIENT", "TRACKING", "OFF"), c.call("CLIENT", "TRACKINGINFO"), c.call("GET", "k9"),
                a.call("SET", "k9", "v"), _drain(c)]
        # RESP2 redirect to a subscriber of __redis__:invalidate, in BCAST mode.
        bid = b.call("CLIENT", "ID")[1:-2]
        out += [b.call("SUBSCRIBE", "__redis__:invalidate")]
        out += [a.call("CLIENT", "TRACKING", "ON", "REDIRECT", bid, "BCAST", "PREFIX", "p:", "PREFIX", "q:")]
        out += [a.call("CLIENT", "TRACKINGINFO"), a.call("CLIENT", "GETREDIR") == b":" + bid + b"\r\n"]
        out += [d.call("SET", "p:1", "v"), d.call("SET", "x:1", "v"), d.call("MSET", "q:1", "1", "q:2", "2"),
                _drain(b)]
        out += [a.call("FLUSHDB"), _drain(b)]
        # NOLOOP: its own writes are not reported.
        out += [d.call("CLIENT", "TRACKING", "ON", "NOLOOP"), d.call("GET", "n1"), d.call("SET", "n1", "z"),
                _drain(d), d.call("GET", "n1"), f.call("SET", "n1", "zz"), _drain(d)]
        # OPTIN: only after CLIENT CACHING YES; OPTOUT: all but after CLIENT CACHING NO.
        out += [e.call("CLIENT", "TRACKING", "ON", "OPTIN"), e.call("GET", "o1"), e.call("CLIENT", "CACHING", "YES"),
                e.call("CLIENT", "TRACKINGINFO"), e.call("GET", "o2"), e.call("GET", "o3"),
                f.call("MSET", "o1", "1", "o2", "2", "o3", "3"), _drain(e)]
        out += [e.call("CLIENT", "TRACKING", "OFF"), e.call("CLIENT", "TRACKING", "ON", "OPTOUT"),
                e.call("GET", "u1"), e.call("CLIENT", "CACHING", "NO"), e.call("GET", "u2"),
                f.call("MSET", "u1", "1", "u2", "2"), _drain(e)]
        # A REDIRECT target that goes: the tracking client is told, and flagged.
        gone = RawConn(port)
        out += [e.call("CLIENT", "TRACKING", "OFF"),
                e.call("CLIENT", "TRACKING", "ON", "REDIRECT", gone.call("CLIENT", "ID")[1:-2]), e.call("GET", "r1")]
        gone.close()
        time.sleep(0.2)
        out += [f.call("SET", "r1", "x"), _drain(e), e.call("CLIENT", "TRACKINGINFO")]
        # Errors, in Redis' words.
        for args in (("ON", "BCAST"), ("ON", "PREFIX", "x"), ("ON", "OPTIN", "OPTOUT"), ("ON", "REDIRECT", "999999"),
                     ("MAYBE",), ("ON", "NOSUCH"), ("ON", "BCAST", "OPTIN")):
            out.append(f.call("CLIENT", "TRACKING", *args))
        out += [f.call("CLIENT", "CACHING", "YES"), f.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab",
                                                             "PREFIX", "a"),
                f.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab"),
                f.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "abc"), f.call("CLIENT", "TRACKING", "ON"),
                f.call("CLIENT", "CACHING", "YES"), f.call("CLIENT", "TRACKINGINFO")]
    finally:
        for conn in (a, b, c, d, e, f):
            conn.close()
    return [re.sub(rb"(redirect|redir-broken)\r\n:\d+", rb"\1\r\n:N", x) if isinstance(x, bytes) else x
            for x in out]


def test_tracking_like_redis(pikamp_server, redis_server):
    mine, ref = _script(pikamp_server.port), _script(redis_server.port)
    problems = [f"step {i}:\n  pikamp: {m!r}\n  redis:  {r!r}" for i, (m, r) in enumerate(zip(mine, ref)) if m != r]
    assert not problems, "\n".join(problems)


def test_clients_that_go_are_forgotten_and_others_still_hear(pikamp_server):
    """Tracking clients and a redirect target disconnect (on both workers):
    writes to what they read go on, and a tracking client still hears its own."""
    a, keep = RawConn(pikamp_server.port), RawConn(pikamp_server.port)
    try:
        keep.call("HELLO", "3")
        keep.call("CLIENT", "TRACKING", "ON")
        keep.call("GET", "gone")
        for _ in range(8):
            c, target = RawConn(pikamp_server.port), RawConn(pikamp_server.port)
            c.call("HELLO", "3")
            assert c.call("CLIENT", "TRACKING", "ON", "REDIRECT", target.call("CLIENT", "ID")[1:-2]) == b"+OK\r\n"
            c.call("GET", "gone")
            target.close()
            c.close()
        time.sleep(0.2)
        assert a.call("SET", "gone", "1") == b"+OK\r\n"
        assert _drain(keep) == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\ngone\r\n"
        assert a.call("CLIENT", "LIST").count(b"flags=t") == 1  # only keep's
    finally:
        a.call("DEL", "gone")
        a.close()
        keep.close()


def test_a_restarted_owner_makes_its_readers_drop_their_cache(tmp_path):
    """kill -9 of the worker owning a DB a tracking client read from: the keys
    it remembered are gone, so the client is told to drop everything (a null
    invalidation), and the new worker knows the client again."""
    import os
    import signal

    from servers import PikampServer

    srv = PikampServer(str(tmp_path / "srv")).start()
    try:
        c, w = RawConn(srv.port), RawConn(srv.port)
        c.call("HELLO", "3")
        worker = int(c.call("CLIENT", "ID")[1:-2]) % 2
        db = str(1 - worker)  # a DB the other worker owns
        for conn in (c, w):
            assert conn.call("SELECT", db) == b"+OK\r\n"
        assert c.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
        c.call("GET", "k")
        old = srv.worker_pids()
        os.kill(old[1 - worker], signal.SIGKILL)
        null = b">2\r\n$10\r\ninvalidate\r\n_\r\n"
        got = _drain(c, 2.0)  # (the lost link may be reported more than once: drop-all again is harmless)
        assert got and got == null * (len(got) // len(null)), got
        deadline = time.monotonic() + 20
        while srv.worker_pids().get(1 - worker) in (None, old[1 - worker]):
            assert time.monotonic() < deadline, "the worker was not restarted"
            time.sleep(0.1)
        srv.wait_all_workers()
        while True:  # the client's next read registers again, at the new owner
            try:
                c.call("GET", "k")
                assert w.call("SET", "k", "1") == b"+OK\r\n"
                break
            except (ConnectionError, OSError, AssertionError):
                assert time.monotonic() < deadline
                w = RawConn(srv.port)
                w.call("SELECT", db)
                time.sleep(0.1)
        assert _drain(c) == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
        c.close()
        w.close()
    finally:
        srv.stop()
