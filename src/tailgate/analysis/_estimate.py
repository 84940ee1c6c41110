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

__all__ = [
    "Estimate",
    "clopper_pearson_interval",
    "clustered_mean",
    "clustered_t",
    "effective_n",
    "format_estimate",
    "kish_n",
    "mean_estimate",
    "mid_p_interval",
    "wilson_interval",
]


def format_estimate(e: dict[str, Any], digits: int = 3, sign: str = "") -> str:
    """An estimate's JSON dict as "value [low, high]" ("n/a" without a value); ``sign="+"`` for
    a difference. For callers that still hold dicts; an :class:`Estimate` formats itself
    (``f"{est:+.3f}"``, see :meth:`Estimate.__format__`)."""
    return _format_parts(e.get("value"), e.get("low"), e.get("high"), f"{sign}.{digits}f")


def _format_parts(value: float | None, low: float | None, high: float | None, spec: str) -> str:
    if value is None:
        return "n/a"
    if low is None or high is None:
        return format(value, spec)
    return f"{value:{spec}} [{low:{spec}}, {high:{spec}}]"


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval, its n and its method.

    Build one with a constructor that says how the interval was made (:meth:`t_interval`,
    :meth:`from_se`, :meth:`wilson`, :meth:`clustered_proportion`, :meth:`clopper_pearson`, :meth:`mid_p`,
    :meth:`bootstrap_percentile`, :meth:`from_bounds`), or :meth:`no_interval` when there is no
    honest interval (or no number at all), with the reason in ``method``.
    """

    value: float | None
    """The point estimate; None when nothing could be computed (the reason is in ``method``)."""
    low: float | None
    """Lower end of the interval; None when there is no interval."""
    high: float | None
    """Upper end of the interval; None when there is no interval."""
    n_items: int
    """Items (clusters, the unit of independence) behind the estimate."""
    n_samples: int
    """Samples (model calls) behind the estimate."""
    method: str
    """How the value and interval were computed, or why they are missing."""
    se: float | None = None
    """Standard error, when the method has one."""
    confidence: float = 0.95
    """Coverage the interval is built for."""

    @classmethod
    def no_interval(
        cls,
        reason: str,
        *,
        value: float | None = None,
        n_items: int = 0,
        n_samples: int = 0,
        confidence: float = 0.95,
    ) -> Estimate:
        """A value without an interval (too few items, one item...), or no value at all: ``reason``
        says which and why."""
        return cls(value, None, None, n_items, n_samples, reason, None, confidence)

    @classmethod
    def from_bounds(
        cls,
        value: float,
        low: float | None,
        high: float | None,
        *,
        n_items: int,
        n_samples: int,
        method: str,
        se: float | None = None,
        confidence: float = 0.95,
    ) -> Estimate:
        """An interval computed elsewhere (simultaneous intervals, Newcombe's hybrid score...):
        ``method`` names how."""
        return cls(value, low, high, n_items, n_samples, method, se, confidence)

    @classmethod
    def from_se(
        cls,
        value: float,
        se: float,
        critical: float,
        *,
        n_items: int,
        n_samples: int,
        method: str,
        confidence: float = 0.95,
        clip: tuple[float, float] | None = None,
    ) -> Estimate:
        """``value ± critical · se`` (e.g. a simultaneous critical value), clipped to ``clip``."""
        low, high = value - critical * se, value + critical * se
        if clip is not None:
            low, high = max(clip[0], low), min(clip[1], high)
        return cls(value, low, high, n_items, n_samples, method, se, confidence)

    @classmethod
    def t_interval(
        cls,
        value: float,
        se: float,
        df: int,
        *,
        n_items: int,
        n_samples: int,
        method: str,
        confidence: float = 0.95,
        clip: tuple[float, float] | None = None,
    ) -> Estimate:
        """Student's t interval ``value ± t(df) · se``, clipped to ``clip`` (e.g. ``(0, 1)``)."""
        t = _t_quantile(confidence, df)
        return cls.from_se(
            value, se, t, n_items=n_items, n_samples=n_samples, method=method, confidence=confidence, clip=clip
        )

    @classmethod
    def wilson(
        cls,
        successes: float,
        n: int,
        *,
        method: str,
        n_items: int | None = None,
        n_samples: int | None = None,
        confidence: float = 0.95,
    ) -> Estimate:
        """The share ``successes / n`` with its Wilson score interval (no SE); ``n_items`` and
        ``n_samples`` default to ``n``."""
        low, high = wilson_interval(successes, n, confidence)
        items = n if n_items is None else n_items
        return cls(successes / n, low, high, items, items if n_samples is None else n_samples, method, None, confidence)

    @classmethod
    def clustered_proportion(
        cls, p: float, n_eff: float, *, n_items: int, n_samples: int, method: str, confidence: float = 0.95
    ) -> Estimate:
        """A proportion ``p`` of clustered 0/1 samples: the Wilson interval on the effective sample
        size ``n_eff`` (see :func:`effective_n`), SE sqrt(p (1 - p) / n_eff)."""
        low, high = wilson_interval(p * n_eff, n_eff, confidence)
        se = math.sqrt(p * (1 - p) / n_eff)
        return cls(p, low, high, n_items, n_samples, method, se, confidence)

    @classmethod
    def clopper_pearson(
        cls,
        p: float,
        n_eff: float,
        *,
        n_items: int,
        n_samples: int,
        method: str,
        se: float | None = None,
        confidence: float = 0.95,
    ) -> Estimate:
        """A mean ``p`` in [0, 1] with the Clopper-Pearson interval on ``n_eff`` (possibly
        fractional) trials."""
        low, high = clopper_pearson_interval(p * n_eff, n_eff, confidence)
        return cls(p, low, high, n_items, n_samples, method, se, confidence)

    @classmethod
    def mid_p(
        cls,
        p: float,
        n_eff: float,
        *,
        n_items: int,
        n_samples: int,
        method: str,
        se: float | None = None,
        confidence: float = 0.95,
    ) -> Estimate:
        """A mean ``p`` in [0, 1] with the mid-p exact interval on ``n_eff`` (possibly fractional)
        trials (:func:`mid_p_interval`)."""
        low, high = mid_p_interval(p * n_eff, n_eff, confidence)
        return cls(p, low, high, n_items, n_samples, method, se, confidence)

    @classmethod
    def bootstrap_percentile(
        cls,
        value: float,
        replicates: np.ndarray,
        *,
        n_items: int,
        n_samples: int,
        method: str,
        confidence: float = 0.95,
    ) -> Estimate:
        """``value`` with the percentile interval of its bootstrap ``replicates`` (non-finite
        replicates dropped; none left: no interval)."""
        finite = np.asarray(replicates, dtype=float)
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            return cls.no_interval(method, value=value, n_items=n_items, n_samples=n_samples, confidence=confidence)
        tail = (1 - confidence) / 2
        low, high = float(np.quantile(finite, tail)), float(np.quantile(finite, 1 - tail))
        return cls(value, low, high, n_items, n_samples, method, None, confidence)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __format__(self, spec: str) -> str:
        """``f"{est:+.3f}"``: "value [low, high]" in that number format ("n/a" without a value,
        the value alone without an interval); an empty spec is ``str(est)``."""
        if not spec:
            return str(self)
        return _format_parts(self.value, self.low, self.high, spec)

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


def clopper_pearson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval, for a possibly fractional (effective) number of successes."""
    from tailgate.analysis._distributions import beta_ppf

    alpha = 1.0 - confidence
    low = beta_ppf(alpha / 2, successes, n - successes + 1) if successes > 0 else 0.0
    high = beta_ppf(1 - alpha / 2, successes + 1, n - successes) if successes < n else 1.0
    return low, high


def mid_p_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """The mid-p exact interval (Lancaster 1961; Agresti & Gottard 2007), for a possibly fractional
    (effective) number of successes: Clopper-Pearson's tail sums with half the probability of the
    observed count, P(X > x) + P(X = x) / 2 = alpha / 2 for the lower end (and the mirror for the
    upper), written with the regularised incomplete beta function
    (P(X >= x) = I_p(x, n - x + 1)) so that x and n need not be integers. Checked against
    ``scipy.stats``' binomial tail sums in tests/analysis/test_estimate.py."""
    from scipy.special import betainc

    alpha = 1.0 - confidence
    x = successes

    def upper_tail(p: float) -> float:  # P(X > x) + P(X = x) / 2, increasing in p
        at_least = float(betainc(x, n - x + 1, p)) if x > 0 else 1.0
        beyond = float(betainc(x + 1, n - x, p)) if n - x > 0 else 0.0
        return 0.5 * (at_least + beyond)

    def solve(target: float) -> float:
        low, high = 0.0, 1.0
        for _ in range(60):  # 1e-18 of [0, 1]: past double precision
            mid = 0.5 * (low + high)
            if upper_tail(mid) < target:
                low = mid
            else:
                high = mid
        return 0.5 * (low + high)

    lower = solve(alpha / 2) if x > 0 else 0.0
    upper = solve(1.0 - alpha / 2) if x < n else 1.0
    return lower, upper


def clustered_mean(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[Hashable] | np.ndarray,
    confidence: float = 0.95,
) -> Estimate:
    """Mean of ``values`` with a standard error clustered on ``clusters`` (see module docstring)."""
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n == 0:
        return Estimate.no_interval("no scored samples", confidence=confidence)
    _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    groups = int(codes.max()) + 1
    mean = float(x.mean())
    sums = np.bincount(codes, weights=x - mean, minlength=groups)
    se = math.sqrt(float(np.sum(sums * sums))) / n
    return clustered_t(mean, se, groups, n, confidence)


def clustered_t(mean: float, se: float, n_items: int, n_samples: int, confidence: float = 0.95) -> Estimate:
    """A mean with its clustered SE: the t interval on ``n_items - 1`` degrees of freedom (one
    item: the value alone). Shared by :func:`clustered_mean` and
    :func:`tailgate.analysis._stats.estimate_from_sums`."""
    if n_items < 2:
        return Estimate.no_interval(
            "one item: no interval", value=mean, n_items=n_items, n_samples=n_samples, confidence=confidence
        )
    return Estimate.t_interval(
        mean,
        se,
        n_items - 1,
        n_items=n_items,
        n_samples=n_samples,
        method=f"mean, SE clustered on items, t({n_items - 1})",
        confidence=confidence,
    )


def kish_n(
    p: float, se: float, floor: float, cap: float, n_items: int, confidence: float = 0.95, n_obs: float | None = None
) -> float:
    """Kish's effective sample size p(1-p)/SE^2, kept within [``floor``, ``cap``], times Korn &
    Graubard's (1998) degrees-of-freedom factor (t_{n_obs-1} / t_{items-1})^2 (1 with one item;
    the normal quantile for t_{n_obs-1} when ``n_obs`` is not given): the design effect is
    estimated from the items, so with few items the interval must widen as a t interval does.
    With ``n_obs`` (the number of samples) it is Korn & Graubard's formula as the NCHS
    presentation standards for proportions state it (Parker et al. 2017), capped at ``cap``."""
    if n_items <= 1:
        return min(cap, max(floor, p * (1 - p) / se**2))
    top = _t_quantile(confidence, int(n_obs) - 1) if n_obs is not None and n_obs >= 2 else _z_quantile(confidence)
    df = (top / _t_quantile(confidence, n_items - 1)) ** 2
    return min(cap, max(floor, p * (1 - p) / se**2)) * df  # df <= 1: samples >= items


def effective_n(p: float, se: float | None, n_items: int, n_samples: int, confidence: float = 0.95) -> float:
    """Kish's effective sample size of a clustered proportion: p(1-p)/SE^2, at most n_samples,
    with Korn & Graubard's degrees-of-freedom factor (t_{n_samples-1} / t_{n_items-1})^2 of
    :func:`kish_n` (without it, slices of 5-15 items with repeats covered 0.91 in
    bench/calibration.py; with (z / t_{n_items-1})^2, a little stricter than their formula, 0.971
    at 30 items x 3 and x 10, against 0.962 and 0.969 with theirs on the same seeds).

    When p is 0 or 1 nothing tells repeats apart, so repeats count as copies (n_items); when the
    clustered SE is zero (every item has the same mean) there is no design effect (n_samples).
    """
    if not 0.0 < p < 1.0 or se is None:
        return float(n_items)
    if se < 1e-12:
        return float(n_samples)
    return kish_n(p, se, 0.0, float(n_samples), n_items, confidence, n_obs=float(n_samples))


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
    return Estimate.clustered_proportion(
        p, n_eff, n_items=n_items, n_samples=int(x.size), method=method, confidence=confidence
    )
