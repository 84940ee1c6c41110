from __future__ import annotations

import pytest

from tailgate.scorers import (
    choice_letter,
    find_json,
    first_word,
    json_value,
    last_number,
    parse_number,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17 + 25 = 42", "42"),
        ("The answer is 2,5 kg", "2.5"),
        ("1,234 people", "1234"),
        ("it was -3.5.", "-3.5"),
        ("1\u202f000 m", "1000"),
        ("3 4", "4"),
        ("no digits", None),
        ("450 minutes.", "450"),
    ],
)
def test_last_number(text: str, expected: str | None) -> None:
    assert last_number(text) == expected


@pytest.mark.parametrize(("token", "value"), [("1,234,567", 1234567.0), ("2,5", 2.5), ("7", 7.0), ("x", None)])
def test_parse_number(token: str, value: float | None) -> None:
    assert parse_number(token) == value


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("The answer is (C).", "C"),
        ("B) Jupiter", "B"),
        ("I think it is D", "D"),
        ("D is correct, I think", "D"),
        ("A good question. C", "C"),
        ("Answer: A", "A"),
        ("Réponse : B", "B"),
        ("nothing here", None),
        # lower-case labels, as the formats generator writes them (issue 9: these extracted nothing)
        ("b) Jupiter", "B"),
        ("(b) Jupiter", "B"),
        ("[d] Mercury", "D"),
        ("a: Mars", "A"),
        ("c. Venus", "C"),
        ("b", "B"),
        ("Answer: b", "B"),
        ("ANSWER = (c)", "C"),
        ("answer - [a] Mars", "A"),
        ("**B**", "B"),
        ("The answer is **(b) Jupiter**.", "B"),
        ("Sure!\nb) Jupiter", "B"),
        ("I choose b) Jupiter", "B"),
        ("The correct option is c", "C"),
        # prose is not a label: articles, pronouns, abbreviations
        ("a planet", None),
        ("i think so", None),
        ("The answer is a gas giant", None),
        ("e.g. the big one", None),
        ("i.e. the big one", None),
        ("so do I.", None),
        ("I'm not sure", None),
        ("Answer with the letter of the correct option only.", None),
    ],
)
def test_choice_letter(text: str, letter: str | None) -> None:
    assert choice_letter(text) == letter


def test_choice_letter_only_returns_allowed_letters() -> None:
    assert choice_letter("E. coli, so B", "ABCD") == "B"
    assert choice_letter("E. coli, so B") == "E"


def test_json_extraction() -> None:
    assert json_value('```json\n{"answer": 42}\n```', "answer") == "42"
    assert json_value('Sure! {"name": "Zoë", "age": 3} hope it helps', "name") == "Zoë"
    assert json_value('{"a": {"b": [1, {"c": true}]}}', "a.b.1.c") == "true"
    assert json_value('{"answer": 1}', "missing") is None
    assert json_value("not json", "answer") is None
    assert find_json("[1, 2] and more") == [1, 2]


def test_first_word() -> None:
    assert first_word("Yes, the Sun is a star.") == "Yes"
    assert first_word("  ¡Sí!") == "Sí"
