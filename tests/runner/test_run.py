from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailgate.config import RetryConfig
from tailgate.errors import RunFailed, RunMismatch
from tailgate.runner import RunOptions, backoff_delay, run_sync
from tailgate.store import Store
from tests.support import flaky
from tests.support.suites import make_suite

SUPPORT = Path(__file__).resolve().parents[1] / "support"
FLAKY = "python:tests.support.flaky"
MODELS = "python:tests.support.models"


@pytest.fixture(autouse=True)
def _reset() -> None:
    flaky.reset()


def _run(tmp_path: Path, model: str, **kw: object):  # type: ignore[no-untyped-def]
    suite = kw.pop("suite", None) or make_suite(tmp_path / "suite", repeats=int(kw.pop("suite_repeats", 1)))  # type: ignore[arg-type]
    return run_sync(RunOptions(suite=str(suite), model=model, **kw))  # type: ignore[arg-type]


def test_run_stores_one_scored_record_per_sample(tmp_path: Path) -> None:
    result = _run(tmp_path, f"{MODELS}:oracle", repeats=3)
    assert (result.status, result.planned, result.done, result.issued) == ("completed", 12, 12, 12)
    table = Store().read_records(result.run_id)
    rows = table.to_pylist()
    assert len({r["sample_id"] for r in rows}) == 12
    assert all(r["score"] == 1.0 and r["error_class"] is None for r in rows)
    assert {r["scorer"] for r in rows} == {"numeric", "contains"}
    assert sorted({json.loads(r["params"])["seed"] for r in rows}) == [0, 1, 2]  # seed + repeat
    manifest = Store().manifest(result.run_id).as_dict()
    assert manifest["status"] == "completed"
    assert manifest["plan"] == {"items": 4, "variants": 1, "repeats": 3, "samples": 12}
    assert manifest["counts"] == {"planned": 12, "done": 12, "errors": 0}
    assert manifest["suite"]["config"]["name"] == "t"
    assert manifest["packages"]["pydantic"]


def test_repeats_are_independent_samples(tmp_path: Path) -> None:
    """Each repeat has its own seed and cache key, so K repeats are K calls, not one cached."""
    result = _run(tmp_path, f"{FLAKY}:echo_seed", repeats=4)
    rows = Store().read_records(result.run_id).to_pylist()
    assert len({r["cache_key"] for r in rows}) == 16
    assert len(flaky.call_times) == 16


def test_retryable_faults_are_retried_and_recorded(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite", extra={"run": {"retry": {"base_delay_s": 0.01}}})
    result = _run(tmp_path, f"{FLAKY}:fail_twice", suite=suite)
    rows = Store().read_records(result.run_id).to_pylist()
    assert all(r["attempts"] == 3 and r["score"] == 1.0 for r in rows)
    log = json.loads(rows[0]["attempt_errors"])
    assert [e["class"] for e in log] == ["server_error", "server_error"]
    assert all(e["status"] == 500 and e["wait_s"] > 0 for e in log)
    assert result.stats.retries == 8


def _failed_run(tmp_path: Path, model: str, **kw: object) -> tuple[str, str, list[dict[str, object]]]:
    """A run in which every sample failed: it raises RunFailed, and its records are stored."""
    with pytest.raises(RunFailed) as info:
        _run(tmp_path, model, run_id="failed", **kw)
    assert info.value.exit_code == 3
    manifest = Store().manifest("failed").as_dict()
    assert manifest["status"] == "failed"
    return str(info.value), manifest["error"], Store().read_records("failed").to_pylist()


def test_exhausted_retries_are_unscored_not_wrong(tmp_path: Path) -> None:
    message, _, rows = _failed_run(tmp_path, f"{FLAKY}:always_429", max_attempts=3)
    assert "every one of the 4 samples failed after its retries (rate_limit x4)" in message
    assert all(r["error_class"] == "rate_limit" and r["score"] is None and r["output"] is None for r in rows)
    assert all(r["attempts"] == 3 for r in rows)
    assert set(flaky.attempts.values()) == {3}
    assert Store().manifest("failed").as_dict()["counts"]["errors"] == 4


def test_client_faults_are_not_retried(tmp_path: Path) -> None:
    _, _, rows = _failed_run(tmp_path, f"{FLAKY}:bad_request")
    assert {r["error_class"] for r in rows} == {"client_error"}
    assert set(flaky.attempts.values()) == {1}


def test_user_function_exception_is_recorded(tmp_path: Path) -> None:
    _, _, rows = _failed_run(tmp_path, f"{MODELS}:explode")
    assert {r["error_class"] for r in rows} == {"provider_error"}
    assert "model crashed" in str(rows[0]["error_message"])


def _sixty(tmp_path: Path) -> Path:
    items = [{"id": str(i), "question": f"What is {i}+1?", "answer": i + 1, "task": "math"} for i in range(60)]
    return make_suite(
        tmp_path / "suite", items, scorers=[{"type": "numeric"}], extra={"run": {"retry": {"base_delay_s": 0.001}}}
    )


def test_an_endpoint_that_fails_every_call_stops_early(tmp_path: Path) -> None:
    """500 on every call: the run stops after CALL_STREAK calls instead of spending every retry on
    every sample (issue 10: 480 calls for 60 samples)."""
    message, error, rows = _failed_run(tmp_path, f"{FLAKY}:always_500", suite=_sixty(tmp_path), concurrency=4)
    assert error in message
    assert "stopped early: 20 calls in a row failed (server_error) and none was answered" in message
    assert "last error: boom" in message
    assert "--run-id" in message
    assert sum(flaky.attempts.values()) <= 20 + 4  # the calls in flight when it stopped
    assert len(rows) < 60


def test_samples_that_keep_failing_stop_the_run(tmp_path: Path) -> None:
    """Rate limits are back-pressure, not failures, call by call; but FIRST_STREAK samples in a
    row that exhausted their retries with nothing answered stop the run."""
    message, _, rows = _failed_run(
        tmp_path, f"{FLAKY}:always_429", suite=_sixty(tmp_path), max_attempts=2, concurrency=1
    )
    assert "stopped early: 10 samples in a row failed after their retries and none was answered" in message
    assert "rate_limit x10" in message
    assert len(rows) == 10


def test_a_run_that_scored_nothing_fails_with_the_reason(tmp_path: Path) -> None:
    """dataset.reference left out: every answer is unscored, and the run says so (exit 3)."""
    suite = make_suite(
        tmp_path / "suite", scorers=[{"type": "exact"}], extra={"dataset": {"path": "items.jsonl", "id": "id"}}
    )
    message, _, rows = _failed_run(tmp_path, f"{MODELS}:oracle", suite=suite)
    assert "0 of 4 answered samples could be scored" in message
    assert "exact:" in message
    assert "dataset.reference" in message
    assert len(rows) == 4
    assert all(r["output"] is not None and r["score"] is None for r in rows)


def test_a_partly_failed_run_says_how_much_failed(tmp_path: Path) -> None:
    result = _run(tmp_path, f"{FLAKY}:fail_on_first_item", max_attempts=2)
    assert result.status == "completed"
    assert any("1 of 4 samples (25%) failed after their retries (server_error x1)" in w for w in result.warnings)


def test_backoff_honours_retry_after_and_grows() -> None:
    import random

    retry = RetryConfig(base_delay_s=0.5, max_delay_s=4.0, max_retry_after_s=10.0)
    rng = random.Random(0)
    assert 7.0 <= backoff_delay(1, retry, 7.0, rng) <= 7.05
    assert backoff_delay(1, retry, 60.0, rng) <= 10.05  # capped
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        delays = [backoff_delay(attempt, retry, None, rng) for _ in range(200)]
        assert ceiling / 2 <= min(delays)
        assert max(delays) <= ceiling


def test_rate_limit_spaces_calls(tmp_path: Path) -> None:
    _run(tmp_path, f"{FLAKY}:echo_seed", repeats=3, rps=20.0, concurrency=8)
    times = sorted(flaky.call_times)
    span = times[-1] - times[0]
    # 12 calls at 20/s with a burst of 8: at least (12 - 8) / 20 = 0.2 s
    assert span >= 0.19


def test_resume_issues_only_missing_samples(tmp_path: Path) -> None:
    first = _run(tmp_path, f"{MODELS}:oracle", repeats=2, run_id="r-1")
    assert first.issued == 8
    again = _run(tmp_path, f"{MODELS}:oracle", repeats=2, run_id="r-1")
    assert (again.resumed, again.issued, again.done) == (True, 0, 8)
    sessions = Store().manifest("r-1").as_dict()["sessions"]
    assert [s["issued"] for s in sessions] == [8, 0]


def test_resume_refuses_a_different_configuration(tmp_path: Path) -> None:
    _run(tmp_path, f"{MODELS}:oracle", repeats=2, run_id="r-2")
    with pytest.raises(RunMismatch, match="repeats"):
        _run(tmp_path, f"{MODELS}:oracle", repeats=3, run_id="r-2")
    with pytest.raises(RunMismatch, match="model"):
        _run(tmp_path, f"{MODELS}:seeded", repeats=2, run_id="r-2")


def test_retry_errors_reissues_failed_samples(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite", extra={"run": {"retry": {"base_delay_s": 0.0}}})
    with pytest.raises(RunFailed, match="every one of the 4 samples failed"):
        _run(tmp_path, f"{FLAKY}:fail_twice", suite=suite, run_id="r-3", max_attempts=1)
    assert Store().manifest("r-3").as_dict()["counts"]["errors"] == 4
    with pytest.raises(RunFailed):  # failed samples are recorded, not missing: nothing is issued
        _run(tmp_path, f"{FLAKY}:fail_twice", suite=suite, run_id="r-3", max_attempts=1)
    assert sum(flaky.attempts.values()) == 4

    # the model function's identity is the same, so --retry-errors may resume; two more tries each
    def retry_errors():  # type: ignore[no-untyped-def]
        return _run(tmp_path, f"{FLAKY}:fail_twice", suite=suite, run_id="r-3", max_attempts=1, retry_errors=True)

    with pytest.raises(RunFailed):
        retry_errors()
    third = retry_errors()
    assert third.issued == 4
    assert Store().manifest("r-3").as_dict()["counts"]["errors"] == 0
    assert Store().read_records("r-3").num_rows == 4


def test_cache_replays_identical_samples(tmp_path: Path) -> None:
    first = _run(tmp_path, f"{FLAKY}:echo_seed", repeats=2)
    calls = len(flaky.call_times)
    second = _run(tmp_path, f"{FLAKY}:echo_seed", repeats=2)
    assert len(flaky.call_times) == calls  # no new calls
    rows = Store().read_records(second.run_id).to_pylist()
    assert all(r["cached"] and r["attempts"] == 0 for r in rows)
    assert second.stats.cached == 8
    before = {r["sample_id"]: r["output"] for r in Store().read_records(first.run_id).to_pylist()}
    assert {r["sample_id"]: r["output"] for r in rows} == before
    third = _run(tmp_path, f"{FLAKY}:echo_seed", repeats=2, cache=False)
    assert third.stats.cached == 0
    assert len(flaky.call_times) == calls + 8
