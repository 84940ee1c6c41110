"""Estimates that carry their n, their uncertainty and how they were computed.

The unit of independence is the item: repeats and variants of one item are correlated, so the
standard error of a mean over samples is clustered on items (Miller 2024, "Adding Error Bars to
Evals: A Statistical Approach to Language Model Evaluations", arXiv:2411.00640, eq. 4):

    SE_clustered = sqrt( sum_c ( sum_{i in c} (x_i - mean) )^2 ) / N

with N samples in C clusters; the interval uses Student's t with C - 1 degrees of freedom. With
0/1 scores the Wilson score interval is used instead (it stays inside [0, 1] and behaves at small
n and near 0 or 1), on the clustered effective sample size when items have several samples.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tailgate.analysis._tquantiles import T975

__all__ = ["Estimate", "clustered_mean", "effective_n", "format_estimate", "mean_estimate", "wilson_interval"]


def format_estimate(e: dict[str, Any], digits: int = 3, sign: str = "") -> str:
    """An estimate's dict as "value [low, high]" ("n/a" without a value); ``sign="+"`` for a
    difference."""
    if e.get("value") is None:
        return "n/a"
    f = f"{sign}.{digits}f"
    if e.get("low") is None:
        return format(e["value"], f)
    return f"{e['value']:{f}} [{e['low']:{f}}, {e['high']:{f}}]"


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval, its n and its method."""

    value: float | None
    low: float | None
    high: float | None
    n_items: int
    n_samples: int
    method: str
    se: float | None = None
    confidence: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        if self.value is None:
            return f"n/a (n={self.n_items} items; {self.method})"
        interval = ""
        if self.low is not None and self.high is not None:
            interval = f" [{self.low:.3f}, {self.high:.3f}]"
        n = f"n={self.n_items} items, {self.n_samples} samples"
        return f"{self.value:.3f}{interval} ({n}; {self.method})"


def _t_quantile(confidence: float, dof: int) -> float:
    """``scipy.stats.t.ppf(0.5 + confidence / 2, dof)``, the same bits, without importing
    ``scipy.stats`` (0.4-0.9 s): a table for 95% up to 1,000 degrees of freedom, else
    ``scipy.special.stdtrit``, which is what ``t.ppf`` evaluates."""
    if confidence == 0.95 and 1 <= dof <= len(T975):
        return T975[dof - 1]
    from scipy.special import stdtrit

    return float(stdtrit(dof, 0.5 + confidence / 2.0))


def _z_quantile(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927)."""
    if n <= 0:
        raise ValueError("n must be positive")
    z = _z_quantile(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def clustered_mean(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[Hashable] | np.ndarray,
    confidence: float = 0.95,
) -> Estimate:
    """Mean of ``values`` with a standard error clustered on ``clusters`` (see module docstring)."""
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n == 0:
        return Estimate(None, None, None, 0, 0, "no scored samples", None, confidence)
    _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    groups = int(codes.max()) + 1
    mean = float(x.mean())
    sums = np.bincount(codes, weights=x - mean, minlength=groups)
    se = math.sqrt(float(np.sum(sums * sums))) / n
    if groups < 2:
        return Estimate(mean, None, None, groups, n, "one item: no interval", None, confidence)
    t = _t_quantile(confidence, groups - 1)
    return Estimate(
        mean,
        mean - t * se,
        mean + t * se,
        groups,
        n,
        f"mean, SE clustered on items, t({groups - 1})",
        se,
        confidence,
    )


def effective_n(p: float, se: float | None, n_items: int, n_samples: int, confidence: float = 0.95) -> float:
    """Kish's effective sample size of a clustered proportion: p(1-p)/SE^2, at most n_samples,
    times Korn & Graubard's (1998) degrees-of-freedom factor (z / t_{items-1})^2: the design
    effect is estimated from the items, so with few items the interval must widen as a t
    interval does (without it, slices of 5-15 items with repeats covered 0.91 in
    bench/calibration.py).

    When p is 0 or 1 nothing tells repeats apart, so repeats count as copies (n_items); when the
    clustered SE is zero (every item has the same mean) there is no design effect (n_samples).
    """
    if not 0.0 < p < 1.0 or se is None:
        return float(n_items)
    if se < 1e-12:
        return float(n_samples)
    df = (_z_quantile(confidence) / _t_quantile(confidence, n_items - 1)) ** 2 if n_items > 1 else 1.0
    return min(float(n_samples), p * (1 - p) / se**2) * df


def mean_estimate(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[Hashable] | np.ndarray,
    confidence: float = 0.95,
) -> Estimate:
    """The right interval for a mean score.

    * 0/1 scores, one sample per item: Wilson score interval.
    * 0/1 scores, several samples per item: Wilson interval on the effective sample size
      ``n_eff = p(1-p) / SE_clustered^2`` (Kish's design effect; Korn & Graubard 1998), capped
      at the number of samples; when every score is equal the design effect cannot be estimated and
      ``n_eff`` is the number of items (repeats counted as copies), so 0 of N never gets a
      zero-width interval.
    * other scores: mean with the clustered standard error and a t interval.
    """
    x = np.asarray(values, dtype=float)
    keys = np.asarray(clusters)
    if x.size == 0 or not np.isin(x, (0.0, 1.0)).all():
        return clustered_mean(x, keys, confidence)
    n_items = int(np.unique(keys).size)
    p = float(x.mean())
    if n_items == x.size:
        n_eff = float(x.size)
        method = "proportion, Wilson"
    else:
        n_eff = effective_n(p, clustered_mean(x, keys, confidence).se, n_items, int(x.size), confidence)
        method = f"proportion, Wilson on clustered n_eff={n_eff:.0f}"
    low, high = wilson_interval(p * n_eff, n_eff, confidence)
    se = math.sqrt(p * (1 - p) / n_eff)
    return Estimate(p, low, high, n_items, int(x.size), method, se, confidence)
