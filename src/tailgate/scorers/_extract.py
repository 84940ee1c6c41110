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


# A letter that stands alone: not part of a word, an abbreviation ("e.g.", "i.e.") or a
# contraction ("I'm"), and not the article "a" / pronoun "I" before a word ("a planet").
_ALONE = r"(?![\w'’-]|\.\w)"
_LABEL = rf"[(\[]?([A-Ja-j]){_ALONE}"
_CHOICE_PATTERNS = (
    # "Answer: b", "The answer is (B)", "ANSWER = b)", "Réponse : B", "correct option: [c]"
    re.compile(
        r"(?i:\b(?:answer|réponse|respuesta|antwort|option|choice)\b(?:\s+(?:is|est|es|ist|would be|should be))?)"
        rf"\s*[:：=-]*\s*{_LABEL}"
    ),
    # a line that starts with a label: "b) Jupiter", "(B)", "[c] ...", "D.", "a: Mars", "B Jupiter", "c"
    re.compile(rf"(?m)^[ \t>-]*{_LABEL}(?=[)\]]|[.:](?!\w)|[ \t]*$|[ \t]+(?![a-z]))"),
    # a bracketed label anywhere: "(b)", "[C]"
    re.compile(r"(?<!\w)[(\[]([A-Ja-j])[)\]]"),
    # a closing-parenthesis label after other words: "I choose b) Jupiter"
    re.compile(r"(?<![\w(\[])([A-Ja-j])\)"),
)
# Last resort: a lone capital ("I think it is D"), never "I" (the pronoun) and not "A" before a word.
_LONE_CAPITAL = re.compile(rf"(?<![\w'’-])([A-HJ]){_ALONE}")
_WORD_AFTER = re.compile(r"[ \t]+[a-z]")
_MARKUP = re.compile(r"[*`]+")  # Markdown emphasis and code around a letter: **B**, `b`
_ALL_LETTERS = "ABCDEFGHIJ"


def _article(text: str, m: re.Match[str]) -> bool:
    """The letter matched is the English article "a" or the pronoun "I" before a word."""
    return m.group(1) in "aAiI" and _WORD_AFTER.match(text, m.end(1)) is not None


def choice_letter(text: str, arg: str | None = None) -> str | None:
    """The chosen option letter, upper case, from the answer styles a model writes and the option
    labels tailgate's generators emit (``A.``, ``(A)``, ``a)``, ``[A]``, ``A:``, ``(a)``, upper or
    lower case): after "answer is" / "Answer:", else a label starting a line ("b) Jupiter",
    "**B**"), else a bracketed label "(b)" anywhere, else "b)" after other words, else the first
    lone capital that is not the word "I" or the article "A" ("I think it is D" -> D).

    ``arg``: the letters that are options (``choice_letter:ABCD``); others are never returned.
    Lower-case letters count only in label positions, so prose ("a planet", "i.e.") gives None.
    """
    allowed = set((arg or _ALL_LETTERS).upper())
    clean = _MARKUP.sub("", text)
    for pattern in _CHOICE_PATTERNS:
        for m in pattern.finditer(clean):
            if m.group(1).upper() in allowed and not _article(clean, m):
                return m.group(1).upper()
    for m in _LONE_CAPITAL.finditer(clean):
        if m.group(1) in allowed and not _article(clean, m):
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
