"""Master/replica replication through the replication processes: a full sync
by checkpoint for a new replica, then the binlog streamed; a restarted or
cut-off replica resyncs partially from the positions its DBs hold; a purged
position or SLAVEOF ... force means one full sync; chained replicas; SLAVEOF
NO ONE keeps the data; replicas are read-only and expire nothing themselves."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import redis

from resp_client import RawConn
from servers import HOST, PikampServer
from test_crash import Writer, assert_all_acked_present, kill_tree, wait_for

DBS = (0, 1, 2)  # DB 0 and 2 on worker 0, DB 1 on worker 1
CUTS = 20  # replication links cut under writes in one test


def _info(port: int, section: str = "replication") -> dict[str, str]:
    text = RawConn(port).call("INFO", section).decode()
    return dict(line.split(":", 1) for line in text.split("\r\n")[1:] if ":" in line)


def _offsets(master: PikampServer, replica: PikampServer) -> tuple[int, int]:
    return int(_info(master.port)["master_repl_offset"]), int(_info(replica.port).get("slave_repl_offset", -1))


def _wait_synced(master: PikampServer, replica: PikampServer, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = _info(replica.port)
        if info.get("master_link_status") == "up" and info.get("master_sync_in_progress") == "0":
            mine, theirs = _offsets(master, replica)
            if mine == theirs:
                return
        time.sleep(0.05)
    raise AssertionError(f"replica not in sync: {_info(replica.port)} vs {_offsets(master, replica)}")


def _dataset(port: int) -> dict:
    out = {}
    for db in DBS:
        c = redis.Redis(host=HOST, port=port, db=db, protocol=2)
        for key in c.scan_iter(count=1000):
            t = c.type(key)
            if t == b"string":
                v = c.get(key)
            elif t == b"hash":
                v = sorted(c.hgetall(key).items())
            elif t == b"list":
                v = c.lrange(key, 0, -1)
            elif t == b"set":
                v = sorted(c.smembers(key))
            elif t == b"zset":
                v = c.zrange(key, 0, -1, withscores=True)
            else:
                v = None
            ttl = c.pttl(key)
            out[(db, key)] = (t, v, ttl > 0 if ttl != -2 else None)
        c.close()
    return out


def _writes(port: int, n: int, tag: str) -> int:
    """Mixed writes of every type in each of DBS; returns how many were sent."""
    sent = 0
    for db in DBS:
        c = redis.Redis(host=HOST, port=port, db=db, protocol=2)
        p = c.pipeline(transaction=False)
        for i in range(n):
            p.set(f"{tag}s{i}", i, ex=3600 if i % 5 == 0 else None)
            p.incr(f"{tag}n")
            p.hset(f"{tag}h{i % 9}", f"f{i}", i)
            p.rpush(f"{tag}l{i % 4}", i)
            p.sadd(f"{tag}set{i % 3}", i)
            p.zadd(f"{tag}z{i % 2}", {f"m{i}": i})
            if i % 7 == 0:
                p.lpop(f"{tag}l{i % 4}")
                p.spop(f"{tag}set{i % 3}")
                p.zpopmin(f"{tag}z{i % 2}")
                p.delete(f"{tag}s{i - 7}")
        sent += len(p.command_stack) + 3
        p.execute()
        c.delete(f"{tag}h0")  # a whole hash: a range delete
        tx = c.pipeline(transaction=True)
        tx.incr(f"{tag}tx")
        tx.rpush(f"{tag}txl", "a")
        tx.execute()
        c.eval("for i = 1, 5 do redis.call('hincrby', KEYS[1], 'n', i) end "
               "redis.call('rpush', KEYS[2], 'a', 'b', 'c') redis.call('lpop', KEYS[2])",
               2, f"{tag}lua", f"{tag}lual")  # a script: its changes replicate
        c.close()
    return sent + 1


@pytest.fixture
def pair(tmp_path):
    master = PikampServer(str(tmp_path / "master")).start()
    replica = PikampServer(str(tmp_path / "replica")).start()
    yield master, replica
    for s in (replica, master):
        s.stop()


def _follow(replica: PikampServer, master: PikampServer, *extra: str) -> None:
    assert RawConn(replica.port).call("SLAVEOF", HOST, str(master.port), *extra) == b"+OK\r\n"


@pytest.fixture
def trio(tmp_path):
    servers = [PikampServer(str(tmp_path / name)).start() for name in ("master", "r1", "r2")]
    yield servers
    for s in reversed(servers):
        s.stop()


def _kill_replication(server: PikampServer) -> None:
    """Cut the server's replication links: kill -9 its replication process
    (once it has lived past the supervisor's start grace: a quicker death is a
    failed start)."""
    proc = next(p for p in server.children() if "replication" in " ".join(p.cmdline()))
    time.sleep(max(0.0, proc.create_time() + 1.2 - time.time()))
    os.kill(proc.pid, signal.SIGKILL)


def _sync_progress(replica: PikampServer, read_over: int, timeout: float = 30.0,
                   total_over: int = 0) -> dict[str, str]:
    """The replica's INFO replication once a full sync has read more than
    ``read_over`` bytes, of DBs whose copies are more than ``total_over``
    bytes together (the DBs' syncs start one by one: the small ones may be
    the only ones under way at first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = _info(replica.port)
        if (info.get("master_sync_in_progress") == "1" and int(info.get("master_sync_read_bytes", 0)) > read_over
                and int(info.get("master_sync_total_bytes", 0)) > total_over):
            return info
        time.sleep(0.05)
    raise AssertionError(f"no full sync got past {read_over} bytes")


def test_full_sync_then_stream(pair):
    master, replica = pair
    sent = _writes(master.port, 500, "old")  # there before the replica: the full sync brings it
    _follow(replica, master)
    live: list[int] = []
    t = threading.Thread(target=lambda: live.extend(_writes(master.port, 50, f"live{i}") for i in range(20)))
    t.start()  # writes while the full sync runs
    t.join(120)
    sent += sum(live) + _writes(master.port, 3600, "new")
    assert sent >= 100_000  # the scale: 100k mixed writes, compared key by key
    _wait_synced(master, replica)
    assert _dataset(replica.port) == _dataset(master.port)
    rc = RawConn(replica.port)
    assert rc.call("SET", "x", "1") == b"-READONLY You can't write against a read only replica.\r\n"
    assert rc.call("MULTI") == b"+OK\r\n"
    assert rc.call("SET", "x", "1").startswith(b"-READONLY")
    assert rc.call("EXEC").startswith(b"-EXECABORT")
    assert rc.call("EVAL", "return redis.call('set', 'x', '1')", "0").startswith(
        b"-READONLY You can't write against a read only replica. script: ")
    assert rc.call("EVAL", "return redis.call('hget', KEYS[1], 'n')", "1", "oldlua") == b"$2\r\n15\r\n"
    info = _info(replica.port)
    assert info["role"] == "slave" and info["master_port"] == str(master.port)
    assert info["slave_read_only"] == "1"
    minfo = _info(master.port)
    assert minfo["connected_slaves"] == "1"
    assert minfo["slave0"].startswith(f"ip=127.0.0.1,port={replica.port},state=online,offset=")
    assert _info(master.port, "stats")["sync_full"] == "1"
    role = redis.Redis(host=HOST, port=replica.port, protocol=2).execute_command("ROLE")
    assert role[:4] == [b"slave", HOST.encode(), master.port, b"connected"]
    mrole = redis.Redis(host=HOST, port=master.port, protocol=2).execute_command("ROLE")
    assert mrole[0] == b"master" and mrole[2][0][:2] == [b"127.0.0.1", str(replica.port).encode()]


def test_restarted_and_cut_off_replicas_resync_partially(pair):
    master, replica = pair
    _writes(master.port, 200, "a")
    _follow(replica, master)
    _wait_synced(master, replica)
    full = _info(master.port, "stats")["sync_full"]
    # The replica stopped, then killed: each time it resumes where its DBs are.
    replica.stop()
    _writes(master.port, 200, "b")
    replica.start()
    _wait_synced(master, replica)
    for round_ in range(CUTS):  # the link cut: the replica's replication process killed under writes
        partial = int(_info(master.port, "stats")["sync_partial_ok"])
        t = threading.Thread(target=_writes, args=(master.port, 40, f"c{round_}"))
        t.start()
        _kill_replication(replica)
        t.join(60)
        deadline = time.monotonic() + 30
        while int(_info(master.port, "stats")["sync_partial_ok"]) == partial and time.monotonic() < deadline:
            time.sleep(0.05)  # the restarted process' new session
        _wait_synced(master, replica)
    stats = _info(master.port, "stats")
    assert stats["sync_full"] == full  # no full sync again
    assert int(stats["sync_partial_ok"]) == 1 + CUTS
    assert _dataset(replica.port) == _dataset(master.port)


def test_purged_position_means_one_full_sync(tmp_path):
    master = PikampServer(str(tmp_path / "master"), binlog_file_size=4096).start()
    replica = PikampServer(str(tmp_path / "replica")).start()
    try:
        _follow(replica, master)
        _wait_synced(master, replica)
        replica.stop()
        deadline = time.monotonic() + 10  # gone from the master's state: its files are no longer kept
        while _info(master.port)["connected_slaves"] != "0" and time.monotonic() < deadline:
            time.sleep(0.05)
        c = redis.Redis(host=HOST, port=master.port, protocol=2)
        for i in range(60):  # ~60 files of 4 KB in DB 0
            c.set(f"big{i}", "x" * 4000)
        last = int(_info(master.port)["db0"].split("=")[1].split()[0])
        assert c.execute_command("PURGELOGSTO", f"write2file{last}") == b"OK"
        replica.start()
        _wait_synced(master, replica)
        stats = _info(master.port, "stats")
        assert stats["sync_full"] == "2" and stats["sync_partial_err"] == "1"
        assert _dataset(replica.port) == _dataset(master.port)
        c.set("after", "1")  # and from then on, streaming again
        _wait_synced(master, replica)
        assert redis.Redis(host=HOST, port=replica.port, protocol=2).get("after") == b"1"
    finally:
        replica.stop()
        master.stop()


def test_slaveof_no_one_force_and_chain(trio):
    master, r1, r2 = trio
    _writes(master.port, 100, "a")
    _follow(r1, master)
    _follow(r2, r1)  # chained: r2 follows r1's own binlog
    assert RawConn(r1.port).call("SLAVEOF", HOST, str(master.port)) == (
        b"+OK Already connected to specified master\r\n")
    _wait_synced(master, r1)
    _writes(master.port, 100, "b")
    _wait_synced(master, r1)
    _wait_synced(r1, r2)
    assert _dataset(r2.port) == _dataset(master.port)
    # r1 promoted: it keeps its data and takes writes; r2 goes on following it.
    assert RawConn(r1.port).call("SLAVEOF", "NO", "ONE") == b"+OK\r\n"
    assert _info(r1.port)["role"] == "master"
    redis.Redis(host=HOST, port=r1.port, protocol=2).set("promoted", "yes")
    _wait_synced(r1, r2)
    assert redis.Redis(host=HOST, port=r2.port, protocol=2).get("promoted") == b"yes"
    # The old master, now behind r1: force a full sync.
    full = int(_info(r1.port, "stats")["sync_full"])
    _follow(master, r1, "force")
    _wait_synced(r1, master)
    assert int(_info(r1.port, "stats")["sync_full"]) == full + 1
    assert redis.Redis(host=HOST, port=master.port, protocol=2).get("promoted") == b"yes"
    assert _dataset(master.port) == _dataset(r1.port)


def test_replica_expires_nothing_itself(pair):
    master, replica = pair
    _follow(replica, master)
    _wait_synced(master, replica)
    rm, rr = (redis.Redis(host=HOST, port=s.port, protocol=2) for s in (master, replica))
    rm.set("soon", "x", px=200)
    _wait_synced(master, replica)
    assert rr.get("soon") == b"x"
    deadline = time.monotonic() + 10
    while rm.exists("soon") and time.monotonic() < deadline:  # the master expires it
        time.sleep(0.05)
    _wait_synced(master, replica)
    assert rr.get("soon") is None and rr.dbsize() == rm.dbsize() == 0


def test_slaveof_errors(pair):
    _, replica = pair
    c = RawConn(replica.port)
    assert c.call("SLAVEOF", HOST) == b"-ERR wrong number of arguments for 'slaveof' command\r\n"
    assert c.call("SLAVEOF", HOST, "abc") == b"-ERR value is not an integer or out of range\r\n"
    assert c.call("SLAVEOF", HOST, "1", "maybe") == b"-ERR syntax error\r\n"
    assert c.call("SLAVEOF", "NO", "ONE") == b"+OK\r\n"  # already a master: fine
    role = redis.Redis(host=HOST, port=replica.port, protocol=2).execute_command("ROLE")
    assert role[0] == b"master" and role[2] == [] and role[1] == int(_info(replica.port)["master_repl_offset"])


def test_master_killed_under_load_replica_resumes_partially(pair):
    """kill -9 of the whole master tree while it takes writes: restarted, its
    DBs and binlogs agree, and the replica resumes from its positions."""
    master, replica = pair
    _follow(replica, master)
    _wait_synced(master, replica)
    writer = Writer(master.port, db=0, prefix="w")
    writer.start()
    wait_for(lambda: writer.count_acked() > 100, 15, "first writes")
    kill_tree(master)
    writer.stop()
    full = _info(replica.port)  # (the replica keeps serving reads meanwhile)
    assert full["role"] == "slave"
    master.start()
    deadline = time.monotonic() + 30
    while _info(master.port, "stats")["sync_partial_ok"] == "0" and time.monotonic() < deadline:
        time.sleep(0.05)  # the replica's new session (its link state may lag a second)
    _wait_synced(master, replica)
    stats = _info(master.port, "stats")
    assert stats["sync_full"] == "0" and stats["sync_partial_ok"] == "1"  # counters restart with the master
    assert_all_acked_present(replica.port, writer)
    assert _dataset(replica.port) == _dataset(master.port)


def test_wait(pair):
    master, replica = pair
    c = RawConn(master.port)
    assert c.call("WAIT", "0", "0") == b":0\r\n"
    assert c.call("WAIT", "1", "100") == b":0\r\n"  # no replica: the timeout
    assert c.call("WAIT", "x", "1") == b"-ERR value is not an integer or out of range\r\n"
    assert c.call("WAIT", "1", "-1") == b"-ERR timeout is negative\r\n"
    _follow(replica, master)
    _wait_synced(master, replica)
    for i in range(20):  # the write, then WAIT in the same pipeline: acked once it is on the replica
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$%d\r\n%d\r\n*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$4\r\n5000\r\n"
                   % (len(str(i)), i))
        assert c.read_reply() == b"+OK\r\n"
        assert c.read_reply() == b":1\r\n"
        assert redis.Redis(host=HOST, port=replica.port, protocol=2).get("w") == str(i).encode()
    assert RawConn(replica.port).call("WAIT", "1", "1").startswith(b"-ERR WAIT cannot be used with replica")
    # Inside EXEC it answers at once (as Redis): the count now, even asked for more.
    started = time.monotonic()
    assert c.call("MULTI") == b"+OK\r\n"
    assert c.call("SET", "w", "x") == b"+QUEUED\r\n"
    assert c.call("WAIT", "2", "0") == b"+QUEUED\r\n"
    reply = c.call("EXEC")
    assert reply in (b"*2\r\n+OK\r\n:0\r\n", b"*2\r\n+OK\r\n:1\r\n") and time.monotonic() - started < 5


def test_failover_reattaches_partially(trio):
    """A replica's binlog is a copy of its master's: after a failover the other
    replica and the old master resume from the positions they hold (partial),
    as Sentinel's promotion needs; an old master that took writes the new
    one never saw cannot, and gets one full sync that drops them."""
    master, r1, r2 = trio
    _writes(master.port, 200, "a")
    _follow(r1, master)
    _follow(r2, master)
    _writes(master.port, 100, "b")
    _wait_synced(master, r1)
    _wait_synced(master, r2)
    master.stop()
    assert RawConn(r1.port).call("SLAVEOF", "NO", "ONE") == b"+OK\r\n"
    _writes(r1.port, 100, "c")  # the new master's own writes, before the others come back
    _follow(r2, r1)
    _writes(r1.port, 100, "d")
    _wait_synced(r1, r2)
    master.start()
    _follow(master, r1)
    _writes(r1.port, 50, "e")
    _wait_synced(r1, master)
    _wait_synced(r1, r2)
    stats = _info(r1.port, "stats")
    assert (stats["sync_full"], stats["sync_partial_ok"], stats["sync_partial_err"]) == ("0", "2", "0")
    expected = _dataset(r1.port)
    assert _dataset(r2.port) == expected and _dataset(master.port) == expected
    assert redis.Redis(host=HOST, port=master.port, protocol=2).get("es1") == b"1"
    # Promote the old master again, r1 back under it: still partial (a
    # history continued twice), and the chain r2 -> r1 -> master follows.
    assert RawConn(master.port).call("SLAVEOF", "NO", "ONE") == b"+OK\r\n"
    _follow(r1, master)
    _writes(master.port, 50, "f")
    _wait_synced(master, r1)
    _wait_synced(r1, r2)
    assert _info(master.port, "stats")["sync_full"] == "0"
    assert _info(r1.port, "stats")["sync_full"] == "0"
    assert _dataset(r2.port) == _dataset(master.port)


def test_old_master_with_lost_writes_full_syncs(tmp_path):
    master = PikampServer(str(tmp_path / "master")).start()
    replica = PikampServer(str(tmp_path / "replica")).start()
    try:
        _writes(master.port, 100, "a")
        _follow(replica, master)
        _wait_synced(master, replica)
        replica.stop()
        redis.Redis(host=HOST, port=master.port, protocol=2).set("lost", "1")  # never replicated
        master.stop()
        replica.start()
        assert RawConn(replica.port).call("SLAVEOF", "NO", "ONE") == b"+OK\r\n"
        redis.Redis(host=HOST, port=replica.port, protocol=2).set("kept", "1")
        master.start()
        _follow(master, replica)
        _wait_synced(replica, master)
        stats = _info(replica.port, "stats")
        assert stats["sync_full"] == "1" and stats["sync_partial_err"] == "1"
        old = redis.Redis(host=HOST, port=master.port, protocol=2)
        assert old.get("lost") is None and old.get("kept") == b"1"
        assert _dataset(master.port) == _dataset(replica.port)
    finally:
        replica.stop()
        master.stop()


def test_min_replicas_to_write(pair, tmp_path):
    """min-replicas-to-write: a master with fewer good replicas refuses writes
    (and EXECs that write) with Redis' replies, and takes them again once a
    replica is online and acks."""
    from servers import RedisServer

    master, replica = pair
    ref = RedisServer(str(tmp_path / "redis")).start()
    seq = [("SET", "k", "1"), ("GET", "k"), ("MULTI",), ("GET", "k"), ("SET", "k", "2"), ("EXEC",),
           ("MULTI",), ("GET", "k"), ("EXEC",), ("INCR", "n")]
    try:
        for port in (ref.port, master.port):
            c = RawConn(port)
            assert c.call("SET", "k", "0") == b"+OK\r\n"
            assert c.call("CONFIG", "SET", "min-slaves-to-write", "1") == b"+OK\r\n"
        # Each worker looks once a second, as Redis' cron does: wait until
        # connections to every worker are refused.
        deadline = time.monotonic() + 10
        while any(RawConn(master.port).call("SET", "probe", "1") == b"+OK\r\n" for _ in range(8)) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        mine, theirs = RawConn(master.port), RawConn(ref.port)
        got = [mine.call(*cmd) for cmd in seq]
        assert got == [theirs.call(*cmd) for cmd in seq]
        assert got[0] == b"-NOREPLICAS Not enough good replicas to write.\r\n"
        assert RawConn(master.port).call("CONFIG", "GET", "min-replicas-to-write") == (
            b"*2\r\n$21\r\nmin-replicas-to-write\r\n$1\r\n1\r\n")
        _follow(replica, master)
        _wait_synced(master, replica)
        deadline = time.monotonic() + 10
        while mine.call("SET", "probe", "2") != b"+OK\r\n" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mine.call("SET", "k", "3") == b"+OK\r\n"
        replica.stop()  # the replica goes: writes refused again once its lag passes min-replicas-max-lag
        assert mine.call("CONFIG", "SET", "min-replicas-max-lag", "1") == b"+OK\r\n"
        deadline = time.monotonic() + 15
        while mine.call("SET", "k", "4") == b"+OK\r\n" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mine.call("SET", "k", "5").startswith(b"-NOREPLICAS")
    finally:
        ref.stop()


def test_full_sync_throttled_with_progress_and_a_small_window(tmp_path):
    """throttle-bytes-per-second paces a full sync (progress in the replica's
    INFO, as Redis' master_sync_* fields); sync-window-size 1 (one message
    ahead of the acks) still streams everything."""
    master = PikampServer(str(tmp_path / "master"), throttle_bytes_per_second=1 << 20, sync_window_size=1).start()
    replica = PikampServer(str(tmp_path / "replica")).start()
    try:
        c = redis.Redis(host=HOST, port=master.port, protocol=2)
        for i in range(30):
            c.set(f"big{i}", os.urandom(100_000))  # ~3 MB that does not compress
        started = time.monotonic()
        _follow(replica, master)
        seen = _sync_progress(replica, 0, total_over=2_000_000)  # DB 0's, with the big values
        total = int(seen["master_sync_total_bytes"])
        assert int(seen["master_sync_left_bytes"]) == total - int(seen["master_sync_read_bytes"])
        assert 0 < float(seen["master_sync_perc"]) < 100
        _wait_synced(master, replica)
        assert time.monotonic() - started > 2.0  # ~3 MB at 1 MB/s
        p = c.pipeline(transaction=False)
        for i in range(2000):
            p.set(f"s{i}", i)
        p.execute()
        _wait_synced(master, replica)
        assert _dataset(replica.port) == _dataset(master.port)
    finally:
        replica.stop()
        master.stop()


def test_cut_full_sync_resumes(tmp_path):
    """A full sync cut halfway (the replica's replication process killed) does
    not start over: the SST files already there are kept, and sent on from
    where they stop."""
    master = PikampServer(str(tmp_path / "master"), throttle_bytes_per_second=1 << 20).start()
    replica = PikampServer(str(tmp_path / "replica")).start()
    try:
        c = redis.Redis(host=HOST, port=master.port, protocol=2)
        for i in range(40):
            c.set(f"big{i}", os.urandom(100_000))
        c.execute_command("COMPACT")  # the data in SST files (a full sync's checkpoint flushes anyway)
        _follow(replica, master)
        _sync_progress(replica, 1_500_000)  # about halfway
        _kill_replication(replica)
        _wait_synced(master, replica)
        assert _dataset(replica.port) == _dataset(master.port)
        with open(os.path.join(master.workdir, "log", "pikamp.log")) as f:
            had = [int(line.split("(")[1].split()[0]) for line in f
                   if "db0: full sync to" in line and "bytes the replica had" in line]
        assert len(had) == 1 and had[0] > 1_000_000, had  # (the cut one never finished)
        assert not os.path.exists(os.path.join(replica.workdir, "db", "db0", "pikamp-sync-origin"))
    finally:
        replica.stop()
        master.stop()
