"""Slice discovery against an exhaustive brute force, and its tests against scipy (Fisher's exact
test; the exhaustive permutation test, ``scipy.stats.permutation_test`` with every split)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tailgate.analysis import build_cells, enumerate_slices, significance, sliceline_topk


def _brute_force(
    features: dict[str, np.ndarray], errors: np.ndarray, depth: int, support: int, alpha: float
) -> dict[tuple[str, ...], tuple[int, float]]:
    """Every conjunction of attribute values on distinct attributes, straight from the rows."""
    n, mean = errors.size, errors.mean()
    preds = [(name, v) for name, labels in features.items() for v in sorted(set(labels.tolist()))]

    def mask_of(combo: tuple[tuple[str, str], ...]) -> np.ndarray:
        mask = np.ones(n, dtype=bool)
        for f, v in combo:
            mask &= features[f] == v
        return mask

    out = {}
    for d in range(1, depth + 1):
        for combo in itertools.combinations(preds, d):
            if len({f for f, _ in combo}) < d:
                continue
            mask = mask_of(combo)
            size = int(mask.sum())
            if size < support:
                continue
            # a slice equal (as a set) to one with a predicate fewer is redundant
            if d > 1 and any(int(mask_of(sub).sum()) == size for sub in itertools.combinations(combo, d - 1)):
                continue
            rate = errors[mask].mean()
            score = alpha * (rate / mean - 1) - (1 - alpha) * (n / size - 1) if mean > 0 else -np.inf
            out[tuple(sorted(f"{f}={v}" for f, v in combo))] = (size, float(score))
    return out


def _data(seed: int, n: int = 120) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    features = {
        "a": rng.choice(["x", "y", "z"], n),
        "b": rng.choice(["p", "q"], n),
        "c": rng.choice(["u", "v", "w", "t"], n),
        "d": rng.choice(["m", "n"], n),
    }
    base = 0.2 + 0.5 * ((features["a"] == "x") & (features["b"] == "p"))
    errors = (rng.random(n) < base).astype(float)
    return features, errors


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 15), st.sampled_from([0.9, 0.95, 0.99]), st.integers(1, 3))
def test_enumeration_and_pruned_topk_match_brute_force(seed: int, support: int, alpha: float, depth: int) -> None:
    features, errors = _data(seed)
    brute = _brute_force(features, errors, depth, support, alpha)
    cells = build_cells(features, errors)
    family = enumerate_slices(cells, depth, support, alpha)
    label = {s.predicates: tuple(sorted(str(cells.predicates[p]) for p in s.predicates)) for s in family}
    ours = {label[s.predicates]: (s.size, s.score) for s in family}
    assert set(ours) == set(brute)
    for key, (size, score) in brute.items():
        assert ours[key][0] == size
        assert ours[key][1] == pytest.approx(score)
    k = 5
    top, _evaluated = sliceline_topk(cells, k, depth, support, alpha)
    best = sorted((v[1] for v in brute.values() if v[1] > 0), reverse=True)[:k]
    assert [s.score for s in top] == pytest.approx(best)


def test_score_bound_pruning_skips_work_on_a_large_lattice() -> None:
    features, errors = _data(1, n=2000)
    features.update({f"noise{i}": np.random.default_rng(i).choice(["a", "b", "c"], 2000) for i in range(6)})
    cells = build_cells(features, errors)
    family = enumerate_slices(cells, 3, 20, 0.95)
    top, evaluated = sliceline_topk(cells, 3, 3, 20, 0.95)
    assert evaluated < len(family) / 3
    assert {str(cells.predicates[p]) for p in top[0].predicates} == {"a=x", "b=p"}


def test_fisher_exact_for_binary_errors() -> None:
    features, errors = _data(3)
    cells = build_cells(features, errors)
    family = enumerate_slices(cells, 2, 5)
    significance(cells, family)
    for s in family[:15]:
        mask = np.ones(errors.size, dtype=bool)
        for p in s.predicates:
            pred = cells.predicates[p]
            mask &= features[pred.feature] == pred.value
        table = [[errors[mask].sum(), (1 - errors[mask]).sum()], [errors[~mask].sum(), (1 - errors[~mask]).sum()]]
        expected = stats.fisher_exact(table, alternative="greater").pvalue
        assert s.p_value == pytest.approx(expected, rel=1e-9)


def _slice_mask(cells: object, s: object, features: dict[str, np.ndarray]) -> np.ndarray:
    mask = np.ones(next(iter(features.values())).size, dtype=bool)
    for p in s.predicates:  # type: ignore[attr-defined]
        pred = cells.predicates[p]  # type: ignore[attr-defined]
        mask &= features[pred.feature] == pred.value
    return mask


def _exact_permutation_p(x: np.ndarray, y: np.ndarray) -> float:
    """scipy's permutation test, every split enumerated (n_resamples=inf): the oracle."""
    result = stats.permutation_test(
        (x, y),
        lambda a, b, axis: np.sum(a, axis=axis),
        permutation_type="independent",
        alternative="greater",
        n_resamples=np.inf,
        vectorized=True,
    )
    return float(result.pvalue)


@pytest.mark.parametrize("lattice", [3, 10, None])
def test_exact_permutation_test_for_fractional_errors(lattice: int | None) -> None:
    """Item errors with repeats (k/K) or continuous: the one-sided exact permutation test of the
    slice's error sum, against scipy's exhaustive permutation test. Slices of more than half the
    items go through the complement."""
    rng = np.random.default_rng(5)
    n = 16
    features = {"a": rng.choice(["x", "y", "z"], n), "b": rng.choice(["p", "q"], n)}
    if lattice is None:  # continuous scores: the statistic is the sum rounded to 1/10
        errors = rng.random(n)
        statistic = np.rint(errors * 10)
    else:
        errors = rng.binomial(lattice, 0.4, n) / lattice
        statistic = errors
    cells = build_cells(features, errors)
    family = enumerate_slices(cells, 2, 2)
    significance(cells, family)
    sizes = set()
    for s in family:
        mask = _slice_mask(cells, s, features)
        sizes.add(int(mask.sum()))
        assert s.p_value == pytest.approx(_exact_permutation_p(statistic[mask], statistic[~mask]), rel=1e-9)
    assert min(sizes) < n / 2 < max(sizes)


def test_zero_variance_slice_is_not_certain() -> None:
    """Six items at error 2/3 each (no spread) above a mean of 0.45: Welch's t was infinite, so
    p = 0, a certainty no finite sample gives; the permutation p-value is what chance gives."""
    errors = np.array([2 / 3] * 6 + [0, 1 / 3, 2 / 3, 1, 0, 1 / 3, 1 / 3, 0, 1, 2 / 3, 0, 1 / 3, 0, 1 / 3])
    features = {"g": np.array(["in"] * 6 + ["out"] * 14, dtype=object)}
    cells = build_cells(features, errors)
    family = enumerate_slices(cells, 1, 2)
    significance(cells, family)
    s = next(s for s in family if str(cells.predicates[s.predicates[0]]) == "g=in")
    assert s.p_value > 0.01
    assert s.p_value == pytest.approx(_exact_permutation_p(errors[:6], errors[6:]), rel=1e-9)


@pytest.mark.parametrize("budget", [2e4, 1.0])
def test_large_slices_use_a_coarser_lattice_exactly(monkeypatch: pytest.MonkeyPatch, budget: float) -> None:
    """Past the exact programme's budget on the fine lattice (here: slices with more than a few items
    on both sides at budget 2e4), the same exact test on errors coarsened to thirds; with no budget
    at all, to halves (Fisher's exact test on error >= 0.5)."""
    import tailgate.analysis._discovery as discovery

    monkeypatch.setattr(discovery, "EXACT_BUDGET", budget)
    rng = np.random.default_rng(8)
    n = 16
    features = {"a": rng.choice(["x", "y", "z"], n), "b": rng.choice(["p", "q"], n)}
    errors = rng.binomial(10, 0.4, n) / 10
    cells = build_cells(features, errors)
    family = enumerate_slices(cells, 2, 2)
    significance(cells, family)
    thirds = np.floor(errors * 3 + 0.5)
    halves = np.floor(errors + 0.5)
    fine = discovery._exact_reach(cells.level_counts, 10, n // 2)  # 4 to 6 with these levels
    tiers = set()
    for s in family:
        mask = _slice_mask(cells, s, features)
        small = min(mask.sum(), n - mask.sum())
        statistic = halves if budget < 10 else (errors if small <= fine else thirds)
        tiers.add(small <= fine)
        assert s.p_value == pytest.approx(_exact_permutation_p(statistic[mask], statistic[~mask]), rel=1e-9)
    assert tiers == ({False} if budget < 10 else {True, False})


def test_ordinal_predicates() -> None:
    labels = np.array(["<100", "100-250", "250-500", "250-500", ">=500", "<100"], dtype=object)
    cells = build_cells(
        {"len": labels}, np.array([0, 0, 1, 1, 1, 0.0]), ordinal={"len": ["<100", "100-250", "250-500", ">=500"]}
    )
    names = {str(p) for p in cells.predicates}
    assert {"len>=250", "len>=100", "len=250-500"} <= names
    family = {tuple(str(cells.predicates[p]) for p in s.predicates): s for s in enumerate_slices(cells, 1, 1)}
    assert family[("len>=250",)].size == 3
    assert family[("len>=250",)].err_sum == 3
