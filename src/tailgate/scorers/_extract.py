"""Named extractors: pull the answer out of a raw output before a scorer compares it.

An extractor is ``f(text, arg) -> str | None``; ``None`` means nothing could be extracted (the
answer counts as wrong, not as unscored). In a suite an extractor is named with an optional
argument after the first colon: ``last_number``, ``json:answer``, ``regex:Answer: (\\w+)``.
"""

from __future__ import annotations

import functools
import json
import re

from tailgate.records import canonical_json
from tailgate.text import find_json, normalize_text, parse_number

__all__ = [
    "choice_letter",
    "compile_pattern",
    "find_json",
    "first_line",
    "first_number",
    "first_word",
    "identity",
    "json_value",
    "last_number",
    "normalize_text",
    "parse_number",
    "regex",
    "strip",
]

_NUMBER = re.compile("[-+\u2212]?\\d[\\d,\u00a0\u202f]*(?:\\.\\d+)?|[-+\u2212]?\\.\\d+")


def identity(text: str, arg: str | None = None) -> str | None:
    return text


def strip(text: str, arg: str | None = None) -> str | None:
    return text.strip()


def first_line(text: str, arg: str | None = None) -> str | None:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return None


def first_word(text: str, arg: str | None = None) -> str | None:
    words = re.findall(r"\w+(?:['’]\w+)*", text)
    return words[0] if words else None


def _numbers(text: str) -> list[str]:
    return [m.group(0).rstrip(",\u00a0\u202f") for m in _NUMBER.finditer(text)]


def _format_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def last_number(text: str, arg: str | None = None) -> str | None:
    for token in reversed(_numbers(text)):
        value = parse_number(token)
        if value is not None:
            return _format_number(value)
    return None


def first_number(text: str, arg: str | None = None) -> str | None:
    for token in _numbers(text):
        value = parse_number(token)
        if value is not None:
            return _format_number(value)
    return None


_CHOICE_PATTERNS = (
    re.compile(r"(?i)(?:answer|réponse|respuesta|antwort)\s*(?:is|est|es|ist)?\s*[:：]?\s*\(?\b([A-J])\b\)?"),
    re.compile(r"^\s*\(?([A-J])(?:[).:\]]|$|\s+(?![a-z]))"),
    re.compile(r"\(([A-J])\)"),
)
_LONE_LETTER = re.compile(r"\b([A-J])\b")
_WORD_AFTER = re.compile(r"\s+[a-z]")


def choice_letter(text: str, arg: str | None = None) -> str | None:
    """The chosen option letter: after "answer is", else a leading letter, else "(X)", else the
    first lone capital A-J that is not the English word "A" or "I" ("I think it is D" -> D)."""
    for pattern in _CHOICE_PATTERNS:
        if m := pattern.search(text):
            return m.group(1).upper()
    for m in _LONE_LETTER.finditer(text):
        if m.group(1) in "AI" and _WORD_AFTER.match(text, m.end()):
            continue
        return m.group(1)
    return None


def json_value(text: str, arg: str | None = None) -> str | None:
    """The JSON value at path ``arg`` (dotted keys and list indices: ``answer``, ``a.b.0``) of the
    first JSON in the text, as a string (objects and lists as canonical JSON)."""
    try:
        value = find_json(text)
    except ValueError:
        return None
    for part in (arg or "").split(".") if arg else []:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return _format_number(float(value))
    return canonical_json(value)


@functools.lru_cache(maxsize=256)
def compile_pattern(arg: str | None) -> re.Pattern[str]:
    """The regex extractor's pattern, compiled once; checked when the suite is loaded.

    Raises:
        ValueError: no pattern, or one Python's ``re`` cannot compile.
    """
    if not arg:
        raise ValueError("the regex extractor needs a pattern: regex:<pattern>")
    try:
        return re.compile(arg)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"invalid regular expression {arg!r}: {exc}") from None


def regex(text: str, arg: str | None = None) -> str | None:
    """First match of the pattern ``arg``: its first group if it has one, else the whole match."""
    m = compile_pattern(arg).search(text)
    if m is None:
        return None
    return m.group(1) if m.groups() else m.group(0)
