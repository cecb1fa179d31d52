"""Redis 7.0 functions (FUNCTION LOAD/DELETE/FLUSH/LIST/STATS/KILL/HELP,
FCALL, FCALL_RO) against redis-server 7.0 in both protocols; then what only
pikamp shows: libraries in every worker, kept over a restart, a kill -9,
FLUSHALL and SWAPDB, replicated to a replica and refused there."""
from __future__ import annotations

import os
import signal
import time

import pytest
import redis
from resp_client import RawConn, parse
from servers import HOST, PikampServer

LIB = """#!lua name=mylib
redis.register_function('myfunc', function(keys, args) return redis.call('incr', keys[1]) end)
redis.register_function{function_name='ro', callback=function(keys, args) return args[1] end,
                        flags={'no-writes'}, description='read only'}
redis.register_function('bad', function(keys, args) return redis.call('nosuch') end)
redis.register_function('err', function(keys, args)
  error('boom')
end)
local function helper(s) return string.upper(s) end
redis.register_function('up', function(keys, args) return helper(args[1]) end)
redis.register_function('g', function() y = 1 end)
redis.register_function('k', function() return KEYS end)
redis.register_function('reg', function() return redis.register_function('z', function() end) end)
redis.register_function('resp3', function(keys) redis.setresp(3) return redis.call('hgetall', keys[1]) end)
"""

LOAD_ERRORS = [
    "return 1", "#!lua\nreturn 1", "#!lua name=a-b\nreturn 1", "#!lua name=lib2 foo=bar\nreturn 1",
    "#!lua name=lib2\nreturn 1", "#!lua name=lib2\nredis.register_function('myfunc', function() return 1 end)",
    "#!lua name=lib2\nredis.call('ping')", "#!lua name=lib2\nredis.register_function('a-b', function() return 1 end)",
    "#!lua name=lib2\nredis.register_function('f', function() return 1 end) "
    "redis.register_function('f', function() return 1 end)",
    "#!lua name=lib2\nx = 1", "#!lua name=lib2\nredis.register_function('f')",
    "#!lua name=lib2\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}",
    "#!lua name=lib2\nsyntax error", "#!luax name=lib2\nreturn 1",
    "#!lua name=lib2\nredis.register_function{function_name='f', callback=function() end, foo=1}",
    "#!lua name=lib2\nredis.register_function{callback=function() end}",
    "#!lua name=lib2\nredis.register_function{function_name='f'}",
    "#!lua name=lib2\nredis.register_function('f', 1)",
    "#!lua name=lib2\nredis.register_function('f', function() end, 3)",
    "#!lua name=lib2\nredis.register_function{function_name='f', callback=function() end, flags='no-writes'}",
    "#!lua name=lib2\nredis.register_function{function_name='f', callback=function() end, description=3}",
    "#!lua name=lib2\nlocal s = string", "#!lua name=lib2\nlocal s = redis.setresp",
    "#!lua name=lib3\nredis.register_function{function_name='f3', callback=function() end, description=3}",
]


def test_functions_like_redis(diff):
    diff("FUNCTION", "FLUSH")
    diff("FUNCTION", "LOAD", LIB)
    diff("FCALL", "myfunc", "1", "n")
    diff("SET", "s", "x")
    diff("HSET", "h", "a", "1")
    for args in (("myfunc", "1", "s"), ("bad", "0"), ("err", "0"), ("ro", "0", "a"), ("nosuch", "0"),
                 ("up", "0", "abc"), ("g", "0"), ("k", "0"), ("reg", "0"), ("resp3", "1", "h"), ("myfunc", "-1"),
                 ("myfunc", "3", "a"), ("myfunc", "x")):
        diff("FCALL", *args)
    diff("FCALL_RO", "myfunc", "1", "n")
    diff("FCALL_RO", "ro", "0", "z")
    diff("FUNCTION", "LOAD", LIB)
    for code in LOAD_ERRORS:
        diff("FUNCTION", "LOAD", code)
    diff("FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function(1, function() return 'one' end)")
    diff("FCALL", "1", "0")
    diff("FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function('v', function() return 2 end)")
    diff("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib2\nredis.register_function('v', function() return 2 end)")
    diff("FCALL", "v", "0")
    diff("FCALL", "1", "0")  # gone with the library it was in
    diff("FUNCTION", "LOAD", "FOO", "#!lua name=lib2\nreturn 1")
    diff("FUNCTION", "LIST", unordered=True)
    diff("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "my*", unordered=True)
    diff("FUNCTION", "LIST", "LIBRARYNAME", "nomatch*")
    diff("FUNCTION", "LIST", "foo")
    diff("FUNCTION", "LIST", "libraryname")
    diff("FUNCTION", "STATS")
    diff("FUNCTION", "HELP")
    diff("FUNCTION", "DELETE", "nosuch")
    diff("FUNCTION", "DELETE", "lib2")
    diff("FCALL", "v", "0")
    diff("FUNCTION", "FLUSH", "foo")
    diff("FUNCTION", "KILL")
    diff("FUNCTION", "FLUSH", "ASYNC")
    diff("FUNCTION", "LIST")
    diff("FUNCTION", "STATS")
    diff("FCALL", "myfunc", "1", "n")


def _one_db_each(port: int) -> list[RawConn]:
    conns = []
    for db in ("0", "1"):
        c = RawConn(port)
        assert c.call("SELECT", db) == b"+OK\r\n"
        conns.append(c)
    return conns


@pytest.fixture
def own(tmp_path):
    srv = PikampServer(str(tmp_path / "p")).start()
    yield srv
    srv.stop()


def test_libraries_in_every_worker_and_kept(own):
    """Loaded through any connection, a library answers FCALL for DBs of both
    workers at once; FLUSHALL and SWAPDB leave it; it is there after a
    restart and after kill -9 of a worker."""
    c = RawConn(own.port)
    assert c.call("FUNCTION", "LOAD", LIB) == b"$5\r\nmylib\r\n"
    for conn in _one_db_each(own.port):
        assert conn.call("FCALL", "up", "0", "x") == b"$1\r\nX\r\n"
        conn.close()
    assert c.call("FLUSHALL") == b"+OK\r\n"
    assert c.call("SWAPDB", "0", "1") == b"+OK\r\n"
    assert c.call("FCALL", "myfunc", "1", "n") == b":1\r\n"
    c.close()
    own.stop()
    own.start()
    for conn in _one_db_each(own.port):
        assert conn.call("FCALL", "ro", "0", "kept") == b"$4\r\nkept\r\n"
        conn.close()
    for pid in own.worker_pids().values():
        os.kill(pid, signal.SIGKILL)
    own.wait_all_workers()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            c = RawConn(own.port)
            if c.call("FCALL", "ro", "0", "again") == b"$5\r\nagain\r\n":
                break
        except OSError:
            pass
        time.sleep(0.1)
    lib = parse(c.call("FUNCTION", "LIST"))
    assert lib[0][1] == b"mylib" and len(lib[0][5]) == 9
    assert c.call("FUNCTION", "DELETE", "mylib") == b"+OK\r\n"
    for conn in _one_db_each(own.port):
        assert conn.call("FCALL", "ro", "0", "x") == b"-ERR Function not found\r\n"
        conn.close()
    c.close()


def test_functions_replicate(tmp_path):
    master = PikampServer(str(tmp_path / "m")).start()
    replica = PikampServer(str(tmp_path / "r")).start()
    try:
        m = redis.Redis(host=HOST, port=master.port, protocol=2)
        m.function_load(LIB)  # before the replica: the full sync brings it
        assert RawConn(replica.port).call("SLAVEOF", HOST, str(master.port)) == b"+OK\r\n"
        rc = RawConn(replica.port)
        deadline = time.monotonic() + 60
        while rc.call("FCALL_RO", "ro", "0", "x") != b"$1\r\nx\r\n" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rc.call("FCALL_RO", "ro", "0", "x") == b"$1\r\nx\r\n"
        m.function_load("#!lua name=later\nredis.register_function{function_name='later', "
                        "callback=function() return 'later' end, flags={'no-writes'}}")  # streamed
        while rc.call("FCALL", "later", "0") != b"$5\r\nlater\r\n" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rc.call("FCALL", "later", "0") == b"$5\r\nlater\r\n"
        assert rc.call("FCALL", "myfunc", "1", "n").startswith(
            b"-READONLY You can't write against a read only replica. script: myfunc")
        assert rc.call("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('x', function() end)") == \
            b"-READONLY You can't write against a read only replica.\r\n"
        m.function_delete("later")
        while rc.call("FCALL", "later", "0") != b"-ERR Function not found\r\n" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rc.call("FCALL", "later", "0") == b"-ERR Function not found\r\n"
        rc.close()
        m.close()
    finally:
        replica.stop()
        master.stop()


LIB2 = "#!lua name=second\nredis.register_function('second', function() return 2 end)"


def test_function_dump_and_restore_like_redis(diff):
    diff("FUNCTION", "FLUSH")
    diff("FUNCTION", "LOAD", LIB)
    payload = diff("FUNCTION", "DUMP")  # one library: the same bytes
    dumped = parse(payload)
    diff("FUNCTION", "RESTORE", dumped)  # APPEND: it is there already
    diff("FUNCTION", "RESTORE", dumped, "APPEND")
    diff("FUNCTION", "RESTORE", dumped, "REPLACE")
    diff("FUNCTION", "RESTORE", dumped, "BAD")
    diff("FUNCTION", "RESTORE", dumped, "FLUSH", "extra")
    diff("FUNCTION", "RESTORE", "junk")
    diff("FUNCTION", "RESTORE", dumped[:-1] + bytes([dumped[-1] ^ 1]))
    diff("FUNCTION", "FLUSH")
    diff("FUNCTION", "LOAD", LIB2)
    diff("FUNCTION", "RESTORE", dumped, "FLUSH")
    diff("FUNCTION", "LIST", unordered=True)
    diff("FCALL", "up", "0", "restored")
    diff("FCALL", "second", "0")
    diff("FUNCTION", "DELETE", "mylib")
    diff("FUNCTION", "RESTORE", dumped)  # APPEND to an empty set of libraries
    diff("FCALL", "up", "0", "again")


def test_dumps_cross_between_pikamp_and_redis(pikamp_server, redis_server):
    p, r = RawConn(pikamp_server.port), RawConn(redis_server.port)
    try:
        for c in (p, r):
            c.call("FUNCTION", "FLUSH")
        assert parse(r.call("FUNCTION", "LOAD", LIB)) == b"mylib"
        assert p.call("FUNCTION", "RESTORE", parse(r.call("FUNCTION", "DUMP"))) == b"+OK\r\n"
        assert p.call("FCALL", "up", "0", "from redis") == b"$10\r\nFROM REDIS\r\n"
        assert parse(p.call("FUNCTION", "LOAD", LIB2)) == b"second"
        assert r.call("FUNCTION", "RESTORE", parse(p.call("FUNCTION", "DUMP")), "REPLACE") == b"+OK\r\n"
        assert r.call("FCALL", "second", "0") == b":2\r\n"
    finally:
        for c in (p, r):
            c.call("FUNCTION", "FLUSH")
            c.close()
