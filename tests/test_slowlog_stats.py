"""What the pipeline records: SLOWLOG over every worker (with the client's
address even for a command run in another worker), INFO commandstats and
errorstats summed over the workers, CONFIG RESETSTAT."""
from __future__ import annotations

import re
import time

import pytest

from resp_client import RawConn, parse
from servers import PikampServer


def test_slowlog_errors_and_help_like_redis(diff):
    for cmd in (("SLOWLOG", "GET", "-2"), ("SLOWLOG", "GET", "x"), ("SLOWLOG", "GET", "1", "2"),
                ("SLOWLOG", "LEN", "a"), ("SLOWLOG", "RESET", "a"), ("SLOWLOG", "HELP"), ("SLOWLOG", "NOPE"),
                ("SLOWLOG",)):
        diff(*cmd)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = PikampServer(str(tmp_path_factory.mktemp("slowlog")), workers=2).start()
    s.wait_all_workers()
    yield s
    s.stop()


def _info(c: RawConn, section: str) -> dict[str, str]:
    text = parse(c.call("INFO", section)).decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if line and not line.startswith("#"))


def test_slowlog_records_commands_of_both_workers(srv):
    admin = RawConn(srv.port)
    conns = [RawConn(srv.port) for _ in range(8)]  # on both workers
    try:
        admin.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        admin.call("SLOWLOG", "RESET")
        for i, c in enumerate(conns):
            c.call("CLIENT", "SETNAME", f"c{i}")
            c.call("SELECT", str(i % 2))  # DBs owned by either worker
            c.call("SET", f"key{i}", "v")
        long_args = ["RPUSH", "many"] + [f"e{i}" for i in range(40)]
        conns[0].call(*long_args)
        conns[1].call("SET", "big", "x" * 300)
        time.sleep(0.3)  # the addresses of forwarded commands' clients are asked for
        admin.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        entries = parse(admin.call("SLOWLOG", "GET", "-1"))
        sets = {e[3][1]: e for e in entries if e[3][0].lower() == b"set" and e[3][1].startswith(b"key")}
        assert len(sets) == 8
        for i, c in enumerate(conns):
            entry = sets[b"key%d" % i]
            assert entry[5] == b"c%d" % i  # the client's name, wherever the command ran
            assert entry[4].startswith(b"127.0.0.1:")
            assert isinstance(entry[0], int) and isinstance(entry[2], int) and entry[2] >= 0
        rpush = next(e for e in entries if e[3][0].lower() == b"rpush")
        assert len(rpush[3]) == 32 and rpush[3][-1] == b"... (11 more arguments)"
        big = next(e for e in entries if e[3][0].lower() == b"set" and e[3][1] == b"big")
        assert big[3][2] == b"x" * 128 + b"... (172 more bytes)"
        assert len(parse(admin.call("SLOWLOG", "GET"))) == 10
        assert len(parse(admin.call("SLOWLOG", "GET", "2"))) == 2
        assert parse(admin.call("SLOWLOG", "LEN")) == len(entries)
        assert admin.call("SLOWLOG", "RESET") == b"+OK\r\n"
        assert parse(admin.call("SLOWLOG", "LEN")) <= 1
        admin.call("CONFIG", "SET", "slowlog-max-len", "3", "slowlog-log-slower-than", "0")
        for c in conns:
            c.call("PING")
        admin.call("CONFIG", "SET", "slowlog-log-slower-than", "10000", "slowlog-max-len", "128")
        assert parse(admin.call("SLOWLOG", "LEN")) <= 6  # at most 3 per worker
    finally:
        for c in conns + [admin]:
            c.close()


def test_commandstats_and_errorstats_sum_every_worker(srv):
    admin = RawConn(srv.port)
    conns = [RawConn(srv.port) for _ in range(6)]
    try:
        admin.call("CONFIG", "RESETSTAT")
        for i, c in enumerate(conns):
            c.call("SELECT", str(i % 2))
            c.call("SET", "s", "x")
            c.call("LPUSH", "s", "y")  # WRONGTYPE: a failed call
            c.call("GET")  # wrong arity: a rejected call
            c.call("NOSUCH")
        stats = _info(admin, "commandstats")
        assert stats["cmdstat_set"].startswith("calls=6,")
        assert stats["cmdstat_lpush"].startswith("calls=6,") and stats["cmdstat_lpush"].endswith("failed_calls=6")
        assert stats["cmdstat_get"].startswith("calls=0,") and "rejected_calls=6" in stats["cmdstat_get"]
        assert "cmdstat_config|resetstat" in stats or "cmdstat_select" in stats
        errors = _info(admin, "errorstats")
        assert errors["errorstat_WRONGTYPE"] == "count=6"
        assert errors["errorstat_ERR"] == "count=12"
        assert _info(admin, "stats")["total_error_replies"] == "18"
        admin.call("CONFIG", "RESETSTAT")
        assert _info(admin, "errorstats") == {}
        assert "cmdstat_set" not in _info(admin, "commandstats")
    finally:
        for c in conns + [admin]:
            c.close()


def test_latency_like_redis_when_nothing_was_recorded(diff):
    for cmd in (("LATENCY", "LATEST"), ("LATENCY", "HISTORY", "command"), ("LATENCY", "RESET"),
                ("LATENCY", "DOCTOR"), ("LATENCY", "HISTORY"), ("LATENCY", "FOO"), ("LATENCY",),
                ("LATENCY", "RESET", "command", "nosuch"), ("LATENCY", "GRAPH", "command"), ("LATENCY", "GRAPH"),
                ("LATENCY", "HELP")):
        diff(*cmd)


def test_latency_graph_draws_redis_sparkline():
    """The samples 5, 20, 12, 40, 3 ms, 6 to 2 seconds ago, as redis-server 7.0.15 drew them."""
    from pikamp.commands import load_all
    from pikamp.commands.slowlog import sparkline

    load_all()
    assert sparkline([5, 20, 12, 40, 3], ["6s", "5s", "3s", "2s", "1s"]) == (
        "   # \n   | \n # | \n_|#|_\n     \n65321\nsssss\n")
    assert sparkline([7], ["12m"]) == " \n \n \n_\n \n1\n2\nm\n"  # one sample: the lowest bar


def test_latency_monitor_records_slow_commands(srv):
    c = RawConn(srv.port)
    try:
        c.call("CONFIG", "SET", "latency-monitor-threshold", "1")
        c.call("LATENCY", "RESET")
        assert parse(c.call("LATENCY", "DOCTOR")).startswith(b"Dave, no latency spike")
        c.call("SET", "huge", "x" * (8 << 20))  # copying 8 MB takes more than a millisecond
        latest = parse(c.call("LATENCY", "LATEST"))
        assert [e[0] for e in latest] == [b"command"] and latest[0][2] >= 1 and latest[0][3] >= latest[0][2]
        history = parse(c.call("LATENCY", "HISTORY", "command"))
        assert len(history) == 1 and history[0][1] >= 1
        assert b"1. command: 1 latency spikes" in parse(c.call("LATENCY", "DOCTOR"))
        graph = parse(c.call("LATENCY", "GRAPH", "command"))
        assert graph.startswith(b"command - high %d ms, low %d ms (all time high" % (history[0][1], history[0][1]))
        assert parse(c.call("LATENCY", "RESET", "command", "nosuch")) == 1
        assert parse(c.call("LATENCY", "LATEST")) == []
    finally:
        c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
        c.call("DEL", "huge")
        c.close()


# Redis' reporting levels: 1024 ns doubling, each as the top of its HdrHistogram bucket, in µs.
LEVELS = {((1024 << i) + (8 << i) - 1) // 1000 for i in range(30)}


def test_latency_histogram_and_latencystats_sum_every_worker(srv, redis_server):
    """LATENCY HISTOGRAM and INFO latencystats: Redis' shape (buckets of
    1, 2, 4 .. 16, 33, 66 µs ...), counts over both workers' commands."""
    mine, ref = RawConn(srv.port), RawConn(redis_server.port)
    conns = [RawConn(srv.port) for _ in range(8)]
    try:
        for c in (mine, ref):
            c.call("CONFIG", "RESETSTAT")
        for i, c in enumerate(conns + [ref] * 8):
            c.call("SET", f"k{i}", "v")
            c.call("GET", f"k{i}")
            c.call("CLIENT", "ID")
        shapes = []
        for c in (mine, ref):
            h = dict(zip(*[iter(parse(c.call("LATENCY", "HISTOGRAM", "set", "get", "client", "nosuch")))] * 2))
            assert sorted(h) == [b"client|id", b"get", b"set"]
            shape = {}
            for name, entry in h.items():
                entry = dict(zip(entry[0::2], entry[1::2]))
                buckets = entry[b"histogram_usec"]
                levels, counts = buckets[0::2], buckets[1::2]
                assert set(levels) <= LEVELS, levels
                assert counts == sorted(counts) and counts[-1] == entry[b"calls"] == 8
                shape[name] = entry[b"calls"]
            shapes.append(shape)
            lines = _info(c, "latencystats")
            assert set(lines) >= {"latency_percentiles_usec_set", "latency_percentiles_usec_get",
                                  "latency_percentiles_usec_client|id"}
            assert re.fullmatch(r"p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}", lines["latency_percentiles_usec_set"])
            assert c.call("CONFIG", "SET", "latency-tracking-info-percentiles", "50 90") == b"+OK\r\n"
            assert re.fullmatch(r"p50=\d+\.\d{3},p90=\d+\.\d{3}", _info(c, "latencystats")["latency_percentiles_usec_set"])
            c.call("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")
            assert c.call("LATENCY", "HISTOGRAM", "nosuch") == c.call("LATENCY", "HISTOGRAM", "nosuch")
        assert shapes[0] == shapes[1]
        assert mine.call("LATENCY", "HISTOGRAM", "nosuch") == ref.call("LATENCY", "HISTOGRAM", "nosuch")
        # Off: nothing more is recorded; RESETSTAT empties it.
        mine.call("CONFIG", "SET", "latency-tracking", "no")
        for c in conns:
            c.call("SET", "x", "y")
        h = dict(zip(*[iter(parse(mine.call("LATENCY", "HISTOGRAM", "set")))] * 2))
        assert dict(zip(h[b"set"][0::2], h[b"set"][1::2]))[b"calls"] == 8
        mine.call("CONFIG", "SET", "latency-tracking", "yes")
        mine.call("CONFIG", "RESETSTAT")
        assert parse(mine.call("LATENCY", "HISTOGRAM", "set")) == []
    finally:
        for c in conns + [mine, ref]:
            c.close()
