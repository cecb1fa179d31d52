"""The bgsave process: BGSAVE, SAVE and DELBACKUP, and dump-expire.

A dump is a RocksDB checkpoint (hard links: it costs no copy and little
time) of every DB, made by each DB's owner worker when asked (the internal
``__checkpoint``), into ``dump-path/<dump-prefix>YYYYMMDDHHMMSS/db<i>``,
plus an ``info`` file. It is built under a hidden name and renamed when
complete, so a dump directory that exists is whole. Each worker checkpoints
its DBs in one event-loop turn: consistent across its DBs; the workers do
theirs one after the other.

A server started with ``db-path`` set to a dump directory serves exactly the
saved data (the dump has the layout of a db-path).

Requests (RESP arrays on ``.run/bgsave.sock``; the reply is the client's):
  BGSAVE [SCHEDULE] / SAVE / DELBACKUP
State for INFO persistence and LASTSAVE: ``.run/bgsave.json`` (read_state).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import threading
import time

from setproctitle import setproctitle

from pikamp import ipc
from pikamp.config import Config
from pikamp.services.requests import RequestConn, listen, stop_event

log = logging.getLogger("pikamp.bgsave")

SOCKET_NAME = "bgsave.sock"
STATE_NAME = "bgsave.json"
CHECKPOINT_TIMEOUT = 600.0  # one worker's checkpoint of its DBs (a memtable flush each)
_STAMP = re.compile(r"^(\d{14})(?:-\d+)?$")


def socket_path(run_dir: str) -> str:
    return os.path.join(run_dir, SOCKET_NAME)


def read_state(run_dir: str) -> dict:
    """The bgsave process' last published state ({} before any)."""
    try:
        with open(os.path.join(run_dir, STATE_NAME)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class Saver:
    """Makes dumps, one at a time, in a thread of the bgsave process."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.run_dir = os.path.join(config.path_of("db-path"), ".run")
        self.lock = threading.Lock()
        self.running: threading.Thread | None = None
        self.scheduled = False
        self.waiters: list = []  # (loop, future) of SAVEs waiting for the running dump
        self.remove_partial()
        old = read_state(self.run_dir)
        self.state = {
            "in_progress": 0, "started": 0, "dump": "", "done": 0, "total": 0,
            "last_status": old.get("last_status", "ok"), "last_save_time": old.get("last_save_time", 0),
            "last_duration": old.get("last_duration", -1), "saves": 0, "last_dump": old.get("last_dump", ""),
        }
        self.publish()

    def remove_partial(self) -> None:
        """What a dump cut short (this process killed) left behind."""
        dump_path = self.config.path_of("dump-path")
        try:
            names = os.listdir(dump_path)
        except OSError:
            return
        for name in names:
            if name.startswith(".") and name.endswith(".partial"):
                log.info("removing the unfinished dump %s", name)
                shutil.rmtree(os.path.join(dump_path, name), ignore_errors=True)

    def publish(self) -> None:
        tmp = os.path.join(self.run_dir, STATE_NAME + ".tmp")
        os.makedirs(self.run_dir, exist_ok=True)
        with open(tmp, "w") as f:
            json.dump(self.state, f)
        os.replace(tmp, os.path.join(self.run_dir, STATE_NAME))

    # -- requests ------------------------------------------------------------
    def bgsave(self, schedule: bool) -> bytes:
        with self.lock:
            if self.running is not None:
                if schedule:
                    self.scheduled = True
                    return b"+Background saving scheduled\r\n"
                return b"-ERR Background save already in progress\r\n"
            self.start()
        return b"+Background saving started\r\n"

    def save(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future | bytes:
        with self.lock:
            if self.running is not None:
                return b"-ERR Background save already in progress\r\n"
            fut = loop.create_future()
            self.waiters.append((loop, fut))
            self.start()
        return fut

    def start(self) -> None:
        self.running = threading.Thread(target=self.run, name="bgsave", daemon=True)
        self.running.start()

    # -- the dump --------------------------------------------------------------
    def run(self) -> None:
        cfg = self.config
        dump_path = cfg.path_of("dump-path")
        name = cfg.get("dump-prefix") + time.strftime("%Y%m%d%H%M%S")
        final = os.path.join(dump_path, name)
        n = 1
        while os.path.exists(final):  # two dumps in one second
            final = os.path.join(dump_path, f"{name}-{n}")
            n += 1
        partial = os.path.join(dump_path, "." + os.path.basename(final) + ".partial")
        started = time.time()
        self.state.update(in_progress=1, started=int(started), dump=os.path.basename(final), done=0,
                          total=cfg.workers)
        self.publish()
        log.info("bgsave started: %s", final)
        error = None
        try:
            shutil.rmtree(partial, ignore_errors=True)
            os.makedirs(partial)
            for worker in range(cfg.workers):
                t0 = time.monotonic()
                reply = ipc.call_blocking(self.run_dir, worker, -1, [b"__checkpoint", partial.encode()],
                                          CHECKPOINT_TIMEOUT)
                if reply[:1] == b"-":
                    raise RuntimeError(f"worker {worker}: {reply[1:].strip().decode('latin-1')}")
                self.state["done"] = worker + 1
                self.publish()
                log.info("bgsave: worker %d checkpointed its DBs in %.0f ms (%d of %d)",
                         worker, (time.monotonic() - t0) * 1000, worker + 1, cfg.workers)
            with open(os.path.join(partial, "info"), "w") as f:
                # Pika's info file, one value per line: the snapshot time, the
                # master's address, and the binlog position (none yet: 0 0).
                f.write(f"{int(started)}\n{cfg.get('bind')}\n{cfg.get('port')}\n0\n0\n")
            os.rename(partial, final)
        except Exception as e:  # a full disk, a worker that went away ...
            error = str(e) or type(e).__name__
            log.error("bgsave into %s failed: %s", final, error)
            shutil.rmtree(partial, ignore_errors=True)
        elapsed = time.time() - started
        self.state.update(in_progress=0, done=0, total=0, dump="", last_status="err" if error else "ok",
                          last_duration=int(round(elapsed)))
        if error is None:
            self.state.update(last_save_time=int(time.time()), last_dump=os.path.basename(final))
            self.state["saves"] += 1
            log.info("bgsave done in %.2f s: %s", elapsed, final)
            self.expire_dumps()
        self.publish()
        with self.lock:
            self.running = None
            waiters, self.waiters = self.waiters, []
            again, self.scheduled = self.scheduled, False
            if again:
                self.start()
        reply = b"+OK\r\n" if error is None else b"-ERR " + error.encode("latin-1", "replace") + b"\r\n"
        for loop, fut in waiters:
            loop.call_soon_threadsafe(lambda fut=fut: fut.done() or fut.set_result(reply))

    def dumps(self) -> list[tuple[str, float]]:
        """(path, time of the snapshot) of every dump in dump-path."""
        prefix = self.config.get("dump-prefix")
        dump_path = self.config.path_of("dump-path")
        out = []
        try:
            names = os.listdir(dump_path)
        except OSError:
            return []
        for name in names:
            m = _STAMP.match(name[len(prefix):]) if name.startswith(prefix) else None
            if m is None:
                continue
            try:
                when = time.mktime(time.strptime(m.group(1), "%Y%m%d%H%M%S"))
            except ValueError:
                continue
            out.append((os.path.join(dump_path, name), when))
        return out

    def expire_dumps(self) -> None:
        """dump-expire: remove dumps older than that many days (0: keep all)."""
        days = self.config.int("dump-expire")
        if days <= 0:
            return
        limit = time.time() - days * 86400
        for path, when in self.dumps():
            if when < limit:
                log.info("removing dump %s (older than dump-expire %d days)", path, days)
                shutil.rmtree(path, ignore_errors=True)

    def delbackup(self) -> bytes:
        """DELBACKUP: every dump goes (a dump being made is not one yet)."""
        for path, _ in self.dumps():
            log.info("DELBACKUP: removing %s", path)
            shutil.rmtree(path, ignore_errors=True)
        return b"+OK\r\n"


class BgsaveConn(RequestConn):
    def __init__(self, saver: Saver) -> None:
        super().__init__()
        self.saver = saver

    def handle(self, msg: list) -> None:
        op = msg[0].lower()
        if op == b"bgsave":
            self.reply(self.saver.bgsave(len(msg) > 1 and msg[1].lower() == b"schedule"))
        elif op == b"save":
            r = self.saver.save(asyncio.get_running_loop())
            if isinstance(r, bytes):
                self.reply(r)
            else:
                r.add_done_callback(lambda fut: self.reply(fut.result()))
        elif op == b"delbackup":
            self.reply(self.saver.delbackup())
        else:
            self.reply(b"-ERR unknown bgsave request\r\n")


async def serve(config: Config) -> None:
    saver = Saver(config)
    path = socket_path(saver.run_dir)
    server = await listen(path, lambda: BgsaveConn(saver))
    stop = stop_event()
    log.info("bgsave service listening on %s", path)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 3600)
        except asyncio.TimeoutError:
            saver.expire_dumps()  # hourly, as well as after each dump
    server.close()


def run(config: Config) -> None:
    """Entry point of the bgsave process."""
    import uvloop

    setproctitle("pikamp: bgsave")
    uvloop.run(serve(config))
    log.info("bgsave service stopped")
