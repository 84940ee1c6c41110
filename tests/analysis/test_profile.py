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


# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges. Their ICC(1,1) is 0.17; the F test
# of the one-way model is F(5, 18) = 1.79 (as pingouin's intraclass_corr documents for this data,
# ICC1 0.166 with 95% CI [-0.13, 0.72]); tailgate clips the lower bound at 0.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)


def test_the_f_interval_matches_shrout_and_fleiss() -> None:
    from tailgate.analysis._profile import icc_interval_anova, variance_components

    x = SHROUT_FLEISS
    n, s1, s2 = np.full(6, 4.0), x.sum(axis=1), (x * x).sum(axis=1)
    between, within = variance_components(n, s1, s2)  # type: ignore[misc]
    assert between / (between + within) == pytest.approx(0.1657, abs=5e-4)
    low, high = icc_interval_anova(n, s1, s2, np.ones(6), 0.95)  # type: ignore[misc]
    assert low == 0.0  # -0.13, clipped
    assert high == pytest.approx(0.72, abs=0.005)


def test_the_binary_interval_is_the_beta_binomial_profile_likelihood() -> None:
    """Independent computation: scipy's beta-binomial log-pmf, mu profiled by scipy's bounded
    minimiser on a grid of rho; the interval's ends must be where the likelihood-ratio statistic
    crosses chi2(1, 0.95)."""
    from scipy import optimize, stats

    from tailgate.analysis._profile import icc_interval_binary

    rng = np.random.default_rng(3)
    p = rng.beta(1.4, 0.6, 60)
    n = rng.integers(2, 7, 60)  # unequal samples per item
    s = rng.binomial(n, p)
    low, high = icc_interval_binary(n.astype(float), s.astype(float), np.ones(60), 0.95)  # type: ignore[misc]

    def profile(rho: float) -> float:
        def nll(mu: float) -> float:
            a, b = mu * (1 - rho) / rho, (1 - mu) * (1 - rho) / rho
            return -float(stats.betabinom.logpmf(s, n, a, b).sum())

        return -optimize.minimize_scalar(nll, bounds=(1e-6, 1 - 1e-6), method="bounded").fun  # type: ignore[no-any-return]

    grid = np.linspace(0.01, 0.95, 95)
    ll = np.array([profile(r) for r in grid])
    inside = grid[ll >= ll.max() - stats.chi2.ppf(0.95, 1) / 2]
    assert low == pytest.approx(inside.min(), abs=0.011)
    assert high == pytest.approx(inside.max(), abs=0.011)
    assert 0.1 < low < high < 0.9


def test_few_items_with_scores_that_are_not_0_1_get_no_icc_interval() -> None:
    rng = np.random.default_rng(1)
    scores = rng.beta(2, 2, size=(40, 3))
    profile = failure_profile(_items(scores), 0.5, temperature=0.7)
    assert profile.icc.value is not None
    assert profile.icc.low is None
    assert profile.icc.high is None
    assert "too few items" in profile.icc.method
    assert profile.verdict.startswith("unknown: too few items")
    # with 120 and with 400 items an interval is printed, by the F interval and the log-F bootstrap
    for n_items, method in ((120, "F interval"), (400, "log F")):
        p = rng.beta(2, 2, n_items)
        big = rng.beta(np.repeat(p[:, None] * 4, 3, axis=1), np.repeat((1 - p[:, None]) * 4, 3, axis=1))
        prof = failure_profile(_items(big), 0.5, temperature=0.7)
        assert prof.icc.low is not None
        assert prof.icc.low <= prof.icc.value <= prof.icc.high
        assert method in prof.icc.method


def test_the_log_f_bootstrap_agrees_with_the_f_interval_on_normal_data() -> None:
    """Both are valid for normal data: at 2,000 items their ends agree to a few hundredths."""
    from tailgate.analysis._profile import icc_interval_anova, icc_interval_log_f_bootstrap

    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (2000, 1)) + rng.normal(0, 1.5, (2000, 4))  # ICC 1 / 3.25 = 0.31
    n, s1, s2 = np.full(2000, 4.0), x.sum(axis=1), (x * x).sum(axis=1)
    f_low, f_high = icc_interval_anova(n, s1, s2, np.ones(2000), 0.95)  # type: ignore[misc]
    draws = rng.multinomial(2000, np.full(2000, 1 / 2000), size=1000)
    b_low, b_high = icc_interval_log_f_bootstrap(n, s1, s2, np.ones(2000), 0.95, draws)  # type: ignore[misc]
    assert f_low < 1 / 3.25 < f_high
    assert b_low == pytest.approx(f_low, abs=0.02)
    assert b_high == pytest.approx(f_high, abs=0.02)
