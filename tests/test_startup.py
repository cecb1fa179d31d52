"""Start-up a newcomer can trust: a bad configuration or an unusable path
ends with one clear line (file, line, key) and a non-zero exit, before any
process is forked; typos are warned about; command-line overrides win over the
file; a child that cannot start stops the server instead of looping."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import redis

from servers import HOST, REPO_ROOT, free_port

ENV = {**os.environ, "PYTHONPATH": REPO_ROOT}


def _pikamp(*args: str, cwd: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pikamp.cli", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def _conf(tmp_path, text: str, name: str = "pika.conf") -> str:
    base = (f"bind : {HOST}\ndb-path : {tmp_path}/db\nlog-path : {tmp_path}/log\n"
            f"dump-path : {tmp_path}/dump\npidfile : {tmp_path}/pika.pid\n")
    path = tmp_path / name
    path.write_text(base + text)
    return str(path)


def _one_clear_line(res: subprocess.CompletedProcess, *wanted: str) -> None:
    err = res.stderr.strip()
    assert "Traceback" not in res.stderr + res.stdout, res.stderr
    assert len(err.splitlines()) == 1, err
    for w in wanted:
        assert w in err, err


def test_bad_values_and_lines_are_named(tmp_path):
    cases = [
        ("port : abc\n", "pika.conf:6: port: must be an integer"),
        ("workers : -3\n", "pika.conf:6: workers: must be between 0 and 1024"),
        ("appendfsync : sometimes\n", "pika.conf:6: appendfsync: must be one of always, everysec, no"),
        ("daemonize : maybe\n", "pika.conf:6: daemonize: must be yes or no"),
        ("port 6380\n", "pika.conf:6: bad config line (expected 'key : value')"),
        ("client-output-buffer-limit : normal 1 2\n", "pika.conf:6:"),
    ]
    for text, wanted in cases:
        res = _pikamp("start", "-c", _conf(tmp_path, text), cwd=str(tmp_path))
        assert res.returncode == 2, (text, res.stderr)
        _one_clear_line(res, wanted)
    assert not (tmp_path / "db").exists()  # refused before anything was created


def test_missing_file_and_bad_command_line(tmp_path):
    res = _pikamp("start", "-c", str(tmp_path / "nope.conf"), cwd=str(tmp_path))
    assert res.returncode == 2
    _one_clear_line(res, "nope.conf: cannot read the configuration file: No such file or directory")
    conf = _conf(tmp_path, f"port : {free_port()}\n")
    for extra, wanted in [(["--prot", "1"], "--prot: unknown configuration key"),
                          (["--port"], "--port needs a value"),
                          (["--port", "x"], "--port: must be an integer"),
                          (["stray"], "expected --key value")]:
        res = _pikamp("start", "-c", conf, *extra, cwd=str(tmp_path))
        assert res.returncode == 2, extra
        _one_clear_line(res, wanted)
    res = _pikamp("--version", cwd=str(tmp_path))
    assert res.returncode == 0 and res.stdout.startswith("pikamp ")


def test_unusable_db_path_is_refused_before_forking(tmp_path):
    (tmp_path / "afile").write_text("")
    conf = _conf(tmp_path, f"port : {free_port()}\ndb-path : {tmp_path}/afile/db\n")
    res = _pikamp("start", "-c", conf, cwd=str(tmp_path))
    assert res.returncode == 1
    _one_clear_line(res, f"db-path {tmp_path}/afile/db cannot be created: Not a directory")


def test_typo_warned_overrides_win_and_status_survives_a_closed_pipe(tmp_path):
    file_port, port = free_port(), free_port()
    conf = _conf(tmp_path, f"prot : 6380\nport : {file_port}\nworkers : 2\nthread-num : 4\n")
    proc = subprocess.Popen([sys.executable, "-m", "pikamp.cli", "start", "-c", conf, "--port", str(port),
                             "--workers=1"], cwd=str(tmp_path), env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        c = redis.Redis(host=HOST, port=port, socket_timeout=5)
        deadline = time.monotonic() + 30
        while True:
            try:
                c.ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "no PONG on the --port given"
                time.sleep(0.1)
        assert c.config_get("workers")["workers"] == "1"
        c.close()
        with_head = subprocess.run(f"{sys.executable} -m pikamp.cli status -c {conf} | head -1", shell=True,
                                   cwd=str(tmp_path), env=ENV, capture_output=True, text=True, timeout=60)
        assert "PID" in with_head.stdout and "Traceback" not in with_head.stderr, with_head.stderr
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    warnings = [line for line in err.splitlines() if "unknown configuration key" in line]
    # Pika's own keys (thread-num) are known; the typo is named once, with its line.
    assert warnings == [f"pikamp: warning: {conf}:6: unknown configuration key 'prot' (ignored)"], err


def test_a_child_that_cannot_start_stops_the_server(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "db1").write_text("")  # DB 1's directory is taken by a file
    conf = _conf(tmp_path, f"port : {free_port()}\nworkers : 2\n")
    res = _pikamp("start", "-c", conf, cwd=str(tmp_path), timeout=120)
    assert res.returncode == 1
    out = res.stdout + res.stderr
    assert "worker 1 failed to start 5 times in a row" in out, out[-3000:]
    assert "cannot open its databases: [Errno 17] File exists" in out
    assert "Traceback" not in out
