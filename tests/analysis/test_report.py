"""``build_report`` on non-binary runs, its determinism, and the reasons it gives for missing sections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tailgate.analysis import build_report
from tailgate.store import Store
from tests.support.cli import REPO, tailgate
from tests.support.suites import make_suite

ENV = {"PYTHONPATH": f"{REPO / 'src'}:{REPO}"}  # the CLI from these sources


def closeness(answer: str, reference: Any, item_input: Any) -> float:
    """A continuous score: 1 - |answer - reference| / 10, at least 0."""
    try:
        return max(0.0, 1.0 - abs(float(answer) - float(reference)) / 10)
    except ValueError:
        return 0.0


def _ok(*args: str, cwd: Path) -> str:
    proc = tailgate(*args, env={**ENV, "TAILGATE_STORE": str(cwd / "store")}, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_non_binary_imported_runs_report_compare_and_gate(tmp_path: Path) -> None:
    """Scores 0.5, 0.25, 1, 0 made every report crash: a fetchone() left a DuckDB result open."""
    (tmp_path / "a.csv").write_text("id,s\na,0.5\nb,0.25\nc,1\nd,0\n")
    (tmp_path / "b.csv").write_text("id,s\na,0.75\nb,0.25\nc,0.5\nd,0\n")
    _ok("import", "records", "a.csv", "--item", "id", "--score", "s", "--run-id", "a", cwd=tmp_path)
    _ok("import", "records", "b.csv", "--item", "id", "--score", "s", "--run-id", "b", cwd=tmp_path)
    assert "worst items" in _ok("report", "a", cwd=tmp_path)
    data = json.loads(_ok("report", "a", "--json", cwd=tmp_path))
    assert data["overview"]["binary_scores"] is False
    assert data["overview"]["score"]["value"] == pytest.approx(0.4375)
    _ok("report", "a", "--html", str(tmp_path / "a.html"), cwd=tmp_path)
    assert "<html" in (tmp_path / "a.html").read_text()
    assert "a" in _ok("compare", "a", "b", cwd=tmp_path)
    (tmp_path / "policy.yaml").write_text("name: t\nrules:\n  - overall_delta: {min_lower_bound: -1}\n")
    proc = tailgate("gate", "a", "b", "--policy", "policy.yaml", env={**ENV, "TAILGATE_STORE": "store"}, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]


@pytest.fixture(scope="module")
def variant_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A suite-made run with a continuous scorer, two templates and three repeats (answers tie
    within items: seeded answers take few values)."""
    folder = tmp_path_factory.mktemp("variants")
    items = [{"id": f"i{k}", "question": f"What is {k}+{k % 3}?", "answer": k + k % 3} for k in range(24)]
    suite = make_suite(
        folder / "s",
        items,
        repeats=3,
        templates=[
            {"name": "plain", "messages": [{"role": "user", "content": "{{ question }}"}]},
            {"name": "terse", "messages": [{"role": "user", "content": "Answer only. {{ question }}"}]},
        ],
        scorers=[{"type": "python", "function": "tests.analysis.test_report:closeness"}],
        extra={"dataset": {"path": "items.jsonl", "id": "id", "reference": "answer", "attributes": []}},
    )
    _ok("run", str(suite), "--model", "python:tests.support.models:seeded", "--run-id", "v", "-q", cwd=folder)
    return folder, "v"


def _report_bytes(folder: Path, run_id: str) -> bytes:
    report = build_report(Store(folder / "store"), run_id).as_dict()
    return json.dumps(report, sort_keys=True).encode()


def test_suite_run_with_a_continuous_scorer_reports(variant_run: tuple[Path, str]) -> None:
    folder, run_id = variant_run
    data = json.loads(_report_bytes(folder, run_id))
    assert data["overview"]["binary_scores"] is False
    assert data["consistency"]["n_units"] == 48
    assert data["robustness"]["n_items"] == 24
    assert "permutation" in data["discovery"].get("method", "permutation")


def test_same_run_same_bytes(variant_run: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """mode() and arg_min() pick any of tied answers: one stored run gave answer flip rates of
    0.567, 0.633 and 0.667. Fresh connections, one thread or four: the same bytes."""
    import duckdb

    folder, run_id = variant_run
    first = _report_bytes(folder, run_id)
    connect = duckdb.connect
    for threads in (1, 4, 4):
        monkeypatch.setattr(duckdb, "connect", lambda *a, t=threads, **k: connect(config={"threads": t}))
        assert _report_bytes(folder, run_id) == first


def test_ties_break_by_answer_not_by_chance(tmp_path: Path) -> None:
    """Two answers, each given once by a two-repeat unit, on many items: the most common answer
    is the first in sort order, every time (DuckDB's mode() returned either)."""
    rows = ["id,v,r,s,a"]
    for k in range(60):
        for v in ("x", "y"):
            rows += [f"i{k},{v},0,1,zeta{k}", f"i{k},{v},1,0,alpha{k}"]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    _ok(
        "import", "records", "t.csv", "--item", "id", "--variant", "v", "--repeat", "r", "--score", "s",
        "--answer", "a", "--run-id", "t", cwd=tmp_path,
    )  # fmt: skip
    reports = {_report_bytes(tmp_path, "t") for _ in range(3)}
    assert len(reports) == 1
    data = json.loads(reports.pop())
    assert data["robustness"]["answer_flip_rate"]["value"] == 0.0
    assert data["consistency"]["n_units"] == 120


def test_sections_missing_say_why(tmp_path: Path) -> None:
    """An import without outputs or answers lost its consistency and robustness sections silently."""
    rows = ["id,v,r,s"] + [f"i{k},{v},{r},{(k + r) % 2}" for k in range(20) for v in ("x", "y") for r in (0, 1)]
    (tmp_path / "n.csv").write_text("\n".join(rows) + "\n")
    _ok("import", "records", "n.csv", "--item", "id", "--variant", "v", "--repeat", "r", "--score", "s", cwd=tmp_path)
    data = json.loads(_ok("report", "latest", "--json", cwd=tmp_path))
    assert "no outputs or answers" in data["notes"]["consistency"]
    assert "no outputs or answers" in data["notes"]["robustness"]
    assert "no outputs or answers" in _ok("report", "latest", cwd=tmp_path)
    _ok("report", "latest", "--html", str(tmp_path / "n.html"), cwd=tmp_path)
    assert "no outputs or answers" in (tmp_path / "n.html").read_text()


def test_top_by_score_lists_each_item_set_once(tmp_path: Path) -> None:
    """``lang`` and ``copy`` label the same items: the top list showed the set twice."""
    rng = np.random.default_rng(0)
    rows = ["id,s,lang,copy,noise"]
    for k in range(200):
        lang = "de" if k % 4 == 0 else "en"
        fail = rng.random() < (0.7 if lang == "de" else 0.1)
        rows.append(f"i{k},{0 if fail else 1},{lang},{lang}2,{rng.choice(['p', 'q'])}")
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    args = ["--item", "id", "--score", "s", "--slice", "lang", "--slice", "copy", "--slice", "noise"]
    _ok("import", "records", "d.csv", *args, cwd=tmp_path)
    disc = json.loads(_ok("report", "latest", "--json", cwd=tmp_path))["discovery"]
    labels = [s["label"] for s in disc["top_by_score"]]
    assert "lang=de" in labels
    assert "copy=de2" not in labels
    assert [s["label"] for s in disc["slices"]].count("lang=de") == 1


@pytest.mark.parametrize("word", ["Français", "Ærø", "東京", "Ελλάδα"])
def test_normalised_answers_keep_unicode_letters(word: str) -> None:
    import duckdb

    from tailgate.analysis._data import ANSWER_TEXT, NORMALIZED_ANSWER

    sql = "SELECT " + NORMALIZED_ANSWER.replace(ANSWER_TEXT, "?::VARCHAR")
    assert duckdb.connect().execute(sql, [f"  {word}!! "]).fetchall() == [(word.lower(),)]
