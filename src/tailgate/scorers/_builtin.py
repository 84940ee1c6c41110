"""Built-in scorer types. Each compares an (extracted) answer with the item's reference.

A reference that is a list means "any of these". All scores are in [0, 1].

| type        | 1.0 when                                                  | parameters        |
|-------------|-----------------------------------------------------------|-------------------|
| exact       | answer == reference (after ``strip``)                     | ``strip``         |
| normalized  | equal after casefolding, dropping punctuation, articles   | ``strip_accents`` |
| contains    | the normalised reference occurs in the answer as words    | ``strip_accents`` |
| regex       | ``pattern`` matches the answer                            | ``pattern``       |
| numeric     | ``|answer - ref| <= max(abs_tol, rel_tol * |ref|)``       | ``abs_tol``, ...  |
| json_valid  | the answer is (or, unless ``strict``, contains) JSON      | ``strict``        |
| json_schema | that JSON conforms to ``schema``                          | ``schema``        |
| json_fields | every key of the reference object has an equal value      | ``partial``       |
| choice      | the extracted option letter equals the reference letter   |                   |
| python      | ``function(answer, reference, item_input)`` says so       | ``function``      |
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from tailgate.records import Item
from tailgate.registry import load_callable
from tailgate.scorers._base import NoParams, Score
from tailgate.scorers._extract import choice_letter
from tailgate.text import find_json, normalize_text, parse_number

__all__ = [
    "Choice",
    "Contains",
    "ExactMatch",
    "JsonFields",
    "JsonSchema",
    "JsonValid",
    "NormalizedMatch",
    "Numeric",
    "PythonScorer",
    "RegexMatch",
]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _references(item: Item) -> list[Any]:
    ref = item.reference
    if ref is None:
        raise ValueError("the item has no reference answer")
    return list(ref) if isinstance(ref, list) else [ref]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _verdict(ok: bool, answer: str) -> Score:
    return Score(1.0 if ok else 0.0, answer)


class ExactMatch:
    class Params(_Params):
        strip: bool = True

    default_extract: ClassVar[str | None] = None

    def __init__(self, params: Params) -> None:
        self.params = params

    def score(self, answer: str, item: Item) -> Score:
        got = answer.strip() if self.params.strip else answer
        refs = [_as_text(r).strip() if self.params.strip else _as_text(r) for r in _references(item)]
        return _verdict(got in refs, answer)


class NormalizedMatch:
    class Params(_Params):
        strip_accents: bool = False

    default_extract: ClassVar[str | None] = None

    def __init__(self, params: Params) -> None:
        self.params = params

    def score(self, answer: str, item: Item) -> Score:
        got = normalize_text(answer, self.params.strip_accents)
        refs = {normalize_text(_as_text(r), self.params.strip_accents) for r in _references(item)}
        return _verdict(got in refs, answer)


class Contains:
    class Params(_Params):
        strip_accents: bool = False

    default_extract: ClassVar[str | None] = None

    def __init__(self, params: Params) -> None:
        self.params = params

    def score(self, answer: str, item: Item) -> Score:
        got = f" {normalize_text(answer, self.params.strip_accents)} "
        for ref in _references(item):
            needle = normalize_text(_as_text(ref), self.params.strip_accents)
            if needle and f" {needle} " in got:
                return Score(1.0, ref if isinstance(ref, str) else answer)
        return Score(0.0, answer)


class RegexMatch:
    class Params(_Params):
        pattern: str
        ignore_case: bool = False

    default_extract: ClassVar[str | None] = None

    def __init__(self, params: Params) -> None:
        try:
            self.pattern = re.compile(params.pattern, re.IGNORECASE if params.ignore_case else 0)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None

    def score(self, answer: str, item: Item) -> Score:
        return _verdict(self.pattern.search(answer) is not None, answer)


class Numeric:
    class Params(_Params):
        abs_tol: float = Field(1e-9, ge=0)
        rel_tol: float = Field(1e-6, ge=0)

    default_extract: ClassVar[str | None] = "last_number"

    def __init__(self, params: Params) -> None:
        self.params = params

    def score(self, answer: str, item: Item) -> Score:
        got = parse_number(answer)
        if got is None:
            return Score(0.0, answer)
        for ref in _references(item):
            target = ref if isinstance(ref, (int, float)) and not isinstance(ref, bool) else parse_number(str(ref))
            if target is None:
                raise ValueError(f"reference {ref!r} is not a number")
            if math.isclose(got, float(target), rel_tol=self.params.rel_tol, abs_tol=self.params.abs_tol):
                return Score(1.0, answer)
        return Score(0.0, answer)


class JsonValid:
    class Params(_Params):
        strict: bool = False
        """Require the whole answer to be JSON (code fences and surrounding text not allowed)."""

    default_extract: ClassVar[str | None] = None

    def __init__(self, params: Params) -> None:
        self.params = params

    def score(self, answer: str, item: Item) -> Score:
        try:
            if self.params.strict:
                json.loads(answer)
            else:
                find_json(answer)
        except ValueError:
            return Score(0.0, answer)
        return Score(1.0, answer)


class JsonSchema:
    class Params(_Params):
        schema_: dict[str, Any] = Field(alias="schema")

    default_extract: ClassVar[str | None] = None

    def __init__(self, params: Params) -> None:
        import jsonschema

        try:
            cls = jsonschema.validators.validator_for(params.schema_)
            cls.check_schema(params.schema_)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"invalid JSON Schema: {exc.message}") from None
        self.validator = cls(params.schema_)

    def score(self, answer: str, item: Item) -> Score:
        try:
            value = find_json(answer)
        except ValueError:
            return Score(0.0, answer)
        return _verdict(self.validator.is_valid(value), answer)


class JsonFields:
    class Params(_Params):
        partial: bool = False
        """Score the share of matching keys instead of all-or-nothing."""
        strip_accents: bool = False

    default_extract: ClassVar[str | None] = None

    def __init__(self, params: Params) -> None:
        self.params = params

    def score(self, answer: str, item: Item) -> Score:
        ref = item.reference
        if not isinstance(ref, dict) or not ref:
            raise ValueError("json_fields needs a reference that is a non-empty JSON object")
        try:
            got = find_json(answer)
        except ValueError:
            return Score(0.0, answer)
        if not isinstance(got, dict):
            return Score(0.0, answer)
        hits = sum(self._same(got.get(key), want) for key, want in ref.items())
        value = hits / len(ref) if self.params.partial else float(hits == len(ref))
        return Score(value, answer)

    def _same(self, got: Any, want: Any) -> bool:
        if got is None:
            return want is None
        if isinstance(want, (int, float)) and not isinstance(want, bool):
            number = got if isinstance(got, (int, float)) and not isinstance(got, bool) else parse_number(str(got))
            return number is not None and math.isclose(float(number), float(want), rel_tol=1e-9)
        if isinstance(want, str):
            return normalize_text(_as_text(got), self.params.strip_accents) == normalize_text(
                want, self.params.strip_accents
            )
        return bool(got == want)


class Choice:
    Params = NoParams
    default_extract: ClassVar[str | None] = "choice_letter"

    def __init__(self, params: NoParams) -> None:
        self.params = params

    def score(self, answer: str, item: Item) -> Score:
        refs = {str(r).strip().upper() for r in _references(item)}
        letter = answer.strip().upper() if len(answer.strip()) == 1 else choice_letter(answer)
        return _verdict(letter is not None and letter in refs, answer)


class PythonScorer:
    class Params(_Params):
        function: str
        """``module:function`` or ``path/to/file.py:function``, called as
        ``function(answer, reference, item_input)``; returns a bool, a number in [0, 1], or a dict
        with ``value`` and optionally ``answer``."""

    default_extract: ClassVar[str | None] = None

    def __init__(self, params: Params) -> None:
        self.func = load_callable(params.function)

    def score(self, answer: str, item: Item) -> Score:
        result = self.func(answer, item.reference, item.input)
        if isinstance(result, dict):
            return Score(_unit(result["value"]), result.get("answer", answer))
        return Score(_unit(result), answer)


def _unit(value: Any) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0 or math.isnan(number):
        raise ValueError(f"score {value!r} is outside [0, 1]")
    return number
