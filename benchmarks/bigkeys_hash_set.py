"""Big hashes and sets in pikamp: removing or replacing a key with a million
members costs O(1), whatever the way it goes.

    python3 benchmarks/bigkeys_hash_set.py [--members N] [--workers N]

Starts pikamp (its own temp dir, free 127.0.0.1 port), fills a hash and a set
with N members each (pipelined HSET/SADD batches), and for each way a key can
go (DEL, UNLINK, expiry, SET over it) measures how long that command takes.
It also times HLEN/SCARD on the big keys, checks that a key re-created after
the removal holds none of the old members, and times reads of neighbouring
keys (adjacent in RocksDB's key order) before and after. Prints a table;
every process it started is stopped, and the temp dir removed, on exit.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time

import hiredis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from launch import HOST, PikampServer  # noqa: E402

BATCH = 1000  # members per HSET / SADD
PIPELINE = 20  # commands per write
SAMPLES = 200  # repetitions for the median of a fast read
BIG_HASH, BIG_SET = b"bigh", b"bigs"
# Neighbours: same key length, so their data entries sit right next to the big keys'.
NEIGHBOURS = [
    ("HGET", b"bigg", b"f50"),
    ("HGETALL", b"bigi"),
    ("SISMEMBER", b"bigr", b"m50"),
    ("SMEMBERS", b"bigt"),
    ("GET", b"bigh0"),
]


class Conn:
    """A minimal pipelining RESP client (hiredis parses the replies)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()

    @staticmethod
    def encode(args) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%b\r\n" % (len(a), a))
        return b"".join(out)

    def pipeline(self, commands) -> list:
        self.sock.sendall(b"".join(self.encode(c) for c in commands))
        replies = []
        while len(replies) < len(commands):
            reply = self.reader.gets()
            if reply is False:
                self.reader.feed(self.sock.recv(1 << 20))
                continue
            if isinstance(reply, hiredis.ReplyError):
                raise RuntimeError(f"{commands[len(replies)][:2]!r}: {reply}")
            replies.append(reply)
        return replies

    def call(self, *args):
        return self.pipeline([args])[0]

    def timed(self, *args) -> tuple[object, float]:
        """(reply, milliseconds for the round trip)."""
        t = time.perf_counter()
        reply = self.call(*args)
        return reply, (time.perf_counter() - t) * 1000

    def median_ms(self, *args, n: int = SAMPLES) -> float:
        return statistics.median(self.timed(*args)[1] for _ in range(n))

    def close(self) -> None:
        self.sock.close()


def fill(conn: Conn, key: bytes, members: int, is_hash: bool) -> float:
    """Create ``key`` with ``members`` entries; returns entries per second."""
    t = time.perf_counter()
    commands = []
    for start in range(0, members, BATCH):
        chunk = range(start, min(start + BATCH, members))
        if is_hash:
            commands.append([b"HSET", key] + [x for i in chunk for x in (b"f%d" % i, b"v%d" % i)])
        else:
            commands.append([b"SADD", key] + [b"m%d" % i for i in chunk])
        if len(commands) == PIPELINE:
            conn.pipeline(commands)
            commands = []
    if commands:
        conn.pipeline(commands)
    size = conn.call(b"HLEN" if is_hash else b"SCARD", key)
    assert size == members, f"{key!r} has {size} members, expected {members}"
    return members / (time.perf_counter() - t)


def remove(conn: Conn, key: bytes, how: str) -> tuple[float, str]:
    """Make ``key`` go by ``how``; -> (ms of the command that does the work, what was timed)."""
    if how == "DEL":
        return conn.timed(b"DEL", key)[1], "DEL"
    if how == "UNLINK":
        return conn.timed(b"UNLINK", key)[1], "UNLINK"
    if how == "SET over it":
        ms = conn.timed(b"SET", key, b"a string now")[1]
        assert conn.call(b"TYPE", key) == b"string"
        conn.call(b"DEL", key)
        return ms, "SET"
    # Expiry: PEXPIRE is a meta write; the members go when the key is next
    # touched (lazy expiry) or by the active expire cycle, whichever comes first.
    pexpire_ms = conn.timed(b"PEXPIRE", key, 1)[1]
    time.sleep(0.003)
    exists, access_ms = conn.timed(b"EXISTS", key)
    assert exists == 0
    return max(pexpire_ms, access_ms), f"PEXPIRE {pexpire_ms:.3f} ms, first access after expiry"


def check_recreated_is_empty(conn: Conn, key: bytes, is_hash: bool) -> bool:
    """Re-create ``key`` with one member; True if none of the old members shows."""
    if is_hash:
        conn.call(b"HSET", key, b"new", b"1")
        cursor, page = conn.call(b"HSCAN", key, 0, b"COUNT", 1000)
        ok = (conn.call(b"HLEN", key) == 1 and conn.call(b"HGET", key, b"f1") is None
              and page == [b"new", b"1"] and cursor == b"0")
    else:
        conn.call(b"SADD", key, b"new")
        cursor, page = conn.call(b"SSCAN", key, 0, b"COUNT", 1000)
        ok = (conn.call(b"SCARD", key) == 1 and conn.call(b"SISMEMBER", key, b"m1") == 0
              and page == [b"new"] and cursor == b"0" and conn.call(b"SRANDMEMBER", key) == b"new")
    conn.call(b"DEL", key)
    return ok


def setup_neighbours(conn: Conn) -> None:
    conn.pipeline([
        [b"HSET", b"bigg"] + [x for i in range(100) for x in (b"f%d" % i, b"v%d" % i)],
        [b"HSET", b"bigi"] + [x for i in range(100) for x in (b"f%d" % i, b"v%d" % i)],
        [b"SADD", b"bigr"] + [b"m%d" % i for i in range(100)],
        [b"SADD", b"bigt"] + [b"m%d" % i for i in range(100)],
        [b"SET", b"bigh0", b"neighbour"],
    ])


def neighbour_reads(conn: Conn) -> list[float]:
    return [conn.median_ms(*cmd) for cmd in NEIGHBOURS]


def run(members: int, workers: int) -> None:
    workdir = tempfile.mkdtemp(prefix="pikamp-bigkeys-")
    server = PikampServer(os.path.join(workdir, "pikamp"), workers=workers)
    try:
        server.start()
        conn = Conn(server.port)
        setup_neighbours(conn)
        print(f"pikamp on port {server.port}, {server.workers} workers; {members:,} members per big key\n")
        rows = []
        neighbours_before = neighbour_reads(conn)
        for how in ("DEL", "UNLINK", "expiry", "SET over it"):
            for key, is_hash in ((BIG_HASH, True), (BIG_SET, False)):
                rate = fill(conn, key, members, is_hash)
                size_cmd = b"HLEN" if is_hash else b"SCARD"
                size_ms = conn.median_ms(size_cmd, key)
                keys_before = conn.call(b"DBSIZE")
                ms, timed = remove(conn, key, how)
                gone = conn.call(b"EXISTS", key) == 0 and conn.call(b"DBSIZE") == keys_before - 1
                clean = check_recreated_is_empty(conn, key, is_hash)
                rows.append((b"hash" if is_hash else b"set", how, rate, size_cmd.decode(), size_ms, ms, timed,
                             gone and clean))
        neighbours_after = neighbour_reads(conn)
        print_tables(rows, neighbours_before, neighbours_after)
        conn.close()
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def print_tables(rows, before: list[float], after: list[float]) -> None:
    print(f"{'type':5} {'removed by':12} {'fill/s':>9} {'size cmd':>9} {'size ms':>8} {'remove ms':>10}  "
          f"{'clean':5}  timed command")
    for typ, how, rate, size_cmd, size_ms, ms, timed, ok in rows:
        print(f"{typ.decode():5} {how:12} {rate:9,.0f} {size_cmd:>9} {size_ms:8.3f} {ms:10.3f}  "
              f"{'yes' if ok else 'NO':5}  {timed}")
    print("\n'clean': the key is gone (EXISTS 0, DBSIZE one less) and, re-created with one")
    print("member, shows none of the old ones (HLEN/SCARD 1, HSCAN/SSCAN, old member absent).\n")
    print(f"{'neighbour read (median ms)':34} {'before':>8} {'after':>8}")
    for cmd, b, a in zip(NEIGHBOURS, before, after):
        label = " ".join(x.decode() if isinstance(x, bytes) else x for x in cmd)
        print(f"{label:34} {b:8.3f} {a:8.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=0, help="pikamp workers (0: one per core)")
    args = ap.parse_args()
    run(args.members, args.workers)


if __name__ == "__main__":
    main()
