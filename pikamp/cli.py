"""The ``pikamp`` command: start, stop, status."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from pikamp import __version__
from pikamp.config import Config, ConfigError


def _config(path: str | None, overrides: dict[str, str] | None = None, warn: bool = False) -> Config:
    if path is None and os.path.exists("conf/pika.conf"):
        path = "conf/pika.conf"
    config = Config.load(path, overrides)
    for key, line in config.unknown if warn else ():
        print(f"pikamp: warning: {path}:{line}: unknown configuration key '{key}' (ignored)", file=sys.stderr)
    return config


def _overrides(extra: list[str]) -> dict[str, str]:
    """``--key value`` (or ``--key=value``) pairs after ``start``, as
    ``redis-server --port 6380`` takes them: they win over the file."""
    out: dict[str, str] = {}
    i = 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--") or len(arg) < 3:
            raise ConfigError(f"command line: expected --key value, got {arg!r}")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(extra):
                raise ConfigError(f"command line: --{key} needs a value")
            value = extra[i + 1]
            i += 1
        out[key.lower()] = value
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pikamp", description="Redis-compatible persistent KV server")
    ap.add_argument("--version", action="version", version=f"pikamp {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_start = sub.add_parser("start", help="run the server (foreground unless --daemonize)",
                             description="Any configuration key may follow as --key value "
                                         "(pikamp start --port 6380 --workers 4); it wins over the file.")
    p_start.add_argument("-c", "--config", help="config file (default: conf/pika.conf if present)")
    p_start.add_argument("--daemonize", action="store_true", help="detach and write the pid file")
    for name, help_ in (("stop", "stop a running server"), ("status", "show the process tree")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("-c", "--config")
    args, extra = ap.parse_known_args(argv)
    if args.cmd != "start":
        # `pikamp status | head` must not end in a BrokenPipeError traceback.
        # Never for the server: its processes (which inherit it) would be
        # killed by a write to a socket whose peer went, instead of seeing EPIPE.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        if extra and args.cmd != "start":
            ap.error(f"unrecognized arguments: {' '.join(extra)}")
        config = _config(args.config, _overrides(extra), warn=args.cmd == "start")
    except ConfigError as e:
        print(f"pikamp: {e}", file=sys.stderr)
        return 2
    if args.cmd == "start":
        from pikamp import server

        return server.start(config, args.daemonize or config.bool("daemonize"))
    if args.cmd == "stop":
        return stop(config)
    return status(config)


def stop(config: Config, timeout: float = 30.0) -> int:
    """SIGTERM the supervisor and wait until the whole tree has stopped."""
    from pikamp.server import read_pid

    pid = read_pid(config)
    if pid is None:
        print("pikamp is not running", file=sys.stderr)
        return 1
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:  # the supervisor died; its children are on their way out
        print("pikamp is not running", file=sys.stderr)
        return 1
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The supervisor holds the pid file until its children have stopped.
        if read_pid(config) is None and _exited(pid):
            print(f"pikamp (pid {pid}) stopped")
            return 0
        time.sleep(0.05)
    print(f"pikamp (pid {pid}) did not stop within {timeout:.0f}s", file=sys.stderr)
    return 1


def _exited(pid: int) -> bool:
    """Gone, or a zombie that its parent has not reaped yet."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def status(config: Config) -> int:
    """Print the process tree: pid, CPU%, RSS and role (process title) of each process."""
    import psutil

    from pikamp.server import read_pid

    pid = read_pid(config)
    try:
        root = psutil.Process(pid) if pid else None
        procs = [root] + root.children() if root else []
    except psutil.NoSuchProcess:
        procs = []
    if not procs:
        print("pikamp is not running")
        return 3
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.NoSuchProcess:
            pass
    time.sleep(0.2)
    print(f"{'PID':>7} {'CPU%':>6} {'RSS MB':>8}  ROLE")
    for p in procs:
        try:
            with p.oneshot():
                title = " ".join(p.cmdline()).strip() or p.name()
                print(f"{p.pid:>7} {p.cpu_percent(None):>6.1f} {p.memory_info().rss / 2**20:>8.1f}  {title}")
        except psutil.NoSuchProcess:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
