"""Disk full: nothing unwritten is acknowledged, counters stay true, writes are
refused (reads keep working) while the disk is full, and they resume by
themselves once there is room again.

The DBs live on a small tmpfs mounted for the test (skipped where mounting is
not permitted)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import redis

from servers import HOST, PikampServer

SIZE_MB = 48


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip() or res.returncode}")
    yield str(mnt)
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(path: str, leave_mb: int) -> str:
    """Take all but ``leave_mb`` MB of the disk with a filler file."""
    filler = os.path.join(path, "filler")
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as f:
        f.write(b"\0" * max(free - (leave_mb << 20), 0))
    return filler


def _write_until_refused(port: int, db: int, prefix: bytes, limit: int = 200_000) -> tuple[set, int]:
    """SET unique keys in pipelines of 100 until the server refuses writes.
    Returns the keys acknowledged with +OK and how many MISCONF errors came."""
    c = redis.Redis(host=HOST, port=port, db=db, protocol=2, socket_timeout=20)
    acked: set[bytes] = set()
    refused = 0
    value = os.urandom(500)
    deadline = time.monotonic() + 60
    i = 0
    while i < limit and time.monotonic() < deadline and refused == 0:
        p = c.pipeline(transaction=False)
        keys = [prefix + b"%d" % (i + j) for j in range(100)]
        for k in keys:
            p.set(k, value)
        for k, r in zip(keys, p.execute(raise_on_error=False)):
            if r is True:
                acked.add(k)
            else:
                assert isinstance(r, redis.ResponseError), r
                assert "Errors writing to the disk (No space left on device)" in str(r), r
                refused += 1
        i += 100
    c.close()
    return acked, refused


def test_disk_full_loses_nothing_acknowledged_and_recovers(small_disk, tmp_path):
    srv = PikampServer(str(tmp_path / "srv"), db_path=os.path.join(small_disk, "db"),
                       least_free_disk_resume_size=4 << 20, manually_resume_interval=1)
    srv.start()
    try:
        filler = _fill(small_disk, 24)
        # db0 is owned by worker 0, db1 by worker 1: whichever worker holds the
        # connection, one of the two is forwarded.
        acked0, refused0 = _write_until_refused(srv.port, 0, b"a:")
        assert refused0 > 0, "the disk never filled"
        acked1, _ = _write_until_refused(srv.port, 1, b"b:")
        c = redis.Redis(host=HOST, port=srv.port, protocol=2)
        # Reads keep working, writes are refused, INFO and the log say why.
        assert c.dbsize() == len(acked0)
        with pytest.raises(redis.ResponseError, match="Errors writing to the disk"):
            c.set("x", "y")
        assert c.get(next(iter(acked0))) is not None
        info = c.info("persistence")
        assert info["aof_last_write_status"] == "err"
        assert "No space left on device" in info["aof_last_write_error"]
        with pytest.raises(redis.ResponseError, match="The available disk capacity is insufficient"):
            c.execute_command("DISKRECOVERY")
        # Room again: writes resume by themselves.
        os.unlink(filler)
        deadline = time.monotonic() + 15
        while True:
            try:
                assert c.set("after", "1")
                break
            except redis.ResponseError:
                assert time.monotonic() < deadline, "writes did not resume"
                time.sleep(0.2)
        assert c.info("persistence")["aof_last_write_status"] == "ok"
        c.select(1)
        c.set("after", "1")
        c.close()
        srv.stop()
        # Every acknowledged write is on disk, and the counters are exact.
        srv.start()
        c = redis.Redis(host=HOST, port=srv.port, protocol=2)
        for db, acked in ((0, acked0), (1, acked1)):
            c.select(db)
            assert c.dbsize() == len(acked) + 1
            keys = sorted(acked)
            for i in range(0, len(keys), 500):
                got = c.mget(keys[i:i + 500])
                assert all(v is not None for v in got), f"db{db}: acknowledged writes lost"
        c.close()
    finally:
        srv.stop()


def test_start_on_a_full_disk_does_not_loop(small_disk, tmp_path):
    srv = PikampServer(str(tmp_path / "srv"), db_path=os.path.join(small_disk, "db"))
    srv.start()
    c = redis.Redis(host=HOST, port=srv.port)
    c.set("k", "v")
    c.close()
    srv.stop()
    _fill(small_disk, 0)
    try:  # every last byte
        with open(os.path.join(small_disk, "last"), "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
    except OSError:
        pass
    log = open(os.path.join(srv.workdir, "start.log"), "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pikamp.cli", "start", "-c", srv.conf_path],
        cwd=srv.workdir, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})
    try:
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # It may start after all (RocksDB needed no new file): then it serves.
            c = redis.Redis(host=HOST, port=srv.port)
            assert c.get("k") == b"v"
            c.close()
            return
        text = open(os.path.join(srv.workdir, "start.log")).read()
        assert rc != 0
        assert "cannot open its databases" in text and "No space left on device" in text, text
        assert text.count("cannot open its databases") <= 2, "it looped"  # one per worker
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)
