"""Bitmap commands: byte-identical to Redis 7.0 in RESP2 and RESP3 (``diff``)."""
from __future__ import annotations

import random
import time

import pytest

from pikamp.errors import WRONGTYPE, RespError
from pikamp.storage import codec
from test_strings import (  # noqa: F401  (local_db is a fixture)
    BAD_INTEGERS, I64_MAX, I64_MIN, assert_expires, local_db, non_string_key, run_local,
)

# Values whose bits exercise every edge: empty, all ones, all zeros, mixed, one byte.
VALUES = {
    "empty": "",
    "ones": b"\xff\xff\xff",
    "zeros": b"\x00\x00\x00",
    "mixed": b"\x00\x0f\xf0\x81\x00",
    "byte": b"\x10",
}
BOUNDS = ["0", "1", "2", "7", "8", "9", "15", "23", "39", "100", "-1", "-2", "-8", "-9", "-24", "-100",
          I64_MAX, I64_MIN]


def load_values(diff) -> None:
    for key, value in VALUES.items():
        diff("SET", key, value)


# -- SETBIT, GETBIT -------------------------------------------------------------------------
def test_setbit_creates_and_grows_with_zero_bytes(diff):
    diff("SETBIT", "k", "0", "1")
    diff("SETBIT", "k", "7", "1")
    diff("SETBIT", "k", "30", "1")
    diff("GET", "k")
    diff("SETBIT", "z", "9", "0")
    diff("GET", "z")


def test_setbit_returns_the_old_bit(diff):
    diff("SETBIT", "k", "5", "1")
    diff("SETBIT", "k", "5", "1")
    diff("SETBIT", "k", "5", "0")
    diff("SETBIT", "k", "5", "0")
    diff("GET", "k")


def test_setbit_changes_one_bit_of_an_existing_string(diff):
    diff("SET", "k", "a")
    diff("SETBIT", "k", "6", "1")
    diff("SETBIT", "k", "7", "0")
    diff("GET", "k")


def test_setbit_rejects_bad_offsets(diff):
    for bad in BAD_INTEGERS + ["-1", I64_MIN, I64_MAX, "4294967296"]:
        diff("SETBIT", "k", bad, "1")
        diff("SETBIT", "k", bad, "2")
    diff("EXISTS", "k")


def test_setbit_rejects_bad_bit_values(diff):
    for bad in BAD_INTEGERS + ["2", "-1", I64_MAX]:
        diff("SETBIT", "k", "0", bad)
    diff("EXISTS", "k")


def test_setbit_keeps_the_expiry(diff):
    diff("SET", "k", "a", "PX", "400")
    diff("SETBIT", "k", "100", "1")
    assert_expires(diff, "k")


def test_getbit_reads_each_bit(diff):
    diff("SET", "k", b"\xa5\x01")
    for offset in range(20):
        diff("GETBIT", "k", str(offset))
    diff("GETBIT", "k", "4294967295")
    diff("GETBIT", "missing", "3")


def test_getbit_rejects_bad_offsets_before_the_key_lookup(diff):
    for bad in BAD_INTEGERS + ["-1", "4294967296", I64_MAX]:
        diff("GETBIT", "missing", bad)


def test_setbit_and_getbit_on_other_type(diff):
    key = non_string_key(diff)
    diff("SETBIT", key, "0", "1")
    diff("GETBIT", key, "0")
    diff("GETBIT", key, "-1")
    diff("SETBIT", key, "0", "5")


# -- BITCOUNT ------------------------------------------------------------------------------------
def test_bitcount_whole_strings(diff):
    load_values(diff)
    for key in VALUES:
        diff("BITCOUNT", key)
    diff("SET", "n", "12345")
    diff("BITCOUNT", "n")


@pytest.mark.parametrize("unit", [None, "BYTE", "BIT", "bit"])
def test_bitcount_ranges_follow_redis_rules(diff, unit):
    load_values(diff)
    extra = () if unit is None else (unit,)
    for key in VALUES:
        for start in BOUNDS:
            for end in BOUNDS:
                diff("BITCOUNT", key, start, end, *extra)


def test_bitcount_of_a_missing_key_ignores_its_arguments(diff):
    diff("BITCOUNT", "missing")
    diff("BITCOUNT", "missing", "a", "b")
    diff("BITCOUNT", "missing", "0")
    diff("BITCOUNT", "missing", "0", "1", "FOO", "x")


def test_bitcount_rejects_bad_arguments(diff):
    diff("SET", "k", "abc")
    diff("BITCOUNT", "k", "0")
    diff("BITCOUNT", "k", "0", "1", "BYTE", "x")
    diff("BITCOUNT", "k", "0", "1", "BITS")
    diff("BITCOUNT", "k", "a", "1", "FOO")
    diff("BITCOUNT", "k", "0", "a", "FOO")
    for bad in BAD_INTEGERS:
        diff("BITCOUNT", "k", bad, "1")
        diff("BITCOUNT", "k", "0", bad, "BIT")


def test_bitcount_on_other_type(diff):
    key = non_string_key(diff)
    diff("BITCOUNT", key)
    diff("BITCOUNT", key, "a", "b")


# -- BITPOS -----------------------------------------------------------------------------------------
def test_bitpos_whole_strings(diff):
    load_values(diff)
    for key in VALUES:
        diff("BITPOS", key, "0")
        diff("BITPOS", key, "1")


@pytest.mark.parametrize("bit", ["0", "1"])
def test_bitpos_with_start_only(diff, bit):
    load_values(diff)
    for key in VALUES:
        for start in BOUNDS:
            diff("BITPOS", key, bit, start)


@pytest.mark.parametrize("bit", ["0", "1"])
@pytest.mark.parametrize("unit", [None, "BYTE", "BIT"])
def test_bitpos_ranges_follow_redis_rules(diff, bit, unit):
    load_values(diff)
    extra = () if unit is None else (unit,)
    for key in VALUES:
        for start in BOUNDS:
            for end in BOUNDS:
                diff("BITPOS", key, bit, start, end, *extra)


def test_bitpos_matches_redis_on_random_bitmaps(diff):
    rng = random.Random(11)
    for i in range(40):
        value = bytes(rng.choice([0, 0xFF, rng.randrange(256)]) for _ in range(rng.randint(1, 6)))
        diff("SET", "r", value)
        for _ in range(15):
            start, end = rng.randint(-60, 60), rng.randint(-60, 60)
            diff("BITPOS", "r", str(rng.randint(0, 1)), str(start), str(end), rng.choice(["BIT", "BYTE"]))
            diff("BITCOUNT", "r", str(start), str(end), rng.choice(["BIT", "BYTE"]))


def test_bitpos_of_a_missing_key(diff):
    diff("BITPOS", "missing", "0")
    diff("BITPOS", "missing", "1")
    diff("BITPOS", "missing", "1", "a", "b", "c", "d")
    diff("BITPOS", "missing", "2")


def test_bitpos_rejects_bad_arguments(diff):
    diff("SET", "k", "abc")
    for bad in BAD_INTEGERS + ["2", "-1"]:
        diff("BITPOS", "k", bad)
        diff("BITPOS", "k", "1", bad)
        diff("BITPOS", "k", "1", "0", bad)
    diff("BITPOS", "k", "1", "0", "1", "BITS")
    diff("BITPOS", "k", "1", "0", "a", "FOO")
    diff("BITPOS", "k", "1", "a", "1", "FOO")
    diff("BITPOS", "k", "1", "0", "1", "BIT", "x")


def test_bitpos_on_other_type(diff):
    key = non_string_key(diff)
    diff("BITPOS", key, "1")
    diff("BITPOS", key, "2")


# -- BITOP ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["AND", "OR", "XOR", "and", "Or"])
def test_bitop_combines_and_zero_pads(diff, op):
    diff("SET", "a", b"\xff\x0f\x33")
    diff("SET", "b", b"\x55")
    diff("SET", "c", b"\xf0\xf0\xf0\xf0")
    diff("BITOP", op, "dest", "a", "b", "c")
    diff("GET", "dest")
    diff("BITOP", op, "dest", "a", "missing")
    diff("GET", "dest")
    diff("BITOP", op, "a", "a", "b")
    diff("GET", "a")


def test_bitop_not_inverts_one_key(diff):
    diff("SET", "a", b"\x00\xff\x5a")
    diff("BITOP", "NOT", "dest", "a")
    diff("GET", "dest")
    diff("BITOP", "NOT", "a", "a")
    diff("GET", "a")


def test_bitop_of_only_missing_or_empty_keys_deletes_the_destination(diff):
    diff("SET", "dest", "x")
    diff("BITOP", "OR", "dest", "missing1", "missing2")
    diff("EXISTS", "dest")
    diff("SET", "dest", "x")
    diff("SET", "empty", "")
    diff("BITOP", "NOT", "dest", "empty")
    diff("EXISTS", "dest")
    diff("BITOP", "AND", "dest", "missing")
    diff("DBSIZE")


def test_bitop_rejects_bad_operations(diff):
    diff("SET", "a", "x")
    diff("BITOP", "NOT", "dest", "a", "a")
    diff("BITOP", "NAND", "dest", "a")
    diff("BITOP", "", "dest", "a")
    diff("BITOP", "NOT", "dest")
    diff("BITOP", "AND", "dest")
    diff("EXISTS", "dest")


def test_bitop_destination_loses_its_expiry(diff):
    diff("SET", "a", "x")
    diff("SET", "dest", "y", "PX", "300")
    diff("BITOP", "OR", "dest", "a")
    diff("GET", "dest")
    time.sleep(0.4)
    diff("GET", "dest")


def test_bitop_with_a_source_of_other_type(diff):
    key = non_string_key(diff)
    diff("SET", "a", "x")
    diff("BITOP", "AND", "dest", "a", key)
    diff("BITOP", "NOT", "dest", key)
    diff("EXISTS", "dest")


def test_bitop_overwrites_a_destination_of_other_type(diff):
    key = non_string_key(diff)
    diff("SET", "a", "x")
    diff("BITOP", "OR", key, "a")
    diff("GET", key)
    non_string_key(diff, "other2")
    diff("BITOP", "OR", "other2", "missing")
    diff("EXISTS", "other2")


# -- arity ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("SETBIT", "k", "0"), ("SETBIT", "k", "0", "1", "x"), ("GETBIT", "k"), ("GETBIT", "k", "0", "1"),
    ("BITCOUNT",), ("BITPOS", "k"), ("BITOP", "AND", "dest"), ("BITOP", "NOT"),
])
def test_wrong_number_of_arguments(diff, args):
    diff(*args)


# -- WRONGTYPE, checked in process ---------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("SETBIT", "h", "0", "1"), ("GETBIT", "h", "0"), ("BITCOUNT", "h"), ("BITCOUNT", "h", "0", "1"),
    ("BITPOS", "h", "1"), ("BITOP", "AND", "dest", "h"), ("BITOP", "NOT", "dest", "h"),
])
def test_bitmap_commands_refuse_other_types(local_db, args):
    reply = run_local(local_db, *args)
    assert isinstance(reply, RespError) and reply.message == WRONGTYPE
    assert local_db.lookup(b"h")[0] == codec.HASH
    assert local_db.lookup(b"dest") is None


def test_bitop_replaces_a_destination_of_other_type(local_db):
    run_local(local_db, "SET", "a", b"\x0f")
    assert run_local(local_db, "BITOP", "NOT", "h", "a") == 1
    assert run_local(local_db, "GET", "h") == b"\xf0"
