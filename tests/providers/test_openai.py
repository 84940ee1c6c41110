"""The openai: provider against a real HTTP server that injects faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailgate.errors import ProviderError, RunFailed
from tailgate.providers._openai import retry_after
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.cli import tailgate
from tests.support.fault_server import FaultPlan, FaultServer
from tests.support.suites import make_suite

ITEMS = [{"id": str(i), "question": f"What is {i}+{i * 3}?", "answer": i * 4, "task": "math"} for i in range(40)]


def _suite(tmp_path: Path, **extra: object) -> Path:
    run = {"timeout_s": 0.5, "retry": {"base_delay_s": 0.01, "max_attempts": 8}}
    return make_suite(tmp_path / "suite", ITEMS, scorers=[{"type": "numeric"}], extra={"run": run, **extra})


def test_faults_are_retried_recorded_and_never_scored_wrong(tmp_path: Path) -> None:
    plan = FaultPlan(share=0.3, seed=7, timeout_sleep_s=1.0)
    with FaultServer(plan) as server:
        result = run_sync(
            RunOptions(
                suite=str(_suite(tmp_path)),
                model="openai:m",
                base_url=server.base_url,
                repeats=3,
                concurrency=16,
            )
        )
    assert result.status == "completed"
    rows = Store().read_records(result.run_id).to_pylist()
    assert len(rows) == 120
    # every kind of fault happened, was retried and is on the sample's record
    assert set(server.seen.faults) == {"429", "500", "timeout", "reset", "malformed"}
    seen_classes = {e["class"] for r in rows for e in json.loads(r["attempt_errors"])}
    assert seen_classes == {
        "rate_limit",
        "server_error",
        "timeout",
        "connection",
        "malformed_response",
    }
    assert sum(r["attempts"] - 1 for r in rows) == sum(server.seen.faults.values())
    # and no fault was scored as a wrong answer
    assert all(r["error_class"] is None and r["score"] == 1.0 for r in rows)
    assert len(server.seen.requests) == 120 + sum(server.seen.faults.values())


def test_a_sample_that_never_succeeds_is_unscored(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(status_always=503)) as server, pytest.raises(RunFailed, match="every one of the 5"):
        run_sync(
            RunOptions(
                suite=str(_suite(tmp_path)),
                model="openai:m",
                base_url=server.base_url,
                limit=5,
                max_attempts=3,
                run_id="down",
            )
        )
    rows = Store().read_records("down").to_pylist()
    assert all(r["error_class"] == "server_error" and r["score"] is None and r["attempts"] == 3 for r in rows)
    assert len(server.seen.requests) == 15
    assert "HTTP 503" in rows[0]["error_message"]


def test_bad_key_stops_the_run_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-abcdefghijklmnop1234"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    plan = FaultPlan(status_always=401, error_body=f"Incorrect API key provided: {secret}")
    with FaultServer(plan) as server, pytest.raises(ProviderError) as err:
        run_sync(RunOptions(suite=str(_suite(tmp_path)), model="openai:m", base_url=server.base_url, limit=3))
    assert "refused the API key" in str(err.value)
    assert secret not in str(err.value)
    assert server.seen.requests[0]["headers"]["Authorization"] == f"Bearer {secret}"
    run_id = Store().list_runs()[0].run_id
    manifest = Store().manifest(run_id).as_dict()
    assert manifest["status"] == "failed"
    assert secret not in json.dumps(manifest)


def test_completion_mode_uses_the_completions_endpoint(tmp_path: Path) -> None:
    with FaultServer() as server:
        result = run_sync(
            RunOptions(
                suite=str(_suite(tmp_path)),
                model="openai:m",
                base_url=server.base_url,
                limit=2,
                mode="completion",
            )
        )
    assert {r["path"] for r in server.seen.requests} == {"/v1/completions"}
    body = server.seen.requests[0]["body"]
    assert body["prompt"].startswith("Q: What is")
    assert body["seed"] == 0
    assert body["max_tokens"] == 256
    assert Store().manifest(result.run_id).mode == "completion"


def test_missing_key_for_the_public_api_is_a_clear_error() -> None:
    from tailgate.providers import ProviderOptions, create_provider

    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        create_provider("openai:gpt-4o-mini", ProviderOptions())


def test_retry_after_parsing() -> None:
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({}) is None


def _withheld_run(tmp_path: Path, server: FaultServer, **extra: object):  # type: ignore[no-untyped-def]
    return run_sync(RunOptions(suite=str(_suite(tmp_path, **extra)), model="openai:m", base_url=server.base_url))


def test_filtered_and_refused_outputs_are_their_own_outcome_not_a_wrong_answer(tmp_path: Path) -> None:
    """Issue 10, item 3: a 200 with content null and finish_reason content_filter was stored as an
    empty success and scored 0 (moving a headline from 0.787 to 0.637)."""
    plan = FaultPlan(share=0.3, kinds=("content_filter", "refusal"), seed=3)
    with FaultServer(plan) as server:
        result = _withheld_run(tmp_path, server)
    rows = Store().read_records(result.run_id).to_pylist()
    withheld = [r for r in rows if r["error_class"] in ("content_filter", "refusal")]
    assert {r["error_class"] for r in withheld} == {"content_filter", "refusal"}
    assert len(withheld) == sum(server.seen.faults.values()) > 0
    # not retried, no output, not scored: the headline is the score of the answers given
    assert all(r["attempts"] == 1 and r["output"] is None and r["score"] is None for r in withheld)
    assert all(r["score"] == 1.0 for r in rows if r["error_class"] is None)
    assert any("can't help" in r["error_message"] for r in withheld if r["error_class"] == "refusal")
    assert not Store().cache().get_many(r["cache_key"] for r in withheld)  # never cached

    from tailgate.analysis import summarize_records

    summary = summarize_records(Store().read_records(result.run_id))
    assert summary.score.value == 1.0
    assert summary.withheld_by_class == dict(sorted(server.seen.faults.items()))
    assert summary.n_errors == 0
    assert summary.errors_by_class == {}
    n_filtered, n_refused = server.seen.faults["content_filter"], server.seen.faults["refusal"]
    counted = f"{n_filtered} filtered by the endpoint, {n_refused} refused by the model"
    for command in ("show", "report"):
        proc = tailgate(command, result.run_id)
        assert proc.returncode == 0, proc.stderr
        assert counted in proc.stdout


def test_run_filtered_fail_scores_withheld_outputs_zero(tmp_path: Path) -> None:
    plan = FaultPlan(share=0.3, kinds=("content_filter",), seed=3)
    with FaultServer(plan) as server:
        result = _withheld_run(tmp_path, server, run={"filtered": "fail", "timeout_s": 0.5})
    rows = Store().read_records(result.run_id).to_pylist()
    filtered = [r for r in rows if r["error_class"] == "content_filter"]
    assert filtered
    assert all(r["score"] == 0.0 and r["scorer"] == "numeric" for r in filtered)
    assert all(json.loads(r["scores"])["numeric"]["value"] == 0.0 for r in filtered)


@pytest.mark.parametrize(
    ("body", "status", "error_class"),
    [
        ({"choices": [{"message": {"content": None}, "finish_reason": "content_filter"}]}, 200, "content_filter"),
        ({"choices": [{"message": {"content": "Part"}, "finish_reason": "content_filter"}]}, 200, "content_filter"),
        ({"choices": [{"message": {"content": None, "refusal": "No."}, "finish_reason": "stop"}]}, 200, "refusal"),
        ({"choices": [{"text": "", "finish_reason": "content_filter"}]}, 200, "content_filter"),
        ({"error": {"code": "content_filter", "message": "The prompt was filtered"}}, 400, "content_filter"),
    ],
)
def test_withheld_responses_are_parsed_as_their_own_fault(
    body: dict[str, object], status: int, error_class: str
) -> None:
    from tailgate.providers import Fault
    from tailgate.providers._openai import _parse, _raise_for_status

    raw = json.dumps(body).encode()
    chat = "message" in json.dumps(body)

    def call() -> object:
        if status == 200:
            return _parse(raw, chat=chat, status=status)
        _raise_for_status(status, {}, raw, "http://x/v1/chat/completions")
        return None

    with pytest.raises(Fault) as err:
        call()
    assert err.value.error_class == error_class
    assert not err.value.retryable


@pytest.mark.parametrize(
    "url",
    ["not a url", "localhost:8000", "http://", "ftp://host/v1", "http://a:99999999/v1", "http://[::1", "http://a b/v1"],
)
def test_a_base_url_that_is_not_a_url_is_a_usage_error(url: str) -> None:
    """It was accepted, and every call failed (or the run crashed) instead."""
    from tailgate.errors import UsageError
    from tailgate.providers import ProviderOptions, create_provider

    with pytest.raises(UsageError, match="base URL"):
        create_provider("openai:m", ProviderOptions(base_url=url))
