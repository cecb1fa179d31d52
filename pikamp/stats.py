"""Server-wide facts for INFO, CLIENT, CONFIG, LASTSAVE: cross-worker gathering,
the server's identity, process CPU/memory (psutil over the whole tree) and the
per-worker operation rate.

A worker only sees its own clients, DBs and copy of the configuration. What
spans workers is asked of every worker with an internal command through
``Worker.call_all``; ``gather`` turns the replies back into values.
"""
from __future__ import annotations

import functools
import logging
import hashlib
import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import hiredis
import psutil

from pikamp.deferred import Deferred
from pikamp.errors import RespError
from pikamp.resp import decode
from pikamp.storage.engine import EXPIRES

if TYPE_CHECKING:  # (the worker uses this module: only the type, from below)
    from pikamp.worker import Worker

log = logging.getLogger("pikamp.stats")


def gather(worker: Worker, args: list[bytes], resp3: bool, combine: Callable[[list], object]) -> Deferred:
    """Run an internal command on every worker and answer ``combine(replies)``,
    where ``replies`` are the decoded replies indexed by worker. The first
    error reply of any worker (or a RespError raised by ``combine``) is the
    answer instead."""
    d = Deferred(resp3)

    def done(replies: list[bytes]) -> None:
        values = [decode(r) for r in replies]
        errors = [v for v in values if isinstance(v, hiredis.ReplyError)]
        if errors:
            d.resolve(RespError(str(errors[0])))
            return
        try:
            d.resolve(combine(values))
        except RespError as e:
            d.resolve(e)
        except Exception as e:  # a bug must not leave the client waiting for ever
            log.exception("combining the workers' replies to %r failed", args[:1])
            d.resolve(RespError(f"ERR internal error: {type(e).__name__}"))

    worker.call_all(args, done)
    return d


def pairs_to_dict(flat: list) -> dict:
    """A RESP2 map (flat key/value array) as a dict."""
    return dict(zip(flat[0::2], flat[1::2]))


# -- identity ------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """The server as a whole: the supervisor process and when it started."""

    pid: int
    started: float
    run_id: str
    replid: str


@functools.lru_cache(maxsize=1)
def identity() -> Identity:
    """Computed once per worker; every worker derives the same values from
    the supervisor's pid and start time, so they hold for the server's life."""
    pid = os.getppid()
    started = psutil.Process(pid).create_time()
    seed = f"{pid}:{started:.2f}".encode()
    return Identity(
        pid=pid,
        started=started,
        run_id=hashlib.sha1(b"run:" + seed).hexdigest(),
        replid=hashlib.sha1(b"replid:" + seed).hexdigest(),
    )


def last_save(dump_path: str, state: dict | None = None) -> int:
    """LASTSAVE: when the last dump was made (the bgsave process' ``state``,
    or the newest entry in ``dump_path``), or the server's start time if
    none was since (Redis counts the start as a save: nothing is unsaved
    then, and with RocksDB's WAL nothing ever is)."""
    newest = max(identity().started, (state or {}).get("last_save_time", 0))
    try:
        with os.scandir(dump_path) as entries:
            for entry in entries:
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    except OSError:
        pass
    return int(newest)


# -- processes -------------------------------------------------------------------
@dataclass(frozen=True)
class ProcessUsage:
    role: str  # from the process title: supervisor, worker_0, replication, ...
    pid: int
    sys: float
    user: float
    rss: int


def _role(p: psutil.Process) -> str:
    title = " ".join(p.cmdline())
    if not title.startswith("pikamp: "):
        return p.name()
    words = title[len("pikamp: "):].split()
    if words[0] == "worker" and len(words) > 1:
        return f"worker_{words[1]}"
    return words[0]


def process_tree() -> list[ProcessUsage]:
    """CPU time and RSS of the supervisor and every process under it."""
    root = psutil.Process(identity().pid)
    out = []
    for p in [root] + root.children(recursive=True):
        try:
            with p.oneshot():
                cpu = p.cpu_times()
                out.append(ProcessUsage(_role(p), p.pid, cpu.system, cpu.user, p.memory_info().rss))
        except psutil.Error:  # exited meanwhile
            continue
    return out


def human_bytes(n: int) -> str:
    """Redis's bytesToHuman: 1023B, 1.00K, 2.19M, ..."""
    if n < 1024:
        return f"{n}B"
    for i, unit in enumerate("KMGTP", 1):
        if n < 1024 ** (i + 1):
            return f"{n / 1024 ** i:.2f}{unit}"
    return f"{n}B"


def total_memory() -> int:
    return psutil.virtual_memory().total


# -- per-DB numbers ------------------------------------------------------------
EXPIRES_COUNT_LIMIT = 10_000


def expires_count(db) -> int:
    """Keys with a TTL (INFO keyspace ``expires``): the entries of the expiry
    index, counted exactly up to EXPIRES_COUNT_LIMIT (a few ms); past that,
    RocksDB's O(1) estimate of the index's size, which can drift (range
    deletes such as FLUSHDB are not in it), so it is only trusted beyond
    the exact part and never above the key count."""
    n = 0
    for _ in db.engine.iterate(EXPIRES, b""):
        n += 1
        if n == EXPIRES_COUNT_LIMIT:
            est = db.engine.cfs[EXPIRES].property_int_value("rocksdb.estimate-num-keys") or 0
            return max(n, min(est, db.size))
    return n


# -- instantaneous ops/sec --------------------------------------------------------
class OpsMeter:
    """instantaneous_ops_per_sec and instantaneous_input/output_kbps as Redis
    measures them: the mean of the last 16 rates, sampled every 100 ms."""

    SAMPLES = 16
    PERIOD = 0.1
    OPS, NET_IN, NET_OUT = 0, 1, 2

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.rates = [[0.0] * self.SAMPLES for _ in range(3)]
        self.next = 0
        self.last_time = time.monotonic()
        self.last = self._counts()
        worker.loop.call_later(self.PERIOD, self._sample)  # type: ignore[union-attr]

    def _counts(self) -> tuple[int, int, int]:
        w = self.worker
        return w.stat_commands, w.stat_net_in, w.stat_net_out

    def _sample(self) -> None:
        w = self.worker
        if w.stopping:
            return
        now = time.monotonic()
        counts = self._counts()
        elapsed = now - self.last_time
        if elapsed > 0:
            for i, (count, last) in enumerate(zip(counts, self.last)):
                self.rates[i][self.next] = max(0, count - last) / elapsed
            self.next = (self.next + 1) % self.SAMPLES
        self.last_time, self.last = now, counts
        w.loop.call_later(self.PERIOD, self._sample)  # type: ignore[union-attr]

    def rate(self, which: int = 0) -> int:
        return int(sum(self.rates[which]) / self.SAMPLES)

    def reset(self) -> None:
        self.rates = [[0.0] * self.SAMPLES for _ in range(3)]
        self.last = self._counts()


_meters: weakref.WeakKeyDictionary[Worker, OpsMeter] = weakref.WeakKeyDictionary()


def ops_meter(worker: Worker) -> OpsMeter:
    """The worker's meter, started the first time INFO asks for it."""
    meter = _meters.get(worker)
    if meter is None:
        meter = _meters[worker] = OpsMeter(worker)
    return meter


# -- memory --------------------------------------------------------------------
@dataclass
class Memory:
    """The server's memory, in Redis' terms: the process tree's RSS is what
    it uses (Python objects, RocksDB's memtables and block cache); the data
    held in memory is the memtables and the cached blocks."""

    used: int
    peak: int
    startup: int
    dataset: int
    clients_normal: int
    keys: int


def _read_number(path: str) -> int:
    """The number a runtime file holds (0: none yet, or unreadable)."""
    try:
        with open(path) as f:
            return int(f.read() or 0)
    except (OSError, ValueError):
        return 0


def _write_number(path: str, value: int) -> None:
    """Replace a runtime file's number at once (readers see the old or the new)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(str(value))
        os.replace(tmp, path)
    except OSError:
        pass


def memory_peak(run_dir: str, used: int) -> int:
    """The most the server has used since it started, kept in a runtime file
    so that every worker reports the same (INFO used_memory_peak)."""
    path = os.path.join(run_dir, "memory-peak")
    peak = _read_number(path)
    if used > peak:
        _write_number(path, used)
        peak = used
    return peak


STARTUP_FILE = "memory-startup"


def record_startup_memory(run_dir: str) -> None:
    """Note the process tree's RSS once the server has started, before it
    served anything (Redis' used_memory_startup). Once per start of the server:
    a worker restarted later finds it there."""
    path = os.path.join(run_dir, STARTUP_FILE)
    if not os.path.exists(path):
        _write_number(path, sum(p.rss for p in process_tree()))


def memory_startup(run_dir: str) -> int:
    """What record_startup_memory noted (0 until it has)."""
    return _read_number(os.path.join(run_dir, STARTUP_FILE))


def memory(run_dir: str, gathered: list[dict]) -> Memory:
    """Memory figures from the workers' __info replies (asked with "rocksdb")."""
    used = sum(p.rss for p in process_tree())
    caches = [g[b"block_cache"][1] for g in gathered if b"block_cache" in g]
    memtables = sum(pairs_to_dict(entry[1]).get(b"memtable_bytes", 0)
                    for g in gathered for entry in g.get(b"rocksdb", []))
    return Memory(
        used=used,
        peak=memory_peak(run_dir, used),
        startup=memory_startup(run_dir),
        dataset=min(used, memtables + sum(caches)),
        clients_normal=sum(g.get(b"client_output", 0) for g in gathered),
        keys=sum(entry[1] for g in gathered for entry in g.get(b"keyspace", [])),
    )
