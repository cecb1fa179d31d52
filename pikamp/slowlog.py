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


# -- per-command latency (INFO latencystats, LATENCY HISTOGRAM) ------------------
# As Redis' HdrHistogram with 2 significant digits: values below 256 ns are
# exact, above that each power of two is cut in 128 steps (under 1% wide).
# A command's histogram is a list of counts by bucket index, made at its
# first call (the pipeline's hot path counts into it inline: see
# Worker.run_owned); sent between workers as a dict, index -> count.
HIST_SIZE = 56 << 8  # room for any 64-bit count of nanoseconds


def record(cmd, nanos: int) -> None:
    """Count one call of ``cmd`` (a table entry) that took ``nanos``."""
    h = cmd.hist
    if h is None:
        h = cmd.hist = [0] * HIST_SIZE
    b = nanos.bit_length() - 8
    h[(b << 8) | (nanos >> b) if b > 0 else nanos] += 1


def sparse(hist: list[int]) -> dict[int, int]:
    """A histogram's buckets that counted something."""
    return {i: n for i, n in enumerate(hist) if n}


def _highest(index: int) -> int:
    """The largest value (ns) bucket ``index`` stands for."""
    shift, sub = index >> 8, index & 255
    return sub if shift == 0 else (sub << shift) + (1 << shift) - 1


def _highest_equivalent(nanos: int) -> int:
    b = nanos.bit_length()
    if b <= 8:
        return nanos
    shift = b - 8
    return _highest((shift << 8) | (nanos >> shift))


def merge(into: dict[int, int], flat: list[int]) -> None:
    """Add a histogram sent as [index, count, index, count ...] (another worker's)."""
    for i in range(0, len(flat), 2):
        into[flat[i]] = into.get(flat[i], 0) + flat[i + 1]


def percentile(hist: dict[int, int], p: float) -> int:
    """The value (ns) at percentile ``p``, as hdr_value_at_percentile gives it."""
    total = sum(hist.values())
    wanted = max(1, int(p / 100.0 * total + 0.5))
    seen = 0
    for index in sorted(hist):
        seen += hist[index]
        if seen >= wanted:
            return _highest(index)
    return 0


def cumulative_usec(hist: dict[int, int]) -> dict[int, int]:
    """LATENCY HISTOGRAM's histogram_usec: from 1 µs doubling, the count of
    calls up to each level, where it grew (Redis' log iteration)."""
    out: dict[int, int] = {}
    total = sum(hist.values())
    order = sorted(hist)
    seen, k, level = 0, 0, 1024
    previous = 0
    while previous < total:
        limit = _highest_equivalent(level)
        while k < len(order) and _highest(order[k]) <= limit:
            seen += hist[order[k]]
            k += 1
        if seen > previous:
            out[limit // 1000] = seen
            previous = seen
        level <<= 1
    return out
