"""tailgate gate --sequential on stored runs: the library call, the CLI's output, JSON and exit codes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import tailgate
from tailgate.analysis import SequentialOptions, sequential_decision
from tailgate.analysis._compare_pairing import pair_units
from tailgate.analysis._compare_results import CompareOptions
from tailgate.analysis._data import load_run
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
