"""pass@k / pass^k and consistency intervals: calibrated by simulation, never a point at 0 or 1."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import betaln
from statsmodels.stats.proportion import proportion_confint

from tailgate.analysis import pass_at_k, pass_hat_k
from tailgate.analysis._consistency import _item_mean
from tailgate.analysis._stats import beta_binomial_estimator_variance, beta_binomial_rho


def _pass_k(rng: np.random.Generator, items: int, a: float, b: float, repeats: int, k: int, hat: bool) -> object:
    p = rng.beta(a, b, items)
    n = np.full(items, float(repeats))
    c = rng.binomial(repeats, p).astype(float)
    estimator = pass_hat_k if hat else pass_at_k
    noise = beta_binomial_estimator_variance(n, float(c.sum() / n.sum()), beta_binomial_rho(n, c), k, estimator)
    return _item_mean(estimator(n, c, k), np.arange(items), n, 0.95, "x", noise)


@pytest.mark.parametrize(("a", "b", "hat"), [(0.5, 4.0, True), (4.0, 0.5, False), (2.0, 2.0, True)])
def test_pass_k_intervals_cover_near_0_and_1(a: float, b: float, hat: bool) -> None:
    """pass^10 / pass@10 over 50 items with 10 samples each, item success rates ~ Beta(a, b):
    the true value is E[p^10] or 1 - E[(1-p)^10] (Beta moments). The old t interval was [0, 0]
    (or [1, 1]) most of the time and covered ~0-5%; 400 replications, MC SE 0.011."""
    rng = np.random.default_rng(int(10 * a + b))
    truth = math.exp(betaln(a + 10, b) - betaln(a, b)) if hat else 1 - math.exp(betaln(a, b + 10) - betaln(a, b))
    covered = points = 0
    for _ in range(400):
        e = _pass_k(rng, 50, a, b, 10, 10, hat)
        covered += e.low <= truth <= e.high  # type: ignore[attr-defined]
        points += e.low == e.high  # type: ignore[attr-defined]
    assert points == 0
    assert covered / 400 >= 0.93 - 2 * 0.011


@pytest.mark.parametrize(("k", "hat"), [(2, False), (3, False), (2, True)])
def test_pass_k_with_ten_repeats_is_not_conservative(k: int, hat: bool) -> None:
    """30 items (success rate ~ Beta(14, 6), the calibration grid's low heterogeneity) x 10
    samples: the unbiased estimator averages all C(10, k) draws of each item, so its n_eff is
    far above samples / k; capping n_eff there covered 0.99-1.00 (bench/calibration.py).
    Coverage must sit within 4 MC SE of 0.95 (800 replications, MC SE 0.0077): a bound on each
    side, so an over-wide interval fails too."""
    rng = np.random.default_rng(100 * k + hat)
    a, b = 14.0, 6.0
    truth = math.exp(betaln(a + k, b) - betaln(a, b)) if hat else 1 - math.exp(betaln(a, b + k) - betaln(a, b))
    covered = sum(bool(e.low <= truth <= e.high) for e in (_pass_k(rng, 30, a, b, 10, k, hat) for _ in range(800)))  # type: ignore[attr-defined]
    assert 0.919 <= covered / 800 <= 0.981


def test_estimator_variance_matches_closed_forms() -> None:
    """rho = 0 (binomial). k = 1: pass@1 = c / n, variance p (1 - p) / n. n = k: pass^k is 1
    iff all pass (variance p^k (1 - p^k)), pass@k is 0 iff none pass (variance q^k (1 - q^k),
    q = 1 - p). rho > 0: the beta-binomial's Var(c / n) = p (1 - p) (1 + (n - 1) rho) / n, and
    with n = k = 2 pass^2 is 1 iff both pass, P = p (p + rho (1 - p)) (the second pass given the
    first has mean p + rho (1 - p))."""
    p = 0.3
    n = np.array([1.0, 4.0, 10.0])
    variance = beta_binomial_estimator_variance
    np.testing.assert_allclose(variance(n, p, 0.0, 1, pass_at_k), p * (1 - p) / n, rtol=1e-12)
    for k in (2, 5):
        size = np.array([float(k)])
        np.testing.assert_allclose(variance(size, p, 0.0, k, pass_hat_k), p**k * (1 - p**k), rtol=1e-12)
        q = (1 - p) ** k
        np.testing.assert_allclose(variance(size, p, 0.0, k, pass_at_k), q * (1 - q), rtol=1e-12)
    rho = 0.25
    np.testing.assert_allclose(variance(n, p, rho, 1, pass_at_k), p * (1 - p) * (1 + (n - 1) * rho) / n, rtol=1e-10)
    both = p * (p + rho * (1 - p))
    np.testing.assert_allclose(variance(np.array([2.0]), p, rho, 2, pass_hat_k), both * (1 - both), rtol=1e-10)
    assert np.isnan(variance(np.array([2.0]), p, 0.0, 3, pass_at_k)).all()
    assert variance(np.array([5.0]), 0.0, 0.0, 3, pass_at_k).tolist() == [0.0]


def test_beta_binomial_rho_recovers_the_simulated_correlation() -> None:
    """4,000 units of 10 samples, pass rates ~ Beta(a, b) with a + b = 3: rho = 1 / (a + b + 1)
    = 0.25 (the beta-binomial's intra-class correlation); the moment estimate is within 0.02.
    Equal pass counts everywhere give 0, one sample per unit gives 0."""
    rng = np.random.default_rng(5)
    c = rng.binomial(10, rng.beta(0.9, 2.1, 4000)).astype(float)
    assert beta_binomial_rho(np.full(4000, 10.0), c) == pytest.approx(0.25, abs=0.02)
    assert beta_binomial_rho(np.full(50, 10.0), np.full(50, 4.0)) == 0.0
    assert beta_binomial_rho(np.ones(50), (np.arange(50) % 2).astype(float)) == 0.0


def test_all_zero_pass_k_gets_the_mid_p_bound_of_the_items() -> None:
    """0 of 50 items: the upper bound is the mid-p one, P(X = 0) / 2 = 0.025, i.e.
    1 - 0.05^(1/50) (closed form; Clopper-Pearson's, statsmodels' proportion_confint(method="beta"),
    is 1 - 0.025^(1/50), wider), on the rule-of-three scale 3/n; never a point."""
    n = np.full(50, 10.0)
    noise = beta_binomial_estimator_variance(n, 0.3, 0.0, 10, pass_hat_k)
    e = _item_mean(pass_hat_k(n, np.full(50, 3.0), 10), np.arange(50), n, 0.95, "pass^10", noise)
    _low, cp_high = proportion_confint(0, 50, alpha=0.05, method="beta")
    assert e.value == 0
    assert e.low == 0
    assert e.high == pytest.approx(1 - 0.05 ** (1 / 50), abs=1e-12)
    assert 0.05 < e.high < cp_high
    one = _item_mean(np.ones(40), np.arange(40), np.full(40, 5.0), 0.95, "consistency")
    assert one.value == 1
    assert one.low == pytest.approx(0.05 ** (1 / 40), abs=1e-12)
    assert one.high == 1


def test_pass_at_1_is_the_headline_score_with_wilsons_interval(tmp_path: Path) -> None:
    """pass@1 is the mean of 0/1 scores: it must be the headline's number and interval. With one
    sample per item that is Wilson's (statsmodels ``proportion_confint(method="wilson")``);
    Clopper-Pearson, used before, covered 0.98 at 30 items (bench/calibration.py)."""
    from tailgate.analysis import pass_k_table, summarize_records
    from tailgate.analysis._data import load_run
    from tailgate.store import ImportSpec, Store, import_records

    rng = np.random.default_rng(3)
    oks = (rng.uniform(size=30) < 0.7).astype(int)
    path = tmp_path / "r.csv"
    path.write_text("item,ok\n" + "".join(f"q{i},{ok}\n" for i, ok in enumerate(oks)), encoding="utf-8")
    store = Store(tmp_path / "store")
    import_records(store, ImportSpec(file=str(path), item="item", score="ok", run_id="r"))
    data = load_run(store, "r")
    try:
        pass1 = pass_k_table(data)[0].pass_at_k
    finally:
        data.close()
    low, high = proportion_confint(int(oks.sum()), 30, alpha=0.05, method="wilson")
    assert pass1.value == pytest.approx(oks.mean())
    assert (pass1.low, pass1.high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    headline = summarize_records(store.read_records("r")).score
    assert (pass1.low, pass1.high) == (pytest.approx(headline.low, abs=1e-12), pytest.approx(headline.high, abs=1e-12))
