"""Set commands: byte-identical to Redis 7.0 in RESP2 and RESP3 (``diff``), with
unordered comparison where Redis's order is unspecified and property checks
where its reply is random."""
from __future__ import annotations

import time

import pytest
from resp_client import parse

WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"


def members(n: int, prefix: str = "m") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def elements(reply):
    """The members of a parsed array (RESP2) or set (RESP3) reply."""
    return reply[1] if isinstance(reply, tuple) else reply


def smembers_pikamp(diff, key: str) -> set:
    return set(elements(parse(diff.p.call("SMEMBERS", key))))


# -- SADD / SREM / SCARD / SISMEMBER / SMISMEMBER / SMEMBERS ------------------------------
def test_sadd_counts_new_members_once(diff):
    diff("SADD", "s", "a", "b", "a", "c")
    diff("SADD", "s", "a", "d", "d")
    diff("SCARD", "s")
    diff("SMEMBERS", "s", unordered=True)


def test_smembers_is_a_set_in_resp3(diff):
    diff("SADD", "s", "only")
    diff("SMEMBERS", "s")
    diff("SMEMBERS", "nokey")


def test_integer_and_binary_members(diff):
    diff("SADD", "s", "1", "2", "-3", "10", "007", "", b"\x00\xff", "1")
    diff("SCARD", "s")
    diff("SISMEMBER", "s", "007")
    diff("SISMEMBER", "s", "7")
    diff("SISMEMBER", "s", "")
    diff("SMEMBERS", "s", unordered=True)


def test_srem_counts_removed_members_and_deletes_empty_set(diff):
    diff("SADD", "s", "a", "b", "c")
    diff("SREM", "s", "a", "x", "a")
    diff("SCARD", "s")
    diff("SREM", "s", "b", "c")
    diff("EXISTS", "s")
    diff("SREM", "nokey", "a")
    diff("DBSIZE")


def test_scard_sismember_smismember_on_missing_key(diff):
    diff("SCARD", "nokey")
    diff("SISMEMBER", "nokey", "a")
    diff("SMISMEMBER", "nokey", "a", "b")


def test_smismember_keeps_order(diff):
    diff("SADD", "s", "a", "c")
    diff("SMISMEMBER", "s", "c", "b", "a", "a")
    diff("SMISMEMBER", "s")


# -- SRANDMEMBER -------------------------------------------------------------------
def test_srandmember_missing_key(diff):
    diff("SRANDMEMBER", "nokey")
    diff("SRANDMEMBER", "nokey", "5")
    diff("SRANDMEMBER", "nokey", "-5")


def test_srandmember_argument_errors(diff):
    diff("SADD", "s", "a")
    diff("SRANDMEMBER", "s", "x")
    diff("SRANDMEMBER", "s", "1", "2")
    diff("SRANDMEMBER", "s", "x", "2")
    diff("SRANDMEMBER", "s", "-9223372036854775808")
    diff("SRANDMEMBER", "s", "9223372036854775808")


def test_srandmember_shapes_on_a_single_member_set(diff):
    diff("SADD", "s", "a")
    diff("SRANDMEMBER", "s")
    diff("SRANDMEMBER", "s", "0")
    diff("SRANDMEMBER", "s", "1")
    diff("SRANDMEMBER", "s", "3")
    diff("SRANDMEMBER", "s", "-3")


def test_srandmember_count_at_least_size_returns_everything(diff):
    diff("SADD", "s", *members(20))
    diff("SRANDMEMBER", "s", "20", unordered=True)
    diff("SRANDMEMBER", "s", "1000", unordered=True)


@pytest.mark.parametrize("size", [40, 3000])
def test_srandmember_positive_count_gives_distinct_members(diff, size):
    diff("SADD", "s", *members(size))
    everything = smembers_pikamp(diff, "s")
    for count in (1, 3, size // 4, size // 3, size // 2, size - 1):
        got = parse(diff.p.call("SRANDMEMBER", "s", str(count)))
        assert len(got) == count == len(set(got))
        assert set(got) <= everything


@pytest.mark.parametrize("size", [40, 3000])
def test_srandmember_negative_count_may_repeat(diff, size):
    diff("SADD", "s", *members(size))
    everything = smembers_pikamp(diff, "s")
    got = parse(diff.p.call("SRANDMEMBER", "s", "-500"))
    assert len(got) == 500 and set(got) <= everything


def test_srandmember_spreads_over_a_big_set(diff):
    diff("SADD", "s", *members(5000))
    seen = {parse(diff.p.call("SRANDMEMBER", "s")) for _ in range(200)}
    assert len(seen) > 50  # not uniform, but never stuck on a few members


def test_srandmember_distinct_count_on_a_skewed_big_set(diff):
    # One far-away member and a dense run: random seeks keep landing on a few
    # members, so distinct picks must be completed another way.
    diff("SADD", "s", "\x00", *members(999, "zzzzzzzzzzzz"))
    got = parse(diff.p.call("SRANDMEMBER", "s", "300"))
    assert len(got) == len(set(got)) == 300
    assert set(got) <= smembers_pikamp(diff, "s")


# -- SPOP -------------------------------------------------------------------------------
def test_spop_missing_key_and_errors(diff):
    diff("SPOP", "nokey")
    diff("SPOP", "nokey", "1")
    diff("SPOP", "nokey", "0")
    diff("SADD", "s", "a")
    diff("SPOP", "s", "-1")
    diff("SPOP", "s", "x")
    diff("SPOP", "s", "1", "2")
    diff("SPOP", "s", "0")
    diff("SCARD", "s")


def test_spop_shapes_on_a_single_member_set(diff):
    diff("SADD", "s", "a")
    diff("SPOP", "s")
    diff("EXISTS", "s")
    diff("SADD", "s", "a")
    diff("SPOP", "s", "1")
    diff("EXISTS", "s")
    diff("SADD", "s", "a")
    diff("SPOP", "s", "5")
    diff("EXISTS", "s")


def test_spop_everything_deletes_the_key(diff):
    diff("SADD", "s", *members(30))
    diff("SPOP", "s", "30", unordered=True)
    diff("EXISTS", "s")
    diff("SADD", "s", *members(30))
    diff("SPOP", "s", "100", unordered=True)
    diff("DBSIZE")


@pytest.mark.parametrize("size", [40, 3000])
def test_spop_removes_what_it_returns(diff, size):
    diff("SADD", "s", *members(size))
    before = smembers_pikamp(diff, "s")
    popped = set(elements(parse(diff.p.call("SPOP", "s", str(size // 4)))))
    one = parse(diff.p.call("SPOP", "s"))
    assert len(popped) == size // 4 and one not in popped
    assert popped | {one} <= before
    after = smembers_pikamp(diff, "s")
    assert after == before - popped - {one}
    assert parse(diff.p.call("SCARD", "s")) == len(after)


# -- SMOVE ------------------------------------------------------------------------------
def test_smove_moves_a_member(diff):
    diff("SADD", "src", "a", "b")
    diff("SADD", "dst", "c")
    diff("SMOVE", "src", "dst", "a")
    diff("SMEMBERS", "src", unordered=True)
    diff("SMEMBERS", "dst", unordered=True)
    diff("SMOVE", "src", "dst", "a")


def test_smove_creates_destination_and_deletes_empty_source(diff):
    diff("SADD", "src", "a")
    diff("SMOVE", "src", "new", "a")
    diff("EXISTS", "src")
    diff("SMEMBERS", "new")


def test_smove_member_already_in_destination(diff):
    diff("SADD", "src", "a", "b")
    diff("SADD", "dst", "a")
    diff("SMOVE", "src", "dst", "a")
    diff("SCARD", "dst")
    diff("SMEMBERS", "src")


def test_smove_to_itself(diff):
    diff("SADD", "s", "a")
    diff("SMOVE", "s", "s", "a")
    diff("SMOVE", "s", "s", "b")
    diff("SMEMBERS", "s")


def test_smove_type_checks(diff):
    diff("SET", "str", "x")
    diff("SADD", "s", "a")
    diff("SMOVE", "nokey", "str", "a")
    diff("SMOVE", "s", "str", "a")
    diff("SMOVE", "str", "s", "a")
    diff("SMOVE", "s", "str", "zz")
    diff("SMEMBERS", "s")


# -- SUNION / SINTER / SDIFF and their STORE forms -------------------------------------
@pytest.fixture
def abc(diff):
    diff("SADD", "a", "1", "2", "3", "4", "x")
    diff("SADD", "b", "3", "4", "5", "x")
    diff("SADD", "c", "4", "5", "6", "x")
    return diff


@pytest.mark.parametrize("op", ["SUNION", "SINTER", "SDIFF"])
@pytest.mark.parametrize("keys", [("a",), ("a", "b"), ("a", "b", "c"), ("c", "a"), ("a", "nokey"),
                                  ("nokey", "a"), ("a", "a"), ("nokey",)])
def test_set_algebra(abc, op, keys):
    abc(op, *keys, unordered=True)


@pytest.mark.parametrize("op", ["SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"])
@pytest.mark.parametrize("keys", [("a",), ("a", "b"), ("a", "b", "c"), ("a", "nokey"), ("nokey",), ("dst", "a")])
def test_set_algebra_store(abc, op, keys):
    abc("SADD", "dst", "old")
    abc(op, "dst", *keys)
    abc("SMEMBERS", "dst", unordered=True)
    abc("EXISTS", "dst")
    abc("DBSIZE")


@pytest.mark.parametrize("op", ["SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"])
def test_set_algebra_store_overwrites_other_types(abc, op):
    abc("SET", "str", "v")
    abc(op, "str", "a", "b")
    abc("TYPE", "str")
    abc("HSET", "h", "f", "v")
    abc(op, "h", "a", "c")
    abc("TYPE", "h")
    abc("SCARD", "h")


def test_set_algebra_store_with_empty_result_deletes_destination(abc):
    abc("SET", "str", "v")
    abc("SINTERSTORE", "str", "a", "nokey")
    abc("EXISTS", "str")
    abc("SDIFFSTORE", "b", "b", "b")
    abc("EXISTS", "b")


@pytest.mark.parametrize("op", ["SUNION", "SINTER", "SDIFF", "SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"])
def test_set_algebra_wrongtype_even_after_a_missing_key(abc, op):
    abc("SET", "str", "v")
    store = ("dst",) if op.endswith("STORE") else ()
    assert abc(op, *store, "nokey", "a", "str") == WRONGTYPE
    abc("EXISTS", "dst")


def test_set_algebra_on_bigger_sets(diff):
    diff("SADD", "x", *members(600))
    diff("SADD", "y", *members(900)[300:])
    diff("SINTER", "x", "y", unordered=True)
    diff("SDIFF", "x", "y", unordered=True)
    diff("SUNIONSTORE", "u", "x", "y")
    diff("SCARD", "u")


# -- SINTERCARD --------------------------------------------------------------------
def test_sintercard_counts(abc):
    abc("SINTERCARD", "1", "a")
    abc("SINTERCARD", "2", "a", "b")
    abc("SINTERCARD", "3", "a", "b", "c")
    abc("SINTERCARD", "2", "a", "nokey")
    abc("SINTERCARD", "2", "a", "b", "LIMIT", "1")
    abc("SINTERCARD", "2", "a", "b", "LIMIT", "0")
    abc("SINTERCARD", "2", "a", "b", "limit", "100")
    abc("SINTERCARD", "1", "a", "LIMIT", "2", "LIMIT", "3")


def test_sintercard_errors(abc):
    for numkeys in ("0", "-1", "x", "9223372036854775808"):
        abc("SINTERCARD", numkeys, "a")
    abc("SINTERCARD", "3", "a", "b")
    abc("SINTERCARD", "1", "a", "LIMIT", "-1")
    abc("SINTERCARD", "1", "a", "LIMIT", "x")
    abc("SINTERCARD", "1", "a", "LIMIT")
    abc("SINTERCARD", "1", "a", "FOO", "1")
    abc("SINTERCARD", "1")
    abc("SET", "str", "v")
    abc("SINTERCARD", "2", "nokey", "str")


# -- SSCAN -----------------------------------------------------------------------------
def sscan_all(conn, key: str, *opts: str, limit: int = 10_000) -> tuple[list, int]:
    cursor, out, calls = b"0", [], 0
    while True:
        cursor, page = parse(conn.call("SSCAN", key, cursor, *opts))
        out += page
        calls += 1
        assert calls < limit
        if cursor == b"0":
            return out, calls


def test_sscan_missing_key_and_small_set(diff):
    diff("SSCAN", "nokey", "0")
    diff("SSCAN", "nokey", "0", "COUNT", "0")
    diff("SADD", "s", *members(5))
    diff("SSCAN", "s", "0", unordered=True)
    diff("SSCAN", "s", "0", "MATCH", "m[0-2]", unordered=True)


def test_sscan_argument_errors(diff):
    diff("SADD", "s", "a")
    diff("SSCAN", "s", "x")
    diff("SSCAN", "s", "0", "COUNT", "0")
    diff("SSCAN", "s", "0", "MATCH")
    diff("SSCAN", "s", "0", "NOPE", "1")


def test_sscan_full_iteration_returns_every_member_once(diff):
    diff("SADD", "s", *members(1500))
    out, calls = sscan_all(diff.p, "s", "COUNT", "25")
    assert len(out) == len(set(out)) == 1500
    assert set(out) == smembers_pikamp(diff, "s")
    assert calls >= 1500 // 25


def test_sscan_match(diff):
    diff("SADD", "s", *members(500))
    out, _ = sscan_all(diff.p, "s", "MATCH", "*9", "COUNT", "50")
    assert sorted(out) == sorted(m.encode() for m in members(500) if m.endswith("9"))


# -- types, expiry, re-creation -----------------------------------------------------------
@pytest.mark.parametrize("cmd", [
    ("SADD", "str", "a"), ("SREM", "str", "a"), ("SCARD", "str"), ("SISMEMBER", "str", "a"),
    ("SMISMEMBER", "str", "a"), ("SMEMBERS", "str"), ("SRANDMEMBER", "str"), ("SRANDMEMBER", "str", "0"),
    ("SRANDMEMBER", "str", "-2"), ("SPOP", "str"), ("SPOP", "str", "0"), ("SPOP", "str", "3"),
    ("SSCAN", "str", "0"), ("SINTERCARD", "1", "str"),
])
def test_set_commands_on_a_string_are_wrongtype(diff, cmd):
    diff("SET", "str", "x")
    assert diff(*cmd) == WRONGTYPE


def test_hash_and_set_do_not_mix(diff):
    diff("HSET", "h", "a", "1")
    diff("SADD", "h", "a")
    diff("SADD", "s", "a")
    diff("HGET", "s", "a")


def test_recreated_set_has_no_old_members(diff):
    diff("SADD", "s", *members(100))
    diff("DEL", "s")
    diff("SADD", "s", "m1", "new")
    diff("SMEMBERS", "s", unordered=True)
    diff("SET", "s", "str")
    diff("DEL", "s")
    diff("SADD", "s", "m2")
    diff("SMEMBERS", "s")


def test_expired_set_is_gone(diff):
    diff("SADD", "s", *members(10))
    diff("PEXPIRE", "s", "1")
    time.sleep(0.01)
    diff("SCARD", "s")
    diff("SISMEMBER", "s", "m1")
    diff("SADD", "s", "m3")
    diff("SMEMBERS", "s")


def test_set_keeps_its_ttl_when_members_change(diff):
    diff("SADD", "s", "a", "b")
    diff("EXPIRE", "s", "1000")
    diff("SADD", "s", "c")
    diff("SREM", "s", "a")
    diff("SPOP", "s", "0")
    diff("TTL", "s")


def test_store_replaces_the_destination_ttl(diff):
    diff("SADD", "a", "1")
    diff("SADD", "dst", "x")
    diff("EXPIRE", "dst", "1000")
    diff("SUNIONSTORE", "dst", "a")
    diff("TTL", "dst")


def test_redis_py_set_round_trip(r, r2):
    assert r.sadd("s", "a", "b") == 2
    assert r.smembers("s") == {b"a", b"b"}
    assert r2.smembers("s") == {b"a", b"b"}
    assert r.sintercard(1, ["s"]) == 2
    assert r.smismember("s", ["a", "z"]) == [1, 0]


SET_COMMANDS = ["sadd", "srem", "scard", "sismember", "smismember", "smembers", "srandmember", "spop", "smove",
                "sunion", "sinter", "sdiff", "sunionstore", "sinterstore", "sdiffstore", "sintercard", "sscan"]


def test_command_info_arity_flags_and_keys_match_redis(diff):
    a, b = diff.both("COMMAND", "INFO", *SET_COMMANDS)
    assert [x[:6] for x in parse(a)] == [x[:6] for x in parse(b)]
