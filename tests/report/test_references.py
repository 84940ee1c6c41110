"""The expected answer is shown next to the outputs (issue 9, item 12): worst items, newly
failing items and the most flipping items carry the item's reference in JSON, terminal and HTML,
escaped like any other text; robustness tables say what each variant is."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from tailgate.analysis import build_report, compare_runs
from tailgate.report import compare_html, compare_markdown, render_compare, render_html, render_report
from tailgate.runner import RunOptions, run_sync
from tailgate.store import ImportSpec, Store, import_records
from tests.support.suites import make_suite

REF = "<b>Lima</b> & Cusco"
ITEMS = [
    {"id": "peru", "question": "Capital of Peru?", "answer": REF, "task": "geo"},
    {"id": "sum", "question": "What is 2+2?", "answer": 4, "task": "math"},
    {"id": "list", "question": "Capital of France?", "answer": ["Paris", "paris"], "task": "geo"},
]


def _terminal(renderable: object, width: int = 100) -> str:
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False).print(renderable)
    return out.getvalue()


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ('"Paris"', "Paris"),  # a string as itself, not as JSON with quotes
        ("4", "4"),
        ('["Paris","paris"]', '["Paris", "paris"]'),
        ('{"a":1}', '{"a": 1}'),
        ('"Français"', "Français"),
        (None, None),
        ("null", None),
    ],
)
def test_reference_text_is_what_a_person_reads(stored: str | None, shown: str | None) -> None:
    from tailgate.analysis._data import reference_text

    assert reference_text(stored) == shown


def test_reference_text_is_cut_to_its_width() -> None:
    from tailgate.analysis._data import reference_text

    assert reference_text(json.dumps("x" * 300), width=10) == "x" * 9 + "…"


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Store, str, str]:
    suite = make_suite(tmp_path / "s", ITEMS, scorers=[{"type": "exact"}], repeats=2)
    store = Store(tmp_path / "store")

    def run(model: str) -> str:
        return run_sync(RunOptions(suite=str(suite), model=model, store=str(store.root), cache=False)).run_id

    return store, run(f"fake:constant={REF}"), run("fake:constant=no idea")


def test_worst_items_show_the_reference_in_json_terminal_and_html(runs: tuple[Store, str, str]) -> None:
    store, _, bad = runs
    report = build_report(store, bad)
    by_id = {w["source_id"]: w for w in report.as_dict()["worst_items"]}
    assert by_id["peru"]["reference"] == REF
    assert by_id["sum"]["reference"] == "4"
    assert by_id["list"]["reference"] == '["Paris", "paris"]'
    text = _terminal(render_report(report), width=120)
    assert "reference" in text
    assert "<b>Lima</b>" in text  # shown literally: model and dataset text is never markup
    html = render_html(report)
    assert "&lt;b&gt;Lima&lt;/b&gt; &amp; Cusco" in html
    assert "<b>Lima</b>" not in html


def test_newly_failing_items_show_the_reference(runs: tuple[Store, str, str]) -> None:
    store, good, bad = runs
    comparison = compare_runs(store, good, bad)
    newly = {n["source_id"]: n for n in comparison.as_dict()["newly_failing"]}
    assert newly["peru"]["reference"] == REF
    assert newly["peru"]["cand_output"] == "no idea"
    text = _terminal(render_compare(comparison), width=120)
    assert "reference" in text
    assert "<b>Lima</b>" in text
    html = compare_html(comparison)
    assert "&lt;b&gt;Lima&lt;/b&gt; &amp; Cusco" in html
    assert "<b>Lima</b>" not in html
    md = compare_markdown(comparison)
    assert "| reference |" in md
    assert "&lt;b&gt;Lima&lt;/b&gt;" in md


def test_an_imported_run_has_no_reference_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("item,ok,out\na,0,x\nb,1,y\n", encoding="utf-8")
    store = Store(tmp_path / "store")
    import_records(store, ImportSpec(file=str(path), item="item", score="ok", output="out", run_id="imp"))
    worst = build_report(store, "imp").as_dict()["worst_items"]
    assert [w["reference"] for w in worst] == [None, None]
    assert "reference" in _terminal(render_report(build_report(store, "imp")))


def _documented(doc: str, key: str) -> set[str]:
    text = (Path(__file__).resolve().parents[2] / "docs" / doc).read_text(encoding="utf-8")
    start = text.index(f"{key}: [{{") if f"{key}: [{{" in text else text.index(f'"{key}": [{{')
    body = text[text.index("{", start) + 1 : text.index("}", start)]
    return {field.strip() for field in body.replace("\n", " ").split(",")}


def test_the_documented_fields_are_the_fields(runs: tuple[Store, str, str]) -> None:
    store, good, bad = runs
    assert set(build_report(store, bad).as_dict()["worst_items"][0]) == _documented("report.md", "worst_items")
    newly = compare_runs(store, good, bad).as_dict()["newly_failing"][0]
    assert set(newly) == _documented("compare.md", "newly_failing")
