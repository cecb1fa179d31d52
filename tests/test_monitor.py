"""MONITOR: the connection is handed to the monitor process, which streams
every command of every worker in Redis' line format (addresses of the
clients that sent them, passwords redacted, admin commands hidden, EXEC
after its commands); QUIT and RESET leave monitor mode; a monitor that does
not read is cut off; redis-cli monitor and redis-py's Monitor work."""
from __future__ import annotations

import re
import socket
import subprocess
import time

import redis

from resp_client import RawConn
from servers import HOST, PikampServer

LINE = re.compile(rb'^\+(\d+)\.(\d{6}) \[(\d+) ([0-9.:]+)\] (.*)$')


def _monitor(port: int) -> RawConn:
    m = RawConn(port)
    assert m.call("MONITOR") == b"+OK\r\n"
    return m


def _lines(m: RawConn, n: int) -> list[tuple[int, str, bytes]]:
    """(db, addr, command part) of the next n lines."""
    out = []
    for _ in range(n):
        raw = m.read_reply().rstrip(b"\r\n")
        found = LINE.match(raw)
        assert found, raw
        out.append((int(found.group(3)), found.group(4).decode(), found.group(5)))
    return out


def _addr(c: RawConn) -> str:
    host, port = c.sock.getsockname()
    return f"{host}:{port}"


def test_lines_of_every_worker(pikamp_server):
    m = _monitor(pikamp_server.port)
    a, b = RawConn(pikamp_server.port), RawConn(pikamp_server.port)
    try:
        a.call("SET", "k", b'v "quoted"\n\x01\xff')
        a.call("SELECT", "1")  # DB 1: the other worker owns it
        a.call("RPUSH", "l", "x")
        b.call("AUTH", "secret")
        b.call("HELLO", "2", "AUTH", "default", "pw")
        b.call("CONFIG", "GET", "port")  # admin: not shown
        b.call("NOSUCH")  # refused before it ran: not shown
        b.call("MULTI")
        b.call("INCR", "n")
        b.call("EXEC")
        b.call("FLUSHALL")
        got = _lines(m, 9)
        assert got == [
            (0, _addr(a), b'"SET" "k" "v \\"quoted\\"\\n\\x01\\xff"'),
            (1, _addr(a), b'"SELECT" "1"'),
            (1, _addr(a), b'"RPUSH" "l" "x"'),
            (0, _addr(b), b'"AUTH" "(redacted)"'),
            (0, _addr(b), b'"HELLO" "2" "AUTH" "(redacted)" "(redacted)"'),
            (0, _addr(b), b'"MULTI"'),
            (0, _addr(b), b'"INCR" "n"'),
            (0, _addr(b), b'"EXEC"'),
            (0, _addr(b), b'"FLUSHALL"'),
        ]
    finally:
        for c in (m, a, b):
            c.close()


def test_quit_and_reset_leave_monitor_mode(pikamp_server):
    m = _monitor(pikamp_server.port)
    assert m.call("GET", "x").startswith(b"-ERR")
    assert m.call("QUIT") == b"+OK\r\n"
    assert m.read_until_closed() == b""
    m = _monitor(pikamp_server.port)
    try:
        assert m.call("RESET") == b"+RESET\r\n"
        # A normal client again, served by a worker.
        assert m.call("SET", "after", "reset") == b"+OK\r\n"
        assert m.call("GET", "after") == b"$5\r\nreset\r\n"
        assert m.call("PING") == b"+PONG\r\n"
    finally:
        m.close()


def test_commands_pipelined_after_monitor_go_with_it(pikamp_server):
    c = RawConn(pikamp_server.port)
    try:
        c.send_raw(b"PING\r\nMONITOR\r\nQUIT\r\n")
        assert c.read_reply() == b"+PONG\r\n"
        assert c.read_reply() == b"+OK\r\n"
        assert c.read_reply() == b"+OK\r\n"
        assert c.read_until_closed() == b""
    finally:
        c.close()


def test_redis_cli_and_redis_py_monitor(pikamp_server):
    proc = subprocess.Popen(["redis-cli", "-h", HOST, "-p", str(pikamp_server.port), "monitor"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    r = redis.Redis(host=HOST, port=pikamp_server.port, protocol=2)
    try:
        with r.monitor() as mon:
            deadline = time.monotonic() + 10
            seen = None
            while seen is None and time.monotonic() < deadline:
                r.set("from-py", "1")
                cmd = mon.next_command()
                if "from-py" in cmd["command"]:
                    seen = cmd
            assert seen is not None and seen["command"] == "SET from-py 1" and seen["db"] == 0
        for _ in range(20):  # redis-cli attaches on its own time: several tries, one is enough
            r.set("from-cli", "1")
            time.sleep(0.1)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        r.close()
    assert b'"SET" "from-cli" "1"' in out


def test_slow_monitor_is_cut_off_and_feeding_stops(tmp_path):
    srv = PikampServer(str(tmp_path), client_output_buffer_limit="normal 0 0 0 slave 0 0 0 pubsub 1mb 256kb 60")
    srv.start()
    try:
        m = RawConn(srv.port)
        assert m.call("MONITOR") == b"+OK\r\n"
        r = redis.Redis(host=HOST, port=srv.port)
        value = b"v" * 16384
        pipe = r.pipeline(transaction=False)
        for _ in range(40):  # 64 MB offered to a monitor that reads nothing meanwhile
            for i in range(100):
                pipe.set(f"k{i}", value)
            pipe.execute()
        m.sock.settimeout(5)
        try:
            while m.sock.recv(1 << 20):  # what was sent before the cut, then EOF
                pass
            cut = True
        except ConnectionResetError:
            cut = True
        except socket.timeout:  # still open once the writes stopped: not cut off
            cut = False
        assert cut
        assert r.get("k1") == value  # the workers never stalled
        monitor = [p for p in srv.children() if "pikamp: monitor" in " ".join(p.cmdline())][0]
        assert monitor.memory_info().rss < 512 << 20
        r.close()
        m.close()
    finally:
        srv.stop()


def test_a_line_waits_for_its_clients_address_from_another_link():
    """A forwarded command is fed by the DB's owner, the client's address by
    the client's own worker: over two links, either may come first. The
    line waits for the address (bounded), and lines keep their order."""
    import asyncio

    from pikamp.config import Config
    from pikamp.services import monitor as svcmod
    from pikamp.services.pubsub import encode_array

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        svc = svcmod.MonitorService(Config())
        svc.loop = asyncio.get_running_loop()
        sent: list[bytes] = []
        svc.broadcast = sent.append  # type: ignore[method-assign]
        owner, home = svcmod.WorkerLink(svc), svcmod.WorkerLink(svc)
        owner.data_received(encode_array([b"H", b"1"]))
        home.data_received(encode_array([b"H", b"0"]))
        owner.data_received(encode_array([b"L", b"1000000", b"1", b"7", b"RPUSH", b"l", b"x"])
                            + encode_array([b"L", b"2000000", b"1", b"0", b"DEL", b"e"]))
        assert sent == []  # the second line, known, waits behind the first
        home.data_received(encode_array([b"C", b"7", b"127.0.0.1:5000"]))
        first = list(sent)
        sent.clear()
        owner.data_received(encode_array([b"L", b"3000000", b"1", b"8", b"GET", b"k"]))
        home.data_received(encode_array([b"X", b"7"]))  # client 7 went: its address is forgotten
        await asyncio.sleep(svcmod.HOLD_SECONDS + 0.2)  # address 8 never comes
        assert svc.addrs == {}
        return first, sent

    first, late = asyncio.run(scenario())
    assert b"".join(first) == (b'+1.000000 [1 127.0.0.1:5000] "RPUSH" "l" "x"\r\n'
                               b'+2.000000 [1 pikamp] "DEL" "e"\r\n')
    assert late == [b'+3.000000 [1 ?] "GET" "k"\r\n']
