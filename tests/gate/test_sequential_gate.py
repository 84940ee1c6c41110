"""tailgate gate --sequential on stored runs: the library call, the CLI's output, JSON and exit codes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

import tailgate
from tailgate.analysis import SequentialOptions, sequential_decision
from tailgate.analysis._compare_pairing import pair_units
from tailgate.analysis._compare_results import CompareOptions
from tailgate.analysis._data import load_run
from tailgate.errors import UsageError
from tailgate.gate import Policy, sequential_policy
from tailgate.store import Store
from tests.support.cli import tailgate as run_cli


def test_the_library_call_decides_on_the_paired_item_means(seed_runs: tuple[Store, dict[str, str]]) -> None:
    store, ids = seed_runs
    base, cand = ids["random_failures"], ids["systematic_failures"]
    result = tailgate.gate_sequential(base, cand, store=store, margin=0.2, seed=3)
    b, c = load_run(store, base), load_run(store, cand)
    paired, _, _ = pair_units(b, c, CompareOptions())
    b.close()
    c.close()
    want = sequential_decision(paired.mean_b, paired.mean_c, SequentialOptions(margin=0.2, seed=3))
    assert replace(result, slices=()) == want
    # the slices compare tests, with their e-values at the stopping time (the seed suite has some)
    assert result.slices
    assert all(s.e_value >= 0 and s.n_items <= result.n_items for s in result.slices)
    assert result.n_available == paired.item_ids.size
    assert 1 <= result.n_items <= result.n_available


def test_identical_runs_are_equivalent_and_pass(tmp_path: Path, seed_runs: tuple[Store, dict[str, str]]) -> None:
    store, ids = seed_runs
    run = ids["random_failures"]
    proc = run_cli("--store", str(store.root), "gate", run, run, "--sequential", "--margin", "0.3", "--json", "s.json")
    assert proc.returncode == 0, proc.stderr
    assert "EQUIVALENT" in proc.stdout
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["decision"] == "equivalent"
    assert -0.3 < data["low"] <= 0 <= data["high"] < 0.3
    assert len(data["path"]) == data["n_items"]


def test_an_undecided_gate_exits_3(seed_runs: tuple[Store, dict[str, str]]) -> None:
    store, ids = seed_runs
    base, cand = ids["random_failures"], ids["systematic_failures"]
    proc = run_cli("--store", str(store.root), "gate", base, cand, "--sequential", "--margin", "0.001", "--json", "-")
    data = json.loads(proc.stdout)
    assert data["decision"] == "inconclusive"
    assert proc.returncode == 3


def test_sequential_usage_errors_exit_2(seed_runs: tuple[Store, dict[str, str]]) -> None:
    store, ids = seed_runs
    root, run = str(store.root), ids["random_failures"]
    assert run_cli("--store", root, "gate", run, "--sequential").returncode == 2
    assert run_cli("--store", root, "gate", run, run, "--sequential", "--markdown", "x.md").returncode == 2
    assert run_cli("--store", root, "gate", run, run, "--sequential", "--bootstrap", "500").returncode == 2
    proc = run_cli("--store", root, "gate", run, run)
    assert proc.returncode == 2
    assert "--policy" in proc.stderr


# -- a policy read as a sequential rule (tailgate run --until-decided) ----------------------------


def _policy(*rules: str, confidence: float = 0.95) -> Policy:
    return Policy.model_validate(
        {"confidence": confidence, "rules": [yaml.safe_load(r) for r in rules]},
    )


@pytest.mark.parametrize(
    ("rule", "margin", "want"),
    [
        # non-inferiority at L < 0: worse below L, equivalent within |L|, better above 0
        ("overall_delta: {min_lower_bound: -0.05}", None, (0.05, 0.0, 0.05)),
        ("overall_delta: {min_lower_bound: -0.05}", 0.01, (0.01, 0.0, 0.05)),
        # L >= 0: better above L, worse below 0, equivalent within the margin (0.02 by default)
        ("overall_delta: {}", None, (0.02, 0.0, 0.0)),
        ("overall_delta: {min_lower_bound: 0.03}", 0.1, (0.1, 0.03, 0.0)),
    ],
)
def test_overall_delta_reads_as_the_three_way_decision(
    rule: str, margin: float | None, want: tuple[float, float, float]
) -> None:
    seq = sequential_policy(_policy(rule, confidence=0.9), seed=4, margin=margin)
    o = seq.options
    assert (o.margin, o.min_improvement, o.max_drop) == want
    assert o.alpha == pytest.approx(0.1)
    assert o.seed == 4
    assert seq.slice_min_items is None


def test_no_slice_regression_reads_as_the_e_bh_slices() -> None:
    seq = sequential_policy(_policy("overall_delta: {min_lower_bound: -0.02}", "no_slice_regression: {min_items: 25}"))
    assert seq.slice_min_items == 25


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (["no_slice_regression: {}"], "exactly one overall_delta"),
        (["overall_delta: {}", "overall_delta: {min_lower_bound: -0.1}"], "exactly one overall_delta"),
        (["overall_delta: {}", "latency: {percentile: 95, max_ms: 100}"], "latency with no sequential reading"),
        (["overall_delta: {}", "no_slice_regression: {margin: 0.05}"], "margin 0.05"),
        (["overall_delta: {}", "no_slice_regression: {alpha: 0.1}"], "alpha 0.1"),
    ],
)
def test_a_policy_with_no_sequential_reading_is_refused(rules: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        sequential_policy(_policy(*rules))
