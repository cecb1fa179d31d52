"""Server and introspection commands: COMMAND, CONFIG, INFO, TIME, LASTSAVE,
SHUTDOWN and CLIENT LIST/KILL/HELP/NO-EVICT, across both workers."""
from __future__ import annotations

import shutil
import subprocess
import time

import psutil
import pytest
import redis
from resp_client import RawConn, encode_command, parse
from servers import HOST, PikampServer

WORKERS = 2  # the test server's worker count (tests/servers.py)


# -- helpers -------------------------------------------------------------------
def _client_id(conn: RawConn) -> int:
    return parse(conn.call("CLIENT", "ID"))


def _conns_on_every_worker(port: int) -> dict[int, RawConn]:
    """One raw connection per worker (SO_REUSEPORT picks the worker; client
    ids tell which: id % workers)."""
    found: dict[int, RawConn] = {}
    extra = []
    for _ in range(64):
        c = RawConn(port)
        worker = _client_id(c) % WORKERS
        if worker in found:
            extra.append(c)
        else:
            found[worker] = c
        if len(found) == WORKERS:
            break
    for c in extra:
        c.close()
    assert len(found) == WORKERS, "connections never reached every worker"
    return found


@pytest.fixture
def on_each_worker(pikamp_server):
    conns = _conns_on_every_worker(pikamp_server.port)
    yield conns
    for c in conns.values():
        c.close()


def _info(conn: RawConn, *sections: str) -> dict[str, str]:
    text = parse(conn.call("INFO", *sections)).decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if line and not line.startswith("#"))


def _kind(v) -> str:
    if isinstance(v, tuple):
        return {"~": "set", "map": "map", "status": "status", "err": "err"}.get(v[0], v[0])
    return {bytes: "bulk", int: "int", list: "array", type(None): "null"}[type(v)]


def _assert_same_info_shape(ours, theirs) -> None:
    """A COMMAND INFO entry: the same kind at every position, key specs with
    a subset of Redis's fields, subcommand entries shaped alike."""
    assert [_kind(x) for x in ours] == [_kind(x) for x in theirs]
    for spec in ours[8][1] if isinstance(ours[8], tuple) else ours[8]:
        fields = dict(spec[1]) if isinstance(spec, tuple) else dict(zip(spec[::2], spec[1::2]))
        assert {b"flags", b"begin_search", b"find_keys"} <= set(fields)
    subs = ours[9] if isinstance(ours[9], list) else ours[9][1]
    ref = theirs[9] if isinstance(theirs[9], list) else theirs[9][1]
    assert len(subs) == len(ref)
    for sub in subs:
        _assert_same_info_shape(sub, ref[0])


# == COMMAND =====================================================================
def test_command_info_get_matches_redis(diff):
    diff("COMMAND", "INFO", "get")
    diff("COMMAND", "INFO", "GET", "nosuchcommand")


@pytest.mark.parametrize("name", ["set", "del", "mset", "ping", "config", "command"])
def test_command_info_has_redis_shape(diff, name):
    ours, theirs = (parse(x) for x in diff.both("COMMAND", "INFO", name))
    assert len(ours) == len(theirs) == 1
    _assert_same_info_shape(ours[0], theirs[0])


def test_command_info_of_a_subcommand_matches_redis(diff):
    diff("COMMAND", "INFO", "config|get")


def test_command_without_arguments_lists_every_command(raw):
    entries = parse(raw.call("COMMAND"))
    names = {e[0] for e in entries}
    assert {b"get", b"set", b"command", b"config", b"info"} <= names
    assert not any(n.startswith(b"__") for n in names)
    assert len(entries) == parse(raw.call("COMMAND", "COUNT"))


def test_command_count_counts_top_level_commands(r):
    names = r.command_list()
    assert r.command_count() == sum(1 for n in names if b"|" not in n) > 100


def test_command_list_has_subcommands_but_no_internal_commands(r):
    names = r.command_list()
    assert b"get" in names and b"config|get" in names
    assert not any(n.startswith(b"__") for n in names)


def test_command_list_filters_match_redis(diff):
    diff("COMMAND", "LIST", "FILTERBY", "PATTERN", "config*", unordered=True)
    diff("COMMAND", "LIST", "FILTERBY", "pattern", "CONFIG|G?T")
    diff("COMMAND", "LIST", "FILTERBY", "MODULE", "x")
    diff("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuchcategory")
    diff("COMMAND", "LIST", "FILTERBY", "ACLCAT", "@string")


def test_command_list_by_acl_category(r):
    names = r.command_list(category="string")
    assert b"get" in names and b"set" in names and b"lpush" not in names


def test_command_list_errors_match_redis(diff):
    diff("COMMAND", "LIST", "FILTERBY", "PATTERN")
    diff("COMMAND", "LIST", "FILTERBY", "foo", "x")
    diff("COMMAND", "LIST", "x")


def test_command_docs_matches_redis_fields(diff):
    ours, theirs = (parse(x) for x in diff.both("COMMAND", "DOCS", "get"))
    if diff.proto == 3:
        ours, theirs = dict(ours[1]), dict(theirs[1])
        ours, theirs = dict(ours[b"get"][1]), dict(theirs[b"get"][1])
    else:
        ours, theirs = dict(zip(ours[1][::2], ours[1][1::2])), dict(zip(theirs[1][::2], theirs[1][1::2]))
    for field in (b"summary", b"since", b"group", b"complexity"):
        assert ours[field] == theirs[field]


def test_command_docs_of_unknown_command_is_empty(diff):
    diff("COMMAND", "DOCS", "nosuchcommand")


def test_command_docs_lists_subcommands(raw):
    _, docs = parse(raw.call("COMMAND", "DOCS", "config"))
    fields = dict(zip(docs[::2], docs[1::2]))
    assert {b"config|get", b"config|set"} <= set(fields[b"subcommands"][::2])


def test_command_getkeys_matches_redis(diff):
    diff("COMMAND", "GETKEYS", "set", "k", "v")
    diff("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2")
    diff("COMMAND", "GETKEYS", "del", "a", "b", "c")
    diff("COMMAND", "GETKEYSANDFLAGS", "get", "k")


def test_command_getkeys_errors_match_redis(diff):
    diff("COMMAND", "GETKEYS", "nosuchcommand", "a")
    diff("COMMAND", "GETKEYS", "config", "foo")
    diff("COMMAND", "GETKEYS", "config", "get", "x")
    diff("COMMAND", "GETKEYS", "get", "a", "b")
    diff("COMMAND", "GETKEYS", "mset", "a")
    diff("COMMAND", "GETKEYS", "get")
    diff("COMMAND", "GETKEYS")


def test_command_getkeys_with_redis_py(r):
    assert r.command_getkeys("SET", "k", "v") == ["k"]


def test_command_help_and_bad_subcommands_match_redis(diff):
    diff("COMMAND", "HELP")
    diff("COMMAND", "FOO")
    diff("COMMAND", "COUNT", "x")
    diff("COMMAND", "HELP", "x")


def test_redis_py_parses_command(r):
    commands = r.command()
    assert commands["get"]["arity"] == 2
    assert "readonly" in commands["get"]["flags"]


# == CONFIG ======================================================================
def test_config_get_of_shared_keys_matches_redis(diff):
    diff("CONFIG", "GET", "databases")
    diff("CONFIG", "GET", "save", "appendonly", unordered=True)
    diff("CONFIG", "GET", "slowlog*", unordered=True)
    diff("CONFIG", "GET", "proto-max-bulk-len", "requirepass", "timeout", unordered=True)
    diff("CONFIG", "GET", "TIMEOUT", "timeout")
    diff("CONFIG", "GET", "[s]ave")
    diff("CONFIG", "GET", "nosuchkey")


def test_config_get_answers_what_clients_ask_at_connect(r):
    assert r.config_get("save") == {"save": ""}
    assert r.config_get("appendonly") == {"appendonly": "no"}
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.config_get("databases") == {"databases": "16"}


def test_config_get_knows_pika_keys(r, pikamp_server):
    got = r.config_get("port", "db-path", "workers")
    assert got["port"] == str(pikamp_server.port)
    assert got["workers"] == "2"
    assert got["db-path"].endswith("db")


def test_config_errors_match_redis(diff):
    diff("CONFIG")
    diff("CONFIG", "GET")
    diff("CONFIG", "FOO")
    diff("CONFIG", "HELP")
    diff("CONFIG", "RESETSTAT", "x")
    diff("CONFIG", "SET", "timeout")
    diff("CONFIG", "SET", "timeout", "1", "maxclients")
    diff("CONFIG", "SET", "xyz", "1")
    diff("CONFIG", "SET", "databases", "3")
    diff("CONFIG", "SET", "databases", "3", "xyz", "1")
    diff("CONFIG", "SET", "xyz", "1", "databases", "3")
    diff("CONFIG", "SET", "timeout", "1", "TIMEOUT", "2")
    diff("CONFIG", "SET", "timeout", "abc")
    diff("CONFIG", "SET", "timeout", "01")
    diff("CONFIG", "SET", "timeout", "-1")
    diff("CONFIG", "SET", "maxclients", "0")
    diff("CONFIG", "SET", "slowlog-log-slower-than", "-2")
    diff("CONFIG", "SET", "slowlog-max-len", "-1")
    diff("CONFIG", "SET", "timeout", "abc", "databases", "3")


def test_config_set_then_get_matches_redis(diff):
    try:
        diff("CONFIG", "SET", "slowlog-max-len", "200", "SLOWLOG-LOG-SLOWER-THAN", "500")
        diff("CONFIG", "GET", "slowlog*", unordered=True)
    finally:
        diff("CONFIG", "SET", "slowlog-max-len", "128", "slowlog-log-slower-than", "10000")


def test_config_set_port_is_immutable(raw):
    assert raw.call("CONFIG", "SET", "port", "1") == (
        b"-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n")


def test_config_set_reaches_every_worker(raw, on_each_worker):
    try:
        assert raw.call("CONFIG", "SET", "slowlog-max-len", "77") == b"+OK\r\n"
        for conn in on_each_worker.values():
            assert parse(conn.call("CONFIG", "GET", "slowlog-max-len")) == [b"slowlog-max-len", b"77"]
    finally:
        raw.call("CONFIG", "SET", "slowlog-max-len", "128")


def test_config_set_requirepass_applies_to_new_connections_on_every_worker(raw, pikamp_server):
    try:
        assert raw.call("CONFIG", "SET", "requirepass", "s3cret") == b"+OK\r\n"
        assert raw.call("PING") == b"+PONG\r\n"  # already authenticated
        seen = set()
        for _ in range(64):
            c = RawConn(pikamp_server.port)
            try:
                assert c.call("PING").startswith(b"-NOAUTH")
                assert c.call("AUTH", "s3cret") == b"+OK\r\n"
                seen.add(_client_id(c) % WORKERS)
            finally:
                c.close()
            if len(seen) == WORKERS:
                break
        assert seen == set(range(WORKERS))
    finally:
        raw.call("CONFIG", "SET", "requirepass", "")
    c = RawConn(pikamp_server.port)
    assert c.call("PING") == b"+PONG\r\n"
    c.close()


def test_config_set_maxclients_with_redis_py(r):
    try:
        assert r.config_set("maxclients", 500) is True
        assert r.config_get("maxclients") == {"maxclients": "500"}
    finally:
        r.config_set("maxclients", 20000)


def test_config_resetstat_resets_every_worker(raw, on_each_worker):
    for conn in on_each_worker.values():
        for _ in range(20):
            conn.call("PING")
    assert raw.call("CONFIG", "RESETSTAT") == b"+OK\r\n"
    stats = _info(raw, "stats")
    assert int(stats["total_commands_processed"]) < 5
    assert int(stats["total_connections_received"]) == 0


@pytest.fixture
def own_server(tmp_path):
    srv = PikampServer(str(tmp_path / "srv"), workers=2).start()
    yield srv
    srv.stop()


def test_config_rewrite_writes_changed_values_keeping_comments(own_server):
    with open(own_server.conf_path, "a") as f:
        f.write("# a comment that must survive\n")
    c = RawConn(own_server.port)
    assert c.call("CONFIG", "SET", "timeout", "42", "slowlog-max-len", "99") == b"+OK\r\n"
    assert c.call("CONFIG", "REWRITE") == b"+OK\r\n"
    c.close()
    with open(own_server.conf_path) as f:
        text = f.read()
    assert "timeout : 42\n" in text
    assert "slowlog-max-len : 99\n" in text
    assert "# a comment that must survive\n" in text
    assert f"port : {own_server.port}\n" in text


def test_config_rewrite_without_a_config_file_is_an_error():
    from pikamp.commands import load_all
    from pikamp.commands.server import config_rewrite
    from pikamp.config import Config
    from pikamp.errors import RespError

    load_all()

    class Worker:
        config = Config()

    class Conn:
        worker = Worker()

    class Ctx:
        conn = Conn()
        worker = Conn.worker

    with pytest.raises(RespError, match="^ERR The server is running without a config file$"):
        config_rewrite(Ctx(), [b"config", b"rewrite"])


def test_rewrite_config_file_replaces_first_line_drops_duplicates_appends_new(tmp_path):
    from pikamp.commands.server import rewrite_config_file
    from pikamp.config import DEFAULTS, Config
    from pikamp.config import parse as parse_conf

    path = tmp_path / "pika.conf"
    path.write_text("# top comment\nport : 1234\n\ntimeout : 5\ntimeout : 6\nunknown-key : x\n")
    config = Config.load(str(path))
    config.values["timeout"] = "7"
    config.values["maxclients"] = "10"
    rewrite_config_file(str(path), config.values)
    text = path.read_text()
    assert text.startswith("# top comment\nport : 1234\n\ntimeout : 7\nunknown-key : x\n")
    assert "maxclients : 10\n" in text
    values = parse_conf(text)
    assert values["timeout"] == "7" and values["maxclients"] == "10"
    assert "databases" not in values or values["databases"] == DEFAULTS["databases"][0]


# == INFO ========================================================================
def test_info_parses_with_redis_py(r):
    info = r.info()
    assert info["redis_version"] == "7.0.15"
    assert info["redis_mode"] == "standalone"
    assert info["role"] == "master"
    assert info["cluster_enabled"] == 0
    assert info["aof_enabled"] == 0
    assert info["loading"] == 0


def test_info_keyspace_covers_dbs_of_both_workers(r, pikamp_server):
    r.set("a", "1")
    r.set("b", "2", ex=100)
    other = redis.Redis(host=HOST, port=pikamp_server.port, db=1)
    other.set("c", "3")
    other.close()
    info = r.info("keyspace")
    assert info["db0"] == {"keys": 2, "expires": 1, "avg_ttl": 0}
    assert info["db1"] == {"keys": 1, "expires": 0, "avg_ttl": 0}
    assert "db2" not in info


def test_info_keyspace_matches_redis(diff):
    diff("INFO", "keyspace")
    diff("SET", "k", "v")
    diff("INFO", "keyspace")


def test_info_sections_match_redis_where_deterministic(diff):
    diff("INFO", "cluster")
    diff("INFO", "nosuchsection")
    diff("INFO", "CLUSTER", "keyspace")


def test_info_is_verbatim_in_resp3_and_bulk_in_resp2(diff):
    ours, theirs = diff.both("INFO", "server")
    assert ours[:1] == theirs[:1] == (b"=" if diff.proto == 3 else b"$")
    if diff.proto == 3:
        assert ours.split(b"\r\n", 1)[1].startswith(b"txt:# Server\r\n")


def test_info_section_order_and_separators(raw):
    text = parse(raw.call("INFO", "keyspace", "server", "cpu")).decode()
    assert text.startswith("# Server\r\n")
    assert "\r\n\r\n# CPU\r\n" in text
    assert text.endswith("\r\n\r\n# Keyspace\r\n") or "# Keyspace\r\ndb" in text


def test_info_server_names_the_supervisor_and_is_the_same_on_every_worker(on_each_worker, pikamp_server):
    infos = [_info(c, "server") for c in on_each_worker.values()]
    for info in infos:
        assert info["process_id"] == str(pikamp_server.proc.pid)
        assert info["tcp_port"] == str(pikamp_server.port)
        assert info["config_file"] == pikamp_server.conf_path
        assert info["workers"] == "2"
        assert len(info["run_id"]) == 40
    assert infos[0]["run_id"] == infos[1]["run_id"]


def test_info_clients_counts_clients_of_every_worker(on_each_worker):
    counts = [int(_info(c, "clients")["connected_clients"]) for c in on_each_worker.values()]
    assert all(n >= WORKERS for n in counts)


def test_info_clients_counts_blocked_clients_of_every_worker(on_each_worker, pikamp_server):
    """blocked_clients (redis-cli --stat's column): waiters in DBs of both workers."""
    first = on_each_worker[0]
    first.call("DEL", "bq")
    base = int(_info(first, "clients")["blocked_clients"])
    waiters = [RawConn(pikamp_server.port) for _ in range(4)]
    try:
        for i, c in enumerate(waiters):
            c.call("SELECT", str(i % 2))
            c.send_raw(encode_command(("BLPOP", "bq", "10")))
        deadline = time.monotonic() + 10
        while int(_info(first, "clients")["blocked_clients"]) < base + 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert int(_info(first, "clients")["blocked_clients"]) == base + 4
    finally:
        for c in waiters:
            c.close()
    deadline = time.monotonic() + 10
    while int(_info(first, "clients")["blocked_clients"]) > base and time.monotonic() < deadline:
        time.sleep(0.02)
    assert int(_info(first, "clients")["blocked_clients"]) == base


def test_info_stats_counts_commands_of_every_worker(on_each_worker):
    first, second = on_each_worker[0], on_each_worker[1]
    before = int(_info(first, "stats")["total_commands_processed"])
    for _ in range(50):
        second.call("PING")
    after = int(_info(first, "stats")["total_commands_processed"])
    assert after >= before + 50


def test_info_stats_counts_expired_keys(r):
    r.set("gone", "v", px=1)
    time.sleep(0.01)
    assert r.get("gone") is None
    assert r.info("stats")["expired_keys"] >= 1


def test_info_memory_and_cpu_cover_the_process_tree(r, pikamp_server):
    memory = r.info("memory")
    assert memory["used_memory"] > 0
    assert memory["maxmemory"] == 0
    assert memory["used_memory_human"][-1] in "BKMGTP"
    cpu = r.info("cpu")
    assert cpu["used_cpu_sys"] >= 0 and cpu["used_cpu_user"] > 0
    assert "worker_0_cpu" in cpu and "worker_1_cpu" in cpu and "supervisor_cpu" in cpu


def test_info_default_and_all_have_every_section(raw):
    # Redis 7.0's order; Pika's RocksDB section comes with "all", as in
    # Pika, not by default.
    default = ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats",
               "# Replication", "# CPU", "# Modules", "# Errorstats", "# Cluster", "# Keyspace"]
    everything = default[:8] + ["# Commandstats", "# Errorstats", "# Latencystats"] + default[9:] + ["# RocksDB"]
    for arg in ((), ("default",), ("all",), ("everything",)):
        text = parse(raw.call("INFO", *arg)).decode()
        titles = [line for line in text.split("\r\n") if line.startswith("# ")]
        assert titles == (everything if arg in (("all",), ("everything",)) else default)


def test_info_rocksdb_shows_caches_memtables_and_data(r):
    r.flushall()
    r.mset({f"rk{i}": "v" * 100 for i in range(2000)})
    assert r.get("rk1") == b"v" * 100
    info = r.info("rocksdb")
    for field in ("block_cache_capacity", "block_cache_usage", "memtable_bytes", "memtable_budget",
                  "pending_compaction_bytes", "write_stopped", "estimated_keys", "sst_bytes"):
        assert isinstance(info[field], int), field
    assert "block_cache_hits" not in info  # RocksDB's tickers cost: only with enable-db-statistics
    assert info["block_cache_capacity"] > 0 and info["memtable_budget"] > 0
    assert info["memtable_bytes"] > 2000 * 100  # the keys are in the memtables (nothing flushed yet)
    assert info["estimated_keys"] >= 2000
    assert info["rocksdb_db0"]["estimated_keys"] >= 2000
    assert "rocksdb_db0" not in r.info("all") or r.info("all")["db0"]["keys"] == 2000  # no clash with keyspace


# == TIME, LASTSAVE, SHUTDOWN ============================================================
def test_time_is_seconds_and_microseconds(r):
    seconds, micros = r.time()
    assert abs(seconds - time.time()) < 5
    assert 0 <= micros < 1_000_000


def test_lastsave_is_the_server_start_before_any_dump(r, pikamp_server):
    started = psutil.Process(pikamp_server.proc.pid).create_time()
    assert int(started) - 1 <= r.lastsave().timestamp() <= time.time()


def test_time_lastsave_shutdown_errors_match_redis(diff):
    diff("TIME", "x")
    diff("LASTSAVE", "x")
    diff("SHUTDOWN", "foo")
    diff("SHUTDOWN", "ABORT")
    diff("SHUTDOWN", "SAVE", "NOSAVE")
    diff("SHUTDOWN", "NOSAVE", "ABORT")


def test_shutdown_stops_the_server_without_a_reply(own_server):
    c = RawConn(own_server.port)
    c.send_raw(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
    assert c.read_until_closed(timeout=10) == b""
    c.close()
    assert own_server.proc.wait(20) == 0
    own_server.proc = None
    own_server.log.close()


# == CLIENT ========================================================================
def test_client_help_and_errors_match_redis(diff):
    diff("CLIENT", "HELP")
    diff("CLIENT", "HELP", "x")
    diff("CLIENT", "NO-EVICT", "on")
    diff("CLIENT", "NO-EVICT", "OFF")
    diff("CLIENT", "NO-EVICT", "maybe")
    diff("CLIENT", "NO-EVICT")
    diff("CLIENT", "LIST", "TYPE", "foo")
    diff("CLIENT", "LIST", "TYPE", "pubsub")
    diff("CLIENT", "LIST", "TYPE")
    diff("CLIENT", "LIST", "ID", "x")
    diff("CLIENT", "LIST", "ID")
    diff("CLIENT", "LIST", "foo")
    diff("CLIENT", "LIST", "ID", "99999999")


def test_client_kill_errors_match_redis(diff):
    diff("CLIENT", "KILL")
    diff("CLIENT", "KILL", "1.2.3.4:5")
    diff("CLIENT", "KILL", "ID", "x")
    diff("CLIENT", "KILL", "ID", "0")
    diff("CLIENT", "KILL", "ID", "-1")
    diff("CLIENT", "KILL", "ID", "99999999")
    diff("CLIENT", "KILL", "TYPE", "foo")
    diff("CLIENT", "KILL", "TYPE", "master")
    diff("CLIENT", "KILL", "USER", "nobody")
    diff("CLIENT", "KILL", "SKIPME", "maybe")
    diff("CLIENT", "KILL", "foo", "bar")
    diff("CLIENT", "KILL", "a", "b", "c")
    diff("CLIENT", "KILL", "ID", "5", "TYPE")
    diff("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "LADDR", "1.2.3.4:6")


def test_client_no_touch_is_accepted(raw):
    assert raw.call("CLIENT", "NO-TOUCH", "on") == b"+OK\r\n"
    assert raw.call("CLIENT", "NO-TOUCH", "x") == b"-ERR syntax error\r\n"


def test_client_list_shows_this_client(r):
    me = r.client_id()
    assert any(c["id"] == str(me) for c in r.client_list())
    assert [c["id"] for c in r.client_list(client_type="normal")].count(str(me)) == 1


def test_client_list_covers_every_worker(raw, on_each_worker):
    ids = {_client_id(c) for c in on_each_worker.values()}
    listed = {int(line.split()[0][3:]) for line in parse(raw.call("CLIENT", "LIST")).decode().splitlines()}
    assert ids <= listed


def test_client_list_by_id_keeps_the_requested_order(raw, on_each_worker):
    a, b = (_client_id(c) for c in on_each_worker.values())
    text = parse(raw.call("CLIENT", "LIST", "ID", str(b), "999999999", str(a))).decode()
    assert [line.split()[0] for line in text.splitlines()] == [f"id={b}", f"id={a}"]


def test_client_kill_by_id_closes_a_client_of_another_worker(on_each_worker):
    killer, victim = on_each_worker[0], on_each_worker[1]
    assert killer.call("CLIENT", "KILL", "ID", str(_client_id(victim))) == b":1\r\n"
    assert victim.read_until_closed() == b""
    assert killer.call("PING") == b"+PONG\r\n"


def test_client_kill_by_address_old_form(on_each_worker):
    killer, victim = on_each_worker[1], on_each_worker[0]
    addr = "{}:{}".format(*victim.sock.getsockname())
    assert killer.call("CLIENT", "KILL", addr) == b"+OK\r\n"
    assert victim.read_until_closed() == b""


def test_client_kill_skips_the_caller_unless_asked(raw):
    me = str(_client_id(raw))
    assert raw.call("CLIENT", "KILL", "ID", me) == b":0\r\n"
    assert raw.call("CLIENT", "KILL", "ID", me, "SKIPME", "no") == b":1\r\n"
    assert raw.read_until_closed() == b""


def test_client_kill_by_laddr_and_type(pikamp_server):
    victim = RawConn(pikamp_server.port)
    killer = RawConn(pikamp_server.port)
    try:
        assert victim.call("PING") == b"+PONG\r\n"  # accepted and registered by its worker
        addr = "{}:{}".format(*victim.sock.getsockname())
        laddr = "{}:{}".format(*victim.sock.getpeername())
        assert killer.call("CLIENT", "KILL", "ADDR", addr, "LADDR", laddr, "TYPE", "normal",
                           "USER", "default") == b":1\r\n"
        assert victim.read_until_closed() == b""
    finally:
        victim.close()
        killer.close()


# == real clients ======================================================================
def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")
def test_redis_cli_info(pikamp_server):
    out = _run("redis-cli", "-p", str(pikamp_server.port), "info")
    assert out.returncode == 0
    assert "redis_version:7.0.15" in out.stdout


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")
def test_redis_cli_command_docs(pikamp_server):
    out = _run("redis-cli", "-p", str(pikamp_server.port), "--no-raw", "COMMAND", "DOCS", "get")
    assert out.returncode == 0
    assert "summary" in out.stdout and "Get the value of a key" in out.stdout


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark not installed")
def test_redis_benchmark_fetches_the_config(r, pikamp_server):
    out = _run("redis-benchmark", "-p", str(pikamp_server.port), "-t", "set", "-n", "1000", "-q")
    assert out.returncode == 0, out.stderr
    assert "Could not fetch server CONFIG" not in out.stdout + out.stderr
    assert "SET:" in out.stdout



# == replies that wait for other workers keep their place ===========================
def test_gathered_replies_keep_pipeline_order(on_each_worker):
    from resp_client import encode_command

    c = on_each_worker[0]
    assert c.call("SELECT", "1") == b"+OK\r\n"  # db1 is owned by worker 1: GETs are forwarded
    c.call("SET", "k", "v")
    pipeline = [("GET", "k"), ("INFO", "keyspace"), ("GET", "k"), ("CLIENT", "LIST"),
                ("CONFIG", "SET", "slowlog-max-len", "128"), ("PING",), ("CLIENT", "KILL", "ID", "999999"),
                ("GET", "k")]
    c.send_raw(b"".join(encode_command(cmd) for cmd in pipeline))
    replies = [c.read_reply() for _ in pipeline]
    assert replies[0] == replies[2] == replies[7] == b"$1\r\nv\r\n"
    assert b"db1:keys=1" in replies[1]
    assert b"id=" in replies[3]
    assert replies[4] == b"+OK\r\n"
    assert replies[5] == b"+PONG\r\n"
    assert replies[6] == b":0\r\n"
    c.call("DEL", "k")


def test_single_worker_server_answers_gathered_commands(tmp_path):
    srv = PikampServer(str(tmp_path / "one"), workers=1).start()
    try:
        c = redis.Redis(host=HOST, port=srv.port)
        c.set("k", "v")
        assert c.info("keyspace")["db0"]["keys"] == 1
        assert c.config_set("slowlog-max-len", 5) is True
        assert any(x["id"] == str(c.client_id()) for x in c.client_list())
        c.close()
    finally:
        srv.stop()


@pytest.mark.parametrize("line", [
    ("LMPOP", "2", "a", "b", "LEFT"),
    ("BLMPOP", "0", "2", "a", "b", "LEFT"),
    ("ZUNIONSTORE", "d", "2", "a", "b"),
    ("SINTERCARD", "2", "a", "b"),
    ("ZMPOP", "2", "a", "b", "MIN"),
    ("BZMPOP", "0", "1", "a", "MAX"),
    ("ZDIFF", "2", "a", "b"),
])
def test_command_getkeys_of_numkeys_commands(diff, line):
    diff("COMMAND", "GETKEYS", *line)


def test_blocking_commands_are_in_the_blocking_category(r):
    info = r.execute_command("COMMAND", "INFO", "blpop")
    assert b"@blocking" in repr(info).encode()


def test_info_rocksdb_tickers_with_enable_db_statistics(tmp_path):
    srv = PikampServer(str(tmp_path / "stats"), enable_db_statistics="yes").start()
    try:
        c = redis.Redis(host=HOST, port=srv.port)
        c.set("a", "1")
        c.get("a")
        info = c.info("rocksdb")
        for field in ("block_cache_hits", "block_cache_misses", "write_stall_micros"):
            assert isinstance(info[field], int), field
        assert 0 <= float(info["block_cache_hit_rate"]) <= 1
        c.close()
    finally:
        srv.stop()


def test_info_stats_counts_hits_misses_and_bytes_of_every_worker(on_each_worker):
    first, second = on_each_worker[0], on_each_worker[1]
    first.call("SET", "hit-me", "v")
    before = _info(first, "stats")
    for c in (first, second):
        for db in ("0", "1"):
            c.call("SELECT", db)
            c.call("GET", "hit-me")
            c.call("GET", "nobody-here")
        c.call("SELECT", "0")
    after = _info(first, "stats")
    # DB 0 has the key, DB 1 does not: 2 hits, 6 misses, wherever they ran.
    assert int(after["keyspace_hits"]) - int(before["keyspace_hits"]) == 2
    assert int(after["keyspace_misses"]) - int(before["keyspace_misses"]) == 6
    assert int(after["total_net_input_bytes"]) > int(before["total_net_input_bytes"]) + 100
    assert int(after["total_net_output_bytes"]) > int(before["total_net_output_bytes"])
    for field in ("instantaneous_input_kbps", "instantaneous_output_kbps"):
        float(after[field])
    assert after["rejected_connections"].isdigit()
