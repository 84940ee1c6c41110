from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tailgate.config import load_suite
from tailgate.errors import InputError
from tailgate.records import Item
from tailgate.scorers import build_scorers
from tests.support.suites import make_suite


def _scorer(tmp_path: Path, spec: dict[str, Any]):  # type: ignore[no-untyped-def]
    return build_scorers(load_suite(str(make_suite(tmp_path, scorers=[spec]))))[0]


def _item(reference: Any) -> Item:
    return Item(item_id="x", input={"question": "q"}, reference=reference, attributes={"task": "math"})


@pytest.mark.parametrize(
    ("spec", "output", "reference", "value"),
    [
        ({"type": "exact"}, " Paris ", "Paris", 1.0),
        ({"type": "exact"}, "paris", "Paris", 0.0),
        ({"type": "normalized"}, "The Paris!", "paris", 1.0),
        ({"type": "normalized", "strip_accents": True}, "Sí", ["si", "yes"], 1.0),
        ({"type": "normalized"}, "Sí", ["si"], 0.0),
        ({"type": "contains"}, "The capital is Paris.", ["Paris"], 1.0),
        ({"type": "contains"}, "Parisian food", ["Paris"], 0.0),
        ({"type": "regex", "pattern": r"\bParis\b"}, "in Paris", None, 1.0),
        ({"type": "numeric"}, "17 + 25 = 42", 42, 1.0),
        ({"type": "numeric"}, "about 41", 42, 0.0),
        ({"type": "numeric", "abs_tol": 0.5}, "41.6", 42, 1.0),
        ({"type": "numeric"}, "no number", 42, 0.0),
        ({"type": "numeric", "extract": "json:answer"}, '{"answer": 42}', "42", 1.0),
        ({"type": "json_valid"}, 'text {"a": 1}', None, 1.0),
        ({"type": "json_valid", "strict": True}, 'text {"a": 1}', None, 0.0),
        (
            {"type": "json_schema", "schema": {"type": "object", "required": ["a"]}},
            '{"a": 1}',
            None,
            1.0,
        ),
        (
            {"type": "json_schema", "schema": {"type": "object", "required": ["b"]}},
            '{"a": 1}',
            None,
            0.0,
        ),
        ({"type": "json_fields"}, '{"name": "zoë", "age": "34"}', {"name": "Zoë", "age": 34}, 1.0),
        ({"type": "json_fields"}, '{"name": "Zoe", "age": 34}', {"name": "Zoë", "age": 34}, 0.0),
        (
            {"type": "json_fields", "partial": True},
            '{"name": "X", "age": 34}',
            {"name": "Zoë", "age": 34},
            0.5,
        ),
        ({"type": "choice"}, "The answer is B", "B", 1.0),
        ({"type": "choice", "extract": "json:answer"}, '{"answer": "C) Sirius"}', "C", 1.0),
        ({"type": "choice"}, "A", "B", 0.0),
    ],
)
def test_scorers(tmp_path: Path, spec: dict[str, Any], output: str, reference: Any, value: float) -> None:
    assert _scorer(tmp_path, spec)(output, _item(reference)).value == value


PLANETS = {"question": "Which planet is the largest?", "options": ["Mars", "Jupiter", "Venus", "Mercury"]}
LINES = {"question": "Which planet is the largest?\n(a) Mars\n(b) Jupiter\n(c) Venus\n(d) Mercury"}


@pytest.mark.parametrize(
    ("fields", "output", "reference", "value", "answer"),
    [
        (PLANETS, "b) Jupiter", "B", 1.0, "B"),
        (PLANETS, "Jupiter", "B", 1.0, "B"),  # the option's text, no letter
        (PLANETS, "It is Jupiter.", "b", 1.0, "B"),
        (PLANETS, "Jupiter", 1, 1.0, "B"),  # a 0-based index as the reference
        (PLANETS, "(b)", "Jupiter", 1.0, "B"),  # the option text as the reference
        (PLANETS, "Mars or Jupiter", "B", 0.0, None),  # names two options: no pick
        (PLANETS, "Venus", "B", 0.0, "C"),
        (PLANETS, "I think it is Jupiter, not E", "B", 1.0, "B"),  # E is not an option of this item
        (LINES, "Jupiter", "B", 1.0, "B"),  # options as labelled lines of a text field
        ({"question": "q"}, "Jupiter", "B", 0.0, None),  # no options known: only letters count
    ],
)
def test_choice_reads_letters_and_option_texts(
    tmp_path: Path, fields: dict[str, Any], output: str, reference: Any, value: float, answer: str | None
) -> None:
    score = _scorer(tmp_path, {"type": "choice"})(output, Item("x", fields, reference, {"task": "math"}))
    assert (score.value, score.answer) == (value, answer)


def test_one_choice_scorer_over_many_items_scores_each_as_a_fresh_one(tmp_path: Path) -> None:
    """The scorer keeps what it read from recent items (their options): repeats, other items,
    items without a reference and more items than it keeps all score as a new scorer would."""
    shared = _scorer(tmp_path, {"type": "choice"})
    cases = [
        (fields, output, reference)
        for fields, output, reference, _, _ in [
            (PLANETS, "Jupiter", "B", 1.0, "B"),
            (LINES, "(c) Venus", "C", 1.0, "C"),
            (PLANETS, "Venus", 2, 1.0, "C"),
            (LINES, "Mars", None, None, None),
        ]
    ]
    items = [Item(f"x{i}", fields, reference, {"task": "math"}) for i, (fields, _, reference) in enumerate(cases)]
    suite = load_suite(str(make_suite(tmp_path, scorers=[{"type": "choice"}])))
    for _ in range(3):
        for (_, output, _), item in zip(cases, items, strict=True):
            for answer in (output, "nothing"):
                assert shared(answer, item) == build_scorers(suite)[0](answer, item)
    for i in range(1100):  # past what it keeps: still right
        item = Item(f"y{i}", PLANETS, "ABCD"[i % 4], {"task": "math"})
        assert shared("Jupiter", item).value == (1.0 if i % 4 == 1 else 0.0)


def test_choice_option_text_can_be_turned_off(tmp_path: Path) -> None:
    item = Item("x", PLANETS, "B", {"task": "math"})
    assert _scorer(tmp_path, {"type": "choice", "option_text": False})("Jupiter", item).value == 0.0
    assert _scorer(tmp_path, {"type": "choice", "options": "options"})("Jupiter", item).value == 1.0


def test_scorer_error_is_unscored_not_wrong(tmp_path: Path) -> None:
    score = _scorer(tmp_path, {"type": "numeric"})("42", _item("forty-two"))
    assert score.value is None
    assert "not a number" in (score.error or "")


def test_missing_reference_is_unscored(tmp_path: Path) -> None:
    assert _scorer(tmp_path, {"type": "exact"})("x", _item(None)).value is None


def test_python_scorer(tmp_path: Path) -> None:
    (tmp_path / "myscore.py").write_text(
        "def length_ok(answer, reference, item):\n    return len(answer) <= reference\n",
        encoding="utf-8",
    )
    scorer = _scorer(tmp_path, {"type": "python", "function": f"{tmp_path / 'myscore.py'}:length_ok"})
    assert scorer("abc", _item(5)).value == 1.0
    assert scorer("abcdef", _item(5)).value == 0.0


@pytest.mark.parametrize(
    ("spec", "message", "field"),
    [
        ({"type": "nope"}, "unknown scorer 'nope'", "scorers.0.type"),
        ({"type": "numeric", "tolerance": 1}, "unknown key", "scorers.0.tolerance"),
        ({"type": "regex"}, "Field required", "scorers.0.pattern"),
        ({"type": "regex", "pattern": "("}, "invalid regular expression", "scorers.0"),
        ({"type": "exact", "extract": "bogus"}, "unknown extractor", "scorers.0.extract"),
        # issue 10, item 5: these passed validation and left every sample unscored
        ({"type": "exact", "extract": "regex:("}, "invalid regular expression '('", "scorers.0.extract"),
        ({"type": "exact", "extract": "regex:(?P<"}, "invalid regular expression", "scorers.0.extract"),
        ({"type": "exact", "extract": "regex:"}, "needs a pattern", "scorers.0.extract"),
        ({"type": "exact", "extract": "regex"}, "needs a pattern", "scorers.0.extract"),
        ({"type": "exact", "extract": "regex:a{99999999999}"}, "invalid regular expression", "scorers.0.extract"),
        ({"type": "regex", "pattern": "a{99999999999}"}, "invalid regular expression", "scorers.0"),
    ],
)
def test_bad_scorer_config_names_line(tmp_path: Path, spec: dict[str, Any], message: str, field: str) -> None:
    with pytest.raises(InputError) as err:
        _scorer(tmp_path, spec)
    assert message in str(err.value)
    assert err.value.field == field
    assert err.value.line is not None


def test_when_filter(tmp_path: Path) -> None:
    scorer = _scorer(tmp_path, {"type": "exact", "when": {"task": ["geo"]}})
    assert not scorer.applies_to(_item("x"))
