"""Starting the whole server: directories, pid file, daemonizing, the process tree."""
from __future__ import annotations

import fcntl
import functools
import logging
import os
import socket
import sys
import time

from setproctitle import setproctitle

from pikamp import acl, clientcount, logs, services, worker
from pikamp.commands import load_all
from pikamp.commands.table import COMMANDS
from pikamp.config import Config, clear_runtime, parse_renames
from supervisor import ChildSpec, Supervisor
from supervisor.limits import raise_open_files

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


# After a kill -9 of the supervisor its children, which inherited the locked
# pid file, stop on their own (PR_SET_PDEATHSIG) and release it when the last
# one exits; a new start waits this long for that.
LOCK_WAIT = 5.0


def _holders(path: str) -> list[int]:
    """Pids of the processes (of those we may look at) with ``path`` open."""
    path = os.path.realpath(path)
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            for fd in os.listdir(fd_dir):
                if os.readlink(f"{fd_dir}/{fd}") == path:
                    out.append(int(entry))
                    break
        except OSError:  # gone, or not ours
            continue
    return sorted(out)


def _lock_or_wait(path: str, config: Config) -> tuple[int | None, str]:
    """Lock the pid file, waiting up to LOCK_WAIT while the processes of a
    server whose supervisor is gone still hold it. (fd, "") or (None, why not)."""
    deadline = time.monotonic() + LOCK_WAIT
    said = False
    while True:
        lock = _lock_pidfile(path)
        if lock is not None:
            return lock, ""
        pid = read_pid(config)
        holders = [p for p in _holders(path) if p != os.getpid()]
        if pid and (pid in holders or (not holders and _alive(pid))):
            return None, f"pikamp is already running (pid {pid})"
        if not pid and not holders:
            return None, "pikamp is already running"
        if time.monotonic() >= deadline:
            return None, (f"pikamp (pid {pid}) is gone, but its processes {_pids(holders)} still hold the "
                          f"pid file {path} after {LOCK_WAIT:.0f}s; stop them, then start again")
        if holders and not said:
            print(f"pikamp: the previous server (pid {pid}) is gone; waiting for its processes "
                  f"{_pids(holders)} to exit", file=sys.stderr)
            said = True
        time.sleep(0.05)


def _pids(pids: list[int]) -> str:
    return ", ".join(map(str, pids)) or "(unknown)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fit_maxclients(config: Config) -> tuple[str | None, str | None]:
    """Raise the open files limit to what maxclients needs, as Redis'
    adjustOpenFilesLimit does, or lower maxclients to fit the limit there is.
    Children inherit both. Returns (message to log, fatal error)."""
    maxclients = config.int("maxclients")
    reserve = clientcount.reserved_fds(config, len(services.SERVICES))
    wanted = maxclients + reserve
    before, limit, why = raise_open_files(wanted)
    if limit >= wanted:
        if limit > before:
            return f"increased the open files limit to {limit} (it was {before})", None
        return None, None
    if limit - reserve < 1:
        return None, (f"the open files limit ('ulimit -n') of {limit} is not enough for pikamp to start: "
                      f"each worker needs {reserve} besides its clients; raise it to at least {wanted}")
    config.values["maxclients"] = str(limit - reserve)
    return (f"maxclients {maxclients} needs {wanted} open files per worker ({reserve} besides the clients), "
            f"but the open files limit is {limit}" + (f" ({why})" if why else "") +
            f"; maxclients lowered to {limit - reserve}. Raise 'ulimit -n' for more."), None


def _run_worker(index: int, config: Config, counts: clientcount.ClientCounts) -> None:
    counts.attach(index)
    worker.run(index, config)


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


def _commands_problem(config: Config) -> str | None:
    """The users the configuration declares (user lines, aclfile, userpass)
    must load, and rename-command must name commands there are."""
    load_all()
    where = config.path or "the configuration"
    try:
        acl.from_config(config)
        renames = parse_renames(config.get("rename-command"))
    except (acl.AclError, ValueError) as e:
        return f"{where}: {e}"
    for name, new in renames.items():
        if name.encode() not in COMMANDS:
            return f"{where}: rename-command: no such command {name!r}"
        if new and new.lower().encode() in COMMANDS and new.lower() not in renames:
            return f"{where}: rename-command: {new!r} is a command already"
    return None


def _directory_problem(config: Config) -> str | None:
    """Create the data, log and dump directories; why one cannot be used, if
    so (checked before forking: a worker that cannot write its DB would only
    crash and be restarted)."""
    for key in ("db-path", "log-path", "dump-path"):
        path = config.path_of(key)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            return f"{key} {path} cannot be created: {e.strerror or e}"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{key} {path} is not writable"
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
    lock, why = _lock_or_wait(pidfile, config)
    if lock is None:
        print(why, file=sys.stderr)
        return 1
    limits_note, problem = None, _port_problem(config)
    if problem:
        problem = f"pikamp cannot listen on {config.get('bind')}:{config.get('port')}: {problem}"
    else:
        limits_note, fatal = _fit_maxclients(config)
        problem = fatal or _directory_problem(config) or _commands_problem(config)
        problem = problem and f"pikamp: {problem}"
    if problem:  # one line, before anything is forked
        print(problem, file=sys.stderr)
        os.unlink(pidfile)
        os.close(lock)
        return 1
    clear_runtime(config)
    if daemonize:
        _daemonize()  # the lock's open file stays with the daemon
    setproctitle(f"pikamp: supervisor {config.get('bind')}:{config.get('port')}")
    logs.setup(config, foreground=not daemonize)
    os.ftruncate(lock, 0)
    os.pwrite(lock, f"{os.getpid()}\n".encode(), 0)
    counts = clientcount.ClientCounts(config.workers)  # shared with every worker (maxclients)
    children = [
        ChildSpec(f"worker {i}", functools.partial(_run_worker, i, config, counts),
                  on_exit=functools.partial(counts.reset, i))
        for i in range(config.workers)
    ] + [ChildSpec(name, functools.partial(services.run, name, config)) for name in services.SERVICES]
    log.info("pikamp starting on %s:%s with %d workers, %d databases in %s",
             config.get("bind"), config.get("port"), config.workers, config.databases,
             config.path_of("db-path"))
    if limits_note:
        (log.warning if "lowered" in limits_note else log.info)(limits_note)
    try:
        load_all()  # once, before forking: a restarted worker inherits the command table
        sup = Supervisor(children)
        sup.run()
        if sup.fatal:
            return 1
    finally:
        if _is_file_of(lock, pidfile):
            os.unlink(pidfile)
        os.close(lock)
        log.info("pikamp stopped")
    return 0
