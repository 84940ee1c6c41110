"""Comparison views escape model outputs (hostile input) in HTML, Markdown and JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tailgate.analysis import compare_runs
from tailgate.gate import decide
from tailgate.gate._policy import Policy
from tailgate.report import compare_html, compare_markdown, gate_junit, gate_markdown
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.models import HOSTILE
from tests.support.suites import DEFAULT_ITEMS, make_suite


def _runs(tmp_path: Path) -> tuple[Store, str, str]:
    store = Store(tmp_path / "store")
    items = [dict(item) for item in DEFAULT_ITEMS]
    items[0]["question"] = "What is 2+2? | **x**"  # a pipe in the input: Markdown tables must survive it
    suite = make_suite(tmp_path / "suite", items, repeats=2)
    ids = [
        run_sync(
            RunOptions(suite=str(suite), model=f"python:tests.support.models:{m}", store=str(store.root), cache=False)
        ).run_id
        for m in ("oracle", "hostile")
    ]
    return store, ids[0], ids[1]


def test_hostile_outputs_are_escaped_everywhere(tmp_path: Path) -> None:
    store, base, cand = _runs(tmp_path)
    comparison = compare_runs(store, base, cand)
    assert comparison.newly_failing_count == 4  # the oracle got all 4 right twice; the candidate none
    assert {n.cand_output for n in comparison.newly_failing} == {HOSTILE}
    html = compare_html(comparison)
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in html
    assert "The answer is 4." in html  # the base output, side by side
    assert "<svg" in html  # the paired scatter (4 items: too few for slices)

    policy = Policy.model_validate({"name": "p<b>", "rules": [{"overall_delta": {"min_lower_bound": 0}}]})
    decision = decide(comparison, policy)
    assert not decision.passed
    md = gate_markdown(decision) + compare_markdown(comparison)
    assert "<script>" not in md
    assert "p<b>" not in md
    ET.fromstring(gate_junit(decision))  # well-formed whatever the names
    page = compare_html(comparison, decision)
    assert "p<b>" not in page


def test_markdown_tables_survive_pipes_in_inputs(tmp_path: Path) -> None:
    store, base, cand = _runs(tmp_path)
    md = compare_markdown(compare_runs(store, base, cand))
    columns = 0
    rows = 0
    for line in md.splitlines():
        cells = line.replace("\\|", "").count("|")
        if line.startswith("| item |"):
            columns = cells
        elif columns and line.startswith("| "):
            assert cells == columns, line  # an unescaped '|' from the input would add a column
            rows += 1
    assert rows == 4
    assert "2+2? \\| **x**" in md
