"""Memory per client is bounded: a client that pipelines without reading its
replies makes the server stop reading it, on the local and on the forwarded
path, and the memory comes back once it goes."""
from __future__ import annotations

import socket
import time

import psutil
import pytest
import redis

from resp_client import RawConn, read_to_eof
from servers import HOST, PikampServer

GETS = 300_000
VALUE = b"v" * 1000


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = PikampServer(str(tmp_path_factory.mktemp("flood"))).start()
    yield s
    s.stop()


def _rss(srv) -> int:
    return sum(p.memory_info().rss for p in srv.children() if "worker" in " ".join(p.cmdline()))


def _flood(srv, forwarded: bool) -> int:
    """Send GETS GETs of a 1 KB value without reading a reply; returns the
    workers' RSS growth (bytes) while the client sits there unread."""
    s = socket.create_connection((HOST, srv.port))
    s.sendall(b"CLIENT ID\r\n")
    cid = int(s.recv(100)[1:].split(b"\r\n")[0])
    db = (cid + 1) % 2 if forwarded else cid % 2  # DB i is owned by worker i % 2; the socket's worker is id % 2
    s.sendall(b"SELECT %d\r\n" % db)
    assert s.recv(100) == b"+OK\r\n"
    c = redis.Redis(host=HOST, port=srv.port, db=db)
    c.set("big", VALUE)
    before = _rss(srv)
    req = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 1000
    s.setblocking(False)
    sent, deadline = 0, time.monotonic() + 20
    while sent < GETS and time.monotonic() < deadline:
        try:
            s.send(req)
            sent += 1000
        except BlockingIOError:  # the server stopped reading us: as wanted
            time.sleep(0.01)
    time.sleep(1.0)
    grown = _rss(srv) - before
    assert c.ping()  # others are still served
    s.close()
    time.sleep(0.5)
    assert c.get("big") == VALUE
    c.close()
    return grown


@pytest.mark.parametrize("forwarded", [False, True], ids=["local", "forwarded"])
def test_unread_pipeline_holds_bounded_memory(srv, forwarded):
    grown = _flood(srv, forwarded)
    # Unbounded, this holds 300 MB of replies (and more in transit).
    assert grown < 100 << 20, f"workers grew {grown >> 20} MB under a {GETS} GET flood"


def test_output_buffer_limit_closes_client(srv):
    c = redis.Redis(host=HOST, port=srv.port)
    c.config_set("client-output-buffer-limit", "normal 1mb 0 0")
    assert "normal 1048576 0 0 slave" in c.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    try:
        c.set("big", VALUE * 100)  # 100 KB
        s = socket.create_connection((HOST, srv.port))
        s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 200)  # 20 MB of replies, never read
        time.sleep(1.0)
        got = len(read_to_eof(s, 5)[0])
        s.close()
        assert got < 10 << 20, "the client was not closed at its output limit"
        with pytest.raises(redis.ResponseError, match="Invalid client class"):
            c.config_set("client-output-buffer-limit", "master 1mb 1mb 60")
    finally:
        c.config_set("client-output-buffer-limit", "normal 0 0 0")
        c.close()


def test_unauthenticated_flood_is_closed(tmp_path):
    s = PikampServer(str(tmp_path / "auth"), requirepass="secret")
    try:
        s.start()
    except Exception:
        pass  # the launcher's PING gets NOAUTH; the server is up all the same
    try:
        sock = socket.create_connection((HOST, s.port))
        sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n" * 50_000)
        time.sleep(1.0)
        got = len(read_to_eof(sock, 5)[0])
        sock.close()
        assert got < 1 << 20, "every one of 50k AUTH errors was sent: no limit"
        assert psutil.pid_exists(s.proc.pid)
    finally:
        s.stop()


def test_query_buffer_limit_closes_client(srv):
    c = redis.Redis(host=HOST, port=srv.port)
    c.config_set("client-query-buffer-limit", 1 << 20)
    try:
        s = socket.create_connection((HOST, srv.port))
        s.sendall(b"PING\r\n*2\r\n$3\r\nGET\r\n$3000000\r\n")  # a 3 MB bulk, sent in part
        sent = 0
        s.settimeout(5)
        try:
            while sent < 2_500_000:
                s.sendall(b"x" * 100_000)
                sent += 100_000
        except OSError:
            pass
        got = read_to_eof(s, 5)[0]
        s.close()
        assert got == b"+PONG\r\n"  # answered, then closed with no more
        assert c.ping()
    finally:
        c.config_set("client-query-buffer-limit", 1 << 30)
        c.close()


def test_proto_max_bulk_len_set_at_run_time(srv):
    """CONFIG SET proto-max-bulk-len reaches every worker and their open
    connections: a bigger bulk is then a protocol error, SETRANGE past it
    and APPEND over it are refused."""
    c = redis.Redis(host=HOST, port=srv.port, protocol=2)
    conns = [RawConn(srv.port) for _ in range(4)]  # open before the change, on both workers
    try:
        c.config_set("proto-max-bulk-len", "2mb")
        assert c.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": "2097152"}
        for db, conn in enumerate(conns):
            assert conn.call("SELECT", str(db % 2)) == b"+OK\r\n"
            assert conn.call("SETRANGE", "k", str(3 << 20), "x").startswith(
                b"-ERR string exceeds maximum allowed size")
            conn.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
            assert conn.read_reply() == b"-ERR Protocol error: invalid bulk length\r\n"
    finally:
        c.config_set("proto-max-bulk-len", "512mb")
        c.close()
        for conn in conns:
            conn.close()
