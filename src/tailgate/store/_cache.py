"""The response cache: SQLite in the store folder, keyed by the sample's cache key.

The key covers what answers (the provider's identity: a ``python:`` function's source hash, a
GGUF file's SHA-256, an endpoint's URL, model name and API-key id), mode, every decoding
parameter (effective seed included), the rendered prompt and the repeat index, so K repeats stay
K independent samples. Each entry also keeps what the endpoint said it served (``served``), which
the runner checks against a live call before replaying. Only successful responses are cached.
Writes are committed in small batches; losing the last batch to a crash only costs a cache miss,
never a record.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CacheStats", "ResponseCache"]

_BATCH = 256


@dataclass(frozen=True)
class CacheStats:
    """What ``tailgate cache stats`` prints."""

    path: str
    entries: int
    bytes: int
    oldest: float | None
    newest: float | None
    by_model: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "entries": self.entries,
            "bytes": self.bytes,
            "oldest": self.oldest,
            "newest": self.newest,
            "by_model": self.by_model,
        }


class ResponseCache:
    """Key -> response dict, persistent across runs.

    ``read=False`` (``--refresh``) makes every lookup a miss while writes still replace entries,
    so a refreshed run calls the model again and overwrites what was cached.
    """

    def __init__(self, path: Path, *, read: bool = True) -> None:
        self.path = path
        self.read = read
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
            columns = {row[1] for row in db.execute("PRAGMA table_info(responses)")}
            if "model" not in columns:  # caches written before 0.x had no model column
                db.execute("ALTER TABLE responses ADD COLUMN model TEXT")
            self._db = db
        return self._db

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Cached responses for those keys that have one (none when ``read`` is off)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        if not self.read or not wanted or not self.path.exists():
            return found
        db = self._conn()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in db.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk):
                found[key] = json.loads(value)
        return found

    def put(self, key: str, value: dict[str, Any], model: str | None = None) -> None:
        """Store (or replace) one response; ``model`` is the spec, for ``stats``."""
        db = self._conn()
        if self._pending == 0:
            db.execute("BEGIN")
        db.execute(
            "INSERT OR REPLACE INTO responses (key, value, created, model) VALUES (?, ?, ?, ?)",
            (key, json.dumps(value, ensure_ascii=False), time.time(), model),
        )
        self._pending += 1
        if self._pending >= _BATCH:
            self.flush()

    def stats(self) -> CacheStats:
        """Entries, file size, oldest and newest entry (Unix time), entries per model."""
        if not self.path.exists():
            return CacheStats(str(self.path), 0, 0, None, None, {})
        db = self._conn()
        entries, oldest, newest = db.execute("SELECT count(*), min(created), max(created) FROM responses").fetchone()
        rows = db.execute("SELECT coalesce(model, '(unknown)'), count(*) FROM responses GROUP BY 1 ORDER BY 1")
        size = sum(p.stat().st_size for p in self._files())
        return CacheStats(str(self.path), int(entries), size, oldest, newest, {str(m): int(n) for m, n in rows})

    def clear(self, older_than_s: float | None = None) -> int:
        """Delete every entry (or those created more than ``older_than_s`` ago); returns how many."""
        if not self.path.exists():
            return 0
        self.flush()
        db = self._conn()
        if older_than_s is None:
            deleted = db.execute("DELETE FROM responses").rowcount
        else:
            deleted = db.execute("DELETE FROM responses WHERE created < ?", (time.time() - older_than_s,)).rowcount
        db.execute("VACUUM")
        return int(deleted)

    def _files(self) -> list[Path]:
        names = [self.path.name, self.path.name + "-wal", self.path.name + "-shm"]
        return [p for p in (self.path.with_name(n) for n in names) if p.exists()]

    def flush(self) -> None:
        if self._db is not None and self._pending:
            self._db.execute("COMMIT")
            self._pending = 0

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None
