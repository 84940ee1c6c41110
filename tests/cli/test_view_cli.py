"""``tailgate view`` as a command: its errors and exit codes, the export, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tailgate.store import Store
from tests.support.cli import REPO, tailgate
from tests.support.view_runs import make_pair


def _pair(tmp_path: Path) -> Store:
    store, _, _ = make_pair(tmp_path / "pair")
    return store


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    store = _pair(tmp_path)
    three = tailgate("--store", str(store.root), "view", "base", "cand", "base", "--no-open")
    assert three.returncode == 2
    assert "at most two runs" in three.stderr
    missing = tailgate("--store", str(store.root), "view", "nothing", "--no-open")
    assert missing.returncode == 2
    assert "nothing" in missing.stderr
    assert "Traceback" not in missing.stderr + three.stderr


def test_export_writes_the_site(tmp_path: Path) -> None:
    store = _pair(tmp_path)
    proc = tailgate("--store", str(store.root), "view", "base", "cand", "--export", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"\d+ precomputed filters, 12 items", proc.stdout)
    assert (tmp_path / "site" / "data" / "diff.json").exists()


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    store = _pair(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = tailgate("--store", str(store.root), "view", "base", "cand", "--port", str(port), "--no-open")
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "--port 0" in proc.stderr


def test_it_serves_on_127_0_0_1_until_interrupted(tmp_path: Path) -> None:
    store = _pair(tmp_path)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    command = [sys.executable, "-m", "tailgate", "--store", str(store.root), "view", "--port", "0", "--no-open"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/api/meta", timeout=30) as response:
            assert b'"mode":"report"' in response.read()  # no run given: the latest, its report
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert "interrupted" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stderr is not None
        proc.stderr.close()


def test_a_saved_comparison_is_read_not_computed(tmp_path: Path) -> None:
    store = _pair(tmp_path)
    saved = tmp_path / "cmp.json"
    assert tailgate("--store", str(store.root), "compare", "base", "cand", "--json", str(saved)).returncode == 0
    computed = tailgate("--store", str(store.root), "view", "base", "cand", "--export", str(tmp_path / "a"))
    read = tailgate(
        "--store", str(store.root), "view", "base", "cand", "--comparison", str(saved), "--export", str(tmp_path / "b")
    )
    assert computed.returncode == 0, computed.stderr
    assert read.returncode == 0, read.stderr
    first = (tmp_path / "a" / "data" / "diff.json").read_text(encoding="utf-8")
    assert (tmp_path / "b" / "data" / "diff.json").read_text(encoding="utf-8") == first
    swapped = tailgate("--store", str(store.root), "view", "cand", "base", "--comparison", str(saved), "--no-open")
    assert swapped.returncode == 2
    assert "compares base with cand, not cand with base" in swapped.stderr
    one = tailgate("--store", str(store.root), "view", "base", "--comparison", str(saved), "--no-open")
    assert one.returncode == 2
    assert "give BASE and CAND" in one.stderr


def test_the_server_says_when_the_comparison_is_ready(tmp_path: Path) -> None:
    import json

    store = _pair(tmp_path)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    command = [sys.executable, "-m", "tailgate", "--store", str(store.root), "view", "base", "cand", "--port", "0"]
    proc = subprocess.Popen([*command, "--no-open"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stderr.readline())
        assert match
        assert re.search(r"tailgate view: comparison ready \(\d+\.\d s", proc.stderr.readline())
        with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/api/diff", timeout=30) as response:
            diff = json.loads(response.read())
        assert diff["pending"] is False
        assert diff["slices"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stderr is not None
        proc.stderr.close()
