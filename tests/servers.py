"""Start and stop real servers for tests: pikamp and the reference redis-server.

Each server gets a free loopback port and its own temporary directory, and is
stopped by the pid we started (then SIGKILLed if it does not stop)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import psutil

# The launcher the benchmarks use: free ports and readiness, in one place.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
from launch import HOST, free_port, wait_ping  # noqa: E402,F401  (re-exported for the tests)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PikampServer:
    """A pikamp process tree started with ``pikamp start -c <tmp conf>``."""

    def __init__(self, workdir: str, port: int | None = None, **conf: object) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        os.makedirs(workdir, exist_ok=True)
        settings = {
            "port": self.port,
            "bind": HOST,
            "workers": 2,
            "databases": 16,
            "db-path": os.path.join(workdir, "db"),
            "log-path": os.path.join(workdir, "log"),
            "dump-path": os.path.join(workdir, "dump"),
            "pidfile": os.path.join(workdir, "pika.pid"),
            "timeout": 0,
        }
        settings.update({k.replace("_", "-"): v for k, v in conf.items()})
        self.conf_path = os.path.join(workdir, "pika.conf")
        with open(self.conf_path, "w") as f:
            for k, v in settings.items():
                f.write(f"{k} : {v}\n")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "PikampServer":
        self.log = open(os.path.join(self.workdir, "stderr.log"), "ab")
        # Run the working tree's pikamp, not whatever copy is installed.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pikamp.cli", "start", "-c", self.conf_path],
            cwd=self.workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_ping(self.port, self.proc, timeout)
        self.wait_all_workers()
        return self

    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children()

    def worker_pids(self) -> dict[int, int]:
        """worker index -> pid, read from the process titles."""
        out = {}
        for p in self.children():
            try:
                title = " ".join(p.cmdline())
            except psutil.NoSuchProcess:
                continue
            if title.startswith("pikamp: worker "):
                out[int(title.split()[2])] = p.pid
        return out

    def wait_all_workers(self, timeout: float = 20.0) -> None:
        """Wait until every DB answers (each worker owns some)."""
        import redis

        deadline = time.monotonic() + timeout
        for db in range(2):
            while True:
                try:
                    redis.Redis(host=HOST, port=self.port, db=db, protocol=2,
                                socket_timeout=2).dbsize()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM the supervisor; SIGKILL the whole tree if it does not stop."""
        if self.proc is None:
            return None
        try:
            kids = self.children()
        except psutil.NoSuchProcess:
            kids = []
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        for p in kids + [psutil.Process(self.proc.pid)] if code is None else kids:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        if code is None:
            self.proc.wait(5)
        self.proc = None
        self.log.close()
        return code


class RedisServer:
    """The reference: Debian's redis-server 7.0, no persistence, on a free port."""

    def __init__(self, workdir: str, *extra: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not installed (apt-get install redis-server)")
        os.makedirs(self.workdir, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
             "--dir", self.workdir, "--daemonize", "no", *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_ping(self.port, self.proc, 10)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
