"""LCS against redis-server 7.0, in both protocols (``diff``): the string, LEN,
IDX with MINMATCHLEN / WITHMATCHLEN, missing keys as empty strings, chunked
values, errors in Redis' order, and the memory guard at proto-max-bulk-len
(a pair of servers started with 1 MB); and pikamp.lcs against Redis' own
table-and-walk algorithm written out plainly."""
from __future__ import annotations

import random
import time

import pytest

from conftest import Differ
from pikamp import lcs
from servers import PikampServer, RedisServer

OPTION_SETS = [[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", "2"],
               ["IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"], ["WITHMATCHLEN"], ["MINMATCHLEN", "3"],
               ["idx", "minmatchlen", "-5", "withmatchlen"], ["LEN", "MINMATCHLEN", "2"]]


def _all_forms(diff, a: str = "a", b: str = "b") -> None:
    for opts in OPTION_SETS:
        diff("LCS", a, b, *opts)


def test_the_example_of_the_docs(diff):
    diff("MSET", "a", "ohmytext", "b", "mynewtext")
    _all_forms(diff)
    _all_forms(diff, "b", "a")


def test_missing_keys_are_empty_strings(diff):
    diff("SET", "a", "abc")
    _all_forms(diff, "a", "nokey")
    _all_forms(diff, "nokey", "a")
    _all_forms(diff, "nokey", "nokey2")
    diff("SET", "e", "")
    _all_forms(diff, "e", "a")


def test_same_key_twice_and_equal_strings(diff):
    diff("SET", "a", "the same string")
    diff("SET", "b", "the same string")
    _all_forms(diff, "a", "a")
    _all_forms(diff)


def test_nothing_in_common(diff):
    diff("MSET", "a", "aaaa", "b", "bbbbbbb")
    _all_forms(diff)


def test_binary_values(diff):
    diff("SET", "a", bytes(range(256)) * 2)
    diff("SET", "b", bytes(range(255, -1, -3)) + b"\x00\xff\r\n")
    _all_forms(diff)


@pytest.mark.parametrize("alphabet", ["ab", "abc", "acgt", "abcdefghijklmnop"])
def test_random_strings_like_redis(diff, alphabet):
    rng = random.Random(alphabet)
    for _ in range(60):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 50)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 50)))
        diff("MSET", "a", a, "b", b)
        diff("LCS", "a", "b")
        diff("LCS", "a", "b", "LEN")
        diff("LCS", "a", "b", "IDX", "WITHMATCHLEN", "MINMATCHLEN", str(rng.randrange(0, 4)))


def test_long_strings(diff):
    """Thousands of bytes each, and values stored in chunks (over 256 KB)."""
    rng = random.Random(3)
    diff("SET", "a", "".join(rng.choice("acgt") for _ in range(3000)))
    diff("SET", "b", "".join(rng.choice("acgt") for _ in range(2500)))
    _all_forms(diff)
    big = bytes(rng.choice(b"xyz") for _ in range(300_000))
    diff("SET", "big", big)
    diff("SET", "small", "zyxxyzzz")
    _all_forms(diff, "big", "small")
    _all_forms(diff, "small", "big")


def test_options_and_errors(diff):
    diff("MSET", "a", "ohmytext", "b", "mynewtext")
    for opts in (["LEN", "IDX"], ["IDX", "LEN"], ["FOO"], ["MINMATCHLEN"], ["MINMATCHLEN", "x"], ["IDX", "MINMATCHLEN"],
                 ["MINMATCHLEN", "99999999999999999999"], ["MINMATCHLEN", "1.5", "IDX"], ["LEN", "LEN"],
                 ["IDX", "IDX", "WITHMATCHLEN", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", "9223372036854775807"]):
        diff("LCS", "a", "b", *opts)
    diff("LCS", "a")
    diff("RPUSH", "l", "x")
    diff("LCS", "a", "l")
    diff("LCS", "l", "nokey", "FOO")  # the types are checked before the options
    diff("LCS", "nokey", "l", "LEN", "IDX")


@pytest.mark.parametrize("workers_db", [0, 1])
def test_in_a_db_of_either_worker_and_in_multi(diff, workers_db):
    diff("SELECT", str(workers_db))
    diff("MSET", "a", "ohmytext", "b", "mynewtext")
    diff("MULTI")
    diff("LCS", "a", "b", "IDX")
    diff("APPEND", "a", "s")
    diff("LCS", "a", "b")
    diff("LCS", "a", "b", "LEN", "IDX")
    diff("EXEC")
    diff("SELECT", "0")


# -- the memory guard -------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_bulk(tmp_path_factory):
    """pikamp and redis-server with proto-max-bulk-len 1 MB: Redis' LCS table
    ((alen+1) * (blen+1) uint32s) may take 1 MB."""
    p = PikampServer(str(tmp_path_factory.mktemp("lcs-pikamp")), proto_max_bulk_len=1 << 20).start()
    r = RedisServer(str(tmp_path_factory.mktemp("lcs-redis")), "--proto-max-bulk-len", "1mb").start()
    yield p, r
    p.stop()
    r.stop()


@pytest.mark.parametrize("proto", [2, 3])
def test_refused_where_redis_table_would_pass_proto_max_bulk_len(small_bulk, proto):
    p, r = small_bulk
    diff = Differ(p.port, r.port, proto)
    try:
        for alen, blen in ((511, 511), (512, 511), (511, 512), (0, 262143), (0, 262144), (1, 131071), (1, 131072)):
            diff("SET", "a", "x" * alen)
            diff("SET", "b", "xy" * (blen // 2) + "x" * (blen % 2))
            diff("LCS", "a", "b", "LEN")
            diff("LCS", "a", "b", "IDX", "MINMATCHLEN", "100")
            diff("LCS", "a", "b", "FOO")  # options come first
    finally:
        diff.close()


# -- pikamp.lcs on its own ---------------------------------------------------------------------
def _redis_lcs(a: bytes, b: bytes) -> tuple[bytes, list, int]:
    """lcsCommand's table and walk, plainly."""
    alen, blen = len(a), len(b)
    table = [[0] * (blen + 1) for _ in range(alen + 1)]
    for i in range(1, alen + 1):
        for j in range(1, blen + 1):
            table[i][j] = table[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(table[i - 1][j], table[i][j - 1])
    idx = table[alen][blen]
    result = bytearray(idx)
    ranges = []
    a_start, a_end, b_start, b_end = alen, 0, 0, 0
    i, j = alen, blen
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if a_start == alen:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx, i, j = idx - 1, i - 1, j - 1
        else:
            if table[i - 1][j] > table[i][j - 1]:
                i -= 1
            else:
                j -= 1
            emit = a_start != alen
        if emit:
            ranges.append((a_start, a_end, b_start, b_end))
            a_start = alen
    return bytes(result), ranges, table[alen][blen]


def test_bit_parallel_table_walks_as_redis_table():
    rng = random.Random(7)
    for _ in range(3000):
        alphabet = rng.choice([b"ab", b"abc", b"abcdefgh", bytes(range(256))])
        a = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        b = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        text, ranges, length = _redis_lcs(a, b)
        assert lcs.matches(a, b) == (text, ranges), (a, b)
        assert lcs.length(a, b) == length


def test_fast_for_long_and_lopsided_strings():
    rng = random.Random(1)
    to_letters = bytes(b"abcd"[x % 4] for x in range(256))
    for alen, blen in ((5000, 5000), (10, 2_000_000), (2_000_000, 10)):
        a, b = rng.randbytes(alen).translate(to_letters), rng.randbytes(blen).translate(to_letters)
        t = time.perf_counter()
        text, _ = lcs.matches(a, b)
        assert len(text) == lcs.length(a, b)
        assert time.perf_counter() - t < 5


def test_table_bytes_is_redis_uint32_table():
    assert lcs.table_bytes(0, 0) == 4
    assert lcs.table_bytes(511, 511) == 1 << 20
