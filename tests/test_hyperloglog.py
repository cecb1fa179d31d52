"""PFADD / PFCOUNT / PFMERGE against redis-server 7.0, in both protocols: the
replies and the stored bytes (GET), which are Redis' own HLL format, sparse
and dense, with the cached cardinality; errors for other types, for strings
that are not HLLs and for corrupted ones; TTLs kept; hll-sparse-max-bytes;
DBs of either worker, MULTI and WATCH. (Keyspace events: test_notify.)"""
from __future__ import annotations

import pytest


def _elements(prefix: str, n: int, start: int = 0) -> list[str]:
    return [f"{prefix}{i}" for i in range(start, start + n)]


def test_small_sparse_hlls_byte_for_byte(diff):
    diff("PFADD", "h", "a", "b", "c")
    diff("PFADD", "h", "a")
    diff("PFADD", "h")
    diff("PFADD", "new")  # creates an empty HLL
    diff("GET", "new")
    diff("GET", "h")
    diff("PFCOUNT", "h")
    diff("GET", "h")  # the cardinality is cached now
    diff("PFCOUNT", "h")
    diff("PFADD", "h", "d")
    diff("GETRANGE", "h", "15", "15")  # the cache is marked stale
    diff("PFCOUNT", "h", "new", "nokey")
    diff("PFCOUNT", "nokey")
    diff("EXISTS", "nokey")
    diff("PFADD", "e", "")  # an empty element counts
    diff("PFCOUNT", "e")
    diff("GET", "e")


def test_growing_to_dense_and_counts(diff):
    for chunk in range(10):  # sparse with many runs, then promoted past 3000 bytes
        diff("PFADD", "big", *_elements("x", 200, chunk * 200))
        diff("STRLEN", "big")
        diff("GET", "big")
        diff("PFCOUNT", "big")
    diff("PFADD", "big", *_elements("y", 1000))
    diff("GET", "big")
    diff("PFCOUNT", "big")
    diff("GET", "big")


def test_union_count_and_merge(diff):
    diff("PFADD", "s1", *_elements("a", 300))
    diff("PFADD", "s2", *_elements("a", 300, 150))
    diff("PFCOUNT", "s1", "s2")
    diff("PFMERGE", "m", "s1", "s2")  # sparse inputs: the result stays sparse
    diff("GET", "m")
    diff("PFCOUNT", "m")
    diff("PFADD", "d", *_elements("b", 3000))  # dense
    diff("PFMERGE", "m", "d")  # m itself is an input too
    diff("GET", "m")
    diff("PFCOUNT", "m", "s1")
    diff("PFMERGE", "empty")  # no sources: an empty HLL
    diff("GET", "empty")
    diff("PFMERGE", "m2", "nokey", "s1")
    diff("GET", "m2")
    diff("PFMERGE", "s1", "s1")
    diff("GET", "s1")


def test_errors_like_redis(diff):
    diff("SET", "str", "not an hll")
    diff("LPUSH", "list", "x")
    diff("SET", "short", "HYL")
    diff("SET", "magic", "HYLX" + "\0" * 12)
    diff("SET", "enc", "HYLL\x02" + "\0" * 11)
    diff("SET", "dense", "HYLL\x00" + "\0" * 11 + "\0" * 100)  # dense of the wrong length
    # Sparse opcodes covering more than the 16384 registers: two XZERO of 16384.
    diff("SET", "corrupt", b"HYLL\x01" + b"\0" * 11 + b"\x7f\xff\x7f\xff")
    for key in ("str", "list", "short", "magic", "enc", "dense", "corrupt"):
        diff("PFADD", key, "a")
        diff("PFCOUNT", key)
        diff("PFCOUNT", "nokey", key)
        diff("PFMERGE", "out", key)
        diff("PFMERGE", key, "nokey")
    diff("PFMERGE", "corrupt", "list")  # the corrupted destination errs first
    diff("PFMERGE", "list", "corrupt")
    diff("EXISTS", "out")
    diff("PFADD")
    diff("PFCOUNT")
    diff("PFMERGE")


def test_ttl_kept_and_sparse_limit(diff):
    diff("PFADD", "t", "a")
    diff("EXPIRE", "t", "1000")
    diff("PFADD", "t", "b")
    diff("TTL", "t")
    diff("PFCOUNT", "t")
    diff("TTL", "t")
    diff("PFMERGE", "t", "nokey")
    diff("TTL", "t")
    diff("CONFIG", "SET", "hll-sparse-max-bytes", "100")
    try:
        diff("PFADD", "lim", *_elements("z", 40))
        diff("STRLEN", "lim")
        diff("GET", "lim")
        diff("PFADD", "lim", *_elements("z", 40, 40))
        diff("STRLEN", "lim")
        diff("GET", "lim")
        diff("SELECT", "1")  # a DB of the other worker: the setting reached it too
        diff("PFADD", "lim", *_elements("z", 80))
        diff("GET", "lim")
    finally:
        diff("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


@pytest.mark.parametrize("workers_db", [0, 1])
def test_in_either_workers_db_and_in_multi(diff, workers_db):
    diff("SELECT", str(workers_db))
    diff("MULTI")
    diff("PFADD", "k", "a", "b")
    diff("PFCOUNT", "k")
    diff("PFMERGE", "k2", "k")
    diff("GET", "k2")
    diff("EXEC")
    diff("WATCH", "k")
    diff("PFCOUNT", "k")  # the cache is fresh: nothing written, the WATCH holds
    diff("MULTI")
    diff("PFCOUNT", "k")
    diff("EXEC")
    diff("PFADD", "k", "c")  # the cache is stale now
    diff("WATCH", "k")
    diff("PFCOUNT", "k")  # stores the cache: a change of k, as in Redis (signalModifiedKey)
    diff("MULTI")
    diff("PING")
    diff("EXEC")


def test_pfdebug(diff):
    diff("PFADD", "h", "a", "b", "c")
    diff("PFDEBUG", "ENCODING", "h")
    diff("PFDEBUG", "DECODE", "h")
    diff("PFADD", "h2", *[f"e{i}" for i in range(300)])
    diff("PFDEBUG", "DECODE", "h2")
    diff("PEXPIRE", "h", "100000")
    diff("PFDEBUG", "TODENSE", "h")
    diff("PFDEBUG", "TODENSE", "h")
    diff("PFDEBUG", "ENCODING", "h")
    diff("PFDEBUG", "DECODE", "h")
    diff("GET", "h")
    diff("TTL", "h")
    diff("PFCOUNT", "h")
    diff("PFDEBUG", "GETREG", "h2")  # converts to dense too
    diff("PFDEBUG", "ENCODING", "h2")
    diff("PFDEBUG", "GETREG", "nokey")
    diff("PFDEBUG", "NOSUCH", "h")
    diff("PFDEBUG", "NOSUCH", "nokey")
    diff("SET", "s", "not an hll")
    diff("PFDEBUG", "ENCODING", "s")
    diff("LPUSH", "l", "x")
    diff("PFDEBUG", "ENCODING", "l")
    diff("PFDEBUG", "ENCODING")
    diff("PFDEBUG", "GETREG", "h", "extra")
