"""MULTI / EXEC / DISCARD / WATCH / UNWATCH: byte-identical to Redis 7.0 in
RESP2 and RESP3 (``diff``), atomic inside the owner worker, WATCH failed by a
write from any client on any worker, by expiry and by FLUSHDB; and what
redis-py's default pipeline() and its WATCH helpers do."""
from __future__ import annotations

import threading
import time

import pytest
import redis

from resp_client import RawConn, encode_command
from servers import HOST, PikampServer

SEQUENCES = {
    "queue_and_exec": [("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("LPOP", "a"), ("GET", "a"), ("EXEC",)],
    "empty": [("MULTI",), ("EXEC",)],
    "bad_select_inside": [("MULTI",), ("SELECT", "03"), ("SET", "a", "1"), ("SELECT", "99"), ("GET", "a"),
                          ("EXEC",), ("GET", "a")],
    "local_commands": [("MULTI",), ("PING",), ("ECHO", "x"), ("SET", "k", "v"), ("PING", "p"), ("EXEC",)],
    "nested_and_watch_inside": [("MULTI",), ("MULTI",), ("WATCH", "x"), ("SET", "x", "1"), ("EXEC",)],
    "queue_errors_abort": [("MULTI",), ("SET", "a", "1"), ("NOSUCH",), ("SET", "a"), ("EXEC",), ("GET", "a")],
    "discard": [("MULTI",), ("SET", "a", "1"), ("DISCARD",), ("GET", "a"), ("EXEC",), ("DISCARD",)],
    "arity": [("WATCH",), ("UNWATCH", "x"), ("MULTI", "x"), ("DISCARD", "x"), ("EXEC", "x")],
    "exec_arity_in_multi": [("MULTI",), ("SET", "a", "1"), ("EXEC", "x"), ("EXEC",), ("GET", "a")],
    "blocking_inside": [("MULTI",), ("BLPOP", "nol", "0"), ("BRPOPLPUSH", "a", "b", "0"),
                        ("BLMOVE", "a", "b", "LEFT", "LEFT", "0"), ("BZPOPMIN", "z", "0"),
                        ("RPUSH", "nol", "x"), ("BLPOP", "nol", "0"), ("EXEC",)],
    "runtime_errors_inside": [("SET", "s", "x"), ("MULTI",), ("LPUSH", "s", "y"), ("INCR", "s"),
                              ("HGETALL", "nohash"), ("SMEMBERS", "noset"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
                              ("EXEC",)],
    "watch_changed": [("SET", "w", "1"), ("WATCH", "w"), ("SET", "w", "2"), ("MULTI",), ("GET", "w"), ("EXEC",),
                      ("MULTI",), ("GET", "w"), ("EXEC",)],
    "watch_unchanged": [("SET", "w", "1"), ("WATCH", "w", "other"), ("GET", "w"), ("MULTI",), ("GET", "w"),
                        ("EXEC",)],
    "unwatch": [("SET", "w", "1"), ("WATCH", "w"), ("UNWATCH",), ("SET", "w", "3"), ("MULTI",), ("GET", "w"),
                ("EXEC",)],
    "watch_missing_key_created": [("WATCH", "nokey"), ("SET", "nokey", "1"), ("MULTI",), ("PING",), ("EXEC",)],
    "watch_then_own_write_in_exec": [("WATCH", "k"), ("MULTI",), ("SET", "k", "1"), ("EXEC",), ("GET", "k")],
    "watch_hash_field_overwritten": [("HSET", "h", "f", "1"), ("WATCH", "h"), ("HSET", "h", "f", "2"), ("MULTI",),
                                     ("PING",), ("EXEC",)],
    "watch_failed_setnx_no_change": [("SET", "w", "1"), ("WATCH", "w"), ("SET", "w", "1", "NX"), ("MULTI",),
                                     ("PING",), ("EXEC",)],
    "watch_flushdb": [("SET", "w", "1"), ("WATCH", "w"), ("FLUSHDB",), ("MULTI",), ("PING",), ("EXEC",)],
    "watch_flushdb_missing": [("WATCH", "nothere"), ("FLUSHDB",), ("MULTI",), ("PING",), ("EXEC",)],
    "watch_del": [("RPUSH", "l", "a"), ("WATCH", "l"), ("DEL", "l"), ("MULTI",), ("PING",), ("EXEC",)],
    "watch_expire_set": [("SET", "w", "1"), ("WATCH", "w"), ("EXPIRE", "w", "100"), ("MULTI",), ("PING",), ("EXEC",)],
    "discard_unwatches": [("SET", "w", "1"), ("WATCH", "w"), ("MULTI",), ("DISCARD",), ("SET", "w", "2"),
                          ("MULTI",), ("PING",), ("EXEC",)],
    "exec_unwatches": [("SET", "w", "1"), ("WATCH", "w"), ("MULTI",), ("EXEC",), ("SET", "w", "2"), ("MULTI",),
                       ("PING",), ("EXEC",)],
    "abort_unwatches": [("SET", "w", "1"), ("WATCH", "w"), ("MULTI",), ("NOSUCH",), ("EXEC",), ("SET", "w", "2"),
                        ("MULTI",), ("PING",), ("EXEC",)],
}


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_transactions_like_redis(diff, name):
    diff.run(SEQUENCES[name])


def test_watch_expired_key_fails_exec(diff):
    diff("SET", "w", "1", "PX", "100")
    diff("WATCH", "w")
    time.sleep(0.25)
    diff("MULTI")
    diff("PING")
    diff("EXEC")


def test_write_from_another_client_fails_exec(pikamp_server, redis_server):
    for port in (pikamp_server.port, redis_server.port):
        a, b = RawConn(port), RawConn(port)
        a.call("FLUSHALL")
        a.call("SET", "w", "1")
        assert a.call("WATCH", "w") == b"+OK\r\n"
        b.call("APPEND", "w", "x")
        a.call("MULTI")
        a.call("SET", "w", "mine")
        assert a.call("EXEC") == b"*-1\r\n"
        assert b.call("GET", "w") == b"$2\r\n1x\r\n"
        a.close()
        b.close()


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    srv = PikampServer(str(tmp_path_factory.mktemp("multi2")), workers=2).start()
    srv.wait_all_workers()
    yield srv
    srv.stop()


def _clients_on_both_workers(port: int, n: int = 12) -> list[RawConn]:
    """Connections spread over the workers by SO_REUSEPORT (with 12 of them,
    both workers hold some, but for a chance of 1 in 2048)."""
    return [RawConn(port) for _ in range(n)]


def test_watch_sees_writes_from_every_worker(two_workers):
    """Whichever worker the watching and the writing clients sit on, a write
    to the watched key (in a DB owned by either worker) fails the EXEC."""
    conns = _clients_on_both_workers(two_workers.port)
    try:
        for db in ("0", "1"):
            for watcher in conns[:3]:
                for writer in conns[-6:]:
                    for c in (watcher, writer):
                        c.call("SELECT", db)
                    writer.call("SET", "w", "1")
                    assert watcher.call("WATCH", "w") == b"+OK\r\n"
                    writer.call("INCR", "w")
                    assert watcher.call("MULTI") == b"+OK\r\n"
                    assert watcher.call("GET", "w") == b"+QUEUED\r\n"
                    assert watcher.call("EXEC") == b"*-1\r\n"
                    assert watcher.call("WATCH", "w") == b"+OK\r\n"
                    watcher.call("MULTI")
                    watcher.call("GET", "w")
                    assert watcher.call("EXEC") == b"*1\r\n$1\r\n2\r\n"
    finally:
        for c in conns:
            c.close()


def test_transaction_over_two_workers_is_refused_whole(two_workers):
    c = RawConn(two_workers.port)
    try:
        c.call("FLUSHALL")
        c.call("MULTI")
        c.call("SET", "a", "0")
        c.call("SELECT", "1")  # owned by the other worker
        c.call("SET", "a", "1")
        reply = c.call("EXEC")
        assert reply.startswith(b"-ERR this transaction needs DBs owned by different workers"), reply
        assert c.call("GET", "a") == b"$-1\r\n"  # still DB 0: nothing ran, SELECT included
        c.call("SELECT", "1")
        assert c.call("GET", "a") == b"$-1\r\n"
        c.call("SELECT", "2")  # the same worker as DB 0
        c.call("MULTI")
        c.call("SET", "a", "2")
        c.call("SELECT", "0")
        c.call("SET", "a", "0")
        assert c.call("EXEC") == b"*3\r\n+OK\r\n+OK\r\n+OK\r\n"
        assert c.call("GET", "a") == b"$1\r\n0\r\n"  # the SELECT inside took effect
        c.call("SELECT", "2")
        assert c.call("GET", "a") == b"$1\r\n2\r\n"
    finally:
        c.close()


def test_exec_is_not_interleaved(two_workers):
    """While one client's EXEC increments a key 500 times, readers on both
    workers see either none or all of the increments."""
    port = two_workers.port
    writer = RawConn(port)
    writer.call("SET", "counter", "0")
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        r = RawConn(port)
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            seen.add(r.call("GET", "counter"))
        r.close()

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        for round_ in range(1, 6):
            writer.call("MULTI")
            for _ in range(500):
                writer.call("INCR", "counter")
            reply = writer.call("EXEC")
            assert reply.endswith(b":%d\r\n" % (500 * round_))
    finally:
        stop.set()
        for t in readers:
            t.join(60)
        writer.close()
    allowed = {b"$%d\r\n%d\r\n" % (len(str(v)), v) for v in range(0, 2501, 500)}
    assert seen and seen <= allowed, sorted(seen - allowed)[:5]


def test_exec_inside_blocked_pop_serving(two_workers):
    """A transaction's push serves a client blocked on that list, after EXEC."""
    port = two_workers.port
    blocked, pusher = RawConn(port), RawConn(port)
    try:
        blocked.call("DEL", "q")
        blocked.send_raw(encode_command(("BLPOP", "q", "5")))
        time.sleep(0.2)
        pusher.call("MULTI")
        pusher.call("RPUSH", "q", "job")
        pusher.call("LLEN", "q")
        assert pusher.call("EXEC") == b"*2\r\n:1\r\n:1\r\n"
        assert blocked.read_reply() == b"*2\r\n$1\r\nq\r\n$3\r\njob\r\n"
    finally:
        blocked.close()
        pusher.close()


# -- redis-py, as applications use it ------------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pipeline_and_watch(pikamp_server, protocol):
    r = redis.Redis(host=HOST, port=pikamp_server.port, protocol=protocol)
    other = redis.Redis(host=HOST, port=pikamp_server.port, protocol=protocol)
    try:
        r.flushall()
        # pipeline() is transactional by default (MULTI ... EXEC): Django's set_many, kombu.
        with r.pipeline() as p:
            p.set("a", 1).incr("a").get("a").lpush("l", "x").hset("h", "f", "v").expire("a", 100)
            assert p.execute() == [True, 2, b"2", 1, 1, True]
        with r.pipeline() as p:
            p.set("s", "x").lpush("s", "y").get("s")
            result = p.execute(raise_on_error=False)
            assert result[0] is True and isinstance(result[1], redis.ResponseError) and result[2] == b"x"

        def incr(pipe: redis.client.Pipeline) -> None:
            value = int(pipe.get("n") or 0)
            pipe.multi()
            pipe.set("n", value + 1)

        r.set("n", 5)
        assert r.transaction(incr, "n") == [True]
        assert r.get("n") == b"6"
        with r.pipeline() as p:
            p.watch("n")
            other.set("n", 100)
            p.multi()
            p.set("n", 0)
            with pytest.raises(redis.WatchError):
                p.execute()
        assert r.get("n") == b"100"
        lock = r.lock("lock:x", timeout=5)
        assert lock.acquire(blocking=False) and r.exists("lock:x")
    finally:
        r.close()
        other.close()


# -- one write batch ----------------------------------------------------------------
def test_merged_iteration_matches_committed_and_commits_nothing(tmp_path):
    """While merging (an EXEC runs), iterate shows the pending writes laid over
    RocksDB, forward and reverse, exactly as a commit-then-iterate would, and
    writes nothing to RocksDB meanwhile."""
    import random

    from pikamp.storage.engine import DATA, Engine

    eng = Engine(str(tmp_path / "db"))
    rng = random.Random(3)
    keys = [b"k%03d" % i for i in range(200)]
    model: dict[bytes, bytes] = {}
    for k in rng.sample(keys, 100):
        eng.put(DATA, k, b"old" + k)
        model[k] = b"old" + k
    eng.commit()
    committed = {k: eng.cfs[DATA].get(k) for k in keys}  # RocksDB itself, not the overlay
    eng.merging = True
    try:
        for step in range(300):
            k = rng.choice(keys)
            if rng.random() < 0.35:
                eng.delete(DATA, k)
                model.pop(k, None)
            else:
                eng.put(DATA, k, b"new%d" % step)
                model[k] = b"new%d" % step
            lo, hi = sorted(rng.sample(keys, 2))
            want = sorted((k2, v) for k2, v in model.items() if lo <= k2 < hi)
            assert list(eng.iterate(DATA, lo, hi)) == want
            assert list(eng.iterate(DATA, lo, hi, True)) == want[::-1]
            assert list(eng.iterate(DATA, lo)) == sorted((k2, v) for k2, v in model.items() if lo <= k2)
            assert eng.dirty  # nothing committed halfway ...
        assert {k: eng.cfs[DATA].get(k) for k in keys} == committed  # ... so RocksDB is as it was
    finally:
        eng.merging = False
    eng.commit()
    assert list(eng.iterate(DATA, b"")) == sorted(model.items())
    eng.close()


def test_exec_with_range_reads_is_one_batch(diff):
    """Writes, then range reads of what was just written, inside one EXEC:
    the replies are Redis' (the reads see the writes) ..."""
    diff.run([("MULTI",), ("HSET", "h", "a", "1", "b", "2"), ("HGETALL", "h"), ("SADD", "s", "x", "y"),
              ("SMISMEMBER", "s", "x", "y", "z"), ("SCARD", "s"), ("RPUSH", "l", "1", "2", "3"), ("LRANGE", "l", "0", "-1"), ("DEL", "h"),
              ("HSET", "h", "c", "3"), ("HGETALL", "h"), ("ZADD", "z", "1", "m", "2", "n"),
              ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("KEYS", "h*"), ("EXEC",)])
