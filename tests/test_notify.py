"""Keyspace notifications (notify-keyspace-events): for each sequence, the
messages a PSUBSCRIBE __key*__:* client gets from pikamp are Redis 7.0's, in
order, for several class settings; expiry (lazy and by the active cycle)
sends "expired"; events of DBs owned by either worker arrive; no setting,
no events."""
from __future__ import annotations

import time

import pytest

from resp_client import RawConn, parse

DUMPED_V = b"\x00\x01v\n\x00\x91\x08\xce\xb2\x198\x8a\xce"  # Redis 7.0's DUMP of the string "v"
SEQUENCES = {
    "strings": [("SET", "a", "1"), ("SET", "a", "2", "EX", "100"), ("SETEX", "b", "10", "v"), ("INCR", "n"),
                ("INCRBYFLOAT", "n", "1.5"), ("APPEND", "a", "x"), ("SETRANGE", "a", "0", "zz"),
                ("DEL", "a", "b", "nosuch"), ("MSET", "x", "1", "y", "2"), ("GETDEL", "x"), ("DECRBY", "n", "3"),
                ("SETBIT", "bits", "7", "1"), ("SET", "s", "v", "NX"), ("SET", "s", "w", "XX", "GET")],
    "bitfield": [("BITFIELD", "b", "SET", "u8", "0", "1"), ("BITFIELD", "b", "SET", "u8", "0", "1"),
                 ("BITFIELD", "b", "GET", "u8", "0"),
                 ("BITFIELD", "b", "OVERFLOW", "FAIL", "SET", "u8", "100", "999"),
                 ("BITFIELD", "c", "OVERFLOW", "FAIL", "INCRBY", "u1", "0", "2"),
                 ("BITFIELD", "b", "INCRBY", "u8", "0", "0"),
                 ("BITFIELD", "b", "SET", "u8", "0", "0", "SET", "u8", "0", "1"),
                 ("BITFIELD", "c", "INCRBY", "i5", "3", "1"),
                 ("BITFIELD", "b", "OVERFLOW", "FAIL", "SET", "u8", "300", "999", "SET", "u8", "0", "1"),
                 ("BITFIELD_RO", "b", "GET", "u8", "0"), ("BITFIELD", "b", "GET", "x8", "0"),
                 ("SETBIT", "s", "7", "1"), ("SETBIT", "s", "7", "1"), ("SETBIT", "s", "7", "0"),
                 ("SETBIT", "s", "100", "0"), ("SETBIT", "s", "3", "0")],
    "hyperloglog": [("PFADD", "h", "a"), ("PFADD", "h", "a"), ("PFCOUNT", "h"), ("PFMERGE", "m", "h"),
                    ("PFMERGE", "m"), ("PFADD", "h", "b", "c"), ("PFADD", "new")],
    "lists": [("RPUSH", "l", "a", "b"), ("LPUSH", "l", "z"), ("LPOP", "l"), ("RPOP", "l", "2"),
              ("RPUSH", "l", "1", "2", "3"), ("LTRIM", "l", "1", "1"), ("LSET", "l", "0", "q"),
              ("LINSERT", "l", "BEFORE", "q", "p"), ("LREM", "l", "0", "p"), ("RPOPLPUSH", "l", "l2"),
              ("LMOVE", "l2", "l3", "LEFT", "RIGHT"), ("LPOP", "nosuch"), ("RPUSH", "r", "1", "2"),
              ("LMOVE", "r", "r", "LEFT", "RIGHT"), ("LMPOP", "1", "r", "RIGHT", "COUNT", "5"),
              ("SORT", "l3", "ALPHA", "STORE", "srt"), ("SORT", "l3", "ALPHA"), ("SORT", "nosuch", "STORE", "srt")],
    "hashes": [("HSET", "h", "f", "1", "g", "2"), ("HINCRBY", "h", "f", "2"), ("HINCRBYFLOAT", "h", "f", "0.5"),
               ("HDEL", "h", "f"), ("HDEL", "h", "g"), ("HSETNX", "h", "a", "1"), ("HSETNX", "h", "a", "2"),
               ("HDEL", "h", "nosuch")],
    "sets": [("SADD", "s", "a", "b"), ("SADD", "s", "a"), ("SREM", "s", "a"), ("SMOVE", "s", "t", "b"),
             ("SADD", "s", "x"), ("SINTERSTORE", "d", "s", "t"), ("SUNIONSTORE", "d", "s", "t"),
             ("SDIFFSTORE", "d", "s", "s"), ("SPOP", "t")],
    "zsets": [("ZADD", "z", "1", "a", "2", "b"), ("ZADD", "z", "INCR", "5", "a"), ("ZINCRBY", "z", "1", "b"),
              ("ZREM", "z", "a"), ("ZADD", "z", "3", "c"), ("ZPOPMIN", "z"), ("ZREMRANGEBYSCORE", "z", "0", "100"),
              ("ZADD", "z", "1", "m"), ("ZUNIONSTORE", "zz", "1", "z"), ("ZREMRANGEBYRANK", "zz", "0", "-1"),
              ("ZADD", "q", "1", "x"), ("ZRANGESTORE", "q2", "q", "0", "-1"), ("ZMPOP", "1", "q", "MAX")],
    "geo": [("GEOADD", "g", "1", "2", "a", "3", "4", "b"), ("GEOADD", "g", "1", "2", "a"),
            ("GEOADD", "g", "XX", "CH", "5", "6", "a"), ("GEOADD", "g", "NX", "5", "6", "c"),
            ("GEORADIUS", "g", "1", "2", "1000", "km", "STORE", "d"), ("GEORADIUS", "g", "1", "2", "1000", "km"),
            ("GEORADIUSBYMEMBER", "g", "a", "10", "km", "STOREDIST", "d"),
            ("GEORADIUS", "g", "1", "2", "1000", "km", "STORE", "x", "STORE", "y"),  # y: the last one
            ("GEOSEARCHSTORE", "e", "g", "FROMMEMBER", "a", "BYRADIUS", "1", "km", "STOREDIST"),
            ("GEORADIUS", "g", "-100", "-50", "1", "km", "STORE", "d"),  # nothing there: d deleted
            ("GEORADIUS", "g", "-100", "-50", "1", "km", "STORE", "d"),  # and no event when there is no d
            ("GEOSEARCHSTORE", "e", "nokey", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
            ("GEOSEARCH", "g", "FROMMEMBER", "a", "BYRADIUS", "1", "km"), ("ZREM", "g", "a", "b", "c")],
    "generic": [("SET", "k", "v"), ("EXPIRE", "k", "100"), ("PERSIST", "k"), ("PEXPIRE", "k", "100000"),
                ("RENAME", "k", "k2"), ("COPY", "k2", "k3"), ("EXPIRE", "k3", "-1"), ("SET", "e", "v", "PX", "1"),
                ("SLEEP",), ("GET", "e"), ("GETEX", "k2", "EX", "100"), ("GETEX", "k2", "PERSIST"),
                ("SET", "k2", "v", "KEEPTTL"), ("SETNX", "k2", "x"), ("SETNX", "new", "x"), ("UNLINK", "new"),
                ("MULTI",), ("SET", "m", "1"), ("INCR", "m"), ("EXEC",)],
    "restore": [("RESTORE", "r", "0", DUMPED_V), ("RESTORE", "r", "0", DUMPED_V), ("SADD", "s", "a"),
                ("RESTORE", "s", "100000", DUMPED_V, "REPLACE"), ("RESTORE", "s", "1", DUMPED_V, "REPLACE", "ABSTTL"),
                ("RESTORE", "n", "1", DUMPED_V, "ABSTTL"), ("DUMP", "r")],
}


def _events(port: int, commands, flags: str, db: int = 0) -> list[tuple[bytes, bytes]]:
    c, s = RawConn(port), RawConn(port)
    try:
        c.call("SELECT", str(db))
        c.call("FLUSHALL")
        assert c.call("CONFIG", "SET", "notify-keyspace-events", flags) == b"+OK\r\n"
        s.call("PSUBSCRIBE", "__key*__:*")
        for cmd in commands:
            if cmd == ("SLEEP",):
                time.sleep(0.05)
            else:
                c.call(*cmd)
        c.call("PUBLISH", "__keyspace@0__:__end", "end")  # after every event of the sequence
        out = []
        while (m := parse(s.read_reply()))[2] != b"__keyspace@0__:__end":
            out.append((m[2], m[3]))
            assert len(out) < 500
        return out
    finally:
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()
        s.close()


@pytest.mark.parametrize("flags", ["KEA", "E$", "Kgx", "Elz", "KEsh"])
@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_events_like_redis(pikamp_server, redis_server, name, flags):
    mine = _events(pikamp_server.port, SEQUENCES[name], flags)
    ref = _events(redis_server.port, SEQUENCES[name], flags)
    assert mine == ref


def test_events_of_the_other_workers_db(pikamp_server, redis_server):
    seq = [("RPUSH", "l", "a"), ("LPOP", "l"), ("SET", "x", "1", "EX", "10"), ("MOVE", "x", "3"), ("SET", "y", "1"),
           ("MOVE", "y", "2")]  # from db1: x to a DB of the same worker, y to the other worker's
    assert _events(pikamp_server.port, seq, "KEA", db=1) == _events(redis_server.port, seq, "KEA", db=1)


def test_active_expiry_sends_expired(pikamp_server):
    c, s = RawConn(pikamp_server.port), RawConn(pikamp_server.port)
    try:
        c.call("CONFIG", "SET", "notify-keyspace-events", "Ex")
        s.call("SUBSCRIBE", "__keyevent@0__:expired")
        c.call("SET", "gone-soon", "v", "PX", "50")  # nobody reads it: the cycle removes it
        assert parse(s.read_reply()) == [b"message", b"__keyevent@0__:expired", b"gone-soon"]
    finally:
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()
        s.close()


def test_no_setting_no_events(pikamp_server):
    c, s = RawConn(pikamp_server.port), RawConn(pikamp_server.port)
    try:
        assert parse(c.call("CONFIG", "GET", "notify-keyspace-events")) == [b"notify-keyspace-events", b""]
        s.call("PSUBSCRIBE", "__key*__:*")
        c.call("SET", "quiet", "1")
        c.call("DEL", "quiet")
        assert parse(c.call("PUBLISH", "__keyspace@0__:probe", "p")) == 1  # our subscriber is there ...
        assert parse(s.read_reply())[3] == b"p"  # ... and got nothing before the probe
    finally:
        c.close()
        s.close()
