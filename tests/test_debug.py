"""DEBUG: refused as Redis 7.0 refuses it by default; with
enable-debug-command yes, DIGEST / DIGEST-VALUE give Redis' digests for the
same data (compared with a redis-server given the same commands), SLEEP,
LOG, SET-ACTIVE-EXPIRE and HELP."""
from __future__ import annotations

import time

import pytest
from resp_client import RawConn
from servers import PikampServer, RedisServer

from conftest import Differ


@pytest.fixture(scope="module")
def debug_pair(tmp_path_factory):
    p = PikampServer(str(tmp_path_factory.mktemp("debug-pikamp")), enable_debug_command="yes").start()
    r = RedisServer(str(tmp_path_factory.mktemp("debug-redis")), "--enable-debug-command", "yes").start()
    yield p, r
    p.stop()
    r.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def ddiff(request, debug_pair):
    d = Differ(debug_pair[0].port, debug_pair[1].port, request.param)
    yield d
    d.close()


def test_refused_by_default(diff):
    diff("DEBUG", "DIGEST")
    diff("DEBUG", "HELP")
    diff("DEBUG", "nosuch")


def test_digests_match_redis(ddiff):
    ddiff("DEBUG", "DIGEST")  # empty: all zeros
    ddiff("SET", "s", "hello")
    ddiff("SET", "n", "12345")
    ddiff("SET", "big", "x" * 5000)
    ddiff("SET", "ttl", "v", "EX", "1000")
    ddiff("RPUSH", "l", "a", "b", "1", "c")
    ddiff("SADD", "set", "m1", "m2", "3")
    ddiff("SADD", "iset", "1", "2", "3")
    ddiff("ZADD", "z", "1.5", "a", "0.1", "b", "-3", "c", "1e100", "d")
    ddiff("HSET", "h", "f1", "v1", "f2", "2")
    ddiff("DEBUG", "DIGEST")
    ddiff("DEBUG", "DIGEST-VALUE", "s", "n", "big", "ttl", "l", "set", "iset", "z", "h", "nokey")
    ddiff("DEBUG", "DIGEST-VALUE")
    ddiff("SELECT", "1")
    ddiff("SET", "other-db", "v")
    ddiff("DEBUG", "DIGEST")
    ddiff("SELECT", "0")
    ddiff("RPUSH", "l", "d")  # order matters for lists
    ddiff("DEBUG", "DIGEST")
    ddiff("DEBUG", "SLEEP", "0")
    ddiff("DEBUG", "SLEEP", "junk")
    ddiff("DEBUG", "SLEEP")
    ddiff("DEBUG", "LOG", "a message")
    ddiff("DEBUG", "nosuch")
    ddiff("FLUSHALL")
    ddiff("DEBUG", "DIGEST")


def test_sleep_and_active_expire(debug_pair):
    c = RawConn(debug_pair[0].port)
    try:
        started = time.monotonic()
        assert c.call("DEBUG", "SLEEP", "0.3") == b"+OK\r\n"
        assert time.monotonic() - started >= 0.3
        assert c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
        assert c.call("SET", "gone", "v", "PX", "50") == b"+OK\r\n"
        time.sleep(0.6)
        assert c.call("DBSIZE") == b":1\r\n"  # not expired in the background ...
        assert c.call("EXISTS", "gone") == b":0\r\n"  # ... but invisible, and removed when looked up
        assert c.call("DBSIZE") == b":0\r\n"
        assert c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"+OK\r\n"
        assert c.call("SET", "gone", "v", "PX", "50") == b"+OK\r\n"
        deadline = time.monotonic() + 5
        while c.call("DBSIZE") != b":0\r\n" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.call("DBSIZE") == b":0\r\n"
    finally:
        c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        c.close()


def _fields(reply: bytes) -> dict[bytes, bytes]:
    return dict(part.split(b":", 1) for part in reply[1:-2].split(b" ") if b":" in part)


def test_debug_object(debug_pair):
    """The encoding, refcount and serialized length are Redis'; there is no
    object address or access clock to compare (a list also lacks Redis'
    quicklist figures)."""
    p, r = (RawConn(s.port) for s in debug_pair)
    try:
        for c in (p, r):
            c.call("FLUSHALL")
            c.call("SET", "s", "hello")
            c.call("SET", "n", "123")
            c.call("SET", "big", "x" * 100)
            c.call("HSET", "h", "f", "v")
            c.call("SADD", "is", "1", "2")
            c.call("SADD", "ss", "a", "b")
            c.call("ZADD", "z", "1", "a")
            c.call("RPUSH", "l", "a", "b")
        for key in ("s", "n", "big", "h", "is", "ss", "z", "l"):
            mine, ref = _fields(p.call("DEBUG", "OBJECT", key)), _fields(r.call("DEBUG", "OBJECT", key))
            wanted = (b"encoding", b"refcount", b"serializedlength")
            assert {k: mine[k] for k in wanted} == {k: ref[k] for k in wanted}, key
        assert p.call("DEBUG", "OBJECT", "nokey") == r.call("DEBUG", "OBJECT", "nokey") == b"-ERR no such key\r\n"
    finally:
        p.close()
        r.close()
