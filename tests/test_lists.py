"""List commands, compared byte for byte with redis-server in RESP2 and RESP3."""
from __future__ import annotations


def _fill(diff, key="l", *values):
    diff("RPUSH", key, *(values or ("a", "b", "c", "d", "e")))


# -- push ----------------------------------------------------------------------
def test_lpush_prepends_each_value_in_turn(diff):
    diff("LPUSH", "l", "a", "b", "c")
    diff("LPUSH", "l", "d")
    diff("LRANGE", "l", "0", "-1")


def test_rpush_appends_and_returns_length(diff):
    diff("RPUSH", "l", "a")
    diff("RPUSH", "l", "b", "c")
    diff("LRANGE", "l", "0", "-1")


def test_pushx_only_on_existing_lists(diff):
    diff("LPUSHX", "l", "a")
    diff("RPUSHX", "l", "a", "b")
    diff("EXISTS", "l")
    diff("RPUSH", "l", "x")
    diff("LPUSHX", "l", "a", "b")
    diff("RPUSHX", "l", "c", "d")
    diff("LRANGE", "l", "0", "-1")


def test_push_wrong_type_and_arity(diff):
    diff("SET", "s", "v")
    for cmd in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
        diff(cmd, "s", "a")
        diff(cmd, "l")
    diff("GET", "s")


def test_push_binary_and_empty_elements(diff):
    diff("RPUSH", "l", "", "\x00\xff", "x" * 1000)
    diff("LRANGE", "l", "0", "-1")
    diff("LINDEX", "l", "0")


# -- pop -----------------------------------------------------------------------
def test_lpop_rpop_single(diff):
    _fill(diff)
    diff("LPOP", "l")
    diff("RPOP", "l")
    diff("LRANGE", "l", "0", "-1")


def test_pop_missing_key(diff):
    diff("LPOP", "nokey")
    diff("RPOP", "nokey")
    diff("LPOP", "nokey", "1")
    diff("RPOP", "nokey", "0")


def test_pop_with_count(diff):
    _fill(diff)
    diff("LPOP", "l", "2")
    diff("RPOP", "l", "2")
    diff("LPOP", "l", "0")
    diff("RPOP", "l", "10")
    diff("EXISTS", "l")


def test_pop_count_errors(diff):
    _fill(diff)
    for count in ("-1", "abc", "1.5", "99999999999999999999"):
        diff("LPOP", "l", count)
        diff("RPOP", "nokey", count)
    diff("LPOP", "l", "1", "2")
    diff("RPOP", "l", "1", "2")
    diff("LPOP")


def test_pop_wrong_type(diff):
    diff("SET", "s", "v")
    diff("LPOP", "s")
    diff("RPOP", "s", "0")
    diff("LPOP", "s", "1")


def test_popping_the_last_element_deletes_the_key(diff):
    diff("RPUSH", "l", "a")
    diff("LPOP", "l")
    diff("EXISTS", "l")
    diff("TYPE", "l")
    diff("RPUSH", "l", "b")
    diff("LRANGE", "l", "0", "-1")


def test_big_pop_count_on_longer_list(diff):
    diff("RPUSH", "l", *[str(i) for i in range(100)])
    diff("LPOP", "l", "40")
    diff("RPOP", "l", "40")
    diff("LRANGE", "l", "0", "-1")
    diff("LPUSH", "l", "x", "y")
    diff("RPUSH", "l", "z")
    diff("LRANGE", "l", "0", "-1")


# -- llen / lindex / lset --------------------------------------------------------
def test_llen(diff):
    diff("LLEN", "l")
    _fill(diff)
    diff("LLEN", "l")
    diff("SET", "s", "v")
    diff("LLEN", "s")


def test_lindex_positive_negative_and_out_of_range(diff):
    _fill(diff)
    for i in ("0", "4", "5", "-1", "-5", "-6", "100", "-100"):
        diff("LINDEX", "l", i)


def test_lindex_errors(diff):
    diff("LINDEX", "nokey", "0")
    diff("LINDEX", "nokey", "x")
    _fill(diff)
    diff("LINDEX", "l", "x")
    diff("LINDEX", "l", "9223372036854775808")
    diff("SET", "s", "v")
    diff("LINDEX", "s", "0")
    diff("LINDEX", "s", "x")


def test_lset_sets_by_index(diff):
    _fill(diff)
    diff("LSET", "l", "0", "A")
    diff("LSET", "l", "-1", "E")
    diff("LSET", "l", "2", "C")
    diff("LRANGE", "l", "0", "-1")


def test_lset_errors(diff):
    diff("LSET", "nokey", "0", "x")
    diff("LSET", "nokey", "x", "x")
    _fill(diff)
    diff("LSET", "l", "5", "x")
    diff("LSET", "l", "-6", "x")
    diff("LSET", "l", "x", "x")
    diff("SET", "s", "v")
    diff("LSET", "s", "0", "x")
    diff("LSET", "s", "x", "x")


# -- lrange / ltrim --------------------------------------------------------------
def test_lrange_index_normalisation(diff):
    _fill(diff)
    for start, stop in [("0", "-1"), ("1", "3"), ("-3", "-1"), ("-100", "100"), ("3", "1"),
                        ("5", "10"), ("-1", "-2"), ("0", "0"), ("4", "4"), ("-9223372036854775808", "9223372036854775807")]:
        diff("LRANGE", "l", start, stop)


def test_lrange_errors_and_missing(diff):
    diff("LRANGE", "nokey", "0", "-1")
    diff("LRANGE", "nokey", "x", "1")
    diff("SET", "s", "v")
    diff("LRANGE", "s", "0", "1")
    diff("LRANGE", "s", "a", "1")


def test_lrange_long_list(diff):
    diff("RPUSH", "l", *[str(i) for i in range(300)])
    diff("LRANGE", "l", "0", "-1")
    diff("LRANGE", "l", "100", "250")
    diff("LRANGE", "l", "-20", "-3")


def test_ltrim_keeps_the_range(diff):
    _fill(diff)
    diff("LTRIM", "l", "1", "-2")
    diff("LRANGE", "l", "0", "-1")
    diff("LTRIM", "l", "0", "100")
    diff("LRANGE", "l", "0", "-1")
    diff("LTRIM", "l", "-2", "-1")
    diff("LRANGE", "l", "0", "-1")


def test_ltrim_to_empty_deletes_the_key(diff):
    _fill(diff)
    diff("LTRIM", "l", "3", "1")
    diff("EXISTS", "l")
    _fill(diff)
    diff("LTRIM", "l", "10", "20")
    diff("EXISTS", "l")


def test_ltrim_errors_and_missing(diff):
    diff("LTRIM", "nokey", "0", "1")
    diff("LTRIM", "nokey", "x", "1")
    diff("SET", "s", "v")
    diff("LTRIM", "s", "0", "1")


def test_ltrim_long_list_then_push(diff):
    diff("RPUSH", "l", *[str(i) for i in range(200)])
    diff("LTRIM", "l", "50", "149")
    diff("LPUSH", "l", "h")
    diff("RPUSH", "l", "t")
    diff("LRANGE", "l", "0", "-1")
    diff("LLEN", "l")


def test_capped_list_pattern(diff):
    for i in range(30):
        diff("LPUSH", "l", str(i))
        diff("LTRIM", "l", "0", "9")
    diff("LRANGE", "l", "0", "-1")


# -- linsert -----------------------------------------------------------------------
def test_linsert_before_and_after(diff):
    _fill(diff)
    diff("LINSERT", "l", "BEFORE", "a", "x")
    diff("LINSERT", "l", "after", "e", "y")
    diff("LINSERT", "l", "Before", "c", "z")
    diff("LINSERT", "l", "AFTER", "d", "w")
    diff("LRANGE", "l", "0", "-1")


def test_linsert_first_occurrence_of_pivot(diff):
    _fill(diff, "l", "a", "p", "b", "p", "c")
    diff("LINSERT", "l", "AFTER", "p", "x")
    diff("LRANGE", "l", "0", "-1")


def test_linsert_missing_pivot_and_key(diff):
    _fill(diff)
    diff("LINSERT", "l", "BEFORE", "zz", "x")
    diff("LINSERT", "nokey", "BEFORE", "a", "x")
    diff("EXISTS", "nokey")


def test_linsert_errors(diff):
    diff("LINSERT", "nokey", "MIDDLE", "a", "x")
    diff("SET", "s", "v")
    diff("LINSERT", "s", "BEFORE", "a", "x")
    diff("LINSERT", "s", "MIDDLE", "a", "x")
    diff("LINSERT", "s", "BEFORE", "a")


def test_linsert_into_long_list_both_halves(diff):
    diff("RPUSH", "l", *[str(i) for i in range(100)])
    diff("LINSERT", "l", "BEFORE", "10", "x")
    diff("LINSERT", "l", "AFTER", "90", "y")
    diff("LINSERT", "l", "AFTER", "99", "z")
    diff("LINSERT", "l", "BEFORE", "0", "w")
    diff("LRANGE", "l", "0", "-1")
    diff("LINDEX", "l", "0")
    diff("LINDEX", "l", "-1")


# -- lrem ----------------------------------------------------------------------------
def test_lrem_all_occurrences(diff):
    _fill(diff, "l", "a", "b", "a", "c", "a")
    diff("LREM", "l", "0", "a")
    diff("LRANGE", "l", "0", "-1")


def test_lrem_from_head_and_tail(diff):
    values = ("a", "b", "a", "c", "a", "d", "a")
    _fill(diff, "l", *values)
    diff("LREM", "l", "2", "a")
    diff("LRANGE", "l", "0", "-1")
    _fill(diff, "m", *values)
    diff("LREM", "m", "-2", "a")
    diff("LRANGE", "m", "0", "-1")


def test_lrem_count_larger_than_matches(diff):
    _fill(diff, "l", "a", "b", "a")
    diff("LREM", "l", "10", "a")
    diff("LREM", "l", "-10", "b")
    diff("EXISTS", "l")


def test_lrem_no_match_and_missing(diff):
    _fill(diff)
    diff("LREM", "l", "0", "zz")
    diff("LREM", "nokey", "0", "a")
    diff("LRANGE", "l", "0", "-1")


def test_lrem_errors(diff):
    diff("LREM", "nokey", "x", "a")
    diff("SET", "s", "v")
    diff("LREM", "s", "0", "a")
    diff("LREM", "s", "x", "a")


def test_lrem_long_list_then_ends_still_work(diff):
    diff("RPUSH", "l", *[str(i % 7) for i in range(150)])
    diff("LREM", "l", "5", "3")
    diff("LREM", "l", "-5", "4")
    diff("LREM", "l", "0", "1")
    diff("LPUSH", "l", "h")
    diff("RPUSH", "l", "t")
    diff("LRANGE", "l", "0", "-1")
    diff("LPOP", "l", "3")
    diff("RPOP", "l", "3")


# -- lpos ------------------------------------------------------------------------
def test_lpos_first_match(diff):
    _fill(diff, "l", "a", "b", "c", "b", "a")
    diff("LPOS", "l", "b")
    diff("LPOS", "l", "zz")
    diff("LPOS", "nokey", "a")


def test_lpos_rank(diff):
    _fill(diff, "l", "a", "b", "c", "b", "a", "b")
    for rank in ("1", "2", "3", "4", "-1", "-2", "-3", "-4"):
        diff("LPOS", "l", "b", "RANK", rank)


def test_lpos_count_and_maxlen(diff):
    _fill(diff, "l", "a", "b", "c", "b", "a", "b")
    diff("LPOS", "l", "b", "COUNT", "0")
    diff("LPOS", "l", "b", "COUNT", "2")
    diff("LPOS", "l", "b", "COUNT", "2", "RANK", "-1")
    diff("LPOS", "l", "b", "COUNT", "0", "MAXLEN", "4")
    diff("LPOS", "l", "b", "RANK", "-1", "MAXLEN", "2")
    diff("LPOS", "l", "b", "RANK", "-1", "MAXLEN", "1")
    diff("LPOS", "l", "zz", "COUNT", "1")
    diff("LPOS", "nokey", "a", "COUNT", "1")


def test_lpos_errors(diff):
    _fill(diff)
    diff("LPOS", "l", "a", "RANK", "0")
    diff("LPOS", "nokey", "a", "RANK", "0")
    diff("LPOS", "l", "a", "RANK", "x")
    diff("LPOS", "l", "a", "COUNT", "-1")
    diff("LPOS", "l", "a", "COUNT", "x")
    diff("LPOS", "l", "a", "MAXLEN", "-1")
    diff("LPOS", "l", "a", "MAXLEN", "x")
    diff("LPOS", "l", "a", "RANK")
    diff("LPOS", "l", "a", "FOO", "1")
    diff("SET", "s", "v")
    diff("LPOS", "s", "a")
    diff("LPOS", "s", "a", "COUNT", "1")


def test_lpos_rank_long_min_returns_every_match_from_the_tail(diff):
    _fill(diff, "l", "a", "b", "a", "b", "a")
    diff("LPOS", "l", "a", "RANK", "-9223372036854775808")
    diff("LPOS", "l", "a", "RANK", "-9223372036854775808", "COUNT", "1")
    diff("LPOS", "l", "a", "RANK", "-9223372036854775807")
    diff("LPOS", "l", "a", "RANK", "9223372036854775807")


# -- rpoplpush / lmove -------------------------------------------------------------
def test_rpoplpush_moves_tail_to_head(diff):
    _fill(diff, "src", "a", "b", "c")
    diff("RPOPLPUSH", "src", "dst")
    diff("RPOPLPUSH", "src", "dst")
    diff("LRANGE", "src", "0", "-1")
    diff("LRANGE", "dst", "0", "-1")


def test_rpoplpush_same_key_rotates(diff):
    _fill(diff, "l", "a", "b", "c")
    diff("RPOPLPUSH", "l", "l")
    diff("LRANGE", "l", "0", "-1")
    diff("RPUSH", "one", "x")
    diff("RPOPLPUSH", "one", "one")
    diff("LRANGE", "one", "0", "-1")


def test_rpoplpush_missing_and_wrong_types(diff):
    diff("RPOPLPUSH", "nokey", "dst")
    diff("EXISTS", "dst")
    diff("SET", "s", "v")
    diff("RPOPLPUSH", "nokey", "s")
    diff("RPOPLPUSH", "s", "dst")
    _fill(diff)
    diff("RPOPLPUSH", "l", "s")
    diff("LRANGE", "l", "0", "-1")


def test_lmove_all_directions(diff):
    _fill(diff, "src", "a", "b", "c", "d")
    for a, b in (("LEFT", "LEFT"), ("LEFT", "RIGHT"), ("RIGHT", "LEFT"), ("right", "right")):
        diff("LMOVE", "src", "dst", a, b)
    diff("LRANGE", "dst", "0", "-1")
    diff("EXISTS", "src")


def test_lmove_errors(diff):
    _fill(diff)
    diff("LMOVE", "l", "d", "UP", "LEFT")
    diff("LMOVE", "l", "d", "LEFT", "DOWN")
    diff("LMOVE", "nokey", "d", "UP", "LEFT")
    diff("SET", "s", "v")
    diff("LMOVE", "l", "s", "LEFT", "LEFT")
    diff("LMOVE", "s", "l", "LEFT", "LEFT")
    diff("LMOVE", "nokey", "s", "LEFT", "LEFT")
    diff("LMOVE", "l", "d", "LEFT")


def test_lmove_last_element_to_itself(diff):
    diff("RPUSH", "l", "x")
    diff("LMOVE", "l", "l", "LEFT", "RIGHT")
    diff("LRANGE", "l", "0", "-1")


# -- lmpop ---------------------------------------------------------------------------
def test_lmpop_first_non_empty_key(diff):
    _fill(diff, "b", "1", "2", "3")
    diff("LMPOP", "3", "a", "b", "c", "LEFT")
    diff("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "5")
    diff("LMPOP", "2", "a", "b", "RIGHT")
    diff("EXISTS", "b")


def test_lmpop_errors(diff):
    _fill(diff)
    diff("SET", "s", "v")
    for args in (("0", "l", "LEFT"), ("-1", "l", "LEFT"), ("x", "l", "LEFT"), ("2", "l", "LEFT"),
                 ("1", "l", "MIDDLE"), ("1", "l", "LEFT", "COUNT", "0"), ("1", "l", "LEFT", "COUNT", "x"),
                 ("1", "l", "LEFT", "COUNT", "1", "COUNT", "1"), ("1", "l", "LEFT", "FOO"),
                 ("1", "l", "LEFT", "COUNT"), ("9223372036854775807", "l", "LEFT"),
                 ("2", "nokey", "s", "LEFT"), ("2", "s", "l", "LEFT"), ("2", "l", "s", "LEFT"),
                 ("1", "l")):
        diff("LMPOP", *args)


def test_lmpop_missing_keys_answer_null_array(diff):
    diff("LMPOP", "2", "a", "b", "LEFT")
    diff("LMPOP", "1", "a", "RIGHT", "COUNT", "3")


# -- blocking commands that do not need to block -------------------------------
def test_blpop_brpop_serve_at_once(diff):
    _fill(diff, "b", "1", "2", "3")
    diff("BLPOP", "a", "b", "0")
    diff("BRPOP", "a", "b", "0.5")
    diff("LRANGE", "b", "0", "-1")


def test_blocking_pops_check_types_in_key_order(diff):
    diff("SET", "s", "v")
    _fill(diff)
    diff("BLPOP", "s", "l", "0")
    diff("BLPOP", "l", "s", "0")
    diff("BRPOP", "nokey", "s", "0")
    diff("BLMPOP", "0", "2", "l", "s", "LEFT", "COUNT", "2")
    diff("BLMPOP", "0", "2", "s", "l", "LEFT")


def test_blmpop_serves_at_once(diff):
    _fill(diff)
    diff("BLMPOP", "0", "2", "nokey", "l", "RIGHT", "COUNT", "2")
    diff("BLMPOP", "0.1", "1", "l", "LEFT")


def test_blmove_and_brpoplpush_serve_at_once(diff):
    _fill(diff, "src", "a", "b", "c")
    diff("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    diff("BRPOPLPUSH", "src", "dst", "0")
    diff("LRANGE", "dst", "0", "-1")
    diff("LRANGE", "src", "0", "-1")


def test_blocking_move_wrong_types(diff):
    diff("SET", "s", "v")
    _fill(diff)
    diff("BLMOVE", "s", "d", "LEFT", "LEFT", "0")
    diff("BLMOVE", "l", "s", "LEFT", "LEFT", "0")
    diff("BRPOPLPUSH", "s", "d", "0")
    diff("BRPOPLPUSH", "l", "s", "0")
    diff("LRANGE", "l", "0", "-1")


def test_blocking_argument_errors(diff):
    _fill(diff)
    for t in ("x", "-1", "inf", "-inf", "nan", "1e400", "1e18", "9223372036854775807", " 1", "1 ", "",
              "0x", "1e", "1e4933", "1e-5000"):
        diff("BLPOP", "l", t)
        diff("BRPOP", "l", t)
        diff("BRPOPLPUSH", "l", "d", t)
        diff("BLMOVE", "l", "d", "LEFT", "LEFT", t)
        diff("BLMPOP", t, "1", "l", "LEFT")
    diff("BLMOVE", "l", "d", "UP", "LEFT", "x")
    diff("BLMPOP", "0", "0", "l", "LEFT")
    diff("BLMPOP", "0", "x", "l", "LEFT")
    diff("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "0")
    diff("BLMPOP", "0", "2", "l", "LEFT")
    diff("BLPOP", "l")
    diff("BLMPOP", "0", "1", "l")


def test_blocking_timeout_syntax_variants_accepted(diff):
    _fill(diff, "l", *[str(i) for i in range(12)])
    for t in ("0", "0.5", ".5", "5.", "+1", "1.5e1", "0x10", "0x1p3", "-0", "-0.0001", "1e-400", "00012"):
        diff("BLPOP", "l", t)
    diff("LRANGE", "l", "0", "-1")


# -- type interplay --------------------------------------------------------------------
def test_set_over_a_list_and_back(diff):
    _fill(diff)
    diff("SET", "l", "v")
    diff("TYPE", "l")
    diff("LLEN", "l")
    diff("DEL", "l")
    diff("RPUSH", "l", "z")
    diff("LRANGE", "l", "0", "-1")


def test_deleted_list_recreated_shows_no_old_elements(diff):
    diff("RPUSH", "l", *[str(i) for i in range(50)])
    diff("DEL", "l")
    diff("RPUSH", "l", "new")
    diff("LRANGE", "l", "0", "-1")
    diff("LLEN", "l")
    diff("TYPE", "l")
    diff("DBSIZE")


def test_list_commands_pipelined_in_one_turn(raw, redis_server):
    from resp_client import RawConn, encode_command

    cmds = [("RPUSH", "p", "a", "b", "c"), ("LPOP", "p", "3"), ("RPUSH", "p", "x"), ("LRANGE", "p", "0", "-1"),
            ("DEL", "p"), ("LPUSH", "p", "y"), ("LINSERT", "p", "BEFORE", "y", "w"), ("LRANGE", "p", "0", "-1"),
            ("LTRIM", "p", "5", "6"), ("RPUSH", "p", "q"), ("LRANGE", "p", "0", "-1")]
    payload = b"".join(encode_command(c) for c in cmds)
    ref = RawConn(redis_server.port)
    ref.call("FLUSHALL")
    raw.call("FLUSHALL")
    raw.send_raw(payload)
    ref.send_raw(payload)
    try:
        for c in cmds:
            assert raw.read_reply() == ref.read_reply(), c
    finally:
        ref.close()


def test_list_in_another_db_is_forwarded(pikamp_server):
    import redis

    for db in (0, 1):
        c = redis.Redis(host="127.0.0.1", port=pikamp_server.port, db=db, protocol=2)
        c.delete("l")
        c.rpush("l", f"db{db}", "x")
    for db in (0, 1):
        c = redis.Redis(host="127.0.0.1", port=pikamp_server.port, db=db, protocol=2)
        assert c.lrange("l", 0, -1) == [f"db{db}".encode(), b"x"]
        c.delete("l")


def test_list_keeps_its_ttl_across_writes(diff):
    _fill(diff)
    diff("EXPIRE", "l", "1000")
    diff("RPUSH", "l", "x")
    diff("LPOP", "l")
    diff("LSET", "l", "0", "y")
    diff("LINSERT", "l", "BEFORE", "y", "z")
    diff("LREM", "l", "0", "z")
    diff("LTRIM", "l", "0", "2")
    diff("TTL", "l")
    diff("RPOP", "l", "10")
    diff("RPUSH", "l", "fresh")
    diff("TTL", "l")


def test_expired_list_is_gone_and_recreated_empty(diff):
    import time

    _fill(diff)
    diff("PEXPIRE", "l", "20")
    time.sleep(0.1)
    diff("LLEN", "l")
    diff("LRANGE", "l", "0", "-1")
    diff("RPUSH", "l", "new")
    diff("LRANGE", "l", "0", "-1")
    diff("TTL", "l")
