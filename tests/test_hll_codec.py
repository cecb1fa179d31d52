"""pikamp.hll, Redis 7.0's HyperLogLog format: unit tests, then differential
tests against a real redis-server (on a unix socket only; skipped if it is not
installed) comparing the stored bytes (GET) after the same PFADD / PFCOUNT /
PFMERGE sequences."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
import uuid

import pytest

from pikamp import hll

M64 = (1 << 64) - 1
_M = 0xC6A4A7935BD1E995
_MINV = pow(_M, -1, 1 << 64)


# ----------------------------------------------------------------- helpers

def _unxorshift47(y: int) -> int:
    return y ^ (y >> 47)


def element_with_hash(target: int) -> bytes:
    """An 8-byte element whose MurmurHash64A (Redis' seed) is ``target``
    (every step of the hash is invertible)."""
    h = _unxorshift47(target)
    h = (h * _MINV) & M64
    h = _unxorshift47(h)                        # state after the 8-byte round
    h0 = (hll.SEED ^ (8 * _M)) & M64
    kmix = ((h * _MINV) & M64) ^ h0
    k = _unxorshift47((kmix * _MINV) & M64)
    k = (k * _MINV) & M64
    return k.to_bytes(8, "little")


def element_for(index: int, count: int, rnd: random.Random) -> bytes:
    """An element that sets register ``index`` to ``count`` (1..51)."""
    if count <= hll.Q:
        high = rnd.getrandbits(64) << (hll.P + count)
        high |= 1 << (hll.P + count - 1)
    else:
        high = 0
    return element_with_hash((high | index) & M64)


def expected_registers(elements) -> bytearray:
    regs = bytearray(hll.REGISTERS)
    for e in elements:
        i, c = hll.pat_len(e)
        regs[i] = max(regs[i], c)
    return regs


def sparse_ops(value: bytes) -> list[tuple[str, int, int]]:
    """Decode sparse opcodes, for assertions: (kind, value, run)."""
    out = []
    p = hll.HEADER_SIZE
    while p < len(value):
        b = value[p]
        if b & 0x80:
            out.append(("V", ((b >> 2) & 31) + 1, (b & 3) + 1))
            p += 1
        elif b & 0x40:
            out.append(("X", 0, ((b & 0x3F) << 8 | value[p + 1]) + 1))
            p += 2
        else:
            out.append(("Z", 0, b + 1))
            p += 1
    return out


def pfadd(value: bytes | None, elements, max_bytes: int = 3000) -> tuple[bytes, int]:
    """PFADD as the command does it: (stored value, reply)."""
    created = value is None
    if created:
        value = hll.new_sparse()
    value, changed = hll.add(value, list(elements), max_bytes)
    if created or changed:
        return hll.invalidate_cache(value), 1
    return value, 0


def pfmerge(dest: bytes | None, sources, max_bytes: int = 3000) -> bytes:
    regs = bytearray(hll.REGISTERS)
    dense = False
    for v in [dest] + list(sources):
        if v is not None:
            hll.validate(v)
            dense = dense or hll.is_dense(v)
            hll.merge_max(regs, v)
    return hll.store_registers(dest if dest is not None else hll.new_sparse(), regs, dense, max_bytes)


# -------------------------------------------------------------- unit tests

def test_murmurhash64a_known_values():
    # Redis' seed; the tail switch covers lengths 1..7 past each 8-byte block.
    assert hll.murmurhash64a(b"") == 0xD8DFEA6585BC9732
    assert hll.murmurhash64a(b"a") == 0x53D2470A9B43B1A7
    assert hll.murmurhash64a(b"abc") == 0x77EC90AEB374E502
    assert hll.murmurhash64a(b"abcdefg") == 0x22FE613BB08C9602
    assert hll.murmurhash64a(b"abcdefgh") == 0xF3A65DF559914567
    assert hll.murmurhash64a(b"abcdefghi") == 0x834FBA4D9152DAF7
    assert hll.murmurhash64a(b"hello world, this is redis") == 0x13EA3D21686B0718
    assert hll.murmurhash64a(b"", 0) == 0
    assert hll.murmurhash64a(b"abc", 0) == 0x9CC9C33498A95EFB


def test_element_with_hash_inverts_murmur():
    rnd = random.Random(1)
    for _ in range(200):
        t = rnd.getrandbits(64)
        assert hll.murmurhash64a(element_with_hash(t)) == t


def test_pat_len():
    rnd = random.Random(2)
    for count in (1, 2, 17, 32, 33, 50, 51):
        idx = rnd.randrange(hll.REGISTERS)
        assert hll.pat_len(element_for(idx, count, rnd)) == (idx, count)
    assert hll.pat_len(b"a") == (12711, 2)


def test_new_sparse_bytes():
    v = hll.new_sparse()
    assert v == b"HYLL\x01\x00\x00\x00" + b"\x00" * 8 + b"\x7f\xff"
    assert sparse_ops(v) == [("X", 0, 16384)]
    hll.validate(v)
    assert hll.count_cached(v) == (0, None)


def test_validate():
    dense = hll.store_registers(hll.new_sparse(), bytearray(hll.REGISTERS), True, 3000)
    hll.validate(dense)
    for bad in (b"", b"HYLL", b"HYLL\x01" + b"\x00" * 10, b"HYLX" + hll.new_sparse()[4:],
                b"HYLL\x02" + hll.new_sparse()[5:], dense[:-1], dense + b"\x00",
                b"HYLL\x00" + b"\x00" * 11 + b"\x7f\xff"):
        with pytest.raises(hll.HllInvalid):
            hll.validate(bad)
    # A sparse value is not length-checked by validate (only when decoded).
    hll.validate(b"HYLL\x01" + b"\x00" * 11)


def test_add_small_sets():
    v, reply = pfadd(None, [])
    assert reply == 1 and v[15] == 0x80 and v[:15] == hll.new_sparse()[:15]
    v, reply = pfadd(v, [b"a"])
    assert reply == 1
    assert sparse_ops(v) == [("X", 0, 12711), ("V", 2, 1), ("X", 0, 16384 - 12712)]
    v2, reply = pfadd(v, [b"a"])
    assert reply == 0 and v2 == v
    els = [b"e%d" % i for i in range(50)]
    v, _ = pfadd(v, els)
    assert hll.registers(v) == expected_registers(els + [b"a"])
    card, cached = hll.count_cached(v)
    assert card == 51
    assert cached[8:16] == (51).to_bytes(8, "little")
    assert hll.count_cached(cached) == (51, None)
    assert hll.count_registers(hll.registers(v)) == 51


def test_sparse_val_runs_merge():
    rnd = random.Random(3)
    # Four adjacent registers set to the same value end as one VAL:x,4.
    els = [element_for(100 + k, 3, rnd) for k in (0, 2, 1, 3)]
    v, _ = pfadd(None, els)
    assert sparse_ops(v) == [("X", 0, 100), ("V", 3, 4), ("X", 0, 16384 - 104)]
    # Raising the middle of a run splits it.
    v, _ = pfadd(v, [element_for(101, 5, rnd)])
    assert sparse_ops(v) == [("X", 0, 100), ("V", 3, 1), ("V", 5, 1), ("V", 3, 2), ("X", 0, 16280)]
    # Short zero runs use ZERO, long ones XZERO.
    v, _ = pfadd(None, [element_for(64, 1, rnd), element_for(66, 1, rnd)])
    assert sparse_ops(v) == [("Z", 0, 64), ("V", 1, 1), ("Z", 0, 1), ("V", 1, 1), ("X", 0, 16384 - 67)]


@pytest.mark.parametrize("n", [10, 100, 1000, 10000, 100000])
def test_count_error_bound(n):
    v = None
    els = [b"member:%d" % i for i in range(n)]
    for i in range(0, n, 1000):
        v, _ = pfadd(v, els[i:i + 1000])
    card, _ = hll.count_cached(v)
    if n <= 100:
        assert abs(card - n) <= max(1, n // 50)
    else:
        assert abs(card - n) <= 0.02 * n
    assert hll.is_dense(v) == (n >= 10000)
    assert hll.registers(v) == expected_registers(els)
    assert hll.count_registers(hll.registers(v)) == card


def test_promotion_at_byte_limit():
    for limit in (40, 100, 300, 3000):
        v = None
        rnd = random.Random(limit)
        added = []
        promoted = False
        for _ in range(3000):
            e = b"%d" % rnd.getrandbits(40)
            before = v
            v, _ = pfadd(v, [e], limit)
            added.append(e)
            if hll.is_dense(v):
                promoted = True
                # The sparse value was within the limit and would have grown
                # past it (a larger limit keeps it sparse).
                assert before is not None and len(before) <= limit
                assert not hll.is_dense(pfadd(before, [e], limit + 3)[0])
                break
            assert len(v) <= limit
        assert promoted
        assert hll.registers(v) == expected_registers(added)


def test_promotion_above_32():
    rnd = random.Random(4)
    v, _ = pfadd(None, [element_for(7, 32, rnd)])
    assert not hll.is_dense(v)
    v, _ = pfadd(v, [element_for(9, 33, rnd)])
    assert hll.is_dense(v) and len(v) == hll.DENSE_SIZE
    regs = hll.registers(v)
    assert regs[7] == 32 and regs[9] == 33 and sum(regs) == 65
    v, _ = pfadd(v, [element_for(16383, 51, rnd), element_for(0, 50, rnd)])
    regs = hll.registers(v)
    assert regs[16383] == 51 and regs[0] == 50


def _dense(regs: bytearray) -> bytes:
    """A dense HLL of these registers, cache invalidated (PFMERGE of a dense input into a missing key)."""
    return hll.store_registers(hll.new_sparse(), regs, True, 3000)


def test_dense_registers_roundtrip():
    rnd = random.Random(5)
    regs = bytearray(rnd.randrange(64) for _ in range(hll.REGISTERS))
    v = _dense(regs)
    assert len(v) == hll.DENSE_SIZE and v[15] == 0x80
    assert hll.registers(v) == regs
    # HLL_DENSE_GET_REGISTER on the packed bytes, register by register.
    p = v[16:] + b"\x00"
    for i in range(0, hll.REGISTERS, 7):
        b, fb = i * 6 // 8, (i * 6) & 7
        assert ((p[b] >> fb) | (p[b + 1] << (8 - fb))) & 63 == regs[i]


def test_merge_and_store():
    a, _ = pfadd(None, [b"x%d" % i for i in range(100)])
    b, _ = pfadd(None, [b"y%d" % i for i in range(100)])
    regs = hll.registers(a)
    hll.merge_max(regs, b)
    assert regs == bytearray(map(max, hll.registers(a), hll.registers(b)))
    out = pfmerge(None, [a, b])
    assert not hll.is_dense(out) and out[15] & 0x80
    assert hll.registers(out) == regs
    d = _dense(hll.registers(b))
    out = pfmerge(None, [a, d])
    assert hll.is_dense(out) and hll.registers(out) == regs
    assert out == _dense(regs)


def test_corrupted_sparse():
    short = b"HYLL\x01" + b"\x00" * 11 + b"\x5f\xff"          # XZERO:8192 only
    long_ = b"HYLL\x01" + b"\x00" * 11 + b"\x7f\xff\x00"      # 16385 registers
    for bad in (short, long_, b"HYLL\x01" + b"\x00" * 11):
        hll.validate(bad)
        with pytest.raises(hll.HllCorrupted):
            hll.count_cached(hll.invalidate_cache(bad))
        with pytest.raises(hll.HllCorrupted):
            hll.registers(bad)
        with pytest.raises(hll.HllCorrupted):
            hll.merge_max(bytearray(hll.REGISTERS), bad)
    rnd = random.Random(6)
    low, high = element_for(10, 2, rnd), element_for(9000, 2, rnd)
    # Redis only finds the register's opcode: an index inside works ...
    v, changed = hll.add(short, [low], 3000)
    assert changed
    # ... one past the last opcode fails, keeping what was done before it.
    with pytest.raises(hll.HllCorrupted) as exc:
        hll.add(short, [low, high], 3000)
    assert exc.value.partial == v
    with pytest.raises(hll.HllCorrupted) as exc:
        hll.add(short, [high], 3000)
    assert exc.value.partial is None
    # Too many registers: the update works, counting does not.
    v, _ = hll.add(long_, [low], 3000)
    with pytest.raises(hll.HllCorrupted):
        hll.count_cached(v)
    # A promotion decodes the whole value and fails.
    with pytest.raises(hll.HllCorrupted):
        hll.add(long_, [element_for(10, 40, rnd)], 3000)


def test_pfadd_100_elements_is_fast():
    v = None
    rnd = random.Random(7)
    while v is None or len(v) < 2900:
        v, _ = pfadd(v, [b"%d" % rnd.getrandbits(48) for _ in range(10)])
        assert not hll.is_dense(v)
    batch = [b"%d" % rnd.getrandbits(48) for _ in range(100)]
    t0 = time.perf_counter()
    for _ in range(5):
        hll.add(v, batch, 100000)
    per_call = (time.perf_counter() - t0) / 5
    assert per_call < 0.05, per_call


# --------------------------------------------------- differential (Redis)

REDIS_SERVER = shutil.which("redis-server") or ("/usr/bin/redis-server"
                                                if os.path.exists("/usr/bin/redis-server") else None)


@pytest.fixture(scope="module")
def rds():
    if REDIS_SERVER is None:
        pytest.skip("redis-server not installed")
    redis = pytest.importorskip("redis")
    sock = f"/tmp/pikamp-hll-{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/tmp")
    try:
        client = redis.Redis(unix_socket_path=sock)
        for _ in range(100):
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start")
        version = client.info("server")["redis_version"]
        if not version.startswith("7.0."):
            pytest.skip(f"reference is Redis {version}, not 7.0")
        yield client
        client.close()
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if os.path.exists(sock):
            os.unlink(sock)


@pytest.fixture
def r(rds):
    rds.flushall()
    rds.config_set("hll-sparse-max-bytes", 3000)
    yield rds
    rds.config_set("hll-sparse-max-bytes", 3000)


def replay(r, batches, key="k", max_bytes=3000, check_each=True) -> bytes:
    """PFADD each batch on Redis and here; the stored bytes and replies must
    match after every batch."""
    mine = r.get(key)
    for batch in batches:
        reply = r.pfadd(key, *batch)
        mine, my_reply = pfadd(mine, batch, max_bytes)
        assert reply == my_reply
        if check_each:
            assert r.get(key) == mine
    assert r.get(key) == mine
    return mine


def check_count(r, key, mine: bytes) -> bytes:
    card, updated = hll.count_cached(mine)
    assert r.pfcount(key) == card
    if updated is not None:
        mine = updated
    assert r.get(key) == mine
    return mine


def test_diff_few_elements(r):
    mine = replay(r, [[]])
    assert mine == r.get("k")
    mine = replay(r, [[b"a"], [b"b", b"c"], [b"a"], [b""], [b"x" * 100]])
    mine = check_count(r, "k", mine)
    mine = check_count(r, "k", mine)            # from the cache now
    replay(r, [[b"d"]])


def test_diff_hundreds_sparse(r):
    rnd = random.Random(10)
    els = [rnd.randbytes(rnd.randrange(0, 24)) for _ in range(600)]
    mine = replay(r, [els[i:i + 1] for i in range(200)] + [els[i:i + 37] for i in range(200, 600, 37)])
    assert not hll.is_dense(mine)
    check_count(r, "k", mine)


def test_diff_crafted_runs(r):
    """Registers packed into a narrow window with all values 1..32, so that
    ZERO/XZERO/VAL splits and VAL merges all happen."""
    rnd = random.Random(11)
    for trial in range(6):
        key = f"k{trial}"
        lo = rnd.choice([0, 60, 5000, 16384 - 300])
        batches = []
        for _ in range(150):
            batches.append([element_for(lo + rnd.randrange(300), rnd.randrange(1, 33), rnd)
                            for _ in range(rnd.choice([1, 1, 2, 5]))])
        mine = replay(r, batches, key)
        check_count(r, key, mine)


def test_diff_promote_to_dense(r):
    rnd = random.Random(12)
    els = [b"user:%d" % rnd.getrandbits(32) for _ in range(5000)]
    mine = replay(r, [els[i:i + 25] for i in range(0, 5000, 25)], check_each=False)
    assert hll.is_dense(mine)
    mine = check_count(r, "k", mine)
    # Elements one by one around the promotion.
    r.delete("k")
    mine = replay(r, [[e] for e in els[:2500]], check_each=False)
    assert hll.is_dense(mine)
    check_count(r, "k", mine)


@pytest.mark.parametrize("limit", [30, 200, 1000, 6000])
def test_diff_sparse_max_bytes(r, limit):
    r.config_set("hll-sparse-max-bytes", limit)
    rnd = random.Random(limit)
    batches = [[b"%d" % rnd.getrandbits(40) for _ in range(rnd.choice([1, 3]))] for _ in range(1500)]
    mine = replay(r, batches, max_bytes=limit, check_each=limit <= 1000)
    check_count(r, "k", mine)


def test_diff_values_above_32(r):
    rnd = random.Random(13)
    els = [b"s%d" % i for i in range(300)]
    mine = replay(r, [els])
    mine = replay(r, [[element_for(4242, 33, rnd)]])
    assert hll.is_dense(mine)
    mine = replay(r, [[element_for(0, 51, rnd), element_for(16383, 50, rnd)],
                      [element_for(1, 40, rnd)]])
    check_count(r, "k", mine)
    # All registers high: the estimator's extreme ends.
    r.delete("k2")
    mine = replay(r, [[element_for(i, 51, rnd) for i in range(j, j + 1024)]
                      for j in range(0, 16384, 1024)], key="k2", check_each=False)
    check_count(r, "k2", mine)


def test_diff_count_multi_key(r):
    rnd = random.Random(14)
    a = replay(r, [[b"a%d" % i for i in range(200)]], key="a")
    b = replay(r, [[b"b%d" % rnd.getrandbits(30) for _ in range(4000)]], key="b", check_each=False)
    assert hll.is_dense(b) and not hll.is_dense(a)
    regs = bytearray(hll.REGISTERS)
    for v in (a, b):
        hll.merge_max(regs, v)
    assert r.pfcount("a", "b", "missing") == hll.count_registers(regs)
    assert r.get("a") == a and r.get("b") == b          # no cache update


def test_diff_pfmerge(r):
    rnd = random.Random(15)
    a = replay(r, [[b"a%d" % i for i in range(150)]], key="a")
    b = replay(r, [[b"b%d" % i for i in range(150)]], key="b")
    d = replay(r, [[b"d%d" % rnd.getrandbits(30) for _ in range(3000)]], key="d", check_each=False)
    big = replay(r, [[b"g%d" % i for i in range(1500)]], key="big", check_each=False)
    assert not hll.is_dense(big)
    # sparse + sparse into a new key: stays sparse.
    assert r.pfmerge("m1", "a", "b")
    m1 = pfmerge(None, [a, b])
    assert r.get("m1") == m1 and not hll.is_dense(m1)
    # sparse + dense: dense.
    assert r.pfmerge("m2", "a", "d")
    assert r.get("m2") == pfmerge(None, [a, d])
    # into an existing destination with a valid cache.
    m1 = check_count(r, "m1", m1)
    assert r.pfmerge("m1", "big", "missing")
    m1 = pfmerge(m1, [big, None])
    assert r.get("m1") == m1
    assert hll.is_dense(m1)             # grew past 3000 bytes while merging
    # existing sparse destination with a valid cache, dense source.
    a = check_count(r, "a", a)
    assert r.pfmerge("a", "d")
    assert r.get("a") == pfmerge(a, [d])
    # no sources at all
    assert r.pfmerge("empty")
    assert r.get("empty") == pfmerge(None, [])
    # merging registers > 32 from a dense source into a sparse destination
    hi = replay(r, [[element_for(5, 45, rnd)]], key="hi")
    b = check_count(r, "b", b)
    assert r.pfmerge("b", "hi")
    assert r.get("b") == pfmerge(b, [hi])


def _redis_error(r, *cmd) -> str | None:
    try:
        r.execute_command(*cmd)
    except Exception as e:  # redis.ResponseError
        return str(e)
    return None


def test_diff_invalid_and_corrupted(r):
    rnd = random.Random(16)
    short = b"HYLL\x01" + b"\x00" * 11 + b"\x5f\xff"
    long_ = b"HYLL\x01" + b"\x00" * 11 + b"\x7f\xff\x00"
    low, high = element_for(10, 2, rnd), element_for(9000, 2, rnd)
    # invalid strings
    for bad in (b"xx", b"HYLL\x02" + b"\x00" * 11 + b"\x7f\xff", b"HYLL\x00" + b"\x00" * 13):
        r.set("s", bad)
        err = _redis_error(r, "PFADD", "s", "x")
        assert err.startswith("WRONGTYPE Key is not a valid HyperLogLog")
        with pytest.raises(hll.HllInvalid):
            hll.validate(bad)
    # PFADD into a too-short sparse: the first element stays, the error follows.
    r.set("c", short)
    assert _redis_error(r, "PFADD", "c", low, high) == "INVALIDOBJ Corrupted HLL object detected"
    with pytest.raises(hll.HllCorrupted) as exc:
        hll.add(short, [low, high], 3000)
    assert r.get("c") == exc.value.partial
    # Too many registers: PFADD works, PFCOUNT fails.
    r.set("c2", long_)
    assert r.pfadd("c2", low) == 1
    mine, _ = pfadd(long_, [low])
    assert r.get("c2") == mine
    assert _redis_error(r, "PFCOUNT", "c2") == "INVALIDOBJ Corrupted HLL object detected"
    with pytest.raises(hll.HllCorrupted):
        hll.count_cached(mine)
    assert _redis_error(r, "PFCOUNT", "c2", "c") == "INVALIDOBJ Corrupted HLL object detected"
    assert _redis_error(r, "PFMERGE", "m", "c2") == "INVALIDOBJ Corrupted HLL object detected"
    # An XZERO cut by the end of the string reads a zero second byte.
    cut = b"HYLL\x01" + b"\x00" * 10 + b"\x80" + b"\x40\xfe" + b"\x7f"   # 255 + 16129
    r.set("t", cut)
    card, updated = hll.count_cached(cut)
    assert r.pfcount("t") == card == 0
    assert r.get("t") == updated
    assert r.pfcount("t", "missing") == hll.count_registers(hll.registers(cut))
    mine = replay(r, [[element_for(3, 4, rnd)]], key="t")
    assert mine[-1:] == b"\x7f"


_CRAFTED = {
    "xzero+val": b"\x7f\xff\x88",       # a VAL past register 16383
    "xzero+zero": b"\x7f\xff\x00",
    "over-by-val": b"\x7f\xfd\x8b",     # VAL:3,4 starting at 16382
    "short": b"\x7f\xfd",
    "empty": b"",
    "val-at-end": b"\x7f\xfd\x89",      # VAL:3,2 ending exactly at 16383
    "runs": b"\x80\x85\x3e\x9b\x7f\xb9",    # 16384 registers
}


@pytest.mark.parametrize("name", sorted(_CRAFTED))
def test_diff_crafted_sparse(r, name):
    """Hand-made sparse strings (cache invalid, unused header bytes set):
    which commands Redis accepts on them, and the bytes it leaves."""
    rnd = random.Random(name)
    v = b"HYLL\x01\x01\x02\x03" + b"\x05" + b"\x00" * 6 + b"\x80" + _CRAFTED[name]

    def outcome(f):
        try:
            return f()
        except Exception as e:   # redis.ResponseError / hll.HllCorrupted
            return "INVALIDOBJ" if "Corrupted" in str(e) else repr(e)

    r.set("x", v)
    assert outcome(lambda: r.pfcount("x")) == outcome(lambda: hll.count_cached(v)[0])
    assert outcome(lambda: r.pfcount("x", "nokey")) == outcome(
        lambda: hll.count_registers(hll.registers(v)))
    got = outcome(lambda: r.pfmerge("m", "x"))
    mine = outcome(lambda: pfmerge(None, [v]))
    if got is True:
        assert r.get("m") == mine
    else:
        assert got == mine == "INVALIDOBJ"
    for idx, cnt in [(0, 1), (5, 40), (5, 4), (16383, 3)]:
        r.set("x", v)
        el = element_for(idx, cnt, rnd)
        got = outcome(lambda: r.pfadd("x", el))
        try:
            stored, reply = pfadd(v, [el])
        except hll.HllCorrupted as e:
            stored, reply = e.partial or v, "INVALIDOBJ"
        assert got == reply
        assert r.get("x") == stored
