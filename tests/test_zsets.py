"""Sorted sets: every command and its edge cases, byte for byte against Redis 7.0
in RESP2 and RESP3, plus a few checks that need redis-py or a bigger set."""
from __future__ import annotations

import pytest

SCORES = ["1", "2", "2", "3.5", "-1", "inf", "-inf", "0", "1.1", "0.1"]


def _fill(diff, key="z"):
    diff("ZADD", key, "1", "a", "2", "b", "2", "c", "3.5", "d", "-1", "e", "inf", "f", "-inf", "g",
         "0", "h", "1.1", "i", "0.1", "j")


def _lex(diff, key="l"):
    diff("ZADD", key, *[x for m in "abcdefg" for x in ("0", m)])


# == ZADD ========================================================================
def test_zadd_adds_and_counts_new_members(diff):
    diff("ZADD", "z", "1", "a", "2", "b")
    diff("ZADD", "z", "3", "a", "4", "c")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")
    diff("ZCARD", "z")


def test_zadd_same_member_twice_in_one_call(diff):
    diff("ZADD", "z", "1", "a", "2", "a")
    diff("ZADD", "z", "CH", "5", "b", "6", "b", "6", "a")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_zadd_nx_xx_ch(diff):
    diff("ZADD", "z", "1", "a")
    diff("ZADD", "z", "NX", "5", "a", "2", "b")
    diff("ZADD", "z", "XX", "5", "a", "3", "c")
    diff("ZADD", "z", "XX", "CH", "6", "a", "3", "c")
    diff("ZADD", "z", "ch", "6", "a", "7", "b", "1", "d")
    diff("ZADD", "missing", "XX", "1", "a")
    diff("EXISTS", "missing")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_zadd_gt_lt(diff):
    diff("ZADD", "z", "5", "a", "5", "b")
    diff("ZADD", "z", "GT", "CH", "4", "a", "6", "b", "1", "new")
    diff("ZADD", "z", "LT", "CH", "4", "a", "9", "b")
    diff("ZADD", "z", "XX", "GT", "100", "a", "1", "zz")
    diff("ZADD", "z", "GT", "5", "b")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_zadd_incr(diff):
    diff("ZADD", "z", "INCR", "1.5", "a")
    diff("ZADD", "z", "INCR", "1.5", "a")
    diff("ZADD", "z", "NX", "INCR", "1", "a")
    diff("ZADD", "z", "XX", "INCR", "1", "nope")
    diff("ZADD", "z", "GT", "INCR", "-1", "a")
    diff("ZADD", "z", "LT", "INCR", "-1", "a")
    diff("ZADD", "missing", "XX", "INCR", "1", "a")
    diff("ZADD", "z", "INCR", "1", "a", "2", "b")
    diff("ZSCORE", "z", "a")


def test_zadd_option_conflicts(diff):
    diff("ZADD", "z", "NX", "XX", "1", "a")
    diff("ZADD", "z", "NX", "GT", "1", "a")
    diff("ZADD", "z", "LT", "NX", "1", "a")
    diff("ZADD", "z", "GT", "LT", "1", "a")
    diff("ZADD", "z", "XX", "GT", "1", "a")
    diff("ZADD", "z", "NX", "XX", "1", "a", "2")
    diff("EXISTS", "z")


def test_zadd_syntax_and_arity_errors(diff):
    diff("ZADD", "z")
    diff("ZADD", "z", "1")
    diff("ZADD", "z", "NX", "1")
    diff("ZADD", "z", "1", "a", "2")
    diff("ZADD", "z", "NX", "XX")
    diff("ZADD", "z", "incr", "nx")


def test_zadd_rejects_bad_scores_before_writing(diff):
    for bad in ["nan", "NaN", "-nan", "abc", "", " 1", "1 ", "1e400", "-1e400", "1e-400", "0x", "1e", "inf1",
                "1\x002"]:
        diff("ZADD", "z", "1", "a", bad, "b")
    diff("EXISTS", "z")


def test_zadd_accepts_every_strtod_spelling(diff):
    for i, good in enumerate(["+inf", "-inf", "inf", "INF", "Infinity", "-infinity", "+1", ".5", "5.", "1e3",
                              "1E-3", "0x10", "0x1.8p1", "-0x.8", "4e-320", "0e-999", "00012", "-0",
                              "1.7976931348623157e308", "123456789012345678901234567890"]):
        diff("ZADD", "z", good, f"m{i}")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_zadd_on_wrong_type(diff):
    diff("SET", "s", "v")
    diff("ZADD", "s", "1", "a")
    diff("ZADD", "s", "nan", "a")
    diff("ZADD", "s", "XX", "1", "a")


def test_zadd_negative_zero_is_stored_as_zero(diff):
    diff("ZADD", "z", "-0", "a", "0", "b", "-0.0", "c")
    diff("ZSCORE", "z", "a")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")
    diff("ZADD", "z", "INCR", "-0", "new")
    diff("ZINCRBY", "z", "-0", "b")
    diff("ZINCRBY", "z", "-0", "fresh")
    diff("ZSCORE", "z", "fresh")


# == ZINCRBY =====================================================================
def test_zincrby(diff):
    diff("ZINCRBY", "z", "1.1", "a")
    diff("ZINCRBY", "z", "2", "a")
    diff("ZINCRBY", "z", "-10", "b")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")
    diff("ZINCRBY", "z", "abc", "a")
    diff("ZINCRBY", "z", "nan", "a")
    diff("ZINCRBY", "z", "nx", "a")
    diff("ZINCRBY", "z", "1")


def test_zincrby_to_nan_is_an_error_and_changes_nothing(diff):
    diff("ZADD", "z", "inf", "a")
    diff("ZINCRBY", "z", "-inf", "a")
    diff("ZADD", "z", "INCR", "-inf", "a")
    diff("ZINCRBY", "z", "inf", "a")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_zincrby_wrong_type(diff):
    diff("SET", "s", "v")
    diff("ZINCRBY", "s", "1", "a")


def test_score_formatting_matches_redis(diff):
    diff("ZADD", "z", "1.1", "a", "0.1", "b", "1e100", "c", "-2.5e-10", "d", "3", "e", "1e17", "f",
         "4503599627370496", "g", "0.30000000000000004", "h")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")
    diff("ZSCORE", "z", "a")
    diff("ZMSCORE", "z", "a", "c", "f", "nope")
    diff("ZINCRBY", "z", "0.2", "b")


# == ZCARD ZSCORE ZMSCORE =========================================================
def test_zcard_zscore_zmscore(diff):
    _fill(diff)
    diff("ZCARD", "z")
    diff("ZCARD", "missing")
    diff("ZSCORE", "z", "f")
    diff("ZSCORE", "z", "g")
    diff("ZSCORE", "z", "nope")
    diff("ZSCORE", "missing", "a")
    diff("ZMSCORE", "z", "a", "nope", "g")
    diff("ZMSCORE", "missing", "a", "b")
    diff("ZMSCORE", "z")
    diff("SET", "s", "v")
    diff("ZCARD", "s")
    diff("ZSCORE", "s", "a")
    diff("ZMSCORE", "s", "a")


# == ZCOUNT ZLEXCOUNT ==============================================================
@pytest.mark.parametrize("lo,hi", [("-inf", "+inf"), ("1", "2"), ("(1", "2"), ("1", "(2"), ("(1", "(2"),
                                   ("2", "1"), ("(2", "(2"), ("2", "2"), ("-inf", "-inf"), ("(-inf", "0"),
                                   ("inf", "inf"), ("(inf", "inf"), ("0", "1e999"), (" 1", "3"), ("", "2"),
                                   ("(", "2"), ("-1e999", "0"), ("0x1", "0x2"), ("+inf", "-inf")])
def test_zcount_ranges(diff, lo, hi):
    _fill(diff)
    diff("ZCOUNT", "z", lo, hi)
    diff("ZRANGEBYSCORE", "z", lo, hi, "WITHSCORES")
    diff("ZREVRANGEBYSCORE", "z", hi, lo, "WITHSCORES")


@pytest.mark.parametrize("lo,hi", [("nan", "1"), ("1", "nan"), ("a", "1"), ("1 ", "2"), ("((1", "2"),
                                   ("1", "[2"), ("(nan", "1")])
def test_score_range_errors(diff, lo, hi):
    _fill(diff)
    diff("ZCOUNT", "z", lo, hi)
    diff("ZCOUNT", "missing", lo, hi)
    diff("ZRANGEBYSCORE", "z", lo, hi)
    diff("ZREMRANGEBYSCORE", "z", lo, hi)
    diff("ZRANGE", "z", lo, hi, "BYSCORE")


@pytest.mark.parametrize("lo,hi", [("-", "+"), ("[a", "[c"), ("(a", "(c"), ("[a", "(c"), ("(a", "[c"),
                                   ("[c", "[a"), ("[b", "[b"), ("(b", "[b"), ("+", "-"), ("-", "-"),
                                   ("+", "+"), ("[", "+"), ("(", "+"), ("-", "(d"), ("[aa", "[ca"),
                                   ("[0", "[z"), ("-", "[a"), ("(g", "+")])
def test_lex_ranges(diff, lo, hi):
    _lex(diff)
    diff("ZLEXCOUNT", "l", lo, hi)
    diff("ZRANGEBYLEX", "l", lo, hi)
    diff("ZREVRANGEBYLEX", "l", hi, lo)
    diff("ZRANGEBYLEX", "l", lo, hi, "LIMIT", "1", "2")
    diff("ZREVRANGEBYLEX", "l", hi, lo, "LIMIT", "1", "2")
    diff("ZRANGE", "l", lo, hi, "BYLEX")
    diff("ZRANGE", "l", hi, lo, "BYLEX", "REV", "LIMIT", "0", "3")


@pytest.mark.parametrize("lo,hi", [("a", "+"), ("-", "b"), ("", "+"), ("-a", "+"), ("+a", "-"), ("-\x00", "+\x00z")])
def test_lex_range_errors(diff, lo, hi):
    _lex(diff)
    diff("ZLEXCOUNT", "l", lo, hi)
    diff("ZRANGEBYLEX", "l", lo, hi)
    diff("ZREMRANGEBYLEX", "l", lo, hi)
    diff("ZLEXCOUNT", "missing", lo, hi)


def test_lex_ranges_over_mixed_scores_follow_redis_walk(diff):
    diff("ZADD", "m", "1", "b", "2", "a", "3", "c", "4", "a0", "5", "bb", "6", "0")
    for lo, hi in [("[a", "[b"), ("-", "+"), ("(a", "[c"), ("[b", "+"), ("-", "(b"), ("[a0", "[bb"), ("[c", "[c")]:
        diff("ZRANGEBYLEX", "m", lo, hi)
        diff("ZREVRANGEBYLEX", "m", hi, lo)
        diff("ZLEXCOUNT", "m", lo, hi)
        diff("ZRANGEBYLEX", "m", lo, hi, "LIMIT", "1", "1")
        diff("ZREVRANGEBYLEX", "m", hi, lo, "LIMIT", "1", "2")


def test_zremrangebylex_over_mixed_scores(diff):
    diff("ZADD", "m", "1", "b", "2", "a", "3", "c", "4", "a0", "5", "bb")
    diff("ZREMRANGEBYLEX", "m", "[a", "[b")
    diff("ZRANGE", "m", "0", "-1", "WITHSCORES")


def test_lex_with_binary_members(diff):
    diff("ZADD", "l", "0", "a", "0", "a\x00", "0", "a\x00\x00", "0", "a\x01", "0", "\xff", "0", "", "0", "\xff\xff")
    for lo, hi in [("[a", "[a\x00"), ("(a", "+"), ("[", "(a\x01"), ("(", "+"), ("[\xff", "+"), ("-", "[")]:
        diff("ZRANGEBYLEX", "l", lo, hi)
        diff("ZLEXCOUNT", "l", lo, hi)
        diff("ZREVRANGEBYLEX", "l", hi, lo)


# == ZRANK ZREVRANK ==================================================================
def test_zrank_zrevrank(diff):
    _fill(diff)
    for m in ["g", "e", "h", "j", "a", "i", "b", "c", "d", "f", "nope"]:
        diff("ZRANK", "z", m)
        diff("ZREVRANK", "z", m)
    diff("ZRANK", "missing", "a")
    diff("ZREVRANK", "missing", "a")


def test_zrank_withscore_is_an_arity_error_in_7_0(diff):
    _fill(diff)
    diff("ZRANK", "z", "a", "WITHSCORE")
    diff("ZREVRANK", "z", "a", "WITHSCORE")


def test_zrank_wrong_type(diff):
    diff("SET", "s", "v")
    diff("ZRANK", "s", "a")
    diff("ZREVRANK", "s", "a")


# == ZRANGE family ===================================================================
@pytest.mark.parametrize("start,stop", [("0", "-1"), ("0", "0"), ("2", "4"), ("-3", "-1"), ("-100", "100"),
                                        ("5", "2"), ("10", "20"), ("-1", "-1"), ("-2", "-5"), ("3", "3"),
                                        ("0", "9223372036854775807"), ("-9223372036854775808", "0")])
def test_zrange_by_rank(diff, start, stop):
    _fill(diff)
    diff("ZRANGE", "z", start, stop)
    diff("ZRANGE", "z", start, stop, "WITHSCORES")
    diff("ZREVRANGE", "z", start, stop, "WITHSCORES")
    diff("ZRANGE", "z", start, stop, "REV")
    diff("ZRANGESTORE", "dst", "z", start, stop)
    diff("ZRANGE", "dst", "0", "-1", "WITHSCORES")


def test_zrange_by_score_with_limit(diff):
    _fill(diff)
    for off, cnt in [("0", "3"), ("2", "2"), ("0", "0"), ("0", "-1"), ("1", "-5"), ("-1", "2"), ("9", "5"),
                     ("10", "1"), ("100", "1")]:
        diff("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", off, cnt)
        diff("ZRANGEBYSCORE", "z", "(0", "3.5", "WITHSCORES", "LIMIT", off, cnt)
        diff("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", off, cnt, "WITHSCORES")
        diff("ZRANGE", "z", "0", "2", "BYSCORE", "LIMIT", off, cnt)
        diff("ZRANGE", "z", "2", "0", "BYSCORE", "REV", "LIMIT", off, cnt, "WITHSCORES")
        diff("ZRANGEBYLEX", "z", "-", "+", "LIMIT", off, cnt)


def test_zrange_options_in_any_order_and_case(diff):
    _fill(diff)
    diff("ZRANGE", "z", "3", "0", "withscores", "limit", "1", "2", "rev", "byscore")
    diff("ZRANGE", "z", "(0", "+inf", "ByScore", "WithScores")
    diff("ZRANGE", "z", "0", "-1", "REV", "WITHSCORES", "WITHSCORES")
    diff("ZRANGE", "z", "0", "-1", "LIMIT", "0", "1", "LIMIT", "0", "-1")


def test_zrange_errors(diff):
    _fill(diff)
    diff("ZRANGE", "z", "0", "-1", "LIMIT", "0", "1")
    diff("ZREVRANGE", "z", "0", "-1", "LIMIT", "0", "1")
    diff("ZRANGE", "z", "0", "-1", "LIMIT", "0", "-1")
    diff("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES")
    diff("ZRANGEBYLEX", "z", "-", "+", "WITHSCORES")
    diff("ZRANGE", "z", "0", "-1", "REV", "REV")
    diff("ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX")
    diff("ZRANGEBYSCORE", "z", "0", "1", "BYSCORE")
    diff("ZRANGEBYSCORE", "z", "0", "1", "REV")
    diff("ZREVRANGEBYSCORE", "z", "0", "1", "REV")
    diff("ZREVRANGE", "z", "0", "1", "REV")
    diff("ZRANGE", "z", "0", "-1", "LIMIT", "0")
    diff("ZRANGE", "z", "0", "-1", "BYSCORE", "LIMIT", "x", "1")
    diff("ZRANGE", "z", "0", "-1", "BYSCORE", "LIMIT", "0", "1.5")
    diff("ZRANGE", "z", "a", "-1")
    diff("ZRANGE", "z", "0", "1.5")
    diff("ZRANGE", "z", "0", "-1", "FOO")
    diff("ZRANGE", "z", "0")
    diff("ZRANGE", "z", "x", "y", "BYSCORE")
    diff("ZRANGE", "z", "x", "y", "BYLEX")
    diff("ZRANGE", "missing", "x", "y", "BYLEX")
    diff("ZRANGE", "missing", "0", "-1")
    diff("ZRANGE", "missing", "0", "-1", "WITHSCORES")


def test_zrange_wrong_type(diff):
    diff("SET", "s", "v")
    diff("ZRANGE", "s", "0", "-1")
    diff("ZRANGE", "s", "x", "-1")
    diff("ZRANGEBYSCORE", "s", "0", "1")
    diff("ZRANGEBYLEX", "s", "-", "+")
    diff("ZREVRANGE", "s", "0", "1")


def test_zrangestore(diff):
    _fill(diff)
    diff("ZRANGESTORE", "dst", "z", "1", "3", "BYSCORE", "LIMIT", "0", "2")
    diff("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    diff("ZRANGESTORE", "dst", "z", "+inf", "2", "BYSCORE", "REV")
    diff("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    diff("ZRANGESTORE", "dst", "z", "-", "+", "BYLEX")
    diff("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    diff("ZRANGESTORE", "z", "z", "0", "2")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_zrangestore_empty_result_deletes_destination(diff):
    _fill(diff)
    diff("SET", "dst", "v")
    diff("ZRANGESTORE", "dst", "z", "100", "200")
    diff("EXISTS", "dst")
    diff("SET", "dst", "v")
    diff("ZRANGESTORE", "dst", "missing", "0", "-1")
    diff("EXISTS", "dst")


def test_zrangestore_overwrites_other_types_and_drops_ttl(diff):
    _fill(diff)
    diff("SET", "dst", "v", "EX", "1000")
    diff("ZRANGESTORE", "dst", "z", "0", "1")
    diff("TYPE", "dst")
    diff("TTL", "dst")
    diff("ZRANGE", "dst", "0", "-1", "WITHSCORES")


def test_zrangestore_errors(diff):
    _fill(diff)
    diff("ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES")
    diff("ZRANGESTORE", "dst", "z", "0")
    diff("SET", "s", "v")
    diff("ZRANGESTORE", "dst", "s", "0", "-1")
    diff("ZRANGESTORE", "dst", "z", "0", "-1", "LIMIT", "0", "1")
    diff("EXISTS", "dst")


# == ZREM and ZREMRANGEBY* ============================================================
def test_zrem(diff):
    _fill(diff)
    diff("ZREM", "z", "a", "a", "nope", "b")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")
    diff("ZREM", "missing", "a")
    diff("ZREM", "z", *"cdefghij")
    diff("EXISTS", "z")
    diff("ZREM", "z")
    diff("SET", "s", "v")
    diff("ZREM", "s", "a")


@pytest.mark.parametrize("start,stop", [("0", "0"), ("0", "-1"), ("2", "4"), ("-3", "-1"), ("5", "2"),
                                        ("100", "200"), ("-100", "1"), ("x", "1")])
def test_zremrangebyrank(diff, start, stop):
    _fill(diff)
    diff("ZREMRANGEBYRANK", "z", start, stop)
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")
    diff("ZREMRANGEBYRANK", "missing", start, stop)


@pytest.mark.parametrize("lo,hi", [("-inf", "+inf"), ("(1", "3.5"), ("1", "(1.1"), ("5", "1"), ("x", "1")])
def test_zremrangebyscore(diff, lo, hi):
    _fill(diff)
    diff("ZREMRANGEBYSCORE", "z", lo, hi)
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")
    diff("EXISTS", "z")


@pytest.mark.parametrize("lo,hi", [("-", "+"), ("[b", "(e"), ("(a", "[a"), ("x", "+")])
def test_zremrangebylex(diff, lo, hi):
    _lex(diff)
    diff("ZREMRANGEBYLEX", "l", lo, hi)
    diff("ZRANGE", "l", "0", "-1")
    diff("EXISTS", "l")


def test_zremrange_wrong_type(diff):
    diff("SET", "s", "v")
    diff("ZREMRANGEBYRANK", "s", "0", "1")
    diff("ZREMRANGEBYSCORE", "s", "0", "1")
    diff("ZREMRANGEBYLEX", "s", "-", "+")
    diff("ZREMRANGEBYSCORE", "s", "x", "1")


# == pops ============================================================================
def test_zpopmin_zpopmax(diff):
    _fill(diff)
    diff("ZPOPMIN", "z")
    diff("ZPOPMAX", "z")
    diff("ZPOPMIN", "z", "2")
    diff("ZPOPMAX", "z", "3")
    diff("ZPOPMIN", "z", "0")
    diff("ZPOPMIN", "z", "1")
    diff("ZPOPMAX", "z", "100")
    diff("EXISTS", "z")
    diff("ZPOPMIN", "z")
    diff("ZPOPMIN", "z", "3")
    diff("ZPOPMAX", "missing", "0")


def test_zpop_errors(diff):
    _fill(diff)
    diff("ZPOPMIN", "z", "-1")
    diff("ZPOPMIN", "z", "x")
    diff("ZPOPMAX", "z", "1", "2")
    diff("ZPOPMIN")
    diff("SET", "s", "v")
    diff("ZPOPMIN", "s")
    diff("ZPOPMAX", "s", "0")
    diff("ZPOPMAX", "s", "-1")


def test_zmpop(diff):
    _fill(diff, "z1")
    diff("ZADD", "z2", "5", "x", "6", "y")
    diff("ZMPOP", "2", "missing", "z2", "MIN")
    diff("ZMPOP", "2", "z1", "z2", "max", "COUNT", "3")
    diff("ZMPOP", "1", "z2", "MIN", "count", "10")
    diff("EXISTS", "z2")
    diff("ZMPOP", "2", "missing", "z2", "MIN")
    diff("ZMPOP", "1", "z1", "MAX", "COUNT", "1")


def test_zmpop_errors(diff):
    _fill(diff)
    diff("SET", "s", "v")
    for args in [("0", "z", "MIN"), ("-1", "z", "MIN"), ("x", "z", "MIN"), ("1", "z", "MID"), ("2", "z", "MIN"),
                 ("1", "z", "MIN", "COUNT"), ("1", "z", "MIN", "COUNT", "0"), ("1", "z", "MIN", "COUNT", "-1"),
                 ("1", "z", "MIN", "COUNT", "1", "COUNT", "2"), ("1", "z", "MIN", "FOO"), ("2", "s", "z", "MIN"),
                 ("2", "missing", "s", "MAX"), ("1", "z"), ("5", "z", "MIN")]:
        diff("ZMPOP", *args)
    diff("ZCARD", "z")


# == ZRANDMEMBER =====================================================================
def test_zrandmember_deterministic_cases(diff):
    _fill(diff)
    diff("ZRANDMEMBER", "missing")
    diff("ZRANDMEMBER", "missing", "5")
    diff("ZRANDMEMBER", "missing", "-5", "WITHSCORES")
    diff("ZRANDMEMBER", "z", "0")
    diff("ZRANDMEMBER", "z", "0", "WITHSCORES")
    diff("ZRANDMEMBER", "z", "10")
    diff("ZRANDMEMBER", "z", "100", "WITHSCORES")


def test_zrandmember_errors(diff):
    _fill(diff)
    diff("ZRANDMEMBER", "z", "x")
    diff("ZRANDMEMBER", "z", "1", "FOO")
    diff("ZRANDMEMBER", "z", "1", "WITHSCORES", "x")
    diff("ZRANDMEMBER", "z", "-9223372036854775808")
    diff("ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES")
    diff("ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES")
    diff("SET", "s", "v")
    diff("ZRANDMEMBER", "s")
    diff("ZRANDMEMBER", "s", "1")


def test_zrandmember_random_cases_have_redis_shapes(diff):
    from resp_client import parse

    _fill(diff)
    members = set("abcdefghij")
    for args in [("z",), ("z", "1"), ("z", "3"), ("z", "-3"), ("z", "-30"), ("z", "5", "WITHSCORES"),
                 ("z", "-20", "WITHSCORES"), ("z", "9")]:
        mine, theirs = diff.both("ZRANDMEMBER", *args)
        a, b = parse(mine), parse(theirs)
        assert type(a) is type(b) and (not isinstance(a, list) or len(a) == len(b)), (args, mine, theirs)
        flat = a if isinstance(a, list) else [a]
        if len(args) == 3 and diff.proto == 3:
            assert all(isinstance(p, list) and len(p) == 2 for p in flat)
            flat = [p[0] for p in flat]
        elif len(args) == 3:
            flat = flat[::2]
        assert set(flat) <= {m.encode() for m in members}
        if len(args) >= 2 and not args[1].startswith("-"):
            assert len(set(flat)) == len(flat)


# == ZUNION ZINTER ZDIFF ============================================================
def _sets(diff):
    diff("ZADD", "z1", "1", "a", "2", "b", "3", "c", "inf", "i")
    diff("ZADD", "z2", "10", "b", "20", "c", "30", "d", "-inf", "i")
    diff("ZADD", "z3", "0.1", "c", "0.2", "e", "0", "a")
    diff("SADD", "s", "a", "c", "x")


@pytest.mark.parametrize("cmd", ["ZUNION", "ZINTER", "ZDIFF"])
@pytest.mark.parametrize("keys", [["z1"], ["z1", "z2"], ["z1", "z2", "z3"], ["z2", "missing"], ["missing", "z1"],
                                  ["z1", "s"], ["s", "z1", "z3"], ["z1", "z1"], ["missing"]])
def test_set_operations(diff, cmd, keys):
    _sets(diff)
    n = str(len(keys))
    diff(cmd, n, *keys)
    diff(cmd, n, *keys, "WITHSCORES")
    diff(cmd + "STORE", "dst", n, *keys)
    diff("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    diff("EXISTS", "dst")


@pytest.mark.parametrize("cmd", ["ZUNION", "ZINTER"])
@pytest.mark.parametrize("opts", [["WEIGHTS", "2", "3"], ["WEIGHTS", "-1", "0"], ["WEIGHTS", "inf", "-inf"],
                                  ["WEIGHTS", "0", "inf", "AGGREGATE", "MIN"], ["AGGREGATE", "MAX"],
                                  ["AGGREGATE", "min", "WEIGHTS", "1", "-1"], ["AGGREGATE", "sum"],
                                  ["WEIGHTS", "1", "1", "WEIGHTS", "5", "5"], ["WEIGHTS", "0.1", "0.2"]])
def test_weights_and_aggregate(diff, cmd, opts):
    _sets(diff)
    for keys in (["z1", "z2"], ["z1", "s"], ["z3", "z1"], ["z1", "z1"]):
        diff(cmd, "2", *keys, *opts, "WITHSCORES")
        diff(cmd + "STORE", "dst", "2", *keys, *opts)
        diff("ZRANGE", "dst", "0", "-1", "WITHSCORES")


def test_aggregation_order_follows_input_sizes(diff):
    diff("ZADD", "a", "0.1", "m")
    diff("ZADD", "b", "0.2", "m", "1", "x")
    diff("ZADD", "c", "0.3", "m", "1", "x", "2", "y")
    diff("ZUNION", "3", "c", "a", "b", "WITHSCORES")
    diff("ZUNION", "3", "c", "b", "a", "WITHSCORES")
    diff("ZINTER", "3", "c", "b", "a", "WITHSCORES")
    diff("ZUNION", "2", "a", "a", "WEIGHTS", "0.1", "0.2", "WITHSCORES")


def test_negative_zero_in_set_operations(diff):
    diff("ZADD", "z", "0", "a", "1", "b")
    diff("ZUNION", "1", "z", "WEIGHTS", "-1", "WITHSCORES")
    diff("ZUNIONSTORE", "d", "1", "z", "WEIGHTS", "-1")
    diff("ZRANGE", "d", "0", "-1", "WITHSCORES")


def test_set_operation_errors(diff):
    _sets(diff)
    diff("SET", "str", "v")
    for args in [("ZUNION", "0", "z1"), ("ZUNION", "-1", "z1"), ("ZUNION", "x", "z1"), ("ZUNION", "3", "z1", "z2"),
                 ("ZUNION", "1", "str"), ("ZUNION", "2", "z1", "str", "WEIGHTS", "x"),
                 ("ZUNION", "1", "str", "FOO"), ("ZUNION", "1", "z1", "WEIGHTS", "x"),
                 ("ZUNION", "1", "z1", "WEIGHTS", "nan"), ("ZUNION", "2", "z1", "z2", "WEIGHTS", "1"),
                 ("ZUNION", "1", "z1", "AGGREGATE", "AVG"), ("ZUNION", "1", "z1", "AGGREGATE"),
                 ("ZUNION", "1", "z1", "LIMIT", "1"), ("ZUNION", "1", "z1", "FOO"),
                 ("ZINTER", "0", "z1"), ("ZDIFF", "0", "z1"), ("ZDIFF", "1", "z1", "WEIGHTS", "1"),
                 ("ZDIFF", "1", "z1", "AGGREGATE", "SUM"), ("ZUNIONSTORE", "d", "0", "z1"),
                 ("ZUNIONSTORE", "d", "1", "z1", "WITHSCORES"), ("ZINTERSTORE", "d", "2", "z1", "str"),
                 ("ZDIFFSTORE", "d", "1", "z1", "WITHSCORES"), ("ZDIFFSTORE", "d", "x", "z1"),
                 ("ZUNION", "1", "z1", "WEIGHTS", " 1"), ("ZUNION", "1", "z1", "WEIGHTS", "1e999")]:
        diff(*args)
    diff("EXISTS", "d")


def test_store_replaces_destination_of_any_type(diff):
    _sets(diff)
    diff("SET", "dst", "v", "EX", "100")
    diff("ZUNIONSTORE", "dst", "2", "z1", "z2")
    diff("TTL", "dst")
    diff("ZINTERSTORE", "z1", "2", "z1", "z2")
    diff("ZRANGE", "z1", "0", "-1", "WITHSCORES")
    diff("ZDIFFSTORE", "s", "1", "z3")
    diff("TYPE", "s")
    diff("ZINTERSTORE", "dst", "2", "z3", "missing")
    diff("EXISTS", "dst")


def test_zintercard(diff):
    _sets(diff)
    diff("SET", "str", "v")
    for args in [("2", "z1", "z2"), ("3", "z1", "z2", "z3"), ("2", "z1", "s"), ("1", "z1"), ("2", "z1", "missing"),
                 ("2", "z1", "z2", "LIMIT", "1"), ("2", "z1", "z2", "LIMIT", "0"), ("1", "z1", "LIMIT", "2"),
                 ("1", "z1", "LIMIT", "-1"), ("1", "z1", "LIMIT", "x"), ("0", "z1"), ("x", "z1"),
                 ("2", "z1"), ("1", "z1", "WITHSCORES"), ("1", "z1", "WEIGHTS", "1"), ("1", "str"),
                 ("1", "z1", "LIMIT")]:
        diff("ZINTERCARD", *args)


# == ZSCAN ===========================================================================
def test_zscan_small_sets(diff):
    _fill(diff)
    diff("ZSCAN", "z", "0")
    diff("ZSCAN", "z", "0", "COUNT", "2")
    diff("ZSCAN", "z", "0", "MATCH", "[a-c]")
    diff("ZSCAN", "z", "0", "MATCH", "*", "COUNT", "100")
    diff("ZSCAN", "missing", "0")
    diff("ZSCAN", "missing", "0", "FOO")


def test_zscan_errors(diff):
    _fill(diff)
    diff("SET", "s", "v")
    for args in [("z", "x"), ("z", " 1"), ("z", "18446744073709551616"), ("z", "0", "COUNT", "0"),
                 ("z", "0", "COUNT", "x"), ("z", "0", "TYPE", "zset"), ("z", "0", "MATCH"), ("s", "0"),
                 ("s", "0", "FOO"), ("z", "-1"), ("z", "+1")]:
        diff("ZSCAN", *args)


def test_zscan_big_set_visits_every_member_once(r):
    members = {f"m{i:04d}".encode(): float(i % 7) for i in range(1000)}
    r.zadd("big", members)
    seen: list[bytes] = []
    cursor = 0
    for _ in range(1000):
        cursor, page = r.zscan("big", cursor, count=50)
        seen.extend(m for m, _ in page)
        if cursor == 0:
            break
    assert cursor == 0
    assert sorted(seen) == sorted(members)
    cursor, page = r.zscan("big", 0, match="m000*", count=2000)
    assert cursor == 0 and dict(page) == {m: s for m, s in members.items() if m.startswith(b"m000")}


# == expiry, types, arity ==============================================================
def test_expired_zset_is_gone(diff):
    _fill(diff)
    diff("PEXPIRE", "z", "1")
    import time

    time.sleep(0.01)
    diff("ZCARD", "z")
    diff("ZADD", "z", "1", "new")
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_type_of_zset_and_overwrite_by_set(diff):
    _fill(diff)
    diff("TYPE", "z")
    diff("SET", "z", "v")
    diff("ZADD", "z", "1", "a")
    diff("DEL", "z")
    diff("ZADD", "z", "1", "a")
    diff("ZRANGE", "z", "0", "-1")


@pytest.mark.parametrize("cmd", ["ZCARD", "ZSCORE", "ZMSCORE", "ZCOUNT", "ZLEXCOUNT", "ZRANK", "ZREVRANK",
                                 "ZRANGE", "ZRANGESTORE", "ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE",
                                 "ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZREM", "ZREMRANGEBYRANK", "ZREMRANGEBYSCORE",
                                 "ZREMRANGEBYLEX", "ZPOPMIN", "ZPOPMAX", "ZMPOP", "ZRANDMEMBER", "ZUNION",
                                 "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZINTERCARD",
                                 "ZSCAN", "ZADD", "ZINCRBY"])
def test_arity_errors(diff, cmd):
    diff(cmd)
    diff(cmd, "k")


# == redis-py and bigger sets ============================================================
def test_redis_py_round_trip(r, r2):
    assert r.zadd("z", {"a": 1.5, "b": 2}) == 2
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 1.5), (b"b", 2.0)]
    assert r2.zrange("z", 0, -1, withscores=True) == [(b"a", 1.5), (b"b", 2.0)]
    assert r.zincrby("z", 1, "a") == 2.5
    assert r.zpopmin("z") == [(b"b", 2.0)]
    assert r2.zmpop(1, ["z"], min=True) == [b"z", [[b"a", b"2.5"]]]


def test_ranks_and_ranges_in_a_set_of_thousands(r):
    n = 3000
    r.zadd("big", {f"m{i:05d}": i // 3 for i in range(n)})
    assert r.zcard("big") == n
    for i in (0, 1, 2, 1499, 1500, 2998, n - 1):
        assert r.zrank("big", f"m{i:05d}") == i
        assert r.zrevrank("big", f"m{i:05d}") == n - 1 - i
    assert r.zrange("big", 2990, -1) == [f"m{i:05d}".encode() for i in range(2990, n)]
    assert r.zrange("big", -3000, -2998) == [b"m00000", b"m00001", b"m00002"]
    assert r.zrevrange("big", 0, 1) == [b"m02999", b"m02998"]
    assert r.zcount("big", 10, 20) == 33
    assert r.zcount("big", "-inf", "+inf") == n
    assert r.zcount("big", "(0", "(999") == n - 6
    assert r.zrangebyscore("big", 500, "+inf", start=1, num=2) == [b"m01501", b"m01502"]
    assert r.zremrangebyrank("big", 0, 1499) == 1500
    assert r.zrank("big", "m01500") == 0
    assert r.zcard("big") == 1500


def test_zlexcount_in_a_big_single_score_set(r):
    r.zadd("lex", {f"k{i:05d}": 0 for i in range(2000)})
    assert r.zlexcount("lex", "-", "+") == 2000
    assert r.zlexcount("lex", "[k00100", "(k00200") == 100
    assert r.zlexcount("lex", "(k01990", "+") == 9
    assert r.zrangebylex("lex", "(k01997", "+") == [b"k01998", b"k01999"]


def test_pop_helper_for_blocking_commands(tmp_path):
    """pikamp.storage.zsets.pop is the entry point of BZPOPMIN, BZPOPMAX and BZMPOP."""
    from pikamp.errors import RespError
    from pikamp.storage import strings, zsets
    from pikamp.storage.database import Clock, Database
    from pikamp.storage.engine import Engine

    engine = Engine(str(tmp_path / "db"))
    try:
        db = Database(0, engine, Clock())
        zsets.add(db, b"z", [(1.0, b"a"), (2.0, b"b"), (3.0, b"c")])
        assert zsets.pop(db, b"missing", 1, False) == []
        assert zsets.pop(db, b"z", 2, True) == [(b"c", 3.0), (b"b", 2.0)]
        assert zsets.pop(db, b"z", 5, False) == [(b"a", 1.0)]
        assert db.lookup(b"z") is None and db.size == 0
        strings.put(db, b"s", b"v", 0, None)
        with pytest.raises(RespError, match="WRONGTYPE"):
            zsets.pop(db, b"s", 1, False)
    finally:
        engine.close()


def test_big_set_ranges_match_redis_skiplist(diff):
    """Past 128 members Redis switches to a skiplist; every deterministic reply stays the same."""
    args = []
    for i in range(300):
        args += [str((i * 37) % 101 / 4), f"m{i:03d}"]
    diff("ZADD", "big", *args)
    diff("ZRANGE", "big", "0", "-1", "WITHSCORES")
    diff("ZRANGE", "big", "140", "160", "REV", "WITHSCORES")
    diff("ZRANGEBYSCORE", "big", "(10", "12.5", "WITHSCORES", "LIMIT", "3", "7")
    diff("ZREVRANGEBYSCORE", "big", "20", "-inf", "LIMIT", "10", "5")
    for m in ["m000", "m150", "m299", "m042"]:
        diff("ZRANK", "big", m)
        diff("ZREVRANK", "big", m)
    diff("ZCOUNT", "big", "5", "(20")
    diff("ZREMRANGEBYRANK", "big", "100", "120")
    diff("ZREMRANGEBYSCORE", "big", "(3", "4")
    diff("ZPOPMAX", "big", "3")
    diff("ZRANDMEMBER", "big", "1000", "WITHSCORES")
    diff("ZUNIONSTORE", "dst", "2", "big", "big", "WEIGHTS", "1", "0.5")
    diff("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    diff("ZCARD", "big")
    diff("ZADD", "lex", *[x for i in range(200) for x in ("0", f"k{i:03d}")])
    diff("ZRANGEBYLEX", "lex", "[k050", "(k060")
    diff("ZREVRANGEBYLEX", "lex", "+", "(k190", "LIMIT", "1", "3")
    diff("ZLEXCOUNT", "lex", "(k010", "[k150")
    diff("ZREMRANGEBYLEX", "lex", "-", "(k100")
    diff("ZRANGE", "lex", "0", "4")
