"""The keyscan process: Pika's background key statistics (INFO keyspace 1).

It opens each DB as a RocksDB secondary instance (read-only, catching up
with the owner's writes; the workers' hot path is never touched), walks the
meta column family and counts, per type, the keys, those with a TTL, and the
invalid ones (expired, not yet removed). Progress and the result go to
``.run/keyscan.json`` (read_state), which INFO keyspace shows in Pika's
format, and to the log.

Request (RESP array on ``.run/keyscan.sock``): START -> +OK (a scan that is
already running is not started twice).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time

from setproctitle import setproctitle

from pikamp.config import Config
from pikamp.services.requests import RequestConn, listen, stop_event
from pikamp.storage import codec
from pikamp.storage.engine import META, Engine, Tuning

log = logging.getLogger("pikamp.keyscan")

SOCKET_NAME = "keyscan.sock"
STATE_NAME = "keyscan.json"
TYPES = (("Strings", codec.STRING), ("Hashes", codec.HASH), ("Lists", codec.LIST), ("Zsets", codec.ZSET),
         ("Sets", codec.SET))
PROGRESS_EVERY = 100_000  # keys between progress reports


def socket_path(run_dir: str) -> str:
    return os.path.join(run_dir, SOCKET_NAME)


def read_state(run_dir: str) -> dict:
    """The last published scan state ({} before the first scan)."""
    try:
        with open(os.path.join(run_dir, STATE_NAME)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def count_db(eng: Engine, now_ms: int, progress) -> dict[str, list[int]]:
    """{type name: [keys, expires, invalid]} of one DB."""
    counts = {name: [0, 0, 0] for name, _ in TYPES}
    names = {typ: name for name, typ in TYPES}
    seen = 0
    for _, raw in eng.iterate(META, b""):
        row = counts[names.get(codec.logical_type(raw), "Strings")]
        expire = codec.meta_expire(raw)
        if expire and expire <= now_ms:
            row[2] += 1
        else:
            row[0] += 1
            if expire:
                row[1] += 1
        seen += 1
        if seen % PROGRESS_EVERY == 0:
            progress(seen)
    return counts


class Scanner:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.run_dir = os.path.join(config.path_of("db-path"), ".run")
        self.lock = threading.Lock()
        self.running = False
        self.state = read_state(self.run_dir)
        self.state["running"] = False

    def publish(self) -> None:
        os.makedirs(self.run_dir, exist_ok=True)
        tmp = os.path.join(self.run_dir, STATE_NAME + ".tmp")
        with open(tmp, "w") as f:
            json.dump(self.state, f)
        os.replace(tmp, os.path.join(self.run_dir, STATE_NAME))

    def start(self) -> None:
        with self.lock:
            if self.running:
                return
            self.running = True
        threading.Thread(target=self.scan, name="keyscan", daemon=True).start()

    def scan(self) -> None:
        cfg = self.config
        started = time.time()
        self.state.update(running=True, started=int(started), progress="starting")
        self.publish()
        log.info("key scan started over %d DBs", cfg.databases)
        result: dict[str, dict] = {}
        work = os.path.join(self.run_dir, "keyscan")
        try:
            for i in range(cfg.databases):
                path = os.path.join(cfg.path_of("db-path"), f"db{i}")
                if not os.path.isdir(path):
                    continue
                secondary = os.path.join(work, f"db{i}")
                os.makedirs(secondary, exist_ok=True)
                eng = Engine(path, tuning=Tuning(), block_cache_size=8 << 20, secondary_path=secondary)
                try:
                    eng.catch_up()

                    def progress(n: int, i: int = i) -> None:
                        self.state["progress"] = f"db{i}: {n} keys"
                        self.publish()

                    self.state["progress"] = f"db{i}"
                    self.publish()
                    result[str(i)] = count_db(eng, int(time.time() * 1000), progress)
                finally:
                    eng.close()
            self.state.update(dbs=result, duration=int(time.time() - started), finished=int(time.time()),
                              error="")
            log.info("key scan done in %.1f s: %d keys", time.time() - started,
                     sum(row[0] for db in result.values() for row in db.values()))
        except Exception as e:
            log.error("key scan failed: %s", e)
            self.state.update(error=str(e))
        finally:
            shutil.rmtree(work, ignore_errors=True)
            self.state.update(running=False, progress="")
            self.publish()
            with self.lock:
                self.running = False


def info_lines(state: dict, ndbs: int) -> list[str]:
    """Pika's INFO keyspace block for a scan's state (none before the first)."""
    if not state.get("started"):
        return []
    when = state.get("started", 0)
    lines = ['# Use "info keyspace 1" to do async statistics',
             f"# Time:{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(when))}"]
    if state.get("running"):
        progress = state.get("progress")
        lines.append("# Duration: In Processing" + (f" ({progress})" if progress else ""))
    else:
        lines.append(f"# Duration: {state.get('duration', 0)}s")
    dbs = state.get("dbs", {})
    for i in range(ndbs):
        counts = dbs.get(str(i))
        if counts is None:
            continue
        for name, _ in TYPES:
            keys, expires, invalid = counts.get(name, [0, 0, 0])
            lines.append(f"db{i} {name}_keys={keys}, expires={expires}, invalid_keys={invalid}")
        lines.append(f"db{i} Streams_keys=0, expires=0, invalid_keys=0")  # no streams here yet
    return lines


class KeyscanConn(RequestConn):
    def __init__(self, scanner: Scanner) -> None:
        super().__init__()
        self.scanner = scanner

    def handle(self, msg: list) -> None:
        if msg[:1] == [b"START"]:
            self.scanner.start()
            self.reply(b"+OK\r\n")


async def serve(config: Config) -> None:
    scanner = Scanner(config)
    scanner.publish()
    path = socket_path(scanner.run_dir)
    server = await listen(path, lambda: KeyscanConn(scanner))
    stop = stop_event()
    log.info("keyscan service listening on %s", path)
    await stop.wait()
    server.close()


def run(config: Config) -> None:
    """Entry point of the keyscan process."""
    import uvloop

    setproctitle("pikamp: keyscan")
    uvloop.run(serve(config))
    log.info("keyscan service stopped")
