"""Expiry: EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with NX XX GT LT, TTL, PTTL,
EXPIRETIME, PEXPIRETIME, PERSIST -- against redis-server -- and keys that
expire lazily and through the active expire cycle."""
from __future__ import annotations

import time

import pytest

FAR = "4000000000"  # a UNIX time in seconds well in the future
FAR_MS = "4000000000000"

EXPIRE_COMMANDS = ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# -- setting an expiry -------------------------------------------------------------------


def test_expire_sets_ttl_in_seconds(diff):
    diff("SET", "k", "v")
    diff("EXPIRE", "k", "100")
    diff("TTL", "k")
    diff("EXPIRE", "k", "200")
    diff("TTL", "k")


def test_pexpire_sets_ttl_in_milliseconds(diff):
    diff("SET", "k", "v")
    diff("PEXPIRE", "k", "100000")
    diff("TTL", "k")


def test_expireat_and_pexpireat_set_absolute_times(diff):
    diff("SET", "a", "v")
    diff("SET", "b", "v")
    diff("EXPIREAT", "a", FAR)
    diff("PEXPIREAT", "b", "4000000000123")
    diff("EXPIRETIME", "a")
    diff("PEXPIRETIME", "a")
    diff("EXPIRETIME", "b")
    diff("PEXPIRETIME", "b")


def test_expire_rounds_expiretime_to_nearest_second(diff):
    diff("SET", "k", "v")
    diff("PEXPIREAT", "k", "4000000000499")
    diff("EXPIRETIME", "k")
    diff("PEXPIREAT", "k", "4000000000500")
    diff("EXPIRETIME", "k")


@pytest.mark.parametrize("cmd", EXPIRE_COMMANDS)
def test_expire_on_missing_key_returns_zero(diff, cmd):
    diff(cmd, "missing", "100")
    diff(cmd, "missing", "-100")
    diff("EXISTS", "missing")


@pytest.mark.parametrize("cmd", EXPIRE_COMMANDS)
def test_expire_in_the_past_deletes_the_key(diff, cmd):
    for t in ("0", "-1", "-9223372036854775"):
        diff("SET", "k", "v")
        diff(cmd, "k", t)
        diff("EXISTS", "k")
        diff("DBSIZE")


@pytest.mark.parametrize("cmd", EXPIRE_COMMANDS)
def test_expire_time_overflow_is_an_error(diff, cmd):
    diff("SET", "k", "v")
    for t in ("9223372036854775807", "9223372036854776", "-9223372036854776",
              "-9223372036854775808", "9223372036854775808", "99999999999999999999"):
        diff(cmd, "k", t)
        diff(cmd, "missing", t)
    diff("TTL", "k")


@pytest.mark.parametrize("cmd", EXPIRE_COMMANDS)
def test_expire_time_must_be_an_integer(diff, cmd):
    diff("SET", "k", "v")
    for t in ("abc", "1.5", "", " 1", "+1", "0x10"):
        diff(cmd, "k", t)


def test_expire_largest_allowed_times(diff):
    diff("SET", "k", "v")
    diff("EXPIREAT", "k", "9223372036854775")
    diff("EXPIRETIME", "k")
    diff("PEXPIREAT", "k", "9223372036854775807")
    diff("PEXPIRETIME", "k")
    diff("EXPIRETIME", "k")


def test_expire_applies_to_binary_keys(diff):
    diff("SET", b"\x00\xffk", "v")
    diff("EXPIRE", b"\x00\xffk", "100")
    diff("TTL", b"\x00\xffk")


# -- NX XX GT LT --------------------------------------------------------------------------


def test_expire_option_conflicts(diff):
    diff("SET", "k", "v")
    for opts in (["NX", "XX"], ["NX", "GT"], ["NX", "LT"], ["GT", "LT"], ["XX", "NX"], ["LT", "GT", "XX"],
                 ["nx", "xx"], ["XX", "GT", "NX"], ["FOO"], ["NX", "FOO"], ["NX", "XX", "FOO"]):
        diff("EXPIRE", "k", "100", *opts)
    diff("EXPIRE", "k", "abc", "NX", "XX")  # options are checked before the time
    diff("EXPIRE", "k", "abc", "BAR")
    diff("TTL", "k")


def test_expire_repeated_compatible_options(diff):
    diff("SET", "k", "v")
    diff("EXPIRE", "k", "100", "NX", "NX")
    diff("EXPIRE", "k", "200", "XX", "GT", "xx")
    diff("TTL", "k")


@pytest.mark.parametrize("cmd", EXPIRE_COMMANDS)
def test_expire_options_on_key_without_ttl(diff, cmd):
    t = {"EXPIRE": "100", "PEXPIRE": "100000", "EXPIREAT": FAR, "PEXPIREAT": FAR_MS}[cmd]
    for opts in (["XX"], ["GT"], ["LT"], ["XX", "LT"], ["NX"]):
        diff("SET", "k", "v")
        diff(cmd, "k", t, *opts)
        diff("TTL", "k")


@pytest.mark.parametrize("opts,new", [
    (["NX"], "200"), (["XX"], "200"), (["GT"], "200"), (["GT"], "50"), (["GT"], "100"),
    (["LT"], "50"), (["LT"], "200"), (["LT"], "100"), (["XX", "GT"], "300"), (["XX", "LT"], "10"),
    (["LT"], "-1"), (["GT"], "-1"), (["XX"], "-5"),
])
def test_expire_options_on_key_with_ttl(diff, opts, new):
    diff("SET", "k", "v")
    diff("EXPIREAT", "k", str(int(time.time()) + 100))
    diff("EXPIRE", "k", new, *opts)
    diff("EXISTS", "k")


def test_expire_gt_lt_compare_absolute_times(diff):
    diff("SET", "k", "v")
    diff("PEXPIREAT", "k", "4000000000000")
    diff("PEXPIREAT", "k", "4000000000001", "LT")
    diff("PEXPIREAT", "k", "3999999999999", "GT")
    diff("PEXPIREAT", "k", "4000000000000", "GT")
    diff("PEXPIREAT", "k", "4000000000001", "GT")
    diff("PEXPIRETIME", "k")
    diff("PEXPIREAT", "k", "3999999999999", "LT")
    diff("PEXPIRETIME", "k")


def test_expire_arity(diff):
    for cmd in EXPIRE_COMMANDS:
        diff(cmd, "k")
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"):
        diff(cmd)
        diff(cmd, "a", "b")


# -- reading and removing the expiry --------------------------------------------------------


@pytest.mark.parametrize("cmd", ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"])
def test_ttl_family_on_missing_and_persistent_keys(diff, cmd):
    diff(cmd, "missing")
    diff("SET", "k", "v")
    diff(cmd, "k")


def test_pttl_is_in_milliseconds(r):
    r.set("k", "v", px=100_000)
    assert 99_000 < r.pttl("k") <= 100_000
    assert r.ttl("k") == 100


def test_persist_removes_the_expiry(diff):
    diff("PERSIST", "missing")
    diff("SET", "k", "v")
    diff("PERSIST", "k")
    diff("EXPIRE", "k", "100")
    diff("PERSIST", "k")
    diff("TTL", "k")
    diff("PERSIST", "k")
    diff("GET", "k")


def test_expire_works_on_every_type(diff):
    for cmd in (["HSET", "h", "f", "v"], ["SADD", "s", "m"], ["RPUSH", "l", "e"], ["ZADD", "z", "1", "m"]):
        reply, _ = diff.both(*cmd)
        if reply.startswith(b"-ERR unknown command"):
            continue
        diff("EXPIRE", cmd[1], "100")
        diff("TTL", cmd[1])
        diff("PERSIST", cmd[1])
        diff("EXPIRE", cmd[1], "-1")
        diff("EXISTS", cmd[1])


# -- keys going away ------------------------------------------------------------------------


def test_expired_key_is_gone_when_accessed(r):
    r.set("k", "v", px=30)
    assert wait_until(lambda: r.get("k") is None)
    assert r.ttl("k") == -2
    assert r.exists("k") == 0


def test_expired_keys_are_removed_without_being_accessed(r):
    pipe = r.pipeline(transaction=False)
    for i in range(300):
        pipe.set(f"short:{i}", i, px=100)
    for i in range(5):
        pipe.set(f"long:{i}", i)
    pipe.execute()
    # DBSIZE counts keys until they are reclaimed, like Redis: only the active
    # expire cycle can bring it down, as nothing reads the expired keys.
    assert wait_until(lambda: r.dbsize() == 5)


def test_active_expiry_in_a_db_of_the_other_worker(pikamp_server, r):
    import redis

    one = redis.Redis(host="127.0.0.1", port=pikamp_server.port, db=1)
    one.set("a", 1, px=50)
    one.set("b", 1)
    assert wait_until(lambda: one.dbsize() == 1)


def test_expire_then_set_without_ttl_persists(diff):
    diff("SET", "k", "v")
    diff("EXPIRE", "k", "100")
    diff("SET", "k", "w")
    diff("TTL", "k")
