"""The few distribution functions report, compare and gate need, without importing ``scipy.stats``.

Importing ``scipy.stats`` costs 0.45-0.9 s of CPU, a quarter of a large report's time. Each
function here evaluates exactly what the ``scipy.stats`` method it names evaluates (the same
``scipy.special`` routine, with the same handling of the support's edges), so the values are
the same bits; ``tests/analysis/test_distributions.py`` checks each one against ``scipy.stats``
over a grid, bit for bit. Some of those routines are private to ``scipy.special`` (Boost's
hypergeometric tail, beta and binomial distributions, the noncentral t's tail, as ``scipy.stats``
itself calls them); if a scipy release moved them, that test fails.
"""

from __future__ import annotations

import math

import numpy as np


def _ufunc(name: str) -> np.ufunc:
    from scipy.special import _ufuncs

    fn: np.ufunc = getattr(_ufuncs, name)
    return fn


def hypergeom_sf(k: np.ndarray, total: int, good: int | np.ndarray, draws: np.ndarray) -> np.ndarray:
    """``scipy.stats.hypergeom.sf(k, total, good, draws)``: P(X > k) for X the good ones among
    ``draws`` taken without replacement from ``total`` of which ``good`` are good."""
    k, good_a, draws_a = (np.asarray(x, dtype=float) for x in np.broadcast_arrays(k, good, draws))
    low = np.maximum(draws_a - (total - good_a), 0.0)
    high = np.minimum(good_a, draws_a)
    out = np.where(k < low, 1.0, 0.0)
    inside = (k >= low) & (k < high) & np.isfinite(k)
    if inside.any():
        sf = _ufunc("_hypergeom_sf")(k[inside], good_a[inside], draws_a[inside], float(total))
        out[inside] = np.clip(sf, 0.0, 1.0)
    out[np.isnan(k)] = np.nan
    return out


def chi2_sf(x: float, dof: float) -> float:
    """``scipy.stats.chi2.sf(x, dof)``."""
    from scipy.special import chdtrc

    if math.isnan(x):
        return math.nan
    return 1.0 if x <= 0.0 else float(chdtrc(dof, x))


def chi2_ppf(q: float, dof: float) -> float:
    """``scipy.stats.chi2.ppf(q, dof)``."""
    from scipy.special import gammaincinv

    return _edges(q, 0.0, math.inf) if not 0.0 < q < 1.0 else float(2 * gammaincinv(dof / 2, q))


def f_ppf(q: float, dfn: float, dfd: float) -> float:
    """``scipy.stats.f.ppf(q, dfn, dfd)``."""
    from scipy.special import fdtri

    return _edges(q, 0.0, math.inf) if not 0.0 < q < 1.0 else float(fdtri(dfn, dfd, q))


def beta_ppf(q: float, a: float, b: float) -> float:
    """``scipy.stats.beta.ppf(q, a, b)``."""
    return _edges(q, 0.0, 1.0) if not 0.0 < q < 1.0 else float(_ufunc("_beta_ppf")(q, a, b))


def binom_ppf(q: float, n: int, p: float) -> float:
    """``scipy.stats.binom.ppf(q, n, p)``: the least k with P(X <= k) >= q (-1 at q = 0)."""
    return _edges(q, -1.0, float(n)) if not 0.0 < q < 1.0 else float(_ufunc("_binom_ppf")(q, float(n), p))


def _edges(q: float, low: float, high: float) -> float:
    return low if q == 0.0 else high if q == 1.0 else math.nan


def norm_ppf(q: np.ndarray) -> np.ndarray:
    """``scipy.stats.norm.ppf(q)``."""
    from scipy.special import ndtri

    return np.asarray(ndtri(q), dtype=float)


def rankdata(x: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(x)`` of a 1-d array without NaN: ranks 1..n, ties given their mean
    rank (exact: a tie's mean rank is a multiple of 1/2)."""
    x = np.asarray(x)
    order = np.argsort(x, kind="stable")
    y = x[order]
    first = np.empty(y.size, dtype=bool)
    first[:1] = True
    np.not_equal(y[1:], y[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=y.size)
    mean_rank = (starts + 1).astype(float) + (counts - 1) / 2
    ranks = np.empty(y.size, dtype=float)
    ranks[order] = np.repeat(mean_rank, counts)
    return ranks


def binom_cdf(k: int, n: int, p: float) -> float:
    """``scipy.stats.binom.cdf(k, n, p)`` for an integer ``k``."""
    if k < 0:
        return 0.0
    return 1.0 if k >= n else float(np.clip(_ufunc("_binom_cdf")(float(k), float(n), p), 0.0, 1.0))


def binom_pmf(k: int, n: int, p: float) -> float:
    """``scipy.stats.binom.pmf(k, n, p)`` for an integer ``k``."""
    return 0.0 if not 0 <= k <= n else float(np.clip(_ufunc("_binom_pmf")(float(k), float(n), p), 0.0, 1.0))


def t_cdf(x: float, dof: float) -> float:
    """``scipy.stats.t.cdf(x, dof)``."""
    from scipy.special import stdtr

    if math.isnan(x) or math.isinf(x):
        return math.nan if math.isnan(x) else 1.0 if x > 0 else 0.0
    return float(stdtr(dof, x))


def t_ppf(q: float, dof: float) -> float:
    """``scipy.stats.t.ppf(q, dof)``."""
    from scipy.special import stdtrit

    return _edges(q, -math.inf, math.inf) if not 0.0 < q < 1.0 else float(stdtrit(dof, q))


def nct_sf(x: float, dof: float, nc: float) -> float:
    """``scipy.stats.nct.sf(x, dof, nc)``."""
    if math.isnan(x) or math.isinf(x):
        return math.nan if math.isnan(x) else 0.0 if x > 0 else 1.0
    with np.errstate(over="ignore"):  # as scipy.stats (its gh-17432)
        return float(np.clip(_ufunc("_nct_sf")(x, dof, nc), 0.0, 1.0))


def nct_cdf(x: float, dof: float, nc: float) -> float:
    """``scipy.stats.nct.cdf(x, dof, nc)``."""
    from scipy.special import nctdtr

    if math.isnan(x) or math.isinf(x):
        return math.nan if math.isnan(x) else 1.0 if x > 0 else 0.0
    return float(nctdtr(dof, nc, x))


def norm_cdf(x: float) -> float:
    """``scipy.stats.norm.cdf(x)``."""
    from scipy.special import ndtr

    return float(ndtr(x))


def ttest_rel_p(a: np.ndarray, b: np.ndarray) -> float:
    """The p-value of ``scipy.stats.ttest_rel(a, b)`` (two-sided) for 1-d float arrays without
    NaN, computed as scipy computes it: t = mean(d) / sqrt(var(d, ddof=1) / n), d = a - b, the
    variance the mean of squared deviations times n / (n - 1); p = 2 stdtr(n - 1, -|t|)."""
    from scipy.special import stdtr

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = np.asarray(d.size, dtype=float)
    mean = np.mean(d)
    deviations = d - np.mean(d, keepdims=True)
    var = np.mean(deviations**2) * (n / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.divide(mean - 0.0, np.sqrt(var / n))
    return float(2 * stdtr(n - 1, -np.abs(t)))
