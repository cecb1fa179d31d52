"""pikamp against a real redis-server, side by side, with redis-benchmark.

    python3 benchmarks/redis_compare.py [--requests N] [--repeat K] [--workers N]

Starts pikamp (default settings, its own temp dir) and redis-server (AOF,
fsync every second) on free 127.0.0.1 ports, runs redis-benchmark with 50
clients over 1,000,000 random keys for each test and pipeline depth against
each server in turn, and prints ops/s and server CPU µs per request. Every
process it started is stopped, and the temp dir removed, on exit, error or
Ctrl-C. See benchmarks/README.md for how to read the numbers.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from launch import HOST, PikampServer, RedisServer, Server  # noqa: E402

TESTS = ("set", "get", "incr", "mset")
# Tests that are not redis-benchmark's own: a command line (after SCRIPT LOAD
# of the script, whose SHA1 replaces {sha}); __rand_int__ ranges over -r.
SCRIPTED = {"evalsha": ("return redis.call('incr', KEYS[1])", ["EVALSHA", "{sha}", "1", "lua:__rand_int__"])}
PIPELINES = (1, 16)
CLIENTS = 50
KEYSPACE = 1_000_000


class RunFailed(Exception):
    """redis-benchmark did not finish a run; the message says why."""


def redis_benchmark(port: int, test: str, pipeline: int, requests: int) -> float:
    """Run one redis-benchmark test; return its requests per second."""
    argv = ["redis-benchmark", "-h", HOST, "-p", str(port), "-c", str(CLIENTS),
            "-n", str(requests), "-r", str(KEYSPACE), "-P", str(pipeline), "--csv", "-q"]
    if test in SCRIPTED:
        script, line = SCRIPTED[test]
        sha = subprocess.run(["redis-cli", "-h", HOST, "-p", str(port), "SCRIPT", "LOAD", script],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        argv += [a.replace("{sha}", sha) for a in line]
    else:
        argv += ["-t", test]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60 + requests / 500)
    except subprocess.TimeoutExpired:
        raise RunFailed("timed out") from None
    rows = [r for r in csv.reader(done.stdout.splitlines()) if len(r) > 1 and r[0] != "test"]
    if done.returncode != 0:
        lines = (done.stderr + done.stdout).strip().splitlines()
        errors = [line for line in lines if "rror" in line]
        raise RunFailed((errors or lines or [f"exit code {done.returncode}"])[-1].strip())
    if not rows:
        raise RunFailed(f"redis-benchmark printed no result for -t {test}")
    return float(rows[0][1])


def measure(server: Server, test: str, pipeline: int, requests: int) -> tuple[float, float]:
    """(ops/s, server CPU µs per request) of one run."""
    if server.proc.poll() is not None:
        raise RunFailed(f"{server.name} is not running (exit code {server.proc.returncode})")
    before = server.cpu_seconds()
    rps = redis_benchmark(server.port, test, pipeline, requests)
    cpu = server.cpu_seconds() - before
    return rps, cpu * 1e6 / requests


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}"


def redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    return next((w[2:] for w in out.split() if w.startswith("v=")), out.strip())


def median(samples: list[tuple[float, float]], i: int) -> float | None:
    return statistics.median(s[i] for s in samples) if samples else None


def cell(samples: list[tuple[float, float]], i: int, fmt: str, failed: bool) -> str:
    """The median of field ``i`` formatted, or why there is none."""
    if samples:
        return format(median(samples, i), fmt)
    return "failed" if failed else "-"


def report(results: dict, failures: dict, tests: list[str], pipelines: list[int]) -> None:
    """The side-by-side table; a cell whose runs all failed reads "failed"."""
    header = ["test", "pipeline", "pikamp ops/s", "redis ops/s", "pikamp/redis",
              "pikamp CPU µs/req", "redis CPU µs/req"]
    rows = []
    for pipeline in pipelines:
        for test in tests:
            p, r = results[test, pipeline, "pikamp"], results[test, pipeline, "redis"]
            p_failed = (test, pipeline, "pikamp") in failures
            r_failed = (test, pipeline, "redis") in failures
            ratio = f"{median(p, 0) / median(r, 0):.2f}" if p and r else "-"
            rows.append([test.upper(), str(pipeline), cell(p, 0, ",.0f", p_failed),
                         cell(r, 0, ",.0f", r_failed), ratio,
                         cell(p, 1, ".2f", p_failed), cell(r, 1, ".2f", r_failed)])
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    print(line(header))
    print("|" + "|".join(("-" * (w + 1) + ":") if i >= 2 else "-" * (w + 2)
                         for i, w in enumerate(widths)) + "|")
    for row in rows:
        print(line(row))


def run(args: argparse.Namespace, tmp: str, started: list[Server]) -> int:
    tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    pipelines = [int(p) for p in args.pipelines.split(",") if p.strip()]
    servers: list[Server] = []
    for server in (PikampServer(os.path.join(tmp, "pikamp"), args.workers),
                   RedisServer(os.path.join(tmp, "redis"))):
        started.append(server)
        servers.append(server.start())
    pikamp = servers[0]
    print(f"# {datetime.date.today().isoformat()}, {machine()}")
    print(f"# pikamp: {pikamp.workers} workers on :{pikamp.port}; "
          f"redis-server {redis_version()} (appendonly yes, appendfsync everysec) on :{servers[1].port}")
    print(f"# redis-benchmark -c {CLIENTS} -r {KEYSPACE} -n {args.requests}, "
          f"median of {args.repeat} run(s)\n", flush=True)

    results: dict = {(t, p, s.name): [] for t in tests for p in pipelines for s in servers}
    failures: dict = {}
    t0 = time.monotonic()
    for _ in range(args.repeat):
        for pipeline in pipelines:
            for test in tests:
                for server in servers:
                    key = (test, pipeline, server.name)
                    try:
                        sample = measure(server, test, pipeline, args.requests)
                    except RunFailed as e:
                        failures[key] = got = str(e)
                    else:
                        results[key].append(sample)
                        got = "%.0f ops/s, %.2f µs/req" % sample
                    if args.verbose:
                        print(f"  {server.name:6} {test.upper():5} -P {pipeline:<2} {got}", flush=True)
    report(results, failures, tests, pipelines)
    print(f"\n# {time.monotonic() - t0:.0f}s of benchmarking")
    for (test, pipeline, name), why in failures.items():
        print(f"FAILED {name} {test.upper()} -P {pipeline}: {why[:120]}")
    for server in servers:
        if server.proc.poll() is not None:
            print(f"{server.name} exited with code {server.proc.returncode}; log tail:\n{server.log_tail()}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100_000, help="requests per run (default 100000)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per cell; the median is shown (default 1)")
    ap.add_argument("--workers", type=int, default=0, help="pikamp workers (default 0: one per core)")
    ap.add_argument("--tests", default=",".join(TESTS),
                    help="redis-benchmark tests, or evalsha (default %(default)s)")
    ap.add_argument("--pipelines", default=",".join(map(str, PIPELINES)), help="-P values (default %(default)s)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run as it finishes")
    args = ap.parse_args(argv)
    if shutil.which("redis-benchmark") is None:
        print("redis-benchmark not found (apt-get install redis-tools)", file=sys.stderr)
        return 2

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    tmp = tempfile.mkdtemp(prefix="pikamp-bench-")
    started: list[Server] = []
    try:
        return run(args, tmp, started)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for server in reversed(started):
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
