"""Semantic answer classes (the 'semantic' extra, with the bundled all-MiniLM-L6-v2 model)."""

from __future__ import annotations

from pathlib import Path

from tailgate.analysis import build_report, report_options
from tailgate.analysis._semantic import Embedder, group_by_meaning
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.suites import make_suite


def test_paraphrases_group_and_distinct_answers_do_not() -> None:
    texts = [
        "The capital of France is Paris.",
        "Paris is the capital of France.",
        "It is Lyon.",
        "42",
        "43",
        "The capital of France is Paris.",
        "Yes, the Sun is a star.",
        "No, the Sun is not a star.",
    ]
    assert group_by_meaning(texts, Embedder()) == [0, 0, 1, 2, 3, 0, 4, 5]


def test_semantic_consistency_in_the_report(tmp_path: Path) -> None:
    items = [
        {"id": f"i{i}", "question": f"Where is the city number {i}?", "answer": "x", "task": "t"} for i in range(4)
    ]
    suite = make_suite(tmp_path / "s", items, scorers=[{"type": "exact"}], repeats=3)
    result = run_sync(RunOptions(suite=str(suite), model="python:tests.support.models:paraphrase"))
    exact = build_report(Store(), result.run_id).as_dict()["consistency"]
    semantic = build_report(Store(), result.run_id, report_options(Store(), result.run_id, semantic=True))
    meaning = semantic.as_dict()["consistency"]
    assert exact["mean"]["value"] < 0.5  # three wordings, three "answers"
    assert meaning["mean"]["value"] == 1.0  # one meaning
    assert "all-MiniLM-L6-v2" in meaning["method"]
