"""Paraphrases by a model: checked, cached, and used only when they keep the answer's content."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailgate.perturb._paraphrase import check_paraphrase, clean_paraphrase, split_options
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support import models
from tests.support.suites import make_suite


@pytest.mark.parametrize(
    ("original", "paraphrase", "reference", "reason"),
    [
        ("How much is 12 plus 30?", "What is the sum of 12 and 30?", 42, None),
        ("How much is 12 plus 30?", "What is the sum of twelve and 30?", 42, "lost number 12"),
        ("Where does Ayşe Yılmaz live?", "Where is the home of the woman?", "Izmir", "lost name"),
        ("Is Paris the capital of France?", "Is the capital of France Paris?", "yes", None),
        ("Name the capital: Paris or Rome? It is Paris.", "Which is the capital, Rome or Milan?", "Paris", "lost"),
        ("What is 2+2?", "What is 2+2?", 4, "unchanged"),
        ("What is 2+2?", "", 4, "empty"),
        ("What is 2+2?", "What is 2+2? " * 10, 4, "length ratio"),
        ("Tom has 3 apples and buys 4. How many now?", "Tom has 3 + 4 = 7 apples now.", 7, "not a question"),
        ("Tom has 3 apples and buys 4. How many now?", "Tom buys 4 apples to his 3: 7 now?", 7, "leaks the reference"),
    ],
)
def test_check_paraphrase(original: str, paraphrase: str, reference: object, reason: str | None) -> None:
    got = check_paraphrase(original, paraphrase, reference)
    if reason is None:
        assert got is None
    else:
        assert got is not None
        assert got.startswith(reason)


def test_clean_and_split() -> None:
    assert clean_paraphrase('Sure! Here is the rewritten text: "Add 2 and 3."') == "Add 2 and 3."
    assert clean_paraphrase("  Add 2 and 3.  ") == "Add 2 and 3."
    stem, options = split_options("Which planet?\nA) Mars\nB) Jupiter")
    assert (stem, options) == ("Which planet?", "A) Mars\nB) Jupiter")
    assert split_options("No options here.") == ("No options here.", "")


def test_a_run_with_model_paraphrases(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "question": "How much is 2 plus 3?", "answer": 5},
        {"id": "b", "question": "How much is 10 plus 7?", "answer": 17},
        {"id": "c", "question": "How much is 1 plus 1? drop", "answer": 2},
    ]
    suite = make_suite(
        tmp_path / "s",
        rows,
        scorers=[{"type": "numeric"}],
        extra={
            "dataset": {"path": "items.jsonl", "id": "id", "reference": "answer"},
            "variants": [
                {"generator": "paraphrase", "model": "python:tests.support.models:paraphraser", "fields": ["question"]}
            ],
        },
    )
    store = tmp_path / "store"
    models.PARAPHRASE_CALLS.clear()
    options = RunOptions(suite=str(suite), model="python:tests.support.models:echo_prompt", store=str(store))
    result = run_sync(options)
    assert len(models.PARAPHRASE_CALLS) == 3
    assert any("2/3 paraphrases" in w and "lost number" in w for w in result.warnings), result.warnings
    rows_out = Store(store).read_records(result.run_id).to_pylist()
    prompts = {(r["variant"], r["prompt"]) for r in rows_out}
    para = sorted(p for v, p in prompts if v == "original+paraphrase")
    assert any("What do you get when you add 2 and 3?" in p for p in para)
    assert any("What do you get when you add 10 and 7?" in p for p in para)
    assert any("How much is 1 plus 1? drop" in p for p in para)  # rejected: the original wording stays
    # a second run asks the paraphrasing model nothing: the cache answers
    run_sync(RunOptions(suite=str(suite), model="python:tests.support.models:echo_prompt", store=str(store)))
    assert len(models.PARAPHRASE_CALLS) == 3
