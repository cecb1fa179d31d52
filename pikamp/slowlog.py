"""What the command pipeline records about the commands it runs: per-command
counters (INFO commandstats), error counts by prefix (INFO errorstats) and the
slow log (SLOWLOG), each worker for the commands it executes; INFO and
SLOWLOG add up every worker's."""
from __future__ import annotations

import time
from collections import deque

# As Redis: a slow log entry keeps at most 32 arguments of 128 bytes each.
MAX_ARGS = 32
MAX_ARG_LEN = 128


class SlowLog:
    """This worker's slow commands, newest first, at most ``max_len``."""

    __slots__ = ("entries", "next_id", "step")

    def __init__(self, first_id: int, step: int, max_len: int) -> None:
        self.entries: deque = deque(maxlen=max(max_len, 0))
        self.next_id = first_id  # ids are unique across workers: index + k * workers
        self.step = step

    def add(self, args: list[bytes], micros: int, addr: str, name: bytes) -> list:
        """Record a command that took ``micros``; returns the entry (its
        client fields can be filled in later, for a forwarded command)."""
        if len(args) > MAX_ARGS:
            shown = args[: MAX_ARGS - 1] + [b"... (%d more arguments)" % (len(args) - MAX_ARGS + 1)]
        else:
            shown = list(args)
        shown = [a if len(a) <= MAX_ARG_LEN else a[:MAX_ARG_LEN] + b"... (%d more bytes)" % (len(a) - MAX_ARG_LEN)
                 for a in shown]
        entry = [self.next_id, int(time.time()), micros, shown, addr.encode(), name]
        self.next_id += self.step
        self.entries.appendleft(entry)
        return entry

    def resize(self, max_len: int) -> None:
        self.entries = deque(self.entries, maxlen=max(max_len, 0))


def error_prefix(reply: bytes) -> bytes:
    """The error code of an encoded error reply ("-WRONGTYPE ..." -> WRONGTYPE)."""
    end = reply.find(b" ")
    if end < 0:
        end = reply.find(b"\r")
    return reply[1:end] if end > 1 else b"ERR"


class LatencyMonitor:
    """Redis' latency monitor for this worker: per event ("command",
    "fast-command"), a sample per second (the worst of that second, the last
    160 kept) and the all-time maximum, of the commands that took at least
    latency-monitor-threshold ms."""

    HISTORY = 160  # Redis' LATENCY_TS_LEN

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: dict[bytes, list] = {}  # event -> [deque of [ts, ms], max ms]

    def add(self, event: bytes, ms: int) -> None:
        now = int(time.time())
        series = self.events.get(event)
        if series is None:
            series = self.events[event] = [deque(maxlen=self.HISTORY), 0]
        samples = series[0]
        if samples and samples[-1][0] == now:
            samples[-1][1] = max(samples[-1][1], ms)
        else:
            samples.append([now, ms])
        series[1] = max(series[1], ms)

    def reset(self, events: list[bytes]) -> int:
        """Forget the named events (all when none is named); how many there were."""
        names = list(self.events) if not events else [e for e in events if e in self.events]
        for name in names:
            del self.events[name]
        return len(names)
