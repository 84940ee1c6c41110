"""Shared fixtures: every test gets its own store and working directory, and no real keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.seed_models import seed_items
from tests.support.suites import make_suite


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAILGATE_STORE", str(tmp_path / "store"))
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def seed_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, str]]:
    """The seed scenario's two models (same mean: A fails at random, B on whole slices), 5 repeats."""
    folder = tmp_path_factory.mktemp("seed-runs")
    store = Store(folder / "store")
    suite = make_suite(
        folder / "suite",
        seed_items(),
        scorers=[{"type": "exact"}],
        repeats=5,
        # sampled, not greedy: at temperature 0 the ICC of repeats would not be informative
        extra={"dataset": {"path": "items.jsonl", "id": "id", "reference": "answer"}, "decoding": {"temperature": 0.7}},
    )
    ids = {}
    for name in ("random_failures", "systematic_failures"):
        result = run_sync(
            RunOptions(
                suite=str(suite), model=f"python:tests.support.seed_models:{name}", store=str(store.root), cache=False
            )
        )
        ids[name] = result.run_id
    return store, ids
