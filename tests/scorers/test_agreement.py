"""The ``agreement`` scorer: an output against the logged production answer."""

from __future__ import annotations

import importlib.util

import pytest

from tailgate.errors import MissingDependency
from tailgate.records import Item
from tailgate.scorers._agreement import Agreement


def _score(answer: str, logged: object, **params: object) -> float | None:
    scorer = Agreement(Agreement.Params.model_validate(params))
    return scorer.score(answer, Item("i", {"prompt": "q", "baseline": logged})).value


@pytest.mark.parametrize(
    ("method", "answer", "logged", "expected"),
    [
        ("exact", " Paris ", "Paris", 1.0),
        ("exact", "paris", "Paris", 0.0),
        ("normalized", "The answer: Paris!", "answer paris", 1.0),
        ("normalized", "Lyon", "Paris", 0.0),
    ],
)
def test_exact_and_normalized(method: str, answer: str, logged: str, expected: float) -> None:
    assert _score(answer, logged, method=method) == expected


def test_an_item_without_a_logged_answer_is_unscored_not_wrong() -> None:
    with pytest.raises(ValueError, match="no logged answer in 'baseline'"):
        _score("x", None)


def test_semantic_needs_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sentence_transformers" else real(name, *a)
    )
    with pytest.raises(MissingDependency, match="needs the 'semantic' extra: pip install 'tailgate\\[semantic\\]'"):
        Agreement(Agreement.Params(method="semantic"))


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None, reason="the semantic extra")
def test_semantic_agreement_by_meaning() -> None:
    logged = "The capital of France is Paris."
    assert _score("Paris is France's capital city.", logged, method="semantic") == 1.0
    assert _score("Bananas are rich in potassium.", logged, method="semantic") == 0.0
