"""Report statistics against independent computations and published numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from tailgate.analysis import (
    adjust_bh,
    adjust_by,
    bootstrap_percentiles,
    estimate_from_sums,
    gini,
    gini_weighted,
    mean_estimate,
    pass_at_k,
    pass_hat_k,
    variance_components,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0.0, 1.0, 0.5, 0.25]), min_size=1, max_size=6), min_size=1, max_size=30))
def test_estimate_from_sums_equals_estimate_on_samples(items: list[list[float]]) -> None:
    values = np.array([v for item in items for v in item])
    clusters = np.array([i for i, item in enumerate(items) for _ in item])
    binary = bool(np.isin(values, (0.0, 1.0)).all())
    direct = mean_estimate(values, clusters)
    counts = np.array([len(i) for i in items])
    sums = np.array([sum(i) for i in items])
    via_sums = estimate_from_sums(counts, sums, binary)
    assert via_sums.value == pytest.approx(direct.value)
    if direct.low is None:
        assert via_sums.low is None
    else:
        assert via_sums.low == pytest.approx(direct.low, abs=1e-9)
        assert via_sums.high == pytest.approx(direct.high, abs=1e-9)
    assert (via_sums.n_items, via_sums.n_samples) == (direct.n_items, direct.n_samples)


def _comb_pass_at_k(n: int, c: int, k: int) -> float:
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize("k", [1, 2, 5, 10])
def test_pass_at_k_matches_exact_combinatorics(k: int) -> None:
    n = np.array([10, 10, 10, 20, 20, 5])
    c = np.array([0, 3, 10, 1, 19, 5])
    expected = [_comb_pass_at_k(int(a), int(b), k) if a >= k else np.nan for a, b in zip(n, c, strict=True)]
    np.testing.assert_allclose(pass_at_k(n, c, k), expected, rtol=1e-10)


def test_pass_hat_k_matches_exact_combinatorics() -> None:
    n, c = np.array([5, 5, 8, 3]), np.array([5, 3, 4, 1])
    for k in (1, 2, 3):
        expected = [math.comb(int(b), k) / math.comb(int(a), k) for a, b in zip(n, c, strict=True)]
        np.testing.assert_allclose(pass_hat_k(n, c, k), expected, rtol=1e-10)
    # pass^1 is the plain success rate, and pass^k never exceeds pass@k
    np.testing.assert_allclose(pass_hat_k(n, c, 1), c / n)
    assert (pass_hat_k(n, c, 2) <= pass_at_k(n, c, 2)).all()
    assert np.isnan(pass_hat_k(np.array([2]), np.array([2]), 3)).all()


@pytest.mark.parametrize("task", ["input", "output"])
def test_pass_at_k_reproduces_cruxeval_published_numbers(task: str) -> None:
    """CRUXEval (Gu et al. 2024) publishes pass@1 and pass@5 for CodeLlama-7B from 10 samples
    per item; the file carries the scored samples and those published numbers."""
    path = DATA / "cruxeval" / f"sample_scored_codellama-7b_temp0.2_{task}.json"
    data = json.loads(path.read_text())
    scored = data["raw_scored_generations"]
    n = np.array([len(v) for v in scored.values()])
    c = np.array([sum(v) for v in scored.values()])
    for k, published in ((1, data["pass_at_1"]), (5, data["pass_at_5"])):
        ours = 100 * float(np.mean(pass_at_k(n, c, k)))
        assert round(ours, 2) == pytest.approx(published, abs=0.011), (k, ours, published)


def test_bh_and_by_match_statsmodels() -> None:
    rng = np.random.default_rng(4)
    p = np.concatenate([rng.uniform(0, 0.01, 8), rng.uniform(0, 1, 40)])
    np.testing.assert_allclose(adjust_bh(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12)
    np.testing.assert_allclose(adjust_by(p), multipletests(p, method="fdr_by")[1], rtol=1e-12)


def test_bh_published_example() -> None:
    """Benjamini & Hochberg (1995), section 4: 15 p-values; at q = 0.05 the first 4 are rejected."""
    p = np.array(
        [
            0.0001,
            0.0004,
            0.0019,
            0.0095,
            0.0201,
            0.0278,
            0.0298,
            0.0344,
            0.0459,
            0.3240,
            0.4262,
            0.5719,
            0.6528,
            0.7590,
            1.0000,
        ]
    )
    assert int((adjust_bh(p) <= 0.05).sum()) == 4


def test_gini_closed_forms() -> None:
    assert gini(np.ones(10)) == 0.0
    assert gini(np.array([0, 0, 0, 1.0])) == pytest.approx(0.75)  # (n-1)/n when one holds all
    rng = np.random.default_rng(1)
    x = rng.random(50)
    direct = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean())
    assert gini(x) == pytest.approx(direct)
    values, weights = rng.integers(0, 5, 30) / 4, rng.integers(1, 5, 30)
    assert gini_weighted(values, weights) == pytest.approx(gini(np.repeat(values, weights)))


def test_variance_components_equal_one_way_anova_estimators() -> None:
    """For balanced data, B and W are the one-way random-effects ANOVA estimators
    (Searle, Casella & McCulloch 1992, ch. 3): W = MSW, B = (MSB - MSW) / K."""
    rng = np.random.default_rng(2)
    items, k = 200, 4
    x = rng.normal(0, 1, items)[:, None] + rng.normal(0, 0.7, (items, k))
    means = x.mean(axis=1)
    msw = ((x - means[:, None]) ** 2).sum() / (items * (k - 1))
    msb = k * ((means - means.mean()) ** 2).sum() / (items - 1)
    n = np.full(items, k)
    b, w = variance_components(n, x.sum(axis=1), (x**2).sum(axis=1))
    assert w == pytest.approx(msw)
    assert b == pytest.approx((msb - msw) / k)
    assert 0.7 < b < 1.4
    assert 0.4 < w < 0.6


def _naive_cluster_bootstrap(
    values: np.ndarray, clusters: np.ndarray, q: float, reps: int, seed: int
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    groups = [values[clusters == c] for c in np.unique(clusters)]
    stats = [
        np.percentile(np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))]), q)
        for _ in range(reps)
    ]
    return float(np.quantile(stats, 0.025)), float(np.quantile(stats, 0.975))


def test_bootstrap_percentiles_agree_with_a_naive_cluster_bootstrap() -> None:
    rng = np.random.default_rng(5)
    items = 150
    item_scale = rng.lognormal(0, 0.5, items)
    clusters = np.repeat(np.arange(items), 6)
    values = np.round(item_scale[clusters] * rng.lognormal(5, 0.3, clusters.size), 1)
    ours = {p.q: p for p in bootstrap_percentiles(values, clusters, [50, 95], replicates=2000, seed=1)}
    for q in (50, 95):
        assert ours[q].value == pytest.approx(np.percentile(values, q))
        low, high = _naive_cluster_bootstrap(values, clusters, q, 2000, 7)
        width = high - low
        assert ours[q].low == pytest.approx(low, abs=0.15 * width)
        assert ours[q].high == pytest.approx(high, abs=0.15 * width)
    assert "2000 replicates, seed 1" in ours[50].method


def test_bootstrap_binned_path_is_close_to_exact() -> None:
    rng = np.random.default_rng(6)
    clusters = np.repeat(np.arange(3000), 4)
    values = rng.lognormal(5, 1, clusters.size)  # 12,000 distinct values: binned
    (p,) = bootstrap_percentiles(values, clusters, [99], replicates=400, seed=0)
    assert "4,096 quantile bins" in p.method
    assert p.value == pytest.approx(np.percentile(values, 99))
    low, high = _naive_cluster_bootstrap(values, clusters, 99, 400, 3)
    assert p.low == pytest.approx(low, rel=0.05)
    assert p.high == pytest.approx(high, rel=0.05)
