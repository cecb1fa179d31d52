"""Protocol robustness: pipelining, requests split across reads, inline commands,
malformed input (answered and closed byte-for-byte as Redis 7.0 does), binary
safety, command-name errors and the RESP3 handshake.

Where Redis's behaviour is the spec, the same bytes go to the reference
redis-server and the replies are compared raw."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis
from resp_client import RawConn, encode_command, parse, read_to_eof
from servers import HOST, REPO_ROOT, PikampServer, free_port

from pikamp.protocol import ProtocolError, RequestParser

# -- helpers -----------------------------------------------------------------------------


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def answer_and_close(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` and return what the server answers before it closes the
    connection on its own (fails if it does not close)."""
    with connect(port) as s:
        s.sendall(data)
        out, closed = read_to_eof(s, timeout)
    assert closed, f"server kept the connection open after {data[:60]!r}; sent {out[:200]!r}"
    return out


def transcript(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data``, then end our side (half-close): everything the server answers.

    The connection is one on worker 0, which owns db0, so that no reply waits
    on a forwarded command when the half-close arrives (see
    test_half_close_still_delivers_forwarded_replies)."""
    c = conn_on_worker(port, 0)
    with c.sock as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out, closed = read_to_eof(s, timeout)
    assert closed, f"no EOF after half-close; got {out[:200]!r}"
    return out


def read_exactly(s: socket.socket, n: int, timeout: float = 30.0) -> bytes:
    s.settimeout(timeout)
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def send_in_background(s: socket.socket, data: bytes) -> threading.Thread:
    """sendall from a thread, so that replies can be read while a large request is sent."""
    t = threading.Thread(target=s.sendall, args=(data,), daemon=True)
    t.start()
    return t


def bulk(v: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(v), v)


def conn_on_worker(port: int, index: int, nworkers: int = 2) -> RawConn:
    """A connection accepted by worker ``index`` (client ids are index + k*nworkers)."""
    for _ in range(100):
        c = RawConn(port)
        if parse(c.call("CLIENT", "ID")) % nworkers == index:
            return c
        c.close()
    raise AssertionError(f"no connection landed on worker {index}")


def unique(prefix: str) -> str:
    return f"proto:{prefix}:{uuid.uuid4().hex[:8]}"


# -- request parser (unit): any split of the input parses the same ---------------------

SMALL_STREAM = b"".join([
    encode_command(["SET", "k1", "v1"]),
    b"PING\r\n",
    encode_command(["SET", "bin", bytes(range(256)) + b"\r\n*1\r\n$4\r\nPING\r\n"]),
    b"*0\r\n*-1\r\n",
    b'SET k2 "a b\\r\\n" \r\n',
    b"\r\n",
    b"GET k1\n",
    encode_command(["MSET"] + [f"key{i}" for i in range(100)]),
    encode_command(["GET", ""]),
    b"*1\r\n$4\r\nPINGxx",  # Redis skips the two bytes after a bulk unread
    encode_command(["DEL", "k1", "k2"]),
])
STREAM = SMALL_STREAM + encode_command(["ECHO", "x" * 70000]) + SMALL_STREAM


def parse_outcome(chunks: list[bytes]) -> tuple[list[list[bytes]], str | None]:
    """The commands a parser gets from ``chunks`` (fed one per read), up to the
    first protocol error, and that error's message (None if there was none)."""
    p = RequestParser()
    out: list[list[bytes]] = []
    for c in chunks:
        try:
            out += p.feed(c)
        except ProtocolError as e:
            return out + e.partial, str(e)
    return out, None


def one_byte_per_read(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_parser_reads_the_whole_stream_at_once():
    cmds, error = parse_outcome([SMALL_STREAM])
    assert error is None
    assert cmds[0] == [b"SET", b"k1", b"v1"]
    assert cmds[1] == [b"PING"]
    assert cmds[3] == [b"SET", b"k2", b"a b\r\n"]
    assert cmds[4] == [b"GET", b"k1"]
    assert cmds[6] == [b"GET", b""]
    assert cmds[-2:] == [[b"PING"], [b"DEL", b"k1", b"k2"]]
    assert len(cmds) == 9


def test_parser_same_commands_for_every_split_point():
    whole = parse_outcome([SMALL_STREAM])
    for i in range(1, len(SMALL_STREAM)):
        assert parse_outcome([SMALL_STREAM[:i], SMALL_STREAM[i:]]) == whole, f"split at {i}"


def test_parser_same_commands_fed_one_byte_at_a_time():
    assert parse_outcome(one_byte_per_read(SMALL_STREAM)) == parse_outcome([SMALL_STREAM])


def test_parser_same_commands_for_random_chunk_sizes():
    whole = parse_outcome([STREAM])
    rng = random.Random(1)
    for _ in range(200):
        chunks, pos = [], 0
        while pos < len(STREAM):
            n = rng.choice([1, 2, 3, 5, 17, 100, 1000, 40000])
            chunks.append(STREAM[pos : pos + n])
            pos += n
        assert parse_outcome(chunks) == whole


@pytest.mark.parametrize("data, message", [
    (encode_command(["PING"]) + b"*1\r\nx\r\n", "expected '$', got 'x'"),
    (encode_command(["PING"]) + b"*2\r\n$4\r\nECHO\r\n+hi\r\n", "expected '$', got '+'"),
    (b"PING\r\n*abc\r\n", "invalid multibulk length"),
    (encode_command(["PING"]) * 3 + b"*1\r\n$99999999999\r\n", "invalid bulk length"),
    (b'PING\r\nSET k "v\r\n', "unbalanced quotes in request"),
])
def test_parser_error_and_preceding_commands_do_not_depend_on_splits(data, message):
    expected = parse_outcome([data])
    assert expected[1] == message
    for i in range(1, len(data)):
        assert parse_outcome([data[:i], data[i:]]) == expected, f"split at {i}"
    assert parse_outcome(one_byte_per_read(data)) == expected


FRAGMENTS = [
    encode_command(["SET", "k", "v"]), encode_command(["GET", "k"]), encode_command(["ECHO", "a\r\nb"]),
    encode_command(["MSET", "a", "1", "b", "2"]), encode_command(["PING"]) * 3, b"PING\r\n", b"ECHO 'a b'\n",
    b"*0\r\n", b"*-1\r\n", b"\r\n", b"*1\r\n$4\r\nPINGxx", b"*1\r\n+x\r\n", b"~1\r\n$1\r\na\r\n",
    b"*2\r\n$1\r\na\r\n=5\r\ntxt:b\r\n", b"*1\r\n$-1\r\n", b"$3\r\nabc\r\n", b"*1\r\n*1\r\n$1\r\na\r\n",
    b"*1\r\n_\r\n", b"*1\r\n:5\r\n", b"*2\r\n$1\r\na\r\n%1\r\n$1\r\nb\r\n$1\r\nc\r\n", b"*9999999\r\n",
    b"*1\r\n$1\r\naxx~1234567\r\n", b'SET x "unbalanced\r\n', b"*1\r\n$4\nPING\r\n", b"|1\r\n+a\r\n+b\r\n",
]


@pytest.mark.parametrize("seed", range(40))
def test_parser_hiredis_and_python_paths_agree_on_random_input(seed):
    """One byte per read never takes the hiredis path; whole and random reads mostly do."""
    rng = random.Random(seed)
    data = b"".join(rng.choice(FRAGMENTS) if rng.random() < 0.9 else rng.randbytes(rng.randint(1, 8))
                    for _ in range(rng.randint(1, 12)))
    python_only = parse_outcome(one_byte_per_read(data))
    assert parse_outcome([data]) == python_only
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 4))))
        chunks = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        assert parse_outcome(chunks) == python_only


def test_parser_rejects_a_bulk_above_the_limit_even_when_it_arrives_whole():
    p = RequestParser(max_bulk=100)
    assert p.feed(encode_command(["SET", "k", "x" * 100])) == [[b"SET", b"k", b"x" * 100]]
    with pytest.raises(ProtocolError, match="invalid bulk length"):
        p.feed(encode_command(["SET", "k", "x" * 101]))


def test_parser_reads_nothing_after_a_protocol_error():
    p = RequestParser()
    with pytest.raises(ProtocolError):
        p.feed(b"*x\r\n")
    assert p.feed(encode_command(["PING"])) == []


def test_parser_huge_multibulk_count_costs_nothing_up_front():
    started = time.monotonic()
    p = RequestParser()
    assert p.feed(b"*2147483647\r\n$4\r\nMSET\r\n") == []
    assert time.monotonic() - started < 0.5


# -- pipelining over the socket -----------------------------------------------------------


def pipeline_round_trip(port: int, prefix: str, n: int, select: int | None = None,
                        conn: RawConn | None = None) -> None:
    """n SETs then n GETs in one write; every reply arrives, in order."""
    sets = b"".join(encode_command(["SET", f"{prefix}:{i}", f"v{i}"]) for i in range(n))
    gets = b"".join(encode_command(["GET", f"{prefix}:{i}"]) for i in range(n))
    expected = b"+OK\r\n" * n + b"".join(bulk(b"v%d" % i) for i in range(n))
    head = b""
    if select is not None:
        head = encode_command(["SELECT", str(select)])
        expected = b"+OK\r\n" + expected
    c = conn or RawConn(port)
    try:
        sender = send_in_background(c.sock, head + sets + gets)
        got = read_exactly(c.sock, len(expected))
        sender.join(30)
        assert got == expected
    finally:
        c.close()


def test_ten_thousand_sets_then_gets_in_one_write(pikamp_server):
    pipeline_round_trip(pikamp_server.port, unique("pipe"), 10_000)


def test_pipeline_forwarded_to_the_owner_keeps_reply_order(pikamp_server):
    """db1 is owned by worker 1; a connection on worker 0 forwards every command."""
    c = conn_on_worker(pikamp_server.port, 0)
    pipeline_round_trip(pikamp_server.port, unique("fwd"), 5_000, select=1, conn=c)


def test_pipeline_mixing_local_and_forwarded_commands_keeps_order(pikamp_server):
    c = conn_on_worker(pikamp_server.port, 0)
    key = unique("mix")
    reqs, expected = [], []
    for i in range(500):
        db = i % 3  # db0 local, db1 forwarded, db2 local
        reqs += [encode_command(["SELECT", str(db)]), encode_command(["SET", key, f"{db}:{i}"]),
                 encode_command(["PING"]), encode_command(["GET", key])]
        expected += [b"+OK\r\n", b"+OK\r\n", b"+PONG\r\n", bulk(f"{db}:{i}".encode())]
    c.send_raw(b"".join(reqs))
    assert read_exactly(c.sock, len(b"".join(expected))) == b"".join(expected)
    c.close()


def test_request_split_at_every_byte_boundary_over_the_socket(pikamp_server):
    key = unique("split")
    req = encode_command(["SET", key, "a\r\nb"]) + encode_command(["GET", key])
    expected = b"+OK\r\n" + bulk(b"a\r\nb")
    with connect(pikamp_server.port) as s:
        for i in range(1, len(req)):
            s.sendall(req[:i])
            time.sleep(0.002)  # let the server read the first part on its own
            s.sendall(req[i:])
            assert read_exactly(s, len(expected), 5) == expected, f"split at {i}"


def test_pipeline_sent_one_byte_at_a_time(pikamp_server):
    key = unique("bytes")
    req = (encode_command(["SET", key, "v1"]) + b"PING\r\n" + encode_command(["GET", key])
           + b'ECHO "x y"\n' + encode_command(["DEL", key]))
    expected = b"+OK\r\n+PONG\r\n" + bulk(b"v1") + bulk(b"x y") + b":1\r\n"
    with connect(pikamp_server.port) as s:
        for i in range(len(req)):
            s.sendall(req[i : i + 1])
        assert read_exactly(s, len(expected), 10) == expected


def test_pipeline_sent_in_random_chunks(pikamp_server):
    rng = random.Random(7)
    prefix = unique("chunks")
    reqs, expected = [], []
    for i in range(2000):
        value = rng.randbytes(rng.choice([0, 1, 10, 300, 5000]))
        reqs.append(encode_command(["SET", f"{prefix}:{i}", value]) + encode_command(["GET", f"{prefix}:{i}"]))
        expected.append(b"+OK\r\n" + bulk(value))
    data, want = b"".join(reqs), b"".join(expected)
    with connect(pikamp_server.port) as s:
        def send() -> None:
            pos = 0
            while pos < len(data):
                n = rng.choice([1, 2, 7, 64, 500, 4096, 30000])
                s.sendall(data[pos : pos + n])
                pos += n
                if rng.random() < 0.05:
                    time.sleep(0.001)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        assert read_exactly(s, len(want)) == want
        sender.join(30)


# -- inline commands ------------------------------------------------------------------------

INLINE = [
    b"PING\r\n",
    b"PING\n",
    b"ping hello\r\n",
    b'SET proto:inline "a b"\r\nGET proto:inline\n',
    b"SET proto:inline 'it''s'\r\n",
    b"SET proto:inline 'it\\'s'\r\nGET proto:inline\r\n",
    b'ECHO "\\x41\\x7a\\n\\t\\r\\b\\a\\"\\\\ \\q"\r\n',
    b'ECHO "\\x4"\r\n',
    b"ECHO a\"b c\"\r\n",
    b"ECHO \"\"\r\n",
    b"ECHO ''\r\n",
    b"  ECHO   spaced\t\targs \r\n",
    b"ECHO a\x0bb\r\n",
    b"\x0b\x0cPING\r\n",
    b"\r\n\r\n\n\nPING\r\n",
    b"ECHO a\rb\r\n",
    b"DEL proto:inline\r\n",
    b"+PING\r\n-ERR x\r\n:1\r\n$4\r\n~1\r\n",
    b"*1\r\n$4\r\nPINGxxPING\r\n",
    b"*-1\r\n*0\r\n*-7\r\nPING\r\n",
    b"PING\x00\r\nPING\r\n",  # Redis finds line ends with strchr: a NUL hides them
]


@pytest.mark.parametrize("data", INLINE, ids=[repr(d[:24]) for d in INLINE])
def test_inline_commands_answer_like_redis(pikamp_server, redis_server, data):
    assert transcript(pikamp_server.port, data) == transcript(redis_server.port, data)


@pytest.mark.parametrize("data", [b'SET k "a b\r\n', b"SET k 'a b\r\n", b'SET k "a"b\r\n', b"ECHO 'x'y\n"])
def test_unbalanced_quotes_are_a_protocol_error_and_close(pikamp_server, redis_server, data):
    reply = answer_and_close(pikamp_server.port, data)
    assert reply == b"-ERR Protocol error: unbalanced quotes in request\r\n"
    assert reply == answer_and_close(redis_server.port, data)


def test_inline_and_multibulk_mix_on_one_connection(pikamp_server, redis_server):
    key = unique("mixed")
    data = (b"SET %b 1\r\n" % key.encode() + encode_command(["INCR", key]) + b"GET %b\n" % key.encode()
            + encode_command(["ECHO", "multi"]) + b"ECHO inline\r\n" + encode_command(["DEL", key]))
    assert transcript(pikamp_server.port, data) == b"+OK\r\n:2\r\n$1\r\n2\r\n$5\r\nmulti\r\n$6\r\ninline\r\n:1\r\n"
    assert transcript(redis_server.port, data) == transcript(pikamp_server.port, data)


# -- malformed input --------------------------------------------------------------------------

MALFORMED = {
    "multibulk length not a number": b"*abc\r\n",
    "multibulk length with plus": b"*+1\r\n$4\r\nPING\r\n",
    "multibulk length with leading zero": b"*01\r\n$4\r\nPING\r\n",
    "multibulk length minus zero": b"*-0\r\n",
    "multibulk length with space": b"*1 \r\n$4\r\nPING\r\n",
    "multibulk length empty": b"*\r\n",
    "multibulk length above INT_MAX": b"*2147483648\r\n",
    "multibulk length far above INT_MAX": b"*3000000000\r\n",
    "multibulk line ended by LF only": b"*1\n$4\r\nPING\r\n",
    "expected dollar got x": b"*1\r\nx\r\n",
    "expected dollar got star": b"*2\r\n$4\r\nPING\r\n*1\r\n",
    "expected dollar got plus": b"*2\r\n$4\r\nECHO\r\n+hi\r\n",
    "expected dollar got colon": b"*2\r\n$4\r\nECHO\r\n:1\r\n",
    "expected dollar got LF": b"*1\r\n\nPING\r\n",
    "nested array": b"*1\r\n*1\r\n$4\r\nPING\r\n",
    "bulk length negative": b"*1\r\n$-3\r\n",
    "bulk length null": b"*1\r\n$-1\r\n",
    "bulk length not a number": b"*1\r\n$abc\r\n",
    "bulk length empty": b"*1\r\n$\r\n",
    "bulk length with plus": b"*1\r\n$+4\r\nPING\r\n",
    "bulk length with leading zero": b"*1\r\n$04\r\nPING\r\n",
    "bulk length above proto-max-bulk-len": b"*1\r\n$536870913\r\n",
    "bulk length 99999999999": b"*1\r\n$99999999999\r\n",
    "bulk length beyond 64 bits": b"*1\r\n$99999999999999999999\r\n",
    "bulk line ended by LF only": b"*1\r\n$4\nPING\r\n",
    "too big mbulk count string": b"*" + b"1" * 70000,
    "too big bulk count string": b"*1\r\n$" + b"1" * 70000,
    "too big inline request": b"A" * 70000,
    "too big inline request with a NUL": b"PING\x00\r\n" + b"x" * 70000,
    "commands before the error still run": encode_command(["PING"]) + b"ECHO hi\r\n*1\r\nx\r\n",
    "error after a pipeline": encode_command(["ECHO", "a"]) * 50 + b"*1\r\n$abc\r\n",
}


@pytest.fixture
def sentinel(pikamp_server):
    """A key written before the test; the test checks it afterwards on a fresh connection."""
    key, value = unique("sentinel"), os.urandom(16)
    c = RawConn(pikamp_server.port)
    assert c.call("SET", key, value) == b"+OK\r\n"
    c.close()
    before = pikamp_server.worker_pids()
    yield key, value
    assert pikamp_server.worker_pids() == before, "a worker died"
    for _ in range(4):  # fresh connections reach both workers
        c = RawConn(pikamp_server.port)
        assert c.call("PING") == b"+PONG\r\n"
        assert c.call("GET", key) == bulk(value)
        c.close()


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_request_is_answered_like_redis_and_closed(pikamp_server, redis_server, sentinel, data):
    mine = answer_and_close(pikamp_server.port, data)
    assert mine == answer_and_close(redis_server.port, data)
    assert mine.endswith(b"\r\n") and b"-ERR Protocol error: " in mine


def test_malformed_request_after_forwarded_commands_answers_them_first(pikamp_server, sentinel):
    c = conn_on_worker(pikamp_server.port, 0)
    key = unique("fwd-err")
    c.send_raw(encode_command(["SELECT", "1"]) + encode_command(["SET", key, "v"])
               + encode_command(["GET", key]) + b"*1\r\n$-3\r\n")
    out, closed = read_to_eof(c.sock, 5)
    c.close()
    assert closed
    assert out == b"+OK\r\n+OK\r\n$1\r\nv\r\n-ERR Protocol error: invalid bulk length\r\n"


@pytest.mark.parametrize("seed", range(6))
def test_binary_junk_is_answered_like_redis(pikamp_server, redis_server, sentinel, seed):
    rng = random.Random(seed)
    junk = bytes(rng.choice(b"*$\r\n\x00 \"'\\x0123456789abcPING\xff\x80") for _ in range(3000))
    mine, ref = transcript(pikamp_server.port, junk), transcript(redis_server.port, junk)
    assert mine == ref


def test_half_close_still_delivers_forwarded_replies(pikamp_server):
    key = unique("halfclose")
    for _ in range(5):
        c = conn_on_worker(pikamp_server.port, 1)  # db0 belongs to worker 0: forwarded
        c.send_raw(encode_command(["SET", key, "v"]) + encode_command(["GET", key]))
        c.sock.shutdown(socket.SHUT_WR)
        out, closed = read_to_eof(c.sock, 5)
        c.close()
        assert (out, closed) == (b"+OK\r\n$1\r\nv\r\n", True)


def test_nothing_runs_after_quit(private_server):
    owner = private_server.worker_pids()[0]
    c = conn_on_worker(private_server.port, 1)  # db0 is forwarded to worker 0
    key = unique("after-quit")
    os.kill(owner, signal.SIGSTOP)  # hold the forwarded reply, and with it the close
    try:
        c.send_raw(encode_command(["SET", key + ":before", "v"]) + encode_command(["QUIT"]))
        time.sleep(0.2)
        c.send_raw(encode_command(["SET", key, "v"]))
        time.sleep(0.2)
    finally:
        os.kill(owner, signal.SIGCONT)
    out, closed = read_to_eof(c.sock, 5)
    c.close()
    assert (out, closed) == (b"+OK\r\n+OK\r\n", True)
    assert RawConn(private_server.port).call("EXISTS", key) == b":0\r\n"


def test_random_bytes_never_hurt_the_server(pikamp_server, sentinel):
    rng = random.Random(42)
    for _ in range(20):
        with connect(pikamp_server.port) as s:
            s.sendall(rng.randbytes(rng.randint(1, 20000)))
            s.shutdown(socket.SHUT_WR)
            read_to_eof(s, 5)


def test_protocol_error_with_a_high_byte_is_sent_raw(pikamp_server, redis_server):
    data = b"*1\r\n\xffPING\r\n"
    assert answer_and_close(pikamp_server.port, data) == answer_and_close(redis_server.port, data)


# -- binary safety and sizes --------------------------------------------------------------------


def test_every_byte_value_in_keys_and_values(raw):
    key, value = bytes(range(256)), bytes(range(256)) * 3
    assert raw.call("SET", key, value) == b"+OK\r\n"
    assert raw.call("GET", key) == bulk(value)
    for b in range(256):
        k = b"proto:byte:" + bytes([b])
        assert raw.call("SET", k, bytes([b])) == b"+OK\r\n"
    for b in range(256):
        assert raw.call("GET", b"proto:byte:" + bytes([b])) == bulk(bytes([b]))


def test_crlf_and_protocol_bytes_inside_values(raw):
    value = b"\r\n*1\r\n$4\r\nPING\r\n\r\n\n\r$-1\r\n"
    assert raw.call("SET", value, value) == b"+OK\r\n"
    assert raw.call("GET", value) == bulk(value)


def test_empty_key_and_empty_value(diff):
    diff("SET", "", "")
    diff("GET", "")
    diff("EXISTS", "")
    diff("SET", "", "x")
    diff("GET", "")
    diff("DEL", "")


def test_ten_megabyte_value_round_trip(pikamp_server):
    key = unique("big")
    value = os.urandom(10 << 20)
    with connect(pikamp_server.port, timeout=60) as s:
        sender = send_in_background(s, encode_command(["SET", key, value]) + encode_command(["GET", key])
                                    + encode_command(["DEL", key]))
        assert read_exactly(s, 5) == b"+OK\r\n"
        assert read_exactly(s, len(bulk(value))) == bulk(value)
        assert read_exactly(s, 4) == b":1\r\n"
        sender.join(30)


@pytest.fixture(scope="module")
def private_server(tmp_path_factory):
    """pikamp for tests that pause its workers, with proto-max-bulk-len 1024 (Redis
    allows no less than 1 MB, so that limit is compared with Redis's error text only)."""
    srv = PikampServer(str(tmp_path_factory.mktemp("smallbulk")), proto_max_bulk_len=1024).start()
    yield srv
    srv.stop()


def test_bulk_at_the_limit_is_accepted(private_server):
    c = RawConn(private_server.port)
    assert c.call("SET", "k", b"x" * 1024) == b"+OK\r\n"
    assert c.call("GET", "k") == bulk(b"x" * 1024)
    c.close()


@pytest.mark.parametrize("whole", [True, False], ids=["in-one-read", "header-first"])
def test_bulk_above_the_limit_is_rejected_and_closed(private_server, whole):
    req = encode_command(["SET", "k2", b"y" * 1025])
    with connect(private_server.port) as s:
        if whole:
            s.sendall(req)
        else:
            s.sendall(req[: req.index(b"yyy")])
        out, closed = read_to_eof(s, 5)
    assert (out, closed) == (b"-ERR Protocol error: invalid bulk length\r\n", True)
    assert RawConn(private_server.port).call("EXISTS", "k2") == b":0\r\n"


# -- command names, arity, case ---------------------------------------------------------------


def test_unknown_command_error_text(diff):
    diff("NOSUCHCMD")
    diff("nosuchcmd", "a", "b")
    diff("x" * 300, "y")
    diff("FOO", *[f"arg{i:02d}-{'z' * 15}" for i in range(20)])
    diff("FOO", "a" * 200)
    diff("FOO", "new\r\nline", "x")
    diff("new\nline")
    diff("", "")
    diff("\xe9t\xe9", "\xff")


def test_unknown_command_name_with_a_nul_is_cut_like_redis(diff):
    diff("ab\x00cd", "e\x00f")


def test_wrong_arity_error_text(diff):
    diff("GET")
    diff("GET", "a", "b")
    diff("SET", "k")
    diff("get")
    diff("ECHO")
    diff("PING", "a", "b")
    diff("SELECT")
    diff("DEL")


@pytest.mark.parametrize("name", ["ping", "PING", "Ping", "pInG"])
def test_command_names_in_any_case(diff, name):
    diff(name)
    diff(name.replace("ing", "ong").replace("ING", "ONG").replace("InG", "OnG"))


@pytest.mark.parametrize("set_name, get_name", [("set", "get"), ("SET", "GET"), ("SeT", "gEt")])
def test_data_commands_in_any_case(diff, set_name, get_name):
    diff(set_name, "k", "v")
    diff(get_name, "k")


# -- RESP3 handshake ------------------------------------------------------------------------------


def hello_fields(raw: bytes) -> list[tuple]:
    """HELLO's reply as (key, value) pairs, the connection id masked."""
    v = parse(raw)
    pairs = v[1] if isinstance(v, tuple) and v[0] == "map" else list(zip(v[::2], v[1::2]))
    return [(k, "ID" if k == b"id" and isinstance(x, int) else x) for k, x in pairs]


def last_replies(ports: tuple[int, int], *cmds) -> tuple[bytes, bytes]:
    """Run ``cmds`` on a fresh connection to each of (pikamp, redis); the last replies."""
    out = []
    for port in ports:
        c = RawConn(port)
        for cmd in cmds:
            reply = c.call(*cmd)
        out.append(reply)
        c.close()
    return out[0], out[1]


@pytest.fixture
def ports(pikamp_server, redis_server) -> tuple[int, int]:
    return pikamp_server.port, redis_server.port


def test_hello_3_is_a_map_shaped_like_redis(ports):
    mine, ref = last_replies(ports, ("HELLO", "3"))
    assert mine.startswith(b"%7\r\n")
    assert [k for k, _ in hello_fields(mine)] == [b"server", b"version", b"proto", b"id", b"mode",
                                                  b"role", b"modules"]
    assert hello_fields(mine) == hello_fields(ref)


def test_hello_2_is_a_flat_array_shaped_like_redis(ports):
    mine, ref = last_replies(ports, ("HELLO", "2"))
    assert mine.startswith(b"*14\r\n")
    assert hello_fields(mine) == hello_fields(ref)


def test_hello_without_version_reports_the_current_protocol(ports):
    mine, ref = last_replies(ports, ("HELLO", "3"), ("HELLO",))
    assert mine.startswith(b"%7\r\n")
    assert hello_fields(mine) == hello_fields(ref)


def test_hello_id_is_the_client_id(pikamp_server):
    c = RawConn(pikamp_server.port)
    client_id = parse(c.call("CLIENT", "ID"))
    assert dict(parse(c.call("HELLO", "3"))[1])[b"id"] == client_id
    c.close()


@pytest.mark.parametrize("args", [("4",), ("1",), ("-1",), ("abc",), ("3", "FOO"), ("3", "AUTH", "default"),
                                  ("3", "SETNAME", "has space"), ("2", "SETNAME")])
def test_hello_errors_match_redis(diff, args):
    diff("HELLO", *args)


def test_replies_after_hello_3_are_resp3_and_after_hello_2_resp2(diff):
    for c in (diff.p, diff.r):
        c.call("HELLO", "3")
    assert diff("GET", "nokey") == b"_\r\n"
    diff("SET", "k", "v")
    for c in (diff.p, diff.r):
        c.call("HELLO", "2")
    assert diff("GET", "nokey") == b"$-1\r\n"


def test_hello_setname_names_the_connection(ports):
    mine, ref = last_replies(ports, ("HELLO", "3", "SETNAME", "proto-client"),
                         ("CLIENT", "GETNAME"))
    assert mine == ref == b"$12\r\nproto-client\r\n"


def test_hello_auth_without_requirepass_accepts_any_password(ports):
    mine, ref = last_replies(ports, ("HELLO", "3", "AUTH", "default", "whatever"))
    assert hello_fields(mine) == hello_fields(ref)


class _PasswordServers:
    """pikamp and redis-server with requirepass (the shared helpers wait for +PONG,
    which an unauthenticated PING does not get)."""

    def __init__(self, tmp: str) -> None:
        self.pikamp = PikampServer(os.path.join(tmp, "pikamp"), requirepass="sekret")
        self.redis_port = free_port()
        self.procs: list[subprocess.Popen] = []
        os.makedirs(os.path.join(tmp, "redis"), exist_ok=True)
        self.procs.append(subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--dir", os.path.join(tmp, "redis"), "--requirepass", "sekret"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.log = open(os.path.join(tmp, "pikamp", "stderr.log"), "ab")
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "pikamp.cli", "start", "-c", self.pikamp.conf_path],
            cwd=self.pikamp.workdir, stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": REPO_ROOT}))  # the working tree's pikamp
        for port in (self.pikamp.port, self.redis_port):
            self._wait_authed(port)

    @staticmethod
    def _wait_authed(port: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        for db in (0, 1):  # both pikamp workers
            while True:
                try:
                    c = redis.Redis(host=HOST, port=port, db=db, password="sekret", protocol=2,
                                    socket_timeout=2)
                    c.ping()
                    c.dbsize()
                    c.close()
                    break
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.log.close()


@pytest.fixture(scope="module")
def password_servers(tmp_path_factory):
    servers = _PasswordServers(str(tmp_path_factory.mktemp("requirepass")))
    yield servers
    servers.stop()


@pytest.fixture
def pw_ports(password_servers) -> tuple[int, int]:
    return password_servers.pikamp.port, password_servers.redis_port


def test_commands_before_auth_get_noauth(pw_ports):
    mine, ref = last_replies(pw_ports, ("GET", "k"))
    assert mine == ref == b"-NOAUTH Authentication required.\r\n"


def test_hello_before_auth_gets_noauth_like_redis(pw_ports):
    mine, ref = last_replies(pw_ports, ("HELLO", "3"))
    assert mine == ref


def test_hello_auth_with_a_wrong_password(pw_ports):
    mine, ref = last_replies(pw_ports, ("HELLO", "3", "AUTH", "default", "wrong"))
    assert mine == ref == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"


def test_hello_auth_and_setname_authenticate_in_one_step(pw_ports):
    mine, ref = last_replies(pw_ports, ("HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "me"))
    assert hello_fields(mine) == hello_fields(ref)
    mine, ref = last_replies(pw_ports, ("HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "me"),
                        ("CLIENT", "GETNAME"))
    assert mine == ref == b"$2\r\nme\r\n"


def test_redis_py_with_a_password(password_servers):
    for protocol in (2, 3):
        c = redis.Redis(host=HOST, port=password_servers.pikamp.port, password="sekret", protocol=protocol)
        assert c.set("pw:k", "v") is True
        assert c.get("pw:k") == b"v"
        c.close()


# -- redis-py ------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_round_trips(pikamp_server, protocol):
    c = redis.Redis(host=HOST, port=pikamp_server.port, protocol=protocol, db=1)
    key = unique("py")
    assert c.ping() is True
    assert c.echo(b"\x00\xff") == b"\x00\xff"
    assert c.set(key, b"\r\nv") is True
    assert c.get(key) == b"\r\nv"
    assert c.exists(key) == 1
    assert c.client_setname("py-client") is True
    assert c.client_getname() in (b"py-client", "py-client")  # redis-py decodes it in RESP2
    assert c.delete(key) == 1
    assert c.get(key) is None
    c.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pipeline(pikamp_server, protocol):
    c = redis.Redis(host=HOST, port=pikamp_server.port, protocol=protocol)
    key = unique("pypipe")
    p = c.pipeline(transaction=False)
    for i in range(1000):
        p.set(f"{key}:{i}", i)
    for i in range(1000):
        p.get(f"{key}:{i}")
    res = p.execute()
    assert res[:1000] == [True] * 1000
    assert res[1000:] == [str(i).encode() for i in range(1000)]
    c.close()


# -- a whole read forwarded as it came (Client.forward_read) ---------------------------


def test_forwarded_pipeline_keeps_every_reply_in_order(r, pikamp_server, redis_server):
    """A read of plain commands for another worker's DB goes over in one piece;
    errors, nulls and a cross-worker MOVE (a deferred reply) keep their places."""
    lines = [
        ("SET", "a", "1"), ("INCR", "a"), ("GET", "nosuch"), ("LPUSH", "a", "x"),
        ("HSET", "h", "f", "v"), ("HGETALL", "h"), ("MOVE", "h", "1"), ("EXISTS", "h"), ("INCRBY", "a", "x"),
    ]
    data = b"".join(encode_command(line) for line in lines)
    mine = conn_on_worker(pikamp_server.port, 1)  # db0 is owned by worker 0
    ref = RawConn(redis_server.port)
    ref.call("FLUSHALL")
    for c in (mine, ref):
        c.send_raw(data)
    for line in lines:
        assert mine.read_reply() == ref.read_reply(), line
    mine.close()
    ref.close()


@pytest.mark.parametrize("request_bytes", [
    encode_command(["MSET"] + ["k", "v"] * 6),  # 13 arguments before AUTH
    # A 20 KB bulk before AUTH: its header alone is refused (sending the body
    # too would leave unread bytes, and the close would become a reset).
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20000\r\n",
], ids=["multibulk", "bulk"])
def test_unauthenticated_request_limits_like_redis(pw_ports, request_bytes):
    replies = []
    for port in pw_ports:
        c = RawConn(port)
        c.send_raw(request_bytes)
        replies.append(c.read_until_closed())
        c.close()
    assert replies[0] == replies[1]
    assert replies[0].startswith(b"-ERR Protocol error: unauthenticated")


def test_big_requests_after_auth_are_fine(pw_ports):
    for port in pw_ports:
        c = RawConn(port)
        assert c.call("AUTH", "sekret") == b"+OK\r\n"
        assert c.call("SET", "big-after-auth", "x" * 20000) == b"+OK\r\n"
        c.close()


@pytest.mark.parametrize("data", [
    b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*3\r\n$4\r\nECHO\r\n*1\r\n$4\r\nPING\r\n",
    b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n*1\r\n$4\r\nPING\r\n",
    b"*1\r\n$4\r\nPING\r\n*2\r\n*1\r\n$4\r\nPING\r\n",
])
def test_nested_request_after_whole_ones_is_a_protocol_error(pikamp_server, redis_server, data):
    """A read ending in what looks like a whole command, but nested in an
    unfinished request, must not pass the whole-read fast path."""
    got = [answer_and_close(port, data) for port in (pikamp_server.port, redis_server.port)]
    assert got[0] == got[1]
    assert b"Protocol error" in got[0]
