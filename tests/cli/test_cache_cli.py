"""``tailgate cache stats|clear``, ``run --refresh``, and what ``show``/``report`` say about the cache."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import tailgate
from tests.support.cli import tailgate_ok as _ok
from tests.support.suites import make_suite

MODEL = "python:tests.support.models:oracle"


def test_cached_samples_are_visible_in_show_and_report_and_cache_stats_clear(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s", repeats=2)
    _ok("run", str(suite), "--model", MODEL, "--run-id", "r1", "-q", "--json")
    again = json.loads(_ok("run", str(suite), "--model", MODEL, "--run-id", "r2", "-q", "--json"))
    assert again["cached"] == 8
    assert "8 of 8 samples replayed from the cache" in _ok("show", "r2")
    assert "replayed from the cache" not in _ok("show", "r1")
    report = _ok("report", "r2")
    assert "8 of 8 samples replayed from the cache" in report
    assert json.loads(_ok("report", "r2", "--json"))["overview"]["n_cached"] == 8
    _ok("report", "r2", "--html", str(tmp_path / "r2.html"))
    assert "8 of 8 samples replayed from the cache" in (tmp_path / "r2.html").read_text()

    stats = json.loads(_ok("cache", "stats", "--json"))
    assert stats["entries"] == 8
    assert stats["by_model"] == {MODEL: 8}
    assert stats["bytes"] > 0
    assert "8 entries" in _ok("cache", "stats")
    assert "deleted 0 cached answers older than 30d" in _ok("cache", "clear", "--older-than", "30d")
    assert "deleted 8 cached answers" in _ok("cache", "clear")
    assert json.loads(_ok("cache", "stats", "--json"))["entries"] == 0
    third = json.loads(_ok("run", str(suite), "--model", MODEL, "--run-id", "r3", "-q", "--json"))
    assert third["cached"] == 0
    assert third["issued"] == 8


def test_refresh_and_cache_errors_are_usage_errors(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s")
    refreshed = json.loads(_ok("run", str(suite), "--model", MODEL, "--refresh", "-q", "--json"))
    assert refreshed["cached"] == 0
    proc = tailgate("run", str(suite), "--model", MODEL, "--refresh", "--no-cache", "-q")
    assert proc.returncode == 2
    assert "give one" in proc.stderr
    proc = tailgate("cache", "clear", "--older-than", "soon")
    assert proc.returncode == 2
    assert "not a duration" in proc.stderr
    for sub in ("stats", "clear"):
        assert "Usage:" in _ok("cache", sub, "--help")
