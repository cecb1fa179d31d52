"""Lua scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT) against
redis-server 7.0 in both protocols: reply conversions both ways, RESP3 via
redis.setresp, errors and where they were raised, the sandbox, pcall, the
redis.* helpers, cjson and bit, shebang flags, read-only scripts, the script
cache; then what only pikamp can show: the cache across workers, scripts in
MULTI and with WATCH, blocked clients, keyspace events, PUBLISH, ACL users
of another worker, redis-py's Lock and Script."""
from __future__ import annotations

import hashlib
import threading
import time

import pytest
import redis
from resp_client import RawConn, parse
from servers import HOST, PikampServer, RedisServer

CONVERSIONS = [
    "return 1", "return -1.9", "return 1.9", "return 'x'", "return true", "return false", "return nil",
    "return {}", "return {1, 2, {3, 'x'}, nil, 5}", "return {true, false, 1}", "return {ok='fine'}",
    "return {err='MY error'}", "return {err='no code'}", "return {err='x\\ny'}", "return {ok='a\\r\\nb'}",
    "return {1, {err='inner'}}", "return {1, {ok='inner'}}", "return {double=1.5}", "return {double=0.1}",
    "return {big_number='123456789012345678901234567890'}", "return {map={a=1}}", "return {set={a=true}}",
    "return {verbatim_string={format='txt', string='hi'}}", "return 2^53", "return 2^63", "return -(2^63)",
    "return 0/0", "return math.huge", "return 9007199254740993", "return redis.error_reply('oops')",
    "return redis.error_reply('MY oops')", "return redis.error_reply('-CODE x')",
    "return redis.error_reply()", "return redis.error_reply(1)", "return redis.status_reply('yes')",
    "return redis.status_reply()", "return redis.sha1hex('')", "return redis.sha1hex('abc')",
    "return redis.REDIS_VERSION", "return tostring(redis.REDIS_VERSION_NUM)", "return redis.breakpoint()",
    "return redis.replicate_commands()", "return string.format('%d %s', 5, 'x')", "return ('abc'):upper()",
    "return tonumber('12') + 1", "return #KEYS", "return type(_G)", "return coroutine.wrap(function() "
    "return redis.call('ping') end)()", "return table.concat({'a', 'b'}, '-')", "return math.floor(2.5)",
]

ERRORS = [
    "return x", "x = 1", "string.format = nil", "string.x = 1", "error('boom')", "error({err='MY thing'})",
    "local t = nil; return t.x", "local function f() error('deep') end\nf()", "return redis.call('nosuch')",
    "return redis.call()", "return redis.call(1)", "return redis.call({})", "return redis.call('set', 'x', {})",
    "return redis.call('get')", "return redis.call('get', 'k', 'x')", "return redis.call('subscribe', 'x')",
    "return redis.call('multi')", "return redis.call('eval', 'return 1', 0)", "return redis.call('blpop', 'q', 0)",
    "return redis.call('client', 'list')", "return redis.call('config', 'get', 'maxmemory')",
    "return redis.call('select', 'x')", "return redis.call('select', 100)", "return redis.sha1hex()",
    "return redis.log()", "return redis.log('x', 'y')", "return redis.log(9, 'y')", "redis.setresp(4)",
    "redis.setresp()", "return type(os)", "return type(io)", "return type(debug)", "return type(print)",
    "return type(require)", "return type(dofile)", "return type(loadfile)", "syntax error here",
    "return +", "rawset(_G, 'x', 1)", "setmetatable(_G, nil)", "_G.x = 1", "redis.call = nil",
    "return redis.set_repl(99)", "return redis.acl_check_cmd('nosuch')", "return redis.acl_check_cmd()",
    "return bit.band({})", "return cjson.encode(function() end)", "return cjson.encode({[1]=1, [20]=2})",
    "return cjson.encode(0/0)", "return {loadstring(string.dump(function() return 1 end))}",
    "local f, e = loadstring(string.dump(function() return 1 end)) return e",
    "local f, e = loadstring(string.dump(function() return 1 end), 'name') return e",
    "local p = {string.dump(function() return 1 end)} local i = 0 "
    "local f, e = load(function() i = i + 1 return p[i] end) return e",
    "local p = {'return ', '7'} local i = 0 return load(function() i = i + 1 return p[i] end)()",
    "return loadstring('return 8')()", "local f, e = loadstring('return +') return e",
]

WITH_DATA = [
    ("return redis.call('incr', KEYS[1])", ["1", "s"]), ("return redis.pcall('incr', KEYS[1])", ["1", "s"]),
    ("return pcall(redis.call, 'incr', KEYS[1])", ["1", "s"]),
    ("local ok, e = pcall(redis.call, 'incr', KEYS[1]); return e", ["1", "s"]),
    ("local ok, e = pcall(error, 'x'); return e", ["0"]), ("return redis.call('get', KEYS[1])", ["1", "s"]),
    ("return redis.call('hgetall', KEYS[1])", ["1", "h"]),
    ("redis.setresp(3); return redis.call('hgetall', KEYS[1])", ["1", "h"]),
    ("redis.setresp(3); return redis.call('hgetall', KEYS[1]).map.a", ["1", "h"]),
    ("redis.setresp(3); return redis.call('smembers', KEYS[1])", ["1", "set"]),
    ("redis.setresp(3); return redis.call('zscore', KEYS[1], 'a')", ["1", "z"]),
    ("redis.setresp(3); return redis.call('zscore', KEYS[1], 'a').double", ["1", "z"]),
    ("redis.setresp(3); return redis.call('get', 'nokey')", ["0"]),
    ("redis.setresp(3); return redis.call('get', 'nokey') == nil", ["0"]),
    ("redis.setresp(3); return redis.call('exists', KEYS[1]) == 1", ["1", "z"]),
    ("redis.setresp(3); return {true, false}", ["0"]), ("redis.setresp(3); return true", ["0"]),
    ("redis.setresp(3); return false", ["0"]), ("redis.setresp('3'); return redis.call('hgetall', 'nokey')", ["0"]),
    ("return redis.call('get', 'nokey')", ["0"]), ("return redis.call('get', 'nokey') == false", ["0"]),
    ("return redis.call('lrange', 'nolist', 0, -1)", ["0"]), ("return redis.call('type', KEYS[1])", ["1", "z"]),
    ("return redis.call('type', KEYS[1]).ok", ["1", "z"]), ("return redis.call('ping')", ["0"]),
    ("return redis.call('ping', 'x')", ["0"]), ("return redis.call('echo', 'x')", ["0"]),
    ("return {KEYS[1], ARGV[1], ARGV[2], #KEYS, #ARGV}", ["1", "k", "a", "b"]),
    ("return redis.call('set', KEYS[1], 3.5)", ["1", "f"]), ("return redis.call('get', KEYS[1])", ["1", "f"]),
    ("return redis.call('set', KEYS[1], 0.1)", ["1", "f"]), ("return redis.call('get', KEYS[1])", ["1", "f"]),
    ("return redis.call('set', KEYS[1], 1e300)", ["1", "f"]), ("return redis.call('get', KEYS[1])", ["1", "f"]),
    ("return redis.call('set', KEYS[1], 12345678901234567)", ["1", "f"]),
    ("return redis.call('get', KEYS[1])", ["1", "f"]),
    ("return redis.call('incrbyfloat', KEYS[1], '0.1')", ["1", "f"]),
    ("return redis.call('SET', 'x', 'v')", ["0"]), ("return redis.call('zrange', KEYS[1], 0, -1, 'withscores')",
                                                    ["1", "z"]),
    ("redis.setresp(3); return redis.call('zrange', KEYS[1], 0, -1, 'withscores')", ["1", "z"]),
    ("return redis.call('select', 0)", ["0"]),
    ("redis.call('lpush', KEYS[1], 'a', 'b'); return redis.call('lrange', KEYS[1], 0, -1)", ["1", "l"]),
    ("redis.call('del', KEYS[1]); return redis.call('exists', KEYS[1])", ["1", "l"]),
    ("redis.call('set', KEYS[1], 'v'); local k = redis.call('keys', '*'); table.sort(k); return k",
     ["1", "newkey"]),
    ("return redis.call('scan', 0, 'match', 'newkey')", ["0"]),
    ("return redis.call('blpop', 'nolist', 1)", ["0"]),
    ("return cjson.encode({1, 2})", ["0"]), ("return cjson.encode({a=1})", ["0"]), ("return cjson.encode({})", ["0"]),
    ("return cjson.encode('a/b\\n\"')", ["0"]), ("return cjson.encode({1, nil, 3})", ["0"]),
    ("return cjson.encode(1.5)", ["0"]), ("return cjson.encode({true, false, cjson.null})", ["0"]),
    ("return cjson.decode('[1,2,{\"a\":3}]')[3].a", ["0"]), ("return cjson.decode('\"\\\\u00e9\"')", ["0"]),
    ("return cjson.decode('null') == cjson.null", ["0"]), ("return type(cjson.null)", ["0"]),
    ("return cjson.decode(cjson.encode({x={1, 'y'}})).x[2]", ["0"]),
    ("return bit.band(5, 3)", ["0"]), ("return bit.bor(5, 3, 8)", ["0"]), ("return bit.bxor(5, 3)", ["0"]),
    ("return bit.bnot(0)", ["0"]), ("return bit.lshift(1, 31)", ["0"]), ("return bit.rshift(-1, 28)", ["0"]),
    ("return bit.arshift(-16, 2)", ["0"]), ("return bit.tohex(255)", ["0"]), ("return bit.tohex(255, -4)", ["0"]),
    ("return bit.tobit(4294967297)", ["0"]), ("return bit.bswap(305419896)", ["0"]),
    ("return bit.rol(305419896, 8)", ["0"]), ("return bit.ror(305419896, 8)", ["0"]),
    ("return bit.band('12', 4)", ["0"]), ("return bit.tobit(1.5)", ["0"]), ("return bit.tobit(2.5)", ["0"]),
    ("return redis.acl_check_cmd('set', 'a', 'b')", ["0"]),
    ("return rawget(_G, 'redis') ~= nil", ["0"]), ("return rawget(_G, 'nosuch') == nil", ["0"]),
    ("return redis.set_repl(redis.REPL_ALL)", ["0"]),
]


# cmsgpack and struct (pikamp.luamsgpack), byte for byte.
PACKING = [
    "return cmsgpack.pack(1, 'a', {1,2}, {a=1}, 1.5, -1, 300, -300, true, nil)",
    "return cmsgpack.pack(string.rep('x', 40))", 'return cmsgpack.pack(0.1)', 'return cmsgpack.pack(2^40)',
    'return cmsgpack.pack(-(2^40))', "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', 3))}",
    "return cmsgpack.unpack('')", "return cmsgpack.unpack('\\192\\193')", "return cmsgpack.unpack('\\217')",
    'return cmsgpack.pack()', 'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}',
    'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}',
    'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}',
    'return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}', 'return cmsgpack.pack({1,nil,3})',
    'return cmsgpack.pack({[1]=1,[3]=3})', 'return cmsgpack._VERSION', 'return cmsgpack.pack(1e300)',
    'return cmsgpack.pack(0/0)', 'return cmsgpack.pack(2^64)', 'return cmsgpack.pack(1/0)',
    'return cmsgpack.pack(function() end)', "return cmsgpack.pack(string.rep('y', 300))",
    "return cmsgpack.pack(string.rep('y', 70000)):sub(1, 8)",
    'local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)',
    "local t = {} for i = 1, 20 do t['k'..i] = i end return #cmsgpack.pack(t)",
    'local t = {} t[1] = t return cmsgpack.pack(t)', 'return cmsgpack.unpack(cmsgpack.pack({a={b={1,2}}})).a.b[2]',
    'return {cmsgpack.unpack(cmsgpack.pack(-1, -33, -129, -32769, -2147483649, 128, 65536, 4294967296))}',
    'return cmsgpack.unpack(cmsgpack.pack(1.5)) * 2', "return cmsgpack.unpack('\\196\\2ab')",
    "return cmsgpack.unpack('\\199\\1\\1a')", "return struct.pack('<i', -2)", "return struct.pack('>I3', 65536+2)",
    "return struct.pack('bBhH', -1, 255, -2, 65535)", "return struct.pack('s', 'ab')",
    "return struct.pack('c3', 'abcdef')", "return struct.pack('c0', 'abcdef')", "return struct.pack('!4 b i', 1, 2)",
    "return struct.pack('d', 1.5)", "return struct.pack('f', 1.5)",
    "return {struct.unpack('<i', struct.pack('<i', -2))}",
    "return {struct.unpack('bc0', struct.pack('b', 3) .. 'xyz')}", "return {struct.unpack('s', 'ab\\0cd')}",
    "return {struct.unpack('>I2', 'abcd', 3)}", "return struct.size('!8 b d')", "return struct.size('i3 h')",
    "return struct.pack('q', 1)", "return {struct.unpack('>I2', 'a')}", "return struct.pack('i17', 1)",
    "return struct.pack('l', 1)", "return struct.pack('i', 'x')", "return struct.pack('>i16', -1)",
    "return {struct.unpack('>i3', struct.pack('>i3', -5))}", "return struct.size('s')",
    "return struct.pack('!3 i', 1)", "return {struct.unpack('c0', 'abc')}", "return struct.pack('>L', 2^40)",
    "return {struct.unpack('<h', '\\255\\255')}", "return struct.pack('c5', 'ab')", "return struct.pack('i')",
]


def _data(diff):
    diff("SET", "s", "abc")
    diff("HSET", "h", "a", "1")
    diff("SADD", "set", "m")
    diff("ZADD", "z", "1.5", "a", "2", "b")


@pytest.mark.parametrize("body", CONVERSIONS)
def test_values_a_script_returns(diff, body):
    diff("EVAL", body, "0")


@pytest.mark.parametrize("body", ERRORS)
def test_errors_and_the_sandbox(diff, body):
    diff("EVAL", body, "0")


@pytest.mark.parametrize("body", PACKING)
def test_cmsgpack_and_struct(diff, body):
    diff("EVAL", body, "0")


def test_commands_inside_scripts(diff):
    _data(diff)
    for body, rest in WITH_DATA:
        diff("EVAL", body, *rest)


def test_numkeys_and_arguments(diff):
    diff("EVAL", "return 1", "-1")
    diff("EVAL", "return 1", "3", "a")
    diff("EVAL", "return 1", "x")
    diff("EVAL", "return 1")
    diff("EVAL", "return {KEYS[1], ARGV[1]}", "2", "a", "b")
    diff("EVAL", "return ARGV", "0", "a", "", "c")
    diff("EVAL", "return KEYS", "3", "a", "b", "c")


def test_many_keys_and_arguments(diff):
    for n in (10, 3999, 4001, 20000):
        args = [f"a{i}" for i in range(n)]
        diff("EVAL", "return {#KEYS, #ARGV, KEYS[1], ARGV[#ARGV]}", "3", *args)


def test_script_cache(diff):
    diff("SCRIPT", "FLUSH")
    sha = diff("SCRIPT", "LOAD", "return 'loaded'")
    diff("SCRIPT", "LOAD", "return +")
    plain = parse(sha)
    diff("EVALSHA", plain, "0")
    diff("EVALSHA", plain.upper(), "0")
    diff("EVALSHA_RO", plain, "0")
    diff("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0")
    diff("EVALSHA", "abc", "0")
    diff("EVAL", "return 'evaled'", "0")  # EVAL caches its script too
    diff("EVALSHA", "8a75f8d0d8f2a2e8a9f3e5c36e5e3c4f8f3f2f71", "0")
    diff("SCRIPT", "EXISTS", plain, "abc", plain.upper(),
         "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    diff("SCRIPT", "FLUSH", "ASYNC")
    diff("SCRIPT", "EXISTS", plain)
    diff("EVALSHA", plain, "0")
    diff("SCRIPT", "FLUSH", "foo")
    diff("SCRIPT", "FLUSH", "sync", "extra")
    diff("SCRIPT", "FLUSH", "SYNC")
    diff("SCRIPT", "foo")
    diff("SCRIPT", "LOAD")
    diff("SCRIPT", "EXISTS")


def test_read_only_scripts_and_shebangs(diff):
    diff("EVAL_RO", "return redis.call('set', 'a', '1')", "0")
    diff("EVAL_RO", "return redis.call('get', 'a')", "0")
    diff("EVAL_RO", "return redis.pcall('set', 'a', '1')", "0")
    diff("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'a', '2')", "0")
    diff("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'a')", "0")
    diff("EVAL", "#!lua\nreturn 5", "0")
    diff("EVAL", "#!lua flags=bad\nreturn 5", "0")
    diff("EVAL", "#!luax\nreturn 5", "0")
    diff("EVAL", "#!lua\nreturn x", "0")  # the shebang keeps its line: line 2
    diff("EVAL", "#!lua flags=no-writes,allow-stale\nreturn 1", "0")
    diff("EXISTS", "a")


def test_writes_of_a_script_are_one_step(r):
    """What a script wrote is there at once for the next command, also range
    reads inside the script see its own writes (one batch with them)."""
    body = """
    for i = 1, 50 do redis.call('rpush', KEYS[1], i) end
    redis.call('hset', KEYS[2], 'n', redis.call('llen', KEYS[1]))
    local seen = redis.call('scan', 0, 'count', 1000)[2]
    table.sort(seen)
    return seen
    """
    assert r.eval(body, 2, "list", "hash") == [b"hash", b"list"]
    assert r.llen("list") == 50 and r.hget("hash", "n") == b"50"


def test_script_cache_is_shared_by_every_worker(pikamp_server):
    """SCRIPT LOAD (or EVAL) on any connection: EVALSHA works for DBs of either worker."""
    conns = [RawConn(pikamp_server.port) for _ in range(4)]
    try:
        sha = parse(conns[0].call("SCRIPT", "LOAD", "return redis.call('select', ARGV[1]) and 7"))
        assert parse(conns[1].call("EVAL", "return 'from eval'", "0")) == b"from eval"
        eval_sha = hashlib.sha1(b"return 'from eval'").hexdigest()
        for i, c in enumerate(conns):
            db = str(i % 2)
            assert c.call("SELECT", db) == b"+OK\r\n"
            assert parse(c.call("EVALSHA", sha, "0", db)) == 7
            assert parse(c.call("EVALSHA", eval_sha, "0")) == b"from eval"
            assert parse(c.call("SCRIPT", "EXISTS", sha)) == [1]
        conns[0].call("SCRIPT", "FLUSH")
        for c in conns:
            assert parse(c.call("SCRIPT", "EXISTS", sha)) == [0]
            assert c.call("EVALSHA", sha, "0", "0").startswith(b"-NOSCRIPT")
    finally:
        for c in conns:
            c.close()


def test_scripts_in_multi_and_watch(r2):
    r2.set("k", "1")
    with r2.pipeline() as p:
        p.incr("k")
        p.eval("return redis.call('incr', KEYS[1])", 1, "k")
        p.get("k")
        assert p.execute() == [2, 3, b"3"]
    # A script writing a WATCHed key fails the other client's EXEC.
    other = redis.Redis(host=HOST, port=r2.connection_pool.connection_kwargs["port"], protocol=2)
    try:
        with r2.pipeline() as p:
            p.watch("k")
            other.eval("return redis.call('set', KEYS[1], 'x')", 1, "k")
            p.multi()
            p.set("k", "mine")
            with pytest.raises(redis.WatchError):
                p.execute()
        assert r2.get("k") == b"x"
    finally:
        other.close()


def test_a_script_push_serves_a_blocked_client(pikamp_server):
    blocked = redis.Redis(host=HOST, port=pikamp_server.port, protocol=2)
    pusher = redis.Redis(host=HOST, port=pikamp_server.port, protocol=2)
    pusher.delete("q")
    got = []
    t = threading.Thread(target=lambda: got.append(blocked.blpop("q", 10)))
    t.start()
    try:
        deadline = time.monotonic() + 10
        while pusher.info("clients")["blocked_clients"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pusher.eval("redis.call('rpush', KEYS[1], 'a', 'b'); return redis.call('llen', KEYS[1])",
                           1, "q") == 2
        t.join(10)
        assert got == [(b"q", b"a")]
        assert pusher.lrange("q", 0, -1) == [b"b"]
    finally:
        t.join(10)
        blocked.close()
        pusher.close()


def test_keyspace_events_and_publish_from_a_script(pikamp_server):
    c = redis.Redis(host=HOST, port=pikamp_server.port, protocol=2)
    sub = c.pubsub()
    try:
        c.config_set("notify-keyspace-events", "KEA")
        sub.subscribe("__keyspace@0__:ev", "chan")
        deadline = time.monotonic() + 5
        while c.pubsub_numsub("chan")[0][1] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        n = c.eval("redis.call('set', KEYS[1], 'v'); redis.call('expire', KEYS[1], 100); "
                   "return redis.call('publish', 'chan', 'hello')", 1, "ev")
        assert n == 1
        seen = []
        deadline = time.monotonic() + 5
        while len(seen) < 5 and time.monotonic() < deadline:
            m = sub.get_message(timeout=0.2)
            if m is not None:
                seen.append((m["channel"], m["data"]))
        assert seen[2:] == [(b"__keyspace@0__:ev", b"set"), (b"__keyspace@0__:ev", b"expire"),
                            (b"chan", b"hello")], seen
    finally:
        c.config_set("notify-keyspace-events", "")
        sub.close()
        c.close()


def test_redis_py_lock_and_script(r):
    """redis-py's Lock (SET NX PX, then Lua to release, extend and reacquire)
    and register_script (EVALSHA, SCRIPT LOAD on NOSCRIPT), in RESP3."""
    lock = r.lock("resource", timeout=5)
    assert lock.acquire(blocking=False)
    assert not r.lock("resource", timeout=5).acquire(blocking=False)
    assert lock.extend(10)
    assert 5000 < r.pttl("resource") <= 15000
    assert lock.reacquire()
    lock.release()
    assert r.exists("resource") == 0
    assert lock.acquire(blocking=False)
    r.set("resource", "someone else's token")
    with pytest.raises(redis.exceptions.LockNotOwnedError):  # the release script compares tokens
        lock.release()
    assert r.get("resource") == b"someone else's token"
    r.script_flush()
    adder = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    assert adder(keys=["n"], args=[5]) == 5
    assert adder(keys=["n"], args=[2]) == 7
    hgetall = r.register_script("redis.setresp(3) return redis.call('hgetall', KEYS[1])")
    r.hset("hh", mapping={"a": "1"})
    assert hgetall(keys=["hh"]) == {b"a": b"1"}


def test_the_sandbox_keeps_nothing_between_scripts(r):
    attempts = [
        "rawset(_G, 'leak', 1)", "getfenv(tostring).leak = 1", "getfenv(0).leak = 1",
        "getmetatable('').__index.leak = 1", "setfenv(tostring, {})", "string.leak = 1",
        "loadstring('leak = 1')()", "local t = getfenv(1); t.leak = 1", "redis.leak = 1",
    ]
    for body in attempts:
        with pytest.raises(redis.ResponseError):
            r.eval(body, 0)
        assert r.eval("return rawget(_G, 'leak') == nil and string.leak == nil and redis.leak == nil", 0) == 1
    assert r.eval("return type(loadstring('return os'))", 0) == b"function"
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'os'"):
        r.eval("return loadstring('return os')()", 0)
    assert r.eval("return tostring(1)", 0) == b"1"  # the builtins still work


@pytest.fixture(scope="module")
def acl_pair(tmp_path_factory):
    p = PikampServer(str(tmp_path_factory.mktemp("lua-acl-pikamp"))).start()
    r = RedisServer(str(tmp_path_factory.mktemp("lua-acl-redis"))).start()
    yield p, r
    p.stop()
    r.stop()


def test_acl_rules_apply_to_the_commands_of_a_script(acl_pair):
    """A restricted user's script is checked command by command, in DBs of
    either worker (its connection may be on the other one), and the refusals
    are in the ACL log with context lua."""
    p, r = acl_pair
    for srv in (p, r):
        admin = RawConn(srv.port)
        admin.call("ACL", "SETUSER", "lim", "on", "nopass", "+eval", "+evalsha", "+get", "+select", "~k*",
                   "&ch", "+publish")
        admin.call("ACL", "LOG", "RESET")
        admin.close()
    for attempt in range(4):  # connections land on either worker
        for db in ("0", "1"):
            replies = []
            for srv in (p, r):
                c = RawConn(srv.port)
                c.call("AUTH", "lim", "x")
                assert c.call("SELECT", db) == b"+OK\r\n"
                replies.append([
                    c.call("EVAL", "return redis.call('set', 'k1', 'x')", "0"),
                    c.call("EVAL", "return redis.call('get', 'z')", "0"),
                    c.call("EVAL", "return redis.call('get', 'k1')", "0"),
                    c.call("EVAL", "return redis.pcall('set', 'k1', 'x')", "0"),
                    c.call("EVAL", "return redis.acl_check_cmd('set', 'k1', 'x')", "0"),
                    c.call("EVAL", "return redis.acl_check_cmd('get', 'k1')", "0"),
                    c.call("EVAL", "return redis.acl_check_cmd('get', 'zz')", "0"),
                    c.call("EVAL", "return redis.call('publish', 'other', 'm')", "0"),
                ])
                c.close()
            assert replies[0] == replies[1], (db, attempt)
    log = [parse(RawConn(srv.port).call("ACL", "LOG", "1")) for srv in (p, r)]
    entry = [dict(zip(e[0::2], e[1::2])) for e in (log[0][0], log[1][0])]
    for key in (b"reason", b"context", b"object", b"username"):
        assert entry[0][key] == entry[1][key]
    assert entry[0][b"context"] == b"lua"


def test_commands_that_need_another_worker_are_refused(r2):
    """A script runs inside one worker (DB d lives in worker d % 2): reaching a
    DB of the other worker is an error, and nothing else of it is lost."""
    msg = r"pikamp runs a script inside one worker"
    with pytest.raises(redis.ResponseError, match=msg):
        r2.eval("redis.call('set', 'a', 1); return redis.call('select', 1)", 0)
    assert r2.get("a") == b"1"  # as Redis: what ran before the error stays
    with pytest.raises(redis.ResponseError, match=msg):
        r2.eval("return redis.call('move', 'a', 1)", 0)
    with pytest.raises(redis.ResponseError, match=msg):
        r2.eval("return redis.call('flushall')", 0)
    with pytest.raises(redis.ResponseError, match="does not run INFO inside scripts"):
        r2.eval("return redis.call('info')", 0)
    assert r2.eval("redis.call('select', 2); redis.call('set', 'in2', 'v'); return redis.call('move', 'in2', 0)",
                   0) == 1
    assert r2.get("in2") == b"v"


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    srv = PikampServer(str(tmp_path_factory.mktemp("lua-busy"))).start()
    yield srv
    srv.stop()


def _conn_on_worker(port: int, worker: int, nworkers: int = 2) -> RawConn:
    """A connection the kernel gave to ``worker`` (client ids are worker + k * workers)."""
    for _ in range(200):
        c = RawConn(port)
        if parse(c.call("CLIENT", "ID")) % nworkers == worker:
            return c
        c.close()
    raise AssertionError(f"no connection landed on worker {worker}")


def test_script_kill(own_server):
    """Past busy-reply-threshold a script that has not written is stopped by
    SCRIPT KILL (sent through the other worker: the busy one serves nothing
    meanwhile); one that wrote is UNKILLABLE; with none running, NOTBUSY."""
    port = own_server.port
    killer = _conn_on_worker(port, 1)  # DB 0's scripts run in worker 0
    runner = RawConn(port, timeout=30)
    try:
        assert killer.call("CONFIG", "SET", "lua-time-limit", "100") == b"+OK\r\n"
        assert killer.call("SCRIPT", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
        body = "local i = 0 while true do i = i + 1 end"
        runner.send_raw(b"*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(body), body.encode()))
        deadline = time.monotonic() + 20
        while (reply := killer.call("SCRIPT", "KILL")) != b"+OK\r\n" and time.monotonic() < deadline:
            assert reply.startswith(b"-NOTBUSY"), reply
            time.sleep(0.05)
        assert reply == b"+OK\r\n"
        sha = hashlib.sha1(body.encode()).hexdigest()
        assert runner.read_reply() == (b"-ERR Script killed by user with SCRIPT KILL... script: %s, on "
                                       b"@user_script:1.\r\n" % sha.encode())
        assert runner.call("PING") == b"+PONG\r\n"
        # A script that wrote runs to its end (here: about 1.5 s).
        body = ("redis.call('set', 'w', '1') local t = redis.call('time') "
                "local stop = t[1] * 1000000 + t[2] + 1500000 "
                "repeat t = redis.call('time') until t[1] * 1000000 + t[2] > stop return 'done'")
        runner.send_raw(b"*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(body), body.encode()))
        deadline = time.monotonic() + 20
        while (reply := killer.call("SCRIPT", "KILL")).startswith(b"-NOTBUSY") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reply.startswith(b"-UNKILLABLE Sorry the script already executed write commands"), reply
        assert runner.read_reply() == b"$4\r\ndone\r\n"
        assert killer.call("SCRIPT", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
        assert runner.call("GET", "w") == b"$1\r\n1\r\n"
    finally:
        killer.close()
        runner.close()


def test_a_script_past_the_memory_limit_fails_and_the_worker_lives(r2):
    """A worker's Lua may hold at most 1 GB (Redis has no limit): past it the
    script fails, its garbage is collected, and the next script runs."""
    with pytest.raises(redis.ResponseError, match=r"not enough memory \(a script's Lua memory is at most 1024 MB\)"):
        r2.eval("local t = {} for i = 1, 8 do t[i] = string.rep('x', 2^28) .. i end return #t", 0)
    assert r2.eval("return #string.rep('y', 2^27)", 0) == 2**27
    assert r2.ping()
