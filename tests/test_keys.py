"""Generic key-space commands: DEL/EXISTS/TOUCH/TYPE, RENAME, COPY, MOVE, KEYS,
SCAN, RANDOMKEY, SWAPDB, FLUSHDB/FLUSHALL -- against redis-server, plus the
storage-level key copy and the glob matcher."""
from __future__ import annotations

import random
import threading
import time

import pytest
import redis
from servers import HOST, PikampServer

from pikamp.errors import RespError
from pikamp.numbers import parse_cursor
from pikamp.storage import codec, collections, keyspace
from pikamp.storage.cursors import ScanCursors
from pikamp.storage.database import Clock, Database
from pikamp.storage.engine import DATA, ZSCORE, Engine, Tuning


def need(diff, *cmd) -> None:
    """Run ``cmd`` on both servers; skip the test if pikamp does not have it yet."""
    reply, _ = diff.both(*cmd)
    if reply.startswith(b"-ERR unknown command"):
        pytest.skip(f"{cmd[0]} is not implemented yet")


def db_client(server, db: int) -> redis.Redis:
    return redis.Redis(host=HOST, port=server.port, db=db)


# -- DEL, EXISTS, TOUCH, TYPE, DBSIZE, FLUSH* ------------------------------------------


def test_del_exists_touch_count_existing_keys(diff):
    diff("SET", "a", "1")
    diff("SET", "b", "2")
    diff("EXISTS", "a", "b", "a", "missing")
    diff("TOUCH", "a", "b", "a", "missing")
    diff("DEL", "a", "missing", "a")
    diff("UNLINK", "b")
    diff("EXISTS", "a", "b")
    diff("TOUCH", "missing")
    diff("TOUCH")


def test_type_of_string_and_missing(diff):
    diff("SET", "s", "v")
    diff("TYPE", "s")
    diff("TYPE", "missing")


def test_dbsize_counts_keys(diff):
    diff("DBSIZE")
    diff("SET", "a", "1")
    diff("SET", "b", "1")
    diff("DBSIZE")
    diff("DEL", "a")
    diff("DBSIZE")


def test_flushdb_and_flushall_modes_and_errors(diff):
    for cmd in (["FLUSHDB"], ["FLUSHDB", "ASYNC"], ["FLUSHDB", "sync"], ["FLUSHDB", "foo"],
                ["FLUSHDB", "SYNC", "x"], ["FLUSHALL"], ["FLUSHALL", "async"], ["FLUSHALL", "bar"],
                ["FLUSHALL", "SYNC", "ASYNC"]):
        diff("SET", "k", "v")
        diff(*cmd)
        diff("DBSIZE")


def test_flushdb_only_empties_the_selected_db(diff):
    diff("SET", "k", "0")
    diff("SELECT", "1")
    diff("SET", "k", "1")
    diff("FLUSHDB")
    diff("DBSIZE")
    diff("SELECT", "0")
    diff("GET", "k")


# -- RENAME, RENAMENX ---------------------------------------------------------------


def test_rename_moves_value_and_replaces_destination(diff):
    diff("SET", "a", "1")
    diff("SET", "b", "2")
    diff("RENAME", "a", "b")
    diff("GET", "a")
    diff("GET", "b")
    diff("DBSIZE")


def test_rename_missing_key_is_an_error(diff):
    diff("RENAME", "missing", "x")
    diff("RENAMENX", "missing", "x")
    diff("RENAME", "missing", "missing")
    diff("RENAMENX", "missing", "missing")


def test_rename_to_itself(diff):
    diff("SET", "a", "1")
    diff("RENAME", "a", "a")
    diff("RENAMENX", "a", "a")
    diff("GET", "a")


def test_renamenx_only_when_destination_is_free(diff):
    diff("SET", "a", "1")
    diff("SET", "b", "2")
    diff("RENAMENX", "a", "b")
    diff("RENAMENX", "a", "c")
    diff("MGET", "a", "b", "c")


def test_rename_keeps_the_ttl(diff):
    diff("SET", "a", "1", "EX", "100")
    diff("SET", "b", "2", "EX", "500")
    diff("RENAME", "a", "c")
    diff("TTL", "c")
    diff("RENAME", "c", "b")
    diff("TTL", "b")
    diff("SET", "p", "x")
    diff("RENAME", "p", "b")
    diff("TTL", "b")


def test_rename_binary_keys(diff):
    diff("SET", b"\x00\xff\r\n", b"v\x00")
    diff("RENAME", b"\x00\xff\r\n", b"\xfe\x00")
    diff("GET", b"\xfe\x00")
    diff("EXISTS", b"\x00\xff\r\n")


def test_rename_arity(diff):
    diff("RENAME", "a")
    diff("RENAMENX", "a", "b", "c")


# -- COPY -----------------------------------------------------------------------------


def test_copy_within_a_db(diff):
    diff("SET", "a", "1", "EX", "100")
    diff("COPY", "a", "b")
    diff("GET", "b")
    diff("TTL", "b")
    diff("COPY", "a", "b")
    diff("SET", "a", "2")
    diff("COPY", "a", "b", "REPLACE")
    diff("GET", "b")
    diff("TTL", "b")
    diff("COPY", "missing", "b", "REPLACE")


def test_copy_errors(diff):
    diff("SET", "a", "1")
    for cmd in (["COPY", "a", "a"], ["COPY", "a", "a", "DB", "0"], ["COPY", "a", "b", "DB"],
                ["COPY", "a", "b", "DB", "x"], ["COPY", "a", "b", "DB", "16"],
                ["COPY", "a", "b", "DB", "-1"], ["COPY", "a", "b", "DB", "4294967296"],
                ["COPY", "a", "b", "FOO"], ["COPY", "a", "b", "REPLACE", "REPLACE", "x"],
                ["COPY", "missing", "missing"], ["COPY", "a"]):
        diff(*cmd)


@pytest.mark.parametrize("dest", ["1", "2"], ids=["other-worker", "same-worker"])
def test_copy_to_another_db(diff, dest):
    diff("SET", "a", "1", "EX", "100")
    diff("COPY", "a", "a", "DB", dest)
    diff("COPY", "a", "b", "db", dest)
    diff("SET", "a", "2")
    diff("COPY", "a", "b", "DB", dest)
    diff("COPY", "a", "b", "REPLACE", "DB", dest)
    diff("SELECT", dest)
    diff("MGET", "a", "b")
    diff("TTL", "a")
    diff("TTL", "b")
    diff("DBSIZE")


# -- MOVE -----------------------------------------------------------------------------


def test_move_errors(diff):
    diff("SET", "a", "1")
    for cmd in (["MOVE", "a", "0"], ["MOVE", "a", "16"], ["MOVE", "a", "-1"], ["MOVE", "a", "x"],
                ["MOVE", "a", "99999999999"], ["MOVE", "a"], ["MOVE", "missing", "0"]):
        diff(*cmd)


@pytest.mark.parametrize("dest", ["1", "2"], ids=["other-worker", "same-worker"])
def test_move_to_another_db(diff, dest):
    diff("SET", "a", "1", "EX", "100")
    diff("SET", "b", "2")
    diff("MOVE", "a", dest)
    diff("MOVE", "missing", dest)
    diff("EXISTS", "a")
    diff("DBSIZE")
    diff("SELECT", dest)
    diff("GET", "a")
    diff("TTL", "a")
    diff("SET", "b", "dest")
    diff("SELECT", "0")
    diff("MOVE", "b", dest)  # exists there: not moved
    diff("GET", "b")


def test_move_binary_key_and_back(r, pikamp_server):
    key = b"\x00k\xff"
    r.set(key, b"\x00v")
    assert r.move(key, 1) is True
    one = db_client(pikamp_server, 1)
    assert one.get(key) == b"\x00v"
    assert one.move(key, 0) is True
    assert r.get(key) == b"\x00v"
    assert one.exists(key) == 0


# -- collections: RENAME / COPY / MOVE carry every member ----------------------------------

# type -> (create "c", create "d" with other members, read "{}")
COLLECTIONS = {
    "hash": (["HSET", "c", "f1", "v1", "f2", "v2"], ["HSET", "d", "x", "y"], ["HGETALL", "{}"]),
    "set": (["SADD", "c", "m1", "m2", "m3"], ["SADD", "d", "x"], ["SMEMBERS", "{}"]),
    "list": (["RPUSH", "c", "e1", "e2", "e1"], ["RPUSH", "d", "x"], ["LRANGE", "{}", "0", "-1"]),
    "zset": (["ZADD", "c", "1", "m1", "-2.5", "m2"], ["ZADD", "d", "7", "x"],
             ["ZRANGE", "{}", "0", "-1", "WITHSCORES"]),
}


def _read(diff, reader: list[str], key: str) -> None:
    diff(*[a.format(key) for a in reader], unordered=reader[0] in ("HGETALL", "SMEMBERS"))


@pytest.mark.parametrize("kind", COLLECTIONS)
def test_rename_collection(diff, kind):
    create, _, reader = COLLECTIONS[kind]
    need(diff, *create)
    diff("PEXPIRE", "c", "100000")
    diff("SET", "d", "old")
    diff("RENAME", "c", "d")
    _read(diff, reader, "d")
    diff("TYPE", "d")
    diff("EXISTS", "c")
    diff("TTL", "d")
    diff(*create)  # a new key under the old name shows none of the moved members
    _read(diff, reader, "c")


@pytest.mark.parametrize("kind", COLLECTIONS)
def test_copy_collection_replacing_another(diff, kind):
    create, other, reader = COLLECTIONS[kind]
    need(diff, *create)
    diff(*other)
    diff("COPY", "c", "d")
    diff("COPY", "c", "d", "REPLACE")
    _read(diff, reader, "d")
    diff("DEL", "c")
    _read(diff, reader, "d")


@pytest.mark.parametrize("dest", ["1", "2"], ids=["other-worker", "same-worker"])
@pytest.mark.parametrize("kind", COLLECTIONS)
def test_copy_and_move_collection_between_dbs(diff, kind, dest):
    create, _, reader = COLLECTIONS[kind]
    need(diff, *create)
    diff("EXPIRE", "c", "100")
    diff("COPY", "c", "c2", "DB", dest)
    diff("MOVE", "c", dest)
    diff("EXISTS", "c")
    diff("SELECT", dest)
    _read(diff, reader, "c")
    _read(diff, reader, "c2")
    diff("TTL", "c")
    diff("DBSIZE")


# -- KEYS -------------------------------------------------------------------------------

GLOB_KEYS = ["a", "b", "ab", "abc", "aXc", "a*c", "a?c", "a[c", "a]c", "a\\c", "a-c", "a^c",
             "hello", "hallo", "hxllo", "hllo", "heeeello", "", "*", "?", "[", "]", "\\", "^", "-",
             "key:1", "key:10", "key:2", "key:x", "é", "\x00z"]

GLOB_PATTERNS = ["*", "**", "", "?", "??", "a*", "*c", "a?c", "a*c", "h?llo", "h*llo", "h[ae]llo",
                 "h[^e]llo", "h[a-b]llo", "h[b-a]llo", "a[*]c", "a\\*c", "a\\?c", "a[\\]]c",
                 "a[]]c", "[]", "[]a]", "[", "a[", "a[c", "[^", "[^]", "\\", "a\\", "a\\\\c",
                 "a[-]c", "a[a-]", "a[\\-]c", "a[^a-z]c", "key:[0-9]", "key:[0-9]*", "key:?",
                 "*:*", "[a-", "[\\", "*[", "a**c", "*?*", "\\*", "[*?]", "[[]", "a[!c]c", "\x00*"]


def test_keys_glob_patterns(diff):
    for k in GLOB_KEYS:
        diff("SET", k, "v")
    for p in GLOB_PATTERNS:
        diff("KEYS", p, unordered=True)


def test_keys_random_patterns_match_redis(diff):
    rng = random.Random(7)
    alphabet = "ab*?[]^-\\"
    keys = {"".join(rng.choice("ab[]^-\\*?") for _ in range(rng.randint(1, 4))) for _ in range(60)}
    for k in keys:
        diff("SET", k, "v")
    for _ in range(250):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        diff("KEYS", pattern, unordered=True)


def test_keys_arity(diff):
    diff("KEYS")
    diff("KEYS", "*", "string")


def test_keys_skips_expired_keys(diff):
    diff("SET", "live", "1")
    diff("SET", "gone", "1", "PX", "1")
    time.sleep(0.05)
    diff("KEYS", "*", unordered=True)


# -- SCAN -------------------------------------------------------------------------------


def test_scan_argument_errors(diff):
    for cmd in (["SCAN", "abc"], ["SCAN", " 1"], ["SCAN", "1 "], ["SCAN", "+"], ["SCAN", "0x1"],
                ["SCAN", "18446744073709551616"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "COUNT", "-1"],
                ["SCAN", "0", "COUNT", "x"], ["SCAN", "0", "MATCH"], ["SCAN", "0", "TYPE"],
                ["SCAN", "0", "FOO", "bar"], ["SCAN", "0", "COUNT"], ["SCAN"]):
        diff(*cmd)


def test_scan_small_db_returns_everything_at_once(diff):
    for i in range(5):
        diff("SET", f"k{i}", "v")
    diff("SCAN", "0", unordered=True)
    diff("SCAN", "", unordered=True)
    diff("SCAN", "0", "MATCH", "k[1-3]", unordered=True)
    diff("SCAN", "0", "TYPE", "string", unordered=True)
    diff("SCAN", "0", "TYPE", "STRING", "MATCH", "*", unordered=True)
    diff("SCAN", "0", "TYPE", "hash", unordered=True)
    diff("SCAN", "0", "TYPE", "nosuchtype", unordered=True)
    diff("SCAN", "0", "count", "100", "match", "k*", "match", "k1", unordered=True)


def test_scan_empty_db(diff):
    diff("SCAN", "0")
    diff("SCAN", "0", "MATCH", "x*", "COUNT", "5")


def test_parse_cursor_follows_strtoul():
    assert parse_cursor(b"0") == 0
    assert parse_cursor(b"") == 0
    assert parse_cursor(b"+12") == 12
    assert parse_cursor(b"007") == 7
    assert parse_cursor(b"-1") == 2**64 - 1
    assert parse_cursor(b"18446744073709551615") == 2**64 - 1
    assert parse_cursor(b"5\x00junk") == 5
    for bad in (b" 1", b"\t1", b"1 ", b"+", b"-", b"x", b"1x", b"18446744073709551616", b"- 1"):
        with pytest.raises(RespError):
            parse_cursor(bad)


def _scan_all(client, **kw) -> list[bytes]:
    out: list[bytes] = []
    cursor = 0
    for _ in range(100_000):
        cursor, keys = client.scan(cursor, **kw)
        out += keys
        if cursor == 0:
            return out
    raise AssertionError("SCAN did not finish")


@pytest.fixture
def thousand(r):
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"key:{i}", i)
    pipe.execute()
    return {f"key:{i}".encode() for i in range(1000)}


@pytest.mark.parametrize("count", [1, 7, 10, 100, 999, 1000, 5000])
def test_scan_visits_every_key_once(r, thousand, count):
    seen = _scan_all(r, count=count)
    assert len(seen) == len(set(seen)) == 1000
    assert set(seen) == thousand == set(r.keys("*"))


def test_scan_match_equals_keys(r, thousand):
    for pattern in ("key:1*", "key:?", "*9", "key:[2-3]?", "nomatch*", "*"):
        seen = _scan_all(r, match=pattern, count=37)
        assert len(seen) == len(set(seen))
        assert set(seen) == set(r.keys(pattern)), pattern


def test_scan_type_filter(r, thousand):
    assert set(_scan_all(r, _type="string", count=50)) == thousand
    assert _scan_all(r, _type="hash", count=50) == []


def test_scan_with_default_count_returns_at_most_ten_per_call(r, thousand):
    cursor, keys = r.scan(0)
    assert cursor != 0 and len(keys) == 10


def test_scan_under_concurrent_writes_never_repeats_or_misses_stable_keys(r, thousand):
    stable = {k for k in thousand if int(k.split(b":")[1]) % 3 == 0}
    seen: list[bytes] = []
    cursor, n = 0, 0
    while True:
        cursor, keys = r.scan(cursor, count=25)
        seen += keys
        n += 1
        # churn: delete some unstable keys, add new ones
        r.delete(*[f"key:{i}" for i in range(n * 7 % 1000, 1000, 97) if i % 3])
        r.set(f"new:{n}", 1)
        if cursor == 0:
            break
    assert len(seen) == len(set(seen))
    assert stable <= set(seen)


def test_scan_unknown_cursor_starts_over(r):
    r.set("only", 1)
    assert r.scan(123456789) == (0, [b"only"])


def test_cursor_table_evicts_least_recently_used():
    table = ScanCursors(capacity=2)
    c1, c2 = table.new_cursor(0, b"a"), table.new_cursor(0, b"b")
    assert table.resume_point(c1, 0) == b"a"  # c1 is now the most recent
    c3 = table.new_cursor(0, b"c")
    assert table.resume_point(c2, 0) == b""  # evicted: the scan starts over
    assert table.resume_point(c1, 0) == b"a" and table.resume_point(c3, 0) == b"c"


def test_cursor_of_another_scan_starts_over():
    table = ScanCursors()
    c = table.new_cursor((0, None), b"k")
    assert table.resume_point(c, (1, None)) == b""


# -- RANDOMKEY ----------------------------------------------------------------------------


def test_randomkey_empty_and_single(diff):
    diff("RANDOMKEY")
    diff("SET", "only", "1")
    diff("RANDOMKEY")
    diff("RANDOMKEY", "x")


def test_randomkey_returns_live_keys_spread_out(r):
    names = {f"user:{i}".encode() for i in range(200)}
    r.mset({k: 1 for k in names})
    picks = {r.randomkey() for _ in range(200)}
    assert picks <= names
    assert len(picks) > 20


def test_randomkey_skips_expired_keys(r):
    r.set("live", 1)
    for i in range(20):
        r.set(f"dead{i}", 1, px=1)
    time.sleep(0.05)
    assert {r.randomkey() for _ in range(20)} == {b"live"}


# -- SWAPDB -------------------------------------------------------------------------------


def test_swapdb_errors(diff):
    for cmd in (["SWAPDB", "a", "b"], ["SWAPDB", "0", "b"], ["SWAPDB", "0", "16"], ["SWAPDB", "-1", "0"],
                ["SWAPDB", "4294967296", "0"], ["SWAPDB", "0", "99999999999"], ["SWAPDB", "0"],
                ["SWAPDB", "3", "3"]):
        diff(*cmd)


@pytest.mark.parametrize("other", ["1", "2"], ids=["other-worker", "same-worker"])
def test_swapdb_exchanges_contents(diff, other):
    diff("SET", "k", "zero", "EX", "100")
    diff("SET", "only0", "x")
    diff("SELECT", other)
    diff("SET", "k", "other")
    diff("SWAPDB", "0", other)
    diff("MGET", "k", "only0")
    diff("TTL", "k")
    diff("DBSIZE")
    diff("SELECT", "0")
    diff("MGET", "k", "only0")
    diff("DBSIZE")
    diff("SET", "after", "swap")
    diff("SWAPDB", other, "0")
    diff("MGET", "k", "only0", "after")
    diff("DBSIZE")


def test_swapdb_keeps_expiry_working(r, pikamp_server):
    one = db_client(pikamp_server, 1)
    one.set("short", 1, px=50)
    r.swapdb(0, 1)
    deadline = time.monotonic() + 10
    while r.dbsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 0


@pytest.mark.parametrize("other", [1, 2], ids=["other-worker", "same-worker"])
def test_swapdb_under_concurrent_writes_loses_nothing(r, pikamp_server, other):
    acked = [0]
    errors: list[Exception] = []
    stop = threading.Event()

    def writer() -> None:
        c = db_client(pikamp_server, other)
        while not stop.is_set():
            try:
                pipe = c.pipeline(transaction=False)
                for _ in range(20):
                    pipe.incr("counter")
                pipe.execute()
            except Exception as e:  # noqa: BLE001 - any failure fails the test
                errors.append(e)
                return
            acked[0] += 20

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(30):
            assert r.swapdb(0, other) is True
    finally:
        stop.set()
        t.join(20)
    assert errors == []
    counters = [db_client(pikamp_server, i).get("counter") for i in (0, other)]
    assert sum(int(c or 0) for c in counters) == acked[0]


def test_swapdb_survives_a_restart(tmp_path):
    srv = PikampServer(str(tmp_path)).start()
    try:
        clients = [db_client(srv, i) for i in range(4)]
        for i, c in enumerate(clients):
            c.set("who", f"db{i}")
        clients[0].swapdb(0, 1)  # owners differ
        clients[0].swapdb(1, 3)  # same owner
        clients[0].swapdb(2, 0)
        before = [c.get("who") for c in clients]
        assert before == [b"db2", b"db3", b"db1", b"db0"]
        srv.stop()
        srv.start()
        assert [db_client(srv, i).get("who") for i in range(4)] == before
        assert [db_client(srv, i).dbsize() for i in range(4)] == [1, 1, 1, 1]
    finally:
        srv.stop()


# -- storage level: the generic member copy ---------------------------------------------------


@pytest.fixture
def dbs(tmp_path):
    clock = Clock()
    opened = [Database(i, Engine(str(tmp_path / f"db{i}"), tuning=Tuning(write_buffer_size=1 << 20),
                                 block_cache_size=1 << 20), clock) for i in range(2)]
    yield opened
    for db in opened:
        db.engine.close()


def _members(db: Database, key: bytes) -> tuple[list, list]:
    raw = db.lookup(key)
    prefix = codec.data_prefix(key, codec.meta_version(raw))
    end = codec.prefix_end(prefix)
    n = len(prefix)
    return ([(k[n:], v) for k, v in db.engine.iterate(DATA, prefix, end)],
            [(k[n:], v) for k, v in db.engine.iterate(ZSCORE, prefix, end)])


def _make_zset(db: Database, key: bytes, scores: dict[bytes, float], expire: int = 0) -> None:
    meta = collections.load_or_new(db, key, codec.ZSET)
    for member, score in scores.items():
        db.engine.put(DATA, meta.prefix + member, codec.pack_double(score))
        db.engine.put(ZSCORE, meta.prefix + codec.encode_score(score) + member, b"")
    meta.count = len(scores)
    meta.expire = expire
    meta.save(db)


def _make_list(db: Database, key: bytes, items: list[bytes]) -> None:
    version = db.new_version()
    prefix = codec.data_prefix(key, version)
    left = codec.LIST_INITIAL_LEFT
    for i, item in enumerate(items):
        db.engine.put(DATA, prefix + codec.encode_index(left + 1 + i), item)
    db.put_meta(key, codec.encode_list(version, len(items), left, left + 1 + len(items)), None)


def test_copy_key_rewrites_members_under_a_new_version(dbs):
    db = dbs[0]
    _make_zset(db, b"z", {b"a": 1.0, b"b": -3.5}, expire=db.clock.ms + 100_000)
    raw = db.lookup(b"z")
    keyspace.copy_key(db, b"z", raw, db, b"z2", None)
    db.commit()
    copy = db.lookup(b"z2")
    assert codec.meta_version(copy) != codec.meta_version(raw)
    assert codec.meta_expire(copy) == codec.meta_expire(raw)
    assert _members(db, b"z2") == _members(db, b"z")
    assert len(_members(db, b"z2")[1]) == 2
    assert db.size == 2


def test_copy_key_replacing_a_collection_drops_its_members(dbs):
    db = dbs[0]
    _make_zset(db, b"src", {b"a": 1.0})
    _make_zset(db, b"dst", {b"x": 5.0, b"y": 6.0})
    keyspace.copy_key(db, b"src", db.lookup(b"src"), db, b"dst", db.lookup(b"dst"))
    db.commit()
    assert _members(db, b"dst") == _members(db, b"src")
    start, end = codec.key_range(b"dst")
    assert len(list(db.engine.iterate(DATA, start, end))) == 1


def test_rename_key_leaves_nothing_under_the_old_name(dbs):
    db = dbs[0]
    _make_list(db, b"l", [b"x", b"y", b"z"])
    before = _members(db, b"l")
    keyspace.rename_key(db, b"l", db.lookup(b"l"), b"m", None)
    db.commit()
    assert db.lookup(b"l") is None
    assert _members(db, b"m") == before
    start, end = codec.key_range(b"l")
    assert list(db.engine.iterate(DATA, start, end)) == []
    assert db.size == 1


def test_dump_and_restore_into_another_db(dbs):
    src, dst = dbs
    _make_zset(src, b"z", {b"m": 2.0, b"\x00bin": float("-inf")})
    src.put_meta(b"s", codec.encode_string(b"\x00value", 12345678901234), None)
    for key in (b"z", b"s"):
        payload = keyspace.dump_key(src, key, src.lookup(key))
        keyspace.restore_key(dst, key, payload, None)
    dst.commit()
    assert _members(dst, b"z") == _members(src, b"z")
    assert dst.lookup(b"s") == src.lookup(b"s")
    assert dst.size == 2


def test_delete_if_unchanged_keeps_a_modified_key(dbs):
    db = dbs[0]
    _make_zset(db, b"z", {b"a": 1.0})
    image = keyspace.read_image(db, b"z", db.lookup(b"z"))
    meta = collections.load(db, b"z", codec.ZSET)
    db.engine.put(DATA, meta.prefix + b"a", codec.pack_double(9.0))  # changed in place
    assert keyspace.delete_if_unchanged(db, b"z", image) is False
    image = keyspace.read_image(db, b"z", db.lookup(b"z"))
    assert keyspace.delete_if_unchanged(db, b"z", image) is True
    assert db.lookup(b"z") is None


def test_random_key_and_scan_at_storage_level(dbs):
    db = dbs[0]
    assert keyspace.random_key(db) is None
    for i in range(30):
        db.put_meta(b"k%02d" % i, codec.encode_string(b"v"), None)
    assert keyspace.random_key(db) in {b"k%02d" % i for i in range(30)}
    cursor, first = keyspace.scan(db, 0, 12, None, None)
    assert len(first) == 12 and cursor
    cursor, second = keyspace.scan(db, cursor, 100, keyspace.compile_pattern(b"k1*"), "string")
    assert cursor == 0 and second == [b"k%02d" % i for i in range(12, 20)]


def test_exchange_directories(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "f").write_text("A")
    (b / "f").write_text("B")
    keyspace.exchange_directories(str(a), str(b))
    assert ((a / "f").read_text(), (b / "f").read_text()) == ("B", "A")
    keyspace.exchange_by_renames(str(a), str(b))
    assert ((a / "f").read_text(), (b / "f").read_text()) == ("A", "B")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_detached_engine_can_be_reopened(dbs, tmp_path):
    db = dbs[1]
    db.put_meta(b"k", codec.encode_string(b"v"), None)
    path = keyspace.detach_engine(db)
    db.reopen(Engine(path, tuning=Tuning(write_buffer_size=1 << 20), block_cache_size=1 << 20))
    assert db.size == 1 and db.lookup(b"k") is not None


# -- the glob matcher ---------------------------------------------------------------------------


@pytest.mark.parametrize("pattern,text,expected", [
    (b"*", b"", False),  # like stringmatchlen; KEYS/SCAN special-case a lone "*"
    (b"", b"", True),
    (b"a*", b"a", True),
    (b"a[", b"ab", False),
    (b"a[b", b"ab", True),
    (b"[^", b"x", True),
    (b"[a-]", b"^", True),  # a range from ']' to 'a'
    (b"\\", b"\\", True),
    (b"a\\*", b"a*", True),
    (b"a\\*", b"ab", False),
    (b"[]]", b"]", False),
    (b"*a*a*a*a*a*a*a*b", b"a" * 200, False),
])
def test_glob_edge_cases(pattern, text, expected):
    assert keyspace.Glob(pattern).match(text) is expected


def test_glob_literal_prefix():
    assert keyspace.Glob(b"user:[1]x*y").prefix == b"user:1x"
    assert keyspace.Glob(b"\\*a?").prefix == b"*a"
    assert keyspace.compile_pattern(b"*") is None
