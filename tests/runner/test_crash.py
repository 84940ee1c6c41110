"""kill -9 at random moments, then resume: nothing completed is lost, nothing is issued twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tailgate.store import Store, read_journal, scan_run_files
from tests.support.cli import REPO, tailgate
from tests.support.suites import make_suite

MODEL = "python:tests.support.models:seeded"
ITEMS = [
    {"id": f"q{i}", "question": f"What is {i} plus {i + 1}?", "answer": 2 * i + 1, "task": "math"} for i in range(30)
]


def _identity(line: str) -> str:
    return line.strip()


def _calls(log: Path) -> list[str]:
    return [_identity(x) for x in log.read_text().splitlines()] if log.exists() else []


def _call_id(record: dict[str, object]) -> str:
    import hashlib

    messages = json.loads(str(record["prompt"]))
    text = messages[-1]["content"]
    seed = json.loads(str(record["params"]))["seed"]
    return f"{hashlib.sha256(text.encode()).hexdigest()[:12]}|{seed}"


def _start(suite: Path, run_id: str, log: Path, delay: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
        "TAILGATE_TEST_CALL_LOG": str(log),
        "TAILGATE_TEST_DELAY": delay,
    }
    with log.with_suffix(".stderr").open("w") as err:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tailgate",
                "run",
                str(suite),
                "--model",
                MODEL,
                "--run-id",
                run_id,
                "--repeats",
                "4",
                "--concurrency",
                "4",
                "--no-cache",
                "-q",
                "--json",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            preexec_fn=_ctrl_c_as_in_a_terminal,  # noqa: PLW1509 - resets one signal, nothing a thread holds
        )


def _ctrl_c_as_in_a_terminal() -> None:
    """SIGINT at its default in the child, as in a terminal: a test run started in the background
    by a non-interactive shell (``make test &``) inherits SIGINT ignored (POSIX), and Python then
    keeps ignoring it, so the Ctrl-C test would see the run finish with exit 0 (seen in CI logs)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stderr(log: Path) -> str:
    return log.with_suffix(".stderr").read_text()


@pytest.mark.slow
def test_kill_minus_nine_then_resume_many_times(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s", ITEMS, scorers=[{"type": "numeric"}])
    ref = _start(suite, "ref", tmp_path / "ref.log", "0.002")
    assert ref.wait(120) == 0, _stderr(tmp_path / "ref.log")
    store = Store()
    reference = {r["sample_id"]: r["output"] for r in store.read_records("ref").to_pylist()}
    assert len(reference) == 120

    rng = random.Random(1234)
    outcomes = Counter()
    for i in range(20):
        run_id = f"crash-{i}"
        first_log, second_log = tmp_path / f"{run_id}.a.log", tmp_path / f"{run_id}.b.log"
        proc = _start(suite, run_id, first_log, "0.05")
        time.sleep(rng.uniform(0.3, 2.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        done_before = store.sample_status(run_id) if store.exists(run_id) else {}
        outcomes[
            "killed with 0 done"
            if not done_before
            else "killed after all done"
            if len(done_before) == 120
            else "killed mid-run"
        ] += 1

        resumed = _start(suite, run_id, second_log, "0.0")
        assert resumed.wait(120) == 0, _stderr(second_log)

        # exactly the missing samples were issued on resume, each once
        planned = {_call_id(r) for r in store.read_records("ref").to_pylist()}
        recorded_before = set(_ids_of(store, run_id, set(done_before)))
        second_calls = _calls(second_log)
        assert len(second_calls) == len(set(second_calls)), "a sample was issued twice on resume"
        assert set(second_calls) == planned - recorded_before
        # every sample recorded before the kill had been called by the killed process
        assert recorded_before <= set(_calls(first_log))
        # final record set equals an uninterrupted run (keys and outputs)
        final = {r["sample_id"]: r["output"] for r in store.read_records(run_id).to_pylist()}
        assert final == reference
        # no record was ever written twice, in any file
        files = scan_run_files(store.run_dir(run_id))
        written = Counter(rec["sample_id"] for _, path in files.journals for rec in read_journal(path))
        assert written
        assert max(written.values()) == 1
        assert store.manifest(run_id).status == "completed"
    print(dict(outcomes))
    assert outcomes["killed mid-run"] >= 10, outcomes


def _ids_of(store: Store, run_id: str, sample_ids: set[str]) -> set[str]:
    if not sample_ids:
        return set()
    rows = store.read_records(run_id).to_pylist()
    return {_call_id(r) for r in rows if r["sample_id"] in sample_ids}


def test_ctrl_c_exits_130_and_leaves_a_resumable_run(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s", ITEMS, scorers=[{"type": "numeric"}])
    # 0.1 s a call: 120 samples at concurrency 4 take ~3 s, so the run is still going when the
    # poll below (a store read every 50 ms, slow on a loaded machine) sees the first 5 samples
    proc = _start(suite, "int-1", tmp_path / "a.log", "0.1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until some samples are stored
        if Store().exists("int-1") and len(Store().sample_status("int-1")) >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    stderr = _stderr(tmp_path / "a.log")
    assert "interrupted" in stderr
    assert "--run-id int-1" in stderr
    assert "Traceback" not in stderr
    manifest = Store().manifest("int-1").as_dict()
    assert manifest["status"] == "interrupted"
    done = len(Store().sample_status("int-1"))
    assert 5 <= done < 120
    proc = tailgate(
        "run",
        str(suite),
        "--model",
        MODEL,
        "--run-id",
        "int-1",
        "--repeats",
        "4",
        "--no-cache",
        "-q",
        "--json",
        env={"TAILGATE_TEST_CALL_LOG": str(tmp_path / "b.log")},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["issued"], out["done"], out["resumed"]) == (120 - done, 120, True)


def test_sigterm_stops_like_ctrl_c(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s", ITEMS, scorers=[{"type": "numeric"}])
    proc = _start(suite, "term-1", tmp_path / "a.log", "0.02")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (Store().exists("term-1") and Store().sample_status("term-1")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 130
    assert Store().manifest("term-1").status == "interrupted"
