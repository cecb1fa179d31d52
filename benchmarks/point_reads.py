"""Point reads of one big DB, in-process: what a GET's meta lookup costs where
its block lives (block cache, OS page cache, disk), and how much of the disk's
parallelism a worker can use.

    python3 benchmarks/point_reads.py                          # 6.2M keys (1.4 GB), 32 MB cache
    python3 benchmarks/point_reads.py --keys 20000000 --dir /mnt/ssd --cold

The DB is built by SST ingestion with the engine's own options (seconds, not
the minutes of loading through the server), ~300k keys per SST as the server's
64 MB compaction outputs. Each figure is microseconds per key over random keys
(best of --rounds). With --cold (root only) the OS page cache is dropped before
each cold figure, so reads go to the disk: then the same random 4 KB reads are
made with os.pread from 1, 4 and 16 threads (what the disk gives in parallel),
and RocksDB gets from 1 and 4 threads (whether rocksdict lets reads overlap:
it holds the GIL during a get, so they do not).
"""
from __future__ import annotations

import argparse
import glob
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rocksdict import IngestExternalFileOptions, SstFileWriter  # noqa: E402

from pikamp.config import Config  # noqa: E402
from pikamp.storage import codec  # noqa: E402
from pikamp.storage.engine import META, Engine  # noqa: E402
from pikamp.worker import tuning_from_config  # noqa: E402

PER_SST = 300_000


def key(i: int) -> bytes:
    return b"key:%012d" % i


def build(path: str, keys: int, value_size: int, block_cache: int) -> Engine:
    """An engine at ``path`` whose meta CF holds ``keys`` string keys."""
    eng = open_engine(path, block_cache)
    rng = random.Random(0)
    values = [codec.encode_string(rng.randbytes(value_size)) for _ in range(256)]
    staging = path + ".sst"
    os.makedirs(staging, exist_ok=True)
    files = []
    for first in range(0, keys, PER_SST):
        name = os.path.join(staging, f"{first:012d}.sst")
        writer = SstFileWriter(eng.options)
        writer.open(name)
        for i in range(first, min(keys, first + PER_SST)):
            writer[key(i)] = values[i % 256]
        writer.finish()
        files.append(name)
    opts = IngestExternalFileOptions()
    opts.set_move_files(True)
    eng.cfs[META].ingest_external_file(files, opts)
    shutil.rmtree(staging, ignore_errors=True)
    return eng


def open_engine(path: str, block_cache: int) -> Engine:
    """The engine with the options the server derives from its defaults, but ``block_cache``."""
    return Engine(path, tuning=tuning_from_config(Config({"block-cache": str(block_cache)})))


def per_key(fn, batches: list[list[bytes]]) -> float:
    """Microseconds per key of ``fn`` over every batch."""
    n = sum(len(b) for b in batches)
    t = time.perf_counter()
    for b in batches:
        fn(b)
    return (time.perf_counter() - t) / n * 1e6


def threaded(fn, items: list, threads: int) -> float:
    """Microseconds per item of ``fn`` over ``items`` split between ``threads`` threads."""
    parts = [items[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=lambda p=p: [fn(x) for x in p]) for p in parts]
    t = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return (time.perf_counter() - t) / len(items) * 1e6


def drop_page_cache() -> None:
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("1\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=6_200_000)
    ap.add_argument("--value-size", type=int, default=200)
    ap.add_argument("--block-cache", type=int, default=32 << 20, help="bytes (default 32 MB)")
    ap.add_argument("--reads", type=int, default=100_000, help="random keys per figure")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cold", action="store_true", help="also drop the page cache and read from disk (root)")
    ap.add_argument("--dir", help="where to make the temporary directory (the disk to measure)")
    args = ap.parse_args(argv)
    if args.cold and os.geteuid() != 0:
        ap.error("--cold drops the page cache: root only")
    tmp = tempfile.mkdtemp(prefix="pikamp-reads-", dir=args.dir)
    try:
        path = os.path.join(tmp, "db")
        t0 = time.monotonic()
        eng = build(path, args.keys, args.value_size, args.block_cache)
        ssts = glob.glob(os.path.join(path, "*.sst"))
        size = sum(os.path.getsize(f) for f in ssts)
        print(f"# {args.keys:,} keys, {size / 1e6:,.0f} MB in {len(ssts)} SSTs, built in "
              f"{time.monotonic() - t0:.0f} s; block cache {args.block_cache >> 20} MB")
        get = eng.cfs[META].get
        rng = random.Random(1)

        def uniform(n: int) -> list[bytes]:
            return [key(rng.randrange(args.keys)) for _ in range(n)]

        def best(fn, make) -> float:
            return min(fn(make()) for _ in range(args.rounds))

        def singles(keys: list[bytes]) -> None:
            for k in keys:
                get(k)

        hot = [key(i) for i in range(1000)]
        rows = [("block cache (1000 keys, repeated)", best(lambda ks: per_key(singles, [ks]), lambda: hot * 100))]
        for f in ssts:  # the OS page cache holds every SST, as on a machine with RAM to spare
            with open(f, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        rows.append(("page cache, get", best(lambda ks: per_key(singles, [ks]), lambda: uniform(args.reads))))
        rows.append(("page cache, MultiGet of 16", best(
            lambda ks: per_key(get, [ks[i:i + 16] for i in range(0, len(ks), 16)]), lambda: uniform(args.reads))))
        if args.cold:
            cold_reads = min(args.reads, 20_000)
            for threads in (1, 4):
                drop_page_cache()
                rows.append((f"disk, get from {threads} thread(s)", threaded(get, uniform(cold_reads), threads)))
            fds = [(os.open(f, os.O_RDONLY), os.path.getsize(f)) for f in ssts]
            weights = [s for _, s in fds]
            for threads in (1, 4, 16):
                picks = rng.choices(fds, weights=weights, k=cold_reads)
                offsets = [(fd, rng.randrange(max(1, s - 4096))) for fd, s in picks]
                drop_page_cache()
                rows.append((f"disk, os.pread 4 KB from {threads} thread(s)",
                             threaded(lambda fo: os.pread(fo[0], 4096, fo[1]), offsets, threads)))
            for fd, _ in fds:
                os.close(fd)
        eng.close()
        width = max(len(r[0]) for r in rows)
        for name, us in rows:
            print(f"{name.ljust(width)}  {us:8.2f} us/key")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
