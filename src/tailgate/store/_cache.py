"""The response cache: SQLite in the store folder, keyed by the sample's cache key.

The key covers provider, model identity, mode, every decoding parameter (effective seed
included), the rendered prompt and the repeat index, so K repeats stay K independent samples.
Only successful responses are cached. Writes are committed in small batches; losing the last
batch to a crash only costs a cache miss, never a record.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["ResponseCache"]

_BATCH = 256


class ResponseCache:
    """Key -> response dict, persistent across runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pending = 0

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                "created REAL NOT NULL)"
            )
            self._db = db
        return self._db

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Cached responses for those keys that have one."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        if not wanted or not self.path.exists():
            return found
        db = self._conn()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in db.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk):
                found[key] = json.loads(value)
        return found

    def put(self, key: str, value: dict[str, Any]) -> None:
        db = self._conn()
        if self._pending == 0:
            db.execute("BEGIN")
        db.execute(
            "INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)",
            (key, json.dumps(value, ensure_ascii=False), time.time()),
        )
        self._pending += 1
        if self._pending >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self._db is not None and self._pending:
            self._db.execute("COMMIT")
            self._pending = 0

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None
