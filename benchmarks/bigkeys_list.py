"""A list with a million elements: the operations at its ends stay O(1).

    python3 benchmarks/bigkeys_list.py [--elements N] [--samples K]

Starts pikamp (its own temp dir, free 127.0.0.1 port), builds one list with
pipelined RPUSH batches, then times single round trips of LINDEX / LSET near
both ends (and in the middle), LPUSH, RPOP, LLEN and finally DEL, and checks
that the key, re-created, shows none of the old elements. Prints a table of
median and worst latencies in ms. Everything it started is stopped on exit.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import HOST, PikampServer  # noqa: E402

KEY = "biglist"
BATCH = 1000  # elements per RPUSH
PIPELINE = 50  # RPUSH commands per round trip


def build(client: redis.Redis, elements: int) -> float:
    """RPUSH ``elements`` elements ("e<i>") in pipelined batches; returns seconds."""
    start = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    queued = 0
    for first in range(0, elements, BATCH):
        pipe.rpush(KEY, *[f"e{i}" for i in range(first, min(first + BATCH, elements))])
        queued += 1
        if queued == PIPELINE:
            pipe.execute()
            queued = 0
    if queued:
        pipe.execute()
    return time.perf_counter() - start


def timed(samples: int, call) -> list[float]:
    """Latencies in ms of ``samples`` calls of ``call(i)``."""
    out = []
    for i in range(samples):
        t = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def run(elements: int, samples: int, workers: int) -> int:
    workdir = tempfile.mkdtemp(prefix="pikamp-bigkeys-")
    server = PikampServer(os.path.join(workdir, "pikamp"), workers=workers)
    try:
        server.start()
        c = redis.Redis(host=HOST, port=server.port, protocol=2)
        c.flushall()
        seconds = build(c, elements)
        assert c.llen(KEY) == elements
        print(f"built {elements:,} elements in {seconds:.1f} s ({elements / seconds:,.0f} elements/s)")
        mid = elements // 2
        rows = [
            ("LINDEX 0", timed(samples, lambda i: c.lindex(KEY, 0))),
            ("LINDEX 1", timed(samples, lambda i: c.lindex(KEY, 1))),
            ("LINDEX -1", timed(samples, lambda i: c.lindex(KEY, -1))),
            ("LINDEX -2", timed(samples, lambda i: c.lindex(KEY, -2))),
            (f"LINDEX {mid}", timed(samples, lambda i: c.lindex(KEY, mid))),
            ("LSET 0", timed(samples, lambda i: c.lset(KEY, 0, f"h{i}"))),
            ("LSET -1", timed(samples, lambda i: c.lset(KEY, -1, f"t{i}"))),
            ("LPUSH", timed(samples, lambda i: c.lpush(KEY, f"p{i}"))),
            ("RPOP", timed(samples, lambda i: c.rpop(KEY))),
            ("LPOP", timed(samples, lambda i: c.lpop(KEY))),
            ("RPUSH", timed(samples, lambda i: c.rpush(KEY, f"r{i}"))),
            ("LLEN", timed(samples, lambda i: c.llen(KEY))),
            ("LRANGE 0 9", timed(samples, lambda i: c.lrange(KEY, 0, 9))),
            ("LRANGE -10 -1", timed(samples, lambda i: c.lrange(KEY, -10, -1))),
        ]
        assert c.llen(KEY) == elements
        assert c.lindex(KEY, 0) == f"h{samples - 1}".encode()
        rows.append(("DEL (whole list)", timed(1, lambda i: c.delete(KEY))))
        c.rpush(KEY, "fresh")
        fresh = c.lrange(KEY, 0, -1)
        print(f"\n{'command':<20} {'median ms':>10} {'max ms':>10}")
        for name, lat in rows:
            print(f"{name:<20} {statistics.median(lat):>10.3f} {max(lat):>10.3f}")
        print(f"\nre-created key: LRANGE 0 -1 -> {fresh!r}, LLEN -> {c.llen(KEY)}")
        ok = fresh == [b"fresh"] and max(rows[-1][1]) < 10
        print("OK" if ok else "FAILED: DEL slower than 10 ms or old elements visible")
        c.close()
        return 0 if ok else 1
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--elements", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    return run(args.elements, args.samples, args.workers)


if __name__ == "__main__":
    sys.exit(main())
