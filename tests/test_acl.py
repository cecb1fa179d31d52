"""ACL (Redis 7.0): users, rules, checks in the pipeline, the ACL log, users
from the config file and an ACL file, Pika's userpass, across workers.

The differential part runs the same sequence on a private pikamp and a
private redis-server (users are server-wide state, so not the shared ones)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import redis
from resp_client import RawConn, parse
from servers import HOST, REPO_ROOT, PikampServer, RedisServer


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    p = PikampServer(str(tmp_path_factory.mktemp("acl-pikamp"))).start()
    r = RedisServer(str(tmp_path_factory.mktemp("acl-redis"))).start()
    yield p, r
    p.stop()
    r.stop()


def _norm(reply: bytes) -> bytes:
    """What legitimately differs: client ids, addresses, buffer sizes, ages."""
    reply = re.sub(rb"id=\d+ addr=\S+ laddr=\S+ fd=-?\d+", b"id=N", reply)
    reply = re.sub(rb"qbuf=.*?events=r", b"...", reply)
    reply = re.sub(rb"age=\d+ idle=\d+", b"age", reply)
    reply = re.sub(rb"age-seconds\r\n(\$\d+\r\n[\d.e-]+|,[\d.e-]+)\r\n", b"age-seconds\r\nX\r\n", reply)
    return re.sub(rb"\$\d+(\r\nid=N)", rb"$N\1", reply)


# (connection, command): each connection is opened on both servers the first time.
SEQUENCE = """
a acl whoami
a acl list
a acl getuser default
a acl setuser alice on >pw ~foo* +get +@hash &chan
a acl list
a acl getuser alice
a acl setuser alice -@all +@hash +@string
a acl getuser alice
a acl setuser alice +@all -@string
a acl getuser alice
a acl setuser bob %R~r* %W~w* +@all -@dangerous resetchannels
a acl getuser bob
a acl users
a acl setuser x +nosuch
a acl setuser x +@nosuch
a acl setuser x badrule
a acl setuser x >a <b
a acl setuser x #abc
a acl setuser x !abc
a acl setuser x ~a %X~b
a acl setuser x +config|get|x
a acl setuser x +config|nosuch
a acl setuser x +select|
a acl setuser x (~a +get
a acl setuser x (~a +get) (%R~b +set)
a acl getuser x
a acl list
a acl setuser x clearselectors
a acl setuser x allkeys allchannels allcommands nocommands resetkeys ~a ~a ~b
a acl getuser x
a acl setuser x &a
a acl setuser x ~c
a acl setuser x reset
a acl getuser x
a acl setuser x on nopass +select|0
a acl getuser x
a acl deluser default
a acl deluser x nosuch
a acl getuser nosuch
a acl cat nosuch
a acl cat a b
a acl CAT a b
a acl LOG 1 2
a acl genpass 0
a acl genpass 4097
a acl genpass abc
a acl dryrun alice get foo
a acl dryrun alice set foo 1
a acl dryrun alice get bar
a acl dryrun nosuch get a
a acl dryrun alice nosuchcmd
a acl dryrun alice get
a acl dryrun alice config get x
a acl dryrun alice config
a acl dryrun alice config nosuch
a acl dryrun bob bitfield r1 get u8 0
a acl dryrun bob bitfield r1 overflow sat get u8 0 get i8 #1
a acl dryrun bob bitfield r1
a acl dryrun bob bitfield r1 set u8 0 1
a acl dryrun bob bitfield r1 get u8 0 incrby u8 0 1
a acl dryrun bob bitfield r1 get u8
a acl dryrun bob bitfield r1 bogus
a acl dryrun bob bitfield w1 get u8 0
a acl dryrun bob bitfield w1 set u8 0 1
a acl dryrun bob bitfield_ro r1 get u8 0
a acl dryrun bob bitfield_ro w1 get u8 0
a acl log abc
a acl log reset
a acl log
a acl log reset x
a acl load
a acl save
a acl whoami extra
a auth x y z
a acl nosub
a acl setuser z on >pz +get +set +subscribe +publish +multi +exec +config|get %R~r* %W~w* &ch
z auth z pz
z acl whoami
z get r1
z get w1
z set w1 v
z set r1 v
z set w1 v get
z config set x y
z config get maxmemory
z publish nope x
z publish ch x
z set a
z nosuch
z multi
z get r1
z set x 1
z exec
z hello 3 auth z bad
z auth nosuch x
z auth bad
z auth default x
z acl whoami
a acl log 4
a acl log reset
a acl log
a client kill user nosuch
a acl setuser default resetpass
b auth x
b get x
b auth default x
a acl setuser default nopass
b get x
a acl deluser alice bob x z
a acl list
"""


@pytest.mark.parametrize("proto", [2, 3])
def test_acl_replies_match_redis(pair, proto):
    p, r = pair
    conns: dict[str, tuple[RawConn, RawConn]] = {}
    problems = []
    try:
        for line in SEQUENCE.strip().split("\n"):
            who, _, rest = line.partition(" ")
            if who not in conns:
                conns[who] = (RawConn(p.port), RawConn(r.port))
                if proto == 3:
                    for c in conns[who]:
                        c.call("HELLO", "3")
            args = rest.split(" ")
            mine, ref = (c.call(*args) for c in conns[who])
            if _norm(mine) != _norm(ref):
                problems.append(f"{who} {rest}:\n  pikamp: {mine!r}\n  redis:  {ref!r}")
    finally:
        for pc, rc in conns.values():
            pc.close()
            rc.close()
    assert not problems, "\n".join(problems)


def test_acl_cat_lists_the_same_commands_as_redis(pair):
    """Each category holds Redis' commands, of those pikamp has."""
    p, r = pair
    mine, ref = RawConn(p.port), RawConn(r.port)
    try:
        categories = parse(ref.call("ACL", "CAT"))
        assert parse(mine.call("ACL", "CAT")) == categories
        both = set(parse(mine.call("COMMAND", "LIST"))) & set(parse(ref.call("COMMAND", "LIST")))
        for cat in categories:
            names = set(parse(mine.call("ACL", "CAT", cat)))
            theirs = set(parse(ref.call("ACL", "CAT", cat)))
            # Commands both have: the same; subcommands pikamp has: Redis' too.
            assert {n for n in names if n in both} == {n for n in theirs if n in both}, cat
            assert {n for n in names if b"|" in n} <= theirs, cat
    finally:
        mine.close()
        ref.close()


def _clients(port: int, n: int, **kw) -> list[redis.Redis]:
    return [redis.Redis(host=HOST, port=port, single_connection_client=True, **kw) for _ in range(n)]


def test_users_hold_on_every_worker_and_deluser_disconnects(pair):
    p, _ = pair
    admin = redis.Redis(host=HOST, port=p.port)
    try:
        assert admin.acl_setuser("w1", enabled=True, passwords=["+pw"], keys=["app:*"],
                                 commands=["+get", "+set", "+client|id"])
        # Connections land on both workers (SO_REUSEPORT): each checks alike.
        users = _clients(p.port, 16, username="w1", password="pw")
        assert len({u.client_id() % 2 for u in users}) == 2
        for i, u in enumerate(users):
            assert u.set(f"app:{i}", "v")
            with pytest.raises(redis.exceptions.NoPermissionError):
                u.set(f"other:{i}", "v")
            with pytest.raises(redis.exceptions.NoPermissionError):
                u.incr(f"app:{i}")
        # A change made through one worker holds at once on all of them.
        assert admin.acl_setuser("w1", commands=["-set"])
        for u in users:
            with pytest.raises(redis.exceptions.NoPermissionError):
                u.set("app:x", "v")
            assert u.get("app:0") == b"v"
        log = admin.acl_log()
        assert log[0]["object"] == "set" and log[0]["reason"] == "command" and log[0]["username"] == "w1"
        assert any(e["reason"] == "key" and e["object"] == "other:15" for e in log)
        assert admin.acl_deluser("w1") == 1
        deadline = time.monotonic() + 5
        for u in users:
            u.connection.retry_on_error = []
            u.connection.retry._retries = 0
            while True:  # closed by the server: the next command sees it
                try:
                    u.connection.send_command("PING")
                    u.connection.read_response()
                except (redis.exceptions.ConnectionError, OSError):
                    break
                assert time.monotonic() < deadline, "a client of the deleted user stayed"
                time.sleep(0.05)
        names = [c["user"] for c in admin.client_list()]
        assert "w1" not in names
    finally:
        admin.execute_command("ACL", "DELUSER", "w1")
        admin.close()


def test_exec_rechecks_rules_changed_after_queueing(pair):
    p, r = pair
    results = []
    for port in (p.port, r.port):
        admin, c = RawConn(port), RawConn(port)
        try:
            assert admin.call("ACL", "SETUSER", "tx", "on", "nopass", "~*", "+@all") == b"+OK\r\n"
            assert c.call("AUTH", "tx", "x") == b"+OK\r\n"
            c.call("MULTI")
            assert c.call("SET", "k", "1") == b"+QUEUED\r\n"
            assert c.call("GET", "k") == b"+QUEUED\r\n"
            admin.call("ACL", "SETUSER", "tx", "-set")
            results.append(c.call("EXEC"))
            admin.call("ACL", "DELUSER", "tx")
        finally:
            admin.close()
            c.close()
    assert results[0] == results[1]
    assert b"NOPERM ACLs rules changed" in results[0]


def test_worker_restart_keeps_the_users(tmp_path):
    srv = PikampServer(str(tmp_path / "srv")).start()
    try:
        admin = redis.Redis(host=HOST, port=srv.port)
        assert admin.acl_setuser("kept", enabled=True, passwords=["+pw"], keys=["*"],
                                 commands=["+@read", "+acl|whoami", "+client|id"])
        old = srv.worker_pids()
        for pid in old.values():
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while len(set(srv.worker_pids().values()) - set(old.values())) < 2:
            assert time.monotonic() < deadline, "the workers were not restarted"
            time.sleep(0.1)
        srv.wait_all_workers()
        while True:
            try:
                clients = _clients(srv.port, 16, username="kept", password="pw")
                assert all(c.acl_whoami() == "kept" for c in clients)
                break
            except (redis.exceptions.ConnectionError, redis.exceptions.AuthenticationError):
                assert time.monotonic() < deadline, "the restarted workers did not get the users back"
                time.sleep(0.2)
        assert len({c.client_id() % 2 for c in clients}) == 2
        with pytest.raises(redis.exceptions.NoPermissionError):
            clients[0].set("a", "b")
        for c in clients:
            c.close()
        admin.close()
    finally:
        srv.stop()


def test_users_from_the_config_file_and_config_rewrite(tmp_path):
    srv = PikampServer(str(tmp_path / "srv"))
    with open(srv.conf_path, "a") as f:
        f.write("user : reader on >rpw ~pub:* +@read\n")
        f.write("user : writer on >wpw ~* +@all -@dangerous\n")
    srv.start()
    try:
        reader = redis.Redis(host=HOST, port=srv.port, username="reader", password="rpw")
        writer = redis.Redis(host=HOST, port=srv.port, username="writer", password="wpw")
        assert writer.set("pub:1", "x")
        assert reader.get("pub:1") == b"x"
        with pytest.raises(redis.exceptions.NoPermissionError):
            reader.set("pub:1", "y")
        with pytest.raises(redis.exceptions.NoPermissionError):
            writer.flushall()
        admin = redis.Redis(host=HOST, port=srv.port)
        assert admin.acl_setuser("third", enabled=True, passwords=["+tpw"], keys=["*"], commands=["+ping"])
        assert admin.config_rewrite()
        with open(srv.conf_path) as f:
            text = f.read()
        assert "user : third on #" in text and "user : reader on #" in text
        assert "user : default on nopass ~* &* +@all" in text
        for c in (reader, writer, admin):
            c.close()
        srv.stop()
        srv.start()
        third = redis.Redis(host=HOST, port=srv.port, username="third", password="tpw")
        assert third.ping()
        with pytest.raises(redis.exceptions.NoPermissionError):
            third.get("pub:1")
        third.close()
    finally:
        srv.stop()


def test_acl_file_save_and_load(tmp_path):
    path = tmp_path / "users.acl"
    path.write_text("user default on nopass ~* &* +@all\nuser ops on >opw ~* +@all\n")
    srv = PikampServer(str(tmp_path / "srv"), aclfile=str(path)).start()
    try:
        admin = redis.Redis(host=HOST, port=srv.port)
        ops = redis.Redis(host=HOST, port=srv.port, username="ops", password="opw", single_connection_client=True)
        assert ops.ping()
        assert admin.acl_setuser("dev", enabled=True, passwords=["+dpw"], keys=["dev:*"], commands=["+@all"])
        assert admin.acl_save()
        saved = path.read_text()
        assert "user dev on #" in saved and "~dev:*" in saved
        # An edited file is taken as a whole; a bad one changes nothing.
        path.write_text(saved.replace("user dev on", "user dev off"))
        assert admin.acl_load()
        assert "off" in admin.acl_getuser("dev")["flags"]
        ops.connection.retry._retries = 0  # as Redis: ACL LOAD disconnects the clients of its users
        with pytest.raises(redis.exceptions.ConnectionError):
            for _ in range(50):
                ops.ping()
                time.sleep(0.05)
        path.write_text("user dev on +nosuchcommand\n")
        with pytest.raises(redis.exceptions.ResponseError, match="no change to the previously active ACL"):
            admin.acl_load()
        assert "off" in admin.acl_getuser("dev")["flags"]
        admin.close()
    finally:
        srv.stop()


def test_user_lines_and_aclfile_together_refuse_to_start(tmp_path):
    path = tmp_path / "users.acl"
    path.write_text("user a on nopass +@all\n")
    srv = PikampServer(str(tmp_path / "srv"), aclfile=str(path))
    with open(srv.conf_path, "a") as f:
        f.write("user : b on nopass +@all\n")
    with pytest.raises(Exception):
        srv.start(timeout=10)
    srv.stop()
    with open(os.path.join(srv.workdir, "stderr.log"), errors="replace") as f:
        assert "please define either an ACL file or declare users" in f.read()


def _start_with_password(srv: PikampServer, password: str) -> redis.Redis:
    """Start a server whose PING needs AUTH; returns a client logged in."""
    srv.log = open(os.path.join(srv.workdir, "stderr.log"), "ab")
    srv.proc = subprocess.Popen([sys.executable, "-m", "pikamp.cli", "start", "-c", srv.conf_path],
                                cwd=srv.workdir, stdout=srv.log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": REPO_ROOT})
    deadline = time.monotonic() + 30
    while True:
        try:
            admin = redis.Redis(host=HOST, port=srv.port, password=password)
            if admin.ping() and admin.execute_command("SELECT", 1):  # both workers answer
                admin.execute_command("SELECT", 0)
                return admin
        except (redis.exceptions.ConnectionError, redis.exceptions.AuthenticationError, OSError):
            pass
        assert srv.proc.poll() is None and time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)


def _auth(port: int, password: str) -> bytes:
    c = RawConn(port)
    try:
        return c.call("AUTH", password)
    finally:
        c.close()


def test_pika_userpass_logs_in_as_limit(tmp_path):
    srv = PikampServer(str(tmp_path / "srv"), requirepass="admin", userpass="userpw",
                       userblacklist="FLUSHALL, flushdb,config")
    try:
        admin = _start_with_password(srv, "admin")
        user = redis.Redis(host=HOST, port=srv.port, password="userpw")
        assert user.acl_whoami() == "limit"
        assert user.set("k", "v")
        for cmd in (("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "GET", "port")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                user.execute_command(*cmd)
        assert admin.acl_whoami() == "default"
        assert admin.flushdb()
        assert _auth(srv.port, "wrong").startswith(b"-WRONGPASS")
        assert admin.config_get("userpass") == {"userpass": "userpw"}
        # CONFIG SET requirepass: the default user's password, on every worker.
        assert admin.config_set("requirepass", "admin2")
        for _ in range(12):
            assert _auth(srv.port, "admin").startswith(b"-WRONGPASS")
            assert _auth(srv.port, "admin2") == b"+OK\r\n"
            assert _auth(srv.port, "userpw") == b"+OK\r\n"
        user.close()
        admin.close()
    finally:
        srv.stop()


def test_subscribers_lose_channels_they_may_no_longer_use(pair):
    """As Redis 7.0: changing a user's channels disconnects its subscribers
    to channels (or patterns) it may no longer use; the others stay."""
    p, r = pair
    for port in (p.port, r.port):
        admin = RawConn(port)
        subs = [RawConn(port) for _ in range(4)]
        try:
            assert admin.call("ACL", "SETUSER", "sub", "on", "nopass", "+@all", "resetchannels", "&news",
                              "&sport*") == b"+OK\r\n"
            for i, c in enumerate(subs):
                assert c.call("AUTH", "sub", "x") == b"+OK\r\n"
                if i % 2:
                    assert c.call("SUBSCRIBE", "news").startswith(b"*3")
                else:
                    assert c.call("PSUBSCRIBE", "sport*").startswith(b"*3")
            assert admin.call("ACL", "SETUSER", "sub", "resetchannels", "&sport*") == b"+OK\r\n"
            for i, c in enumerate(subs):
                c.sock.settimeout(2)
                if i % 2:  # subscribed to news: disconnected
                    assert c.read_until_closed(2.0) == b"", port
                else:
                    assert c.call("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
        finally:
            admin.call("ACL", "DELUSER", "sub")
            admin.close()
            for c in subs:
                c.close()


def test_acl_load_errors_like_redis(tmp_path):
    """ACL LOAD of a bad file: Redis 7.0's error text, line by line (every
    unknown command, the first other error of a line, a line without
    'user', a duplicate user, a missing file), the same paths in both."""
    path = tmp_path / "users.acl"
    start = "user default on nopass ~* &* +@all\n"
    path.write_text(start)
    mine = PikampServer(str(tmp_path / "p"), aclfile=str(path)).start()
    ref = RedisServer(str(tmp_path / "r"), "--aclfile", str(path)).start()
    bad_files = [
        start + "user bob on >pw +nosuchcmd\nuser carl on +get foo\n",
        start + "bogus line\nuser x on\nuser x off\n",
        start + "user c on >x foo bar +nosuch resetchannels &x baz +@nosuchcat\n",
        start + "user\n",
    ]
    try:
        p, r = RawConn(mine.port), RawConn(ref.port)
        for text in bad_files:
            path.write_text(text)
            got, want = p.call("ACL", "LOAD"), r.call("ACL", "LOAD")
            assert got == want and want.startswith(b"-ERR "), (text, got, want)
        path.unlink()
        assert p.call("ACL", "LOAD") == r.call("ACL", "LOAD")
        path.write_text(start + "user ok on nopass +@all ~*\n")
        assert p.call("ACL", "LOAD") == r.call("ACL", "LOAD") == b"+OK\r\n"
        p.close()
        r.close()
    finally:
        mine.stop()
        ref.stop()
