"""Pub/sub: SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE, PUBLISH / SPUBLISH and PUBSUB
byte-identical to Redis 7.0 in RESP2 and RESP3, the RESP2 subscribed state,
messages across workers (publisher and subscriber on different workers),
redis-py's PubSub (threaded and asyncio) and redis-cli, INFO and CLIENT
LIST, slow subscribers cut off, and a restarted pubsub process."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import psutil
import pytest
import redis
import redis.asyncio

from resp_client import RawConn, parse
from servers import HOST, PikampServer

# Sequences on one connection whose replies do not depend on hash order.
SEQUENCES = {
    "subscribe_ping_unsubscribe": [("SUBSCRIBE", "a", "b"), ("PING",), ("PING", "hi"), ("UNSUBSCRIBE", "a"),
                                   ("UNSUBSCRIBE", "b"), ("PING",)],
    "not_allowed_when_subscribed": [("SUBSCRIBE", "a"), ("GET", "x"), ("SET", "x", "1"), ("MULTI",),
                                    ("PUBLISH", "nobody", "m"), ("EXEC",), ("ECHO", "e"), ("UNSUBSCRIBE", "a"),
                                    ("GET", "x")],
    "patterns_and_counts": [("SUBSCRIBE", "c1"), ("PSUBSCRIBE", "p*", "q?"), ("PSUBSCRIBE", "p*"),
                            ("PUNSUBSCRIBE", "p*"), ("PUNSUBSCRIBE", "nosuch"), ("UNSUBSCRIBE", "c1"),
                            ("PUNSUBSCRIBE", "q?"), ("PUNSUBSCRIBE",), ("UNSUBSCRIBE",)],
    "shard_counts_apart": [("SSUBSCRIBE", "s1", "s2"), ("SUBSCRIBE", "c"), ("SUNSUBSCRIBE", "s1"), ("PING",),
                           ("SUNSUBSCRIBE", "s2"), ("PING",), ("UNSUBSCRIBE", "c"), ("SUNSUBSCRIBE",), ("PING",)],
    "same_channel_twice": [("SUBSCRIBE", "a", "a"), ("UNSUBSCRIBE", "a", "a", "b"), ("UNSUBSCRIBE",)],
    "reset_leaves_subscribed_state": [("SUBSCRIBE", "a"), ("PSUBSCRIBE", "x*"), ("RESET",), ("PING",),
                                      ("GET", "x"), ("PUBSUB", "NUMSUB", "a")],
    "pubsub_introspection": [("PUBSUB", "HELP"), ("PUBSUB", "NUMSUB"), ("PUBSUB", "NUMSUB", "zz", "yy"),
                             ("PUBSUB", "NUMPAT"), ("PUBSUB", "SHARDNUMSUB", "zz"), ("PUBSUB", "NOSUCH"),
                             ("PUBSUB", "CHANNELS", "a", "b"), ("PUBSUB", "SHARDCHANNELS", "a", "b"),
                             ("PUBSUB", "NUMPAT", "x"), ("PUBSUB", "HELP", "x"), ("PUBSUB",)],
    "arity": [("SUBSCRIBE",), ("PSUBSCRIBE",), ("SSUBSCRIBE",), ("PUBLISH", "a"), ("SPUBLISH", "a", "b", "c"),
              ("PUBLISH", "nobody", "m"), ("SPUBLISH", "nobody", "m")],
    "subscribe_inside_multi": [("MULTI",), ("SUBSCRIBE", "x"), ("EXEC",), ("PING",), ("UNSUBSCRIBE", "x")],
    "publish_inside_multi": [("MULTI",), ("PUBLISH", "nobody", "m"), ("EXEC",)],
}


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_pubsub_like_redis(diff, name):
    diff.run(SEQUENCES[name])


def _conn_on(port: int, worker: int, *, resp3: bool = False) -> RawConn:
    """A raw connection accepted by worker ``worker`` of 2 (bounded tries)."""
    for _ in range(200):
        c = RawConn(port)
        if resp3:
            c.call("HELLO", "3")
        if parse(c.call("CLIENT", "ID")) % 2 == worker:  # client ids are worker index + k * workers
            return c
        c.close()
    raise AssertionError("no connection landed on that worker")


def _message(raw: bytes) -> list:
    """A message as a list, whether an array (RESP2) or a push (RESP3)."""
    v = parse(raw)
    return v[1] if isinstance(v, tuple) else v


def _read_messages(c: RawConn, n: int) -> list:
    return [_message(c.read_reply()) for _ in range(n)]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_messages_cross_workers_in_order(pikamp_server, resp3):
    sub = _conn_on(pikamp_server.port, 0, resp3=resp3)
    pub = _conn_on(pikamp_server.port, 1)
    try:
        sub.call("SUBSCRIBE", "news")
        sub.call("PSUBSCRIBE", "n*")
        sub.call("SSUBSCRIBE", "shard")
        assert parse(pub.call("PUBLISH", "news", "m0")) == 2  # the channel and the pattern
        for i in range(1, 200):
            pub.send_raw(b"*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$%d\r\nm%d\r\n" % (len(str(i)) + 1, i))
        got = [parse(pub.read_reply()) for _ in range(199)]
        assert got == [2] * 199
        assert parse(pub.call("SPUBLISH", "shard", "s")) == 1
        assert parse(pub.call("PUBLISH", "other", "x")) == 0
        msgs = _read_messages(sub, 401)
        plain = [m for m in msgs if m[0] == b"message"]
        patterned = [m for m in msgs if m[0] == b"pmessage"]
        assert [m[2] for m in plain] == [b"m%d" % i for i in range(200)]  # in publish order
        assert [m[1:] for m in patterned[:1]] == [[b"n*", b"news", b"m0"]]
        assert [m[3] for m in patterned] == [b"m%d" % i for i in range(200)]
        assert msgs[-1] == [b"smessage", b"shard", b"s"]
        assert parse(pub.call("PUBSUB", "NUMSUB", "news", "shard")) == [b"news", 1, b"shard", 0]
        assert parse(pub.call("PUBSUB", "SHARDNUMSUB", "shard")) == [b"shard", 1]
        assert parse(pub.call("PUBSUB", "NUMPAT")) == 1
        assert b"news" in parse(pub.call("PUBSUB", "CHANNELS"))
        assert parse(pub.call("PUBSUB", "CHANNELS", "ne?s")) == [b"news"]
    finally:
        sub.close()
    # The subscriber is gone: so are its subscriptions, in every count.
    for _ in range(100):
        if parse(pub.call("PUBLISH", "news", "late")) == 0:
            break
        time.sleep(0.02)
    assert parse(pub.call("PUBLISH", "news", "late")) == 0
    assert parse(pub.call("PUBSUB", "NUMPAT")) == 0
    pub.close()


def test_resp3_subscriber_runs_commands(pikamp_server):
    c = RawConn(pikamp_server.port)
    pub = RawConn(pikamp_server.port)
    try:
        c.call("HELLO", "3")
        c.call("SUBSCRIBE", "ch")
        assert c.call("SET", "k", "v") == b"+OK\r\n"
        assert parse(pub.call("PUBLISH", "ch", "hi")) == 1
        assert _message(c.read_reply()) == [b"message", b"ch", b"hi"]
        assert c.call("GET", "k") == b"$1\r\nv\r\n"
        assert c.call("PING") == b"+PONG\r\n"
    finally:
        c.close()
        pub.close()


def test_info_and_client_list(pikamp_server):
    c = RawConn(pikamp_server.port)
    r = redis.Redis(host=HOST, port=pikamp_server.port)
    try:
        c.call("CLIENT", "SETNAME", "listener")
        c.call("SUBSCRIBE", "i1", "i2")
        c.read_reply()  # the second confirmation
        c.call("PSUBSCRIBE", "i*")
        c.call("SSUBSCRIBE", "i3")
        info = r.info("stats")
        assert (info["pubsub_channels"], info["pubsub_patterns"], info["pubsubshard_channels"]) >= (2, 1, 1)
        mine = [x for x in r.client_list() if x["name"] == "listener"]
        assert len(mine) == 1
        assert (mine[0]["flags"], mine[0]["sub"], mine[0]["psub"], mine[0]["ssub"]) == ("P", "2", "1", "1")
        assert [x["name"] for x in r.client_list(_type="pubsub")] == ["listener"]
        assert "listener" not in [x["name"] for x in r.client_list(_type="normal")]
        assert r.client_kill_filter(_type="pubsub") == 1
        assert c.read_until_closed(timeout=5.0) == b""
    finally:
        c.close()
        r.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pubsub_thread(pikamp_server, protocol):
    r = redis.Redis(host=HOST, port=pikamp_server.port, protocol=protocol)
    got: list = []
    p = r.pubsub()
    p.subscribe(**{"jobs": lambda m: got.append(m["data"])})
    p.psubscribe(**{"job*": lambda m: got.append((m["pattern"], m["data"]))})
    thread = p.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        for _ in range(100):  # the thread has read the confirmations
            if r.pubsub_numsub("jobs") == [(b"jobs", 1)] and r.pubsub_numpat() == 1:
                break
            time.sleep(0.02)
        for i in range(20):
            assert r.publish("jobs", f"j{i}") == 2
        deadline = time.monotonic() + 10
        while len(got) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [x for x in got if not isinstance(x, tuple)] == [b"j%d" % i for i in range(20)]
        assert [x for x in got if isinstance(x, tuple)] == [(b"job*", b"j%d" % i) for i in range(20)]
    finally:
        thread.stop()
        thread.join(timeout=5)
        p.close()
        r.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pubsub_asyncio(pikamp_server, protocol):
    async def main() -> list:
        r = redis.asyncio.Redis(host=HOST, port=pikamp_server.port, protocol=protocol)
        p = r.pubsub()
        await p.subscribe("events")
        first = await p.get_message(timeout=5)
        assert first["type"] == "subscribe"
        for i in range(5):
            assert await r.publish("events", f"e{i}") == 1
        out = []
        deadline = time.monotonic() + 10
        while len(out) < 5 and time.monotonic() < deadline:
            m = await p.get_message(ignore_subscribe_messages=True, timeout=1)
            if m is not None:
                out.append(m["data"])
        await p.unsubscribe("events")
        await p.aclose()
        await r.aclose()
        return out

    assert asyncio.run(main()) == [b"e%d" % i for i in range(5)]


def test_redis_cli_subscribe(pikamp_server):
    proc = subprocess.Popen(["redis-cli", "-h", HOST, "-p", str(pikamp_server.port), "subscribe", "cli"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    r = redis.Redis(host=HOST, port=pikamp_server.port)
    try:
        for _ in range(200):
            if r.publish("cli", "hello-cli") == 1:
                break
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        r.close()
    assert b"subscribe\ncli\n1\n" in out
    assert b"message\ncli\nhello-cli\n" in out


def test_slow_subscriber_is_cut_off(tmp_path):
    srv = PikampServer(str(tmp_path), client_output_buffer_limit="normal 0 0 0 slave 0 0 0 pubsub 1mb 256kb 60")
    srv.start()
    try:
        lazy = RawConn(srv.port)
        lazy.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
        lazy.call("SUBSCRIBE", "flood")
        r = redis.Redis(host=HOST, port=srv.port)
        payload = b"x" * 65536
        receivers = 1
        for _ in range(400):  # 25 MB offered; the subscriber never reads
            receivers = r.publish("flood", payload)
            if receivers == 0:
                break
        assert receivers == 0, "the slow subscriber was not disconnected"
        rss = sum(p.memory_info().rss for p in srv.children())
        assert rss < 2 << 30
        assert r.ping()
        r.close()
        lazy.close()
    finally:
        srv.stop()


def test_pubsub_process_restart(tmp_path):
    srv = PikampServer(str(tmp_path))
    srv.start()
    try:
        c = RawConn(srv.port)
        c.call("SUBSCRIBE", "survive")
        r = redis.Redis(host=HOST, port=srv.port)
        hub = [p for p in srv.children() if "pikamp: pubsub" in " ".join(p.cmdline())]
        assert len(hub) == 1
        os.kill(hub[0].pid, signal.SIGKILL)
        delivered = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                delivered = r.publish("survive", "again")
            except redis.ResponseError:
                delivered = 0  # while the pubsub process is down
            if delivered == 1:
                break
            time.sleep(0.05)
        assert delivered == 1  # the worker sent its client's subscription again
        assert parse(c.read_reply()) == [b"message", b"survive", b"again"]
        new = [p for p in srv.children() if "pikamp: pubsub" in " ".join(p.cmdline())]
        assert new and new[0].pid != hub[0].pid
        assert psutil.pid_exists(new[0].pid)
        r.close()
        c.close()
    finally:
        srv.stop()
