"""Judge scorers: strict parsing, unscored on no verdict, both pairwise orders, through the runner's
cache and retries, with the judge's replies on the record."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tailgate.errors import RunFailed, TailgateError
from tailgate.registry import build
from tailgate.runner import RunOptions, run_sync
from tailgate.scorers._judge import fill, parse_checklist, parse_choice, parse_scale
from tailgate.store import Store
from tests.support import judges
from tests.support.suites import make_suite

JUDGE = "python:tests.support.judges:"
FAST_RETRY = {"retry": {"max_attempts": 3, "base_delay_s": 0.001, "max_delay_s": 0.01}}


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("yes", "yes"),
        ("Yes.", "yes"),
        ("**No**, it differs.", "no"),
        ("Verdict: yes", "yes"),
        ("The response is right.\nVerdict: no", "no"),
        ("Yes\nVerdict: no", None),  # two different verdicts: none
        ("Maybe", None),
        ("", None),
        ("Verdict: perhaps", None),
        ("yesterday", None),
    ],
)
def test_yes_no_is_parsed_strictly(reply: str, verdict: str | None) -> None:
    assert parse_choice(reply, ("yes", "no")) == verdict


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("Score: 4", 4),
        ("Good.\nScore: 5/5", 5),
        ("3", 3),
        ("Score: 9", None),
        ("Score: 2\nScore: 4", None),
        ("4 or 5", None),
    ],
)
def test_a_scale_grade_is_parsed_strictly(reply: str, value: int | None) -> None:
    assert parse_scale(reply, 1, 5) == value


def test_a_checklist_needs_every_check_once() -> None:
    assert parse_checklist("1: yes\n2: no\n3: yes", 3) == [True, False, True]
    assert parse_checklist("1: yes\n3: yes", 3) is None
    assert parse_checklist("1: yes\n1: no\n2: no", 2) is None


def test_a_slot_is_filled_once_and_an_unknown_one_named() -> None:
    assert (
        fill("{{ output }} / {{ reference }}", {"output": "{{ reference }}", "reference": "4"}) == "{{ reference }} / 4"
    )
    with pytest.raises(ValueError, match=re.escape("names {{ nope }}")):
        fill("{{ nope }}", {})


def _run(tmp_path: Path, scorers: list[dict[str, Any]], model: str = "oracle", **options: Any) -> list[dict[str, Any]]:
    suite = make_suite(tmp_path / "suite", scorers=scorers, extra={"run": FAST_RETRY})
    store = Store(options.pop("store", tmp_path / "store"))
    try:
        result = run_sync(
            RunOptions(suite=str(suite), model=f"python:tests.support.models:{model}", store=str(store.root), **options)
        )
        run_id = result.run_id
    except RunFailed as exc:  # nothing could be scored: the run fails loudly, its records are stored
        failed = exc
        run_id = str(exc.run_id)
    else:
        failed = None
    assert failed is None or "could be scored" in str(failed)
    rows: list[dict[str, Any]] = store.read_records(run_id).to_pylist()
    return sorted(rows, key=lambda r: r["sample_id"])


def _judge_score(row: dict[str, Any], label: str) -> dict[str, Any]:
    score: dict[str, Any] = json.loads(row["scores"])[label]
    return score


def test_judge_reference_scores_through_the_runner_and_keeps_its_replies(tmp_path: Path) -> None:
    rows = _run(tmp_path, [{"type": "judge_reference", "judge": JUDGE + "fair"}, {"type": "contains"}])
    assert len(rows) == 4
    for row in rows:
        judged = _judge_score(row, "judge_reference")
        # the fair judge says yes exactly when the reference occurs in the output: `contains`'s verdict
        assert judged["value"] == _judge_score(row, "contains")["value"] == 1.0
        assert row["score"] == judged["value"]
        sample = judged["details"]["samples"][0]
        assert (sample["raw"], sample["verdict"], sample["cached"]) == ("Yes.", 1.0, False)
        assert judged["details"]["judge"] == JUDGE + "fair"


def test_a_wrong_output_is_a_no(tmp_path: Path) -> None:
    rows = _run(tmp_path, [{"type": "judge_reference", "judge": JUDGE + "fair"}], model="seeded")
    values = [_judge_score(r, "judge_reference")["value"] for r in rows]
    # seeded guesses a number: never "Paris" or "Lima", so at least the two capitals are a no
    assert all(v in (0.0, 1.0) for v in values)
    assert values.count(0.0) >= 2


def test_an_unparseable_verdict_is_unscored_not_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAILGATE_TEST_JUDGE_REPLY", "It depends.")
    rows = _run(tmp_path, [{"type": "judge_reference", "judge": JUDGE + "says"}])
    for row in rows:
        judged = _judge_score(row, "judge_reference")
        assert judged["value"] is None
        assert row["score"] is None
        assert judged["error"].startswith("unparseable judge verdict: 'It depends.'")
        assert judged["details"]["samples"][0]["raw"] == "It depends."


def test_judge_repeats_use_per_repeat_seeds_and_average(tmp_path: Path) -> None:
    rows = _run(tmp_path, [{"type": "judge_reference", "judge": JUDGE + "by_seed", "repeats": 3, "seed": 10}])
    for row in rows:
        judged = _judge_score(row, "judge_reference")
        assert [s["seed"] for s in judged["details"]["samples"]] == [10, 11, 12]
        assert judged["details"]["verdicts"] == [1.0, 0.0, 1.0]
        assert judged["value"] == pytest.approx(2 / 3)


def test_pairwise_runs_both_orders_and_a_flip_is_a_tie(tmp_path: Path) -> None:
    scorer = {"type": "judge_pairwise", "judge": JUDGE + "first_position", "baseline": "question", "repeats": 2}
    for row in _run(tmp_path, [scorer]):
        judged = _judge_score(row, "judge_pairwise")
        orders = [s["order"] for s in judged["details"]["samples"]]
        assert orders == ["output_first", "output_second"] * 2
        assert judged["details"]["flips"] == 2
        assert judged["value"] == 0.5


def test_pairwise_without_flips_keeps_the_verdict(tmp_path: Path) -> None:
    # the oracle's "The answer is 4." is longer than the question "What is 2+2?" (the baseline here),
    # and so on for every item: the output wins in both orders
    scorer = {"type": "judge_pairwise", "judge": JUDGE + "longer", "baseline": "question"}
    for row in _run(tmp_path, [scorer]):
        judged = _judge_score(row, "judge_pairwise")
        assert judged["details"]["flips"] == 0
        assert [s["verdict"] for s in judged["details"]["samples"]] == [1.0, 0.0]  # A, then B
        assert judged["value"] == 1.0


def test_pairwise_without_a_baseline_is_unscored(tmp_path: Path) -> None:
    rows = _run(tmp_path, [{"type": "judge_pairwise", "judge": JUDGE + "longer"}])
    assert all("no baseline output" in _judge_score(r, "judge_pairwise")["error"] for r in rows)


def _cached_flags(rows: list[dict[str, Any]], label: str = "judge_reference") -> list[bool]:
    return [s["cached"] for r in rows for s in _judge_score(r, label)["details"]["samples"]]


def test_judge_calls_are_cached_and_the_key_names_judge_and_prompt(tmp_path: Path) -> None:
    scorer = {"type": "judge_reference", "judge": JUDGE + "fair"}
    assert not any(_cached_flags(_run(tmp_path / "1", [scorer])))
    store = str(tmp_path / "1" / "store")
    # the same run again: target answers and verdicts replayed
    again = _run(tmp_path / "1", [scorer], store=store)
    assert all(r["cached"] for r in again)
    assert all(_cached_flags(again))
    # another prompt: asked again
    prompt = {**scorer, "prompt": "Reference answer:\n{{ reference }}\n\nResponse:\n{{ output }}\n\nSame? yes or no"}
    assert not any(_cached_flags(_run(tmp_path / "1", [prompt], store=store)))
    # another judge (another function: another identity): asked again
    other = {**scorer, "judge": JUDGE + "fail_once"}
    judges.attempts.clear()
    assert not any(_cached_flags(_run(tmp_path / "1", [other], store=store)))


def test_judge_faults_are_retried_and_recorded(tmp_path: Path) -> None:
    judges.attempts.clear()
    rows = _run(tmp_path, [{"type": "judge_reference", "judge": JUDGE + "fail_once"}])
    for row in rows:
        judged = _judge_score(row, "judge_reference")
        sample = judged["details"]["samples"][0]
        assert judged["value"] == 1.0
        assert sample["attempts"] == 2
        assert sample["attempt_errors"][0]["class"] == "server_error"


def test_a_judge_that_stays_down_leaves_outputs_unscored(tmp_path: Path) -> None:
    rows = _run(tmp_path, [{"type": "judge_reference", "judge": JUDGE + "always_down"}])
    for row in rows:
        judged = _judge_score(row, "judge_reference")
        assert judged["value"] is None
        assert row["score"] is None
        assert judged["error"].startswith("judge call failed (server_error)")
        assert judged["details"]["samples"][0]["attempts"] == 3


def test_rubric_and_checklist_normalise_to_unit_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAILGATE_TEST_JUDGE_REPLY", "Clear.\nScore: 4")
    rows = _run(
        tmp_path / "r", [{"type": "judge_rubric", "judge": JUDGE + "says", "rubric": "Be right.", "scale": [0, 5]}]
    )
    assert all(_judge_score(r, "judge_rubric")["value"] == pytest.approx(0.8) for r in rows)
    monkeypatch.setenv("TAILGATE_TEST_JUDGE_REPLY", "1: yes\n2: no\n3: yes\n4: yes")
    checks = {"type": "judge_rubric", "judge": JUDGE + "says", "checklist": ["a", "b", "c", "d"]}
    rows = _run(tmp_path / "c", [checks])
    assert all(_judge_score(r, "judge_rubric")["value"] == 0.75 for r in rows)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"judge": "x:y", "rubric": "r", "checklist": ["c"]}, "either a rubric"),
        ({"judge": "x:y"}, "either a rubric"),
        ({"judge": "x:y", "rubric": "r", "scale": [5, 1]}, "lowest grade"),
    ],
)
def test_rubric_params_are_checked(params: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        build("scorers", "judge_rubric", params)


def test_rescore_judges_a_stored_run_without_calling_the_target(tmp_path: Path) -> None:
    import tailgate
    from tests.support.cli import tailgate as cli
    from tests.support.entry_points import checkout_env

    suite = make_suite(tmp_path / "suite", extra={"run": FAST_RETRY})
    store = Store(tmp_path / "store")
    source = run_sync(
        RunOptions(suite=str(suite), model="python:tests.support.models:oracle", store=str(store.root))
    ).run_id
    judge = {"type": "judge_reference", "judge": JUDGE + "fair"}
    result = tailgate.judge_run(source, judges=[judge], store=store)
    assert result.run_id == f"{source}.judged"
    assert (result.done, result.issued, result.stats.cached) == (4, 4, 4)  # 4 judge calls, 4 outputs replayed
    rows = store.read_records(result.run_id).to_pylist()
    assert all(r["cached"] and r["scorer"] == "judge_reference" and r["score"] == 1.0 for r in rows)
    # the suite's own scorer stays on every record, after the judge: the truth the card compares with
    assert sorted(len(json.loads(r["scores"])) for r in rows) == [2, 2, 2, 2]
    manifest = store.manifest(result.run_id)
    assert manifest.extra["judged_from"] == source
    assert manifest.suite.config is not None
    assert manifest.suite.config["scorers"][0]["type"] == "judge_reference"
    # judged again under the same id: nothing left to judge; under another id: every verdict cached
    assert tailgate.judge_run(source, judges=[judge], store=store).issued == 0
    again = tailgate.judge_run(source, judges=[judge], run_id="again", store=store)
    assert again.issued == 0
    assert all(_cached_flags(store.read_records("again").to_pylist()))
    # the command line
    entry = "{type: judge_reference, judge: " + JUDGE + "fair}"
    args = ("rescore", source, "--judge", entry, "--run-id", "cli", "--store", str(store.root))
    out = cli(*args, env=checkout_env(tmp_path / "ep"))
    assert out.returncode == 0, out.stderr
    assert "judged run cli: 4 samples, 0 judge calls" in out.stdout


def test_rescore_refuses_a_judge_list_without_a_judge(tmp_path: Path) -> None:
    import tailgate

    suite = make_suite(tmp_path / "suite")
    store = Store(tmp_path / "store")
    source = run_sync(
        RunOptions(suite=str(suite), model="python:tests.support.models:oracle", store=str(store.root))
    ).run_id
    with pytest.raises(TailgateError, match="at least one judge"):
        tailgate.judge_run(source, judges=[{"type": "exact", "name": "x"}], store=store)


def test_a_judge_that_cannot_be_made_stops_the_run_before_any_call(tmp_path: Path) -> None:
    """An unknown judge (here a ``python:`` module that does not exist) is an error naming it
    before the target is called, not a run whose every output is unscored."""
    from tailgate.errors import TailgateError

    suite = make_suite(tmp_path / "suite", scorers=[{"type": "judge_reference", "judge": "python:no_such_module:f"}])
    with pytest.raises(TailgateError, match="no_such_module"):
        run_sync(
            RunOptions(suite=str(suite), model="python:tests.support.models:oracle", store=str(tmp_path / "store"))
        )
    records = Store(tmp_path / "store")
    run = records.list_runs()
    assert len(run) == 1
    assert records.read_records(run[0].run_id).num_rows == 0  # not one sample was issued
