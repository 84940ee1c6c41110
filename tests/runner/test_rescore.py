"""tailgate rescore: stored outputs re-scored with other parsers, no model call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailgate.analysis import parser_sensitivity
from tailgate.errors import TailgateError
from tailgate.runner import RunOptions, rescore, run_sync
from tailgate.store import Store
from tests.support.cli import tailgate
from tests.support.suites import make_suite


def _run(tmp_path: Path, model: str, suite: Path) -> tuple[Store, str]:
    store = Store(tmp_path / "store")
    result = run_sync(
        RunOptions(suite=str(suite), model=f"python:tests.support.models:{model}", store=str(store.root), cache=False)
    )
    return store, result.run_id


def test_parsers_change_the_score_of_the_same_outputs(tmp_path: Path) -> None:
    # the oracle answers "The answer is 4." / "The answer is Paris.": read whole (strip), the number
    # is wrong and the city still "contains"; read as the last number, the city is lost
    store, run_id = _run(tmp_path, "oracle", make_suite(tmp_path / "s"))
    result = rescore(store, run_id, ["strip", "last_number"])
    assert result.parsers == ["as run", "extract=strip", "extract=last_number"]
    by_parser = dict(zip(result.parsers, result.scores.mean(axis=0).tolist(), strict=True))
    assert by_parser["as run"] == 1.0
    assert by_parser["extract=last_number"] == 0.5
    assert by_parser["extract=strip"] == 0.5
    assert result.scores[:, 1].tolist() != result.scores[:, 2].tolist()  # wrong on different items
    sens = parser_sensitivity(result.item_id, result.parsers, result.scores, result.output, delta=0.2)
    assert sens["spread"]["spread"]["value"] == 0.5
    assert (sens["spread"]["best"], sens["spread"]["worst"]) == ("as run", "extract=strip")
    assert sens["disagreeing_items"] == 4
    assert sens["warnings"]
    assert "the gap may be the parser" in sens["warnings"][0]
    assert parser_sensitivity(result.item_id, result.parsers[:1], result.scores[:, :1], result.output)["spread"] is None


def test_rescoring_uses_each_variants_remapped_reference(tmp_path: Path) -> None:
    rows = [
        {"id": "p", "question": "Which planet is largest?\nA) Mars\nB) Jupiter\nC) Venus", "answer": "B"},
        {"id": "g", "question": "Which gas do plants take in?\nA) Oxygen\nB) Helium\nC) Carbon dioxide", "answer": "C"},
    ]
    suite = make_suite(
        tmp_path / "mc",
        rows,
        scorers=[{"type": "choice"}],
        extra={
            "dataset": {"path": "items.jsonl", "id": "id", "reference": "answer"},
            "variants": [{"generator": "shuffle_options", "count": 4}],
        },
    )
    store, run_id = _run(tmp_path, "option_reader", suite)
    result = rescore(store, run_id, ["choice_letter", "first_word"], ["exact/strip"])
    assert len(set(result.variant.tolist())) == 5
    means = dict(zip(result.parsers, result.scores.mean(axis=0).tolist(), strict=True))
    # "The answer is B." read as a letter is right on every shuffle only if references were remapped
    assert means["as run"] == 1.0
    assert means["extract=choice_letter"] == 1.0
    assert means["extract=first_word"] == 0.0  # "The"
    assert means["scorer=exact/strip"] == 0.0


def test_imported_runs_have_nothing_to_rescore(tmp_path: Path) -> None:
    from tailgate.store import ImportSpec, import_records

    (tmp_path / "r.csv").write_text("q,ok\n1,1\n2,0\n", encoding="utf-8")
    import_records(Store(), ImportSpec(file=str(tmp_path / "r.csv"), item="q", score="ok", run_id="imp"))
    with pytest.raises(TailgateError, match="no suite"):
        rescore(Store(), "imp")


def test_cli(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s")
    store = tmp_path / "store"
    for model in ("oracle", "paraphrase"):
        proc = tailgate(
            "--store", str(store), "run", str(suite), "--model", f"python:tests.support.models:{model}", "-q"
        )
        assert proc.returncode == 0, proc.stderr
    runs = json.loads(tailgate("--store", str(store), "runs", "--json").stdout)
    first = runs[-1]["run_id"] if runs[0]["model"].endswith("paraphrase") else runs[0]["run_id"]
    proc = tailgate("--store", str(store), "rescore", first, "--extract", "strip", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [p["parser"] for p in data["parsers"]] == ["as run", "extract=strip"]
    assert data["n_samples"] == 4
    proc = tailgate("--store", str(store), "rescore", first, "--extract", "nonsense")
    assert proc.returncode == 2
    assert "nonsense" in proc.stderr
    proc = tailgate("--store", str(store), "rescore", "latest", "--vs", first)
    assert proc.returncode == 0, proc.stderr
    assert "score by answer parser" in proc.stdout


def test_llm_extractor_reads_answers_and_is_cached(tmp_path: Path) -> None:
    from tests.support import models

    store, run_id = _run(tmp_path, "oracle", make_suite(tmp_path / "s"))
    models.EXTRACT_CALLS.clear()
    result = rescore(store, run_id, [], llm="python:tests.support.models:answer_reader")
    assert result.parsers == ["as run", "llm=python:tests.support.models:answer_reader"]
    assert len(models.EXTRACT_CALLS) == 4
    assert "Question: What is 2+2?" in models.EXTRACT_CALLS[0] or any("2+2" in c for c in models.EXTRACT_CALLS)
    # "The answer is 4." -> "4" (right); "The answer is Paris." -> NONE (this reader only knows
    # numbers and letters) -> wrong, as an extractor that finds nothing
    by_item = dict(zip(result.item_id.tolist(), result.scores[:, 1].tolist(), strict=True))
    assert sorted(by_item.values()) == [0.0, 0.0, 1.0, 1.0]
    rescore(store, run_id, [], llm="python:tests.support.models:answer_reader")
    assert len(models.EXTRACT_CALLS) == 4  # the second reading came from the cache
