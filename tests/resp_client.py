"""A raw RESP client for tests: returns each reply's exact bytes, so two
servers can be compared byte for byte, and parses them when order must be ignored."""
from __future__ import annotations

import socket


def encode_command(args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, (int, float)):
            a = str(a).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(a), a))
    return b"".join(parts)


def read_to_eof(s: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes; (bytes, closed in time)."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out, True
            out += chunk
    except TimeoutError:
        return out, False
    except ConnectionResetError:
        return out, True


class RawConn:
    """One connection; ``call`` sends a command and returns the raw reply bytes."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def call(self, *args) -> bytes:
        self.sock.sendall(encode_command(args))
        return self.read_reply()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _line(self, pos: int) -> int:
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i
            self._fill()

    def _skip(self, pos: int) -> int:
        """Position just after the reply starting at ``pos``."""
        while len(self.buf) <= pos:
            self._fill()
        t = self.buf[pos : pos + 1]
        nl = self._line(pos)
        head = self.buf[pos + 1 : nl]
        p = nl + 2
        if t in b"$=!":
            n = int(head)
            if n < 0:
                return p
            while len(self.buf) < p + n + 2:
                self._fill()
            return p + n + 2
        if t in b"*~>":
            n = int(head)
            for _ in range(max(n, 0)):
                p = self._skip(p)
            return p
        if t == b"%" or t == b"|":
            for _ in range(2 * int(head)):
                p = self._skip(p)
            return p
        return p  # + - : , # _ (

    def read_reply(self) -> bytes:
        end = self._skip(0)
        raw, self.buf = self.buf[:end], self.buf[end:]
        return raw

    def read_until_closed(self, timeout: float = 2.0) -> bytes:
        self.sock.settimeout(timeout)
        data = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return data
                data += chunk
        except socket.timeout:
            return data + b"<still open>"


def parse(raw: bytes):
    """Parse one raw reply into Python values; aggregates become lists
    (maps: list of pairs), errors ('err', text), doubles ('double', text)."""
    value, _ = _parse(raw, 0)
    return value


def _parse(raw: bytes, pos: int):
    t = raw[pos : pos + 1]
    nl = raw.find(b"\r\n", pos)
    head = raw[pos + 1 : nl]
    p = nl + 2
    if t == b"+":
        return ("status", head), p
    if t == b"-":
        return ("err", head), p
    if t == b":":
        return int(head), p
    if t == b",":
        return ("double", head), p
    if t == b"#":
        return ("bool", head), p
    if t == b"_":
        return None, p
    if t in b"$=":
        n = int(head)
        if n < 0:
            return None, p
        return raw[p : p + n], p + n + 2
    if t in b"*~>":
        n = int(head)
        if n < 0:
            return ("nullarray",), p
        out = []
        for _ in range(n):
            v, p = _parse(raw, p)
            out.append(v)
        return (out if t == b"*" else (t.decode(), out)), p
    if t == b"%":
        out = []
        for _ in range(int(head)):
            k, p = _parse(raw, p)
            v, p = _parse(raw, p)
            out.append((k, v))
        return ("map", out), p
    raise ValueError(f"bad reply type {t!r}")
