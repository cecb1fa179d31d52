"""The on-disk layout carries a format version: recorded in every DB, and a DB
written by a newer pikamp is refused with one clear line (no restart loop)."""
from __future__ import annotations

import os
import subprocess
import sys

import redis

from servers import HOST, REPO_ROOT, PikampServer
from pikamp.storage import codec
from pikamp.storage.engine import STATE, Engine


def test_version_recorded_and_newer_refused(tmp_path):
    srv = PikampServer(str(tmp_path / "srv"))
    srv.start()
    c = redis.Redis(host=HOST, port=srv.port)
    c.set("k", "v")
    c.close()
    srv.stop()
    db0 = os.path.join(srv.workdir, "db", "db0")
    eng = Engine(db0)
    assert eng.get(STATE, codec.FORMAT_KEY) == b"%d" % codec.FORMAT_VERSION
    eng.put(STATE, codec.FORMAT_KEY, b"%d" % (codec.FORMAT_VERSION + 1))
    eng.close()
    res = subprocess.run([sys.executable, "-m", "pikamp.cli", "start", "-c", srv.conf_path],
                         cwd=srv.workdir, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": REPO_ROOT})
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert f"format version {codec.FORMAT_VERSION + 1}" in out and "newer pikamp" in out, out
    assert out.count("cannot open its databases") == 1, out


def test_older_version_is_upgraded_in_place(tmp_path):
    """A version 1 DB (no chunked strings) reads as it is and is marked with
    this version, so an older pikamp refuses it from then on."""
    from pikamp.storage.database import Clock, Database

    path = str(tmp_path / "db0")
    eng = Engine(path)
    eng.put(STATE, codec.FORMAT_KEY, b"1")
    eng.commit()
    Database(0, eng, Clock())
    eng.close()
    eng = Engine(path)
    assert eng.get(STATE, codec.FORMAT_KEY) == b"%d" % codec.FORMAT_VERSION
    eng.close()
