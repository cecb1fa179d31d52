"""Process lifecycle through the ``pikamp`` command (start, status, stop,
--daemonize, signals, pid file, log file), and the stock redis-cli and
redis-benchmark against a running server."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
import redis
from servers import HOST, PikampServer, wait_ping

PIKAMP = [sys.executable, "-m", "pikamp.cli"]
SERVICES = {"replication", "purge", "bgsave", "keyscan", "monitor", "pubsub"}


def pikamp(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(PIKAMP + list(args), capture_output=True, text=True, timeout=timeout, check=False)


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root] + root.children(recursive=True)


def kill_tree(pid: int) -> None:
    """Last-resort cleanup of a server this test started."""
    try:
        procs = tree(pid)
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def pidfile(server: PikampServer) -> str:
    return os.path.join(server.workdir, "pika.pid")


def all_gone(procs: list[psutil.Process], timeout: float = 10) -> bool:
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return not alive


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server started with ``pikamp start -c FILE`` in the foreground."""
    srv = PikampServer(str(tmp_path_factory.mktemp("lifecycle"))).start()
    yield srv
    srv.stop()


@pytest.fixture
def own_server(tmp_path):
    """A server for one test that may stop it; stopped at the end if still running."""
    srv = PikampServer(str(tmp_path / "own")).start()
    yield srv
    if srv.proc is not None:
        srv.stop()


# -- status -------------------------------------------------------------------------------

STATUS_LINE = re.compile(r"^\s*(\d+)\s+(\d+\.\d)\s+(\d+\.\d)\s+(pikamp: .+)$")


def status_rows(server: PikampServer) -> list[tuple[int, float, float, str]]:
    res = pikamp("status", "-c", server.conf_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["PID", "CPU%", "RSS", "MB", "ROLE"]
    rows = []
    for line in lines[1:]:
        m = STATUS_LINE.match(line)
        assert m, f"unexpected status line {line!r}"
        rows.append((int(m[1]), float(m[2]), float(m[3]), m[4]))
    return rows


def test_status_lists_supervisor_workers_and_services(server):
    rows = status_rows(server)
    roles = [role for _, _, _, role in rows]
    assert roles[0] == f"pikamp: supervisor {HOST}:{server.port}"
    assert rows[0][0] == server.proc.pid
    assert "pikamp: worker 0 [db0,db2,db4,db6,db8,db10,db12,db14]" in roles
    assert "pikamp: worker 1 [db1,db3,db5,db7,db9,db11,db13,db15]" in roles
    assert {r.removeprefix("pikamp: ") for r in roles if not r.startswith(("pikamp: worker", "pikamp: super"))} \
        == SERVICES
    assert len(rows) == 1 + 2 + len(SERVICES)


def test_every_process_ignores_sigpipe(server):
    """A write to a socket whose peer went must fail with EPIPE, not kill the
    process (signal 13): the CLI's SIGPIPE default is for status/stop only."""
    for p in [psutil.Process(server.proc.pid)] + psutil.Process(server.proc.pid).children():
        with open(f"/proc/{p.pid}/status") as f:
            ignored = int(next(line for line in f if line.startswith("SigIgn:")).split()[1], 16)
        assert ignored & (1 << (signal.SIGPIPE - 1)), " ".join(p.cmdline())


def test_status_shows_cpu_and_rss_of_each_process(server):
    for pid, cpu, rss, role in status_rows(server):
        assert cpu >= 0.0
        assert rss > 1.0, f"{role} reports RSS {rss} MB"
        assert psutil.pid_exists(pid)


def test_status_and_stop_when_not_running(tmp_path):
    srv = PikampServer(str(tmp_path / "never-started"))
    res = pikamp("status", "-c", srv.conf_path)
    assert (res.returncode, res.stdout.strip()) == (3, "pikamp is not running")
    res = pikamp("stop", "-c", srv.conf_path)
    assert (res.returncode, res.stderr.strip()) == (1, "pikamp is not running")


# -- start, stop, signals -------------------------------------------------------------------


def test_log_file_is_under_log_path(server):
    log = os.path.join(server.workdir, "log", "pikamp.log")
    text = read(log)
    assert f"pikamp starting on {HOST}:{server.port}" in text
    assert "worker 0 serving" in text and "worker 1 serving" in text


def test_pid_file_holds_the_supervisor_pid(server):
    assert read(pidfile(server)).strip() == str(server.proc.pid)


def test_starting_twice_on_the_same_pid_file_says_already_running(server):
    second = subprocess.Popen(PIKAMP + ["start", "-c", server.conf_path], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        _, err = second.communicate(timeout=30)
    finally:
        if second.poll() is None:
            kill_tree(second.pid)
    assert second.returncode == 1
    assert err.strip() == f"pikamp is already running (pid {server.proc.pid})"
    assert server.proc.poll() is None
    wait_ping(server.port, timeout=5)


def test_start_on_a_port_in_use_fails_at_once(tmp_path, redis_server):
    srv = PikampServer(str(tmp_path / "busy"), port=redis_server.port)
    res = pikamp("start", "-c", srv.conf_path, timeout=30)
    assert res.returncode == 1
    assert res.stderr.strip() == f"pikamp cannot listen on {HOST}:{redis_server.port}: Address already in use"
    assert not os.path.exists(os.path.join(srv.workdir, "db"))
    assert not os.path.exists(pidfile(srv))


def test_a_stale_pid_file_does_not_block_start(tmp_path):
    srv = PikampServer(str(tmp_path / "stale"))
    with open(pidfile(srv), "w") as f:
        f.write(f"{os.getpid()}\n")  # a live process that is not a pikamp server
    srv.start()
    try:
        assert read(pidfile(srv)).strip() == str(srv.proc.pid)
    finally:
        assert srv.stop() == 0


def kill_supervisor_with_a_worker_frozen(srv: PikampServer) -> psutil.Process:
    """SIGKILL the supervisor while worker 0 is stopped: its children exit
    (PR_SET_PDEATHSIG), except the frozen worker, which keeps the inherited
    pid-file lock until it is resumed or killed. Returns that worker."""
    frozen = psutil.Process(srv.worker_pids()[0])
    frozen.suspend()
    others = [p for p in srv.children() if p.pid != frozen.pid]
    srv.proc.kill()
    srv.proc.wait(10)
    srv.proc = None
    srv.log.close()
    assert all_gone(others)
    return frozen


def test_start_right_after_a_killed_supervisor_waits_for_its_children(tmp_path):
    srv = PikampServer(str(tmp_path / "killed")).start()
    dead = srv.proc.pid
    frozen = kill_supervisor_with_a_worker_frozen(srv)
    resume = threading.Timer(1.0, frozen.resume)  # it then stops on its SIGTERM
    resume.start()
    again = PikampServer(srv.workdir, port=srv.port)
    try:
        again.start()
        assert read(pidfile(again)).strip() == str(again.proc.pid)
    finally:
        resume.join()
        if again.proc is not None:
            again.stop()
        kill_tree(frozen.pid)
    said = read(os.path.join(srv.workdir, "stderr.log"))
    assert (f"pikamp: the previous server (pid {dead}) is gone; waiting for its processes {frozen.pid} "
            "to exit\n") in said
    assert "already running" not in said


def test_start_names_the_processes_that_still_hold_the_pid_file(tmp_path):
    from pikamp.server import LOCK_WAIT

    srv = PikampServer(str(tmp_path / "held")).start()
    dead = srv.proc.pid
    frozen = kill_supervisor_with_a_worker_frozen(srv)
    try:
        started = time.monotonic()
        res = pikamp("start", "-c", srv.conf_path, timeout=30)
        waited = time.monotonic() - started
    finally:
        kill_tree(frozen.pid)
    assert res.returncode == 1
    assert res.stderr.splitlines()[-1] == (
        f"pikamp (pid {dead}) is gone, but its processes {frozen.pid} still hold the pid file "
        f"{pidfile(srv)} after {LOCK_WAIT:.0f}s; stop them, then start again")
    assert LOCK_WAIT <= waited < LOCK_WAIT + 10
    srv.start().stop()  # and once they are gone, it starts


def test_stop_command_stops_every_process_and_removes_the_pid_file(own_server):
    procs = tree(own_server.proc.pid)
    res = pikamp("stop", "-c", own_server.conf_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"pikamp (pid {own_server.proc.pid}) stopped"
    assert own_server.stop() == 0  # reaps the supervisor, which already exited with 0
    assert all_gone(procs)
    assert not os.path.exists(pidfile(own_server))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_the_supervisor_stops_cleanly(tmp_path, signum):
    srv = PikampServer(str(tmp_path / "sig")).start()
    procs = tree(srv.proc.pid)
    srv.proc.send_signal(signum)
    try:
        code = srv.proc.wait(30)
    finally:
        if srv.proc.poll() is None:
            kill_tree(srv.proc.pid)
        srv.log.close()
    assert code == 0
    assert all_gone(procs)
    assert not os.path.exists(pidfile(srv))
    log = read(os.path.join(srv.workdir, "log", "pikamp.log"))
    assert "all children stopped" in log and "pikamp stopped" in log
    assert "did not stop" not in log


def test_sighup_does_not_stop_the_server(own_server):
    before = tree(own_server.proc.pid)
    for p in before:
        p.send_signal(signal.SIGHUP)  # a closed terminal signals the whole group
    time.sleep(0.3)
    assert [p.pid for p in tree(own_server.proc.pid)] == [p.pid for p in before]
    wait_ping(own_server.port, timeout=5)


def test_data_persists_across_stop_and_start(own_server):
    for db in range(4):
        c = redis.Redis(host=HOST, port=own_server.port, db=db)
        c.set("persist", f"db{db}")
        c.close()
    assert pikamp("stop", "-c", own_server.conf_path).returncode == 0
    own_server.stop()
    again = PikampServer(own_server.workdir, port=own_server.port).start()
    try:
        for db in range(4):
            c = redis.Redis(host=HOST, port=again.port, db=db)
            assert c.get("persist") == f"db{db}".encode()
            assert c.dbsize() == 1
            c.close()
    finally:
        again.stop()


def test_daemonize_detaches_writes_the_pid_file_and_stop_stops_it(tmp_path):
    srv = PikampServer(str(tmp_path / "daemon"))
    res = pikamp("start", "-c", srv.conf_path, "--daemonize", timeout=30)
    assert res.returncode == 0, res.stderr
    pid = None
    try:
        deadline = time.monotonic() + 20
        while pid is None and time.monotonic() < deadline:
            try:
                pid = int(read(pidfile(srv)))
            except (OSError, ValueError):
                time.sleep(0.05)
        assert pid is not None, "no pid file"
        daemon = psutil.Process(pid)
        assert daemon.ppid() != os.getpid()
        assert os.getsid(pid) != os.getsid(0)  # a session of its own
        assert daemon.terminal() is None
        wait_ping(srv.port, timeout=20)
        srv.wait_all_workers()
        procs = tree(pid)
        res = pikamp("stop", "-c", srv.conf_path)
        assert res.returncode == 0, res.stderr
        assert all_gone(procs)
        assert not os.path.exists(pidfile(srv))
        pid = None
    finally:
        if pid is not None:
            kill_tree(pid)


# -- stock Redis tools -------------------------------------------------------------------------


def redis_cli(port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                          timeout=10, check=True).stdout


def test_redis_cli_set_and_get(server):
    assert redis_cli(server.port, "set", "cli:k", "v") == "OK\n"
    assert redis_cli(server.port, "get", "cli:k") == "v\n"
    assert redis_cli(server.port, "-n", "1", "set", "cli:k", "in db1") == "OK\n"
    assert redis_cli(server.port, "-n", "1", "get", "cli:k") == "in db1\n"
    assert redis_cli(server.port, "ping") == "PONG\n"


@pytest.mark.parametrize("args", [["-t", "set,get", "-n", "2000"],
                                  ["-t", "set,get", "-n", "4000", "-P", "16", "-r", "1000"]],
                         ids=["plain", "pipelined-random-keys"])
def test_redis_benchmark_runs_clean(server, args):
    res = subprocess.run(["redis-benchmark", "-p", str(server.port), "-q", *args],
                         capture_output=True, text=True, timeout=120, check=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert re.search(r"^SET: [\d.]+ requests per second", out, re.MULTILINE), out
    assert re.search(r"^GET: [\d.]+ requests per second", out, re.MULTILINE), out
    assert "error" not in out.lower() and "warning" not in out.lower(), out
