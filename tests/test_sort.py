"""SORT and SORT_RO against redis-server 7.0, reply for reply, in both
protocols: numeric and ALPHA order, DESC, LIMIT's edge cases, BY keys and
hash fields, BY a constant (no sorting: the list's or sorted set's own order,
a set's sorted when stored), GET patterns with #, STORE over any type and of
nothing, errors. Unordered replies only where Redis' order is a hash table's
(a set not sorted)."""
from __future__ import annotations

import pytest

SETUP = [
    ("RPUSH", "l", "3", "1", "2", "10", "-5", "2.5", "1e1"),
    ("RPUSH", "w", "banana", "apple", "Cherry", "date", "apple"),
    ("SADD", "s", "5", "3", "9", "1"),
    ("ZADD", "z", "1", "c", "2", "a", "3", "d", "4", "b"),
    ("MSET", "w_3", "30", "w_1", "10", "w_2", "20", "w_10", "5", "w_-5", "7"),
    ("HSET", "h_3", "f", "c", "n", "3"), ("HSET", "h_1", "f", "a", "n", "9"), ("HSET", "h_2", "f", "b"),
    ("MSET", "o_c", "x3", "o_a", "x1", "o_d", "x4", "o_b", "x2"),
    ("SET", "str", "v"), ("HSET", "hash", "f", "v"),
]

SEQUENCE = [
    ("SORT", "l"), ("SORT", "l", "DESC"), ("SORT", "l", "ALPHA"), ("SORT", "l", "ALPHA", "DESC"),
    ("SORT", "w"), ("SORT", "w", "ALPHA"), ("SORT", "w", "alpha", "desc", "LIMIT", "1", "2"),
    ("SORT", "s"), ("SORT", "s", "DESC"), ("SORT", "z"), ("SORT", "z", "ALPHA"), ("SORT", "z", "ALPHA", "DESC"),
    ("SORT", "l", "LIMIT", "0", "3"), ("SORT", "l", "LIMIT", "2", "-1"), ("SORT", "l", "LIMIT", "-3", "2"),
    ("SORT", "l", "LIMIT", "10", "5"), ("SORT", "l", "LIMIT", "6", "5"), ("SORT", "l", "LIMIT", "0", "0"),
    ("SORT", "l", "BY", "w_*"), ("SORT", "l", "BY", "w_*", "DESC", "LIMIT", "1", "3"),
    ("SORT", "l", "BY", "nosort"), ("SORT", "l", "BY", "nosort", "DESC"),
    ("SORT", "l", "BY", "nosort", "LIMIT", "2", "3"), ("SORT", "l", "BY", "nosort", "DESC", "LIMIT", "2", "3"),
    ("SORT", "z", "BY", "nosort"), ("SORT", "z", "BY", "nosort", "DESC"),
    ("SORT", "z", "BY", "nosort", "LIMIT", "1", "2"), ("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"),
    ("SORT", "z", "BY", "o_*", "ALPHA"), ("SORT", "z", "BY", "o_*", "ALPHA", "DESC", "GET", "o_*", "GET", "#"),
    ("SORT", "s", "BY", "h_*->n"), ("SORT", "l", "BY", "h_*->n", "LIMIT", "0", "4"),
    ("SORT", "s", "GET", "h_*->f"), ("SORT", "s", "GET", "#", "GET", "h_*->f", "GET", "w_*", "GET", "nostar"),
    ("SORT", "s", "GET", "str"), ("SORT", "s", "GET", "h_*->"), ("SORT", "s", "GET", "hash*->f"),
    ("SORT", "l", "BY", "h_*", "GET", "h_*"),  # a hash read as a string: nothing
    ("SORT", "s", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"), ("TYPE", "dst"),
    ("SORT", "s", "BY", "nosort", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"),
    ("SORT", "s", "GET", "h_*->f", "STORE", "str"), ("LRANGE", "str", "0", "-1"), ("TYPE", "str"),
    ("SET", "str", "v"),
    ("SORT", "z", "ALPHA", "DESC", "STORE", "hash"), ("LRANGE", "hash", "0", "-1"),
    ("SORT", "nokey", "STORE", "hash"), ("EXISTS", "hash"),
    ("SORT", "l", "STORE", "l"), ("LRANGE", "l", "0", "-1"),
    ("SORT_RO", "z", "ALPHA"), ("SORT_RO", "l", "BY", "nosort", "GET", "#"),
    ("SORT", "nokey"), ("SORT", "nokey", "BY", "nosort", "LIMIT", "1", "1"),
    ("SORT", "w"), ("SORT", "str"), ("SORT", "hash"), ("SORT_RO", "str"),
    ("SORT", "l", "LIMIT", "1"), ("SORT", "l", "LIMIT", "a", "1"), ("SORT", "l", "BADOPT"),
    ("SORT", "l", "STORE"), ("SORT_RO", "l", "STORE", "d"), ("SORT", "l", "GET"), ("SORT", "l", "BY"),
    ("SORT",), ("SORT_RO",),
    ("RPUSH", "nan", "1", "nan"), ("SORT", "nan"), ("RPUSH", "ws", " 1", "2 "), ("SORT", "ws"),
    ("RPUSH", "e", "", "-1", "inf", "-inf", "0x10"), ("SORT", "e"),
    ("COMMAND", "GETKEYS", "SORT", "k", "STORE", "d", "BY", "x", "GET", "y", "STORE", "e"),
    ("COMMAND", "GETKEYS", "SORT", "k", "LIMIT", "0", "1"), ("COMMAND", "GETKEYS", "SORT", "k", "STORE", "STORE", "d"),
    ("COMMAND", "GETKEYS", "SORT", "k", "STORE", "GET", "d"), ("COMMAND", "GETKEYS", "SORT_RO", "k", "ALPHA"),
]

UNORDERED = [("SORT", "s", "BY", "nosort"), ("SORT", "s", "BY", "nosort", "GET", "#", "GET", "h_*->f")]


def test_sort_like_redis(diff):
    diff.run(SETUP)
    for args in SEQUENCE:
        diff(*args)
    for args in UNORDERED:  # a set's own order is its hash table's in Redis
        diff(*args, unordered=True)


@pytest.mark.parametrize("workers_db", [0, 1])
def test_sort_in_a_db_of_either_worker_and_in_multi(diff, workers_db):
    diff("SELECT", str(workers_db))
    diff("RPUSH", "l", "2", "1", "3")
    diff("SET", "k_1", "c")
    diff("SET", "k_2", "a")
    diff("SET", "k_3", "b")
    diff("MULTI")
    diff("SORT", "l", "BY", "k_*", "ALPHA", "STORE", "out")
    diff("LRANGE", "out", "0", "-1")
    diff("EXEC")
    diff("SORT_RO", "l", "GET", "k_*")


def test_sort_by_and_get_need_every_key(diff):
    """Redis 7.0: BY a pattern and GET read keys made from the data, so a
    user limited to some keys may not use them (BY a constant is fine)."""
    diff("ACL", "SETUSER", "sorter", "on", "nopass", "~a*", "+@all")
    diff("ACL", "SETUSER", "wide", "on", "nopass", "~a*", "+@all", "(~* +sort)")
    diff("RPUSH", "a", "2", "1")
    diff("AUTH", "sorter", "x")
    for args in [("SORT", "a", "BY", "b_*"), ("SORT", "a", "BY", "nosort"), ("SORT", "a", "GET", "#"),
                 ("SORT", "a", "LIMIT", "0", "1", "GET", "b_*"), ("SORT_RO", "a", "GET", "b_*"),
                 ("SORT", "a", "BADOPT", "GET", "#"), ("SORT", "a", "LIMIT", "x", "1", "GET", "#"),
                 ("SORT_RO", "a", "STORE", "d", "GET", "#"), ("SORT", "a", "DESC"), ("SORT", "b"),
                 ("MULTI",), ("SORT", "a", "BY", "nosort"), ("EXEC",)]:
        diff(*args)
    diff("AUTH", "wide", "x")
    diff("SORT", "a", "BY", "b_*", "GET", "#")
    diff("AUTH", "default", "x")
    diff("ACL", "DELUSER", "sorter", "wide")
