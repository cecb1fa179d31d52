"""Fork, watch, restart: the supervisor process."""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger("supervisor")

# A child that exits with this code cannot run at all (its DB cannot be
# opened: disk full, a newer on-disk format ...): restarting it would only
# loop, so the whole tree stops and says why once.
FATAL_EXIT = 78  # EX_CONFIG
MAX_BACKOFF = 5.0
# A child that dies within START_GRACE of its start failed to start: only such
# deaths, one after another, are a crash loop and back off (0.2 s, doubling up
# to MAX_BACKOFF). A child that ran longer (killed, OOM, a crash under load)
# restarts at once: its DBs must not stay down for a back-off it did not earn.
START_GRACE = 1.0
STABLE_AFTER = 10.0  # a child that lived this long has its back-off forgotten
# Failed starts in a row after which a child is given up and the tree stops
# with the reason, instead of restarting it forever.
MAX_FAILED_STARTS = 5
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Have the kernel SIGTERM this child when the supervisor dies (even by SIGKILL),
    so a killed supervisor leaves no orphans holding the port and the DBs."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: orphans are possible
        return
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class ChildSpec:
    """A child process: ``target()`` runs in the forked child and should not return early."""

    name: str
    target: Callable[[], None]
    pid: int = 0
    started: float = 0.0
    backoff: float = 0.0
    restart_at: float = 0.0
    restarts: int = 0
    failed_starts: int = 0  # deaths within START_GRACE in a row
    on_exit: Callable[[], None] | None = None  # run in the supervisor when the child is reaped
    extra: dict = field(default_factory=dict)

    def restart_delay(self, lived: float) -> float:
        """Record a death after ``lived`` seconds; the seconds to wait before the restart."""
        if lived >= STABLE_AFTER:
            self.backoff = 0.0
            self.failed_starts = 0
        if lived >= START_GRACE:
            self.failed_starts = 0
            return 0.0
        self.failed_starts += 1
        if self.failed_starts == 1:  # one failed start may be bad luck: retry at once
            return 0.0
        self.backoff = min(max(self.backoff * 2, 0.2), MAX_BACKOFF)
        return self.backoff


class Supervisor:
    """Runs every child, restarts the ones that die, and stops all on SIGTERM/SIGINT."""

    def __init__(self, children: list[ChildSpec], title: str = "supervisor") -> None:
        self.children = children
        self.title = title
        self.stopping = False
        self.fatal: str | None = None  # why the tree stopped on its own

    def _spawn(self, child: ChildSpec) -> None:
        parent = os.getpid()
        # Block the stop signals across fork: the child must not run the
        # supervisor's handler between fork and setting its own.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
            raise
        if pid == 0:  # child
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
                _die_with_parent(parent)
                child.target()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:
                log.exception("%s crashed", child.name)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        child.pid = pid
        child.started = time.monotonic()
        log.info("started %s (pid %d)", child.name, pid)

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def run(self) -> None:
        """Run until SIGTERM or SIGINT, then stop every child and return."""
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        # As Redis: a closed terminal stops nothing (children inherit SIG_IGN).
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        for child in self.children:
            self._spawn(child)
        by_pid = {c.pid: c for c in self.children}
        while not self.stopping:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, status = 0, 0
            now = time.monotonic()
            if pid and pid in by_pid:
                child = by_pid.pop(pid)
                child.pid = 0
                why = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                       else f"exit code {os.WEXITSTATUS(status)}")
                if os.WIFEXITED(status) and os.WEXITSTATUS(status) == FATAL_EXIT:
                    self.fatal = f"{child.name} cannot run (see the line above); stopping"
                    log.error("%s", self.fatal)
                    break
                lived = now - child.started
                delay = child.restart_delay(lived)
                if child.failed_starts >= MAX_FAILED_STARTS:
                    self.fatal = (f"{child.name} failed to start {child.failed_starts} times in a row "
                                  f"(last: {why} after {lived:.1f}s; its log lines above say why); stopping")
                    log.error("%s", self.fatal)
                    break
                child.restart_at = now + delay
                child.restarts += 1
                if child.on_exit is not None:
                    try:
                        child.on_exit()
                    except Exception:  # never let a hook take the supervisor down
                        log.exception("on_exit of %s failed", child.name)
                log.warning("%s (pid %d) died (%s) after %.1fs; restarting %s", child.name, pid, why, lived,
                            f"in {delay:.1f}s ({child.failed_starts} failed starts in a row)" if delay
                            else "now")
                continue
            for child in self.children:
                if child.pid == 0 and now >= child.restart_at and not self.stopping:
                    self._spawn(child)
                    by_pid[child.pid] = child
            time.sleep(0.05)
        self.stop_children()

    def stop_children(self, grace: float = 10.0) -> None:
        """SIGTERM every child, wait up to ``grace`` seconds, then SIGKILL the rest."""
        live = [c for c in self.children if c.pid]
        for c in live:
            try:
                os.kill(c.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        pending = {c.pid for c in live}
        while pending and time.monotonic() < deadline:
            for pid in list(pending):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    pending.discard(pid)
            time.sleep(0.02)
        for pid in pending:
            log.warning("child %d did not stop in %.0fs; killing it", pid, grace)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        log.info("all children stopped")
