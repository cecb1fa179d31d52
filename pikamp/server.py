"""Starting the whole server: directories, pid file, daemonizing, the process tree."""
from __future__ import annotations

import functools
import logging
import os
import sys

from setproctitle import setproctitle

from pikamp import logs, services, worker
from pikamp.config import Config
from supervisor import ChildSpec, Supervisor

log = logging.getLogger("pikamp")


def read_pid(config: Config) -> int | None:
    """The supervisor pid from the pid file, if that process is alive."""
    try:
        pid = int(open(config.path_of("pidfile")).read().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


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
    running = read_pid(config)
    if running:
        print(f"pikamp is already running (pid {running})", file=sys.stderr)
        return 1
    for key in ("db-path", "log-path", "dump-path"):
        os.makedirs(config.path_of(key), exist_ok=True)
    if daemonize:
        _daemonize()
    logs.setup(config, foreground=not daemonize)
    pidfile = config.path_of("pidfile")
    with open(pidfile, "w") as f:
        f.write(f"{os.getpid()}\n")
    setproctitle(f"pikamp: supervisor {config.get('bind')}:{config.get('port')}")
    children = [
        ChildSpec(f"worker {i}", functools.partial(worker.run, i, config))
        for i in range(config.workers)
    ] + [ChildSpec(name, functools.partial(services.run, name, config)) for name in services.SERVICES]
    log.info("pikamp starting on %s:%s with %d workers, %d databases in %s",
             config.get("bind"), config.get("port"), config.workers, config.databases,
             config.path_of("db-path"))
    try:
        Supervisor(children).run()
    finally:
        try:
            if read_pid(config) == os.getpid():
                os.unlink(pidfile)
        except OSError:
            pass
        log.info("pikamp stopped")
    return 0
