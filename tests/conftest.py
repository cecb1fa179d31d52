"""Fixtures: one pikamp and one reference redis-server per test session, on
free loopback ports; clients; and the differential helper ``diff``."""
from __future__ import annotations

import os
import sys

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from resp_client import RawConn, parse  # noqa: E402
from servers import HOST, PikampServer, RedisServer  # noqa: E402


@pytest.fixture(scope="session")
def pikamp_server(tmp_path_factory):
    srv = PikampServer(str(tmp_path_factory.mktemp("pikamp"))).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    srv = RedisServer(str(tmp_path_factory.mktemp("redis"))).start()
    yield srv
    srv.stop()


@pytest.fixture
def r(pikamp_server):
    """redis-py client on pikamp with its default protocol (RESP3 in redis-py 8), DBs flushed."""
    c = redis.Redis(host=HOST, port=pikamp_server.port)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def r2(pikamp_server):
    """redis-py client on pikamp speaking RESP2, DBs flushed."""
    c = redis.Redis(host=HOST, port=pikamp_server.port, protocol=2)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def raw(pikamp_server):
    c = RawConn(pikamp_server.port)
    yield c
    c.close()


def _canon(v):
    """Order-insensitive form of a parsed reply (for SMEMBERS, KEYS, HGETALL ...)."""
    if isinstance(v, list):
        return sorted((_canon(x) for x in v), key=repr)
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], list):
        return (v[0], sorted((_canon(x) for x in v[1]), key=repr))
    return v


class Differ:
    """Sends each command to pikamp and to redis-server and asserts identical replies."""

    def __init__(self, pikamp_port: int, redis_port: int, proto: int) -> None:
        self.proto = proto
        self.p = RawConn(pikamp_port)
        self.r = RawConn(redis_port)
        for c in (self.p, self.r):
            if proto == 3:
                c.call("HELLO", "3")
            c.call("FLUSHALL")

    def both(self, *args) -> tuple[bytes, bytes]:
        """Raw replies (pikamp, redis) without comparing them."""
        return self.p.call(*args), self.r.call(*args)

    def __call__(self, *args, unordered: bool = False) -> bytes:
        """Run one command on both; assert equal replies; return the raw reply."""
        a, b = self.both(*args)
        if unordered:
            assert _canon(parse(a)) == _canon(parse(b)), (
                f"RESP{self.proto} {args!r}:\n  pikamp: {a!r}\n  redis:  {b!r}")
        else:
            assert a == b, f"RESP{self.proto} {args!r}:\n  pikamp: {a!r}\n  redis:  {b!r}"
        return a

    def run(self, commands) -> None:
        for cmd in commands:
            self(*cmd)

    def close(self) -> None:
        self.p.close()
        self.r.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def diff(request, pikamp_server, redis_server):
    d = Differ(pikamp_server.port, redis_server.port, request.param)
    yield d
    d.close()
