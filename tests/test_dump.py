"""DUMP and RESTORE as Redis 7.0.15: replies and option checks compared with
redis-server; values DUMPed by Redis RESTORE in pikamp and the reverse, for
every type and every encoding Redis makes (byte for byte where Redis' own
layout is deterministic); the payloads of older Redis versions (ziplists,
zipmaps, quicklists of ziplists) built here and read by both; and the codec,
pikamp.rdb, on hand-built and corrupt payloads."""
from __future__ import annotations

import math
import random
import struct
import time

import pytest
import redis
from servers import HOST

from pikamp import rdb

# -- building payloads by hand -----------------------------------------------------


def with_footer(body: bytes, version: int = rdb.RDB_VERSION) -> bytes:
    head = body + version.to_bytes(2, "little")
    return head + rdb.crc64(head).to_bytes(8, "little")


def rlen(n: int) -> bytes:
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | n >> 8, n & 0xFF))
    return b"\x80" + n.to_bytes(4, "big")


def rstr(s: bytes) -> bytes:
    return rlen(len(s)) + s


def zl_entry(value: bytes | int, prevlen: int) -> bytes:
    head = bytes((prevlen,)) if prevlen < 254 else b"\xfe" + prevlen.to_bytes(4, "little")
    if isinstance(value, int):
        if 0 <= value <= 12:
            return head + bytes((0xF1 + value,))
        for enc, width in ((b"\xfe", 1), (b"\xc0", 2), (b"\xf0", 3), (b"\xd0", 4), (b"\xe0", 8)):
            if -(1 << (8 * width - 1)) <= value < 1 << (8 * width - 1):
                return head + enc + value.to_bytes(width, "little", signed=True)
    n = len(value)
    if n < 64:
        return head + bytes((n,)) + value
    if n < 16384:
        return head + bytes((0x40 | n >> 8, n & 0xFF)) + value
    return head + b"\x80" + n.to_bytes(4, "big") + value


def ziplist(values: list) -> bytes:
    entries, offsets, prev, pos = [], [], 0, 10
    for v in values:
        e = zl_entry(v, prev)
        entries.append(e)
        offsets.append(pos)
        prev = len(e)
        pos += len(e)
    body = b"".join(entries)
    tail = offsets[-1] if offsets else 10
    return ((11 + len(body)).to_bytes(4, "little") + tail.to_bytes(4, "little")
            + min(len(values), 65535).to_bytes(2, "little") + body + b"\xff")


def zipmap(pairs: list[tuple[bytes, bytes]], free: int = 0) -> bytes:
    def zlen(n: int) -> bytes:
        return bytes((n,)) if n < 254 else b"\xfe" + n.to_bytes(4, "little")
    body = b"".join(zlen(len(f)) + f + zlen(len(v)) + bytes((free,)) + v + bytes(free) for f, v in pairs)
    return bytes((min(len(pairs), 254),)) + body + b"\xff"


def listpack(values: list[bytes]) -> bytes:
    return rdb.listpack([rdb._lp_entry(v) for v in values])


def _rng_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def decoded(body: bytes, max_expanded: int = 1 << 30):
    return rdb.decode(with_footer(body), max_expanded)


def refused(body: bytes, message: str = rdb.BAD_FORMAT) -> None:
    with pytest.raises(rdb.PayloadError) as e:
        decoded(body)
    assert str(e.value) == message


# -- the codec: CRC64, LZF ---------------------------------------------------------


def test_crc64_is_redis_jones_crc64():
    assert rdb.crc64(b"123456789") == 0xE9C6D914C4B8D9CA  # crc64.c's test vector
    data = bytes(range(256)) * 5
    assert rdb.crc64(data[300:], rdb.crc64(data[:300])) == rdb.crc64(data)


def test_lzf_round_trips_and_refuses_corrupt_input():
    rng = random.Random(1)
    for n in (3, 21, 100, 5000):
        for data in (b"a" * n, bytes(rng.choice(b"ab") for _ in range(n)), rng.randbytes(n)):
            packed = rdb.lzf_compress(data, n + n // 32 + 64)
            assert rdb.lzf_decompress(packed, n) == data
    assert rdb.lzf_compress(rng.randbytes(100), 96) is None  # cannot save 4 bytes
    assert rdb.lzf_decompress(b"\x02abc\xe0\x00\x02", 12) == b"abcabcabcabc"
    assert rdb.lzf_decompress(b"\x02abc\xe0\x00\x02", 11) is None  # more than asked for
    assert rdb.lzf_decompress(b"\x02abc\xe0\x00\x02", 13) is None  # less
    assert rdb.lzf_decompress(b"\x02abc\x20\x05", 6) is None  # a reference before the start
    assert rdb.lzf_decompress(b"\x05ab", 6) is None  # a literal run past the input
    assert rdb.lzf_decompress(b"\x02abc\xe0", 12) is None  # a reference cut short


# -- the codec: every encoding, hand-built ----------------------------------------------


def test_strings_raw_int_encoded_and_lzf():
    assert decoded(b"\x00" + rstr(b"hello")) == ("string", b"hello")
    assert decoded(b"\x00\x00") == ("string", b"")
    assert decoded(b"\x00\xc0\xfb") == ("string", b"-5")
    assert decoded(b"\x00\xc1\x00\x80") == ("string", b"-32768")
    assert decoded(b"\x00\xc2\xff\xff\xff\x7f") == ("string", b"2147483647")
    assert decoded(b"\x00\xc3\x07\x0c\x02abc\xe0\x00\x02") == ("string", b"abcabcabcabc")
    assert decoded(b"\x00\x80\x00\x00\x00\x03abc") == ("string", b"abc")  # 32-bit length
    assert decoded(b"\x00\x81" + (3).to_bytes(8, "big") + b"abc") == ("string", b"abc")  # 64-bit


def test_plain_collections():
    assert decoded(b"\x01\x02" + rstr(b"a") + rstr(b"b")) == ("list", [b"a", b"b"])
    assert decoded(b"\x02\x02" + rstr(b"a") + b"\xc0\x07") == ("set", [b"a", b"7"])
    assert decoded(b"\x04\x01" + rstr(b"f") + rstr(b"v")) == ("hash", [(b"f", b"v")])
    # RDB_TYPE_ZSET: text scores, 253 nan / 254 inf / 255 -inf
    assert decoded(b"\x03\x03" + rstr(b"a") + b"\x031.5" + rstr(b"b") + b"\xfe" + rstr(b"c") + b"\xff") == (
        "zset", [(b"a", 1.5), (b"b", math.inf), (b"c", -math.inf)])
    assert decoded(b"\x05\x01" + rstr(b"a") + struct.pack("<d", -2.25)) == ("zset", [(b"a", -2.25)])


def test_ziplists_zipmaps_intsets_listpacks():
    values = [b"x", 0, 12, 13, -100, 3000, -70000, 2**31, -2**40, b"y" * 70, b"z" * 20000]
    text = [b"x", b"0", b"12", b"13", b"-100", b"3000", b"-70000", b"2147483648", b"-1099511627776",
            b"y" * 70, b"z" * 20000]
    assert decoded(b"\x0a" + rstr(ziplist(values))) == ("list", text)
    assert decoded(b"\x0e\x02" + rstr(ziplist([b"a"])) + rstr(ziplist([1, b"b"]))) == ("list", [b"a", b"1", b"b"])
    assert decoded(b"\x0d" + rstr(ziplist([b"f", 1, b"g", b"v"]))) == ("hash", [(b"f", b"1"), (b"g", b"v")])
    assert decoded(b"\x0c" + rstr(ziplist([b"a", 1, b"b", b"2.5"]))) == ("zset", [(b"a", 1.0), (b"b", 2.5)])
    assert decoded(b"\x09" + rstr(zipmap([(b"f", b"v"), (b"g", b"w" * 300)], free=2))) == (
        "hash", [(b"f", b"v"), (b"g", b"w" * 300)])
    intset = struct.pack("<IIhhh", 2, 3, -5, 1, 300)
    assert decoded(b"\x0b" + rstr(intset)) == ("set", [b"-5", b"1", b"300"])
    lp = listpack([b"a", b"1", b"-4000", b"70000", b"-2147483648", b"9223372036854775807", b"b" * 5000])
    assert decoded(b"\x12\x01\x02" + rstr(lp))[1] == [b"a", b"1", b"-4000", b"70000", b"-2147483648",
                                                       b"9223372036854775807", b"b" * 5000]
    assert decoded(b"\x12\x02\x01" + rstr(b"plain") + b"\x02" + rstr(listpack([b"x"]))) == ("list", [b"plain", b"x"])
    assert decoded(b"\x10" + rstr(listpack([b"f", b"v"]))) == ("hash", [(b"f", b"v")])
    assert decoded(b"\x11" + rstr(listpack([b"m", b"-inf", b"n", b"3"]))) == ("zset", [(b"m", -math.inf), (b"n", 3.0)])


def test_empty_nodes_are_skipped_but_empty_keys_refused():
    assert decoded(b"\x12\x02\x02" + rstr(listpack([])) + b"\x02" + rstr(listpack([b"a"]))) == ("list", [b"a"])
    for body in (b"\x01\x00", b"\x02\x00", b"\x04\x00", b"\x03\x00", b"\x12\x00",
                 b"\x12\x01\x02" + rstr(listpack([])), b"\x0a" + rstr(ziplist([])),
                 b"\x0b" + rstr(struct.pack("<II", 2, 0)), b"\x10" + rstr(listpack([]))):
        refused(body)


CORRUPT = {
    "unknown type": b"\x08\x00",
    "module": b"\x07\x00",
    "unknown string encoding": b"\x00\xc4",
    "unknown length encoding": b"\x00\x82",
    "string past the end": b"\x00\x05abc",
    "int past the end": b"\x00\xc2\x01",
    "count past the end": b"\x01\x80\x7f\xff\xff\xff" + rstr(b"a"),
    "duplicate set member": b"\x02\x02" + rstr(b"a") + rstr(b"a"),
    "duplicate hash field": b"\x04\x02" + rstr(b"a") + rstr(b"1") + rstr(b"a") + rstr(b"2"),
    "duplicate zset member": b"\x05\x02" + (rstr(b"a") + bytes(8)) * 2,
    "nan score": b"\x03\x01" + rstr(b"a") + b"\xfd",
    "unreadable score": b"\x03\x01" + rstr(b"a") + b"\x03abc",
    "bad quicklist container": b"\x12\x01\x03" + rstr(listpack([b"a"])),
    "empty plain node": b"\x12\x01\x01\x00",
    "listpack size": b"\x10" + rstr(b"\x0e" + listpack([b"f", b"v"])[1:]),
    "listpack count": b"\x10" + rstr(listpack([b"f", b"v"])[:4] + b"\x03\x00" + listpack([b"f", b"v"])[6:]),
    "listpack cut short": b"\x10" + rstr(b"\x0a\x00\x00\x00\x02\x00\x85f\x02\x00\xff"),
    "listpack backlen": b"\x10" + rstr(b"\x0d\x00\x00\x00\x02\x00\x81f\x03\x81v\x02\xff"),
    "listpack encoding": b"\x12\x01\x02" + rstr(b"\x09\x00\x00\x00\x01\x00\xf5\x01\xff"),
    "listpack odd hash": b"\x10" + rstr(listpack([b"f"])),
    "listpack duplicate field": b"\x10" + rstr(listpack([b"f", b"1", b"f", b"2"])),
    "listpack bad score": b"\x11" + rstr(listpack([b"m", b"x1"])),
    "ziplist prevlen": b"\x0a" + rstr(ziplist([b"a", b"b"])[:13] + b"\x09" + ziplist([b"a", b"b"])[14:]),
    "ziplist tail": b"\x0a" + rstr(ziplist([b"a", b"b"])[:4] + b"\x00\x00\x00\x00" + ziplist([b"a", b"b"])[8:]),
    "ziplist count": b"\x0a" + rstr(ziplist([b"a"])[:8] + b"\x02\x00" + ziplist([b"a"])[10:]),
    "ziplist encoding": b"\x0a" + rstr(b"\x0e\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\xc1\x00\xff"),
    "intset unsorted": b"\x0b" + rstr(struct.pack("<IIhh", 2, 2, 5, 1)),
    "intset duplicate": b"\x0b" + rstr(struct.pack("<IIhh", 2, 2, 1, 1)),
    "intset width": b"\x0b" + rstr(struct.pack("<IIhh", 3, 1, 1, 0)),
    "intset length": b"\x0b" + rstr(struct.pack("<IIhh", 2, 3, 1, 2)),
    "zipmap count": b"\x09" + rstr(b"\x02" + zipmap([(b"f", b"v")])[1:]),
    "zipmap past the end": b"\x09" + rstr(b"\x01\x01f\x09\x00v\xff"),
    "zipmap duplicate": b"\x09" + rstr(zipmap([(b"f", b"v"), (b"f", b"w")])),
    "lzf corrupt": b"\x00\xc3\x03\x06\x20\x05a",
    "lzf impossible ratio": b"\x00\xc3\x01\x80\x00\x01\x00\x00a",
}


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_corrupt_payloads_are_bad_data_format(name):
    refused(CORRUPT[name])


def test_streams_are_refused_honestly():
    refused(b"\x0f\x00", rdb.NO_STREAMS)
    refused(b"\x13\x00", rdb.NO_STREAMS)


def test_footer_is_checked():
    good = with_footer(b"\x00" + rstr(b"v"))
    assert rdb.decode(good, 100) == ("string", b"v")
    assert rdb.decode(with_footer(b"\x00" + rstr(b"v"), version=7), 100) == ("string", b"v")
    for bad in (good[:-1] + bytes((good[-1] ^ 1,)), with_footer(b"\x00" + rstr(b"v"), version=11), good[:9], b""):
        with pytest.raises(rdb.PayloadError) as e:
            rdb.decode(bad, 100)
        assert str(e.value) == rdb.CHECKSUM_ERROR


def test_lzf_expansion_is_bounded():
    packed = rdb.lzf_compress(b"a" * 100000, 100000)
    body = b"\x00\xc3" + rlen(len(packed)) + rlen(100000) + packed
    assert decoded(body, 100000) == ("string", b"a" * 100000)
    with pytest.raises(rdb.PayloadError) as e:
        decoded(body, 99999)
    assert str(e.value) == rdb.TOO_EXPANDED


def test_mutated_payloads_decode_or_are_refused():
    """No corruption makes the decoder fail otherwise than with PayloadError."""
    rng = random.Random(7)
    w = rdb.Writer(1 << 30)
    rdb.encode_list(w, [b"%d" % i for i in range(300)] + [b"x" * 100], -2)
    seeds = [w.finish()[:-10], b"\x0a" + rstr(ziplist([b"a", 5, b"b" * 300])),
             b"\x09" + rstr(zipmap([(b"f", b"v"), (b"g", b"w")])), b"\x0b" + rstr(struct.pack("<IIii", 4, 2, -1, 9)),
             b"\x11" + rstr(listpack([b"m", b"1.5", b"n", b"2"])), b"\x03\x01" + rstr(b"a") + b"\x031.5"]
    for _ in range(3000):
        body = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            if not body:
                break
            at = rng.randrange(len(body))
            op = rng.random()
            if op < 0.6:
                body[at] = rng.randrange(256)
            elif op < 0.8:
                del body[at:]
            else:
                body.insert(at, rng.randrange(256))
        try:
            kind, value = decoded(bytes(body))
        except rdb.PayloadError:
            continue
        assert kind in ("string", "list", "set", "hash", "zset")


# -- the codec: encoders ---------------------------------------------------------------


def _encoded(encode, *args, limit: int = 1 << 30) -> bytes:
    w = rdb.Writer(limit)
    encode(w, *args)
    return w.finish()


def test_encoders_round_trip():
    items = [(b"m%d" % i, i * 0.5 - 3) for i in range(10)]
    cases = [
        (rdb.encode_string, (b"x" * 1000,), ("string", b"x" * 1000)),
        (rdb.encode_string, (b"-17",), ("string", b"-17")),
        (rdb.encode_list, ([b"%d" % i for i in range(5000)], -2), ("list", [b"%d" % i for i in range(5000)])),
        (rdb.encode_intset, ([b"3", b"-1", b"70000"],), ("set", [b"-1", b"3", b"70000"])),
        (rdb.encode_set, (2, [b"a", b"b"]), ("set", [b"a", b"b"])),
        (rdb.encode_hash_listpack, ([(b"f", b"1")],), ("hash", [(b"f", b"1")])),
        (rdb.encode_hash, (1, [(b"f", b"v" * 100)]), ("hash", [(b"f", b"v" * 100)])),
        (rdb.encode_zset_listpack, (items,), ("zset", items)),
        (rdb.encode_zset, (10, items[::-1]), ("zset", items[::-1])),
    ]
    for encode, args, expected in cases:
        assert rdb.decode(_encoded(encode, *args), 1 << 30) == expected


def test_writer_refuses_past_its_limit():
    with pytest.raises(rdb.PayloadTooLarge):
        _encoded(rdb.encode_list, [_rng_bytes(100, i) for i in range(100)], -2, limit=5000)
    assert len(_encoded(rdb.encode_string, b"abc", limit=15)) == 15


# == against redis-server ===============================================================


@pytest.fixture
def pair(pikamp_server, redis_server):
    p = redis.Redis(host=HOST, port=pikamp_server.port, protocol=2)
    r = redis.Redis(host=HOST, port=redis_server.port, protocol=2)
    for c in (p, r):
        c.flushall()
    yield p, r
    p.close()
    r.close()


def read_value(c: redis.Redis, key):
    t = c.type(key)
    if t == b"string":
        return t, c.get(key)
    if t == b"list":
        return t, c.lrange(key, 0, -1)
    if t == b"set":
        return t, c.smembers(key)
    if t == b"hash":
        return t, c.hgetall(key)
    if t == b"zset":
        return t, c.zrange(key, 0, -1, withscores=True)
    return t, None


# name -> (how to make key "k", whether Redis' DUMP is deterministic: then pikamp's is the same bytes)
VALUES = {
    "string": (lambda c: c.set("k", "hello"), True),
    "string empty": (lambda c: c.set("k", ""), True),
    "string int8": (lambda c: c.set("k", "-5"), True),
    "string int16": (lambda c: c.set("k", "3000"), True),
    "string int32": (lambda c: c.set("k", "-2000000000"), True),
    "string int64": (lambda c: c.set("k", "9223372036854775807"), True),
    "string not canonical int": (lambda c: c.set("k", "007"), True),
    "string lzf": (lambda c: c.set("k", "abcdefgh" * 500), True),
    "string incompressible": (lambda c: c.set("k", _rng_bytes(500, 1)), True),
    "string chunked": (lambda c: c.set("k", _rng_bytes(300_000, 2)), True),
    "string long text": (lambda c: c.set("k", b"%d," * 40000 % tuple(range(40000))), False),  # past the budget
    "hyperloglog": (lambda c: c.pfadd("k", *range(300)), True),
    "bitmap": (lambda c: c.setbit("k", 100_000, 1), True),
    "list small": (lambda c: c.rpush("k", "a", "b", "1", "-70000", "x" * 100), True),
    "list quicklist": (lambda c: c.rpush("k", *[b"%d" % (i * 7919) for i in range(3000)]), True),
    "list large elements": (lambda c: c.rpush("k", *[_rng_bytes(9000, i) for i in range(4)]), True),
    "list past the budget": (lambda c: c.rpush("k", *[b"e%d" % i for i in range(20000)]), False),
    "set intset": (lambda c: c.sadd("k", 5, -3, 1000), True),
    "set intset 64-bit": (lambda c: c.sadd("k", 2**40, -1), True),
    "set hashtable": (lambda c: c.sadd("k", "a", "b", "c"), False),
    "set many ints": (lambda c: c.sadd("k", *range(600)), False),
    "hash listpack": (lambda c: [c.hset("k", f"f{i:03d}", f"v{i}") for i in range(50)], True),
    "hash long value": (lambda c: c.hset("k", mapping={"a": "x" * 65, "b": "1"}), False),
    "hash hashtable": (lambda c: c.hset("k", mapping={f"f{i}": i for i in range(600)}), False),
    "zset listpack": (lambda c: c.zadd("k", {"a": 1, "b": 2.5, "c": -0.1, "d": float("inf"), "e": 1e17,
                                             "f": float("-inf"), "g": 1e19, "h": 0}), True),
    "zset long member": (lambda c: c.zadd("k", {"m" * 65: 1, "n": 2}), True),
    "zset skiplist": (lambda c: c.zadd("k", {f"m{i}": i / 7 for i in range(300)}), True),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_redis_dump_restores_in_pikamp_and_back(pair, name):
    p, r = pair
    make, deterministic = VALUES[name]
    make(p)
    make(r)
    ours, theirs = p.dump("k"), r.dump("k")
    assert p.restore("from_redis", 0, theirs) and r.restore("from_pikamp", 0, ours)
    assert read_value(p, "from_redis") == read_value(p, "k") == read_value(r, "k")
    assert read_value(r, "from_pikamp") == read_value(r, "k")
    assert r.object("encoding", "from_pikamp") == r.object("encoding", "k")
    assert p.object("encoding", "from_redis") == r.object("encoding", "k")
    if deterministic:
        assert ours == theirs
        assert p.dump("from_redis") == theirs


@pytest.mark.parametrize("compression", ["no", "yes"])
def test_rdbcompression_is_followed(pair, compression):
    p, r = pair
    for c in pair:
        c.config_set("rdbcompression", compression)
    try:
        for c in pair:
            c.set("s", "abc" * 100)
            c.hset("h", mapping={"f": "v" * 40, "g": "v" * 40})
        assert p.dump("s") == r.dump("s") and p.dump("h") == r.dump("h")
    finally:
        for c in pair:
            c.config_set("rdbcompression", "yes")


def test_list_fill_setting_cuts_nodes_as_redis(pair):
    p, r = pair
    elements = [b"%d" % (i * 31) for i in range(500)]
    for fill in ("-1", "-5", "0", "7"):
        for c in pair:
            c.config_set("list-max-listpack-size", fill)
            c.delete("k")
            c.rpush("k", *elements)
        try:
            assert p.dump("k") == r.dump("k"), fill
        finally:
            for c in pair:
                c.config_set("list-max-listpack-size", "-2")


# name -> (payload body, whether Redis DUMPs it again as pikamp does: not where
# Redis keeps the payload's own node layout or a hashtable's order)
OLD_ENCODINGS = {
    "list ziplist": (b"\x0a" + rstr(ziplist([b"a", 7, -300, 2**40, b"b" * 300])), True),
    "list quicklist of ziplists": (b"\x0e\x02" + rstr(ziplist([b"a", 1])) + rstr(ziplist([b"c" * 70])), False),
    "list plain": (b"\x01\x02" + rstr(b"x") + b"\xc1\x00\x10", True),
    "list plain node": (b"\x12\x02\x01" + rstr(b"big element") + b"\x02" + rstr(listpack([b"y", b"12"])), False),
    "hash zipmap": (b"\x09" + rstr(zipmap([(b"f", b"v"), (b"n", b"1")], free=3)), True),
    "hash ziplist": (b"\x0d" + rstr(ziplist([b"f", 1, b"g", b"v" * 100])), False),
    "zset ziplist": (b"\x0c" + rstr(ziplist([b"c", b"-inf", b"a", 1, b"b", b"2.5"])), True),
    "zset text scores": (b"\x03\x02" + rstr(b"a") + b"\x030.5" + rstr(b"b") + b"\xfe", True),
    "set plain": (b"\x02\x02" + rstr(b"a") + b"\xc0\x05", False),
    "string lzf": (b"\x00\xc3\x07\x0c\x02abc\xe0\x00\x02", True),
}


@pytest.mark.parametrize("name", sorted(OLD_ENCODINGS))
def test_older_encodings_restore_as_in_redis(pair, name):
    p, r = pair
    body, same_dump = OLD_ENCODINGS[name]
    payload = with_footer(body, version=9)
    assert r.restore("k", 0, payload) and p.restore("k", 0, payload)
    assert read_value(p, "k") == read_value(r, "k")
    if same_dump:
        assert p.dump("k") == r.dump("k")


def test_restore_replaces_any_type_and_drops_old_members(pair):
    p, _ = pair
    p.sadd("k", *range(100))
    p.hset("other", "f", "v")
    p.restore("k", 0, p.dump("other"), replace=True)
    assert p.hgetall("k") == {b"f": b"v"} and p.dbsize() == 2
    p.sadd("s", *[f"m{i}" for i in range(50)])
    p.sadd("small", "a", "b")
    p.restore("s", 0, p.dump("small"), replace=True)
    assert p.smembers("s") == {b"a", b"b"} and p.scard("s") == 2


def test_restore_ttls(pair):
    p, _ = pair
    p.set("v", "x")
    payload = p.dump("v")
    p.restore("rel", 5000, payload)
    assert 4000 < p.pttl("rel") <= 5000
    at = int(time.time() * 1000) + 100_000
    p.restore("abs", at, payload, absttl=True)
    assert p.pexpiretime("abs") == at
    p.restore("none", 0, payload)
    assert p.pttl("none") == -1
    p.restore("past", 1, payload, absttl=True)
    assert p.exists("past") == 0
    p.restore("v", 1, payload, absttl=True, replace=True)
    assert p.exists("v") == 0 and p.dbsize() == 3


def test_dump_does_not_carry_the_ttl(pair):
    p, r = pair
    p.set("k", "v", ex=100)
    r.restore("k", 0, p.dump("k"))
    assert r.ttl("k") == -1


def test_dump_and_restore_in_a_db_of_the_other_worker(pikamp_server, redis_server):
    c = redis.Redis(host=HOST, port=pikamp_server.port, db=1)
    c.flushdb()
    c.rpush("k", "a", "b")
    assert c.restore("k2", 0, c.dump("k")) and c.lrange("k2", 0, -1) == [b"a", b"b"]
    c.flushdb()
    c.close()


def test_payloads_larger_than_proto_max_bulk_len_are_refused(pair):
    p, _ = pair
    p.set("small", "v")
    p.set("big", _rng_bytes(20000, 3))
    p.rpush("list", *[_rng_bytes(200, i) for i in range(100)])
    packed = rdb.lzf_compress(b"a" * 100000, 100000)
    expanding = with_footer(b"\x00\xc3" + rlen(len(packed)) + rlen(100000) + packed)
    p.config_set("proto-max-bulk-len", "10000")
    try:
        for key in ("big", "list"):
            with pytest.raises(redis.ResponseError, match="larger than proto-max-bulk-len"):
                p.dump(key)
        assert p.dump("small")
        with pytest.raises(redis.ResponseError, match="expands to more than proto-max-bulk-len"):
            p.restore("x", 0, expanding)
    finally:
        p.config_set("proto-max-bulk-len", "536870912")
    assert p.restore("x", 0, expanding) and p.strlen("x") == 100000


# -- replies compared with Redis' -------------------------------------------------------


def _payload(diff) -> bytes:
    diff.r.call("SET", "__src", "v")
    reply = diff.r.call("DUMP", "__src")
    diff.r.call("DEL", "__src")
    return reply.split(b"\r\n", 1)[1][:-2]


def test_dump_replies(diff):
    diff("DUMP", "missing")
    diff("SET", "k", "v")
    diff("DUMP", "k")
    diff("DUMP")
    diff("DUMP", "k", "extra")


def test_restore_checks_options_key_ttl_and_payload_in_redis_order(diff):
    payload = _payload(diff)
    bad_crc = payload[:-1] + bytes((payload[-1] ^ 1,))
    newer = payload[:-10] + b"\x0b\x00" + payload[-8:]
    diff("SET", "k", "v")
    for args in [("k", "0", payload), ("k", "-5", payload), ("n", "-1", payload), ("n", "x", payload),
                 ("n", "0", "junk"), ("n", "0", ""), ("n", "0", bad_crc), ("n", "0", newer),
                 ("n", "0", payload, "FOO"), ("n", "0", payload, "IDLETIME"), ("n", "0", payload, "IDLETIME", "-1"),
                 ("n", "0", payload, "IDLETIME", "x"), ("n", "0", payload, "FREQ", "256"),
                 ("n", "0", payload, "FREQ", "-1"), ("n", "0", payload, "IDLETIME", "5", "FREQ", "3"),
                 ("n", "0", payload, "FREQ", "3", "IDLETIME", "5"), ("k", "0", payload, "FREQ", "300"),
                 ("k", "x", "junk", "REPLACE"), ("n", "0", with_footer(b"\x08\x00")),
                 ("n", "0", with_footer(b"\x01\x00")), ("n", "0", with_footer(b"\x02\x02\x01a\x01a")),
                 ("n", "0", with_footer(b"\x00\x82")), ("n", "0", with_footer(b"\x00\xc4")), ("a",)]:
        diff("RESTORE", *args)
    diff("EXISTS", "n")


def test_restore_options_and_expiry_like_redis(diff):
    payload = _payload(diff)
    diff("SET", "k", "old")
    diff("RESTORE", "a", "0", payload, "IDLETIME", "5")
    diff("RESTORE", "b", "0", payload, "freq", "0", "absttl", "replace")
    diff("RESTORE", "c", "0", payload, "REPLACE\0trailing")  # strcasecmp stops at the NUL
    diff("RESTORE", "k", "0", payload, "REPLACE")
    diff("MGET", "a", "b", "c", "k")
    diff("RESTORE", "k", "1", payload, "REPLACE", "ABSTTL")  # already expired: the key goes
    diff("RESTORE", "p", "1", payload, "ABSTTL")  # ... or is not made
    diff("RESTORE", "q", "9223372036854775807", payload)  # now + TTL wraps past LLONG_MAX: expired
    diff("RESTORE", "f", "9223372036854775807", payload, "ABSTTL")
    diff("PEXPIRETIME", "f")
    diff("EXISTS", "k", "p", "q")
    diff("RESTORE", "l", "0", payload)
    diff("TYPE", "l")


def test_acl_key_access_is_redis(diff):
    """DUMP reads its key, RESTORE only writes it (Redis' RO / OW key specs)."""
    try:
        diff("ACL", "SETUSER", "dump_w", "on", "nopass", "+@all", "%W~*")
        diff("ACL", "SETUSER", "dump_r", "on", "nopass", "+@all", "%R~*")
        for user in ("dump_w", "dump_r"):
            diff("ACL", "DRYRUN", user, "RESTORE", "k", "0", "x")
            diff("ACL", "DRYRUN", user, "DUMP", "k")
    finally:
        diff("ACL", "DELUSER", "dump_w", "dump_r")
