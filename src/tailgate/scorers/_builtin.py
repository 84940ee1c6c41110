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
| choice      | the option the answer picks (letter, or option text)       | ``options``, ...  |
|             | is the reference option (a letter, index or option text)  |                   |
| python      | ``function(answer, reference, item_input)`` says so       | ``function``      |
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from tailgate.records import Item
from tailgate.registry import load_callable
from tailgate.scorers._base import BaseScorer, Score
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


class ExactMatch(BaseScorer):
    class Params(_Params):
        strip: bool = True

    def score(self, answer: str, item: Item) -> Score:
        got = answer.strip() if self.params.strip else answer
        refs = [_as_text(r).strip() if self.params.strip else _as_text(r) for r in _references(item)]
        return _verdict(got in refs, answer)


class NormalizedMatch(BaseScorer):
    class Params(_Params):
        strip_accents: bool = False

    def score(self, answer: str, item: Item) -> Score:
        got = normalize_text(answer, self.params.strip_accents)
        refs = {normalize_text(_as_text(r), self.params.strip_accents) for r in _references(item)}
        return _verdict(got in refs, answer)


class Contains(BaseScorer):
    class Params(_Params):
        strip_accents: bool = False

    def score(self, answer: str, item: Item) -> Score:
        got = f" {normalize_text(answer, self.params.strip_accents)} "
        for ref in _references(item):
            needle = normalize_text(_as_text(ref), self.params.strip_accents)
            if needle and f" {needle} " in got:
                return Score(1.0, ref if isinstance(ref, str) else answer)
        return Score(0.0, answer)


class RegexMatch(BaseScorer):
    class Params(_Params):
        pattern: str
        ignore_case: bool = False

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        try:
            self.pattern = re.compile(params.pattern, re.IGNORECASE if params.ignore_case else 0)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None

    def score(self, answer: str, item: Item) -> Score:
        return _verdict(self.pattern.search(answer) is not None, answer)


class Numeric(BaseScorer):
    class Params(_Params):
        abs_tol: float = Field(1e-9, ge=0)
        rel_tol: float = Field(1e-6, ge=0)

    default_extract: ClassVar[str | None] = "last_number"

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


class JsonValid(BaseScorer):
    class Params(_Params):
        strict: bool = False
        """Require the whole answer to be JSON (code fences and surrounding text not allowed)."""

    def score(self, answer: str, item: Item) -> Score:
        try:
            if self.params.strict:
                json.loads(answer)
            else:
                find_json(answer)
        except ValueError:
            return Score(0.0, answer)
        return Score(1.0, answer)


class JsonSchema(BaseScorer):
    class Params(_Params):
        schema_: dict[str, Any] = Field(alias="schema")

    def __init__(self, params: Params) -> None:
        super().__init__(params)
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


class JsonFields(BaseScorer):
    class Params(_Params):
        partial: bool = False
        """Score the share of matching keys instead of all-or-nothing."""
        strip_accents: bool = False

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


_LETTERS = "ABCDEFGHIJ"
_OPTION_LINE = re.compile(r"^\s*[(\[]?([A-Ja-j])[).:\]]\s+(.*\S)\s*$")


def _listed_options(item: Item, field: str | None) -> list[str] | None:
    """The item's options in order: the field ``field`` (a list, or labelled lines); by default
    its only list field of 2-10 scalars, else its only text field with a block of lines labelled
    ``A)``, ``(b)``, ``[C]``... in order."""
    values = item.input
    if field is not None:
        value = values.get(field)
        return [_as_text(v) for v in value] if isinstance(value, list) else _labelled_lines(value)
    lists = [v for v in values.values() if isinstance(v, list)]
    if lists:
        only = lists[0]
        ok = len(lists) == 1 and 2 <= len(only) <= len(_LETTERS) and all(isinstance(x, (str, int, float)) for x in only)
        return [_as_text(v) for v in only] if ok else None
    blocks = [b for b in map(_labelled_lines, values.values()) if b]
    return blocks[0] if len(blocks) == 1 else None


def _labelled_lines(text: Any) -> list[str] | None:
    if not isinstance(text, str):
        return None
    found = [m for m in (_OPTION_LINE.match(line) for line in text.split("\n")) if m]
    letters = [m.group(1).upper() for m in found]
    return [m.group(2) for m in found] if len(found) >= 2 and letters == list(_LETTERS[: len(found)]) else None


def _plain(text: str, strip_accents: bool = False) -> str:
    """Casefolded, punctuation and spaces collapsed; articles kept ("Answer: A" is not "Answer")."""
    t = unicodedata.normalize("NFKC", text).casefold()
    if strip_accents:
        t = "".join(c for c in unicodedata.normalize("NFD", t) if unicodedata.category(c) != "Mn")
    return " ".join("".join(" " if unicodedata.category(c)[0] in "PS" else c for c in t).split())


def _named_option(answer: str, texts: list[str], strip_accents: bool, exact: bool = False) -> int | None:
    """The one option whose text (``texts``: each option's :func:`_plain` form) the answer names
    as whole words ("Jupiter", "It is Jupiter."), ignoring options inside a longer named one;
    None when it names none or several. ``exact``: only an answer that is an option's text (of
    two or more characters) as a whole."""
    got = _plain(answer, strip_accents)
    if exact:
        same = [i for i, t in enumerate(texts) if len(t) > 1 and t == got]
        return same[0] if len(same) == 1 else None
    named = [i for i, t in enumerate(texts) if t and f" {t} " in f" {got} "]
    named = [i for i in named if not any(j != i and f" {texts[i]} " in f" {texts[j]} " for j in named)]
    return named[0] if len(named) == 1 else None


class Choice(BaseScorer):
    """Multiple choice: the option the answer picks equals the reference option.

    The answer's letter is read by :func:`~tailgate.scorers.choice_letter` (every label style the
    ``formats`` and ``shuffle_options`` generators emit, upper or lower case), restricted to the
    letters the item has options for. Failing a letter, an answer that names exactly one option's
    text ("Jupiter") picks that option. The reference may be a letter, a 0-based index (an int)
    or an option's text.
    """

    class Params(_Params):
        options: str | None = None
        """The field holding the options: a list, or lines labelled ``A)``, ``(b)``... (default:
        the item's only list field, else its only block of labelled lines)."""
        option_text: bool = True
        """Count an answer that names one option's text (and no letter) as that option."""
        strip_accents: bool = False

    # The scorer reads the letter itself: it needs the item's options (how many letters there
    # are, and their texts). An explicit ``extract:`` still runs first.

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        # What score() reads from an item (its options, their plain texts, the reference's
        # letters) is the same for each of its repeats: kept for the items seen last, by
        # identity (each entry holds its item, so an id is not reused while it is kept).
        self._facts: dict[int, tuple[Item, list[str] | None, list[str], set[str]]] = {}

    def score(self, answer: str, item: Item) -> Score:
        options, texts, refs = self._item_facts(item)
        letters = _LETTERS[: len(options)] if options else ""
        by_text = options is not None and self.params.option_text
        # an answer that is an option's text ("E coli") is that option, whatever letter it starts with
        index = _named_option(answer, texts, self.params.strip_accents, exact=True) if by_text and options else None
        # only the item's letters can be picked, unless the options found do not fit the reference
        allowed = letters if refs <= set(letters) else None
        letter = _LETTERS[index] if index is not None else choice_letter(answer, allowed)
        if letter is None and by_text and options:
            index = _named_option(answer, texts, self.params.strip_accents)
            letter = None if index is None else _LETTERS[index]
        if letter is None:
            return Score(0.0, None)
        return _verdict(letter in refs, letter)

    def _item_facts(self, item: Item) -> tuple[list[str] | None, list[str], set[str]]:
        kept = self._facts.get(id(item))
        if kept is not None and kept[0] is item:
            return kept[1], kept[2], kept[3]
        options = _listed_options(item, self.params.options)
        refs = self._references(item, options)  # (raises for an item without a reference: not kept)
        texts = [_plain(o, self.params.strip_accents) for o in options or []]
        if len(self._facts) >= 1024:
            self._facts.clear()
        self._facts[id(item)] = (item, options, texts, refs)
        return options, texts, refs

    def _references(self, item: Item, options: list[str] | None) -> set[str]:
        refs = set()
        for ref in _references(item):
            text = _as_text(ref).strip()
            if len(text) == 1 and text.upper() in _LETTERS:
                refs.add(text.upper())
            elif options and isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(options):
                refs.add(_LETTERS[ref])
            elif options:
                named = [i for i, o in enumerate(options) if _plain(o) == _plain(text)]
                refs.update(_LETTERS[i] for i in named[:1])
        return refs


class PythonScorer(BaseScorer):
    class Params(_Params):
        function: str
        """``module:function`` or ``path/to/file.py:function``, called as
        ``function(answer, reference, item_input)``; returns a bool, a number in [0, 1], or a dict
        with ``value`` and optionally ``answer``."""

    def __init__(self, params: Params) -> None:
        super().__init__(params)
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
