"""The example suites validate and run end to end (with the deterministic fake provider)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailgate.config import load_suite
from tailgate.dataset import load_dataset
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("suite", ["basic", str(REPO / "examples" / "bigbench" / "suite.yaml")])
def test_example_suite_runs(suite: str) -> None:
    loaded = load_suite(suite)
    items = load_dataset(loaded).items
    assert len(items) > 300
    result = run_sync(RunOptions(suite=suite, model="fake:constant=A", limit=40, repeats=2))
    assert result.status == "completed"
    assert result.done == 40 * 2 * len(loaded.config.templates)
    rows = Store().read_records(result.run_id).to_pylist()
    assert all(r["score"] is not None for r in rows)


def test_basic_suite_is_stratified_and_answers_are_consistent() -> None:
    rows = [json.loads(x) for x in (REPO / "src/tailgate/suites/basic/items.jsonl").read_text().splitlines()]
    assert len(rows) == 336
    first = rows[:24]  # one item of every task x language cell
    assert len({(r["task"], r["lang"]) for r in first}) == 24
    for r in rows:
        if r["answer_type"] == "choice":
            assert f"\n{r['answer']}) " in r["question"]
        if r["answer_type"] == "object":
            assert all(str(v) in r["question"] for v in r["answer"].values())


def test_bigbench_letters_point_at_options() -> None:
    rows = [json.loads(x) for x in (REPO / "examples/bigbench/items.jsonl").read_text().splitlines()]
    letters = "ABCDEFGHIJ"
    for r in rows:
        assert r["answer"] in letters[: r["n_options"]]
        assert f"\n{r['answer']}) " in r["question"]
