"""Pika's COMPACT: reclaims the space of deleted data, in the background."""
import time


def _wait_log(server, text, timeout=20.0):
    import os

    path = os.path.join(server.workdir, "log", "pikamp.log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            if f.read().count(text):
                return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never logged")


def test_compact_replies_ok_and_runs(r, pikamp_server):
    r.set("k", "v")
    assert r.execute_command("COMPACT") == b"OK"
    _wait_log(pikamp_server, "compacted db0 in")
    _wait_log(pikamp_server, "compacted db1 in")
    assert r.get("k") == b"v"


def test_info_says_whether_a_compaction_runs(r):
    assert r.info("stats")["is_compact"] in ("yes", "no")


def test_compact_named_dbs(r):
    assert r.execute_command("COMPACT", "db0,db1") == b"OK"


def test_compact_rejects_bad_db_names(r):
    import pytest
    import redis

    with pytest.raises(redis.ResponseError, match="invalid db name"):
        r.execute_command("COMPACT", "db99")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("COMPACT", "db0", "extra")
