"""Replication: what the binlog costs, how far a replica lags, how fast it
catches up, how fast a full sync is.

    python3 benchmarks/replication.py --quick      # about 2 minutes
    python3 benchmarks/replication.py              # 1 GB full sync, 60 s outage: about 10 minutes

1. SET throughput (redis-benchmark -P 16, 50 clients) on a master with
   write-binlog no, with write-binlog yes, and with a replica attached; the
   replica's lag (master_repl_offset - slave_repl_offset, in binlog bytes)
   sampled during the last run, and the time it needs to catch up after.
2. Partial resync: the replica is stopped for --outage seconds while writes go
   on, then started: seconds until it is in sync, and whether it needed a full
   sync (it must not).
3. Full sync: --full-mb of 1000-byte values loaded in DB 0, then a new
   replica's SLAVEOF until in sync, next to `cp -a` of that DB (a SAVE dump of it).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import HOST, PikampServer  # noqa: E402


def info(port: int, section: str = "replication") -> dict[str, str]:
    out = subprocess.run(["redis-cli", "-h", HOST, "-p", str(port), "info", section],
                         capture_output=True, text=True, timeout=30).stdout
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def lag(master: int, replica: int) -> int | None:
    r = info(replica)
    if r.get("master_link_status") != "up":
        return None
    return int(info(master)["master_repl_offset"]) - int(r["slave_repl_offset"])


def wait_synced(master: int, replica: int, timeout: float = 3600) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        r = info(replica)
        if r.get("master_link_status") == "up" and r.get("master_sync_in_progress") == "0" and lag(master, replica) == 0:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise TimeoutError("replica never caught up")


def server(root: str, name: str, workers: int, **extra: str) -> PikampServer:
    s = PikampServer(os.path.join(root, name), workers)
    with open(s.conf_path, "a") as f:
        f.writelines(f"{k.replace('_', '-')} : {v}\n" for k, v in extra.items())
    return s.start()


def bench_set(port: int, n: int, size: int = 100) -> float:
    out = subprocess.run(["redis-benchmark", "-h", HOST, "-p", str(port), "-t", "set", "-n", str(n), "-c", "50",
                          "-P", "16", "-r", "1000000", "-d", str(size), "--csv"],
                         capture_output=True, text=True, timeout=3600).stdout
    return float(out.splitlines()[-1].split(",")[1].strip('"'))


def slaveof(replica: int, master: int) -> None:
    subprocess.run(["redis-cli", "-h", HOST, "-p", str(replica), "slaveof", HOST, str(master)], check=True,
                   capture_output=True, timeout=30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--requests", type=int, default=300_000)
    ap.add_argument("--outage", type=float, default=60.0)
    ap.add_argument("--full-mb", type=int, default=1024)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dir", default=None, help="where the servers keep their files")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.quick:
        args.requests, args.outage, args.full_mb = 100_000, 10.0, 100
    root = tempfile.mkdtemp(prefix="pikamp-repl-", dir=args.dir)
    result: dict[str, object] = {}
    started: list[PikampServer] = []
    try:
        # 1. the binlog's cost, and lag under load
        for mode in ("no", "yes"):
            m = server(root, f"solo-{mode}", args.workers, write_binlog=mode)
            started.append(m)
            result[f"set_rps_binlog_{mode}"] = bench_set(m.port, args.requests)
            m.stop()
        master = server(root, "master", args.workers)
        replica = server(root, "replica", args.workers)
        started += [master, replica]
        slaveof(replica.port, master.port)
        wait_synced(master.port, replica.port)
        lags: list[int] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                v = lag(master.port, replica.port)
                if v is not None:
                    lags.append(v)
                time.sleep(0.2)

        t = threading.Thread(target=sample)
        t.start()
        result["set_rps_binlog_yes_with_replica"] = bench_set(master.port, args.requests)
        done.set()
        t.join()
        result["catch_up_after_load_s"] = round(wait_synced(master.port, replica.port), 3)
        result["lag_bytes_max"] = max(lags, default=0)
        result["lag_bytes_median"] = sorted(lags)[len(lags) // 2] if lags else 0

        # 2. partial resync after an outage
        full_before = info(master.port, "stats")["sync_full"]
        replica.stop()
        writer = subprocess.Popen(["redis-benchmark", "-h", HOST, "-p", str(master.port), "-t", "set", "-n",
                                   "100000000", "-c", "4", "-r", "1000000", "-d", "100", "-q"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(args.outage)
        writer.kill()
        writer.wait()
        behind = int(info(master.port)["master_repl_offset"])
        replica.start()
        result["outage_s"] = args.outage
        result["partial_resync_s"] = round(wait_synced(master.port, replica.port), 3)
        result["full_sync_during_resync"] = info(master.port, "stats")["sync_full"] != full_before
        result["master_offset_at_restart"] = behind

        # 3. full sync of --full-mb next to cp -a
        subprocess.run(["redis-cli", "-h", HOST, "-p", str(master.port), "flushall"], check=True,
                       capture_output=True)
        n = args.full_mb * 1024
        subprocess.run(["redis-benchmark", "-h", HOST, "-p", str(master.port), "-t", "set", "-n", str(n), "-c", "50",
                        "-P", "16", "-r", str(n), "-d", "1000", "-q"], capture_output=True, timeout=7200)
        # cp of a still-open RocksDB races its compactions: copy a SAVE dump's db0 (the same files).
        subprocess.run(["redis-cli", "-h", HOST, "-p", str(master.port), "save"], capture_output=True, check=True)
        dumps = os.path.join(root, "master", "dump")
        db0 = os.path.join(dumps, max(os.listdir(dumps)), "db0")
        t0 = time.monotonic()
        subprocess.run(["cp", "-a", db0, os.path.join(root, "copy-db0")], check=True)
        result["cp_db0_s"] = round(time.monotonic() - t0, 3)
        result["db0_bytes"] = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(db0) for f in fs)
        fresh = server(root, "fresh", args.workers)
        started.append(fresh)
        t0 = time.monotonic()
        slaveof(fresh.port, master.port)
        wait_synced(master.port, fresh.port)
        result["full_sync_s"] = round(time.monotonic() - t0, 3)
        result["full_sync_mb_per_s"] = round(result["db0_bytes"] / 1e6 / result["full_sync_s"], 1)
    finally:
        for s in started:
            s.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
