"""The filter language: what parses to what, and errors that name the column."""

from __future__ import annotations

import pytest

from tailgate.view import Filter, FilterError, Term, parse_filter


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("", ()),
        ("   ", ()),
        ("score<0.5", (Term("score", "<", 0.5, False, 1),)),
        ("delta<=-0.2", (Term("delta", "<=", -0.2, False, 1),)),
        ("cand.latency>800", (Term("cand.latency", ">", 800.0, False, 1),)),
        ("base.score!=1", (Term("base.score", "!=", 1.0, False, 1),)),
        ("samples>=3", (Term("samples", ">=", 3.0, False, 1),)),
        ("slice:lang=fr", (Term("slice", ":", "lang=fr", False, 1),)),
        ("slice:auto:length=long", (Term("slice", ":", "auto:length=long", False, 1),)),
        ('slice:"city=New York"', (Term("slice", ":", "city=New York", False, 1),)),
        ("variant:original,para", (Term("variant", ":", ("original", "para"), False, 1),)),
        ("tag:regressed,flaky", (Term("tag", ":", ("regressed", "flaky"), False, 1),)),
        ("-tag:flaky", (Term("tag", ":", ("flaky",), True, 1),)),
        ("paris", (Term("text", "~", "paris", False, 1),)),
        ('"capital of"', (Term("text", "~", "capital of", False, 1),)),
        ('-"a \\"b\\" c"', (Term("text", "~", 'a "b" c', True, 1),)),
        ("output:sorry", (Term("output", ":", "sorry", False, 1),)),
        ("id:q1", (Term("id", ":", "q1", False, 1),)),
        ("scores.judge_reference<1", (Term("scores.judge_reference", "<", 1.0, False, 1),)),
        ("base.scores.exact>=0.5", (Term("base.scores.exact", ">=", 0.5, False, 1),)),
        (
            "score<0.5 slice:lang=fr variant:original latency>800 tag:regressed",
            (
                Term("score", "<", 0.5, False, 1),
                Term("slice", ":", "lang=fr", False, 11),
                Term("variant", ":", ("original",), False, 25),
                Term("latency", ">", 800.0, False, 42),
                Term("tag", ":", ("regressed",), False, 54),
            ),
        ),
    ],
)
def test_parses(text: str, terms: tuple[Term, ...]) -> None:
    assert parse_filter(text) == Filter(terms)


@pytest.mark.parametrize(
    "text",
    [
        "score<0.5 slice:lang=fr variant:original latency>800 tag:regressed",
        '-text:"a b" id:x output:"say \\"hi\\""',
        "delta<=-0.25 -tag:flaky,unchanged",
        "score<0.123456789012 latency>=1e-3 samples!=1234567",
        'slice:"name=O\'Brien \\\\ co"',
    ],
)
def test_canonical_text_round_trips(text: str) -> None:
    once = parse_filter(text)
    again = parse_filter(once.text())
    assert [(t.field, t.op, t.value, t.negated) for t in again.terms] == [
        (t.field, t.op, t.value, t.negated) for t in once.terms
    ]


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("scor<0.5", 1, "unknown number field 'scor'"),
        ("score<abc", 7, "needs a number, not 'abc'"),
        ("score<", 7, "needs a number"),
        ("score<nan", 7, "finite number"),
        ("x score:1", 3, "score is a number"),
        ("tag:broken", 1, "unknown tag 'broken'"),
        ("tag:regressed,,flaky", 1, "empty name"),
        ("lang:fr", 1, "unknown selector 'lang'"),
        ("slice:lang", 1, "needs ATTRIBUTE=VALUE"),
        ("slice:=fr", 1, "name is missing"),
        ('text:"open', 6, "unterminated quote"),
        ('"a"b', 4, "white space after the closing quote"),
        ('ab"c', 3, "quote inside a value"),
        ("tag: x", 5, "expected a value"),
        ("a - b", 3, "expected a term after '-'"),
    ],
)
def test_errors_name_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    assert info.value.column == column
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"filter, column {column}: ")
