"""String commands: byte-identical to Redis 7.0 in RESP2 and RESP3 (``diff``),
plus the Pika-only PKSETEXAT and DELVX (pikamp alone)."""
from __future__ import annotations

import random
import time
from types import SimpleNamespace

import pytest

from pikamp.commands import load_all
from pikamp.commands.table import lookup
from pikamp.errors import WRONGTYPE, RespError
from pikamp.storage import codec
from pikamp.storage.database import Clock, Database
from pikamp.storage.engine import Engine

I64_MAX = "9223372036854775807"
I64_MIN = "-9223372036854775808"
BAD_INTEGERS = ["abc", "", " 1", "1 ", "+1", "01", "-0", "1.0", "1e3", "0x10", "9223372036854775808",
                "-9223372036854775809", b"1\x00"]


# -- helpers (shared with test_bitmaps) -------------------------------------------------
def non_string_key(diff, key: str = "other") -> str:
    """Create ``key`` holding a non-string type on both servers.

    Skips the test while pikamp implements no collection type yet."""
    for cmd in (("RPUSH", key, "x"), ("HSET", key, "f", "v"), ("SADD", key, "m"), ("ZADD", key, "1", "m")):
        mine, ref = diff.both(*cmd)
        if not mine.startswith(b"-ERR unknown command"):
            assert mine == ref
            return key
        diff.r.call("DEL", key)
    pytest.skip("pikamp has no non-string type yet")


def assert_expires(diff, key: str, within_s: float = 0.6) -> None:
    """``key`` exists now on both servers and is gone after ``within_s`` seconds."""
    assert diff("EXISTS", key) == b":1\r\n"
    time.sleep(within_s)
    assert diff("EXISTS", key) == b":0\r\n"


def assert_persists(diff, key: str, wait_s: float = 0.6) -> None:
    """``key`` still exists after ``wait_s`` seconds on both servers."""
    time.sleep(wait_s)
    assert diff("EXISTS", key) == b":1\r\n"


# -- SET options ------------------------------------------------------------------------
def test_set_accepts_repeated_options(diff):
    diff("SET", "k", "v", "NX", "NX")
    diff("SET", "k", "v", "XX", "XX", "GET", "GET")
    diff("SET", "k", "v", "EX", "100", "EX", "200")
    diff("SET", "k", "v", "PX", "100000", "PX", "200000")
    diff("SET", "k", "v", "KEEPTTL", "KEEPTTL")
    diff("GET", "k")


def test_set_rejects_conflicting_options(diff):
    for opts in (("EX", "10", "PX", "100"), ("EX", "10", "KEEPTTL"), ("KEEPTTL", "EX", "10"),
                 ("NX", "XX"), ("XX", "NX"), ("EX",), ("PERSIST",), ("EXAT", "10", "PXAT", "10"),
                 ("FOO",), ("NX", "EX")):
        diff("SET", "k", "v", *opts)
    diff("EXISTS", "k")


def test_set_options_are_case_insensitive(diff):
    diff("SET", "k", "v", "nx", "px", "100000")
    diff("SET", "k", "w", "xX", "gEt", "keepttl")
    diff("GET", "k")


def test_set_rejects_invalid_expire_values(diff):
    for unit in ("EX", "PX", "EXAT", "PXAT"):
        for value in ("0", "-1", "abc", "1.5", "", I64_MIN):
            diff("SET", "k", "v", unit, value)
    diff("SET", "k", "v", "EX", I64_MAX)
    diff("SET", "k", "v", "EX", "9223372036854776")
    diff("SET", "k", "v", "PX", I64_MAX)
    diff("SET", "k", "v", "EXAT", "9223372036854776")
    diff("EXISTS", "k")


def test_set_accepts_the_largest_absolute_expiry(diff):
    diff("SET", "k", "v", "PXAT", I64_MAX)
    diff("SET", "k", "v", "EXAT", "9223372036854775")
    diff("GET", "k")


def test_set_with_an_absolute_expiry_in_the_past_hides_the_key(diff):
    diff("SET", "k", "v", "EXAT", "10")
    diff("GET", "k")
    diff("SET", "k", "v", "PXAT", "1")
    diff("EXISTS", "k")


def test_set_get_returns_the_old_value(diff):
    diff("SET", "k", "v", "GET")
    diff("SET", "k", "w", "GET")
    diff("SET", "k", "x", "NX", "GET")
    diff("SET", "missing", "x", "XX", "GET")
    diff("SET", "k", "y", "XX", "GET")
    diff("GET", "k")
    diff("EXISTS", "missing")


def test_set_nx_and_xx_reply_null_when_not_written(diff):
    diff("SET", "k", "v", "XX")
    diff("SET", "k", "v", "NX")
    diff("SET", "k", "w", "NX")
    diff("SET", "k", "w", "XX")
    diff("GET", "k")


def test_set_overwrites_other_types(diff):
    key = non_string_key(diff)
    diff("SET", key, "v")
    diff("GET", key)


def test_set_get_on_other_type_is_wrongtype_and_writes_nothing(diff):
    key = non_string_key(diff)
    diff("SET", key, "v", "GET")
    diff("TYPE", key)


def test_set_invalid_expire_wins_over_wrongtype(diff):
    key = non_string_key(diff)
    diff("SET", key, "v", "GET", "EX", "0")


def test_set_keepttl_keeps_the_expiry(diff):
    diff("SET", "k", "v", "PX", "400")
    diff("SET", "k", "w", "KEEPTTL")
    assert_expires(diff, "k")


def test_set_without_keepttl_drops_the_expiry(diff):
    diff("SET", "k", "v", "PX", "300")
    diff("SET", "k", "w")
    assert_persists(diff, "k", 0.4)


def test_set_and_get_are_binary_safe(diff):
    value = b"\x00\r\n\xff$*-:+"
    diff("SET", b"\x00key\r\n", value)
    diff("GET", b"\x00key\r\n")
    diff("SET", "", "empty key")
    diff("GET", "")
    diff("SET", "e", "")
    diff("GET", "e")
    diff("STRLEN", "e")


# -- SETNX, SETEX, PSETEX, GETSET, GETDEL ---------------------------------------------
def test_setnx_sets_only_missing_keys(diff):
    diff("SETNX", "k", "v")
    diff("SETNX", "k", "w")
    diff("GET", "k")


def test_setnx_sees_other_types_as_existing(diff):
    key = non_string_key(diff)
    diff("SETNX", key, "v")
    diff("TYPE", key)


def test_setnx_on_an_expired_key_sets_it(diff):
    diff("SET", "k", "v", "PX", "50")
    time.sleep(0.1)
    diff("SETNX", "k", "w")
    diff("GET", "k")


def test_setex_and_psetex_set_value_and_expiry(diff):
    diff("SETEX", "k", "100", "v")
    diff("GET", "k")
    diff("PSETEX", "p", "400", "v")
    diff("GET", "p")
    assert_expires(diff, "p")


def test_setex_replaces_an_existing_expiry(diff):
    diff("SET", "k", "v", "PX", "300")
    diff("SETEX", "k", "100", "w")
    assert_persists(diff, "k", 0.4)


def test_setex_and_psetex_reject_invalid_expire_times(diff):
    for cmd in ("SETEX", "PSETEX"):
        for value in ("0", "-5", "abc", "", "1.5", I64_MAX, I64_MIN):
            diff(cmd, "k", value, "v")
    diff("SETEX", "k", "9223372036854776", "v")
    diff("EXISTS", "k")


def test_setex_overwrites_other_types(diff):
    key = non_string_key(diff)
    diff("SETEX", key, "100", "v")
    diff("GET", key)


def test_getset_returns_old_value_and_sets_new(diff):
    diff("GETSET", "k", "v")
    diff("GETSET", "k", "w")
    diff("GET", "k")


def test_getset_drops_the_expiry(diff):
    diff("SET", "k", "v", "PX", "300")
    diff("GETSET", "k", "w")
    assert_persists(diff, "k", 0.4)


def test_getset_on_other_type_is_wrongtype(diff):
    key = non_string_key(diff)
    diff("GETSET", key, "v")
    diff("TYPE", key)


def test_getdel_returns_and_deletes(diff):
    diff("SET", "k", "v")
    diff("GETDEL", "k")
    diff("GETDEL", "k")
    diff("EXISTS", "k")
    diff("DBSIZE")


def test_getdel_on_other_type_is_wrongtype(diff):
    key = non_string_key(diff)
    diff("GETDEL", key)
    diff("EXISTS", key)


# -- GETEX ----------------------------------------------------------------------------------
def test_getex_without_options_only_reads(diff):
    diff("GETEX", "missing")
    diff("SET", "k", "v", "PX", "400")
    diff("GETEX", "k")
    assert_expires(diff, "k")


def test_getex_sets_a_relative_expiry(diff):
    diff("SET", "k", "v")
    diff("GETEX", "k", "PX", "400")
    assert_expires(diff, "k")
    diff("SET", "k", "v")
    diff("GETEX", "k", "EX", "100")
    diff("GET", "k")


def test_getex_sets_an_absolute_expiry(diff):
    diff("SET", "k", "v")
    diff("GETEX", "k", "PXAT", str(int(time.time() * 1000) + 400))
    assert_expires(diff, "k")
    diff("SET", "k", "v")
    diff("GETEX", "k", "EXAT", str(int(time.time()) + 100))
    diff("GET", "k")


def test_getex_with_an_absolute_expiry_in_the_past_deletes_the_key(diff):
    diff("SET", "k", "v")
    diff("SET", "j", "v")
    diff("GETEX", "k", "EXAT", "10")
    diff("GETEX", "j", "PXAT", "1")
    diff("DBSIZE")
    diff("GET", "k")


def test_getex_persist_removes_the_expiry(diff):
    diff("SET", "k", "v", "PX", "300")
    diff("GETEX", "k", "PERSIST")
    assert_persists(diff, "k", 0.4)
    diff("GETEX", "k", "PERSIST")


def test_getex_rejects_bad_options(diff):
    diff("SET", "k", "v")
    for opts in (("FOO",), ("EX",), ("EX", "10", "PX", "10"), ("PERSIST", "EX", "10"), ("EX", "10", "PERSIST"),
                 ("NX",), ("XX",), ("GET",), ("KEEPTTL",), ("EXAT", "10", "EX", "10")):
        diff("GETEX", "k", *opts)
        diff("GETEX", "missing", *opts)
    diff("GETEX", "k", "persist", "PERSIST")
    diff("GETEX", "k", "ex", "100", "EX", "200")


def test_getex_checks_the_expire_value_only_for_existing_strings(diff):
    for value in ("0", "-1", "abc", I64_MAX):
        diff("GETEX", "missing", "EX", value)
    diff("SET", "k", "v")
    for unit in ("EX", "PX", "EXAT", "PXAT"):
        for value in ("0", "-1", "abc"):
            diff("GETEX", "k", unit, value)
    diff("GETEX", "k", "EX", I64_MAX)
    diff("GETEX", "k", "EXAT", "9223372036854776")
    diff("GET", "k")


def test_getex_on_other_type(diff):
    key = non_string_key(diff)
    diff("GETEX", key)
    diff("GETEX", key, "EX", "0")
    diff("GETEX", key, "FOO")


# -- MGET, MSET, MSETNX ------------------------------------------------------------------------
def test_mget_returns_null_for_missing_keys(diff):
    diff("MSET", "a", "1", "b", "2")
    diff("MGET", "a", "missing", "b", "a")
    diff("MGET", "missing")


def test_mget_returns_null_for_other_types(diff):
    key = non_string_key(diff)
    diff("SET", "a", "1")
    diff("MGET", key, "a")


def test_mset_sets_every_pair_and_last_duplicate_wins(diff):
    diff("MSET", "a", "1", "b", "2", "a", "3")
    diff("MGET", "a", "b")
    diff("DBSIZE")


def test_mset_and_msetnx_need_pairs(diff):
    for cmd in ("MSET", "MSETNX"):
        diff(cmd, "a", "1", "b")
        diff(cmd, "a")
        diff(cmd)
    diff("EXISTS", "a")


def test_mset_overwrites_other_types_and_drops_ttl(diff):
    key = non_string_key(diff)
    diff("SET", "t", "v", "PX", "300")
    diff("MSET", key, "x", "t", "y")
    diff("MGET", key, "t")
    assert_persists(diff, "t", 0.4)


def test_msetnx_sets_all_or_nothing(diff):
    diff("MSETNX", "a", "1", "b", "2")
    diff("MSETNX", "b", "3", "c", "4")
    diff("MGET", "a", "b", "c")
    diff("MSETNX", "d", "1", "d", "2")
    diff("GET", "d")
    diff("DBSIZE")


def test_msetnx_sees_other_types_as_existing(diff):
    key = non_string_key(diff)
    diff("MSETNX", "a", "1", key, "2")
    diff("EXISTS", "a")


# -- APPEND, STRLEN -----------------------------------------------------------------------------
def test_append_creates_and_extends(diff):
    diff("APPEND", "k", "hello")
    diff("APPEND", "k", " world")
    diff("GET", "k")
    diff("STRLEN", "k")


def test_append_of_nothing_creates_an_empty_string(diff):
    diff("APPEND", "k", "")
    diff("EXISTS", "k")
    diff("STRLEN", "k")
    diff("GET", "k")


def test_append_to_a_number_appends_digits(diff):
    diff("SET", "n", "12")
    diff("APPEND", "n", "3")
    diff("INCR", "n")


def test_append_is_binary_safe(diff):
    diff("APPEND", "k", b"\x00\xff")
    diff("APPEND", "k", "\r\n")
    diff("GET", "k")


def test_append_keeps_the_expiry(diff):
    diff("SET", "k", "v", "PX", "400")
    diff("APPEND", "k", "w")
    assert_expires(diff, "k")


def test_append_and_strlen_on_other_type(diff):
    key = non_string_key(diff)
    diff("APPEND", key, "x")
    diff("STRLEN", key)


def test_strlen(diff):
    diff("STRLEN", "missing")
    diff("SET", "k", b"\x00abc")
    diff("STRLEN", "k")
    diff("SET", "n", "-12345")
    diff("STRLEN", "n")


# -- INCR, DECR, INCRBY, DECRBY ---------------------------------------------------------------
def test_incr_and_decr_count_from_zero(diff):
    diff("INCR", "a")
    diff("INCR", "a")
    diff("DECR", "b")
    diff("DECR", "a")
    diff("MGET", "a", "b")


def test_incrby_and_decrby(diff):
    diff("INCRBY", "k", "10")
    diff("INCRBY", "k", "-25")
    diff("DECRBY", "k", "-7")
    diff("DECRBY", "k", "100")
    diff("INCRBY", "k", "0")
    diff("GET", "k")


def test_incr_rejects_values_that_are_not_integers(diff):
    for value in BAD_INTEGERS + ["1.5", " ", "12345678901234567890123"]:
        diff("SET", "k", value)
        for cmd in (("INCR", "k"), ("DECR", "k"), ("INCRBY", "k", "1"), ("DECRBY", "k", "1")):
            diff(*cmd)
        diff("GET", "k")


def test_incrby_rejects_increments_that_are_not_integers(diff):
    for value in BAD_INTEGERS:
        diff("INCRBY", "k", value)
        diff("DECRBY", "k", value)
    diff("EXISTS", "k")


def test_incr_detects_overflow(diff):
    diff("SET", "max", I64_MAX)
    diff("INCR", "max")
    diff("INCRBY", "max", "1")
    diff("DECRBY", "max", "-1")
    diff("SET", "min", I64_MIN)
    diff("DECR", "min")
    diff("INCRBY", "min", "-1")
    diff("MGET", "max", "min")


def test_incrby_reaches_the_64_bit_limits_exactly(diff):
    diff("INCRBY", "a", I64_MAX)
    diff("INCRBY", "b", I64_MIN)
    diff("SET", "c", "-1")
    diff("DECRBY", "c", I64_MAX)
    diff("SET", "d", "-2")
    diff("DECRBY", "d", I64_MAX)
    diff("INCRBY", "a", I64_MIN)
    diff("MGET", "a", "b", "c", "d")


def test_decrby_the_smallest_integer_would_overflow(diff):
    diff("DECRBY", "k", I64_MIN)
    diff("SET", "j", "abc")
    diff("DECRBY", "j", I64_MIN)
    diff("EXISTS", "k")


def test_incr_keeps_the_expiry(diff):
    diff("SET", "k", "1", "PX", "400")
    diff("INCR", "k")
    diff("INCRBY", "k", "5")
    assert_expires(diff, "k")


def test_incr_on_other_type(diff):
    key = non_string_key(diff)
    diff("INCR", key)
    diff("DECRBY", key, "1")
    diff("INCRBY", key, "abc")


# -- INCRBYFLOAT --------------------------------------------------------------------------------
def test_incrbyfloat_prints_like_redis(diff):
    for incr in ("0.1", "0.2", "5.0e3", "-5000.3", "1e-20", "10.5", "3.0e3", "-0", "1", "0.0000001"):
        diff("INCRBYFLOAT", "k", incr)
        diff("GET", "k")


def test_incrbyfloat_prints_small_results_as_zero(diff):
    diff("INCRBYFLOAT", "a", "1e-20")
    diff("INCRBYFLOAT", "b", "-1e-18")
    diff("INCRBYFLOAT", "c", "1e-4940")
    diff("MGET", "a", "b", "c")


def test_incrbyfloat_uses_long_double_range_and_precision(diff):
    diff("INCRBYFLOAT", "k", "1e400")
    diff("INCRBYFLOAT", "k", "1")
    diff("SET", "j", I64_MAX)
    diff("INCRBYFLOAT", "j", "1")
    diff("INCRBYFLOAT", "j", "0.5")
    diff("INCRBYFLOAT", "x", "1.1e4932")
    diff("INCRBYFLOAT", "x", "1.1e4932")


def test_incrbyfloat_accepts_c_float_syntax(diff):
    for incr in ("+1.5", ".5", "1.", "0x1p3", "-0x1.8p1", "1E2", "00012.50", "INF", "-inf", "infinity",
                 "1e-4940"):
        diff("INCRBYFLOAT", "k", incr)


def test_incrbyfloat_rejects_what_is_not_a_float(diff):
    long_ok = "0" * 5118 + "1"
    long_bad = "0" * 5119 + "1"
    for incr in ("abc", "", " 1", "1 ", "\t1", b"1\x00", "nan", "NaN", "1e5000", "-1e5000", "1e-5000", "1..2",
                 "0x", "--1", long_bad):
        diff("INCRBYFLOAT", "k", incr)
    diff("INCRBYFLOAT", "k", long_ok)
    for stored in ("abc", "", " 1", "nan", "1e5000", long_bad):
        diff("SET", "s", stored)
        diff("INCRBYFLOAT", "s", "1")
    diff("SET", "s", "abc")
    diff("INCRBYFLOAT", "s", "abc")


def test_incrbyfloat_refuses_to_produce_infinity(diff):
    diff("INCRBYFLOAT", "k", "inf")
    diff("SET", "j", "1e4932")
    diff("INCRBYFLOAT", "j", "1e4932")
    diff("SET", "i", "inf")
    diff("INCRBYFLOAT", "i", "-inf")
    diff("MGET", "k", "j", "i")


def random_float_text(rng: random.Random) -> str:
    """A float in one of the many spellings strtold accepts, over the whole long double range."""
    return rng.choice([
        "%d" % rng.randint(-(2**64), 2**64),
        "%.*f" % (rng.randint(0, 30), rng.uniform(-1e20, 1e20)),
        "%.*g" % (rng.randint(1, 25), rng.uniform(-1e6, 1e6) * 10.0 ** rng.randint(-30, 30)),
        "%.*E" % (rng.randint(0, 25), rng.uniform(-10, 10)),
        "%de%d" % (rng.randint(-99, 99), rng.randint(-4960, 4930)),
        "%sp%d" % (hex(rng.randint(-(10**9), 10**9)), rng.randint(-100, 100)),
    ])


def test_incrbyfloat_matches_redis_on_random_values(diff):
    rng = random.Random(7)
    for i in range(400):
        if i % 4 == 0:
            diff("SET", "k", random_float_text(rng))
        diff("INCRBYFLOAT", "k", random_float_text(rng))


def test_incrbyfloat_keeps_the_expiry(diff):
    diff("SET", "k", "1", "PX", "400")
    diff("INCRBYFLOAT", "k", "1.5")
    assert_expires(diff, "k")


def test_incrbyfloat_on_other_type(diff):
    key = non_string_key(diff)
    diff("INCRBYFLOAT", key, "1")
    diff("INCRBYFLOAT", key, "abc")


# -- GETRANGE, SUBSTR, SETRANGE ------------------------------------------------------------------
RANGE_BOUNDS = ["0", "1", "3", "4", "5", "100", "-1", "-2", "-4", "-5", "-6", "-100", I64_MAX, I64_MIN]


@pytest.mark.parametrize("cmd", ["GETRANGE", "SUBSTR"])
def test_getrange_follows_redis_index_rules(diff, cmd):
    diff("SET", "s", "hello")
    diff("SET", "one", "x")
    diff("SET", "empty", "")
    for key in ("s", "one", "empty", "missing"):
        for start in RANGE_BOUNDS:
            for end in RANGE_BOUNDS:
                diff(cmd, key, start, end)


def test_getrange_rejects_bad_indexes_before_looking_at_the_key(diff):
    for bad in BAD_INTEGERS:
        diff("GETRANGE", "missing", bad, "1")
        diff("GETRANGE", "missing", "0", bad)


def test_getrange_on_other_type(diff):
    key = non_string_key(diff)
    diff("GETRANGE", key, "0", "-1")
    diff("GETRANGE", key, "a", "-1")


def test_setrange_writes_over_pads_and_extends(diff):
    diff("SET", "k", "Hello World")
    diff("SETRANGE", "k", "6", "Redis")
    diff("SETRANGE", "k", "0", "J")
    diff("SETRANGE", "k", "9", b"\x00more")
    diff("GET", "k")
    diff("SETRANGE", "pad", "5", "x")
    diff("GET", "pad")
    diff("SETRANGE", "pad", "20", "")
    diff("GET", "pad")


def test_setrange_of_nothing_does_not_create_the_key(diff):
    diff("SETRANGE", "k", "0", "")
    diff("SETRANGE", "k", "100", "")
    diff("EXISTS", "k")


def test_setrange_of_nothing_skips_the_size_check(diff):
    diff("SET", "k", "abc")
    diff("SETRANGE", "k", "536870912", "")
    diff("SETRANGE", "k", I64_MAX, "")


def test_setrange_rejects_bad_offsets(diff):
    diff("SET", "k", "abc")
    for bad in BAD_INTEGERS + ["-1", I64_MIN]:
        diff("SETRANGE", "k", bad, "x")
        diff("SETRANGE", "missing", bad, "x")
    diff("GET", "k")


def test_setrange_refuses_strings_over_the_size_limit(diff):
    diff("SET", "k", "abc")
    for offset in ("536870912", "536870911", I64_MAX):
        diff("SETRANGE", "k", offset, "xy")
        diff("SETRANGE", "missing", offset, "xy")
    diff("EXISTS", "missing")
    diff("GET", "k")


def test_setrange_keeps_the_expiry(diff):
    diff("SET", "k", "abc", "PX", "400")
    diff("SETRANGE", "k", "1", "x")
    assert_expires(diff, "k")


def test_setrange_on_other_type(diff):
    key = non_string_key(diff)
    diff("SETRANGE", key, "0", "x")
    diff("SETRANGE", key, "0", "")
    diff("SETRANGE", key, "-1", "x")


# -- arity ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("GET",), ("GET", "a", "b"), ("SET", "k"), ("MGET",), ("SETNX", "k"), ("SETNX", "k", "v", "x"),
    ("SETEX", "k", "10"), ("PSETEX", "k", "10", "v", "x"), ("GETSET", "k"), ("GETDEL",), ("GETDEL", "a", "b"),
    ("GETEX",), ("APPEND", "k"), ("STRLEN",), ("STRLEN", "a", "b"), ("INCR",), ("INCR", "a", "b"),
    ("DECR",), ("INCRBY", "k"), ("DECRBY", "k", "1", "2"), ("INCRBYFLOAT", "k"), ("GETRANGE", "k", "0"),
    ("SUBSTR", "k", "0", "1", "2"), ("SETRANGE", "k", "0"),
])
def test_wrong_number_of_arguments(diff, args):
    diff(*args)


def test_command_names_are_case_insensitive(diff):
    diff("sEt", "k", "1")
    diff("incrBY", "k", "2")
    diff("gEtRaNgE", "k", "0", "-1")


# -- Pika-only commands (pikamp alone) ----------------------------------------------------------------
@pytest.fixture
def pika(raw):
    raw.call("FLUSHDB")
    return raw


def test_pksetexat_sets_value_and_absolute_expiry(pika):
    assert pika.call("PKSETEXAT", "k", str(int(time.time()) + 100), "v") == b"+OK\r\n"
    assert pika.call("GET", "k") == b"$1\r\nv\r\n"
    assert pika.call("PKSETEXAT", "s", str(int(time.time()) + 1), "v") == b"+OK\r\n"
    time.sleep(2.1)
    assert pika.call("GET", "s") == b"$-1\r\n"


def test_pksetexat_in_the_past_deletes_the_key(pika):
    pika.call("SET", "k", "v")
    assert pika.call("PKSETEXAT", "k", "10", "w") == b"+OK\r\n"
    assert pika.call("PKSETEXAT", "j", "0", "w") == b"+OK\r\n"
    assert pika.call("PKSETEXAT", "i", "-5", "w") == b"+OK\r\n"
    assert pika.call("DBSIZE") == b":0\r\n"


def test_pksetexat_rejects_bad_timestamps(pika):
    for bad in BAD_INTEGERS + ["2147483647", I64_MAX]:
        assert pika.call("PKSETEXAT", "k", bad, "v") == b"-ERR value is not an integer or out of range\r\n"
    assert pika.call("PKSETEXAT", "k", "2147483646", "v") == b"+OK\r\n"
    assert pika.call("PKSETEXAT", "k", "1") == b"-ERR wrong number of arguments for 'pksetexat' command\r\n"


def test_pksetexat_replaces_the_value_and_expiry(pika):
    pika.call("SET", "k", "old")
    pika.call("PKSETEXAT", "k", str(int(time.time()) + 100), "new")
    assert pika.call("GET", "k") == b"$3\r\nnew\r\n"
    assert pika.call("DBSIZE") == b":1\r\n"


def test_delvx_deletes_only_on_equal_value(pika):
    pika.call("SET", "k", b"v\x00")
    assert pika.call("DELVX", "k", "v") == b":-1\r\n"
    assert pika.call("GET", "k") == b"$2\r\nv\x00\r\n"
    assert pika.call("DELVX", "k", b"v\x00") == b":1\r\n"
    assert pika.call("DELVX", "k", b"v\x00") == b":0\r\n"
    assert pika.call("DBSIZE") == b":0\r\n"
    assert pika.call("DELVX", "k") == b"-ERR wrong number of arguments for 'delvx' command\r\n"


# -- WRONGTYPE, checked in process (independent of other types' commands) --------------------------------
@pytest.fixture
def local_db(tmp_path):
    """A Database on its own RocksDB, holding a hash key ``h`` written directly."""
    load_all()
    engine = Engine(str(tmp_path / "db"))
    db = Database(0, engine, Clock())
    db.put_meta(b"h", codec.encode_collection(codec.HASH, db.new_version(), 1), None)
    yield db
    engine.close()


def run_local(db: Database, *args: str | bytes):
    """Run a command's handler directly; the reply value or the RespError."""
    argv = [a.encode() if isinstance(a, str) else a for a in args]
    ctx = SimpleNamespace(db=db, worker=SimpleNamespace(max_bulk=512 << 20))
    try:
        return lookup(argv[0]).handler(ctx, argv)
    except RespError as e:
        return e


@pytest.mark.parametrize("args", [
    ("GET", "h"), ("SET", "h", "v", "GET"), ("GETSET", "h", "v"), ("GETDEL", "h"), ("GETEX", "h", "EX", "0"),
    ("APPEND", "h", "x"), ("STRLEN", "h"), ("INCR", "h"), ("DECR", "h"), ("INCRBY", "h", "1"),
    ("DECRBY", "h", "1"), ("INCRBYFLOAT", "h", "x"), ("GETRANGE", "h", "0", "1"), ("SUBSTR", "h", "0", "1"),
    ("SETRANGE", "h", "0", ""), ("DELVX", "h", "v"),
])
def test_string_commands_refuse_other_types(local_db, args):
    reply = run_local(local_db, *args)
    assert isinstance(reply, RespError) and reply.message == WRONGTYPE
    assert local_db.lookup(b"h")[0] == codec.HASH


def test_overwriting_commands_replace_other_types(local_db):
    for args in (("SET", "h", "v"), ("SETEX", "h", "10", "v"), ("MSET", "h", "v"),
                 ("PKSETEXAT", "h", str(int(time.time()) + 100), "v")):
        run_local(local_db, "DEL", "h")
        local_db.put_meta(b"h", codec.encode_collection(codec.HASH, local_db.new_version(), 1), None)
        run_local(local_db, *args)
        assert run_local(local_db, "GET", "h") == b"v"
    assert run_local(local_db, "MGET", "h", "missing") == [b"v", None]
