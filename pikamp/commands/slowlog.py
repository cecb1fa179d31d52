"""SLOWLOG and LATENCY over every worker's slow log and latency monitor (each worker
logs the commands it runs: pikamp.slowlog)."""
from __future__ import annotations

import time

from pikamp import slowlog as histograms, stats
from pikamp.commands.server import worker_histograms
from pikamp.commands.table import COMMANDS, LOCAL, command, dispatch
from pikamp.errors import RespError, subcommand_syntax
from pikamp.numbers import parse_int

_HELP = [
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
]


@command("slowlog", -2, "", route=LOCAL, group="server", categories="@slow", since="2.2.12",
         summary="A container for slow log commands", complexity="Depends on subcommand.")
def slowlog(ctx, args):
    return dispatch(ctx, args, b"slowlog")


@command("slowlog|get", -2, "admin loading stale", route=LOCAL, group="server", since="2.2.12",
         summary="Get the slow log's entries", complexity="O(N) where N is the number of entries returned")
def slowlog_get(ctx, args):
    if len(args) > 3:  # Redis 7.0's own wording for this one
        raise subcommand_syntax(args)
    count = 10
    if len(args) == 3:
        count = parse_int(args[2], "ERR count should be greater than or equal to -1")
        if count < -1:
            raise RespError("ERR count should be greater than or equal to -1")

    def merge(replies: list) -> list:
        entries = [e for r in replies for e in r]
        entries.sort(key=lambda e: (e[1], e[0]), reverse=True)  # newest first, over all workers
        return entries if count == -1 else entries[:count]

    return stats.gather(ctx.worker, [b"__slowlog", b"get"], ctx.resp3, merge)


@command("slowlog|len", 2, "admin loading stale", route=LOCAL, group="server", since="2.2.12",
         summary="Get the slow log's length")
def slowlog_len(ctx, args):
    return stats.gather(ctx.worker, [b"__slowlog", b"len"], ctx.resp3, sum)


@command("slowlog|reset", 2, "admin loading stale", route=LOCAL, group="server", since="2.2.12",
         summary="Clear all entries from the slow log", complexity="O(N) where N is the number of entries in the slowlog")
def slowlog_reset(ctx, args):
    return stats.gather(ctx.worker, [b"__slowlog", b"reset"], ctx.resp3, lambda _: "OK")


@command("slowlog|help", 2, "loading stale", route=LOCAL, group="server", since="6.2.0",
         summary="Show helpful text about the different subcommands")
def slowlog_help(ctx, args):
    return _HELP


@command("__slowlog", 2, internal=True, summary="This worker's slow log: get, len or reset")
def _slowlog(ctx, args):
    log = ctx.worker.slowlog
    if args[1] == b"len":
        return len(log.entries)
    if args[1] == b"reset":
        log.entries.clear()
        return "OK"
    return [list(e) for e in log.entries]


# == LATENCY ======================================================================
_LATENCY_HELP = [
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
]
_DISABLED = ("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use "
             "\"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a "
             "deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n")
_NO_SPIKES = ("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest "
              "bit. I honestly think you ought to sleep tonight.\n")


def _merged_events(replies: list) -> dict[bytes, tuple[dict[int, int], int]]:
    """Every worker's series together: event -> ({second: worst ms}, max ms)."""
    events: dict[bytes, tuple[dict[int, int], int]] = {}
    for reply in replies:
        for name, samples, top in reply:
            per_second, best = events.get(name, ({}, 0))
            for ts, ms in samples:
                per_second[ts] = max(per_second.get(ts, 0), ms)
            events[name] = (per_second, max(best, top))
    return events


@command("latency", -2, "", route=LOCAL, group="server", since="2.8.13", categories="@slow",
         summary="A container for latency diagnostics commands", complexity="Depends on subcommand.")
def latency(ctx, args):
    return dispatch(ctx, args, b"latency")


@command("latency|latest", 2, "admin noscript loading stale", route=LOCAL, group="server", since="2.8.13",
         summary="Return the latest latency samples for all events")
def latency_latest(ctx, args):
    def latest(replies: list) -> list:
        out = []
        for name, (per_second, top) in _merged_events(replies).items():
            ts = max(per_second)
            out.append([name, ts, per_second[ts], top])
        return out

    return stats.gather(ctx.worker, [b"__latency", b"get"], ctx.resp3, latest)


@command("latency|history", 3, "admin noscript loading stale", route=LOCAL, group="server", since="2.8.13",
         summary="Return timestamp-latency samples for the event")
def latency_history(ctx, args):
    def history(replies: list) -> list:
        per_second, _ = _merged_events(replies).get(args[2], ({}, 0))
        return [[ts, per_second[ts]] for ts in sorted(per_second)][-160:]

    return stats.gather(ctx.worker, [b"__latency", b"get"], ctx.resp3, history)


@command("latency|reset", -2, "admin noscript loading stale", route=LOCAL, group="server", since="2.8.13",
         summary="Reset latency data for one or more events")
def latency_reset(ctx, args):
    def count(replies: list) -> int:
        return len({name for reply in replies for name in reply})

    return stats.gather(ctx.worker, [b"__latency", b"reset", *args[2:]], ctx.resp3, count)


@command("latency|doctor", 2, "admin noscript loading stale", route=LOCAL, group="server", since="2.8.13",
         summary="Return a human readable latency analysis report")
def latency_doctor(ctx, args):
    from pikamp.resp import Verbatim

    enabled = int(ctx.worker.config.values.get("latency-monitor-threshold", "0")) > 0

    def report(replies: list) -> Verbatim:
        events = _merged_events(replies)
        if not events:
            return Verbatim((_NO_SPIKES if enabled else _DISABLED).encode())
        lines = ["Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, "
                 "do you Dave?\n"]
        for i, (name, (per_second, top)) in enumerate(sorted(events.items()), 1):
            values = [per_second[ts] for ts in sorted(per_second)]
            avg = sum(values) // len(values)
            mad = sum(abs(v - avg) for v in values) // len(values)
            stamps = sorted(per_second)
            period = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else 0
            lines.append(f"{i}. {name.decode()}: {len(values)} latency spikes (average {avg}ms, mean deviation "
                         f"{mad}ms, period {period:.2f} sec). Worst all time event {top}ms.\n")
        return Verbatim("\n".join(lines).encode())

    return stats.gather(ctx.worker, [b"__latency", b"get"], ctx.resp3, report)


@command("latency|graph", 3, "admin noscript loading stale", route=LOCAL, group="server", since="2.8.13",
         summary="Return a latency graph for the event.")
def latency_graph(ctx, args):
    """Redis' ASCII sparkline of an event's samples (every worker's, by second)."""
    from pikamp.resp import Verbatim

    def graph(replies: list) -> Verbatim:
        found = _merged_events(replies).get(args[2])
        if found is None:
            raise RespError(f"ERR No samples available for event '{args[2].decode('latin-1')}'")
        per_second, top = found
        stamps = sorted(per_second)[-160:]  # (each worker keeps the last 160)
        values = [per_second[ts] for ts in stamps]
        now = int(time.time())
        labels = [_ago(now - ts) for ts in stamps]
        head = (f"{args[2].decode('latin-1')} - high {max(values)} ms, low {min(values)} ms "
                f"(all time high {top} ms)\n" + "-" * 80 + "\n")
        return Verbatim((head + sparkline(values, labels)).encode())

    return stats.gather(ctx.worker, [b"__latency", b"get"], ctx.resp3, graph)


def _ago(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


_CHARSET_FILL = "_o#"  # Redis' sparkline: three levels per row, rows stacked


def sparkline(values: list[int], labels: list[str], columns: int = 80, rows: int = 4) -> str:
    """Redis' filled ASCII sparkline (sparkline.c): ``rows`` rows of bars,
    a blank line, then each sample's label written downwards."""
    out = []
    for start in range(0, len(values), columns):
        if start:
            out.append("\n")
        part, tags = values[start:start + columns], labels[start:start + columns]
        low, high = min(values), max(values)
        span = (high - low) or 1
        steps = len(_CHARSET_FILL) * rows
        levels = [min(max(int(int((v - low) * steps) / span), 0), steps - 1) for v in part]
        for row in range(rows):
            line = []
            for step in levels:
                i = step - (rows - row - 1) * len(_CHARSET_FILL)
                line.append(_CHARSET_FILL[i] if 0 <= i < len(_CHARSET_FILL) else "|" if i >= 0 else " ")
            out.append("".join(line) + "\n")
        out.append(" " * len(part) + "\n")  # the margin above the labels
        for k in range(max(len(t) for t in tags)):
            out.append("".join(t[k] if k < len(t) else " " for t in tags) + "\n")
    return "".join(out)


@command("latency|histogram", -2, "admin noscript loading stale", route=LOCAL, group="server", since="7.0.0",
         summary="Return the cumulative distribution of latencies of a subset of commands or all commands.",
         complexity="O(N) where N is the number of commands with latency information being retrieved.")
def latency_histogram(ctx, args):
    """Each command's calls and cumulative latency distribution (µs), over every
    worker; named commands only if given (a container: its subcommands)."""
    names = None
    if len(args) > 2:
        names = []
        for arg in args[2:]:
            parent, _, sub = arg.lower().partition(b"|")
            cmd = COMMANDS.get(parent)
            if cmd is None:
                continue
            if sub:
                if sub.decode("latin-1") in cmd.subcommands:
                    names.append(arg.lower())
            elif cmd.subcommands:
                names += [s.name.encode() for s in cmd.subcommands.values()]
            else:
                names.append(parent)

    def combine(replies: list) -> dict:
        merged: dict[bytes, dict[int, int]] = {}
        for reply in replies:
            for name, flat in reply:
                histograms.merge(merged.setdefault(name, {}), flat)
        return {name: {b"calls": sum(h.values()), b"histogram_usec": histograms.cumulative_usec(h)}
                for name, h in merged.items()}

    if names == []:
        return {}
    return stats.gather(ctx.worker, [b"__latency_histogram", *(names or [b"*"])], ctx.resp3, combine)


@command("__latency_histogram", -2, internal=True, summary="This worker's command latency histograms")
def _latency_histogram_here(ctx, args):
    names = None if args[1:] == [b"*"] else set(args[1:])
    return worker_histograms(ctx.worker, names)


@command("latency|help", 2, "loading stale", route=LOCAL, group="server", since="2.8.13",
         summary="Show helpful text about the different subcommands")
def latency_help(ctx, args):
    return _LATENCY_HELP


@command("__latency", -2, internal=True, summary="This worker's latency events: get, or reset [event ...]")
def _latency(ctx, args):
    monitor = ctx.worker.latency
    if args[1] == b"reset":
        names = [e for e in (args[2:] or list(monitor.events)) if e in monitor.events]
        monitor.reset(names if args[2:] else [])
        return names
    return [[name, [list(s) for s in samples], top] for name, (samples, top) in monitor.events.items()]
