"""OBJECT, MEMORY USAGE and RESET: Redis 7.0's replies where they can be the
same (encodings by Redis' thresholds, refcounts, errors), sensible ones where
pikamp has no such state (idle time, access frequency, memory of a value)."""
from __future__ import annotations

from resp_client import RawConn, parse

SEQUENCES = [
    [("OBJECT",), ("OBJECT", "HELP"), ("OBJECT", "FOO", "k"), ("OBJECT", "ENCODING", "nokey"),
     ("OBJECT", "FREQ", "nokey"), ("OBJECT", "IDLETIME", "nokey"), ("OBJECT", "REFCOUNT", "nokey"),
     ("OBJECT", "ENCODING"), ("OBJECT", "ENCODING", "a", "b")],
    [("SET", "i", "123"), ("SET", "s", "hello"), ("SET", "l", "x" * 45), ("SET", "e44", "y" * 44),
     ("SET", "neg", "-5"), ("SET", "big", "12345678901234567890"), ("SET", "lead", "0123"),
     ("OBJECT", "ENCODING", "i"), ("OBJECT", "ENCODING", "s"), ("OBJECT", "ENCODING", "l"),
     ("OBJECT", "ENCODING", "e44"), ("OBJECT", "ENCODING", "neg"), ("OBJECT", "ENCODING", "big"),
     ("OBJECT", "ENCODING", "lead"), ("OBJECT", "REFCOUNT", "i"), ("OBJECT", "REFCOUNT", "s"),
     ("OBJECT", "REFCOUNT", "neg"), ("SET", "i2", "10000"), ("OBJECT", "REFCOUNT", "i2"), ("OBJECT", "FREQ", "i")],
    [("HSET", "h", "f", "v"), ("OBJECT", "ENCODING", "h"), ("HSET", "h2", "f", "x" * 65),
     ("OBJECT", "ENCODING", "h2"), ("SADD", "st", "1", "2", "-3"), ("OBJECT", "ENCODING", "st"),
     ("SADD", "st2", "a"), ("OBJECT", "ENCODING", "st2"), ("ZADD", "z", "1", "a"), ("OBJECT", "ENCODING", "z"),
     ("ZADD", "z2", "1", "y" * 65), ("OBJECT", "ENCODING", "z2"), ("RPUSH", "ls", "a"),
     ("OBJECT", "ENCODING", "ls"), ("OBJECT", "REFCOUNT", "h")],
    [("MEMORY",), ("MEMORY", "USAGE", "nokey"), ("MEMORY", "USAGE", "k", "SAMPLES"),
     ("MEMORY", "USAGE", "k", "FOO", "1"), ("MEMORY", "NOPE"), ("MEMORY", "USAGE")],
    [("RESET",), ("RESET", "x"), ("MULTI",), ("SET", "a", "1"), ("RESET",), ("EXEC",), ("GET", "a"),
     ("SELECT", "3"), ("SET", "in3", "x"), ("RESET",), ("GET", "in3")],
]


def test_object_memory_reset_like_redis(diff):
    for seq in SEQUENCES:
        diff.run(seq)


def test_encoding_follows_the_configured_thresholds(diff):
    diff.run([("CONFIG", "SET", "hash-max-listpack-entries", "2"), ("HSET", "h", "a", "1", "b", "2"),
              ("OBJECT", "ENCODING", "h"), ("HSET", "h3", "a", "1", "b", "2", "c", "3"), ("OBJECT", "ENCODING", "h3"),
              ("CONFIG", "SET", "hash-max-listpack-entries", "512")])


def test_idle_time_frequency_and_memory_usage(r, pikamp_server):
    c = RawConn(pikamp_server.port)
    try:
        c.call("SET", "k", "v" * 100)
        c.call("RPUSH", "l", *[str(i) for i in range(100)])
        assert c.call("OBJECT", "IDLETIME", "k") == b":0\r\n"  # access times are not kept
        small = parse(c.call("MEMORY", "USAGE", "k"))
        assert 100 < small < 400
        all_sampled = parse(c.call("MEMORY", "USAGE", "l", "SAMPLES", "0"))
        assert parse(c.call("MEMORY", "USAGE", "l")) > 100 * 8 and all_sampled > 100 * 8
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        assert c.call("OBJECT", "FREQ", "k") == b":0\r\n"
        assert c.call("OBJECT", "IDLETIME", "k").startswith(b"-ERR An LFU maxmemory policy is selected")
    finally:
        c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        c.close()


def test_reset_needs_auth_again(tmp_path):
    from servers import PikampServer

    srv = PikampServer(str(tmp_path / "auth")).start()
    try:
        c = RawConn(srv.port)
        c.call("CONFIG", "SET", "requirepass", "pw")
        assert c.call("AUTH", "pw") == b"+OK\r\n"
        c.call("HELLO", "3")
        assert c.call("RESET") == b"+RESET\r\n"
        assert c.call("GET", "x").startswith(b"-NOAUTH")
        assert c.call("AUTH", "pw") == b"+OK\r\n"
        assert c.call("GET", "x") == b"$-1\r\n"  # RESP2 again
        c.close()
    finally:
        srv.stop()


def test_memory_stats_doctor_purge_like_redis(diff):
    """MEMORY STATS has Redis' fields (and types); DOCTOR one of Redis'
    reports; MALLOC-STATS and PURGE answer as Redis without jemalloc."""
    diff("SET", "k", "v")
    for args in (("MEMORY", "HELP"), ("MEMORY", "STATS", "x"), ("MEMORY", "DOCTOR", "x"), ("MEMORY", "PURGE", "x"),
                 ("MEMORY", "NOSUCH")):
        diff(*args)
    def as_dict(reply):  # RESP2: a flat list; RESP3: ("map", pairs), doubles as ("double", text)
        if isinstance(reply, tuple):
            return {k: v[0] if isinstance(v, tuple) else v for k, v in reply[1]}
        return dict(zip(reply[0::2], reply[1::2]))

    mine, ref = (as_dict(parse(raw)) for raw in diff.both("MEMORY", "STATS"))
    assert {k for k in mine} == {k for k in ref if not k.startswith(b"db.")}
    for key, value in ref.items():
        if not key.startswith(b"db."):
            assert type(mine[key]) is type(value), key
    assert mine[b"keys.count"] >= 1 and mine[b"total.allocated"] <= mine[b"peak.allocated"]
    doctor = parse(diff.p.call("MEMORY", "DOCTOR"))
    text = doctor[1] if isinstance(doctor, tuple) else doctor
    text = text.removeprefix(b"txt:")  # RESP3: a verbatim string
    assert text.startswith((b"Hi Sam, I can't find any memory issue", b"Sam, I detected a few issues"))
    assert diff.p.call("MEMORY", "PURGE") == b"+OK\r\n"
    assert parse(diff.p.call("MEMORY", "MALLOC-STATS")) == b"Stats not supported for the current allocator"


def test_startup_memory_is_noted_once_per_start(tmp_path):
    """INFO used_memory_startup and MEMORY STATS startup.allocated: the
    process tree's RSS once started (Redis' "startup"); a new start of the
    server notes it again, and forgets the last run's peak."""
    import os
    import time

    from servers import PikampServer

    srv = PikampServer(str(tmp_path / "mem")).start()
    try:
        c = RawConn(srv.port)
        deadline = time.monotonic() + 10
        startup = 0
        while time.monotonic() < deadline and not startup:
            info = dict(line.split(":", 1) for line in parse(c.call("INFO", "memory")).decode().splitlines()
                        if ":" in line)
            startup = int(info["used_memory_startup"])
            time.sleep(0.1)
        assert 0 < startup <= int(info["used_memory_peak"])
        stats = parse(c.call("MEMORY", "STATS"))
        assert dict(zip(stats[0::2], stats[1::2]))[b"startup.allocated"] == startup
        c.close()
        run = os.path.join(srv.workdir, "db", ".run")
        with open(os.path.join(run, "memory-peak"), "w") as f:
            f.write(str(1 << 40))  # as if the last run had used 1 TB
    finally:
        srv.stop()
    srv.start()
    try:
        peak = [line for line in parse(RawConn(srv.port).call("INFO", "memory")).decode().splitlines()
                if line.startswith("used_memory_peak:")]
        assert int(peak[0].split(":")[1]) < 1 << 40
    finally:
        srv.stop()
