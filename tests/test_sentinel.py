"""Debian's redis-sentinel 7.0 watching a pikamp master and two pikamp replicas,
unchanged: it finds the replicas from the master's INFO, and when the master
is killed it promotes one (SLAVEOF NO ONE, CONFIG REWRITE, CLIENT KILL inside
MULTI/EXEC), repoints the other, and turns the old master, when it is back,
into a replica; both re-attach by partial sync; redis-py's Sentinel client
finds the new master."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
import redis
from redis.sentinel import Sentinel

from resp_client import RawConn
from servers import HOST, PikampServer, free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-sentinel") is None, reason="redis-sentinel not installed")


def _info(port: int) -> dict[str, str]:
    text = RawConn(port).call("INFO", "replication").decode()
    return dict(line.split(":", 1) for line in text.split("\r\n")[1:] if ":" in line)


def _wait(what, timeout: float = 60.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = what()
        except (redis.RedisError, OSError):
            got = None
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what.__doc__ or what}")


def _synced(master: int, replica: int) -> bool:
    r = _info(replica)
    return (r.get("master_link_status") == "up" and r.get("master_port") == str(master)
            and r.get("slave_repl_offset") == _info(master)["master_repl_offset"])


def test_sentinel_failover(tmp_path):
    servers = [PikampServer(str(tmp_path / f"p{i}")).start() for i in range(3)]
    master, r1, r2 = servers
    sentinel = None
    try:
        for r in (r1, r2):
            assert RawConn(r.port).call("SLAVEOF", HOST, str(master.port)) == b"+OK\r\n"
        m = redis.Redis(host=HOST, port=master.port, protocol=2)
        for i in range(100):
            m.set(f"k{i}", i)
        _wait(lambda: _synced(master.port, r1.port) and _synced(master.port, r2.port))
        sport = free_port()
        conf = tmp_path / "sentinel.conf"
        conf.write_text(
            f"port {sport}\nbind {HOST}\ndir {tmp_path}\n"
            f"sentinel monitor mymaster {HOST} {master.port} 1\n"
            "sentinel down-after-milliseconds mymaster 3000\n"
            "sentinel failover-timeout mymaster 20000\n"
            "sentinel parallel-syncs mymaster 2\n")
        log = open(tmp_path / "sentinel.log", "wb")
        sentinel = subprocess.Popen(["redis-sentinel", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        s = redis.Redis(host=HOST, port=sport, protocol=2)
        _wait(lambda: len(s.sentinel_slaves("mymaster")) == 2)  # found from the master's INFO
        old = master.port
        master.stop()  # the master goes away

        def promoted():
            host, port = s.sentinel_get_master_addr_by_name("mymaster")
            return port if port != old else None

        new_port = _wait(promoted)
        new, other = (r1, r2) if new_port == r1.port else (r2, r1)
        assert _info(new.port)["role"] == "master"
        _wait(lambda: _synced(new.port, other.port))  # repointed to the new master
        client = Sentinel([(HOST, sport)], socket_timeout=5).master_for("mymaster", socket_timeout=5)
        assert _wait(lambda: client.get("k99")) == b"99"  # once the failover is over
        client.set("after", "failover")
        master.start()  # back: sentinel makes it a replica of the new master
        _wait(lambda: _synced(new.port, master.port), timeout=90)
        assert redis.Redis(host=HOST, port=master.port, protocol=2).get("after") == b"failover"
        # Both came back by partial sync: a replica's binlog copies its master's.
        stats = RawConn(new.port).call("INFO", "stats").decode()
        assert "sync_full:0\r\n" in stats and "sync_partial_ok:2\r\n" in stats, stats
    finally:
        if sentinel is not None:
            sentinel.kill()
            sentinel.wait(10)
        for srv in servers:
            srv.stop()
    assert os.path.exists(conf)
