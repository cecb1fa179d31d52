"""The binlog: every committed write batch of a DB is an item of its binlog
(log-path/log_db<i>/write2file<N>), before the DB applies it; replaying a
binlog from its start rebuilds the DB exactly; after a crash the items the
DB had not applied are replayed; a torn tail is cut; SWAPDB keeps each binlog
with its data; old files are purged (expire-logs-nums, PURGELOGSTO)."""
from __future__ import annotations

import os
import threading
import time

import pytest
import redis

from resp_client import RawConn
from servers import HOST, PikampServer
from test_crash import Writer, assert_all_acked_present, kill_tree, wait_for
from pikamp.storage import binlog as bl
from pikamp.storage.engine import CF_NAMES, Engine


def _contents(path: str) -> list[list[tuple[bytes, bytes]]]:
    eng = Engine(path)
    try:
        return [list(eng.iterate(cf, b"")) for cf in range(len(CF_NAMES))]
    finally:
        eng.close()


def _replayed(log_dir: str, target: str) -> list[list[tuple[bytes, bytes]]]:
    """A fresh DB built from nothing but the binlog's items."""
    log = bl.Binlog(log_dir, 1 << 30)
    first = bl.files_in(log_dir)[0]
    eng = Engine(target)
    try:
        for n, _, end, _, content in log.items_from(first, 0):
            eng._apply(bl.decode_ops(content), bl.pack_position(log.ident, n, end))
    finally:
        eng.close()
        log.close()
    return _contents(target)


def _workload(port: int) -> None:
    r = redis.Redis(host=HOST, port=port, protocol=2)
    for db in (0, 1):  # one per worker
        c = redis.Redis(host=HOST, port=port, db=db, protocol=2)
        p = c.pipeline(transaction=False)
        for i in range(300):
            p.set(f"s{i}", f"v{i}", ex=1000 if i % 3 == 0 else None)
            p.incrby("n", i)
            p.append("ap", "x")
            p.hset(f"h{i % 7}", f"f{i}", i)
            p.rpush(f"l{i % 5}", i)
            p.sadd(f"set{i % 4}", i)
            p.zadd(f"z{i % 3}", {f"m{i}": i / 3})
            if i % 10 == 0:
                p.lpop(f"l{i % 5}")
                p.spop(f"set{i % 4}")
                p.zpopmin(f"z{i % 3}")
                p.hdel(f"h{i % 7}", f"f{i - 10}")
                p.expire(f"s{i - 3}", 100)
                p.persist(f"s{i - 6}")
        p.execute()
        c.set("short1", "x", px=30)
        c.set("short2", "x", px=30)
        c.ltrim("l0", 0, 20)
        c.lset("l1", 0, "new")
        c.delete("h0", "set0", "z0")  # whole collections: range deletes
        c.rename("h1", "h1renamed")
        c.move("s1", 1 - db)
        tx = c.pipeline(transaction=True)  # MULTI/EXEC: one batch
        tx.incr("tx")
        tx.lpush("txl", "a", "b")
        tx.execute()
        got: list = []
        t = threading.Thread(target=lambda: got.append(
            redis.Redis(host=HOST, port=port, db=db, protocol=2).blpop("bl", 10)))
        t.start()
        time.sleep(0.2)
        c.rpush("bl", "one")  # popped for the waiter in the same turn
        t.join(10)
        assert got and got[0] is not None
    time.sleep(0.3)  # active expiry deletes short1 ...
    redis.Redis(host=HOST, port=port, db=1, protocol=2).get("short2")  # ... or a lazy one
    r.swapdb(2, 3)  # nothing, then something, in both
    r.select(3)
    redis.Redis(host=HOST, port=port, db=3, protocol=2).set("in3", "x")
    redis.Redis(host=HOST, port=port, db=2, protocol=2).set("in2", "x")
    r.swapdb(2, 3)
    redis.Redis(host=HOST, port=port, db=4, protocol=2).set("gone", "x")
    redis.Redis(host=HOST, port=port, db=4, protocol=2).flushdb()


def test_replaying_the_binlog_rebuilds_every_db(tmp_path):
    srv = PikampServer(str(tmp_path / "srv")).start()
    try:
        _workload(srv.port)
    finally:
        assert srv.stop() == 0
    for db in (0, 1, 2, 3, 4):
        live = _contents(str(tmp_path / "srv" / "db" / f"db{db}"))
        rebuilt = _replayed(str(tmp_path / "srv" / "log" / f"log_db{db}"), str(tmp_path / f"replay{db}"))
        assert rebuilt == live, f"db{db}"
    assert any(live)  # the comparison saw data


def _last_item(log_dir: str) -> tuple[bytes, list[tuple]]:
    log = bl.Binlog(log_dir, 1 << 30)
    try:
        items = list(log.items_from(bl.files_in(log_dir)[0], 0))
        return log.ident, bl.decode_ops(items[-1][4])
    finally:
        log.close()


def test_items_the_db_missed_are_replayed_at_start(tmp_path):
    srv = PikampServer(str(tmp_path / "srv"))
    srv.start()
    c = redis.Redis(host=HOST, port=srv.port, protocol=2)
    c.set("a", "1")
    assert srv.stop() == 0
    log_dir = str(tmp_path / "srv" / "log" / "log_db0")
    # As if the owner died between its binlog append and its batch: an item
    # (SET ghost 1, the effects of SET a 1 for another key) the DB never applied.
    _, ops = _last_item(log_dir)
    ghost = [(op, cf, b"ghost" if key == b"a" else key, value) for op, cf, key, value in ops]
    log = bl.Binlog(log_dir, 1 << 30)
    log.append(bl.encode_ops(ghost))
    log.close()
    srv.start()
    try:
        assert c.get("ghost") == b"1"
        assert c.get("a") == b"1"
        c.set("after", "2")
    finally:
        assert srv.stop() == 0
    assert "replayed 1 binlog items" in open(tmp_path / "srv" / "log" / "pikamp.log").read()
    live = _contents(str(tmp_path / "srv" / "db" / "db0"))
    assert _replayed(log_dir, str(tmp_path / "replay")) == live


def test_torn_tail_is_cut_and_writes_go_on(tmp_path):
    srv = PikampServer(str(tmp_path / "srv")).start()
    c = redis.Redis(host=HOST, port=srv.port, protocol=2)
    c.set("a", "1")
    assert srv.stop() == 0
    log_dir = str(tmp_path / "srv" / "log" / "log_db0")
    last = os.path.join(log_dir, f"write2file{bl.files_in(log_dir)[-1]}")
    size = os.path.getsize(last)
    with open(last, "ab") as f:
        f.write(b"\x07\x00\x00\x00\xff\x00\x00\x00half an item")  # a torn append
    srv.start()
    try:
        assert c.get("a") == b"1"
        c.set("b", "2")
    finally:
        assert srv.stop() == 0
    assert os.path.getsize(last) > size  # cut, then appended after the good part
    assert "torn or corrupt tail" in open(tmp_path / "srv" / "log" / "pikamp.log").read()
    live = _contents(str(tmp_path / "srv" / "db" / "db0"))
    assert _replayed(log_dir, str(tmp_path / "replay")) == live


def test_killed_tree_binlog_and_db_agree(tmp_path):
    """kill -9 of everything under writes: every acknowledged write is there,
    and the binlog still rebuilds the DB."""
    srv = PikampServer(str(tmp_path / "srv")).start()
    writer = Writer(srv.port, db=0, prefix="k")
    writer.start()
    wait_for(lambda: writer.count_acked() > 100, 15, "first writes")
    kill_tree(srv)  # frozen first, then killed: no one finishes anything
    writer.stop()
    srv.start()
    try:
        assert_all_acked_present(srv.port, writer)
    finally:
        assert srv.stop() == 0
    live = _contents(str(tmp_path / "srv" / "db" / "db0"))
    assert _replayed(str(tmp_path / "srv" / "log" / "log_db0"), str(tmp_path / "replay")) == live


def test_files_roll_and_are_purged(tmp_path):
    srv = PikampServer(str(tmp_path / "srv"), binlog_file_size=1024).start()
    log_dir = str(tmp_path / "srv" / "log" / "log_db0")
    try:
        c = redis.Redis(host=HOST, port=srv.port, protocol=2)
        for i in range(30):  # one item (one turn) each: ~30 files of 1 KB
            c.set(f"k{i}", "x" * 1000)
        files = bl.files_in(log_dir)
        assert files[-1] >= 25
        deadline = time.monotonic() + 30  # the purge process runs every 10 s
        while len(bl.files_in(log_dir)) > 10 and time.monotonic() < deadline:
            time.sleep(0.2)
        files = bl.files_in(log_dir)
        assert len(files) == 10  # expire-logs-nums
        raw = RawConn(srv.port).call("INFO", "replication").decode()
        assert f"db0:binlog_offset={files[-1]} " in raw
        assert c.execute_command("PURGELOGSTO", f"write2file{files[-1] + 5}") == b"OK"
        assert bl.files_in(log_dir) == files[-1:]  # never the file being written
        for bad, err in ((["write2filex"], "Invalid Argument"), (["foo"], "Invalid Argument"),
                         (["write2file1", "db99"], "DB not found"), (["write2file1", "x"], "DB not found")):
            with pytest.raises(redis.ResponseError, match=err):
                c.execute_command("PURGELOGSTO", *bad)
        c.set("still", "works")
        assert c.get("k29") == b"x" * 1000
    finally:
        assert srv.stop() == 0


def test_write_binlog_no(tmp_path):
    srv = PikampServer(str(tmp_path / "srv"), write_binlog="no").start()
    try:
        c = redis.Redis(host=HOST, port=srv.port, protocol=2)
        c.set("a", "1")
        assert c.get("a") == b"1"
        assert b"binlog_offset" not in RawConn(srv.port).call("INFO", "replication")
    finally:
        assert srv.stop() == 0
    assert not os.path.exists(tmp_path / "srv" / "log" / "log_db0")


def test_a_copy_holds_the_masters_items_at_the_masters_positions(tmp_path):
    """What a replica does with its master's binlog: from a full sync's
    position (a pad item covers the part it lacks), the master's frames
    verbatim, across a roll; reopened, it ends where the master's does; a
    promotion keeps the old history reachable (covers, serves_from)."""
    src = bl.Binlog(str(tmp_path / "master"), 300)
    for i in range(4):
        src.append(bl.encode_ops([(bl.OP_PUT, 0, b"k%d" % i, b"v" * 50)]))
    cut = src.position  # a full sync's position
    for i in range(10):  # rolls every ~300 bytes
        src.append(bl.encode_ops([(bl.OP_PUT, 0, b"n%d" % i, b"w" * 60)]))
    src.sync()
    assert src.filenum > cut[0]
    copy = bl.Binlog(str(tmp_path / "copy"), 1 << 20)  # its own file size does not matter
    copy.reset_to(src.ident, *cut)
    assert copy.position == cut and not copy.is_empty()
    items = bl.Reader(src.path, *cut).read()
    assert len(items) == 10
    copy.place(src.ident, items[:3])
    copy.place(src.ident, items[3:])
    assert copy.position == src.position and copy.ident == src.ident
    copy.close()
    copy = bl.Binlog(str(tmp_path / "copy"), 1 << 20)
    assert copy.position == src.position and copy.logic_id == src.logic_id
    for n in range(cut[0] + 1, src.filenum + 1):  # whole files are byte for byte the master's
        with open(src.file_path(n), "rb") as a, open(copy.file_path(n), "rb") as b:
            assert a.read() == b.read()
    with open(copy.file_path(cut[0]), "rb") as f:
        assert bl.pad_end(f) == cut[1]
    assert [c for *_, c in copy.items_from(*cut)] == [c for *_, c in src.items_from(*cut)]
    assert copy.covers(src.ident, *cut) and not copy.covers(b"x" * 16, *cut)
    assert bl.serves_from(copy.path, src.ident, *cut)
    assert not bl.serves_from(copy.path, src.ident, cut[0], 0)  # inside the pad: not held here
    # Promoted: a new identity, the old one still reaches up to here.
    old, end = copy.ident, copy.position
    copy.new_identity()
    copy.append(bl.encode_ops([(bl.OP_PUT, 0, b"own", b"1")]))
    copy.sync()
    assert copy.ident != old and copy.covers(old, *end) and copy.covers(copy.ident, *copy.position)
    assert not copy.covers(old, *copy.position)
    assert bl.serves_from(copy.path, old, *end) and bl.serves_from(copy.path, copy.ident, *end)
    assert bl.read_past(copy.path) == [(old, *end)]
    copy.close()
    src.close()
    # An item that does not follow is refused before anything is applied.
    eng = Engine(str(tmp_path / "db"))
    try:
        eng.attach_binlog(bl.Binlog(str(tmp_path / "enginelog"), 1 << 20))
        eng.set_follower(True)
        with pytest.raises(bl.BinlogError):
            eng.replicate(old, [items[5][2]], lambda cf, key: None)
        assert not eng.replicated and eng.get(0, b"n5") is None
    finally:
        eng.close()
