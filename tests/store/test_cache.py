"""The SQLite response cache: stats, clearing by age, refresh, and caches written before."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tailgate.store import ResponseCache


def test_stats_clear_older_than_and_refresh(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    assert cache.stats().entries == 0
    assert not cache.path.exists()
    cache.put("a", {"text": "old"}, model="python:m:f")
    cache.put("b", {"text": "new"}, model="openai:x")
    cache.flush()
    db = sqlite3.connect(cache.path)
    db.execute("UPDATE responses SET created = ? WHERE key = 'a'", (time.time() - 3 * 86400,))
    db.commit()
    db.close()
    stats = cache.stats()
    assert (stats.entries, stats.by_model) == (2, {"openai:x": 1, "python:m:f": 1})
    assert stats.oldest is not None
    assert stats.newest is not None
    assert stats.oldest < stats.newest
    assert cache.clear(older_than_s=2 * 86400) == 1
    assert set(cache.get_many(["a", "b"])) == {"b"}
    refresh = ResponseCache(cache.path, read=False)
    assert refresh.get_many(["b"]) == {}  # --refresh reads nothing ...
    refresh.put("b", {"text": "refreshed"})
    refresh.close()
    assert cache.get_many(["b"])["b"]["text"] == "refreshed"  # ... and overwrites
    assert cache.clear() == 1
    cache.close()


def test_a_cache_written_before_the_model_column_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)")
    db.execute("INSERT INTO responses VALUES ('k', '{\"text\": \"t\"}', 1.0)")
    db.commit()
    db.close()
    cache = ResponseCache(path)
    assert cache.get_many(["k"])["k"] == {"text": "t"}
    assert cache.stats().by_model == {"(unknown)": 1}
    cache.close()
