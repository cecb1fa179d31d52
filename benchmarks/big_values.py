"""Big string values: what a 500 MB SET costs everyone, and what small edits of
a 100 MB value cost, pikamp next to redis-server (AOF, fsync every second).

    python3 benchmarks/big_values.py                  # about a minute
    python3 benchmarks/big_values.py --big-mb 100 --edit-mb 20

For each server it reports:
- SET of a ``--big-mb`` value: the time to its reply, the longest time another
  client waited meanwhile for a GET of a small key in the same DB (a client
  stalled by the big write), and the peak RSS of the server's process tree;
- on a ``--edit-mb`` value: APPEND of one byte, SETRANGE of 10 bytes in the
  middle, GETRANGE of 100 bytes in the middle, STRLEN, BITCOUNT of a 100-byte
  range, GETBIT (medians of ``--repeat`` runs), a whole GET and the DEL.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time

import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch import HOST, PikampServer, RedisServer, Server  # noqa: E402


def _encode(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out += [b"$%d\r\n" % len(a), a, b"\r\n"]
    return b"".join(out)


class Conn:
    """A blocking RESP2 connection with just enough parsing for these replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            self._fill()

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def call(self, *args: bytes):
        self.sock.sendall(_encode(*args))
        return self.reply()

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            value = bytes(self.buf[:n])
            del self.buf[: n + 2]
            return value
        if kind == b":":
            return int(rest)
        return rest

    def close(self) -> None:
        self.sock.close()


def _tree_rss(pid: int) -> int:
    total = 0
    root = psutil.Process(pid)
    for p in [root] + root.children(recursive=True):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


class Watch(threading.Thread):
    """While running: the peak RSS of a process tree, and the longest GET of a
    small key on another connection (how long other clients were held)."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.pid = server.proc.pid
        self.conn = Conn(server.port)
        self.conn.call(b"SET", b"bv:small", b"x")
        self.stop = threading.Event()
        self.peak_rss = _tree_rss(self.pid)
        self.worst_wait = 0.0

    def run(self) -> None:
        last_rss = 0.0
        while not self.stop.is_set():
            t = time.perf_counter()
            self.conn.call(b"GET", b"bv:small")
            now = time.perf_counter()
            self.worst_wait = max(self.worst_wait, now - t)
            if now - last_rss > 0.02:
                self.peak_rss = max(self.peak_rss, _tree_rss(self.pid))
                last_rss = now
            time.sleep(0.002)

    def finish(self) -> None:
        self.stop.set()
        self.join(60)
        self.conn.close()


def _timed(conn: Conn, *args: bytes) -> float:
    t = time.perf_counter()
    conn.call(*args)
    return time.perf_counter() - t


def _median(conn: Conn, repeat: int, *args: bytes) -> float:
    return statistics.median(_timed(conn, *args) for _ in range(repeat))


def measure(server: Server, big_mb: int, edit_mb: int, repeat: int) -> dict[str, str]:
    conn = Conn(server.port)
    out: dict[str, str] = {}
    rss0 = _tree_rss(server.proc.pid)
    big = os.urandom(1 << 20) * big_mb
    watch = Watch(server)
    watch.start()
    out[f"SET {big_mb} MB"] = f"{_timed(conn, b'SET', b'bv:big', big):.2f} s"
    del big
    time.sleep(0.2)
    watch.finish()
    out["longest wait of another client"] = f"{watch.worst_wait:.2f} s"
    out["peak RSS (tree)"] = f"{watch.peak_rss / 2**20:.0f} MB (idle {rss0 / 2**20:.0f} MB)"
    out[f"DEL {big_mb} MB"] = f"{_timed(conn, b'DEL', b'bv:big') * 1000:.1f} ms"

    size = edit_mb << 20
    conn.call(b"SET", b"bv:edit", os.urandom(1 << 20) * edit_mb)
    mid = b"%d" % (size // 2)
    ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731
    out[f"APPEND 1 byte to {edit_mb} MB"] = ms(_median(conn, repeat, b"APPEND", b"bv:edit", b"z"))
    out["SETRANGE 10 bytes in the middle"] = ms(_median(conn, repeat, b"SETRANGE", b"bv:edit", mid, b"0123456789"))
    out["GETRANGE 100 bytes in the middle"] = ms(
        _median(conn, repeat, b"GETRANGE", b"bv:edit", mid, b"%d" % (size // 2 + 99)))
    out["STRLEN"] = ms(_median(conn, repeat, b"STRLEN", b"bv:edit"))
    out["BITCOUNT of 100 bytes"] = ms(_median(conn, repeat, b"BITCOUNT", b"bv:edit", mid, b"%d" % (size // 2 + 99)))
    out["GETBIT in the middle"] = ms(_median(conn, repeat, b"GETBIT", b"bv:edit", b"%d" % (size * 4)))
    out[f"GET whole {edit_mb} MB"] = ms(_median(conn, 3, b"GET", b"bv:edit"))
    out[f"DEL {edit_mb} MB"] = ms(_timed(conn, b"DEL", b"bv:edit"))
    conn.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--big-mb", type=int, default=500)
    ap.add_argument("--edit-mb", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", type=int, default=0, help="pikamp workers (default: one per core)")
    ap.add_argument("--only", choices=("pikamp", "redis"), help="measure one server only")
    opts = ap.parse_args()
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="pikamp-bigvalues-") as tmp:
        for cls in (PikampServer, RedisServer):
            if opts.only and cls.name != opts.only:
                continue
            server = cls(os.path.join(tmp, cls.name), **({"workers": opts.workers} if cls is PikampServer else {}))
            try:
                server.start()
                results[cls.name] = measure(server, opts.big_mb, opts.edit_mb, opts.repeat)
            finally:
                server.stop()
    names = list(results)
    rows = list(next(iter(results.values())))
    width = max(map(len, rows)) + 2
    print(f"{'':{width}}" + "".join(f"{n:>24}" for n in names))
    for row in rows:
        print(f"{row:{width}}" + "".join(f"{results[n][row]:>24}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
