"""Shared fixtures: every test gets its own store and working directory, and no real keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailgate import registry
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.entry_points import missing_entry_points
from tests.support.seed_models import seed_items
from tests.support.suites import make_suite

# Components this checkout declares that the installed metadata lacks (an editable install made
# before they were added) are registered in-process, as an up-to-date install would find them.
for _group, _table in missing_entry_points().items():
    for _name, _target in _table.items():
        registry.register(_group.removeprefix("tailgate."), _name)(registry.load_callable(_target))


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
