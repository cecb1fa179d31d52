"""BGSAVE / SAVE / LASTSAVE / DELBACKUP and dump-expire through the bgsave
process, INFO persistence while and after, and a restore: a server started
on a copy of a dump serves exactly the data saved; Pika's INFO keyspace 1
(the keyscan process)."""
from __future__ import annotations

import os
import shutil
import time

import pytest
import redis

from resp_client import RawConn
from servers import HOST, PikampServer


def _wait_saved(r: redis.Redis, saves: int, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = r.info("persistence")
        if info["rdb_saves"] >= saves and not info["rdb_bgsave_in_progress"]:
            return info
        time.sleep(0.05)
    raise AssertionError(f"no dump made: {r.info('persistence')}")


def _dumps(srv: PikampServer) -> list[str]:
    path = os.path.join(srv.workdir, "dump")
    return sorted(n for n in os.listdir(path) if not n.startswith(".")) if os.path.isdir(path) else []


@pytest.fixture
def srv(tmp_path):
    s = PikampServer(str(tmp_path / "main"), dump_expire=1)
    s.start()
    yield s
    s.stop()


def test_bgsave_then_restore_serves_the_saved_data(srv, tmp_path):
    r = redis.Redis(host=HOST, port=srv.port)
    r1 = redis.Redis(host=HOST, port=srv.port, db=1)  # owned by the other worker
    r.set("s", "v")
    r.hset("h", mapping={"f": "1", "g": "2"})
    r.rpush("l", "a", "b")
    r.zadd("z", {"m": 1.5})
    r.set("ttl", "x", ex=1000)
    r1.sadd("set", "x", "y")
    r1.set("big", b"B" * 300_000)  # a chunked string
    before = r.lastsave()
    assert r.bgsave() is True  # "Background saving started"
    info = _wait_saved(r, 1)
    assert info["rdb_last_bgsave_status"] == "ok"
    assert r.info("stats")["is_bgsaving"] == "No"
    r.set("after", "dump")  # not in the dump
    r1.delete("set")
    dumps = _dumps(srv)
    assert len(dumps) == 1 and len(dumps[0]) == 14  # YYYYMMDDHHMMSS
    dump = os.path.join(srv.workdir, "dump", dumps[0])
    assert sorted(os.listdir(dump)) == sorted(["info"] + [f"db{i}" for i in range(16)])
    with open(os.path.join(dump, "info")) as f:
        lines = f.read().split()
    assert lines[1:3] == [HOST, str(srv.port)] and abs(int(lines[0]) - time.time()) < 60
    assert r.lastsave() >= before

    copy = str(tmp_path / "restored-db")
    shutil.copytree(dump, copy)
    restored = PikampServer(str(tmp_path / "restored"), db_path=copy)
    restored.start()
    try:
        q = redis.Redis(host=HOST, port=restored.port)
        q1 = redis.Redis(host=HOST, port=restored.port, db=1)
        assert q.get("s") == b"v"
        assert q.hgetall("h") == {b"f": b"1", b"g": b"2"}
        assert q.lrange("l", 0, -1) == [b"a", b"b"]
        assert q.zrange("z", 0, -1, withscores=True) == [(b"m", 1.5)]
        assert 900 < q.ttl("ttl") <= 1000
        assert q1.smembers("set") == {b"x", b"y"}
        assert q1.get("big") == b"B" * 300_000
        assert q.get("after") is None
        assert q.dbsize() == 5 and q1.dbsize() == 2
        q.close()
        q1.close()
    finally:
        restored.stop()
    r.close()
    r1.close()


def test_save_delbackup_expire_and_errors(srv):
    r = redis.Redis(host=HOST, port=srv.port)
    # An old dump (by its name) goes at the next dump: dump-expire is 1 day.
    old = os.path.join(srv.workdir, "dump", "20000101000000")
    os.makedirs(os.path.join(old, "db0"))
    assert r.save() is True  # SAVE answers once the dump is made
    assert r.info("persistence")["rdb_saves"] == 1
    assert not os.path.exists(old)
    assert len(_dumps(srv)) == 1
    raw = RawConn(srv.port)
    assert raw.call("BGSAVE", "SCHEDULE") in (b"+Background saving started\r\n", b"+Background saving scheduled\r\n")
    _wait_saved(r, 2)
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("BGSAVE", "NOW")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'save'"):
        r.execute_command("SAVE", "x")
    assert raw.call("DELBACKUP") == b"+OK\r\n"
    assert _dumps(srv) == []
    raw.close()
    r.close()


def test_info_keyspace_1_counts_keys_per_type_in_the_background(srv):
    r = redis.Redis(host=HOST, port=srv.port)
    r3 = redis.Redis(host=HOST, port=srv.port, db=3)  # the other worker's
    raw = RawConn(srv.port)
    assert b"# Time:" not in raw.call("INFO", "keyspace")  # no scan yet
    for i in range(50):
        r.set(f"s{i}", "v")
    r.set("ttl", "v", ex=100)
    r.hset("h", "f", "v")
    r3.rpush("l", "a")
    r3.zadd("z", {"m": 1})
    r3.sadd("st", "m")
    raw.call("INFO", "keyspace", "1")
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline:
        text = raw.call("INFO", "keyspace").decode()
        if "# Duration: " in text and "In Processing" not in text and "db3 Sets_keys" in text:
            break
        time.sleep(0.1)
    assert "db0:keys=52,expires=1,avg_ttl=0" in text  # Redis' live line stays
    assert "db0 Strings_keys=51, expires=1, invalid_keys=0" in text
    assert "db0 Hashes_keys=1, expires=0, invalid_keys=0" in text
    assert "db3 Lists_keys=1, expires=0, invalid_keys=0" in text
    assert "db3 Zsets_keys=1, expires=0, invalid_keys=0" in text
    assert "db3 Sets_keys=1, expires=0, invalid_keys=0" in text
    assert "# Time:" in text
    raw.close()
    r.close()
    r3.close()
