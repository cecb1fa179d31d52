"""Start and stop the servers a benchmark compares: pikamp and a real redis-server.

Both listen on free 127.0.0.1 ports and keep their files in a directory the
caller owns. Each runs in its own session, so a Ctrl-C in the terminal reaches
only the benchmark, which then stops the servers itself, by pid.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import psutil

HOST = "127.0.0.1"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    """A free loopback port whose +2000 neighbour (pikamp's replication port) is free too."""
    while True:
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port + 2000 > 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind((HOST, port + 2000))
            except OSError:
                continue
        return port


def wait_ping(port: int, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    """Wait until the server on ``port`` answers PING (failing early if ``proc`` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with code {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no PONG on port {port} after {timeout:.0f}s")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its live descendants, plus the
    children they have already reaped (a Redis AOF-rewrite fork, for example)."""
    total = 0.0
    root = psutil.Process(pid)
    for p in [root] + root.children(recursive=True):
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


class Server:
    """A server process tree we started; stopped by the pids we know."""

    name = "server"

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = None
        os.makedirs(workdir, exist_ok=True)

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.log = open(os.path.join(self.workdir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(argv, cwd=self.workdir, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(os.path.join(self.workdir, "stdout.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the root; SIGKILL whatever of the tree is left after ``timeout``."""
        if self.proc is None:
            return
        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        _, alive = psutil.wait_procs(tree, timeout=2)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None


class PikampServer(Server):
    """``pikamp start -c <conf>`` with default settings except port, paths and workers."""

    name = "pikamp"

    def __init__(self, workdir: str, workers: int = 0) -> None:
        super().__init__(workdir)
        self.workers = workers or os.cpu_count() or 1
        settings = {
            "port": self.port,
            "bind": HOST,
            "workers": self.workers,
            "db-path": os.path.join(workdir, "db"),
            "log-path": os.path.join(workdir, "log"),
            "dump-path": os.path.join(workdir, "dump"),
            "pidfile": os.path.join(workdir, "pika.pid"),
        }
        self.conf_path = os.path.join(workdir, "pika.conf")
        with open(self.conf_path, "w") as f:
            f.writelines(f"{k} : {v}\n" for k, v in settings.items())

    def start(self, timeout: float = 30.0) -> "PikampServer":
        env = dict(os.environ)
        # Run the checkout's pikamp even when it is not installed.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
        self._spawn([sys.executable, "-m", "pikamp.cli", "start", "-c", self.conf_path], env)
        wait_ping(self.port, self.proc, timeout)
        self._wait_all_workers_listening(timeout)
        return self

    def _wait_all_workers_listening(self, timeout: float) -> None:
        """SO_REUSEPORT spreads connections only over sockets already bound: wait
        for every worker so the benchmark's connections reach all of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._listening_workers() >= self.workers:
                return
            time.sleep(0.05)
        raise TimeoutError(f"pikamp: only {self._listening_workers()} of {self.workers} workers listening")

    def _listening_workers(self) -> int:
        n = 0
        for p in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if any(c.status == psutil.CONN_LISTEN and c.laddr.port == self.port
                       for c in p.net_connections("tcp")):
                    n += 1
            except psutil.NoSuchProcess:
                pass
        return n


class RedisServer(Server):
    """Debian's redis-server, persisting like a durable store: AOF, fsync every second."""

    name = "redis"

    def start(self, timeout: float = 10.0) -> "RedisServer":
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not installed (apt-get install redis-server)")
        self._spawn([exe, "--port", str(self.port), "--bind", HOST, "--dir", self.workdir,
                     "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                     "--daemonize", "no"])
        wait_ping(self.port, self.proc, timeout)
        return self
