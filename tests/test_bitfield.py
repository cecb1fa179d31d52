"""BITFIELD and BITFIELD_RO: byte-identical to Redis 7.0 in RESP2 and RESP3
(``diff``): every type width at its limits, offsets across bytes and "#N",
the three OVERFLOW modes at both ends, keys created and grown only by
writes, TTLs kept, MULTI/EXEC and DBs of either worker, chunked strings,
every error in Redis' order (an error anywhere runs nothing), WATCH and
keyspace hits as Redis counts them; and the storage touching only the chunks
of its fields."""
from __future__ import annotations

import random

import pytest

from pikamp.storage import bitmaps, strings
from pikamp.storage.bitmaps import FieldOp
from pikamp.storage.codec import CHUNK
from pikamp.storage.database import Clock, Database
from pikamp.storage.engine import DATA, Engine
from resp_client import parse
from test_strings import I64_MAX, I64_MIN, assert_expires, non_string_key

I64_LO, I64_HI = -(2**63), 2**63 - 1
TYPES = ["i1", "i2", "i7", "i8", "i9", "i16", "i31", "i32", "i33", "i63", "i64",
         "u1", "u2", "u7", "u8", "u9", "u16", "u31", "u32", "u33", "u62", "u63"]
PATTERN = b"\xa5\x3c\xff\x00\x81\x7e\x12\xed\x80\x01\xc3\x5a"  # every kind of byte, 96 bits
OFFSETS = ["0", "1", "7", "8", "9", "13", "31", "33", "60", "90", "95", "96", "200", "#0", "#1", "#3"]


def limits(typ: str) -> tuple[int, int]:
    bits = int(typ[1:])
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if typ[0] == "i" else (0, 2**bits - 1)


def in_int64(values) -> list[str]:
    return [str(v) for v in dict.fromkeys(values) if I64_LO <= v <= I64_HI]


def set_values(typ: str) -> list[str]:
    """SET values at and past the type's ends, and int64's (where Redis'
    own int64 arithmetic shows: SAT of a value far below a signed range)."""
    lo, hi = limits(typ)
    return in_int64([lo, hi, lo - 1, hi + 1, 0, 1, -1, hi // 2, 2 * hi + 1, 2 * hi + 2, -hi - 5,
                     I64_HI, I64_LO, I64_LO + 1, I64_LO + hi, I64_LO + hi + 1, I64_LO + hi + 2, I64_HI - hi])


def increments(typ: str) -> list[str]:
    lo, hi = limits(typ)
    span = hi - lo + 1
    return in_int64([1, -1, hi, -hi, hi + 1, lo - 1, span, -span, span + 3, 3 * span - 1, -3 * span + 1,
                     12345678901234567, -12345678901234567, I64_HI, I64_LO, I64_HI - 1, I64_LO + 1])


# -- reading fields --------------------------------------------------------------------
@pytest.mark.parametrize("typ", TYPES)
def test_get_reads_every_width_at_any_offset(diff, typ):
    diff("SET", "k", PATTERN)
    ops = [a for offset in OFFSETS for a in ("GET", typ, offset)]
    diff("BITFIELD", "k", *ops)
    diff("BITFIELD_RO", "k", *ops)


def test_get_of_a_missing_key_is_zeros_and_creates_nothing(diff):
    diff("BITFIELD", "nokey", "GET", "u8", "0", "GET", "i64", "1000", "GET", "i5", "#7")
    diff("BITFIELD_RO", "nokey", "GET", "u63", "3")
    diff("EXISTS", "nokey")


def test_get_past_the_end_reads_zeros(diff):
    diff("SET", "k", b"\xff\xff")
    diff("BITFIELD", "k", "GET", "u8", "12", "GET", "i8", "12", "GET", "u16", "16", "GET", "i64", "4",
         "GET", "u63", "1", "GET", "i1", "15", "GET", "i1", "16", "GET", "u8", "4294967288")
    diff("GET", "k")


def test_no_operations_answer_an_empty_array(diff):
    diff("SET", "k", "v")
    diff("BITFIELD", "k")
    diff("BITFIELD", "nokey")
    diff("BITFIELD", "k", "OVERFLOW", "SAT")
    diff("BITFIELD_RO", "k")
    diff("BITFIELD_RO", "nokey", "OVERFLOW", "FAIL")
    diff("EXISTS", "nokey")
    diff("GET", "k")


# -- writing fields --------------------------------------------------------------------
@pytest.mark.parametrize("typ", TYPES)
def test_set_and_incrby_write_every_width_across_bytes(diff, typ):
    lo, hi = limits(typ)
    for offset in ["0", "3", "7", "8", "13", "#1", "#2"]:
        key = f"k{offset}"
        diff("BITFIELD", key, "SET", typ, offset, hi, "GET", typ, offset, "SET", typ, offset, lo,
             "INCRBY", typ, offset, "1", "GET", typ, offset, "INCRBY", typ, offset, "-1")
        diff("GET", key)
    diff("SET", "p", PATTERN)
    diff("BITFIELD", "p", "SET", typ, "5", hi // 3, "INCRBY", typ, "17", "7", "SET", typ, "#2", lo)
    diff("GET", "p")


@pytest.mark.parametrize("mode", ["WRAP", "SAT", "FAIL"])
@pytest.mark.parametrize("typ", TYPES)
def test_overflow_at_both_ends(diff, typ, mode):
    lo, hi = limits(typ)
    diff("SET", "k", PATTERN)
    ops = ["OVERFLOW", mode]
    for value in set_values(typ):
        ops += ["SET", typ, "5", value, "GET", typ, "5"]
    for start in (lo, hi, 0, -1 if lo else 1):
        for incr in increments(typ):
            ops += ["OVERFLOW", "WRAP", "SET", typ, "5", start, "OVERFLOW", mode, "INCRBY", typ, "5", incr,
                    "GET", typ, "5"]
    diff("BITFIELD", "k", *ops)
    diff("GET", "k")


def test_overflow_applies_to_the_operations_after_it(diff):
    diff("BITFIELD", "k", "SET", "u8", "0", "300", "OVERFLOW", "SAT", "SET", "u8", "8", "300",
         "INCRBY", "i8", "16", "1000", "OVERFLOW", "FAIL", "SET", "u8", "24", "300", "INCRBY", "u8", "0", "250",
         "GET", "u8", "0", "OVERFLOW", "wrap", "INCRBY", "u8", "0", "250", "overflow", "sat", "overflow", "fail",
         "INCRBY", "i8", "16", "1")
    diff("GET", "k")


def test_incrby_wraps_large_increments(diff):
    diff("BITFIELD", "k", "INCRBY", "u2", "0", I64_MAX, "INCRBY", "u2", "0", I64_MIN, "INCRBY", "i3", "5",
         "-1000000000000000001", "INCRBY", "i64", "8", I64_MAX, "INCRBY", "i64", "8", "2",
         "INCRBY", "i64", "8", I64_MIN, "INCRBY", "u63", "72", I64_MAX, "INCRBY", "u63", "72", "1",
         "INCRBY", "u63", "72", I64_MIN, "INCRBY", "i63", "#3", "-4611686018427387905")
    diff("GET", "k")


def test_writes_create_and_grow_the_string_with_zero_bytes(diff):
    diff("BITFIELD", "new", "SET", "u8", "100", "1")
    diff("GET", "new")
    diff("SET", "k", "ab")
    diff("BITFIELD", "k", "SET", "i16", "#5", "-2", "GET", "u8", "0")
    diff("GET", "k")
    diff("SET", "empty", "")
    diff("BITFIELD", "empty", "INCRBY", "u1", "3", "0")
    diff("GET", "empty")
    # GETs reach past the end of the grown string, which ends at the last byte written.
    diff("SET", "g", "a")
    diff("BITFIELD", "g", "SET", "u8", "8", "1", "GET", "i64", "4", "GET", "u8", "100")
    diff("GET", "g")


def test_a_failed_write_still_pads_the_string(diff):
    diff("BITFIELD", "f", "OVERFLOW", "FAIL", "SET", "u8", "16", "999")
    diff("EXISTS", "f")
    diff("GET", "f")
    diff("SET", "k", "x")
    diff("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "i4", "40", "8", "GET", "u8", "0")
    diff("GET", "k")


def test_writes_keep_the_ttl(diff):
    diff("SET", "k", "v")
    diff("EXPIRE", "k", "100")
    diff("BITFIELD", "k", "SET", "u8", "0", "65")
    diff("TTL", "k")
    diff("BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u8", "80", "999")
    diff("TTL", "k")
    diff("GET", "k")
    diff("SET", "p", "v", "PX", "400")
    diff("BITFIELD", "p", "INCRBY", "u16", "100", "3")
    assert_expires(diff, "p")


@pytest.mark.parametrize("workers_db", [0, 1])
def test_in_a_db_of_either_worker_and_in_multi(diff, workers_db):
    diff("SELECT", str(workers_db))
    diff("SET", "k", PATTERN)
    diff("BITFIELD", "k", "INCRBY", "i5", "3", "-7", "GET", "u16", "#1")
    diff("MULTI")
    diff("BITFIELD", "k", "SET", "u8", "#0", "200", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "100")
    diff("BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i64", "1")
    diff("BITFIELD", "k", "GET", "x8", "0")
    diff("BITFIELD_RO", "k", "SET", "u8", "0", "1")
    diff("BITFIELD", "m", "SET", "i64", "3", "-5")
    diff("EXEC")
    diff("GET", "k")
    diff("GET", "m")
    diff("SELECT", "0")


def test_random_sequences_like_redis(diff):
    rng = random.Random(2024)
    diff("SET", "k", PATTERN[:5])
    for _ in range(250):
        ops: list[str] = []
        for _ in range(rng.randint(1, 6)):
            if rng.random() < 0.2:
                ops += ["OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL"])]
            typ = rng.choice(TYPES)
            lo, hi = limits(typ)
            offset = f"#{rng.randrange(8)}" if rng.random() < 0.2 else str(rng.randrange(160))
            kind = rng.choice(["GET", "SET", "INCRBY"])
            ops += [kind, typ, offset]
            if kind == "SET":
                ops.append(rng.choice(set_values(typ) + [str(rng.randint(lo, hi))]))
            elif kind == "INCRBY":
                ops.append(rng.choice(increments(typ) + [str(rng.randint(-hi, hi))]))
        diff("BITFIELD", "k", *ops)
        diff("GET", "k")


def test_chunked_strings(diff):
    """Fields across chunk boundaries and the end of a chunked value, and an
    inline value growing into a chunked one."""
    big = random.Random(5).randbytes(strings.INLINE_MAX + 2 * CHUNK + 11)
    diff("SET", "s", big)
    edges = [8 * CHUNK - 5, 8 * 2 * CHUNK - 60, 8 * strings.INLINE_MAX - 3, 8 * len(big) - 4]
    ops = []
    for bit in edges:
        ops += ["GET", "i16", bit, "INCRBY", "u13", bit, "4097", "SET", "i64", bit + 1, "-3", "GET", "u63", bit - 7]
    diff("BITFIELD", "s", *ops, "GET", "u8", 8 * (len(big) + 100))
    diff("STRLEN", "s")
    for bit in edges:
        diff("GETRANGE", "s", str(bit // 8 - 3), str(bit // 8 + 12))
    diff("BITFIELD", "s", "SET", "u8", 8 * (len(big) + CHUNK), "7", "OVERFLOW", "FAIL",
         "SET", "u8", 8 * (len(big) + 3 * CHUNK), "999")
    diff("STRLEN", "s")
    diff("GETRANGE", "s", str(len(big) - 2), "-1")
    diff("SET", "t", "abc")
    diff("BITFIELD", "t", "SET", "u8", 8 * (strings.INLINE_MAX + 10), "7", "GET", "u8", "0")
    diff("STRLEN", "t")
    diff("GET", "t")


# -- errors ----------------------------------------------------------------------------
BAD_TYPES = ["u64", "i65", "i0", "u0", "x8", "I8", "U8", "", "i", "u", "i-1", "i08", "i+8", "i 8", "u8 ",
             "i8.0", "i9223372036854775808", "8", b"\x00i8"]
BAD_OFFSETS = ["-1", "abc", "", "#", "#-1", "##1", "# 1", "1.5", "+1", "01", "#01", b"1\x00", "4294967296",
               "9223372036854775808", "#9223372036854775807"]
BAD_VALUES = ["abc", "", " 1", "+1", "1.5", "9223372036854775808", "-9223372036854775809", b"1\x00"]

ERRORS = [
    ("GET",), ("GET", "u8"), ("SET", "u8", "0"), ("INCRBY", "u8", "0"), ("FOO",), ("FOO", "u8", "0"),
    ("OVERFLOW",), ("OVERFLOW", "bad"), ("OVERFLOW", "wrapx"), ("OVERFLOW", ""), ("OVERFLOW", "SAT", "GET", "u8"),
    ("OVERFLOW", "bad", "GET", "x8", "0"), ("GET", "x8", "-1"), ("GET", "u8", "-1", "SET"),
    ("SET", "x8", "-1", "abc"), ("SET", "u8", "-1", "abc"), ("SET", "u8", "0", "abc"),
    ("GET", "u8", "0", "SET", "u8", "0"), ("GET", "u8", "0", "BOGUS"), ("GET", "u8", "0", "GET"),
    ("GET", "u8", "#536870912"), ("SET", "u8", "0", "1", "OVERFLOW", "bad"),
    ("SET", "u8", "0", "255", "INCRBY", "u8", "0", "1", "GET", "u8", "bad"),
]


def test_errors_in_redis_order_and_nothing_runs(diff):
    diff("SET", "k", b"\x01")
    cases = list(ERRORS)
    cases += [("GET", bad, "0") for bad in BAD_TYPES] + [("SET", bad, "0", "1") for bad in BAD_TYPES]
    cases += [("GET", "u8", bad) for bad in BAD_OFFSETS] + [("INCRBY", "i8", bad, "1") for bad in BAD_OFFSETS]
    cases += [("SET", "u8", "0", bad) for bad in BAD_VALUES] + [("INCRBY", "u8", "0", bad) for bad in BAD_VALUES]
    for ops in cases:
        diff("BITFIELD", "k", *ops)
        diff("BITFIELD", "nokey", "SET", "u8", "0", "7", *ops)
        diff("BITFIELD_RO", "k", *ops)
    diff("GET", "k")
    diff("EXISTS", "nokey")


def test_edge_offsets_and_spellings_that_redis_accepts(diff):
    # 8 * 2**29 - 1 is the last bit of a 512 MB string; "#N" times 64 may wrap around to a small offset.
    diff("BITFIELD", "k", "GET", "u8", "4294967295", "GET", "u8", "#536870911", "GET", "i64", "#67108863",
         "GET", "i64", "#288230376151711745", "GET", "i8\x00junk", "0", "get\x00x", "u1", "0",
         "gEt", "i7", "3", "OVERFLOW", "sat\x00x", "GET", "u4", "#0")
    diff("BITFIELD", "k", "SET", "i64", "#288230376151711745", "-1", "sEt", "u3", "1", "5")
    diff("GET", "k")


def test_wrong_type_and_arity(diff):
    key = non_string_key(diff)
    for cmd in (("BITFIELD", key), ("BITFIELD", key, "GET", "u8", "0"), ("BITFIELD", key, "SET", "u8", "0", "1"),
                ("BITFIELD", key, "GET", "x8", "0"), ("BITFIELD_RO", key), ("BITFIELD_RO", key, "GET", "u8", "0"),
                ("BITFIELD_RO", key, "SET", "u8", "0", "1"), ("BITFIELD_RO", key, "INCRBY", "u8", "0", "x"),
                ("BITFIELD",), ("BITFIELD_RO",)):
        diff(*cmd)
    diff("TYPE", key)


def test_bitfield_ro_refuses_writes_after_parsing_them(diff):
    diff("SET", "k", "v")
    for ops in (("SET", "u8", "0", "1"), ("INCRBY", "u8", "0", "1"), ("GET", "u8", "0", "INCRBY", "u8", "0", "1"),
                ("OVERFLOW", "FAIL", "SET", "u8", "0", "999"), ("SET", "u8", "0", "1", "GET", "x1", "0"),
                ("SET", "u8", "0", "x")):
        diff("BITFIELD_RO", "k", *ops)
        diff("BITFIELD_RO", "nokey", *ops)
    diff("GET", "k")
    diff("EXISTS", "nokey")


# -- what counts as a change ------------------------------------------------------------
def test_watch_sees_only_writes_that_change_something(diff):
    diff("BITFIELD", "b", "SET", "u8", "0", "5")
    for ops, dirty in [(("OVERFLOW", "FAIL", "SET", "u8", "100", "999"), False),  # grown, nothing written
                       (("SET", "u8", "0", "5"), False), (("INCRBY", "u8", "0", "0"), False),
                       (("GET", "u8", "0"), False), (("SET", "u8", "0", "6"), True),
                       (("SET", "u8", "0", "7", "SET", "u8", "0", "6"), True),  # back to what it was
                       (("OVERFLOW", "FAIL", "SET", "u8", "200", "999", "SET", "u8", "0", "6"), True)]:
        diff("WATCH", "b")
        diff("BITFIELD", "b", *ops)
        diff("MULTI")
        diff("PING")
        assert (diff("EXEC") in (b"*-1\r\n", b"_\r\n")) == dirty, ops
    diff("STRLEN", "b")


def test_only_gets_count_as_keyspace_hits_and_misses(diff):
    def stats(conn) -> tuple[int, int]:
        text = parse(conn.call("INFO", "stats"))
        text = (text[1] if isinstance(text, tuple) else text).decode()
        info = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
        return int(info["keyspace_hits"]), int(info["keyspace_misses"])

    diff("SET", "k", "v")
    before = stats(diff.p), stats(diff.r)
    for cmd in (("BITFIELD", "k", "GET", "u8", "0"), ("BITFIELD", "nokey", "GET", "u8", "0"), ("BITFIELD", "k"),
                ("BITFIELD", "k", "SET", "u8", "0", "1"), ("BITFIELD", "nokey2", "INCRBY", "u8", "0", "1"),
                ("BITFIELD_RO", "k", "GET", "u8", "0"), ("BITFIELD_RO", "nokey")):
        diff(*cmd)
    after = stats(diff.p), stats(diff.r)
    mine = [a - b for a, b in zip(after[0], before[0])]
    ref = [a - b for a, b in zip(after[1], before[1])]
    assert mine == ref == [3, 2]


# -- storage: only the bytes of the fields -----------------------------------------------
def test_fields_of_a_chunked_value_touch_only_their_chunks(tmp_path):
    eng = Engine(str(tmp_path / "db"))
    db = Database(0, eng, Clock())
    value = random.Random(3).randbytes(40 * CHUNK + 5)
    strings.put(db, b"k", value, 0, None)
    db.commit()
    reads: list[bytes] = []
    puts: list[tuple[int, int]] = []
    real_get_many, real_put = eng.get_many, eng.put
    eng.get_many = lambda cf, keys: (reads.extend(keys), real_get_many(cf, keys))[1]  # type: ignore[method-assign]
    eng.put = lambda cf, k, v: (puts.append((cf, len(v))), real_put(cf, k, v))[1]  # type: ignore[method-assign]
    ops = [FieldOp(bitmaps.SET, False, 8, 8 * 3 * CHUNK, 7), FieldOp(bitmaps.GET, True, 64, 8 * 3 * CHUNK + 4),
           FieldOp(bitmaps.INCRBY, True, 16, 8 * 30 * CHUNK - 8, 1), FieldOp(bitmaps.GET, False, 8, 8 * 50 * CHUNK)]
    assert bitmaps.bit_field(db, b"k", ops)[0] == value[3 * CHUNK]
    assert len(reads) == 3  # chunk 3, chunks 29 and 30; nothing past the end
    assert [cf for cf, _ in puts] == [DATA, DATA, DATA] and max(n for _, n in puts) <= CHUNK  # no meta write
    eng.get_many, eng.put = real_get_many, real_put  # type: ignore[method-assign]
    db.commit()
    got = strings.get(db, b"k")
    assert got[3 * CHUNK] == 7 and len(got) == len(value)
    assert got[: 3 * CHUNK] == value[: 3 * CHUNK] and got[30 * CHUNK + 1 :] == value[30 * CHUNK + 1 :]
