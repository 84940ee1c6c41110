"""``tailgate run --until-decided POLICY --baseline RUN``: the candidate's items in a seeded random
order, in batches, the sequential gate looked at after each, stopped when it decides; resumable
without repeating a call; bad input is exit 2."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tailgate
from tailgate.analysis import SequentialOptions, ordered_decision, sequential_order
from tailgate.errors import Interrupted, RunMismatch, UsageError
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support import sequential_models
from tests.support.cli import tailgate as run_cli
from tests.support.suites import make_suite

N = 200
ITEMS = [
    {"id": f"q{i}", "question": f"What is {i} plus {i + 3}?", "answer": 2 * i + 3, "task": ["even", "odd"][i % 2]}
    for i in range(N)
]
MODEL = "python:tests.support.sequential_models:"
REPEATS = 2


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    return make_suite(tmp_path / "suite", ITEMS, scorers=[{"type": "numeric"}], repeats=REPEATS)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text("name: seq\nrules:\n  - overall_delta: {min_lower_bound: -0.1}\n", encoding="utf-8")
    return path


def _baseline(suite: Path, model: str = "strong", run_id: str = "base") -> str:
    return run_sync(RunOptions(suite=str(suite), model=MODEL + model, run_id=run_id, cache=False)).run_id


def _until(suite: Path, policy: Path, model: str, run_id: str = "cand", **kw: object) -> tailgate.UntilDecided:
    options = RunOptions(suite=str(suite), model=MODEL + model, run_id=run_id, cache=False)
    return tailgate.run_until_decided(options, policy, "base", **kw)  # type: ignore[arg-type]


def _truth(store: Store, run_id: str) -> dict[str, float]:
    """Each item's mean score in a run, from its records (independent of the analysis code)."""
    cols = store.read_columns(run_id, ["item_id", "score"])
    sums: dict[str, list[float]] = {}
    for item, score in zip(cols["item_id"], cols["score"], strict=True):
        sums.setdefault(item, []).append(float(score))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def test_a_clear_regression_stops_early_with_fewer_calls(suite: Path, policy: Path) -> None:
    _baseline(suite)
    sequential_models.CALLS.clear()
    looks: list[tailgate.DecisionLook] = []
    done = _until(suite, policy, "weak", batch=20, seed=7, on_look=looks.append)
    assert done.decision.decision == "worse"
    assert done.exit_code == 1
    assert done.stopped_early
    assert done.n_order == N
    assert done.samples_order == N * REPEATS
    # it stopped at the first look after the decision, having run whole batches only
    assert done.last.n_done % 20 == 0
    assert done.last.n_done < N
    assert len(sequential_models.CALLS) == done.last.n_done * REPEATS == done.run.issued < N * REPEATS
    assert [look.n_done for look in looks] == list(range(20, done.last.n_done + 1, 20))
    assert all(look.decision.decision == "inconclusive" for look in looks[:-1])
    # the items run are the first of the seeded order, and the decision is the CS on their
    # differences (recomputed here from the stored scores, in that order)
    store = Store()
    order = sequential_order(_truth(store, "base"), 7)
    cand = _truth(store, "cand")
    assert set(cand) == set(order[: done.last.n_done])
    base = _truth(store, "base")
    d = np.array([cand[i] - base[i] for i in order[: done.last.n_done]])
    options = SequentialOptions(margin=0.1, max_drop=0.1, seed=7)
    assert ordered_decision(d, N, options) == done.decision
    # the manifest says it stopped early, and why
    m = store.manifest("cand")
    assert m.status == "stopped_early"
    assert m.until_decided is not None
    assert m.until_decided["stopped_early"] is True
    assert m.until_decided["look"]["decision"] == "worse"
    assert m.until_decided["n_done"] == done.last.n_done
    assert m.until_decided["baseline"] == "base"


def test_the_decision_is_the_replay_of_gate_sequential_in_the_same_order(suite: Path, tmp_path: Path) -> None:
    """Run to the end afterwards, the two runs replayed by ``tailgate gate --sequential`` with the
    same seed take the items in the same order (the sorted ids shuffled by the seed): the replay
    stops where the run did, with the same confidence sequence."""
    _baseline(suite)
    policy = tmp_path / "superiority.yaml"  # (L = 0: the rules gate --sequential --margin 0.1 applies)
    rules = "  - overall_delta: {min_lower_bound: 0}\n  - no_slice_regression: {min_items: 10}\n"
    policy.write_text(f"rules:\n{rules}", encoding="utf-8")
    done = _until(suite, policy, "weak", batch=20, seed=11, margin=0.1)
    assert done.stopped_early
    run_sync(RunOptions(suite=str(suite), model=MODEL + "weak", run_id="cand", cache=False))  # the rest
    assert Store().manifest("cand").status == "completed"
    replay = tailgate.gate_sequential("base", "cand", margin=0.1, seed=11)
    assert replay == done.decision
    assert replay.slices  # (the slices e-BH judged at the stop are the same too)


def test_report_and_compare_on_a_stopped_run_say_so(suite: Path, policy: Path, tmp_path: Path) -> None:
    _baseline(suite)
    _until(suite, policy, "weak")
    report = run_cli("report", "cand")
    assert report.returncode == 0, report.stderr
    assert "stopped_early" in report.stdout
    assert "stopped early by tailgate run --until-decided" in report.stdout
    data = tailgate.report_run("cand").as_dict()
    assert "'worse'" in data["run"]["stopped_early"]
    comparison = tailgate.compare_runs("base", "cand")
    assert comparison.pairing.only_in_base == N - comparison.pairing.shared_items > 0
    assert any("stopped early" in w for w in comparison.warnings)
    proc = run_cli("compare", "base", "cand")
    assert proc.returncode == 0, proc.stderr
    # an ordinary run's report does not mention it
    assert "stopped_early" not in tailgate.report_run("base").as_dict()["run"]


@pytest.mark.parametrize(
    ("model", "allowed"), [("strong", {"equivalent"}), ("other_twin", {"inconclusive", "equivalent"})]
)
def test_the_same_model_is_never_better_or_worse(
    suite: Path, policy: Path, model: str, allowed: set[str], tmp_path: Path
) -> None:
    """The same function (every difference 0) is shown equivalent; an independent model of the
    same accuracy (70% each, different items) is not shown better or worse."""
    _baseline(suite, "strong" if model == "strong" else "twin")
    done = _until(suite, policy, model, batch=25)
    assert done.decision.decision in allowed
    assert done.exit_code in (0, 3)
    if done.decision.decision == "inconclusive":
        assert done.last.n_done == N
        assert not done.stopped_early
        assert Store().manifest("cand").status == "completed"


class Crash(Exception):
    pass


def test_an_interrupted_run_resumes_in_the_same_order_without_repeating_a_call(suite: Path, policy: Path) -> None:
    _baseline(suite)
    # the uninterrupted run, for reference
    sequential_models.CALLS.clear()
    whole = _until(suite, policy, "weak", run_id="whole", batch=20, seed=3)
    expected = list(sequential_models.CALLS)
    assert whole.last.n_done >= 40  # (so that a crash after the first batch leaves work to resume)

    sequential_models.CALLS.clear()

    def crash_after_first(look: tailgate.DecisionLook) -> None:
        if look.n_done == 20:
            raise Crash("killed after a batch")

    with pytest.raises(Crash):
        _until(suite, policy, "weak", batch=20, seed=3, on_look=crash_after_first)
    first = list(sequential_models.CALLS)
    assert len(first) == 20 * REPEATS
    resumed = _until(suite, policy, "weak", batch=20, seed=3)
    calls = list(sequential_models.CALLS)
    assert max(Counter(calls).values()) == 1, "a call was repeated"
    assert sorted(calls) == sorted(expected)
    assert resumed.decision == whole.decision
    assert resumed.run.resumed
    assert resumed.run.issued == len(calls) - len(first)
    # a third run with the same arguments finds the decision made and issues nothing
    sequential_models.CALLS.clear()
    again = _until(suite, policy, "weak", batch=20, seed=3)
    assert sequential_models.CALLS == []
    assert again.decision == whole.decision
    assert len(again.looks) == 1
    assert again.run.issued == 0


def test_ctrl_c_inside_a_batch_then_resume_issues_only_what_is_missing(
    suite: Path, policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real interrupt in the middle of the second batch: the samples recorded are never asked
    again (only those in flight at the interrupt are), and the resumed run decides as an
    uninterrupted one does, looking at the same batch boundaries."""
    _baseline(suite)
    sequential_models.CALLS.clear()
    whole = _until(suite, policy, "weak", run_id="whole", batch=20, seed=3)
    sequential_models.CALLS.clear()
    monkeypatch.setenv("TAILGATE_TEST_SIGINT_AT", "50")  # inside the second batch (40 calls each)
    with pytest.raises(Interrupted):
        _until(suite, policy, "weak_then_ctrl_c", batch=20, seed=3)
    store = Store()
    assert store.manifest("cand").status == "interrupted"
    recorded = _asked(store, "cand")
    assert 40 <= len(recorded) < 80
    first = len(sequential_models.CALLS)
    monkeypatch.delenv("TAILGATE_TEST_SIGINT_AT")
    looks: list[tailgate.DecisionLook] = []
    resumed = _until(suite, policy, "weak_then_ctrl_c", batch=20, seed=3, on_look=looks.append)
    again = sequential_models.CALLS[first:]
    assert not set(again) & recorded, "a recorded sample was asked again"
    assert len(again) == len(set(again)) == resumed.run.issued
    assert looks[0].n_done == 20  # the batch boundary before the interrupt
    assert (resumed.decision.decision, resumed.decision.n_items) == (whole.decision.decision, whole.decision.n_items)
    assert resumed.last.n_done == whole.last.n_done


def _asked(store: Store, run_id: str) -> set[tuple[str, int]]:
    """(question, seed) of every sample a run has a record of."""
    cols = store.read_columns(run_id, ["prompt", "params"])
    return {
        (json.loads(p)[-1]["content"], int(json.loads(q)["seed"]))
        for p, q in zip(cols["prompt"], cols["params"], strict=True)
    }


def test_a_resume_must_keep_the_order_and_the_rules(suite: Path, policy: Path, tmp_path: Path) -> None:
    _baseline(suite)
    _until(suite, policy, "weak", seed=1)
    with pytest.raises(RunMismatch, match="seed"):
        _until(suite, policy, "weak", seed=2)
    other = tmp_path / "other.yaml"
    other.write_text("rules:\n  - overall_delta: {min_lower_bound: -0.05}\n", encoding="utf-8")
    with pytest.raises(RunMismatch, match="rules"):
        _until(suite, other, "weak", seed=1)
    # a run made without --until-decided is not continued as one
    run_sync(RunOptions(suite=str(suite), model=MODEL + "weak", run_id="plain", cache=False, limit=None))
    with pytest.raises(RunMismatch, match="not started with --until-decided"):
        _until(suite, policy, "weak", run_id="plain")


def test_bad_input_is_a_clear_error_and_exit_2(suite: Path, policy: Path, tmp_path: Path) -> None:
    _baseline(suite)
    args = ["run", str(suite), "--model", MODEL + "weak", "--no-cache", "-q"]
    # baseline missing
    proc = run_cli(*args, "--until-decided", str(policy), "--baseline", "nope")
    assert proc.returncode == 2
    assert "nope" in proc.stderr
    # a policy with no sequential reading, and one with no overall_delta
    latency = tmp_path / "latency.yaml"
    latency.write_text("rules:\n  - overall_delta: {}\n  - latency: {percentile: 95, max_ms: 100}\n")
    proc = run_cli(*args, "--until-decided", str(latency), "--baseline", "base")
    assert proc.returncode == 2
    assert "latency" in proc.stderr
    assert "no sequential reading" in proc.stderr
    slices_only = tmp_path / "slices.yaml"
    slices_only.write_text("rules:\n  - no_slice_regression: {}\n")
    proc = run_cli(*args, "--until-decided", str(slices_only), "--baseline", "base")
    assert proc.returncode == 2
    assert "overall_delta" in proc.stderr
    # --baseline without --until-decided
    proc = run_cli(*args, "--baseline", "base")
    assert proc.returncode == 2
    assert "--until-decided" in proc.stderr
    assert not Store().exists("cand")
    assert len(Store().list_runs()) == 1


def test_a_suite_mismatch_or_an_incomplete_baseline_is_refused(suite: Path, policy: Path, tmp_path: Path) -> None:
    _baseline(suite)
    renamed = make_suite(tmp_path / "renamed", ITEMS, scorers=[{"type": "numeric"}], name="other")
    with pytest.raises(UsageError, match="suite mismatch"):
        tailgate.run_until_decided(RunOptions(suite=str(renamed), model=MODEL + "weak"), policy, "base")
    rescored = make_suite(tmp_path / "rescored", ITEMS, scorers=[{"type": "exact"}])
    with pytest.raises(UsageError, match=r"suite mismatch.*scorers"):
        tailgate.run_until_decided(RunOptions(suite=str(rescored), model=MODEL + "weak"), policy, "base")
    with pytest.raises(UsageError, match="--retry-errors"):
        tailgate.run_until_decided(RunOptions(suite=str(suite), model="x", retry_errors=True), policy, "base")
    _until(suite, policy, "weak", run_id="stopped")
    with pytest.raises(UsageError, match="stopped_early, not completed"):
        tailgate.run_until_decided(RunOptions(suite=str(suite), model=MODEL + "weak"), policy, "stopped")


def test_the_cli_prints_a_line_per_look_and_exits_as_the_gate(suite: Path, policy: Path, tmp_path: Path) -> None:
    _baseline(suite)
    args = ["run", str(suite), "--model", MODEL + "weak", "--no-cache", "--until-decided", str(policy)]
    proc = run_cli(*args, "--baseline", "base", "--batch", "25", "--seed", "5", "--run-id", "c1")
    assert proc.returncode == 1, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if "until-decided:" in x]
    assert lines
    assert lines[0].startswith("tailgate: until-decided: 25/200 items (50 samples")
    assert lines[-1].endswith("-> worse")
    assert "WORSE after" in proc.stdout
    assert "of 200 items" in proc.stdout
    assert "stopped early" in proc.stdout
    proc = run_cli(*args, "--baseline", "base", "--run-id", "c1", "--seed", "5", "--batch", "25", "--json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["decision"]["decision"] == "worse"
    assert data["stopped_early"] is True
    assert data["run"]["issued"] == 0
    assert data["n_order"] == 200
    assert data["samples_order"] == 400
    assert data["looks"][0]["n_done"] == data["n_done"] < 200
