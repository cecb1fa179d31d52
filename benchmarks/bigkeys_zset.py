"""A sorted set with a million members: seeks, point reads and DEL stay fast.

    python3 benchmarks/bigkeys_zset.py [--members N] [--samples K] [--workers W]

Starts pikamp (benchmarks/launch.py: its own temp dir, a free 127.0.0.1
port), builds one sorted set with pipelined ZADD batches, then times single
round trips of ZRANGEBYSCORE with LIMIT at both ends and in the middle,
ZSCORE, ZRANK / ZREVRANK near both ends, ZCARD, ZADD / ZPOPMIN, and finally
DEL; checks that the key, re-created, shows none of the old members. Prints
a table of median and worst latencies in ms. Everything it started is
stopped, and the temp dir removed, on exit.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from launch import HOST, PikampServer  # noqa: E402

KEY = "bigzset"
BATCH = 1000  # members per ZADD
PIPELINE = 20  # ZADDs per round trip


def member(i: int) -> str:
    return f"member:{i:08d}"


def build(r: redis.Redis, n: int, rnd: random.Random) -> tuple[dict[int, float], float]:
    """ZADD n members with random scores in [0, n); returns (index -> score, seconds)."""
    scores = {i: rnd.uniform(0, n) for i in range(n)}
    t0 = time.perf_counter()
    pipe = r.pipeline(transaction=False)
    for start in range(0, n, BATCH):
        pipe.zadd(KEY, {member(i): scores[i] for i in range(start, min(start + BATCH, n))})
        if len(pipe) == PIPELINE:
            pipe.execute()
    pipe.execute()
    return scores, time.perf_counter() - t0


def timed(fn, samples: int) -> tuple[float, float, object]:
    """(median ms, worst ms, last result) of ``samples`` calls of fn(i)."""
    times = []
    result = None
    for i in range(samples):
        t0 = time.perf_counter()
        result = fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times), result


def measure(r: redis.Redis, n: int, scores: dict[int, float], samples: int, rnd: random.Random) -> list[tuple]:
    by_score = sorted(scores, key=lambda i: (scores[i], member(i)))
    low, high = by_score[:samples], by_score[-samples:]
    mid = n / 2
    picks = [rnd.randrange(n) for _ in range(samples)]
    rows = []

    def row(name: str, fn, check=None, k: int = samples) -> None:
        med, worst, result = timed(fn, k)
        if check is not None and not check(result):
            raise AssertionError(f"{name}: unexpected reply {result!r}")
        rows.append((name, med, worst))

    row("ZCARD", lambda i: r.zcard(KEY), lambda v: v == n)
    row("ZSCORE (random member)", lambda i: r.zscore(KEY, member(picks[i])),
        lambda v: v == scores[picks[-1]])
    row("ZRANGEBYSCORE -inf +inf LIMIT 0 10", lambda i: r.zrangebyscore(KEY, "-inf", "+inf", 0, 10),
        lambda v: v == [member(j).encode() for j in by_score[:10]])
    row("ZRANGEBYSCORE mid +inf LIMIT 0 10 WITHSCORES",
        lambda i: r.zrangebyscore(KEY, mid, "+inf", 0, 10, withscores=True), lambda v: len(v) == 10)
    row("ZREVRANGEBYSCORE +inf -inf LIMIT 0 10", lambda i: r.zrevrangebyscore(KEY, "+inf", "-inf", 0, 10),
        lambda v: v == [member(j).encode() for j in by_score[::-1][:10]])
    row("ZRANGE 0 9 / ZRANGE -10 -1", lambda i: r.zrange(KEY, -10, -1) if i % 2 else r.zrange(KEY, 0, 9),
        lambda v: len(v) == 10)
    row("ZCOUNT (narrow range)", lambda i: r.zcount(KEY, mid, mid + 5), lambda v: 0 <= v < 100)
    row("ZRANK near the low end", lambda i: r.zrank(KEY, member(low[i])),
        lambda v: v == samples - 1)
    row("ZRANK near the high end", lambda i: r.zrank(KEY, member(high[i])),
        lambda v: v == n - 1)
    row("ZREVRANK near the high end", lambda i: r.zrevrank(KEY, member(high[i])),
        lambda v: v == 0)
    row("ZADD one new member", lambda i: r.zadd(KEY, {f"new:{i}": -1.0 - i}), lambda v: v == 1)
    row("ZPOPMIN", lambda i: r.zpopmin(KEY), lambda v: len(v) == 1)
    row("ZCARD (after add/pop)", lambda i: r.zcard(KEY), lambda v: v == n)
    row(f"DEL ({n:,} members)", lambda i: r.delete(KEY), lambda v: v == 1, k=1)
    return rows


def check_recreated(r: redis.Redis) -> None:
    """A key re-created after DEL has none of the old members."""
    r.zadd(KEY, {"fresh": 1})
    assert r.zcard(KEY) == 1, r.zcard(KEY)
    assert r.zrange(KEY, 0, -1) == [b"fresh"]
    assert r.zrangebyscore(KEY, "-inf", "+inf") == [b"fresh"]
    assert r.zscore(KEY, member(0)) is None
    assert r.zrank(KEY, "fresh") == 0
    r.delete(KEY)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1, help="pikamp workers (1: no forwarding between workers)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="pikamp-bigzset-")
    server = PikampServer(os.path.join(workdir, "pikamp"), workers=a.workers)
    try:
        server.start()
        r = redis.Redis(host=HOST, port=server.port, protocol=2)
        rnd = random.Random(a.seed)
        scores, seconds = build(r, a.members, rnd)
        rows = measure(r, a.members, scores, a.samples, rnd)
        check_recreated(r)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"pikamp, {a.workers} worker(s): built a {a.members:,}-member zset in {seconds:.1f} s "
          f"({a.members / seconds:,.0f} members/s, ZADD of {BATCH} members, {PIPELINE} per round trip)")
    print(f"{'operation':<48} {'median ms':>10} {'worst ms':>10}")
    for name, med, worst in rows:
        print(f"{name:<48} {med:>10.3f} {worst:>10.3f}")
    print("re-created key after DEL: no old members (ZCARD 1, ZRANGE/ZRANGEBYSCORE/ZSCORE/ZRANK checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
