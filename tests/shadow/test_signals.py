"""SIGTERM shuts down gracefully; kill -9 loses only the mirrors in flight (a real subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tailgate.store import Store
from tailgate.traffic import TrafficTable
from tests.shadow._servers import Behaviour, Upstream, chat_body, free_port, request, wait_for
from tests.support.cli import REPO

CANARY_CLIENT = "sk-client-CANARY-sigterm-5e1f0c"
CANARY_CANDIDATE = "sk-cand-CANARY-sigterm-93ab77"


def _start(store: Path, primary: str, candidate: str, run_id: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
        "TAILGATE_CANDIDATE_API_KEY": CANARY_CANDIDATE,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tailgate",
            "--store",
            str(store),
            "shadow",
            "--primary",
            primary,
            "--candidate",
            candidate,
            "--listen",
            f"127.0.0.1:{port}",
            "--sample",
            "1",
            "--run-id",
            run_id,
            "--quiet",
            *extra,
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "listening on" in line, line + proc.stderr.read()
    return proc, f"http://127.0.0.1:{port}"


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its reaper is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_finishes_in_flight_primaries_and_counts_pending_mirrors(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with (
        Upstream("primary", Behaviour(delay_s=0.0)) as primary,
        Upstream("candidate", Behaviour(kind="hang", hang_s=30)) as cand,
    ):
        proc, url = _start(store, primary.url, cand.url, "term", "--mirror-concurrency", "1", "--grace", "3")
        for i in range(4):
            auth = {"Authorization": f"Bearer {CANARY_CLIENT}"}
            assert request(url, "/v1/chat/completions", chat_body(f"q{i}"), auth)[0] == 200
        wait_for(lambda: len(cand.seen) == 1)  # one mirror hangs in flight, three wait in the queue
        primary.behaviour.delay_s = 1.0
        result: list[int] = []
        slow = threading.Thread(
            target=lambda: result.append(request(url, "/v1/chat/completions", chat_body("slow"))[0])
        )
        slow.start()
        time.sleep(0.3)  # the slow primary is in flight
        proc.send_signal(signal.SIGTERM)
        slow.join(10)
        assert result == [200]  # the in-flight primary finished after SIGTERM
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    assert cand.seen[0].headers["Authorization"] == f"Bearer {CANARY_CANDIDATE}"
    import pyarrow.parquet as pq

    files = [p.read_bytes() for p in store.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    files += [str(pq.read_table(p).to_pylist()).encode() for p in store.rglob("*.parquet")]
    for canary in (CANARY_CLIENT, CANARY_CANDIDATE):
        assert canary not in err
        assert not any(canary.encode() in data for data in files)
    s = Store(store)
    for role in ("primary", "candidate", "noise"):
        manifest = s.manifest(f"term-{role}")
        assert manifest.status == "completed"
        session = manifest.sessions[-1]
    # 5 mirrored: 1 cut in flight after the grace + 4 queued (the slow one too) = 5 dropped(shutdown)
    assert (session["mirrored"], session["dropped.shutdown"]) == (5, 5), session
    assert s.read_records("term-candidate").num_rows == 0
    rows = TrafficTable(s.traffic_dir).read().to_pylist()
    assert len(rows) == 5  # every proxied request is in the traffic table, the drops marked
    assert all('"dropped":"shutdown"' in r["columns"] for r in rows)


def test_kill_9_loses_only_in_flight_mirrors_and_the_run_reopens(tmp_path: Path) -> None:
    store = tmp_path / "store"
    s = Store(store)
    with Upstream("primary") as primary, Upstream("candidate") as cand:
        proc, url = _start(store, primary.url, cand.url, "killed")
        for i in range(20):
            assert request(url, "/v1/chat/completions", chat_body(f"q{i}"))[0] == 200
        journal = store / "runs" / "killed-candidate" / "journal-000001.jsonl"
        wait_for(lambda: journal.is_file() and journal.read_bytes().count(b"\n") == 20)
        cand.behaviour = Behaviour(kind="hang", hang_s=30)
        for i in range(20, 23):
            request(url, "/v1/chat/completions", chat_body(f"q{i}"))
        wait_for(lambda: len(cand.seen) == 23)
        worker = json.loads(request(url, "/healthz", method="GET")[3])["worker"]["pid"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()
        # the worker sees its socket end, exits promptly and releases the runs' locks
        wait_for(lambda: not _running(worker), 10)
        assert s.read_records("killed-candidate").num_rows == 20  # the 3 in flight are lost, no more
        assert s.read_records("killed-primary").num_rows == 20
        assert s.run_info("killed-primary").status == "interrupted"
        cand.behaviour = Behaviour()
        proc, url = _start(store, primary.url, cand.url, "killed")
        for i in range(20, 25):
            assert request(url, "/v1/chat/completions", chat_body(f"q{i}"))[0] == 200
        wait_for(lambda: len(cand.seen) == 28)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    assert s.read_records("killed-candidate").num_rows == 25
    assert s.manifest("killed-candidate").status == "completed"
    # the killed session's spooled traffic rows were committed when the run reopened
    assert len(TrafficTable(s.traffic_dir).read()) >= 20 + 5


def test_a_run_locked_by_another_proxy_is_a_clean_error_of_the_command(tmp_path: Path) -> None:
    """The worker opens the runs; its start-up error still ends the command with a message and 2."""
    store = tmp_path / "store"
    with Upstream("primary") as primary, Upstream("candidate") as cand:
        first, _ = _start(store, primary.url, cand.url, "locked")
        try:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
            args = ["--primary", primary.url, "--candidate", cand.url, "--run-id", "locked", "--quiet"]
            second = subprocess.run(
                [sys.executable, "-m", "tailgate", "--store", str(store), "shadow", *args, "--listen", "127.0.0.1:0"],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )
        finally:
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=30)
    assert second.returncode == 2, second.stderr
    assert "is being written by another process" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.returncode == 0
