"""Capacity: pikamp with a data set of 1x and 10x its memory budget, next to Redis.

    python3 benchmarks/capacity.py --quick --requests 20000   # smoke run, about 2 minutes
    python3 benchmarks/capacity.py                            # 1 GiB budget: an hour or more on 2 cores
    python3 benchmarks/capacity.py --block-cache 1073741824 --sizes 1,10,50 --dir /mnt/ssd --json out.json

The memory budget is (block-cache + max-write-buffer-size) x workers. For each
size (--sizes, multiples of the budget) DB 0 is loaded with exactly N distinct
keys ``key:%012d`` (the keys redis-benchmark -r N picks from) of --value-size
random bytes, then measured: load keys/s, redis-benchmark SET/GET ops/s at
-P 1 and -P 16 over all N keys and GET p50/p99, the RSS of every process, the
disk bytes per key, and the restart time (spawn to first PONG, and to the
first GET answering the right value). Redis (AOF, fsync every second) is
measured the same way at the sizes whose data is under 4 GB. The time is
mostly the loading: the largest size divided by the load rate printed.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import HOST, REPO_ROOT, PikampServer, RedisServer, Server, wait_ping  # noqa: E402

CLIENTS = 50
PIPELINES = (1, 16)
KEY_LEN = len(b"key:%012d" % 0)  # 16, as redis-benchmark's key:__rand_int__
REDIS_LIMIT = 4 << 30  # data bytes above which Redis is skipped unless --redis
BATCH = 1000  # SETs per pipelined batch of the loader
LOADERS = 4  # loader connections: enough to keep both pikamp workers busy
POOL = 256  # distinct random values; a 4 KB block never holds two equal ones


class RunFailed(Exception):
    """redis-benchmark did not finish a run; the message says why."""


class Pikamp(PikampServer):
    """PikampServer with memory settings, and a spawn that does not wait (restart timing)."""

    def __init__(self, workdir: str, workers: int, extra: dict[str, int]) -> None:
        super().__init__(workdir, workers)
        with open(self.conf_path, "a") as f:
            f.writelines(f"{k} : {v}\n" for k, v in extra.items())
        self.db_path = os.path.join(workdir, "db")

    def spawn(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
        self._spawn([sys.executable, "-m", "pikamp.cli", "start", "-c", self.conf_path], env)

    def start(self, timeout: float = 60.0) -> "Pikamp":
        self.spawn()
        wait_ping(self.port, self.proc, timeout)
        self._wait_all_workers_listening(timeout)
        return self

    def disk(self) -> dict[str, int]:
        db0 = os.path.join(self.db_path, "db0")
        # The WAL apart: RocksDB's *.log files, deleted once every column family has flushed past them.
        return {"disk_db0": dir_bytes(db0), "disk_all": dir_bytes(self.db_path), "wal_db0": dir_bytes(db0, ".log")}


class Redis(RedisServer):
    """RedisServer (same command line) with a spawn that does not wait."""

    def spawn(self) -> None:
        self._spawn([shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", HOST,
                     "--dir", self.workdir, "--appendonly", "yes", "--appendfsync", "everysec",
                     "--save", "", "--daemonize", "no"])

    def disk(self) -> dict[str, int]:
        # The AOF directory only: stdout.log in workdir is ours, not Redis's.
        aof = dir_bytes(os.path.join(self.workdir, "appendonlydir"))
        return {"disk_db0": aof, "disk_all": aof, "wal_db0": 0}


def dir_bytes(path: str, suffix: str = "") -> int:
    """Sum of the sizes of the regular files under ``path`` (what the data costs on disk)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            if not name.endswith(suffix):
                continue
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:  # a compaction removed it meanwhile
                continue
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return total


def ask(port: int, *args: bytes, timeout: float = 2.0) -> bytes:
    """One command on a fresh connection; the raw reply (a line, or a bulk string with its body)."""
    req = b"".join([b"*%d\r\n" % len(args)] + [b"$%d\r\n%s\r\n" % (len(a), a) for a in args])
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(req)
        f = s.makefile("rb")
        line = f.readline()
        if line.startswith(b"$") and int(line[1:]) >= 0:
            line += f.read(int(line[1:]) + 2)
        return line


def poll(check, timeout: float, what: str) -> float:
    """Seconds until ``check()`` is true, trying every 5 ms; a failed try (refused, reset) is a no."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if check():
                return time.monotonic() - t0
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    raise TimeoutError(f"{what}: not after {timeout:.0f}s")


def load(port: int, first: int, last: int, value_size: int) -> float:
    """SET key:<first>..key:<last-1> over LOADERS connections, BATCH per pipeline; return keys/s."""
    rng = random.Random(0)  # the same values for every server and run
    tails = [b"\r\n$%d\r\n" % value_size + rng.randbytes(value_size) + b"\r\n" for _ in range(POOL)]
    head = b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%%012d" % KEY_LEN
    batches = iter(range(first, last, BATCH))
    lock, errors = threading.Lock(), []

    def loader() -> None:
        try:
            with socket.create_connection((HOST, port), timeout=120) as s:
                while not errors:
                    with lock:
                        start = next(batches, None)
                    if start is None:
                        return
                    end = min(start + BATCH, last)
                    # One bytes join per batch: the client stays far cheaper than the server.
                    s.sendall(b"".join([head % i + tails[i % POOL] for i in range(start, end)]))
                    want, got, lines = end - start, [], 0
                    while lines < want:  # every SET reply is one line: +OK or -ERR ...
                        chunk = s.recv(65536)
                        if not chunk:
                            raise ConnectionError("server closed the connection")
                        got.append(chunk)
                        lines += chunk.count(b"\n")
                    reply = b"".join(got)
                    if reply != b"+OK\r\n" * want:
                        bad = [r for r in reply.split(b"\r\n") if r not in (b"+OK", b"")]
                        raise RuntimeError(f"SET failed: {bad[:1]!r}")
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    t0 = time.monotonic()
    threads = [threading.Thread(target=loader, daemon=True) for _ in range(LOADERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()  # bounded: each recv times out after 120 s
    if errors:
        raise RuntimeError(f"loading failed: {errors[0]}")
    return (last - first) / max(time.monotonic() - t0, 1e-9)


def settle(server: Server, limit: float) -> float:
    """Wait (at most ``limit`` s) until the server is idle (< 5% of a core: flushes and
    compactions done), so the runs that follow are not charged for the load."""
    t0 = time.monotonic()
    prev = server.cpu_seconds()
    while time.monotonic() - t0 < limit:
        time.sleep(1.0)
        cur = server.cpu_seconds()
        if cur - prev < 0.05:
            break
        prev = cur
    return time.monotonic() - t0


def bench(port: int, keys: int, value_size: int, pipeline: int, requests: int) -> dict[str, dict[str, float]]:
    """redis-benchmark -t set,get over all ``keys`` keys; {"SET": csv row, "GET": csv row}."""
    argv = ["redis-benchmark", "-h", HOST, "-p", str(port), "-c", str(CLIENTS), "-n", str(requests),
            "-r", str(keys), "-P", str(pipeline), "-d", str(value_size), "-t", "set,get", "--csv"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60 + requests / 250)
    except subprocess.TimeoutExpired:
        raise RunFailed("timed out") from None
    rows = {r["test"]: {k: float(v) for k, v in r.items() if k != "test"}
            for r in csv.DictReader(line for line in done.stdout.splitlines() if line.startswith('"'))}
    if done.returncode != 0 or set(rows) != {"SET", "GET"}:
        lines = (done.stderr + done.stdout).strip().splitlines()
        errors = [line for line in lines if "rror" in line]
        raise RunFailed((errors or lines or [f"exit code {done.returncode}"])[-1].strip())
    return rows


def processes(server: Server) -> dict[str, float]:
    """RSS (MB) of each process of the tree, named by its title, plus the total and the PSS total
    (RSS counts pages the forked workers share with the supervisor once per process)."""
    root = psutil.Process(server.proc.pid)
    out: dict[str, float] = {}
    pss = 0.0
    for p in [root] + root.children(recursive=True):
        try:
            # setproctitle pads the title with spaces: normalise them.
            title = " ".join(" ".join(p.cmdline()).split()) or p.name()
            rss = p.memory_info().rss
            pss += getattr(p.memory_full_info(), "pss", rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        # "pikamp: worker 0 [db0,db2,...]" -> "worker 0"; "pikamp: supervisor 127.0.0.1:port" -> "supervisor"
        if title.startswith("pikamp: "):
            title = title[8:].split(" [")[0].split(" 127.")[0]
        else:
            title = os.path.basename(title.split()[0])
        while f"RSS MB {title}" in out:
            title += "'"
        out[f"RSS MB {title}"] = rss / 1e6
    out["RSS MB total"] = sum(out.values())
    out["PSS MB total"] = pss / 1e6
    return out


def restart(server: Pikamp | Redis, key: bytes, timeout: float) -> dict[str, float]:
    """Stop (SIGTERM), spawn again; seconds to stop, to the first PONG, to the first right GET."""
    want = ask(server.port, b"GET", key)
    t0 = time.monotonic()
    server.stop(timeout)
    stopped = time.monotonic() - t0
    server.spawn()
    t1 = time.monotonic()
    poll(lambda: ask(server.port, b"PING") == b"+PONG\r\n", timeout, f"{server.name} PONG")
    pong = time.monotonic() - t1
    # Pikamp: the first connection may reach a worker whose DB 0 owner is not up yet.
    poll(lambda: ask(server.port, b"GET", key) == want, timeout, f"{server.name} GET {key.decode()}")
    got = time.monotonic() - t1
    if isinstance(server, Pikamp):
        server._wait_all_workers_listening(timeout)
    return {"stop s": stopped, "restart to PONG s": pong, "restart to GET s": got}


def measure(server: Pikamp | Redis, first: int, keys: int, args: argparse.Namespace,
            failures: list[str], label: str) -> dict[str, float]:
    """Load keys first..keys-1, then every measurement of one column."""
    raw = KEY_LEN + args.value_size
    res: dict[str, float] = {"keys": keys, "data MB": keys * raw / 1e6}
    print(f"# {label}: loading {keys - first:,} keys", flush=True)
    res["load keys/s"] = load(server.port, first, keys, args.value_size)
    res["settle s"] = settle(server, args.settle)
    disk = server.disk()
    res["disk MB db0"], res["disk MB all"] = disk["disk_db0"] / 1e6, disk["disk_all"] / 1e6
    res["disk MB db0 WAL"] = disk["wal_db0"] / 1e6
    res["disk bytes/key db0"], res["disk bytes/key all"] = disk["disk_db0"] / keys, disk["disk_all"] / keys
    res["raw bytes/key"] = raw
    for p in PIPELINES:
        try:
            rows = bench(server.port, keys, args.value_size, p, args.requests)
        except RunFailed as e:
            failures.append(f"{label} -P {p}: {e}")
            continue
        res[f"SET ops/s -P {p}"], res[f"GET ops/s -P {p}"] = rows["SET"]["rps"], rows["GET"]["rps"]
        res[f"GET p50 ms -P {p}"] = rows["GET"]["p50_latency_ms"]
        res[f"GET p99 ms -P {p}"] = rows["GET"]["p99_latency_ms"]
    res.update(processes(server))
    res.update(restart(server, b"key:%012d" % random.Random(keys).randrange(keys), args.restart_timeout))
    return res


ORDER = ["keys", "data MB", "load keys/s", "settle s", "SET ops/s -P 1", "GET ops/s -P 1", "GET p50 ms -P 1",
         "GET p99 ms -P 1", "SET ops/s -P 16", "GET ops/s -P 16", "GET p50 ms -P 16", "GET p99 ms -P 16"]
TAIL = ["RSS MB total", "PSS MB total", "disk MB db0", "disk MB db0 WAL", "disk MB all", "disk bytes/key db0",
        "disk bytes/key all", "raw bytes/key", "stop s", "restart to PONG s", "restart to GET s"]


def fmt(metric: str, v: float | None) -> str:
    if v is None:
        return "-"
    if metric == "keys" or "ops/s" in metric or "keys/s" in metric:
        return f"{v:,.0f}"
    return f"{v:.3f}" if " ms" in metric else f"{v:.2f}" if metric.endswith(" s") else f"{v:,.1f}"


def report(columns: dict[str, dict[str, float]]) -> None:
    """One table: a row per metric, a column per (server, size)."""
    metrics = ORDER + [m for c in columns.values() for m in c if m not in ORDER + TAIL]
    metrics = list(dict.fromkeys(metrics)) + TAIL
    rows = [[m] + [fmt(m, c.get(m)) for c in columns.values()] for m in metrics]
    header = ["metric"] + list(columns)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) + " |")


def run(args: argparse.Namespace, tmp: str, started: list[Server]) -> int:
    sizes = sorted(float(s) for s in args.sizes.split(",") if s.strip())
    wbs = args.write_buffer_size or min(64 << 20, args.max_write_buffer_size // 4)
    extra = {"block-cache": args.block_cache, "max-write-buffer-size": args.max_write_buffer_size,
             "write-buffer-size": wbs}
    pikamp = Pikamp(os.path.join(tmp, "pikamp"), args.workers, extra)
    budget = (args.block_cache + args.max_write_buffer_size) * pikamp.workers
    raw = KEY_LEN + args.value_size
    print(f"# pikamp: {pikamp.workers} workers, block-cache {args.block_cache}, max-write-buffer-size "
          f"{args.max_write_buffer_size}, write-buffer-size {wbs}: budget {budget / 1e6:,.1f} MB")
    print(f"# {raw} raw bytes/key; redis-benchmark -c {CLIENTS} -n {args.requests} -d {args.value_size} -t set,get; "
          f"in {tmp}", flush=True)
    started.append(pikamp)
    pikamp.start()
    redis: Redis | None = None
    columns: dict[str, dict[str, float]] = {}
    failures: list[str] = []
    notes: list[str] = []
    loaded = {"pikamp": 0, "redis": 0}
    for size in sizes:
        keys = int(budget * size / raw)
        name = f"{size:g}x"
        columns[f"pikamp {name}"] = measure(pikamp, loaded["pikamp"], keys, args, failures, f"pikamp {name}")
        loaded["pikamp"] = keys
        if args.redis is False or (args.redis is None and keys * raw >= REDIS_LIMIT):
            if args.redis is None:
                notes.append(f"redis skipped at {name}: {keys * raw / 1e9:.1f} GB of data is over "
                             f"{REDIS_LIMIT / 1e9:.1f} GB (--redis to force)")
            if redis is not None:  # sizes ascend: no later size is measured either, free its memory
                redis.stop()
                redis = None
            continue
        if redis is None:
            redis = Redis(os.path.join(tmp, "redis"))
            started.append(redis)
            redis.start()
        columns[f"redis {name}"] = measure(redis, loaded["redis"], keys, args, failures, f"redis {name}")
        loaded["redis"] = keys
    # Columns grouped by server: pikamp 1x, 10x, then redis 1x, ...
    columns = dict(sorted(columns.items(), key=lambda kv: not kv[0].startswith("pikamp")))
    print()
    report(columns)
    for line in notes:
        print(f"# {line}")
    for line in failures:
        print(f"FAILED {line[:200]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"budget": budget, "workers": pikamp.workers, "settings": extra,
                       "value_size": args.value_size, "requests": args.requests, "columns": columns,
                       "notes": notes, "failures": failures}, f, indent=2)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="pikamp workers (default 2)")
    ap.add_argument("--block-cache", type=int, default=268435456, help="bytes per worker (server default)")
    ap.add_argument("--max-write-buffer-size", type=int, default=268435456, help="bytes per worker (server default)")
    ap.add_argument("--write-buffer-size", type=int, default=0,
                    help="memtable bytes per column family (default: 64 MB, at most max-write-buffer-size/4)")
    ap.add_argument("--sizes", default="1,10", help="data sizes, multiples of the budget (default 1,10)")
    ap.add_argument("--value-size", type=int, default=200, help="value bytes (default 200)")
    ap.add_argument("--requests", type=int, default=200_000, help="requests per redis-benchmark test (default 200000)")
    ap.add_argument("--redis", action=argparse.BooleanOptionalAction, default=None,
                    help="measure Redis too (default: at the sizes whose data is under 4 GB)")
    ap.add_argument("--quick", action="store_true", help="8 MB block-cache and max-write-buffer-size (smoke run)")
    ap.add_argument("--settle", type=float, default=300, help="most seconds to wait for compactions after a load")
    ap.add_argument("--restart-timeout", type=float, default=300, help="most seconds a stop or a start may take")
    ap.add_argument("--dir", help="where to make the temporary directory (the disk to measure)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.block_cache = args.max_write_buffer_size = 8 << 20
    if shutil.which("redis-benchmark") is None:
        print("redis-benchmark not found (apt-get install redis-tools)", file=sys.stderr)
        return 2

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    started: list[Server] = []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pikamp-capacity-", dir=args.dir) as tmp:
        try:
            return run(args, tmp, started)
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the clean-up
            for server in reversed(started):
                if server.proc is not None and server.proc.poll() is not None:
                    print(f"{server.name} exited with code {server.proc.returncode}; log tail:\n"
                          f"{server.log_tail()}", file=sys.stderr)
                server.stop()
            print(f"# {time.monotonic() - t0:.0f}s in all", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
