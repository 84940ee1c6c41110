"""Statistics on item-level summaries: the building blocks every report number is made of.

Everything here works on per-cluster (per-item) sufficient statistics, so the heavy grouping can
run in the query engine and only one row per item reaches Python:

* clustered mean from per-item counts and sums (equal to :func:`clustered_mean` on the samples);
* percentiles with distribution-free order-statistic intervals on the clustered effective n;
* unbiased pass@k and pass^k from n trials with c successes;
* Benjamini-Hochberg and Benjamini-Yekutieli adjusted p-values;
* the Gini coefficient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tailgate.analysis._estimate import Estimate, _t_quantile, _z_quantile, clustered_t, effective_n

__all__ = [
    "Percentile",
    "adjust_bh",
    "adjust_by",
    "bootstrap_percentiles",
    "estimate_from_sums",
    "gini",
    "pass_at_k",
    "pass_hat_k",
]


def estimate_from_sums(counts: np.ndarray, sums: np.ndarray, binary: bool, confidence: float = 0.95) -> Estimate:
    """The mean over all samples of clusters with ``counts[i]`` samples summing to ``sums[i]``.

    Same estimator and interval as :func:`tailgate.analysis.mean_estimate` applied to the
    samples themselves (a test checks it): Wilson for one 0/1 sample per item, Wilson on the
    clustered effective n for 0/1 scores with several samples per item, clustered t otherwise.
    Clusters with no samples are ignored.
    """
    keep = counts > 0
    n_i = counts[keep].astype(float)
    s_i = sums[keep].astype(float)
    items = int(n_i.size)
    total = float(n_i.sum())
    if items == 0:
        return Estimate.no_interval("no scored samples", confidence=confidence)
    mean = float(s_i.sum() / total)
    resid = s_i - n_i * mean
    se = math.sqrt(float(np.sum(resid * resid))) / total
    if not binary:
        return clustered_t(mean, se, items, int(total), confidence)
    if items == total:
        n_eff, method = total, "proportion, Wilson"
    else:
        n_eff = effective_n(mean, se if items > 1 else None, items, int(total), confidence)
        method = f"proportion, Wilson on clustered n_eff={n_eff:.0f}"
    return Estimate.clustered_proportion(
        mean, n_eff, n_items=items, n_samples=int(total), method=method, confidence=confidence
    )


@dataclass(frozen=True)
class Percentile:
    """A percentile with its interval (None, with the reason in ``method``, when no
    distribution-free interval exists at this effective sample size)."""

    q: float
    """The percentile, in [0, 100]."""
    value: float
    """The sample percentile (linear interpolation)."""
    low: float | None
    """Lower end of the distribution-free interval; None when none exists at this n."""
    high: float | None
    n_items: int
    n_samples: int
    method: str
    """How the interval was made, or how many effective samples it would need."""

    def as_dict(self) -> dict[str, object]:
        return {
            "q": self.q,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "n_items": self.n_items,
            "n_samples": self.n_samples,
            "method": self.method,
        }


def bootstrap_percentiles(
    values: np.ndarray,
    clusters: np.ndarray,
    qs: Sequence[float],
    *,
    replicates: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    max_work: float = 2e9,
) -> list[Percentile]:
    """Percentiles ``qs`` (in [0, 100]) of ``values`` with distribution-free intervals clustered
    on items (the name is historical: a percentile bootstrap undercovers extreme quantiles, 42%
    for a p99 of 50 items, so no bootstrap is used; ``replicates``, ``seed`` and ``max_work`` are
    kept for callers and ignored).

    The point estimate is the exact sample percentile (linear interpolation, numpy's default).
    The interval is the distribution-free order-statistic interval for a quantile, on the
    effective sample size under clustering, inverted through the sample (Woodruff 1952; Sitter &
    Wu 2001): the share of samples at or below the true q-th quantile is a clustered proportion.
    Its design effect is estimated for each q, from the indicator 1{x <= x_q} at the sample
    percentile x_q: with a_i of item i's m_i samples at or below x_q, N = sum m_i and
    p = sum a_i / N, the ratio-estimator variance over the I items
    v = I / (I - 1) sum_i (a_i - p m_i)^2 / N^2 gives deff = N v / (p (1 - p)), at least 1
    (repeats of an item are not negatively correlated). n_eff = N / deff times Korn & Graubard's
    (1998) degrees-of-freedom factor (z / t_{I-1})^2; one sample per item gives n_eff = N
    exactly. With m = floor(n_eff), r and s the binomial ranks with P(r <= B < s) >= confidence
    for B ~ Binomial(m, q), the interval is [the floor(r N / m)-th, the ceil(s N / m)-th] order
    statistics (for independent samples, exactly the classical distribution-free interval).

    A distribution-free interval exists only when n_eff is large enough that the extreme order
    statistics are not needed: q^n_eff <= alpha/2 (p99: n_eff >= 368; p95: 72; p90: 35; p50: 6).
    Below that the percentile keeps its value, ``low`` and ``high`` are None and ``method``
    says how many effective samples it would need. In the far tail of few items the direct
    variance rests on the handful of items with samples beyond x_q, too noisy to decide that
    alone (the runs where it happened to be small enough covered 0.68 for a p95 of 30 items x 3
    samples), so an interval also needs enough effective samples under a stable, rank-based
    design effect: 1 + (m_w - 1) rho_q, m_w = sum m_i^2 / N and rho_q the correlation of two
    repeats' indicators when the samples' normal scores have the intra-class correlation rho
    that the data show (bivariate normal orthant probability, a Gaussian copula within items).
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return []
    _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    items = int(codes.max()) + 1
    points = np.percentile(x, list(qs))
    if items < 2:
        return [
            Percentile(q, float(p), None, None, items, int(x.size), "one item: no interval")
            for q, p in zip(qs, points, strict=True)
        ]
    design = _QuantileDesign.of(x, codes, items, confidence)  # replicates, seed, max_work: unused
    order = np.sort(x)
    out = []
    for q, point in zip(qs, points, strict=True):
        p = float(q) / 100.0
        few = _too_few_items_beyond(p, items, x.size)
        if few is not None:
            out.append(Percentile(float(q), float(point), None, None, items, int(x.size), few))
            continue
        n_eff, how = design.n_eff(p, float(point))
        low, high, method = _quantile_interval(order, p, n_eff, how, confidence)
        out.append(Percentile(float(q), float(point), low, high, items, int(x.size), method))
    return out


@dataclass(frozen=True)
class _QuantileDesign:
    """How one vector of samples clusters on items, for the effective n of its quantiles."""

    x: np.ndarray
    codes: np.ndarray
    sizes: np.ndarray
    rho: float
    """Intra-class correlation of the samples' normal scores (one-way ANOVA, clipped to [0, 1])."""
    df_factor: float
    confidence: float

    @classmethod
    def of(cls, x: np.ndarray, codes: np.ndarray, items: int, confidence: float) -> _QuantileDesign:
        sizes = np.bincount(codes, minlength=items).astype(float)
        if x.size == items:  # one sample per item: independent
            return cls(x, codes, sizes, 0.0, 1.0, confidence)
        df_factor = (_z_quantile(confidence) / _t_quantile(confidence, items - 1)) ** 2
        return cls(x, codes, sizes, _normal_score_icc(x, codes, sizes), df_factor, confidence)

    def n_eff(self, p: float, point: float) -> tuple[float, str]:
        """The effective n for the p-quantile whose sample value is ``point``, and how it was
        made (see :func:`bootstrap_percentiles`)."""
        total = float(self.x.size)
        if total == self.sizes.size:
            return total, f"clustered n_eff={total:.0f} (design effect 1.00)"  # one sample per item
        label = f"p{100 * p:g}"
        m_w = float(np.sum(self.sizes * self.sizes)) / total
        ranks = 1.0 + (m_w - 1.0) * _indicator_correlation(self.rho, p)
        ranks_n = total / ranks * self.df_factor
        from_ranks = f"clustered n_eff={ranks_n:.0f} (design effect {ranks:.2f} from the rank correlation within items"
        direct = _indicator_deff(self.x <= point, self.codes, self.sizes)
        if direct is None:  # every sample is at or below the percentile (ties at the maximum)
            return ranks_n, f"{from_ranks}; the {label} indicator is constant)"
        direct = max(direct, 1.0)  # below 1 by chance only: repeats are not negatively correlated
        direct_n = total / direct * self.df_factor
        if ranks_n < min(direct_n, _order_statistic_need(p, self.confidence)):
            return ranks_n, f"{from_ranks}; the {label} indicator's own, {direct:.2f}, rests on too few items)"
        return direct_n, f"clustered n_eff={direct_n:.0f} (design effect {direct:.2f} of the {label} indicator)"


def _normal_score_icc(x: np.ndarray, codes: np.ndarray, sizes: np.ndarray) -> float:
    """One-way ANOVA intra-class correlation (unequal sizes) of the samples' normal scores."""
    from tailgate.analysis._distributions import norm_ppf, rankdata

    total, items = x.size, sizes.size
    scores = norm_ppf((rankdata(x) - 0.5) / total)
    sums = np.bincount(codes, weights=scores, minlength=items)
    squares = np.bincount(codes, weights=scores * scores, minlength=items)
    means = sums / sizes
    within = float(np.sum(squares - sizes * means * means)) / (total - items)
    between = float(np.sum(sizes * (means - scores.mean()) ** 2)) / (items - 1)
    m0 = (total - float(np.sum(sizes * sizes)) / total) / (items - 1)
    denominator = between + (m0 - 1) * within
    return min(max((between - within) / denominator, 0.0), 1.0) if denominator > 0 else 0.0


def _indicator_deff(below: np.ndarray, codes: np.ndarray, sizes: np.ndarray) -> float | None:
    """Design effect of the share of samples in ``below`` as a ratio estimator over items
    (None when the indicator is constant): N v / (p (1 - p)), v the cluster-robust variance
    I / (I - 1) sum_i (a_i - p m_i)^2 / N^2 of the mean of the indicator."""
    items = sizes.size
    total = float(sizes.sum())
    a = np.bincount(codes, weights=below.astype(float), minlength=items)
    share = float(a.sum()) / total
    if share <= 0.0 or share >= 1.0:
        return None
    resid = a - share * sizes
    v = items / (items - 1) * float(np.sum(resid * resid)) / total**2
    return total * v / (share * (1.0 - share))


def _indicator_correlation(rho: float, p: float) -> float:
    """corr(1{Z1 <= h}, 1{Z2 <= h}) for standard bivariate normal (Z1, Z2) with correlation
    ``rho`` and h = Phi^-1(p): P(Z1 <= h, Z2 <= h) - p^2 = (1 / 2 pi) int_0^rho
    exp(-h^2 / (1 + r)) / sqrt(1 - r^2) dr (Plackett 1954, the derivative of the bivariate normal
    distribution in rho is its density), with r = sin t: a smooth integrand on [0, asin rho]."""
    if rho <= 0.0 or p <= 0.0 or p >= 1.0:
        return 0.0
    from statistics import NormalDist

    h = NormalDist().inv_cdf(p)
    nodes, weights = np.polynomial.legendre.leggauss(32)
    top = math.asin(min(rho, 1.0))
    t = (nodes + 1.0) * top / 2.0
    joint = float(np.sum(weights * np.exp(-h * h / (1.0 + np.sin(t))))) * top / 2.0 / (2.0 * math.pi)
    return min(joint / (p * (1.0 - p)), 1.0)


MIN_ITEMS_BEYOND = 5
"""With repeats, a percentile's interval needs this many items expected beyond it."""


def _too_few_items_beyond(p: float, items: int, samples: int) -> str | None:
    """Why a clustered sample (more samples than items) gives the p-quantile no interval: fewer
    than :data:`MIN_ITEMS_BEYOND` items expected beyond it (items x min(p, 1 - p)), or None. The
    tail of few items rests on two or three items' repeats, which the design effect cannot be
    estimated from (at 30 items, p90 with 3 repeats covered 0.90 and p95 with 10 covered 0.93:
    ``bench/calibration.py``). Independent samples keep the exact interval."""
    if samples <= items or not 0.0 < p < 1.0:
        return None
    tail = min(p, 1.0 - p)
    if items * tail >= MIN_ITEMS_BEYOND - 1e-9:
        return None
    need = math.ceil(MIN_ITEMS_BEYOND / tail - 1e-9)
    return (
        f"too few items for p{100 * p:g}: with repeats an interval needs {MIN_ITEMS_BEYOND} items expected "
        f"beyond it ({need} items), this run has {items}"
    )


def _order_statistic_need(p: float, confidence: float) -> float:
    """The effective n below which no distribution-free interval for the p-quantile exists:
    max(p, 1 - p)^n > alpha / 2 (the interval would need an order statistic beyond the sample)."""
    if not 0.0 < p < 1.0:
        return math.inf
    return math.log((1.0 - confidence) / 2) / math.log(max(p, 1.0 - p))


def _quantile_interval(
    order: np.ndarray, p: float, n_eff: float, clustered: str, confidence: float
) -> tuple[float | None, float | None, str]:

    alpha = 1.0 - confidence
    total = order.size
    if p <= 0.0 or p >= 1.0:
        return None, None, "the sample minimum or maximum: no distribution-free interval"
    need = _order_statistic_need(p, confidence)
    if n_eff < need:
        return (
            None,
            None,
            f"too few samples for p{100 * p:g}: a distribution-free {confidence:.0%} interval needs "
            f"n_eff >= {math.ceil(need)}, this run has {clustered}",
        )
    # fractional ranks (Hutson 1999): u_l, u_u with P(U_(u) <= p) = 1 - alpha/2 and alpha/2 for
    # U_(u) ~ Beta(u, m - u + 1), the law of the u-th of m uniform order statistics continued to
    # real u, and m = n_eff itself; their positions u N / m in the N samples, interpolated.
    m = max(n_eff, 1.0)
    lower = _fractional_rank(p, m, 1.0 - alpha / 2)
    upper = _fractional_rank(p, m, alpha / 2)
    if lower is None or upper is None:  # (excluded by ``need`` but for rounding at its edge)
        return None, None, f"too few samples for p{100 * p:g}: this run has {clustered}"
    low = _fractional_order_statistic(order, lower / m * total)
    high = _fractional_order_statistic(order, upper / m * total)
    method = f"fractional order-statistic interval (Hutson) inverted through the sample (Woodruff), {clustered}"
    return low, high, method


def _fractional_rank(p: float, m: float, level: float) -> float | None:
    """The real u in [1, m] with I_p(u, m - u + 1) = ``level`` (the regularized incomplete beta,
    decreasing in u), or None when none is: bisection to 1e-9 of a rank."""
    from scipy.special import betainc

    def chance(u: float) -> float:
        return float(betainc(u, m - u + 1.0, p))

    lo, hi = 1.0, m
    if chance(lo) < level or chance(hi) > level:
        return None
    while hi - lo > 1e-9:
        mid = (lo + hi) / 2
        if chance(mid) >= level:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _fractional_order_statistic(order: np.ndarray, position: float) -> float:
    """X_(position) for a 1-based real position, linear between the neighbouring order statistics
    (clipped to the sample)."""
    position = min(max(position, 1.0), float(order.size))
    below = math.floor(position)
    weight = position - below
    if weight == 0.0 or below >= order.size:
        return float(order[below - 1])
    return float((1.0 - weight) * order[below - 1] + weight * order[below])


def pass_at_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Unbiased pass@k per item: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021, "Evaluating Large
    Language Models Trained on Code", eq. 1). Items with n < k give NaN."""
    n, c, ok = _trials(n, c, k)
    out = np.full(n.shape, np.nan)
    fail = n - c
    none_pass = np.zeros(n.shape)
    some = ok & (fail >= k)
    none_pass[some] = np.exp(_log_comb(fail[some], k) - _log_comb(n[some], k))
    out[ok] = 1.0 - none_pass[ok]
    return out


def pass_hat_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Unbiased pass^k per item: C(c, k) / C(n, k), the chance that k samples drawn without
    replacement all pass (Yao et al. 2024, "tau-bench", sec. 4). Items with n < k give NaN."""
    n, c, ok = _trials(n, c, k)
    out = np.full(n.shape, np.nan)
    out[ok] = 0.0
    some = ok & (c >= k)
    out[some] = np.exp(_log_comb(c[some], k) - _log_comb(n[some], k))
    return out


def beta_binomial_rho(n: np.ndarray, c: np.ndarray) -> float:
    """The intra-unit correlation of passes, by moments: the spread of the units' pass rates
    c / n beyond binomial noise, rho = (m Var(c / n) / (p (1 - p)) - 1) / (m - 1) with m the mean
    number of samples per unit (exact for equal n: the beta-binomial's Var(c / n) =
    p (1 - p) (1 + (n - 1) rho) / n), clipped to [0, 0.99]; 0 with one sample per unit or no
    spread."""
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    p = float(c.sum() / n.sum()) if n.sum() > 0 else 0.0
    m = float(n.mean()) if n.size else 0.0
    if n.size < 2 or m <= 1.0 or not 0.0 < p < 1.0:
        return 0.0
    spread = float(np.var(c / n, ddof=1))
    return min(0.99, max(0.0, (m * spread / (p * (1 - p)) - 1.0) / (m - 1.0)))


def beta_binomial_estimator_variance(
    n: np.ndarray, p: float, rho: float, k: int, estimator: Callable[[np.ndarray, np.ndarray, int], np.ndarray]
) -> np.ndarray:
    """The variance of a per-unit estimator (:func:`pass_at_k` or :func:`pass_hat_k`) of a unit
    with ``n`` samples whose passes are beta-binomial with mean ``p`` and intra-unit correlation
    ``rho`` (binomial at 0): sum over c of pmf(c) f(c)^2 minus the squared mean; units with
    n < k give NaN.

    It is the estimator's variance over items were the items' pass rates Beta-distributed with
    the run's mean and spread: a model of the whole item population, fitted from every item's
    pass count, where the plain variance of the per-item estimates rests on the few items away
    from 0 or 1 (pass@5 at a high pass rate is 1 for most items)."""
    n = np.asarray(n, dtype=float)
    if not 0.0 < p < 1.0:
        return np.where(n >= k, 0.0, np.nan)
    from scipy.special import betaln

    out = np.full(n.shape, np.nan)
    spread = 1.0 / rho - 1.0 if rho > 0 else math.inf
    for size in np.unique(n[n >= k]):
        c = np.arange(int(size) + 1, dtype=float)
        full = np.full(c.shape, size)
        if math.isinf(spread):
            log_pmf = _log_comb(full, c) + c * math.log(p) + (size - c) * math.log1p(-p)
        else:
            a, b = p * spread, (1 - p) * spread
            log_pmf = _log_comb(full, c) + betaln(c + a, size - c + b) - betaln(a, b)
        pmf = np.exp(log_pmf - log_pmf.max())
        pmf /= pmf.sum()
        f = estimator(full, c, k)
        mean = float(pmf @ f)
        out[n == size] = max(0.0, float(pmf @ (f * f)) - mean * mean)
    return out


def _trials(n: np.ndarray, c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if k < 1:
        raise ValueError("k must be at least 1")
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    return n, c, n >= k


def _log_comb(n: np.ndarray, k: int | np.ndarray) -> np.ndarray:
    from scipy.special import gammaln

    return np.asarray(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1))


def adjust_bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (valid under independence or PRDS)."""
    return _step_up(np.asarray(p, dtype=float), 1.0)


def adjust_by(p: np.ndarray) -> np.ndarray:
    """Benjamini-Yekutieli adjusted p-values: BH times sum(1/i), valid under any dependence
    (e.g. overlapping slices)."""
    p = np.asarray(p, dtype=float)
    return _step_up(p, float(np.sum(1.0 / np.arange(1, p.size + 1))) if p.size else 1.0)


def _step_up(p: np.ndarray, factor: float) -> np.ndarray:
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m * factor / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    return out


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, near 1 when one holds all.

    G = sum_i sum_j |x_i - x_j| / (2 n^2 mean), computed from the sorted values in O(n log n).
    """
    v = np.sort(np.asarray(x, dtype=float))
    n = v.size
    if n == 0 or v.sum() == 0:
        return 0.0
    index = np.arange(1, n + 1)
    return float(np.sum((2 * index - n - 1) * v) / (n * v.sum()))
