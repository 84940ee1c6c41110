"""Drift of request attributes between a reference window and a current window (docs/drift.md).

Pure functions over plain arrays (one value per request), so they run on any window the traffic
table produces:

* categorical attributes: the exact conditional test: Pearson's statistic under draws of the
  reference counts from their multivariate hypergeometric law given the margins (the law of a
  random split of the pooled requests), with ties of that discrete null broken at random (seeded),
  so that the test has exactly its nominal size however rare the categories; the asymptotic
  chi-square p-value only where every expected count is at least 1,000 (below that its size strays
  from alpha: 0.022 to 0.056 with one degree of freedom at expected counts 5 to 100, docs/drift.md);
  the G-test on request;
* numeric attributes: the k-sample Anderson-Darling statistic (Scholz & Stephens 1987, midrank
  version for ties) with an exact permutation null on the table of counts at the pooled distinct
  values (the tabulated p-value assumes continuous data), or the two-sample Kolmogorov-Smirnov test;
* magnitudes: the population stability index and the Jensen-Shannon distance (base 2) of the
  binned distributions (categories; or the reference's deciles for numbers), each with a
  percentile bootstrap interval over both windows;
* one window's tests together: Benjamini-Hochberg adjusted p-values.

A divergence is never negative, so its plug-in value is biased upwards and its interval does not
reach 0 even when nothing moved: the tests answer "did it move", the magnitudes "by how much".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tailgate.analysis._estimate import Estimate
from tailgate.analysis._stats import adjust_bh

__all__ = [
    "AttributeDrift",
    "DriftTest",
    "WindowDrift",
    "attribute_drift",
    "categorical_test",
    "jensen_shannon",
    "numeric_test",
    "psi",
    "window_drift",
]

Kind = Literal["categorical", "numeric"]
# every expected count at least this: the asymptotic chi-square p-value; below: the exact test.
# Cochran's 5 is not enough: the conditional size of the 5% chi-square test of a 2 x 2 table is
# 0.022 at expected counts 5, 0.039 at 20, 0.056 at 50-100, 0.048-0.052 from 500 on; with more
# degrees of freedom 0.041-0.047 at 5-10 (bench/drift_chisq_size.py, docs/drift.md). The exact
# test's draws cost B x k whatever the window size, so it is cheap everywhere below.
_MIN_EXPECTED = 1000.0


@dataclass(frozen=True)
class DriftTest:
    """The outcome of one two-sample test.

    Attributes:
        method: the test, e.g. ``"chi-square"``, ``"exact conditional (chi-square statistic)"``.
        statistic: its statistic (chi-square, G, Anderson-Darling T, KS D, AUC, MMD^2...).
        p_value: its p-value under "both windows come from one distribution".
        dof: degrees of freedom where the test has them.
        n_ref: requests in the reference window.
        n_cur: requests in the current window.
        note: what the reader should know (a capped p-value, a fallback), or None.
    """

    method: str
    statistic: float
    p_value: float
    dof: int | None
    n_ref: int
    n_cur: int
    note: str | None = None


@dataclass(frozen=True)
class AttributeDrift:
    """How far one attribute moved between the windows.

    Attributes:
        name: the attribute.
        kind: ``"categorical"`` or ``"numeric"``.
        test: the homogeneity test.
        p_adjusted: the test's Benjamini-Hochberg adjusted p-value over the window's tests.
        psi: population stability index with its bootstrap interval.
        js: Jensen-Shannon distance (base 2, in [0, 1]) with its bootstrap interval.
        ref_share: share of each bin (category, or decile range for numbers) in the reference.
        cur_share: the same in the current window.
    """

    name: str
    kind: Kind
    test: DriftTest
    p_adjusted: float
    psi: Estimate
    js: Estimate
    ref_share: tuple[tuple[str, float], ...]
    cur_share: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class WindowDrift:
    """Every attribute test of one (reference, current) pair, corrected together.

    Attributes:
        attributes: one entry per attribute, in the order given.
        alpha: the false discovery rate the ``drifted`` list is controlled at.
        drifted: names of the attributes whose BH-adjusted p-value is at most ``alpha``.
        n_ref: requests in the reference window.
        n_cur: requests in the current window.
    """

    attributes: tuple[AttributeDrift, ...]
    alpha: float
    drifted: tuple[str, ...]
    n_ref: int
    n_cur: int


def _table(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Category labels and a 2 x k table of counts (reference row first); empty columns dropped."""
    labels, codes = np.unique(np.concatenate([ref.astype(str), cur.astype(str)]), return_inverse=True)
    k = labels.size
    table = np.stack([np.bincount(codes[: ref.size], minlength=k), np.bincount(codes[ref.size :], minlength=k)])
    return labels, table


def _chi_square(rows: np.ndarray, col: np.ndarray, n_ref: int, n_cur: int) -> np.ndarray:
    """Pearson's statistic of 2 x k tables with fixed margins; ``rows`` holds the reference row(s)."""
    total = n_ref + n_cur
    e_ref = col * (n_ref / total)
    e_cur = col * (n_cur / total)
    d = rows - e_ref  # the current row deviates by exactly -d
    return np.asarray(np.sum(d * d * (1.0 / e_ref + 1.0 / e_cur), axis=-1))


Ties = Literal["randomised", "mid-p", "conservative"]


def _permutation_p(null: np.ndarray, stat: float, ties: Ties, rng: np.random.Generator) -> float:
    """P-value of ``stat`` among ``B`` null draws of a discrete statistic (the observed value
    counts as one of the ``B + 1`` exchangeable values).

    ``conservative``: (1 + #{>= obs}) / (1 + B), valid but, for a discrete statistic, of size well
    under alpha where few values are attainable. ``mid-p``: (#{> obs} + (1 + #{= obs}) / 2) / (1 + B),
    not exactly level. ``randomised``: ties with the observed value are broken uniformly at random,
    p = (#{> obs} + K) / (1 + B) with K uniform on {1, ..., 1 + #{= obs}}; the observed value's rank
    among B + 1 exchangeable values is then uniform, so P(p <= alpha) = floor(alpha (1 + B)) / (1 + B)
    exactly (0.05 for B = 9,999 or 999). The coin comes from the seeded generator: the same input
    and seed give the same p-value.
    """
    tol = 1e-9 * max(1.0, abs(stat))
    above = float(np.sum(null > stat + tol))
    equal = float(np.sum(np.abs(null - stat) <= tol))
    total = 1.0 + null.size
    if ties == "conservative":
        return (1.0 + above + equal) / total
    if ties == "mid-p":
        return (above + (1.0 + equal) / 2.0) / total
    return (above + float(rng.integers(1, int(equal) + 2))) / total


_TIES_NOTE: dict[Ties, str] = {
    "randomised": "ties of the discrete null broken at random (seeded): exact size",
    "mid-p": "mid-p: ties of the discrete null count one half (not exactly level)",
    "conservative": "ties of the discrete null count in full (conservative)",
}


def categorical_test(
    ref: Sequence[Any] | np.ndarray,
    cur: Sequence[Any] | np.ndarray,
    *,
    method: Literal["auto", "chi-square", "g", "exact"] = "auto",
    permutations: int = 9999,
    seed: int = 0,
    ties: Ties = "randomised",
    _all_ties: dict[str, float] | None = None,
) -> DriftTest:
    """Test that a categorical attribute has the same distribution in both windows.

    ``auto`` uses the exact conditional test (module docstring) unless every expected count is at
    least 1,000, where Pearson's asymptotic chi-square p-value (as ``scipy.stats.chi2_contingency``
    without the continuity correction) is accurate and resolves p-values below 1 / (B + 1).
    ``g`` is the likelihood-ratio G-test. ``ties`` says how the exact test treats null draws
    equal to the observed statistic (:func:`_permutation_p`): with rare categories few tables
    are possible, and counting ties in full makes a 5% test reject well under 5% of the time
    (docs/drift.md).

    Example:
        >>> categorical_test(["en"] * 60 + ["de"] * 40, ["en"] * 40 + ["de"] * 60).p_value < 0.01
        True
    """
    from scipy import stats

    r, c = np.asarray(ref), np.asarray(cur)
    if r.size == 0 or c.size == 0:
        raise ValueError("both windows need at least one request")
    _, table = _table(r, c)
    col = table.sum(axis=0).astype(float)
    k = col.size
    if k < 2:
        if _all_ties is not None:
            _all_ties.update(dict.fromkeys(_TIES_NOTE, 1.0))
        return DriftTest("chi-square", 0.0, 1.0, 0, r.size, c.size, "one category in both windows")
    dof = k - 1
    expected = np.outer(table.sum(axis=1), col) / col.sum()
    if method == "g":
        g = 2.0 * float(np.sum(np.where(table > 0, table * np.log(np.where(table > 0, table, 1) / expected), 0.0)))
        return DriftTest("G-test", g, float(stats.chi2.sf(g, dof)), dof, r.size, c.size)
    stat = float(_chi_square(table[0].astype(float), col, r.size, c.size))
    if method == "chi-square" or (method == "auto" and expected.min() >= _MIN_EXPECTED):
        p = float(stats.chi2.sf(stat, dof))
        if _all_ties is not None:  # for the calibration bench: every rule from one set of draws
            _all_ties.update(dict.fromkeys(_TIES_NOTE, p))
        return DriftTest("chi-square", stat, p, dof, r.size, c.size)
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_hypergeometric(table.sum(axis=0), r.size, size=permutations).astype(float)
    null = _chi_square(draws, col, r.size, c.size)
    p = _permutation_p(null, stat, ties, rng)
    if _all_ties is not None:
        _all_ties.update({t: _permutation_p(null, stat, t, np.random.default_rng([seed, 7])) for t in _TIES_NOTE})
    note = _TIES_NOTE[ties]
    if method != "exact":
        note = f"an expected count below {_MIN_EXPECTED:,.0f}: exact conditional test; {note}"
    return DriftTest("exact conditional (chi-square statistic)", stat, p, dof, r.size, c.size, note)


AD_CELLS = 5_000  # distinct values the Anderson-Darling permutation null works on (see numeric_test)


def _ad_sigma2(n1: int, n2: int) -> float:
    """Null variance of the 2-sample A^2_akN (Scholz & Stephens 1987, eq. 4), as scipy computes it."""
    n = n1 + n2
    big_h = 1.0 / n1 + 1.0 / n2
    h = float(np.sum(1.0 / np.arange(1, n)))
    g = float(np.sum(np.cumsum(1.0 / np.arange(n - 1, 1, -1)) / np.arange(2, n)))
    k = 2
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * big_h
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * big_h - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * big_h + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    return float((a * n**3 + b * n**2 + c * n + d) / ((n - 1.0) * (n - 2.0) * (n - 3.0)))


def _ad_midrank(f1: np.ndarray, pooled: np.ndarray, n1: int) -> np.ndarray:
    """A^2_akN of Scholz & Stephens (1987, eq. 7, midranks for ties) of two samples from the
    reference's counts ``f1`` (one row per table) at the pooled distinct values with counts
    ``pooled``. With two samples both terms of the outer sum share the numerator
    (N M_a1j - n1 B_aj)^2, so A^2 = (N - 1) / N (1/n1 + 1/n2) sum_j l_j / N (...)^2 / D_j."""
    n = float(pooled.sum())
    n2 = n - n1
    b_a = np.cumsum(pooled) - pooled / 2.0
    denom = b_a * (n - b_a) - n * pooled / 4.0
    w = np.where(denom > 0, pooled / (n * np.where(denom > 0, denom, 1.0)), 0.0)
    m_a = np.cumsum(f1, axis=-1) - f1 / 2.0
    dev = n * m_a - n1 * b_a
    return np.asarray((n - 1) / n * (1 / n1 + 1 / n2) * np.sum(w * dev * dev, axis=-1))


def _ad_permutation(
    r: np.ndarray, c: np.ndarray, permutations: int, seed: int, ties: Ties, all_ties: dict[str, float] | None = None
) -> tuple[float, float, str | None]:
    """The standardised AD statistic and its permutation p-value: the reference's counts at the
    pooled distinct values are redrawn from their multivariate hypergeometric law (a random split
    of the pooled values); above ``AD_CELLS`` distinct values the data are first cut at pooled
    quantiles (a label-free coarsening, so the test stays exact)."""
    pooled = np.concatenate([r, c])
    values, codes = np.unique(pooled, return_inverse=True)
    note = None
    if values.size > AD_CELLS:
        edges = np.unique(np.quantile(pooled, np.linspace(0, 1, AD_CELLS + 1)[1:-1]))
        codes = np.searchsorted(edges, pooled, side="left")
        note = f"{values.size} distinct values cut at {edges.size} pooled quantiles for the permutation null"
        _, codes = np.unique(codes, return_inverse=True)
    codes = codes.ravel()
    counts = np.bincount(codes)
    f1 = np.bincount(codes[: r.size], minlength=counts.size).astype(float)
    a2 = float(_ad_midrank(f1, counts.astype(float), r.size))
    rng = np.random.default_rng(seed)
    null = np.empty(permutations)
    chunk = max(1, 2_000_000 // counts.size)
    for start in range(0, permutations, chunk):
        size = min(chunk, permutations - start)
        draws = rng.multivariate_hypergeometric(counts, r.size, size=size).astype(float)
        null[start : start + size] = _ad_midrank(draws, counts.astype(float), r.size)
    p = _permutation_p(null, a2, ties, rng)
    if all_ties is not None:
        all_ties.update({t: _permutation_p(null, a2, t, np.random.default_rng([seed, 7])) for t in _TIES_NOTE})
    stat = (a2 - 1.0) / math.sqrt(_ad_sigma2(r.size, c.size))
    return stat, p, note


def numeric_test(
    ref: Sequence[float] | np.ndarray,
    cur: Sequence[float] | np.ndarray,
    *,
    method: Literal["ad", "ks"] = "ad",
    null: Literal["permutation", "table"] = "permutation",
    permutations: int = 999,
    seed: int = 0,
    ties: Ties = "randomised",
    _all_ties: dict[str, float] | None = None,
) -> DriftTest:
    """Test that a numeric attribute has the same distribution in both windows.

    ``ad``: the k-sample Anderson-Darling statistic (Scholz & Stephens 1987, midrank version for
    ties; its standardised value, as ``scipy.stats.anderson_ksamp`` reports it). Its p-value:

    * ``null="permutation"`` (default): the exact permutation null, ``permutations`` random splits
      of the pooled values, ties broken as ``ties`` says (:func:`_permutation_p`). It works on the
      table of counts at the pooled distinct values, so its cost is permutations x distinct values,
      not the window size; above ``AD_CELLS`` distinct values the values are first cut at that
      many pooled quantiles (a function of the pool only: still exact; the note says so).
    * ``null="table"``: scipy's interpolation in Scholz & Stephens' table, capped to
      [0.001, 0.25] (the note says when); derived for continuous data: with heavy ties (small
      integers) it rejects too often.

    ``ks``: ``scipy.stats.ks_2samp`` (exact for small windows; conservative under ties).
    """
    from scipy import stats

    r = np.asarray(ref, dtype=float)
    c = np.asarray(cur, dtype=float)
    r, c = r[np.isfinite(r)], c[np.isfinite(c)]
    if r.size < 2 or c.size < 2:
        raise ValueError("both windows need at least two finite values")
    if method == "ks":
        res = stats.ks_2samp(r, c)
        return DriftTest("Kolmogorov-Smirnov", float(res.statistic), float(res.pvalue), None, r.size, c.size)
    if np.unique(np.concatenate([r, c])).size < 2:
        return DriftTest("Anderson-Darling k-sample", 0.0, 1.0, None, r.size, c.size, "one value in both windows")
    if null == "permutation":
        stat, p, note = _ad_permutation(r, c, permutations, seed, ties, _all_ties)
        method_name = f"Anderson-Darling k-sample, permutation null (B={permutations})"
        note = f"{note}; {_TIES_NOTE[ties]}" if note else _TIES_NOTE[ties]
        return DriftTest(method_name, stat, p, None, r.size, c.size, note)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = stats.anderson_ksamp([r, c], variant="midrank")
        except TypeError:  # scipy < 1.17: midrank is the default
            res = stats.anderson_ksamp([r, c])
    capped = any("capped" in str(w.message) or "floored" in str(w.message) for w in caught)
    note = "p-value capped to [0.001, 0.25] (scipy's table)" if capped else None
    return DriftTest("Anderson-Darling k-sample", float(res.statistic), float(res.pvalue), None, r.size, c.size, note)


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Population stability index sum (c - r) ln(c / r) over bin shares, each bin's count plus
    0.5 (Jeffreys) so that an empty bin stays finite."""
    r = np.asarray(ref_counts, dtype=float) + 0.5
    c = np.asarray(cur_counts, dtype=float) + 0.5
    r, c = r / r.sum(), c / c.sum()
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (square root of the divergence, base 2) of two count vectors."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(np.asarray(ref_counts, float), np.asarray(cur_counts, float), base=2))


def _psi_rows(r: np.ndarray, c: np.ndarray) -> np.ndarray:
    r, c = r + 0.5, c + 0.5
    r = r / r.sum(axis=-1, keepdims=True)
    c = c / c.sum(axis=-1, keepdims=True)
    return np.asarray(np.sum((c - r) * np.log(c / r), axis=-1))


def _js_rows(r: np.ndarray, c: np.ndarray) -> np.ndarray:
    r = r / r.sum(axis=-1, keepdims=True)
    c = c / c.sum(axis=-1, keepdims=True)
    m = 0.5 * (r + c)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_r = np.where(r > 0, r * np.log2(r / m), 0.0).sum(axis=-1)
        kl_c = np.where(c > 0, c * np.log2(c / m), 0.0).sum(axis=-1)
    return np.asarray(np.sqrt(np.maximum(0.5 * (kl_r + kl_c), 0.0)))


def _magnitudes(
    ref_counts: np.ndarray, cur_counts: np.ndarray, confidence: float, resamples: int, seed: int
) -> tuple[Estimate, Estimate]:
    """PSI and JS with percentile bootstrap intervals: each window's counts redrawn from its own
    shares (the bootstrap of binned requests with the bins held fixed)."""
    rng = np.random.default_rng(seed)
    n_r, n_c = int(ref_counts.sum()), int(cur_counts.sum())
    boot_r = rng.multinomial(n_r, ref_counts / n_r, size=resamples).astype(float)
    boot_c = rng.multinomial(n_c, cur_counts / n_c, size=resamples).astype(float)
    q = [50 * (1 - confidence), 50 * (1 + confidence)]
    out = []
    for name, value, boot in (
        ("PSI", psi(ref_counts, cur_counts), _psi_rows(boot_r, boot_c)),
        ("Jensen-Shannon distance", jensen_shannon(ref_counts, cur_counts), _js_rows(boot_r, boot_c)),
    ):
        low, high = (float(x) for x in np.percentile(boot, q))
        method = f"{name}, percentile bootstrap ({resamples} resamples of both windows; biased up near 0)"
        out.append(Estimate(value, low, high, n_r + n_c, n_r + n_c, method, float(np.std(boot)), confidence))
    return out[0], out[1]


def _bins(kind: Kind, r: np.ndarray, c: np.ndarray, bins: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bin labels and the counts of each window: categories, or the reference's quantile bins."""
    if kind == "categorical":
        levels, table = _table(r, c)
        return [str(x) for x in levels], table[0], table[1]
    edges = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)[1:-1]))
    ir, ic = np.searchsorted(edges, r, side="right"), np.searchsorted(edges, c, side="right")
    k = edges.size + 1
    bounds = [-math.inf, *edges.tolist(), math.inf]
    labels = [f"({bounds[i]:.4g}, {bounds[i + 1]:.4g}]" for i in range(k)]
    return labels, np.bincount(ir, minlength=k), np.bincount(ic, minlength=k)


def attribute_drift(
    name: str,
    ref: Sequence[Any] | np.ndarray,
    cur: Sequence[Any] | np.ndarray,
    *,
    kind: Kind | None = None,
    numeric_method: Literal["ad", "ks"] = "ad",
    bins: int = 10,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
    ties: Ties = "randomised",
) -> AttributeDrift:
    """Test and magnitudes of one attribute (kind inferred: numbers are numeric, else categorical).

    ``ties`` is passed to the permutation tests (:func:`categorical_test`, :func:`numeric_test`).
    ``p_adjusted`` equals the raw p-value here; :func:`window_drift` fills in BH over a window.
    """
    r, c = np.asarray(ref), np.asarray(cur)
    kind = kind or ("numeric" if r.dtype.kind in "iuf" and c.dtype.kind in "iuf" else "categorical")
    if kind == "numeric":
        r, c = r.astype(float), c.astype(float)
        r, c = r[np.isfinite(r)], c[np.isfinite(c)]
        test = numeric_test(r, c, method=numeric_method, seed=seed, ties=ties)
    else:
        test = categorical_test(r, c, seed=seed, ties=ties)
    labels, rc, cc = _bins(kind, r, c, bins)
    m_psi, m_js = _magnitudes(rc.astype(float), cc.astype(float), confidence, resamples, seed)
    return AttributeDrift(name, kind, test, test.p_value, m_psi, m_js, _shares(labels, rc), _shares(labels, cc))


def _shares(labels: list[str], counts: np.ndarray) -> tuple[tuple[str, float], ...]:
    total = max(1, int(counts.sum()))
    return tuple((label, float(x) / total) for label, x in zip(labels, counts, strict=True))


def window_drift(
    ref: Mapping[str, Sequence[Any] | np.ndarray],
    cur: Mapping[str, Sequence[Any] | np.ndarray],
    *,
    kinds: Mapping[str, Kind] | None = None,
    alpha: float = 0.05,
    extra_p: Mapping[str, float] | None = None,
    seed: int = 0,
    **options: Any,
) -> WindowDrift:
    """Every attribute of ``ref`` (present in ``cur`` too), with BH over the window's tests.

    ``extra_p`` names p-values of further tests of the same window (the text tests) that join
    the correction; they count in the adjustment but are not listed as attributes.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> ref = {"lang": rng.choice(["en", "de"], 500, p=[0.9, 0.1]), "chars": rng.lognormal(5, 1, 500)}
        >>> cur = {"lang": rng.choice(["en", "de"], 500, p=[0.7, 0.3]), "chars": rng.lognormal(5, 1, 500)}
        >>> window_drift(ref, cur).drifted
        ('lang',)
    """
    names = [n for n in ref if n in cur]
    kinds = kinds or {}
    found = [
        attribute_drift(n, ref[n], cur[n], kind=kinds.get(n), seed=seed + i, **options) for i, n in enumerate(names)
    ]
    extra = list((extra_p or {}).values())
    adjusted = adjust_bh(np.array([a.test.p_value for a in found] + extra, dtype=float))
    out = tuple(
        AttributeDrift(a.name, a.kind, a.test, float(q), a.psi, a.js, a.ref_share, a.cur_share)
        for a, q in zip(found, adjusted, strict=False)
    )
    n_ref = max((a.test.n_ref for a in out), default=0)
    n_cur = max((a.test.n_cur for a in out), default=0)
    return WindowDrift(out, alpha, tuple(a.name for a in out if a.p_adjusted <= alpha), n_ref, n_cur)
