"""Strings longer than strings.INLINE_MAX are stored in chunks: every string
command must answer as Redis does for them, edits must touch only the chunks
involved, DEL must stay one range delete, and a chunked value must survive
COPY/RENAME/MOVE (also to a DB of another worker) and a restart."""
from __future__ import annotations

import random

import redis

from servers import HOST, PikampServer
from pikamp.storage import bitmaps, codec, strings
from pikamp.storage.codec import CHUNK
from pikamp.storage.database import Clock, Database
from pikamp.storage.engine import DATA, Engine

BIG = strings.INLINE_MAX + 3 * CHUNK + 17  # chunked, last chunk partial


def _payload(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


# -- storage: against a bytearray model ------------------------------------------------
def test_model_random_edits(tmp_path):
    """Random SET / APPEND / SETRANGE / SETBIT on one key across the inline and
    chunked layouts and chunk boundaries, committing at random points (reads
    then come from the overlay or from RocksDB); every read matches a model."""
    db = Database(0, Engine(str(tmp_path / "db")), Clock())
    rng = random.Random(7)
    model = bytearray()
    key = b"k"
    exists = False
    big = 2**40
    for step in range(400):
        op = rng.choice(["set", "append", "setrange", "setbit", "setrange_far"])
        if op == "set":
            n = rng.choice([0, 10, strings.INLINE_MAX, strings.INLINE_MAX + 1, BIG, rng.randrange(3 * BIG)])
            model = bytearray(rng.randbytes(n))
            strings.put(db, key, bytes(model), 0, db.lookup(key))
        elif op == "append":
            part = rng.randbytes(rng.choice([0, 1, 5, CHUNK - 1, CHUNK + 3]))
            assert strings.append(db, key, part, big) == len(model) + len(part)
            model += part
        elif op in ("setrange", "setrange_far"):
            part = rng.randbytes(rng.choice([1, 7, CHUNK, 2 * CHUNK + 5]))
            span = len(model) + (5 * CHUNK if op == "setrange_far" else 10)
            off = rng.randrange(span + 1)
            if off > len(model):
                model += bytes(off - len(model))
            model[off : off + len(part)] = part
            assert strings.set_range(db, key, off, part, big) == len(model)
        else:
            bit = rng.randrange((len(model) + CHUNK) * 8)
            on = rng.randrange(2)
            byte = bit >> 3
            if byte >= len(model):
                model += bytes(byte + 1 - len(model))
            mask = 0x80 >> (bit & 7)
            was = 1 if model[byte] & mask else 0
            model[byte] = model[byte] | mask if on else model[byte] & ~mask
            assert bitmaps.set_bit(db, key, bit, on) == was
        exists = True
        if rng.random() < 0.3:
            db.commit()
        raw = db.lookup(key)
        assert exists and raw is not None
        assert strings.strlen(db, key) == len(model)
        assert (raw[0] == codec.CHUNKED) == (len(model) > strings.INLINE_MAX) or op != "set"
        for _ in range(3):
            a, b = rng.randrange(-len(model) - 5, len(model) + 5), rng.randrange(-len(model) - 5, len(model) + 5)
            assert strings.get_range(db, key, a, b) == _redis_getrange(model, a, b)
        if model:
            bit = rng.randrange(len(model) * 8)
            assert bitmaps.get_bit(db, key, bit) == (model[bit >> 3] >> (7 - (bit & 7))) & 1
        if step % 20 == 0:
            assert strings.get(db, key) == bytes(model)
    db.commit()
    assert strings.get(db, key) == bytes(model)


def _redis_getrange(value: bytes, start: int, end: int) -> bytes:
    n = len(value)
    if not n or (start < 0 and end < 0 and start > end):
        return b""
    start = max(start + n if start < 0 else start, 0)
    end = min(max(end + n if end < 0 else end, 0), n - 1)
    return bytes(value[start : end + 1]) if start <= end else b""


def test_edits_touch_only_their_chunks(tmp_path):
    """APPEND of one byte to a chunked value writes one chunk and the meta,
    not the value; DEL is one range delete; a SET over it leaves no chunk."""
    eng = Engine(str(tmp_path / "db"))
    db = Database(0, eng, Clock())
    value = _payload(40 * CHUNK + 5)
    strings.put(db, b"k", value, 0, None)
    db.commit()
    puts: list[tuple[int, bytes, int]] = []
    real_put = eng.put
    eng.put = lambda cf, k, v: (puts.append((cf, k, len(v))), real_put(cf, k, v))[1]  # type: ignore[method-assign]
    assert strings.append(db, b"k", b"z", 2**40) == len(value) + 1
    assert [cf for cf, _, _ in puts].count(DATA) == 1 and max(n for _, _, n in puts) <= CHUNK
    puts.clear()
    assert strings.set_range(db, b"k", 20 * CHUNK + 3, b"abc", 2**40) == len(value) + 1
    assert [cf for cf, _, _ in puts] == [DATA]  # the length did not change: no meta write
    eng.put = real_put  # type: ignore[method-assign]
    db.commit()
    expect = value[: 20 * CHUNK + 3] + b"abc" + value[20 * CHUNK + 6 :] + b"z"
    assert strings.get(db, b"k") == expect
    db.delete(b"k", db.lookup(b"k"))
    db.commit()
    assert list(eng.iterate(DATA, b"")) == []
    strings.put(db, b"k", value, 0, None)
    db.commit()
    strings.put(db, b"k", b"small", 0, db.lookup(b"k"))
    db.commit()
    assert list(eng.iterate(DATA, b"")) == [] and strings.get(db, b"k") == b"small"


# -- through the server, next to Redis ------------------------------------------------
def test_chunked_strings_like_redis(diff):
    big = _payload(BIG).hex().encode()[: BIG]  # printable, so replies are readable in a failure
    diff("SET", "s", big)
    diff("STRLEN", "s")
    diff("TYPE", "s")
    diff("APPEND", "s", "tail")
    diff("SETRANGE", "s", str(BIG + 3 * CHUNK), "far")  # a gap of zeros over whole chunks
    diff("STRLEN", "s")
    for a, b in [(0, 9), (CHUNK - 3, CHUNK + 3), (-10, -1), (BIG - 2, BIG + 10), (5, 2), (-1, -5), (0, -1)]:
        diff("GETRANGE", "s", str(a), str(b))
    diff("GET", "s")
    diff("SETBIT", "s", str(8 * (BIG + CHUNK) + 3), "1")
    diff("GETBIT", "s", str(8 * (BIG + CHUNK) + 3))
    diff("GETBIT", "s", str(8 * 10**9))
    diff("BITCOUNT", "s")
    diff("BITCOUNT", "s", str(CHUNK - 5), str(3 * CHUNK))
    diff("BITCOUNT", "s", "-100", "-1")
    diff("BITCOUNT", "s", str(8 * CHUNK - 3), str(8 * CHUNK + 40), "BIT")
    diff("BITPOS", "s", "0", str(BIG), str(BIG + 2 * CHUNK))  # inside the gap of zeros
    diff("BITPOS", "s", "1", str(BIG + 100))
    diff("BITPOS", "s", "1", str(8 * (BIG + 10)), str(8 * (BIG + 2 * CHUNK)), "BIT")
    diff("INCR", "s")
    diff("INCRBYFLOAT", "s", "1.5")
    diff("LPUSH", "s", "x")
    diff("EXPIRE", "s", "100")
    diff("APPEND", "s", "x")
    diff("TTL", "s")
    diff("GETEX", "s", "PERSIST")
    diff("TTL", "s")
    diff("COPY", "s", "c")
    diff("RENAME", "c", "d")
    diff("GET", "d")
    diff("MGET", "s", "d", "nokey")
    diff("GETSET", "d", "short")
    diff("GET", "d")
    diff("SET", "d", big, "GET")
    diff("GETDEL", "d")
    diff("EXISTS", "d")
    diff("MSET", "a", big, "b", "x")
    diff("MGET", "a", "b")
    diff("BITOP", "AND", "dest", "a", "s")
    diff("GET", "dest")
    diff("SCAN", "0", "TYPE", "string", unordered=True)
    diff("DEL", "s", "a", "dest")
    diff("DBSIZE")
    diff("SETBIT", "sparse", str(8 * 5 * 2**20), "1")  # 5 MB of zeros, one bit set
    diff("STRLEN", "sparse")
    diff("BITCOUNT", "sparse")
    diff("BITPOS", "sparse", "1")


def test_chunked_value_moves_between_workers_and_survives_restart(tmp_path):
    srv = PikampServer(str(tmp_path / "srv"), workers=2).start()
    try:
        big = _payload(3 * BIG)
        c = redis.Redis(host=HOST, port=srv.port, protocol=2)
        c.set("k", big)
        c.append("k", b"!")
        big += b"!"
        for dest in range(1, 4):  # owned by both workers
            assert c.copy("k", f"k{dest}", destination_db=dest) is True
        assert c.move("k", 1) is True
        c.close()
        c = redis.Redis(host=HOST, port=srv.port, protocol=2)
        c.execute_command("SELECT", 1)
        assert c.get("k1") == big and c.get("k") == big
        c.close()
        srv.stop()
        srv.start()
        c = redis.Redis(host=HOST, port=srv.port, protocol=2)
        for dest in range(1, 4):
            c.execute_command("SELECT", dest)
            assert c.get(f"k{dest}") == big
            assert c.strlen(f"k{dest}") == len(big)
        c.execute_command("SELECT", 0)
        assert c.exists("k") == 0
        c.close()
    finally:
        srv.stop()
