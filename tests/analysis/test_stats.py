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
    Percentile,
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


@pytest.mark.parametrize(("n", "q"), [(100, 50), (400, 99), (80, 95), (1000, 90)])
def test_percentile_interval_of_independent_samples_is_hutsons_fractional_one(n: int, q: float) -> None:
    """One sample per item: the interval is Hutson's (1999, "Calculating nonparametric confidence
    intervals for quantiles using fractional order statistics", J. Applied Statistics 26(3)) pair
    of fractional order statistics X_(u), u real, linear between neighbours, with u_l and u_u the
    ranks where the Beta(u, n - u + 1) law of the u-th uniform order statistic puts 1 - alpha/2 and
    alpha/2 below q. Checked against scipy's beta CDF solved by brentq, and nested in the classical
    integer-rank interval (Conover 1999, "Practical Nonparametric Statistics", sec. 3.2; for the
    median of 100 his table gives [X_(40), X_(61)])."""
    from scipy import optimize, stats

    values = np.arange(1.0, n + 1)  # the sample's order statistics are their own ranks
    (p,) = bootstrap_percentiles(values, np.arange(n), [q])
    assert p.low is not None
    assert p.high is not None
    share = q / 100

    def rank(level: float) -> float:
        return float(optimize.brentq(lambda u: stats.beta.cdf(share, u, n - u + 1) - level, 1.0, float(n), xtol=1e-12))

    assert p.low == pytest.approx(rank(0.975), abs=1e-6)
    assert p.high == pytest.approx(rank(0.025), abs=1e-6)
    r = int(stats.binom.ppf(0.025, n, share))  # the classical ranks, P(r <= B < s) >= 0.95
    s = int(stats.binom.ppf(0.975, n, share)) + 1
    assert r <= p.low < p.high <= s
    assert stats.binom.cdf(s - 1, n, share) - stats.binom.cdf(r - 1, n, share) >= 0.95
    if (n, q) == (100, 50):
        assert (r, s) == (40, 61)


@pytest.mark.parametrize(("n", "q"), [(100, 95), (100, 5), (300, 50)])
def test_independent_percentile_intervals_cover_neither_more_nor_less(n: int, q: float) -> None:
    """The integer-rank interval covered 0.982 at p95 of 100 (discreteness: its coverage is
    P(r <= B < s) >= 0.95, up to 0.98 at small n); the fractional one covers 0.95 +- 0.02
    (normal samples, 2,000 replications, MC SE 0.005)."""
    rng = np.random.default_rng(n + int(q))
    from statistics import NormalDist

    truth = NormalDist().inv_cdf(q / 100)
    covered = 0
    for _ in range(2000):
        (p,) = bootstrap_percentiles(rng.standard_normal(n), np.arange(n), [q])
        assert p.low is not None
        assert p.high is not None
        covered += p.low <= truth <= p.high
    assert 0.93 <= covered / 2000 <= 0.97


def test_percentile_without_enough_samples_has_no_interval() -> None:
    """A distribution-free 95% interval for p99 needs 0.99^n <= 0.025, n >= 368 independent
    samples: 50 items (the old bootstrap covered 42% there) get the value and a reason."""
    values = np.random.default_rng(0).lognormal(5, 1, 50)
    p95, p99 = bootstrap_percentiles(values, np.arange(50), [95, 99])
    assert p99.value == pytest.approx(np.percentile(values, 99))
    assert p99.low is None
    assert p99.high is None
    assert "too few samples for p99" in p99.method
    assert "368" in p99.method
    assert p95.low is None
    assert "72" in p95.method


@pytest.mark.parametrize(("items", "repeats", "q"), [(40, 3, 0.9), (200, 10, 0.5), (25, 7, 0.99)])
def test_indicator_design_effect_is_the_cluster_robust_variance_of_a_mean(items: int, repeats: int, q: float) -> None:
    """The design effect of a quantile's indicator 1{x <= x_q}: N v / (p (1 - p)) with v the
    cluster-robust variance of the indicator's mean. The oracle is statsmodels' OLS of the
    indicator on a constant with ``cov_type="cluster"`` (Cameron & Miller 2015, "A Practitioner's
    Guide to Cluster-Robust Inference", eq. 11, with its G / (G - 1) (N - 1) / (N - k) factor,
    which for k = 1 is the I / (I - 1) of the ratio estimator), with unequal cluster sizes."""
    import statsmodels.api as sm

    from tailgate.analysis._stats import _indicator_deff

    rng = np.random.default_rng(items * repeats)
    sizes = rng.integers(1, 2 * repeats, items)
    codes = np.repeat(np.arange(items), sizes)
    x = rng.normal(0, 1, items)[codes] + rng.normal(0, 1, codes.size)
    below = x <= np.quantile(x, q)
    fit = sm.OLS(below.astype(float), np.ones(codes.size)).fit(cov_type="cluster", cov_kwds={"groups": codes})
    share = below.mean()
    expected = codes.size * float(fit.bse[0]) ** 2 / (share * (1 - share))
    assert _indicator_deff(below, codes, np.bincount(codes).astype(float)) == pytest.approx(expected, rel=1e-9)
    assert _indicator_deff(np.ones(codes.size, dtype=bool), codes, np.bincount(codes).astype(float)) is None


@pytest.mark.parametrize(("rho", "p"), [(0.3, 0.5), (0.8, 0.5), (0.8, 0.95), (0.26, 0.99), (0.95, 0.05), (0.5, 0.1)])
def test_indicator_correlation_under_a_gaussian_copula(rho: float, p: float) -> None:
    """corr(1{Z1 <= h}, 1{Z2 <= h}) for a standard bivariate normal with correlation rho: against
    scipy's bivariate normal distribution function, and at the median against Sheppard's (1899)
    closed form P(Z1 <= 0, Z2 <= 0) = 1/4 + asin(rho) / (2 pi), so corr = (2 / pi) asin(rho)."""
    from scipy import stats

    from tailgate.analysis._stats import _indicator_correlation

    h = stats.norm.ppf(p)
    normal = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]], seed=0, abseps=1e-10, releps=1e-10)
    joint = normal.cdf([h, h])
    expected = (joint - p * p) / (p * (1 - p))
    assert _indicator_correlation(rho, p) == pytest.approx(expected, abs=1e-6)
    if p == 0.5:
        assert _indicator_correlation(rho, p) == pytest.approx(2 / math.pi * math.asin(rho), rel=1e-12)
    assert _indicator_correlation(rho, p) < rho  # why the old normal-score deff was conservative
    assert _indicator_correlation(0.0, p) == 0.0


def test_tail_quantile_uses_its_own_design_effect_not_the_normal_scores() -> None:
    """200 items x 10 samples whose levels differ item by item (normal scores with intra-class
    correlation about 0.8), but the top 5% are one spike sample in each of 100 items: the tail
    indicator 1{x <= x_q} for q = 97.5 is not clustered at all (each item has 9 or 10 samples
    below, less spread than binomial), so its interval is as narrow as for 2,000 independent
    samples (n_eff = N (z / t_199)^2). The old design effect from the normal scores' ICC (7.69)
    made it three times wider. At the median, where whole items fall on one side, the indicator's
    own design effect is about 9 (10 x 199 / 200 minus the spikes)."""
    items, k = 200, 10
    item = np.repeat(np.arange(items), k)
    j = np.tile(np.arange(k), items)
    x = item + 0.01 * j
    spike = (j == k - 1) & (item % 2 == 0)
    x[spike] = 1000.0 + item[spike]
    order = np.sort(x)

    def rank_width(p: object) -> int:
        assert isinstance(p, Percentile)
        assert p.low is not None
        assert p.high is not None
        return int(np.searchsorted(order, p.high) - np.searchsorted(order, p.low))

    (clustered,) = bootstrap_percentiles(x, item, [97.5])
    (independent,) = bootstrap_percentiles(x, np.arange(x.size), [97.5])
    assert rank_width(clustered) <= 1.05 * rank_width(independent) + 2
    (median,) = bootstrap_percentiles(x, item, [50])
    assert "design effect 9.05 of the p50 indicator" in median.method


def test_few_items_in_the_tail_give_no_interval_even_when_the_direct_variance_is_small() -> None:
    """30 items x 3 samples, each item's samples close together (normal scores' ICC near 1), the
    top 5% one sample in each of 5 items: the p95 indicator's own design effect is about 1 and
    alone would allow an interval (n_eff = 83 >= 72), but it rests on 5 items; runs where it
    happens to be that small covered the true p95 0.68 of the time (30 x 3, ICC 0.8, 400
    replications). The rank-based design effect (a Gaussian copula) says n_eff < 72: no interval,
    and the reason says why. The median still gets one."""
    item = np.repeat(np.arange(30), 3)
    x = item + 0.01 * np.tile(np.arange(3), 30)
    top = (np.tile(np.arange(3), 30) == 2) & (item % 6 == 0)
    x[top] += 100.0
    p50, p95 = bootstrap_percentiles(x, item, [50, 95])
    assert p95.low is None
    assert p95.high is None
    assert "too few items for p95" in p95.method  # (the items rule comes first since Hutson's ranks)
    assert "(100 items), this run has 30" in p95.method
    assert p50.low is not None


@pytest.mark.parametrize(("items", "q", "given"), [(50, 90, True), (49, 90, False), (100, 95, True), (99, 95, False)])
def test_with_repeats_a_percentile_needs_five_items_expected_beyond_it(items: int, q: float, given: bool) -> None:
    """items x min(q, 1 - q) >= 5 with repeats (3 here); the fractional interval covered 0.90
    for p90 of 30 items x 3 and 0.93 for p95 of 30 x 10 (bench/calibration.py): the tail rests on
    two or three items. One sample per item keeps the exact interval at the same size."""
    rng = np.random.default_rng(items)
    item = np.repeat(np.arange(items), 3)
    x = rng.normal(0, 1, items)[item] + rng.normal(0, 1, item.size)
    (p,) = bootstrap_percentiles(x, item, [q])
    assert (p.low is not None) == given
    if not given:
        assert p.method.startswith(f"too few items for p{q:g}")
    (alone,) = bootstrap_percentiles(x, np.arange(x.size), [q])
    assert alone.low is not None


def test_percentile_of_tied_samples_falls_back_to_the_rank_design_effect() -> None:
    """Scores piled up at exactly 1.0 (a continuous scorer's ceiling): the p95 indicator
    1{x <= 1.0} is constant, so it has no variance to estimate; the interval is [1, 1] and the
    design effect comes from the ranks."""
    rng = np.random.default_rng(3)
    item = np.repeat(np.arange(100), 5)
    x = np.minimum(rng.normal(0.9, 0.2, 100)[item] + rng.normal(0, 0.05, item.size), 1.0)
    (p95,) = bootstrap_percentiles(x, item, [95])
    assert p95.value == 1.0
    assert p95.low is not None
    assert p95.high == 1.0
    assert "indicator is constant" in p95.method


@pytest.mark.parametrize(("items", "repeats", "q"), [(1000, 3, 99), (50, 10, 90), (30, 1, 50)])
def test_clustered_percentile_intervals_cover(items: int, repeats: int, q: float) -> None:
    """Latencies lognormal with an item random effect (sd 1 on the log scale, within-item sd 0.5:
    ICC 0.8): the intervals that are given cover the true quantile >= 93% of the time (300
    replications, MC SE 0.013); the truth is the quantile of 10^6 draws."""
    rng = np.random.default_rng(items + q)
    truth = float(np.exp(np.quantile(rng.normal(0, 1, 10**6) + rng.normal(0, 0.5, 10**6), q / 100)))
    clusters = np.repeat(np.arange(items), repeats)
    covered = given = 0
    for _ in range(300):
        x = np.exp(rng.normal(0, 1, items)[clusters] + rng.normal(0, 0.5, clusters.size))
        (p,) = bootstrap_percentiles(x, clusters, [q])
        if p.low is not None and p.high is not None:
            given += 1
            covered += p.low <= truth <= p.high
    assert given >= 150
    assert covered / given >= 0.93 - 0.013 * math.sqrt(300 / given)
