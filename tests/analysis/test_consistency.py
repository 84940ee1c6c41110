"""pass@k / pass^k and consistency intervals: calibrated by simulation, never a point at 0 or 1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import betaln
from statsmodels.stats.proportion import proportion_confint

from tailgate.analysis import pass_at_k, pass_hat_k
from tailgate.analysis._consistency import _item_mean


def _pass_k(rng: np.random.Generator, items: int, a: float, b: float, repeats: int, k: int, hat: bool) -> object:
    p = rng.beta(a, b, items)
    n = np.full(items, float(repeats))
    c = rng.binomial(repeats, p).astype(float)
    values = pass_hat_k(n, c, k) if hat else pass_at_k(n, c, k)
    return _item_mean(values, np.arange(items), n, 0.95, "x", k)


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


def test_all_zero_pass_k_gets_the_clopper_pearson_bound_of_the_items() -> None:
    """0 of 50 items: the upper bound is Clopper-Pearson's 1 - 0.025^(1/50) (statsmodels'
    proportion_confint(method="beta") as the oracle), the rule-of-three scale 3.7/n."""
    n = np.full(50, 10.0)
    e = _item_mean(pass_hat_k(n, np.full(50, 3.0), 10), np.arange(50), n, 0.95, "pass^10", 10)
    low, high = proportion_confint(0, 50, alpha=0.05, method="beta")
    assert e.value == 0
    assert (e.low, e.high) == pytest.approx((low, high))
    assert e.high == pytest.approx(1 - 0.025 ** (1 / 50))
    one = _item_mean(np.ones(40), np.arange(40), np.full(40, 5.0), 0.95, "consistency")
    assert one.value == 1
    assert one.low == pytest.approx(0.025 ** (1 / 40))
    assert one.high == 1
