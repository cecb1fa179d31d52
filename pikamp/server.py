"""Starting the whole server: directories, pid file, daemonizing, the process tree."""
from __future__ import annotations

import fcntl
import functools
import logging
import os
import socket
import sys

from setproctitle import setproctitle

from pikamp import logs, services, worker
from pikamp.commands import load_all
from pikamp.config import Config
from supervisor import ChildSpec, Supervisor

log = logging.getLogger("pikamp")


def read_pid(config: Config) -> int | None:
    """The supervisor pid from the pid file, if a running server holds the file.

    A running supervisor keeps an exclusive lock on its pid file, so a stale
    file (a killed server, a pid reused by another process) reads as None."""
    try:
        fd = os.open(config.path_of("pidfile"), os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # released by close
    except BlockingIOError:
        try:
            return int(os.read(fd, 64).strip())
        except ValueError:  # locked, pid not written yet
            return None
    finally:
        os.close(fd)
    return None


def _lock_pidfile(path: str) -> int | None:
    """Open and exclusively lock the pid file; None when another server holds it."""
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if _is_file_of(fd, path):
            return fd
        os.close(fd)  # the previous server removed the file as we opened it: lock the new one
    return None


def _is_file_of(fd: int, path: str) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _port_problem(config: Config) -> str | None:
    """Why the port cannot be served, if it cannot. The workers bind it with
    SO_REUSEPORT, which would quietly share it with another server started by
    the same user, so first check that nothing listens there."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((config.get("bind"), config.int("port")))
    except OSError as e:
        return e.strerror or str(e)
    return None


def _daemonize() -> None:
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    fd = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(fd, std)


def start(config: Config, daemonize: bool) -> int:
    """Run the server until it is stopped. Returns the exit code."""
    pidfile = config.path_of("pidfile")
    os.makedirs(os.path.dirname(pidfile), exist_ok=True)
    lock = _lock_pidfile(pidfile)
    if lock is None:
        running = read_pid(config)
        print("pikamp is already running" + (f" (pid {running})" if running else ""), file=sys.stderr)
        return 1
    problem = _port_problem(config)
    if problem:
        print(f"pikamp cannot listen on {config.get('bind')}:{config.get('port')}: {problem}", file=sys.stderr)
        os.unlink(pidfile)
        os.close(lock)
        return 1
    for key in ("db-path", "log-path", "dump-path"):
        os.makedirs(config.path_of(key), exist_ok=True)
    if daemonize:
        _daemonize()  # the lock's open file stays with the daemon
    setproctitle(f"pikamp: supervisor {config.get('bind')}:{config.get('port')}")
    logs.setup(config, foreground=not daemonize)
    os.ftruncate(lock, 0)
    os.pwrite(lock, f"{os.getpid()}\n".encode(), 0)
    children = [
        ChildSpec(f"worker {i}", functools.partial(worker.run, i, config))
        for i in range(config.workers)
    ] + [ChildSpec(name, functools.partial(services.run, name, config)) for name in services.SERVICES]
    log.info("pikamp starting on %s:%s with %d workers, %d databases in %s",
             config.get("bind"), config.get("port"), config.workers, config.databases,
             config.path_of("db-path"))
    try:
        load_all()  # once, before forking: a restarted worker inherits the command table
        Supervisor(children).run()
    finally:
        if _is_file_of(lock, pidfile):
            os.unlink(pidfile)
        os.close(lock)
        log.info("pikamp stopped")
    return 0
