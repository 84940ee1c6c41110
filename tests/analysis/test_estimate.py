"""Estimates checked against independent computations (statsmodels, closed forms)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.proportion import proportion_confint

from tailgate.analysis import clustered_mean, mean_estimate, wilson_interval


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (3, 10), (10, 10), (47, 120), (1, 3)])
def test_wilson_matches_statsmodels(successes: int, n: int) -> None:
    low, high = wilson_interval(successes, n)
    sm_low, sm_high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    assert low == pytest.approx(sm_low, abs=1e-12)
    assert high == pytest.approx(sm_high, abs=1e-12)


def test_wilson_published_example() -> None:
    # Newcombe (1998), Stat Med 17:857, table I: 81/263 -> Wilson 95% CI 0.2553 to 0.3662
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_clustered_se_matches_statsmodels_cluster_robust_ols() -> None:
    rng = np.random.default_rng(0)
    items = np.repeat(np.arange(60), 5)
    item_effect = rng.normal(0, 1, 60)[items]
    x = item_effect + rng.normal(0, 0.5, items.size)
    est = clustered_mean(x, items)
    fit = OLS(x, np.ones_like(x)).fit(cov_type="cluster", cov_kwds={"groups": items, "use_correction": False})
    assert est.value == pytest.approx(float(fit.params[0]))
    assert est.se == pytest.approx(float(fit.bse[0]), rel=1e-10)
    assert est.n_items == 60
    assert est.n_samples == 300
    # and it is much wider than the naive iid standard error, as it must be for correlated repeats
    assert est.se > 1.5 * x.std(ddof=0) / np.sqrt(x.size)


def test_clustered_equals_iid_formula_with_one_sample_per_item() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=50)
    est = clustered_mean(x, np.arange(50))
    assert est.se == pytest.approx(x.std(ddof=0) / np.sqrt(50))


def test_mean_estimate_uses_wilson_for_one_binary_sample_per_item() -> None:
    x = np.array([1, 0, 1, 1, 0, 0, 0, 1, 1, 1], dtype=float)
    est = mean_estimate(x, np.arange(10))
    assert est.method == "proportion, Wilson"
    assert (est.low, est.high) == pytest.approx(proportion_confint(6, 10, method="wilson"))


def test_all_zero_repeats_do_not_give_a_zero_width_interval() -> None:
    x = np.zeros(12)
    items = np.repeat(np.arange(3), 4)
    est = mean_estimate(x, items)
    # nothing tells repeats apart, so n_eff = items: the Wilson interval for 0/3
    assert est.high == pytest.approx(proportion_confint(0, 3, method="wilson")[1])


def test_effective_n_of_perfectly_correlated_repeats_is_the_item_count() -> None:
    """Kish's n_eff of perfectly correlated repeats is the item count (10), times Korn & Graubard's
    (1998) degrees-of-freedom factor (t_{n-1} / t_{d})^2 for a design effect estimated from d + 1 =
    10 items and n = 50 samples (as the NCHS presentation standards for proportions write it,
    Parker et al. 2017, and the R survey ecosystem's Korn-Graubard intervals compute it)."""
    from scipy import stats

    per_item = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 1], dtype=float)
    x = np.repeat(per_item, 5)  # each item answered the same way five times
    est = mean_estimate(x, np.repeat(np.arange(10), 5))
    n_eff = 10 * (stats.t.ppf(0.975, 49) / stats.t.ppf(0.975, 9)) ** 2
    low, high = proportion_confint(0.7 * n_eff, n_eff, method="wilson")
    assert (est.low, est.high) == pytest.approx((low, high))
    assert f"n_eff={n_eff:.0f}" in est.method


def test_effective_n_of_independent_repeats_is_close_to_the_sample_count() -> None:
    rng = np.random.default_rng(2)
    x = (rng.random(4000) < 0.3).astype(float)
    est = mean_estimate(x, np.repeat(np.arange(1000), 4))
    n_eff = float(est.method.rsplit("=", 1)[1])
    assert 3300 < n_eff <= 4000


def test_clustered_interval_coverage_simulation() -> None:
    """With strongly clustered data the 95% interval covers the true mean about 95% of the time."""
    rng = np.random.default_rng(3)
    hits = 0
    trials = 400
    for _ in range(trials):
        p_item = rng.beta(2, 3, 80)
        x = (rng.random((80, 5)) < p_item[:, None]).astype(float).ravel()
        est = mean_estimate(x, np.repeat(np.arange(80), 5))
        hits += est.low <= 0.4 <= est.high  # Beta(2, 3) has mean 0.4
    assert 0.91 <= hits / trials <= 0.98


def test_constructors_build_what_their_names_say() -> None:
    """Each constructor equals the interval written out by hand."""
    from scipy import stats

    from tailgate.analysis import Estimate

    t = Estimate.t_interval(0.5, 0.1, 9, n_items=10, n_samples=30, method="m")
    q = float(stats.t.ppf(0.975, 9))
    assert (t.low, t.high, t.se) == (0.5 - q * 0.1, 0.5 + q * 0.1, 0.1)
    assert (t.n_items, t.n_samples, t.method, t.confidence) == (10, 30, "m", 0.95)
    clipped = Estimate.t_interval(0.98, 0.1, 9, n_items=10, n_samples=10, method="m", clip=(0.0, 1.0))
    assert clipped.high == 1.0
    w = Estimate.wilson(3, 10, method="w")
    assert (w.value, w.n_items, w.n_samples, w.se) == (0.3, 10, 10, None)
    assert (w.low, w.high) == wilson_interval(3, 10)
    p = Estimate.clustered_proportion(0.3, 25.0, n_items=10, n_samples=40, method="c")
    assert (p.low, p.high) == wilson_interval(0.3 * 25.0, 25.0)
    assert p.se == pytest.approx(np.sqrt(0.3 * 0.7 / 25))
    cp = Estimate.clopper_pearson(0.0, 50.0, n_items=50, n_samples=50, method="cp")
    assert cp.low == 0.0
    assert cp.high == pytest.approx(1 - 0.025 ** (1 / 50))  # the exact bound at 0 of n
    draws = np.random.default_rng(0).normal(size=2000)
    b = Estimate.bootstrap_percentile(0.0, np.append(draws, np.nan), n_items=20, n_samples=20, method="b")
    assert (b.low, b.high) == pytest.approx((np.quantile(draws, 0.025), np.quantile(draws, 0.975)))
    none = Estimate.no_interval("too few items", value=0.4, n_items=1, n_samples=3)
    assert (none.value, none.low, none.high, none.method) == (0.4, None, None, "too few items")


def test_an_estimate_formats_itself() -> None:
    from tailgate.analysis import Estimate, format_estimate

    e = Estimate.from_bounds(0.1234, -0.01, 0.25, n_items=10, n_samples=10, method="m")
    assert f"{e:.2f}" == "0.12 [-0.01, 0.25]"
    assert f"{e:+.3f}" == "+0.123 [-0.010, +0.250]"
    assert f"{e:+.3f}" == format_estimate(e.as_dict(), sign="+")
    assert f"{Estimate.no_interval('why'):.3f}" == "n/a"
    assert f"{Estimate.no_interval('why', value=0.5):.1f}" == "0.5"
    assert f"{e}" == str(e)


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (1, 10), (3, 20), (15, 30), (29, 30), (30, 30), (1, 100)])
def test_mid_p_matches_binomial_tail_sums(successes: int, n: int) -> None:
    # the definition (Lancaster 1961; Agresti & Gottard 2007, Stat Sci 22:4): the lower end solves
    # P(X > x) + P(X = x) / 2 = 0.025 and the upper P(X < x) + P(X = x) / 2 = 0.025, here with
    # scipy.stats' binomial sums and a root finder instead of the incomplete beta function
    from scipy import stats
    from scipy.optimize import brentq

    from tailgate.analysis._estimate import mid_p_interval

    def lower_tail(p: float) -> float:
        return float(stats.binom.sf(successes, n, p) + 0.5 * stats.binom.pmf(successes, n, p)) - 0.025

    def upper_tail(p: float) -> float:
        return float(stats.binom.cdf(successes - 1, n, p) + 0.5 * stats.binom.pmf(successes, n, p)) - 0.025

    want_low = 0.0 if successes == 0 else brentq(lower_tail, 1e-12, 1 - 1e-12, xtol=1e-14)
    want_high = 1.0 if successes == n else brentq(upper_tail, 1e-12, 1 - 1e-12, xtol=1e-14)
    low, high = mid_p_interval(successes, n)
    assert low == pytest.approx(want_low, abs=1e-10)
    assert high == pytest.approx(want_high, abs=1e-10)


def test_mid_p_is_inside_clopper_pearson_and_moves_smoothly_with_fractional_counts() -> None:
    from tailgate.analysis._estimate import clopper_pearson_interval, mid_p_interval

    for x in (0.0, 0.4, 1.0, 2.5, 7.0, 12.3):
        low, high = mid_p_interval(x, 12.3)
        cp_low, cp_high = clopper_pearson_interval(x, 12.3)
        assert cp_low <= low <= x / 12.3 <= high <= cp_high
        assert high - low > 0.05  # never a point
    lows = [mid_p_interval(x, 20.0)[0] for x in np.linspace(1.0, 3.0, 21)]
    assert all(a < b for a, b in itertools.pairwise(lows))
    # its exact coverage for a binomial of 30 trials, averaged over p uniform on (0, 1), is close to
    # 0.95 (Clopper-Pearson's is about 0.98): the reason to use it where events are few
    from scipy import stats

    grid = np.linspace(0.005, 0.995, 199)
    bounds = [mid_p_interval(k, 30) for k in range(31)]
    coverage = [sum(stats.binom.pmf(k, 30, p) for k, (lo, hi) in enumerate(bounds) if lo <= p <= hi) for p in grid]
    assert 0.945 <= float(np.mean(coverage)) <= 0.965
    assert min(coverage) >= 0.90
