"""Hash commands: byte-identical to Redis 7.0 in RESP2 and RESP3 (``diff``), plus
property checks where Redis's reply is random or its order unspecified, and
Pika's HSCANX / PKHSCANRANGE / PKHRSCANRANGE (pikamp only)."""
from __future__ import annotations

import time

import pytest
from resp_client import parse

WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"


def fill(diff, key: str, n: int, value_len: int = 1) -> None:
    """One HSET of fields f0..f{n-1} on both servers."""
    args = []
    for i in range(n):
        args += [f"f{i}", str(i).rjust(value_len, "v")]
    diff("HSET", key, *args)


def hgetall_pikamp(diff, key: str) -> dict:
    flat = parse(diff.p.call("HGETALL", key))
    pairs = flat[1] if isinstance(flat, tuple) else list(zip(flat[::2], flat[1::2]))
    return dict(pairs)


# -- HSET / HMSET / HSETNX / HGET / HMGET ------------------------------------------
def test_hset_counts_only_new_fields(diff):
    diff("HSET", "h", "a", "1", "b", "2")
    diff("HSET", "h", "a", "10", "c", "3")
    diff("HGET", "h", "a")
    diff("HLEN", "h")


def test_hset_repeated_field_in_one_call_counts_once_and_last_value_wins(diff):
    diff("HSET", "h", "a", "1", "a", "2", "b", "3", "a", "4")
    diff("HGET", "h", "a")
    diff("HLEN", "h")
    diff("HSET", "h", "b", "5", "b", "6", "z", "7", "z", "8")
    diff("HMGET", "h", "a", "b", "z")


def test_hset_odd_field_value_count_is_an_arity_error(diff):
    diff("HSET", "h", "a")
    diff("HSET", "h", "a", "1", "b")
    diff("HMSET", "h", "a", "1", "b")
    diff("HSET", "h")
    diff("EXISTS", "h")


def test_hmset_replies_ok(diff):
    diff("HMSET", "h", "a", "1", "b", "2")
    diff("HMSET", "h", "a", "3")
    diff("HGETALL", "h", unordered=True)


def test_hsetnx_sets_only_missing_fields(diff):
    diff("HSETNX", "h", "a", "1")
    diff("HSETNX", "h", "a", "2")
    diff("HGET", "h", "a")
    diff("HSETNX", "h", "b", "3")
    diff("HLEN", "h")


def test_hget_missing_key_and_field_are_null(diff):
    diff("HGET", "nokey", "f")
    diff("HSET", "h", "a", "1")
    diff("HGET", "h", "nofield")


def test_hmget_keeps_order_and_nulls(diff):
    diff("HMGET", "nokey", "a", "b")
    diff("HSET", "h", "a", "1", "c", "3")
    diff("HMGET", "h", "c", "b", "a", "a")


def test_binary_and_empty_fields_and_values(diff):
    diff("HSET", "h", "", "empty-field", "f", "", b"\x00\xff\r\n", b"bin\x00")
    diff("HGET", "h", "")
    diff("HGET", "h", "f")
    diff("HGET", "h", b"\x00\xff\r\n")
    diff("HSTRLEN", "h", b"\x00\xff\r\n")
    diff("HGETALL", "h", unordered=True)


# -- HDEL / HLEN / HSTRLEN / HEXISTS ---------------------------------------------------
def test_hdel_counts_removed_fields(diff):
    diff("HSET", "h", "a", "1", "b", "2", "c", "3")
    diff("HDEL", "h", "a", "x", "a")
    diff("HLEN", "h")
    diff("HDEL", "nokey", "a")


def test_hdel_of_last_field_deletes_the_key(diff):
    diff("HSET", "h", "a", "1", "b", "2")
    diff("HDEL", "h", "a", "b")
    diff("EXISTS", "h")
    diff("TYPE", "h")
    diff("DBSIZE")


def test_hlen_hstrlen_hexists(diff):
    diff("HLEN", "nokey")
    diff("HSTRLEN", "nokey", "f")
    diff("HEXISTS", "nokey", "f")
    diff("HSET", "h", "a", "hello", "n", "-123")
    diff("HLEN", "h")
    diff("HSTRLEN", "h", "a")
    diff("HSTRLEN", "h", "n")
    diff("HSTRLEN", "h", "zz")
    diff("HEXISTS", "h", "a")
    diff("HEXISTS", "h", "zz")


# -- HINCRBY -----------------------------------------------------------------------
def test_hincrby_creates_and_adds(diff):
    diff("HINCRBY", "h", "n", "5")
    diff("HINCRBY", "h", "n", "-12")
    diff("HINCRBY", "h", "n", "0")
    diff("HGET", "h", "n")
    diff("HLEN", "h")


def test_hincrby_rejects_non_integer_values(diff):
    diff("HSET", "h", "s", "abc", "sp", " 1", "lz", "007", "f", "1.5", "neg0", "-0", "big", "9223372036854775808")
    for field in ("s", "sp", "lz", "f", "neg0", "big"):
        diff("HINCRBY", "h", field, "1")


def test_hincrby_rejects_bad_increments(diff):
    diff("HINCRBY", "h", "n", "x")
    diff("HINCRBY", "h", "n", "1.0")
    diff("HINCRBY", "h", "n", "9223372036854775808")
    diff("HINCRBY", "h", "n", "+1")
    diff("EXISTS", "h")


def test_hincrby_overflow(diff):
    diff("HSET", "h", "max", "9223372036854775807", "min", "-9223372036854775808")
    diff("HINCRBY", "h", "max", "1")
    diff("HINCRBY", "h", "min", "-1")
    diff("HINCRBY", "h", "max", "-9223372036854775808")
    diff("HINCRBY", "h", "min", "9223372036854775807")
    diff("HGETALL", "h", unordered=True)


# -- HINCRBYFLOAT -------------------------------------------------------------------
@pytest.mark.parametrize("incr", [
    "1.5", "0.1", "-0.1", "3", "1e3", "1E-3", "+.5", "5.", "-0", "0x1p3", "0X1.8P1", "1e300",
    "0.000003814697265625", "0.000011444091796875", "123456789012345678", "1.1e4932", "1e-4940",
    "3.0000000000000000001", "9223372036854775807", "-1e-30",
])
def test_hincrbyfloat_result_formatting(diff, incr):
    diff("HINCRBYFLOAT", "h", "x", incr)
    diff("HGET", "h", "x")


def test_hincrbyfloat_accumulates_like_long_double(diff):
    for incr in ("0.1", "0.2", "0.3", "1e17", "-1e17", "1e300", "1e300", "1e308", "-7.25"):
        diff("HINCRBYFLOAT", "h", "x", incr)
    diff("HGET", "h", "x")


def test_hincrbyfloat_on_integer_and_decimal_values(diff):
    diff("HSET", "h", "i", "10", "d", "2.5", "e", "1e2", "hex", "0x10", "sp", "1 ")
    for field in ("i", "d", "e", "hex", "sp"):
        diff("HINCRBYFLOAT", "h", field, "0.5")


@pytest.mark.parametrize("incr", ["abc", "", " 1", "1 ", "nan", "1e", "0x", "1e-5000", "1e5000", "1.2e4932"])
def test_hincrbyfloat_invalid_increment(diff, incr):
    diff("HINCRBYFLOAT", "h", "x", incr)


@pytest.mark.parametrize("incr", ["inf", "-inf", "Infinity", "+INF"])
def test_hincrbyfloat_infinite_increment(diff, incr):
    diff("HINCRBYFLOAT", "h", "x", incr)
    diff("EXISTS", "h")


def test_hincrbyfloat_value_not_a_float(diff):
    diff("HSET", "h", "s", "abc", "n", "nan", "sp", " 1")
    diff("HINCRBYFLOAT", "h", "s", "1")
    diff("HINCRBYFLOAT", "h", "n", "1")
    diff("HINCRBYFLOAT", "h", "sp", "1")


def test_hincrbyfloat_overflow_to_infinity(diff):
    diff("HSET", "h", "big", "1.1e4932", "inf", "inf")
    diff("HINCRBYFLOAT", "h", "big", "1e4932")
    diff("HINCRBYFLOAT", "h", "inf", "1")
    diff("HGET", "h", "big")


# -- HKEYS / HVALS / HGETALL -----------------------------------------------------------
def test_hkeys_hvals_hgetall(diff):
    diff("HKEYS", "nokey")
    diff("HVALS", "nokey")
    diff("HGETALL", "nokey")
    fill(diff, "h", 20)
    diff("HKEYS", "h", unordered=True)
    diff("HVALS", "h", unordered=True)
    diff("HGETALL", "h", unordered=True)


def test_hgetall_is_a_map_in_resp3(diff):
    diff("HSET", "h", "a", "1")
    diff("HGETALL", "h")


# -- HRANDFIELD ------------------------------------------------------------------
def test_hrandfield_missing_key(diff):
    diff("HRANDFIELD", "nokey")
    diff("HRANDFIELD", "nokey", "3")
    diff("HRANDFIELD", "nokey", "-3", "WITHVALUES")


def test_hrandfield_argument_errors(diff):
    diff("HSET", "h", "a", "1")
    diff("HRANDFIELD", "h", "x")
    diff("HRANDFIELD", "h", "x", "y")
    diff("HRANDFIELD", "h", "1", "WITHVALUE")
    diff("HRANDFIELD", "h", "1", "WITHVALUES", "x")
    diff("HRANDFIELD", "h", "-9223372036854775808")
    diff("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES")
    diff("HRANDFIELD", "h", "-4611686018427387904", "withvalues")
    diff("HRANDFIELD", "h", "4611686018427387903", "WITHVALUES")


def test_hrandfield_zero_count(diff):
    diff("HSET", "h", "a", "1")
    diff("HRANDFIELD", "h", "0")
    diff("HRANDFIELD", "h", "0", "WITHVALUES")


def test_hrandfield_reply_shapes_on_a_single_field_hash(diff):
    # One field makes every reply deterministic, so shapes compare byte for byte.
    diff("HSET", "h", "a", "1")
    diff("HRANDFIELD", "h")
    diff("HRANDFIELD", "h", "1")
    diff("HRANDFIELD", "h", "5")
    diff("HRANDFIELD", "h", "-3")
    diff("HRANDFIELD", "h", "1", "WITHVALUES")
    diff("HRANDFIELD", "h", "5", "WITHVALUES")
    diff("HRANDFIELD", "h", "-3", "WITHVALUES")


def test_hrandfield_count_at_least_size_returns_everything(diff):
    fill(diff, "h", 10)
    diff("HRANDFIELD", "h", "10", unordered=True)
    diff("HRANDFIELD", "h", "100", unordered=True)
    diff("HRANDFIELD", "h", "100", "WITHVALUES", unordered=True)


@pytest.mark.parametrize("size", [30, 2000])
def test_hrandfield_positive_count_gives_distinct_fields(diff, size):
    fill(diff, "h", size)
    everything = hgetall_pikamp(diff, "h")
    for count in (1, 5, size // 4, size // 2, size - 1):
        got = parse(diff.p.call("HRANDFIELD", "h", str(count)))
        assert len(got) == count == len(set(got))
        assert set(got) <= set(everything)


@pytest.mark.parametrize("size", [30, 2000])
def test_hrandfield_negative_count_may_repeat(diff, size):
    fill(diff, "h", size)
    everything = hgetall_pikamp(diff, "h")
    got = parse(diff.p.call("HRANDFIELD", "h", "-100"))
    assert len(got) == 100 and set(got) <= set(everything)


@pytest.mark.parametrize("size", [30, 2000])
def test_hrandfield_withvalues_pairs_fields_with_their_values(diff, size):
    fill(diff, "h", size)
    everything = hgetall_pikamp(diff, "h")
    for count in ("7", "-7"):
        got = parse(diff.p.call("HRANDFIELD", "h", count, "WITHVALUES"))
        pairs = got if diff.proto == 3 else list(zip(got[::2], got[1::2]))
        assert len(pairs) == 7
        assert all(everything[f] == v for f, v in pairs)


def test_hrandfield_without_count_picks_an_existing_field(diff):
    fill(diff, "h", 1000)
    fields = set(hgetall_pikamp(diff, "h"))
    seen = {parse(diff.p.call("HRANDFIELD", "h")) for _ in range(50)}
    assert seen <= fields and len(seen) > 1


# -- HSCAN ---------------------------------------------------------------------
def hscan_all(conn, key: str, *opts: str, limit: int = 10_000) -> tuple[list, int]:
    """Follow the cursor to 0; -> (all flat field/value replies, number of calls)."""
    cursor, out, calls = b"0", [], 0
    while True:
        cursor, page = parse(conn.call("HSCAN", key, cursor, *opts))
        out += page
        calls += 1
        assert calls < limit
        if cursor == b"0":
            return out, calls


def test_hscan_missing_key_ignores_options(diff):
    diff("HSCAN", "nokey", "0")
    diff("HSCAN", "nokey", "0", "COUNT", "0")
    diff("HSCAN", "nokey", "0", "BADOPT")


def test_hscan_small_hash_in_one_call(diff):
    fill(diff, "h", 8)
    diff("HSCAN", "h", "0", unordered=True)
    diff("HSCAN", "h", "0", "MATCH", "f1*", unordered=True)
    diff("HSCAN", "h", "0", "MATCH", "*", "COUNT", "10", unordered=True)


def test_hscan_argument_errors(diff):
    diff("HSET", "h", "a", "1")
    for cursor in ("abc", "18446744073709551616", " 1", "1 ", "+", "-", "0x1"):
        diff("HSCAN", "h", cursor)
    diff("HSCAN", "h", "0", "COUNT", "0")
    diff("HSCAN", "h", "0", "COUNT", "-1")
    diff("HSCAN", "h", "0", "COUNT", "x")
    diff("HSCAN", "h", "0", "MATCH")
    diff("HSCAN", "h", "0", "TYPE", "string")
    diff("HSCAN", "h", "0", "COUNT", "1", "EXTRA")


def test_hscan_accepts_any_unsigned_cursor_spelling(diff):
    diff("HSET", "h", "a", "1")
    for cursor in ("", "-0", "+0", "007"):
        diff("HSCAN", "h", cursor, unordered=True)


def test_hscan_full_iteration_returns_every_field_once(diff):
    fill(diff, "h", 1000)
    flat, calls = hscan_all(diff.p, "h", "COUNT", "7")
    pairs = list(zip(flat[::2], flat[1::2]))
    assert dict(pairs) == hgetall_pikamp(diff, "h")
    assert len(pairs) == 1000 and calls >= 1000 // 7


def test_hscan_pages_hold_at_most_count_fields(diff):
    fill(diff, "h", 100)
    cursor, page = parse(diff.p.call("HSCAN", "h", "0", "COUNT", "13"))
    assert cursor != b"0" and len(page) == 2 * 13


def test_hscan_match_filters_fields(diff):
    fill(diff, "h", 300)
    flat, _ = hscan_all(diff.p, "h", "MATCH", "f1?", "COUNT", "20")
    assert sorted(flat[::2]) == sorted(f"f{i}".encode() for i in range(10, 20))


def test_hscan_unknown_cursor_restarts_without_missing_fields(diff):
    fill(diff, "h", 30)
    _, page = parse(diff.p.call("HSCAN", "h", "987654321", "COUNT", "100"))
    assert len(page) == 60


def test_hscan_sees_fields_added_during_the_scan(diff):
    fill(diff, "h", 50)
    cursor, first = parse(diff.p.call("HSCAN", "h", "0", "COUNT", "10"))
    diff.p.call("HSET", "h", "zzz", "late")
    rest = []
    while cursor != b"0":
        cursor, page = parse(diff.p.call("HSCAN", "h", cursor, "COUNT", "10"))
        rest += page
    assert b"zzz" in (first + rest)[::2]


def test_hscan_glob_ranges_compare_bytes_as_signed_chars(diff):
    diff("HSET", "h", "a", "1", "b", "2", b"\xc0", "3")
    for pattern in (b"[a-\xff]", b"[\x80-\xff]", b"[\x00-\xff]", b"[^a]", b"[a-]", b"[ab", b"\\a", b"?"):
        diff("HSCAN", "h", "0", "MATCH", pattern, unordered=True)


# -- type errors and expiry ------------------------------------------------------------
@pytest.mark.parametrize("cmd", [
    ("HSET", "s", "f", "v"), ("HMSET", "s", "f", "v"), ("HSETNX", "s", "f", "v"), ("HGET", "s", "f"),
    ("HMGET", "s", "f"), ("HDEL", "s", "f"), ("HLEN", "s"), ("HSTRLEN", "s", "f"), ("HEXISTS", "s", "f"),
    ("HINCRBY", "s", "f", "1"), ("HINCRBYFLOAT", "s", "f", "1"), ("HKEYS", "s"), ("HVALS", "s"),
    ("HGETALL", "s"), ("HRANDFIELD", "s"), ("HRANDFIELD", "s", "0"), ("HRANDFIELD", "s", "2", "WITHVALUES"),
    ("HSCAN", "s", "0"), ("HSCAN", "s", "0", "COUNT", "0"),
])
def test_hash_commands_on_a_string_are_wrongtype(diff, cmd):
    diff("SET", "s", "x")
    assert diff(*cmd) == WRONGTYPE


def test_argument_errors_win_over_wrongtype(diff):
    diff("SET", "s", "x")
    diff("HINCRBY", "s", "f", "x")
    diff("HINCRBYFLOAT", "s", "f", "x")
    diff("HINCRBYFLOAT", "s", "f", "inf")
    diff("HSCAN", "s", "x")
    diff("HRANDFIELD", "s", "x")


def test_set_over_a_hash_replaces_it(diff):
    fill(diff, "h", 5)
    diff("SET", "h", "str")
    diff("GET", "h")
    diff("HSET", "h2", "a", "1")
    diff("DEL", "h")
    diff("HSET", "h", "f0", "new")
    diff("HGETALL", "h")


def test_recreated_hash_has_no_old_fields(diff):
    fill(diff, "h", 50)
    diff("DEL", "h")
    diff("HSET", "h", "f1", "x")
    diff("HGETALL", "h")
    diff("HLEN", "h")


def test_expired_hash_is_gone_and_recreated_empty(diff):
    fill(diff, "h", 20)
    diff("PEXPIRE", "h", "1")
    time.sleep(0.01)
    diff("HLEN", "h")
    diff("HGET", "h", "f1")
    diff("HSET", "h", "f2", "new")
    diff("HGETALL", "h")
    diff("TTL", "h")


def test_hash_keeps_its_ttl_when_fields_change(diff):
    diff("HSET", "h", "a", "1")
    diff("EXPIRE", "h", "1000")
    diff("HSET", "h", "b", "2")
    diff("HDEL", "h", "a")
    diff("HINCRBY", "h", "n", "1")
    diff("TTL", "h")


# -- Pika's HSCANX / PKHSCANRANGE / PKHRSCANRANGE (pikamp only) ------------------------------
@pytest.fixture
def letters(raw):
    """Hash 'p' with fields a..j (values A..J) on pikamp, over a raw RESP2 connection."""
    raw.call("FLUSHALL")
    fields = "abcdefghij"
    raw.call("HSET", "p", *[x for f in fields for x in (f, f.upper())])
    return raw


def call(conn, *args):
    return parse(conn.call(*args))


def test_hscanx_pages_in_field_order(letters):
    assert call(letters, "HSCANX", "p", "", "COUNT", "3") == [b"d", [b"a", b"A", b"b", b"B", b"c", b"C"]]
    assert call(letters, "HSCANX", "p", "d", "COUNT", "3") == [b"g", [b"d", b"D", b"e", b"E", b"f", b"F"]]
    assert call(letters, "HSCANX", "p", "h") == [b"", [b"h", b"H", b"i", b"I", b"j", b"J"]]


def test_hscanx_start_between_fields_and_match(letters):
    assert call(letters, "HSCANX", "p", "bb", "COUNT", "2") == [b"e", [b"c", b"C", b"d", b"D"]]
    assert call(letters, "HSCANX", "p", "", "MATCH", "[aeiou]", "COUNT", "5") == [b"f", [b"a", b"A", b"e", b"E"]]


def test_hscanx_missing_key_and_errors(letters):
    assert call(letters, "HSCANX", "nokey", "") == [b"", []]
    assert call(letters, "HSCANX", "p", "", "COUNT", "-1") == ("err", b"ERR syntax error")
    assert call(letters, "HSCANX", "p", "", "COUNT", "x") == ("err", b"ERR value is not an integer or out of range")
    assert call(letters, "HSCANX", "p", "", "COUNT") == ("err", b"ERR syntax error")
    assert call(letters, "HSCANX", "p", "", "LIMIT", "1") == ("err", b"ERR syntax error")
    assert call(letters, "HSCANX", "p") == ("err", b"ERR wrong number of arguments for 'hscanx' command")
    letters.call("SET", "s", "x")
    assert call(letters, "HSCANX", "s", "")[0] == "err"


def test_pkhscanrange_inclusive_bounds(letters):
    assert call(letters, "PKHSCANRANGE", "p", "c", "e") == [b"", [b"c", b"C", b"d", b"D", b"e", b"E"]]
    assert call(letters, "PKHSCANRANGE", "p", "c", "e", "LIMIT", "2") == [b"e", [b"c", b"C", b"d", b"D"]]
    assert call(letters, "PKHSCANRANGE", "p", "c", "e", "LIMIT", "3") == [b"", [b"c", b"C", b"d", b"D", b"e", b"E"]]


def test_pkhscanrange_empty_bounds_are_unbounded(letters):
    assert call(letters, "PKHSCANRANGE", "p", "", "b") == [b"", [b"a", b"A", b"b", b"B"]]
    assert call(letters, "PKHSCANRANGE", "p", "i", "") == [b"", [b"i", b"I", b"j", b"J"]]
    assert call(letters, "PKHSCANRANGE", "p", "", "", "LIMIT", "2") == [b"c", [b"a", b"A", b"b", b"B"]]
    assert call(letters, "PKHSCANRANGE", "p", "", "", "MATCH", "?", "LIMIT", "100")[0] == b""


def test_pkhscanrange_match_and_errors(letters):
    assert call(letters, "PKHSCANRANGE", "p", "a", "j", "MATCH", "[b-d]", "LIMIT", "3") == [b"d", [b"b", b"B", b"c", b"C"]]
    assert call(letters, "PKHSCANRANGE", "p", "e", "c") == ("err", b"ERR Invalid argument: error in given range")
    assert call(letters, "PKHSCANRANGE", "p", "a", "b", "LIMIT", "0") == (
        "err", b"ERR value is not an integer or out of range")
    assert call(letters, "PKHSCANRANGE", "p", "a", "b", "COUNT", "1") == ("err", b"ERR syntax error")
    assert call(letters, "PKHSCANRANGE", "nokey", "a", "b") == [b"", []]


def test_pkhrscanrange_walks_down(letters):
    assert call(letters, "PKHRSCANRANGE", "p", "e", "c") == [b"", [b"e", b"E", b"d", b"D", b"c", b"C"]]
    assert call(letters, "PKHRSCANRANGE", "p", "", "", "LIMIT", "2") == [b"h", [b"j", b"J", b"i", b"I"]]
    assert call(letters, "PKHRSCANRANGE", "p", "cc", "") == [b"", [b"c", b"C", b"b", b"B", b"a", b"A"]]
    assert call(letters, "PKHRSCANRANGE", "p", "j", "h", "LIMIT", "2") == [b"h", [b"j", b"J", b"i", b"I"]]
    assert call(letters, "PKHRSCANRANGE", "p", "c", "e") == ("err", b"ERR Invalid argument: error in given range")


def test_redis_py_hash_round_trip(r):
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert r.hincrbyfloat("h", "a", 0.5) == 1.5
    assert r.hrandfield("h", 5, withvalues=True)


HASH_COMMANDS = ["hset", "hsetnx", "hget", "hmget", "hmset", "hdel", "hlen", "hstrlen", "hexists", "hincrby",
                 "hincrbyfloat", "hkeys", "hvals", "hgetall", "hrandfield", "hscan"]


def test_command_info_arity_flags_and_keys_match_redis(diff):
    a, b = diff.both("COMMAND", "INFO", *HASH_COMMANDS)
    assert [x[:6] for x in parse(a)] == [x[:6] for x in parse(b)]
