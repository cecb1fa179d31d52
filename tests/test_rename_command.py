"""rename-command (Redis' and Pika's): the old name is unknown, the new one
runs the command wherever it goes (another worker's DB, MULTI/EXEC, a
pipeline); "" disables a command; a bad line stops the start."""
from __future__ import annotations

import pytest
import redis
from servers import HOST, PikampServer


@pytest.fixture(scope="module")
def renamed(tmp_path_factory):
    srv = PikampServer(str(tmp_path_factory.mktemp("renamed")))
    with open(srv.conf_path, "a") as f:
        f.write("rename-command : FLUSHDB 360flushdb\n")
        f.write('rename-command : CONFIG ""\n')
        f.write("rename-command : set put\n")
    srv.start()
    yield srv
    srv.stop()


def test_renamed_and_disabled_commands(renamed):
    for db in (0, 1):  # DB 1 is owned by the other worker
        c = redis.Redis(host=HOST, port=renamed.port, db=db, protocol=2)
        assert c.execute_command("PUT", "k", "v")
        assert c.execute_command("put", "k2", "v")
        assert c.get("k") == b"v"
        for old in (("SET", "k", "v"), ("FLUSHDB",), ("CONFIG", "GET", "port"), ("config", "set", "x", "y")):
            with pytest.raises(redis.exceptions.ResponseError, match="unknown command"):
                c.execute_command(*old)
        p = c.pipeline(transaction=True)
        p.execute_command("PUT", "t", "1")
        p.execute_command("360FLUSHDB")
        p.execute_command("PUT", "t2", "2")
        assert p.execute() == [b"OK", b"OK", b"OK"]
        assert c.keys() == [b"t2"]
        p = c.pipeline(transaction=False)
        for i in range(20):
            p.execute_command("put", f"p{i}", i)
        p.get("p7")
        assert p.execute()[-1] == b"7"
        assert c.execute_command("360flushdb")
        assert c.dbsize() == 0
        c.close()


def test_a_bad_rename_stops_the_start(tmp_path):
    srv = PikampServer(str(tmp_path / "srv"))
    with open(srv.conf_path, "a") as f:
        f.write("rename-command : NOSUCHCMD foo\n")
    with pytest.raises(Exception):
        srv.start(timeout=10)
    srv.stop()
    with open(f"{srv.workdir}/stderr.log", errors="replace") as f:
        assert "rename-command: no such command 'nosuchcmd'" in f.read()
