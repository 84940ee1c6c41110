"""The viewer's filter language: a few terms, all of which an item must meet (docs/view.md).

Grammar (terms are separated by white space and ANDed; ``-`` before a term negates it)::

    filter     := term*
    term       := ["-"] (comparison | selector | word)
    comparison := NUMBER_FIELD OP NUMBER        score<0.5  delta<=-0.2  cand.latency>800  scores.judge<1
    selector   := KEY ":" VALUE                 slice:lang=fr  variant:original  tag:regressed,flaky
    word       := VALUE                         "capital of"  (a substring of the item's input)
    OP         := "<" | "<=" | ">" | ">=" | "=" | "!="
    VALUE      := a run of characters without white space, or a "double-quoted string" (\\" and \\\\ escape)

The parser is a hand-written scanner: every error names the column (1-based) and what was expected.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tailgate.errors import UsageError

__all__ = [
    "NUMBER_FIELDS",
    "SELECTORS",
    "TAGS",
    "Filter",
    "FilterError",
    "Term",
    "parse_filter",
    "quote",
    "scorer_field",
]

NUMBER_FIELDS: dict[str, str] = {
    "score": "the item's mean score (the candidate's, with two runs)",
    "base.score": "the base run's mean score of the item",
    "cand.score": "the candidate's mean score of the item",
    "delta": "candidate mean score - base mean score",
    "latency": "the item's slowest sample, in ms (the candidate's, with two runs)",
    "base.latency": "the base run's slowest sample of the item, in ms",
    "cand.latency": "the candidate's slowest sample of the item, in ms",
    "samples": "scored samples of the item (the candidate's, with two runs)",
    "scores.LABEL": "the item's mean of scorer LABEL's values (a judge's verdicts); also base.scores.LABEL",
}
SELECTORS: dict[str, str] = {
    "tag": "regressed, improved, unchanged or flaky (two runs; a comma list means any of them)",
    "slice": "ATTRIBUTE=VALUE: the item's attribute (declared, or derived: auto:NAME) has that value",
    "variant": "only these variants' samples count (a comma list means any of them)",
    "id": "the item id or its dataset id starts with this",
    "text": "the item's input contains this (case-insensitive)",
    "output": "some sample's output contains this (case-insensitive)",
}
TAGS = ("regressed", "improved", "unchanged", "flaky")
OPERATORS = ("<=", ">=", "!=", "<", ">", "=")


class FilterError(UsageError):
    """A filter that does not parse; ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        self.column = column
        self.reason = message
        super().__init__(f"filter, column {column}: {message}")


@dataclass(frozen=True)
class Term:
    """One condition: ``field op value`` (``op`` is ``:`` for a selector, ``~`` for a bare word)."""

    field: str
    op: str
    value: float | str | tuple[str, ...]
    negated: bool = False
    column: int = 1

    def text(self) -> str:
        """The term written back in the language (a round trip parses to the same term)."""
        sign = "-" if self.negated else ""
        if self.op == "~":
            return f"{sign}{quote(str(self.value))}"
        if self.op == ":":
            value = ",".join(self.value) if isinstance(self.value, tuple) else str(self.value)
            return f"{sign}{self.field}:{quote(value)}"
        number = self.value if isinstance(self.value, float) else float(str(self.value))
        return f"{sign}{self.field}{self.op}{number:.15g}"


@dataclass(frozen=True)
class Filter:
    """The parsed filter: all of ``terms`` must hold."""

    terms: tuple[Term, ...] = ()

    def text(self) -> str:
        """The canonical spelling (what the viewer keeps in the URL)."""
        return " ".join(t.text() for t in self.terms)

    def of(self, field: str) -> list[Term]:
        return [t for t in self.terms if t.field == field]


def quote(value: str) -> str:
    """``value`` as a VALUE token: bare when it can be, else double-quoted."""
    if value and not any(c.isspace() or c in '"\\' for c in value) and value[0] != "-":
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def value(self) -> str:
        """A bare run (up to white space) or a quoted string."""
        if self.at_end() or self.text[self.pos].isspace():
            raise FilterError("expected a value", self.pos + 1)
        if self.text[self.pos] == '"':
            return self._quoted()
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace():
            if self.text[self.pos] == '"':
                raise FilterError('a quote inside a value: quote the whole value ("...")', self.pos + 1)
            self.pos += 1
        return self.text[start : self.pos]

    def _quoted(self) -> str:
        start = self.pos
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                if self.pos < len(self.text) and not self.text[self.pos].isspace():
                    raise FilterError("expected white space after the closing quote", self.pos + 1)
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise FilterError("unterminated quote", start + 1)


def parse_filter(text: str) -> Filter:
    """Parse a filter (see the module docstring).

    Raises:
        FilterError: what is wrong, at which column.

    Example:
        >>> parse_filter('score<0.5 slice:lang=fr -tag:flaky').text()
        'score<0.5 slice:lang=fr -tag:flaky'
    """
    scan = _Scanner(text)
    terms: list[Term] = []
    while True:
        scan.skip_space()
        if scan.at_end():
            return Filter(tuple(terms))
        terms.append(_term(scan))


def _term(scan: _Scanner) -> Term:
    column = scan.pos + 1
    negated = scan.text[scan.pos] == "-" and scan.pos + 1 < len(scan.text) and not scan.text[scan.pos + 1].isspace()
    if negated:
        scan.pos += 1
    if scan.text[scan.pos] == '"':
        return Term("text", "~", scan.value(), negated, column)
    start = scan.pos
    while scan.pos < len(scan.text) and (scan.text[scan.pos].isalnum() or scan.text[scan.pos] in "._"):
        scan.pos += 1
    name = scan.text[start : scan.pos]
    rest = scan.text[scan.pos : scan.pos + 2]
    op = next((o for o in OPERATORS if rest.startswith(o)), None)
    if name and rest.startswith(":"):
        scan.pos += 1
        return _selector(name, scan.value(), negated, column, scan.pos)
    if name and op is not None:
        scan.pos += len(op)
        return _comparison(name, op, scan, negated, column)
    scan.pos = start
    word = scan.value()
    if word.startswith("-") or not word:
        raise FilterError("expected a term after '-'", column)
    return Term("text", "~", word, negated, column)


SCORER_FIELD = re.compile(r"(?:(base|cand)\.)?scores\.(\w[\w.]*)")
"""``scores.LABEL`` (and ``base.`` / ``cand.``): the item's mean of one scorer's values (a judge's
verdicts), from each sample's ``scores``."""


def scorer_field(name: str) -> tuple[str, str] | None:
    """(side, scorer label) of a ``scores.LABEL`` field, None for another name."""
    match = SCORER_FIELD.fullmatch(name)
    return None if match is None else (match.group(1) or "cand", match.group(2))


def _comparison(name: str, op: str, scan: _Scanner, negated: bool, column: int) -> Term:
    if name not in NUMBER_FIELDS and scorer_field(name) is None:
        hint = f"; {name} is a selector: {name}:VALUE" if name in SELECTORS else ""
        raise FilterError(f"unknown number field {name!r} (known: {', '.join(NUMBER_FIELDS)}){hint}", column)
    at = scan.pos + 1
    raw = scan.value() if not scan.at_end() else ""
    try:
        number = float(raw)
    except ValueError:
        raise FilterError(f"{name}{op} needs a number, not {raw!r}", at) from None
    if not math.isfinite(number):
        raise FilterError(f"{name}{op} needs a finite number, not {raw!r}", at)
    return Term(name, op, number, negated, column)


def _selector(name: str, value: str, negated: bool, column: int, end: int) -> Term:
    if name not in SELECTORS:
        hint = f"; {name} is a number: {name}<N, {name}>=N..." if name in NUMBER_FIELDS else ""
        raise FilterError(f"unknown selector {name!r} (known: {', '.join(SELECTORS)}){hint}", column)
    if name in ("tag", "variant"):
        values = tuple(v for v in value.split(","))
        if any(not v for v in values):
            raise FilterError(f"{name}: an empty name in the list {value!r}", column)
        if name == "tag":
            unknown = [v for v in values if v not in TAGS]
            if unknown:
                raise FilterError(f"unknown tag {unknown[0]!r} (tags: {', '.join(TAGS)})", column)
        return Term(name, ":", values, negated, column)
    if name == "slice" and "=" not in value:
        raise FilterError(f"slice: needs ATTRIBUTE=VALUE, e.g. slice:lang=fr (got {value!r})", column)
    if name == "slice" and value.startswith("="):
        raise FilterError("slice: the attribute's name is missing before '='", column)
    return Term(name, ":", value, negated, column)
