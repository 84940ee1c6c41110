"""``tailgate drift`` end to end on the replayable production log (bench/replay_log.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tailgate.analysis import DriftReport
from tests.support.cli import REPO, tailgate

sys.path.insert(0, str(REPO / "bench"))


@pytest.fixture(scope="module")
def samples() -> list[object]:
    from replay_log import sharegpt_samples

    return sharegpt_samples(history=0)[:4000]  # type: ignore[no-any-return]


def _store(tmp_path: Path, samples: list[object], **shifts: float) -> dict[str, str]:
    from replay_log import build_log

    log = tmp_path / "log.jsonl"
    build_log(log, 1200, seed=3, samples=samples, shifts=shifts, shift_at=0.5)
    env = {"TAILGATE_STORE": str(tmp_path / "store")}
    proc = tailgate("import", "traffic", str(log), env=env)
    assert proc.returncode == 0, proc.stderr
    return env


def test_a_json_shift_is_found_and_explained(tmp_path: Path, samples: list[object]) -> None:
    env = _store(tmp_path, samples, json=0.3)
    out = tmp_path / "drift.json"
    proc = tailgate("drift", "--no-text", "--json", str(out), "--html", str(tmp_path / "d.html"), "-q", env=env)
    assert proc.returncode == 0, proc.stderr
    # the shift appends a request for JSON to the prompt, so the prompt also gets longer and its
    # share of non-ASCII text falls: input_tokens and non_ascii may move too (the exact tests see it)
    verdict = proc.stdout.splitlines()[0]
    assert verdict.startswith("drift: "), verdict
    assert "asks_json" in verdict, verdict
    assert "ref (first half): 600 requests" in proc.stdout
    report = DriftReport.from_dict(json.loads(out.read_text(encoding="utf-8")))
    assert report.drift_detected
    assert "asks_json" in report.comparisons[0].drifted
    assert report.explanation is not None
    assert report.explanation.slices[0].label == "asks_json=True"
    assert "<svg" in (tmp_path / "d.html").read_text(encoding="utf-8")
    failing = tailgate("drift", "--no-text", "--fail-on-drift", "-q", env=env)
    assert failing.returncode == 1, failing.stderr
    watched = tailgate("drift", "--no-text", "--every", "300", "--json", "-", "-q", env=env)
    assert watched.returncode == 0, watched.stderr
    monitored = json.loads(watched.stdout)
    assert monitored["monitor"]["alarm_at"] == 2  # the shift starts with window 2 (request 601)
    assert monitored["explanation"]["cur"] == 2


def test_a_a_no_drift_exit_0_and_fail_on_drift_passes(tmp_path: Path, samples: list[object]) -> None:
    env = _store(tmp_path, samples)
    proc = tailgate("drift", "--no-text", "--fail-on-drift", "-q", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("no drift: none of ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cur", "yesterday"], "tailgate: error: --cur 'yesterday': 'yesterday' is neither an ISO 8601 time"),
        (["--cur", "2020-01-01..2020-01-02"], "tailgate: error: window cur (2020-01-01..2020-01-02): 0 requests; "),
        (["--every", "1d", "--ref", "first:10"], "tailgate: error: --every splits the whole table"),
        (["--every", "daily"], "tailgate: error: --every 'daily': expected a duration"),
        (["--run", "latest"], "tailgate: error: --run needs --by"),
        (["--attribute", "colour"], "tailgate: error: --attribute 'colour': no request in the windows has it"),
    ],
)
def test_bad_specs_exit_2_without_a_traceback(tmp_path: Path, args: list[str], message: str) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(
        "".join(
            json.dumps({"timestamp": f"2024-05-01T10:00:{i:02d}Z", "prompt": f"question {i}"}) + "\n" for i in range(20)
        ),
        encoding="utf-8",
    )
    assert tailgate("import", "traffic", str(log)).returncode == 0
    proc = tailgate("drift", "--no-text", "-q", *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_empty_table_measures_nothing(tmp_path: Path) -> None:
    proc = tailgate("drift", "-q")
    assert proc.returncode == 2
    assert "holds no request; import logs with: tailgate import traffic FILE" in proc.stderr
