"""Power of a paired comparison: the minimum detectable effect (MDE) and the items needed.

The test is the two-sided paired t-test on n item deltas, so its power at a true mean delta is
that of Student's t with n - 1 degrees of freedom and noncentrality delta sqrt(n) / sd (both tails
counted, as statsmodels' ``TTestPower``); the MDE is the delta whose power is ``power``. The
normal approximation (z_{1-alpha/2} + z_{power}) sd / sqrt(n) is optimistic at small n. With the
variance of an item's delta split into between-item B and within-item W / K, the items needed for
a delta with K repeats are the smallest n whose t-test power at sd^2 = B + W / K reaches ``power``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from tailgate.analysis._compare_results import CompareOptions, ItemsNeeded, OverallChange, PowerAdvice
from tailgate.analysis._estimate import _z_quantile

__all__ = ["comparison_power", "power_for"]


def power_for(
    sd: float,
    n: int,
    alpha: float = 0.05,
    power: float = 0.8,
    target: float | None = None,
    between: float | None = None,
    within: float | None = None,
    repeats: int = 1,
) -> PowerAdvice:
    """Minimum detectable effect of a paired comparison, and the items needed for ``target``
    (see the module docstring).

    Example:
        >>> advice = power_for(0.4, 200, target=0.05)
        >>> round(advice.mde, 3), advice.items_needed[0].items_needed
        (0.08, 505)
    """
    mde = _t_mde(sd, n, alpha, power) if n > 1 else None
    method = f"paired t-test, noncentral t({n - 1}), two-sided" if n > 1 else "too few items"
    advice = PowerAdvice(alpha, power, n, sd, mde, method)
    if not target:
        return advice
    rows = []
    for k in (1, 3, 5, 10):
        var = (between + within / k) if between is not None and within is not None else sd * sd * repeats / k
        rows.append(ItemsNeeded(k, _t_items_needed(math.sqrt(max(var, 1e-12)), target, alpha, power)))
    return replace(advice, target_delta=target, items_needed=tuple(rows))


def _t_power(effect: float, n: float, alpha: float) -> float:
    """Power of the two-sided one-sample t-test at standardised effect ``effect`` with n units."""
    from tailgate.analysis._distributions import nct_cdf, nct_sf, norm_cdf, t_ppf

    df = n - 1
    crit = t_ppf(1 - alpha / 2, df)
    nc = effect * math.sqrt(n)
    exact = nct_sf(crit, df, nc) + nct_cdf(-crit, df, nc)
    if math.isfinite(exact):
        return exact
    # scipy's noncentral t fails far in the tail (tiny df, huge nc): the normal approximation
    # of the noncentral t (Johnson & Welch 1940), ample there, keeps the search monotone
    return norm_cdf((nc - crit * (1 - 1 / (4 * df))) / math.sqrt(1 + crit * crit / (2 * df)))


def _t_mde(sd: float, n: int, alpha: float, power: float) -> float:
    from scipy.optimize import brentq

    if sd <= 0:
        return 0.0
    z = (_z_quantile(1 - alpha) + _z_quantile(2 * power - 1)) / math.sqrt(n)  # the normal answer: a lower bound
    hi = z * 2
    while _t_power(hi, n, alpha) < power:
        hi *= 2
    return float(brentq(lambda e: _t_power(e, n, alpha) - power, z * 0.5, hi, xtol=1e-10)) * sd


def _t_items_needed(sd: float, delta: float, alpha: float, power: float) -> int:
    """The smallest n >= 2 whose paired t-test has ``power`` at a true delta of ``delta``."""
    effect = abs(delta) / sd
    z = _z_quantile(1 - alpha) + _z_quantile(2 * power - 1)
    low = max(2, math.ceil((z / effect) ** 2))  # the normal answer; the t answer is at least this
    if _t_power(effect, low, alpha) >= power:
        return low
    high = low + 1
    while _t_power(effect, high, alpha) < power:
        low, high = high, 2 * high
    while high - low > 1:  # power grows with n: the smallest n that reaches it lies in (low, high]
        mid = (low + high) // 2
        low, high = (low, mid) if _t_power(effect, mid, alpha) >= power else (mid, high)
    return high


def comparison_power(
    overall: OverallChange,
    deltas: np.ndarray,
    repeats: int,
    within: float,
    identical: bool,
    options: CompareOptions,
) -> PowerAdvice:
    """The power advice of a comparison: the MDE of its item ``deltas`` and a sentence saying
    whether a non-significant result could have shown a change of that size. ``within`` is the
    sum of both runs' mean within-item variance, ``repeats`` the common samples per unit."""
    n = int(deltas.size)
    sd = float(deltas.std(ddof=1)) if n > 1 else 0.0
    # Var(d_i) = B_d + (W_base + W_cand) / K: split the observed variance of item deltas
    between = max(sd * sd - within / repeats, 0.0)
    result = power_for(
        sd, n, options.alpha, options.power, options.target_delta, between=between, within=within, repeats=repeats
    )
    est = overall.estimate
    mde = result.mde
    inconclusive = est.low is not None and est.high is not None and est.low < 0 < est.high
    if mde is None:
        statement = "too few shared items to say anything"
    elif inconclusive:
        statement = (
            (
                f"no significant change, and the comparison is underpowered for changes smaller than "
                f"{mde:.3f}: it cannot rule out a real change of that size"
            )
            if mde > abs(est.value or 0)
            else ("no significant change")
        )
    else:
        statement = f"significant change; changes of {mde:.3f} or more are detected with {options.power:.0%} power"
    result = replace(result, underpowered=bool(inconclusive and mde is not None), statement=statement)
    if not identical:
        return result
    # the item deltas have no spread: say so instead of "significant change" and an MDE of 0
    return replace(
        result,
        mde=None,
        underpowered=False,
        identical=True,
        statement=f"identical results: no difference on any of the {n} shared items",
    )
