"""Paired tests of a comparison: the paired t-test on item means, McNemar's test on 0/1 pairs, and
the level (mean over items) each run has on the same items.

Binary scores with one sample per (item, variant) in both runs use McNemar's test on the
discordant pairs, exact and mid-p (Fagerland, Lydersen & Laake 2013); everything else the paired
t-test on item means (the cluster-level analysis of Miller 2024). The paired difference
d_i = cand_i - base_i has variance Var(base) + Var(cand) - 2 Cov: when the runs agree on which
items are hard, the paired interval is narrower than the unpaired one, reported beside it.
"""

from __future__ import annotations

import math

import numpy as np

from tailgate.analysis._compare_results import LevelChange, McNemar, PairedDelta
from tailgate.analysis._estimate import Estimate, _t_quantile, _z_quantile

__all__ = ["format_p", "level_estimate", "mcnemar", "paired_delta", "paired_levels"]


def format_p(p: float | None) -> str:
    """A p-value in two significant digits; an exact 0 (below the smallest double) as "<1e-300"."""
    if p is None:
        return "n/a"
    return "<1e-300" if p == 0 else f"{p:.2g}"


def paired_delta(base: np.ndarray, cand: np.ndarray, confidence: float = 0.95) -> PairedDelta:
    """Mean paired difference of per-item scores with a t interval, the test of delta = 0, and
    the unpaired standard error for comparison.

    Example:
        >>> import numpy as np
        >>> d = paired_delta(np.array([0.0, 0.5, 1.0]), np.array([0.5, 0.5, 1.0]))
        >>> round(d.estimate.value, 3), d.n_items
        (0.167, 3)
    """
    d = cand - base
    n = int(d.size)
    if n < 2:
        value = float(d.mean()) if n else None
        return PairedDelta(Estimate(value, None, None, n, n, "too few items", None, confidence), None, n)
    from tailgate.analysis._distributions import ttest_rel_p

    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    t = _t_quantile(confidence, n - 1)
    # every item moved by the same amount: no t; the sign test's p of n equal signs
    p = ttest_rel_p(cand, base) if sd > 0 else (1.0 if mean == 0 else min(1.0, 2.0 * 0.5**n))
    unpaired = math.sqrt(float(base.var(ddof=1)) / n + float(cand.var(ddof=1)) / n)
    corr = float(np.corrcoef(base, cand)[0, 1]) if base.std() > 0 and cand.std() > 0 else None
    corr_ci = None
    if corr is not None and n > 3 and abs(corr) < 1:
        # Fisher's z: atanh(r) is about normal with SE 1 / sqrt(n - 3)
        half = _z_quantile(confidence) / math.sqrt(n - 3)
        corr_ci = (math.tanh(math.atanh(corr) - half), math.tanh(math.atanh(corr) + half))
    method = f"paired mean difference over items, t({n - 1})"
    lowest, highest = score_range(base, cand)
    span = highest - lowest
    # a difference of two scores lies in [-span, span]: the t interval is cut to it (which never
    # loses coverage; 300 items all lost showed -0.990 [-1.001, -0.979])
    low, high = max(-span, mean - t * se), min(span, mean + t * se)
    if sd == 0:
        low, high = constant_bounds(mean, n, -span, span, confidence)
        method = f"paired mean difference over items, all {n} equal: bound on the share of other items"
    return PairedDelta(
        Estimate(mean, low, high, n, n, method, se, confidence),
        p,
        n,
        test="paired t-test on item means (two-sided)",
        sd_item_delta=sd,
        paired_se=se,
        unpaired_se=unpaired,
        correlation=corr,
        correlation_ci=corr_ci,
    )


def mcnemar(base_pass: np.ndarray, cand_pass: np.ndarray) -> McNemar:
    """McNemar's test on paired 0/1 outcomes: exact (binomial, two-sided) and mid-p."""
    from tailgate.analysis._distributions import binom_cdf, binom_pmf

    b = int(np.sum((base_pass == 1) & (cand_pass == 0)))  # lost
    c = int(np.sum((base_pass == 0) & (cand_pass == 1)))  # gained
    n = b + c
    if n == 0:
        return McNemar(b, c, 1.0, 1.0, "McNemar: no discordant pairs")
    k = min(b, c)
    exact = min(1.0, 2.0 * binom_cdf(k, n, 0.5))
    mid = min(1.0, 2.0 * (binom_cdf(k, n, 0.5) - 0.5 * binom_pmf(k, n, 0.5)))
    return McNemar(b, c, exact, mid, "McNemar exact (binomial) and mid-p, two-sided")


def level_estimate(values: np.ndarray, confidence: float) -> Estimate:
    """Mean of per-item values with a t interval over items, within the range of scores
    (:func:`score_range`)."""
    n = int(values.size)
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return Estimate(mean if n else None, None, None, n, n, "too few items", None, confidence)
    se = float(values.std(ddof=1)) / math.sqrt(n)
    lowest, highest = score_range(values)
    if se == 0:
        low, high = constant_bounds(mean, n, lowest, highest, confidence)
        return Estimate(mean, low, high, n, n, f"mean over items, all {n} equal: bound on the share of other items",
                        se, confidence)  # fmt: skip
    t = _t_quantile(confidence, n - 1)
    return Estimate(
        mean, max(lowest, mean - t * se), min(highest, mean + t * se), n, n, f"mean over items, t({n - 1})", se,
        confidence,
    )  # fmt: skip


def score_range(*values: np.ndarray) -> tuple[float, float]:
    """The range scores can take: [0, 1] (every built-in scorer's), widened to what ``values``
    hold (imported records may carry other scales)."""
    lowest = min([0.0, *(float(v.min()) for v in values if v.size)])
    highest = max([1.0, *(float(v.max()) for v in values if v.size)])
    return lowest, highest


def constant_bounds(value: float, n: int, lowest: float, highest: float, confidence: float) -> tuple[float, float]:
    """An interval for a mean when all ``n`` item values equal ``value`` (a t interval would be a
    point). Items are drawn from a population whose values lie in [``lowest``, ``highest``]; seeing
    n equal values, the share of the population that differs is below 1 - ((1 - confidence) / 2)^(1 / n)
    with probability ``1 - (1 - confidence) / 2`` (the exact binomial bound behind the rule of three,
    ~3.7 / n at 95%), and such items move the mean at most that share of the way to either end.

    Example:
        >>> [round(x, 3) for x in constant_bounds(0.0, 30, -1.0, 1.0, 0.95)]
        [-0.116, 0.116]
    """
    share = 1.0 - ((1.0 - confidence) / 2.0) ** (1.0 / n)
    return value - share * (value - lowest), value + share * (highest - value)


def paired_levels(base: np.ndarray, cand: np.ndarray, confidence: float) -> LevelChange:
    """A paired delta with each run's own level (mean over the same items)."""
    return LevelChange(
        paired_delta(base, cand, confidence), level_estimate(base, confidence), level_estimate(cand, confidence)
    )
