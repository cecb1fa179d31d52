"""Redis 7.0's own configuration parameters (pikamp.redis_params): CONFIG SET
validates them with Redis' error texts and CONFIG GET returns what was set,
compared with a redis-server of our own (settings there must not leak into
other tests). They change nothing in pikamp; tools and scripts set them."""
from __future__ import annotations

import pytest

from resp_client import RawConn
from servers import RedisServer
from pikamp.redis_params import REDIS_PARAMS

# Setting these on the reference Redis has effects beyond the value (TLS
# reloads, OOM score writes, ...) or answers that depend on the host.
SKIP = {"activedefrag", "oom-score-adj", "tls-port", "tls-cluster", "tls-replication", "oom-score-adj-values", "latency-tracking-info-percentiles", "maxmemory-clients"}


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    srv = RedisServer(str(tmp_path_factory.mktemp("redis-params"))).start()
    yield srv
    srv.stop()


def _values_to_try(kind: str, spec) -> list[str]:
    if kind == "bool":
        return ["maybe", "", "YES", "no"]
    if kind == "enum":
        return ["bogus", spec[-1].upper(), spec[0]]
    if kind == "int":
        lo, hi = spec
        return ["notanumber", "1.5", "+1", "01", "-999999999999999999", "99999999999999999999", str(hi), str(lo)]
    if kind == "memory":
        lo, hi = spec
        return ["notanumber", "-1", "1x", "5KB", "2mb", "3g", "1kb" if lo <= 1024 else str(lo), str(lo)]
    return []


@pytest.mark.parametrize("name", sorted(n for n in REDIS_PARAMS if n not in SKIP))
def test_config_set_and_get_like_redis(pikamp_server, own_redis, name):
    default, kind, spec = REDIS_PARAMS[name]
    values = _values_to_try(kind, spec)
    if kind in ("immutable", "protected"):
        values = ["x"]
    if name == "save":
        values = ["x", "1 2 3", "-1 5", "3600 1 300 100", ""]
    if name == "notify-keyspace-events":
        values = ["xyz!", "KEA", "Kx", ""]
    p, r = RawConn(pikamp_server.port), RawConn(own_redis.port)
    try:
        original = r.call("CONFIG", "GET", name)
        for value in values:
            mine, ref = p.call("CONFIG", "SET", name, value), r.call("CONFIG", "SET", name, value)
            assert mine == ref, (name, value)
            if name != "dir":  # where each server runs
                assert p.call("CONFIG", "GET", name) == r.call("CONFIG", "GET", name), (name, value)
        if kind not in ("immutable", "protected"):
            # the default back on both (old names share a value with the new ones)
            for c in (p, r):
                c.call("CONFIG", "SET", name, default)
        assert original  # the name exists on Redis
    finally:
        p.close()
        r.close()


def test_tuning_scripts_for_redis_work(pikamp_server):
    """What Redis-oriented harnesses send first: accepted, stored, returned."""
    c = RawConn(pikamp_server.port)
    try:
        assert c.call("CONFIG", "SET", "hash-max-ziplist-value", "64", "lazyfree-lazy-user-del", "yes",
                      "appendonly", "no", "save", "") == b"+OK\r\n"
        assert c.call("CONFIG", "GET", "hash-max-ziplist-value") == b"*2\r\n$22\r\nhash-max-ziplist-value\r\n$2\r\n64\r\n"
        assert c.call("CONFIG", "SET", "lazyfree-lazy-user-del", "no") == b"+OK\r\n"
    finally:
        c.close()


def test_config_set_survives_a_worker_restart_not_a_server_restart(tmp_path):
    """As Redis: CONFIG SET lasts while the server runs, a worker killed and
    restarted included (every worker answers the new values), and a new
    start of the server reads the file again."""
    import os
    import signal
    import time

    from servers import PikampServer

    srv = PikampServer(str(tmp_path / "srv"), workers=2).start()
    try:
        c = RawConn(srv.port)
        from_file = c.call("CONFIG", "GET", "timeout")
        assert c.call("CONFIG", "SET", "timeout", "123", "hash-max-listpack-value", "99",
                      "appendfsync", "always") == b"+OK\r\n"
        c.close()
        for index in (0, 1):
            old = srv.worker_pids()[index]
            os.kill(old, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while srv.worker_pids().get(index) in (None, old):
                assert time.monotonic() < deadline, "worker not restarted"
                time.sleep(0.05)
        srv.wait_all_workers()
        for _ in range(8):  # connections land on both workers
            c = RawConn(srv.port)
            assert c.call("CONFIG", "GET", "timeout") == b"*2\r\n$7\r\ntimeout\r\n$3\r\n123\r\n"
            assert c.call("CONFIG", "GET", "hash-max-ziplist-value").endswith(b"$2\r\n99\r\n")
            assert c.call("CONFIG", "GET", "appendfsync").endswith(b"$6\r\nalways\r\n")
            c.close()
        srv.stop()
        srv.start()
        c = RawConn(srv.port)
        assert c.call("CONFIG", "GET", "timeout") == from_file
        assert c.call("CONFIG", "GET", "hash-max-listpack-value").endswith(b"$2\r\n64\r\n")
        c.close()
    finally:
        srv.stop()
