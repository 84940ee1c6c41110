"""Failure profile: the ICC verdict says when repeats could not differ."""

from __future__ import annotations

import numpy as np
import pytest

from tailgate.analysis import failure_profile
from tailgate.analysis._data import ItemFrame


def _items(scores: np.ndarray) -> ItemFrame:
    """An ItemFrame of items x repeats 0/1 scores."""
    n_items, repeats = scores.shape
    n = np.full(n_items, float(repeats))
    return ItemFrame(
        item_id=np.array([f"i{k}" for k in range(n_items)], dtype=object),
        source_id=np.array([None] * n_items, dtype=object),
        text=[""] * n_items,
        n_samples=n,
        n_scored=n,
        sum_score=scores.sum(axis=1),
        sum_sq=(scores**2).sum(axis=1),
        n_pass=scores.sum(axis=1),
        n_errors=np.zeros(n_items),
        tokens_in=np.zeros(n_items),
    )


def test_identical_repeats_at_temperature_0_are_not_called_systematic() -> None:
    """Greedy repeats are copies: ICC 1.00 must not read "systematic" (issue: 'ICC 1.00:
    systematic' on every run at the default temperature)."""
    items = _items(np.repeat((np.arange(60) % 4 == 0).astype(float)[:, None], 3, axis=1))
    greedy = failure_profile(items, 1.0, temperature=0.0)
    assert greedy.icc.value == pytest.approx(1.0)
    assert greedy.verdict.startswith("not informative")
    assert any("temperature 0 cannot differ" in w for w in greedy.warnings)
    assert greedy.as_dict()["warnings"] == greedy.warnings
    sampled = failure_profile(items, 1.0, temperature=0.7)  # then identical repeats are evidence
    assert sampled.verdict.startswith("systematic")
    assert sampled.warnings == []
    unknown = failure_profile(items, 1.0)  # an imported run: say what it depends on
    assert unknown.verdict.startswith("systematic")
    assert any("temperature is unknown" in w for w in unknown.warnings)


def test_repeats_that_differ_at_temperature_0_carry_a_warning() -> None:
    rng = np.random.default_rng(0)
    items = _items((rng.uniform(size=(80, 4)) < 0.8).astype(float))
    profile = failure_profile(items, 1.0, temperature=0.0)
    assert not profile.verdict.startswith("not informative")
    assert any("nondeterminism" in w for w in profile.warnings)
