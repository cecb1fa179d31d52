"""CONFIG SET / CONFIG REWRITE cannot inject settings into the config file, every
settable value reads back exactly after a restart, and passwords are compared as
the bytes a client sends, whichever way they were configured."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from resp_client import RawConn, parse as parse_reply
from servers import REPO_ROOT, PikampServer

from pikamp.commands.server import _MUTABLE
from pikamp.config import parse, quote, to_text

# Values that only the quoting keeps intact: whitespace parse strips, a leading
# quote or '#', backslashes, ':' and line ends other than '\n' (NEL, U+2028).
TRICKY = [b" lead", b"trail ", b'"quoted"', b"#not a comment", b"back\\slash \\x41",
          b"a : b", b"nel\xc2\x85pidfile : /tmp/x", b"ls\xe2\x80\xa8db-path : /tmp/x",
          b"p\xc3\xa4ss", b"\xff\xfe", b"\xc2\xa0"]
CONTROL = [b"\n", b"\r", b"\x00", b"\t", b"\x1b", b"\x1f", b"\x7f"]
# Values for settable keys that are neither integers nor free strings, or whose
# next integer would not do: a start lowers maxclients to the open files limit
# (as Redis does), and timeout 1 would close the test's idle clients.
SAMPLES = {
    "maxclients": b"1000",
    "timeout": b"3600",
    "appendfsync": b"always",
    "client-output-buffer-limit": b"normal 0 0 0 slave 1048576 524288 30 pubsub 2097152 1048576 20",
}


class AuthServer(PikampServer):
    """A PikampServer that may need a password: the shared start waits for
    +PONG, which an unauthenticated PING does not get."""

    password: bytes = b""

    def start(self, timeout: float = 30.0) -> "AuthServer":
        self.log = open(os.path.join(self.workdir, "stderr.log"), "ab")
        env = dict(os.environ)  # the working tree's pikamp, not an installed copy
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pikamp.cli", "start", "-c", self.conf_path],
            cwd=self.workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_authed(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_authed(self, deadline: float) -> None:
        for db in (0, 1):  # DB 0 and DB 1 have different owners: both workers answer
            while True:
                assert self.proc.poll() is None, f"server exited with {self.proc.returncode}"
                try:
                    c = self.connect()
                    try:
                        assert c.call("SELECT", db) == b"+OK\r\n"
                        assert c.call("DBSIZE").startswith(b":")
                    finally:
                        c.close()
                    break
                except (OSError, ConnectionError, AssertionError):
                    assert time.monotonic() < deadline, "server did not start"
                    time.sleep(0.05)

    def connect(self) -> RawConn:
        c = RawConn(self.port)
        if self.password:
            assert c.call("AUTH", self.password) == b"+OK\r\n"
        return c

    def config_get(self, key: str) -> bytes:
        c = self.connect()
        try:
            return _config_get(c, key)
        finally:
            c.close()

    def restart(self) -> None:
        assert self.stop() == 0
        self.start()


@pytest.fixture
def server(tmp_path):
    srv = AuthServer(str(tmp_path / "srv")).start()
    try:
        yield srv
    finally:
        srv.stop()


def _config_get(c: RawConn, key: str) -> bytes:
    name, value = parse_reply(c.call("CONFIG", "GET", key))
    assert name == key.encode()
    return value


def _conf(srv: PikampServer) -> dict[str, str]:
    with open(srv.conf_path, encoding="utf-8", errors="surrogateescape") as f:
        return parse(f.read())


def _sample(key: str, current: bytes) -> bytes:
    """A valid value for ``key`` that differs from ``current``."""
    if key in SAMPLES:
        return SAMPLES[key]
    bounds = _MUTABLE[key]
    if bounds is None:
        return b' #p\xc3\xa4ss "w\\rd" : \xff '
    assert isinstance(bounds, tuple), f"add a sample value for {key!r} to SAMPLES"
    n = int(current)
    return str(n + 1 if n < bounds[1] else n - 1).encode()


# == the file format ===========================================================
@pytest.mark.parametrize("value", TRICKY)
def test_quoted_value_parses_back_to_the_same_text(value):
    text = to_text(value)
    assert parse(f"requirepass : {quote(text)}\npidfile : /p\n") == {"requirepass": text, "pidfile": "/p"}


def test_plain_values_are_written_unquoted_for_pika():
    for value in ("9221", "./db/", "normal 0 0 0 slave 1 2 3", "p\u00e4ss", "a:b", "#x", ""):
        assert quote(value) == value


@pytest.mark.parametrize("junk", [b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x00"])
def test_a_file_line_with_control_characters_is_refused(junk):
    with pytest.raises(ValueError):
        parse(to_text(b"requirepass : a" + junk + b"pidfile : /tmp/x\n"))


@pytest.mark.parametrize("line_end", ["\u0085", "\u2028", "\u2029"])
def test_unicode_line_separators_do_not_start_a_new_line(line_end):
    assert parse(f"requirepass : a{line_end}pidfile : /tmp/x\n") == {
        "requirepass": f"a{line_end}pidfile : /tmp/x"}


def test_crlf_files_still_parse():
    assert parse("port : 1\r\nbind : 127.0.0.1\r\n") == {"port": "1", "bind": "127.0.0.1"}


# == CONFIG SET ================================================================
@pytest.mark.parametrize("junk", CONTROL)
@pytest.mark.parametrize("key", sorted(_MUTABLE))
def test_config_set_refuses_control_characters(raw, key, junk):
    before = _config_get(raw, key)
    try:
        assert raw.call("CONFIG", "SET", key, b"1" + junk + b"pidfile : /tmp/x") == (
            b"-ERR CONFIG SET failed (possibly related to argument '%s') - "
            b"argument must not contain control characters\r\n" % key.encode())
        assert _config_get(raw, key) == before
    finally:
        raw.call("CONFIG", "SET", key, before)


@pytest.mark.parametrize("password", [b"p\xc3\xa4ss", b"\xff\xfe", b"nel\xc2\x85x"])
def test_non_ascii_password_from_config_set_authenticates_with_its_bytes(raw, pikamp_server, password):
    try:
        assert raw.call("CONFIG", "SET", "requirepass", password) == b"+OK\r\n"
        assert parse_reply(raw.call("CONFIG", "GET", "requirepass")) == [b"requirepass", password]
        for _ in range(8):  # connections land on different workers
            c = RawConn(pikamp_server.port)
            try:
                assert c.call("AUTH", password + b"x").startswith(b"-WRONGPASS")
                assert c.call("AUTH", password) == b"+OK\r\n"
                assert c.call("PING") == b"+PONG\r\n"
            finally:
                c.close()
            c = RawConn(pikamp_server.port)
            try:
                assert c.call("HELLO", "3", "AUTH", "default", password).startswith(b"%")
            finally:
                c.close()
    finally:
        raw.call("CONFIG", "SET", "requirepass", "")


# == CONFIG REWRITE and restart ================================================
@pytest.mark.parametrize("junk", [b"\n", b"\r\n", b"\r", b"\xc2\x85", b"\xe2\x80\xa8"])
def test_rewrite_cannot_inject_keys_through_requirepass(server, tmp_path, junk):
    elsewhere = str(tmp_path / "elsewhere")
    value = b"x" + junk + b"pidfile : " + elsewhere.encode() + junk + b"db-path : " + elsewhere.encode()
    c = server.connect()
    try:
        reply = c.call("CONFIG", "SET", "requirepass", value)
        assert reply in (b"+OK\r\n", b"-ERR CONFIG SET failed (possibly related to argument "
                                     b"'requirepass') - argument must not contain control characters\r\n")
        assert c.call("CONFIG", "REWRITE") == b"+OK\r\n"
    finally:
        c.close()
    server.password = value if reply == b"+OK\r\n" else b""
    pidfile, db_path = server.config_get("pidfile"), server.config_get("db-path")
    server.restart()
    assert server.config_get("requirepass") == server.password
    assert (server.config_get("pidfile"), server.config_get("db-path")) == (pidfile, db_path)
    assert _conf(server)["pidfile"] == pidfile.decode()
    assert not os.path.exists(elsewhere)


def test_every_settable_key_reads_back_the_same_after_rewrite_and_restart(server):
    before = {key: server.config_get(key) for key in _MUTABLE}
    values = {key: _sample(key, before[key]) for key in _MUTABLE}
    c = server.connect()
    try:
        args = [a for key, value in values.items() for a in (key, value)]
        assert c.call("CONFIG", "SET", *args) == b"+OK\r\n"
        assert c.call("CONFIG", "REWRITE") == b"+OK\r\n"
        after_set = {key: _config_get(c, key) for key in _MUTABLE}
    finally:
        c.close()
    server.password = after_set.get("requirepass", b"")
    server.restart()
    for key in _MUTABLE:
        assert after_set[key] != before[key], key
        assert server.config_get(key) == after_set[key], key
        if _MUTABLE[key] is None:  # free strings are kept byte for byte
            assert after_set[key] == values[key], key


@pytest.mark.parametrize("line, password", [
    ("requirepass : p\u00e4ss", b"p\xc3\xa4ss"),              # written by hand in UTF-8
    ('requirepass : "\\xff\\xfe"', b"\xff\xfe"),                # not UTF-8: as CONFIG REWRITE writes it
    ('requirepass : " sp\\"ace "', b' sp"ace '),
])
def test_password_from_the_config_file_authenticates_with_its_bytes(tmp_path, line, password):
    srv = AuthServer(str(tmp_path / "srv"))
    with open(srv.conf_path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
    srv.password = password
    srv.start()  # stops what it started if it fails
    try:
        assert srv.config_get("requirepass") == password
        c = RawConn(srv.port)
        try:
            assert c.call("PING").startswith(b"-NOAUTH")
            assert c.call("HELLO", "3", "AUTH", "default", password).startswith(b"%")
        finally:
            c.close()
    finally:
        srv.stop()
