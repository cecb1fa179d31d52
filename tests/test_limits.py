"""Client limits: the open files limit is raised for maxclients or maxclients
lowered to fit it (and logged), clients beyond maxclients are told so instead
of getting a silent EOF, and maxclients counts the clients of all workers."""
from __future__ import annotations

import gc
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from resp_client import RawConn, parse
from servers import HOST, PikampServer, wait_ping

from pikamp import clientcount

REFUSED = b"-ERR max number of clients reached\r\n"


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def repo_env() -> dict[str, str]:
    """The environment for a server process that runs this checkout, not an installed copy."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
    return env


def drop_cap_sys_resource() -> None:
    """As root the server could raise its hard limit: drop that power (CAP_SYS_RESOURCE)
    from the bounding set, so the exec'd server is as bound by the limit as a user's."""
    import ctypes

    PR_CAPBSET_DROP, CAP_SYS_RESOURCE = 24, 24
    ctypes.CDLL(None, use_errno=True).prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0)  # fails unless root


class LimitedServer(PikampServer):
    """A PikampServer started under RLIMIT_NOFILE (soft, hard)."""

    def __init__(self, workdir: str, nofile: tuple[int, int] | None = None, **conf: object) -> None:
        super().__init__(workdir, **conf)
        self.nofile = nofile

    def _preexec(self) -> None:
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)
            drop_cap_sys_resource()

    def start(self, timeout: float = 30.0) -> "LimitedServer":
        self.log = open(os.path.join(self.workdir, "stderr.log"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pikamp.cli", "start", "-c", self.conf_path], env=repo_env(),
            cwd=self.workdir, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=self._preexec,
        )
        wait_ping(self.port, self.proc, timeout)
        self.wait_all_workers()
        return self

    def logged(self) -> str:
        with open(os.path.join(self.workdir, "log", "pikamp.log")) as f:
            return f.read()


@pytest.fixture
def started(tmp_path):
    servers: list[LimitedServer] = []

    def start(name: str, **kw) -> LimitedServer:
        srv = LimitedServer(str(tmp_path / name), **kw).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        if srv.proc is not None:
            srv.stop()


def try_client(port: int) -> tuple[RawConn, bytes]:
    """Connect and PING: (conn, b"+PONG\\r\\n") when accepted, else (closed conn, what came before EOF)."""
    c = RawConn(port, timeout=5)
    try:
        return c, c.call("PING")
    except ConnectionError:
        c.close()
        return c, c.buf


def refusal(port: int) -> bytes:
    """Everything a refused connection reads, up to the server's close."""
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        got = b""
        while chunk := s.recv(4096):
            got += chunk
    return got


def wait_clients(port: int, n: int, timeout: float = 5.0) -> None:
    """Wait until the server holds ``n`` clients besides the one asking (CLIENT LIST
    covers every worker): connections closed just before may still be counted."""
    gc.collect()  # redis-py clients dropped by PikampServer.wait_all_workers close only when collected
    deadline = time.monotonic() + timeout
    others, listing = None, []
    while time.monotonic() < deadline:
        c, reply = try_client(port)
        try:
            if reply == b"+PONG\r\n":
                listing = parse(c.call("CLIENT", "LIST")).decode().strip().splitlines()
                others = len(listing) - 1
                if others == n:
                    return
        finally:
            c.close()
        time.sleep(0.05)
    raise AssertionError(f"{others} other clients after {timeout}s, expected {n}: {listing}")


def config_maxclients(port: int) -> int:
    c = RawConn(port)
    try:
        return int(parse(c.call("CONFIG", "GET", "maxclients"))[1])
    finally:
        c.close()


def worker_nofile(srv: PikampServer) -> tuple[int, int]:
    return psutil.Process(srv.worker_pids()[0]).rlimit(psutil.RLIMIT_NOFILE)


# -- the open files limit ----------------------------------------------------------------


def test_a_low_hard_limit_lowers_maxclients_and_the_extra_clients_are_told(started):
    # One worker, so that every client lands on it: its own fds must fit them all.
    srv = started("lowhard", nofile=(300, 300), workers=1, databases=2, maxclients=1000)
    m = re.search(r"maxclients 1000 needs (\d+) open files per worker \((\d+) besides the clients\), "
                  r"but the open files limit is 300 \(the hard limit[^;]*\); maxclients lowered to (\d+)\.",
                  srv.logged())
    assert m, srv.logged()
    fit = int(m[3])
    assert fit == 300 - int(m[2]) and 0 < fit < 300
    assert config_maxclients(srv.port) == fit
    wait_clients(srv.port, 0)
    conns, replies = [], []
    try:
        extra = 2 * clientcount.REFUSED_LINGER_MAX  # more than are let linger to read it
        for _ in range(fit + extra):
            c, reply = try_client(srv.port)
            conns.append(c)
            replies.append(reply)
        assert replies[:fit] == [b"+PONG\r\n"] * fit
        assert replies[fit:] == [REFUSED] * extra  # an error reply, not a silent EOF
        assert "Too many open files" not in srv.logged()
    finally:
        for c in conns:
            c.close()
    wait_clients(srv.port, 0)
    assert try_client(srv.port)[1] == b"+PONG\r\n"  # room again


def test_a_low_soft_limit_is_raised_for_maxclients(started):
    srv = started("lowsoft", nofile=(200, 4096), workers=1, databases=2, maxclients=1000)
    m = re.search(r"increased the open files limit to (\d+) \(it was 200\)", srv.logged())
    assert m, srv.logged()
    assert 1000 < int(m[1]) <= 4096
    assert worker_nofile(srv) == (int(m[1]), 4096)
    assert config_maxclients(srv.port) == 1000
    assert "lowered" not in srv.logged()


def test_a_limit_too_low_for_anything_refuses_to_start(tmp_path):
    srv = LimitedServer(str(tmp_path / "tiny"), nofile=(40, 40), workers=1, databases=2)
    res = subprocess.run([sys.executable, "-m", "pikamp.cli", "start", "-c", srv.conf_path], env=repo_env(),
                         capture_output=True, text=True, timeout=30, preexec_fn=srv._preexec, cwd=srv.workdir)
    assert res.returncode == 1
    assert re.fullmatch(r"pikamp: the open files limit \('ulimit -n'\) of 40 is not enough for pikamp to "
                        r"start: each worker needs \d+ besides its clients; raise it to at least \d+\n",
                        res.stderr), res.stderr
    assert not os.path.exists(os.path.join(srv.workdir, "pika.pid"))


def test_the_reserve_counts_rocksdb_files_and_ipc_links(tmp_path):
    from pikamp.config import Config

    def conf(**kw) -> Config:
        return Config({"db-path": str(tmp_path / "db"), **{k: str(v) for k, v in kw.items()}})

    one = clientcount.reserved_fds(conf(workers=1, databases=2), services=6)
    assert one == (clientcount.BASE_FDS + clientcount.REFUSED_LINGER_MAX + 6
                   + 2 * (clientcount.FIXED_FDS_PER_DB + clientcount.NEW_SST_PER_DB))
    # The busiest worker counts: 3 DBs on 2 workers -> worker 0 owns two.
    two = clientcount.reserved_fds(conf(workers=2, databases=3), services=6)
    assert two == one + 2
    os.makedirs(tmp_path / "db" / "db0")
    for i in range(5):
        (tmp_path / "db" / "db0" / f"{i:06d}.sst").write_bytes(b"")
    assert clientcount.reserved_fds(conf(workers=1, databases=2), services=6) == one + 5


# -- maxclients across workers -----------------------------------------------------------


def client_worker(c: RawConn) -> int:
    return parse(c.call("CLIENT", "ID")) % 2  # client ids are worker index + k * workers


def test_maxclients_counts_the_clients_of_every_worker(started):
    srv = started("cross", workers=2, databases=2, maxclients=10)
    wait_clients(srv.port, 0)
    held: list[tuple[RawConn, int]] = []
    try:
        for _ in range(10):
            c, reply = try_client(srv.port)
            assert reply == b"+PONG\r\n"
            held.append((c, client_worker(c)))
        # Both workers must hold some, or a per-worker limit would pass too:
        # move connections off the busier worker until they are split.
        for _ in range(100):
            on = {w for _, w in held}
            if on == {0, 1}:
                break
            c, w = held.pop()
            c.close()
            wait_clients(srv.port, len(held))  # counted out before the next one comes in
            c, reply = try_client(srv.port)
            assert reply == b"+PONG\r\n"
            held.append((c, client_worker(c)))
        per_worker = [sum(1 for _, w in held if w == i) for i in (0, 1)]
        assert 0 < per_worker[0] < 10 and 0 < per_worker[1] < 10, per_worker
        # Neither worker has 10 of its own, yet the 11th is refused wherever it lands.
        for _ in range(8):
            assert refusal(srv.port) == REFUSED
        # One leaves: one more fits, on whichever worker.
        c, _ = held.pop()
        c.close()
        deadline = time.monotonic() + 5
        while True:
            c, reply = try_client(srv.port)
            if reply == b"+PONG\r\n":
                held.append((c, client_worker(c)))
                break
            assert time.monotonic() < deadline, "no room after a client left"
            time.sleep(0.05)
        assert refusal(srv.port) == REFUSED
    finally:
        for c, _ in held:
            c.close()


def test_a_killed_workers_clients_no_longer_count(started):
    srv = started("killed", workers=2, databases=2, maxclients=6)
    wait_clients(srv.port, 0)
    held = []
    try:
        while len(held) < 6:
            c, reply = try_client(srv.port)
            assert reply == b"+PONG\r\n"
            held.append((c, client_worker(c)))
        assert refusal(srv.port) == REFUSED
        victim = 0 if any(w == 0 for _, w in held) else 1
        os.kill(srv.worker_pids()[victim], signal.SIGKILL)
        gone = sum(1 for _, w in held if w == victim)
        srv.wait_all_workers()
        wait_clients(srv.port, 6 - gone)  # the dead worker's clients are no longer counted
        # Room for exactly as many again, wherever the new ones land.
        got = []
        for _ in range(gone):
            c, reply = try_client(srv.port)
            got.append(c)
            assert reply == b"+PONG\r\n"
        assert refusal(srv.port) == REFUSED
        held += [(c, -1) for c in got]
    finally:
        for c, _ in held:
            c.close()


def test_counts_claim_before_looking():
    counts = clientcount.ClientCounts(2)
    counts.attach(0)
    try:
        assert clientcount.admit(0, 2) and clientcount.total() == 1
        counts.slots[1] = 1  # the other worker
        assert not clientcount.admit(1, 2)
        assert clientcount.total() == 2  # the refused one is not counted
        clientcount.update(0)
        assert clientcount.admit(0, 2) and clientcount.total() == 2
        counts.reset(1)
        assert clientcount.total() == 1
    finally:
        clientcount._slots = None


# -- accept() out of fds ------------------------------------------------------------------

ACCEPTOR = textwrap.dedent("""
    import asyncio, logging, resource, socket, sys
    import uvloop
    from pikamp.clientcount import Acceptor
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    class Pong(asyncio.Protocol):
        def connection_made(self, t):
            self.t = t
        def data_received(self, d):
            self.t.write(b"+PONG\\r\\n")

    async def main():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        acceptor = Acceptor(asyncio.get_running_loop(), sock, Pong)
        print(sock.getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        acceptor.close()

    uvloop.run(main())
""")


def test_accept_out_of_fds_is_logged_and_the_client_answered():
    proc = subprocess.Popen([sys.executable, "-c", ACCEPTOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=repo_env(), cwd=REPO_ROOT)
    conns = []
    try:
        port = int(proc.stdout.readline())
        replies = []
        for _ in range(80):
            c, reply = try_client(port)
            conns.append(c)
            replies.append(reply)
        accepted = replies.count(b"+PONG\r\n")
        assert 10 < accepted < 48
        assert replies[accepted:] == [REFUSED] * (80 - accepted)  # told, never a silent EOF
        for c in conns[:10]:
            c.close()
        time.sleep(0.2)
        c, reply = try_client(port)
        conns.append(c)
        assert reply == b"+PONG\r\n"  # accepting again once fds are free
    finally:
        for c in conns:
            c.close()
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    proc.stderr.close()
    proc.stdout.close()
    warnings = [line for line in err.splitlines() if "accept() failed: Too many open files" in line]
    assert len(warnings) == 1, err  # rate-limited: once for the whole burst
    assert "pikamp.clients WARNING" in warnings[0]
