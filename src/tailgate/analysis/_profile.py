"""Failure profile: does the model fail at random, or always on the same items?

Miller (2024, "Adding Error Bars to Evals", sec. 3) splits the variance of a score x into the
variance *between* items of their true means, Var(E[x|item]), and the mean variance *within* an
item over repeated samples, E[sigma^2]. Estimated from n_i samples per item:

    W = mean over items of the sample variance s_i^2 (ddof 1; items with 2+ samples)
    B = Var(item means, ddof 1) - mean(s_i^2 / n_i)        (clipped at 0)

The intra-class correlation ICC = B / (B + W) is near 0 when failures are noise (any item may
fail on any try) and near 1 when they are systematic (the same items always fail). With n items
and K repeats the variance of the mean is (B + W / K) / n, which gives the advice on repeats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailgate.analysis._data import ItemFrame
from tailgate.analysis._estimate import Estimate, wilson_interval

__all__ = ["Concentration", "FailureProfile", "RepeatAdvice", "failure_profile", "gini_weighted", "variance_components"]


@dataclass(frozen=True)
class Concentration:
    """How much of the failure one discovered slice holds."""

    slice: str
    """The worst discovered slice's label."""
    share_of_items: float
    share_of_errors: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"slice": self.slice, "share_of_items": self.share_of_items, "share_of_errors": self.share_of_errors}


@dataclass(frozen=True)
class RepeatAdvice:
    """What ``repeats`` samples per item would give, with the same items."""

    repeats: int
    relative_ci_width: float
    """Interval width relative to the run's own repeats (1 = as now)."""
    calls_per_item: int

    def as_dict(self) -> dict[str, float]:
        return {
            "repeats": float(self.repeats),
            "relative_ci_width": self.relative_ci_width,
            "calls_per_item": float(self.calls_per_item),
        }


@dataclass(frozen=True)
class FailureProfile:
    """Random or systematic failures: variance components, ICC, Gini, advice on repeats."""

    between_var: float | None
    """B: variance between items of their true means; None without repeats."""
    within_var: float | None
    """W: mean variance within an item over its samples; None without repeats."""
    icc: Estimate
    """B / (B + W): near 0, failures are noise; near 1, the same items always fail."""
    gini: Estimate
    """Gini coefficient of the items' failure rates."""
    never_pass: Estimate
    """Share of items with no passing sample."""
    never_pass_if_random: float | None
    """That share if failures struck samples at random at the run's failure rate."""
    verdict: str
    repeats_now: int
    """Median samples per item."""
    repeats_advice: list[RepeatAdvice]
    recommended_repeats: int | None
    """Repeats that bring the interval within 5% of the narrowest; None when B is 0."""
    advice: str
    concentration: Concentration | None = None
    """The worst discovered slice's share of items and of errors (set by the report)."""
    warnings: list[str] = field(default_factory=list)
    """Why the ICC and verdict may say less than they seem to (e.g. repeats that cannot differ)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "between_var": self.between_var,
            "within_var": self.within_var,
            "icc": self.icc.as_dict(),
            "gini": self.gini.as_dict(),
            "never_pass": self.never_pass.as_dict(),
            "never_pass_if_random": self.never_pass_if_random,
            "verdict": self.verdict,
            "repeats_now": self.repeats_now,
            "repeats_advice": [r.as_dict() for r in self.repeats_advice],
            "recommended_repeats": self.recommended_repeats,
            "advice": self.advice,
            "concentration": {} if self.concentration is None else self.concentration.as_dict(),
            "warnings": self.warnings,
        }


def variance_components(
    n: np.ndarray, s1: np.ndarray, s2: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, float] | None:
    """(B, W) from per-item counts, sums and sums of squares (``weights``: how many items share
    each row); None without at least two items with repeated samples."""
    w = np.ones(n.shape) if weights is None else np.asarray(weights, dtype=float)
    keep = (n >= 2) & (w > 0)
    total = float(w[keep].sum())
    if total < 2:
        return None
    n, s1, s2, w = n[keep].astype(float), s1[keep], s2[keep], w[keep]
    mean = s1 / n
    var = np.maximum((s2 - n * mean * mean) / (n - 1), 0.0)
    within = float(np.sum(w * var) / total)
    grand = float(np.sum(w * mean) / total)
    between_raw = float(np.sum(w * (mean - grand) ** 2) / (total - 1))
    between = max(between_raw - float(np.sum(w * var / n) / total), 0.0)
    return between, within


def failure_profile(
    items: ItemFrame,
    pass_threshold: float,
    confidence: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
    *,
    temperature: float | None = None,
) -> FailureProfile:
    """The failure profile of a run's items (module docstring). Long: never-pass, Gini, variance
    components, ICC and repeats advice share the item rows and one set of bootstrap draws.

    ``temperature``: the run's decoding temperature when known (from the manifest); at 0
    repeats can only differ through nondeterminism, which the verdict and warnings say."""
    scored = items.n_scored > 0
    n, s1, s2 = items.n_scored[scored], items.sum_score[scored], items.sum_sq[scored]
    n_pass = items.n_pass[scored]
    units = int(n.size)
    never = int((n_pass == 0).sum())
    if units:
        low, high = wilson_interval(never, units, confidence)
        never_est = Estimate(
            never / units,
            low,
            high,
            units,
            int(n.sum()),
            "share of items, Wilson",
            None,
            confidence,
        )
        fail_rate = 1.0 - float(n_pass.sum() / n.sum())
        never_random = float(np.mean(fail_rate**n))
    else:
        never_est = Estimate(None, None, None, 0, 0, "no scored items", None, confidence)
        never_random = None
    # Items with the same (n, sum, sum of squares) are interchangeable for every statistic here,
    # so the item bootstrap draws how many of each distinct row it takes (a multinomial): the
    # same distribution as resampling items, at a cost that does not grow with the item count.
    rows, counts = np.unique(np.column_stack([n, s1, s2]), axis=0, return_counts=True)
    rn, rs1, rs2 = rows[:, 0], rows[:, 1], rows[:, 2]
    fail = 1.0 - rs1 / np.maximum(rn, 1)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(units, counts / counts.sum(), size=replicates) if units else np.zeros((0, 0))
    gini_est = _bootstrap(
        lambda w: gini_weighted(fail, w),
        draws,
        confidence,
        gini_weighted(fail, counts) if units else None,
        "Gini of item failure rates",
        replicates,
    )
    repeats_now = int(np.median(n)) if units else 0
    comps = variance_components(rn, rs1, rs2, counts)
    if comps is None:
        icc = Estimate(None, None, None, units, int(n.sum()), "needs items with 2+ samples", None, confidence)
        return FailureProfile(
            None,
            None,
            icc,
            gini_est,
            never_est,
            never_random,
            "unknown: run with --repeats 2 or more to tell random from systematic failures",
            repeats_now,
            [],
            None,
            "run at least 2 repeats per item to measure within-item noise",
        )
    between, within = comps

    point = between / (between + within) if between + within > 0 else None
    icc = _icc_estimate(rn, rs1, rs2, counts, point, confidence, draws)
    verdict, warnings = _informative(_verdict(icc), within, temperature)
    advice_rows, recommended, advice = _repeat_advice(between, within, repeats_now)
    return FailureProfile(
        between,
        within,
        icc,
        gini_est,
        never_est,
        never_random,
        verdict,
        repeats_now,
        advice_rows,
        recommended,
        advice,
        warnings=warnings,
    )


ICC_MIN_ITEMS_CONTINUOUS = 100
"""Below this many items with repeats, no interval for the ICC of scores that are not 0/1 covered
in the calibration study (0.91-0.93 at 30 items); the report says so instead of a number."""
ICC_BOOTSTRAP_ITEMS = 300
"""From this many items the log-F bootstrap covers better than the F interval (0.94-0.97 against
0.91-0.93 at 300-1,000 items with high heterogeneity)."""


def _icc_estimate(
    n: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    counts: np.ndarray,
    point: float | None,
    confidence: float,
    draws: np.ndarray,
) -> Estimate:
    """The ICC with the interval that covers in the calibration study (bench/icc_interval_choice.py):
    beta-binomial profile likelihood for 0/1 scores, Searle's F interval with kurtosis-adjusted
    degrees of freedom for other scores from 100 items, the basic bootstrap of log F from 300 (and no
    interval below 100). The percentile item bootstrap it replaced covered 0.69-0.91 at small n and
    for rare 0/1 outcomes. ``draws``: the item bootstrap's multinomial counts over the rows."""
    keep = n >= 2
    units, samples = int(counts[keep].sum()), int((counts * n)[keep].sum())
    name = "ICC = B / (B + W)"
    if point is None:
        return Estimate(None, None, None, units, samples, f"{name}: every sample has the same score", None, confidence)
    binary = bool(np.all((s2 == s1) & (s1 == np.rint(s1))))
    if binary:
        bounds = icc_interval_binary(n, s1, counts, confidence)
        method = f"{name}; beta-binomial profile-likelihood interval"
    elif units < ICC_MIN_ITEMS_CONTINUOUS:
        return Estimate(
            point,
            None,
            None,
            units,
            samples,
            f"{name}: too few items for an ICC interval on scores that are not 0/1 "
            f"({units} with 2+ samples; needs {ICC_MIN_ITEMS_CONTINUOUS})",
            None,
            confidence,
        )
    elif units >= ICC_BOOTSTRAP_ITEMS:
        bounds = icc_interval_log_f_bootstrap(n, s1, s2, counts, confidence, draws)
        method = f"{name}; basic item bootstrap of log F (Fisher's z), {draws.shape[0]} replicates"
    else:
        m, w = (s1 / np.maximum(n, 1))[keep], counts[keep].astype(float)
        mu = float(np.sum(w * m) / w.sum())
        var = float(np.sum(w * (m - mu) ** 2) / w.sum())
        kurt = float(np.sum(w * (m - mu) ** 4) / w.sum() / var**2 - 3) if var > 0 else 0.0
        bounds = icc_interval_anova(n, s1, s2, counts, confidence, (kurt, 0.0))
        method = f"{name}; F interval (Searle), degrees of freedom adjusted for the kurtosis of item means"
    if bounds is None:
        return Estimate(point, None, None, units, samples, f"{name}: no interval for these scores", None, confidence)
    low, high = min(bounds[0], point), max(bounds[1], point)
    return Estimate(point, low, high, units, samples, method, None, confidence)


def _informative(verdict: str, within: float, temperature: float | None) -> tuple[str, list[str]]:
    """The verdict and its warnings when repeats could not, or did not, differ.

    At temperature 0 (greedy decoding) repeats cannot differ, so a within-item variance of 0
    and an ICC of 1 say nothing about whether failures are systematic; at a temperature above 0
    the same observation is evidence that they are.
    """
    greedy = temperature is not None and temperature == 0
    same = within <= 1e-12
    if greedy and same:
        return "not informative: repeats at temperature 0 cannot differ", [
            "repeats at temperature 0 cannot differ (greedy decoding): the ICC is not informative; run repeats "
            "at a temperature above 0 to tell random from systematic failures"
        ]
    if greedy:
        return verdict, [
            "repeats at temperature 0 differ only through nondeterminism (batching, hardware, the model's own "
            "randomness), not sampling: the ICC describes that noise"
        ]
    if same and temperature is None:
        return verdict, [
            "repeats gave the same score on every item and the decoding temperature is unknown: if the model "
            "decoded greedily, repeats could not differ and the ICC is not informative"
        ]
    return verdict, []


def gini_weighted(values: np.ndarray, weights: np.ndarray) -> float:
    """Gini coefficient of ``values`` each repeated ``weights`` times (equal to :func:`gini` on
    the expanded values)."""
    order = np.argsort(values, kind="stable")
    v = np.asarray(values, dtype=float)[order]
    w = np.asarray(weights, dtype=float)[order]
    total_w = w.sum()
    total_vw = float(np.sum(v * w))
    if total_w <= 0 or total_vw == 0:
        return 0.0
    before = np.cumsum(w) - w  # weight strictly below each value (ties contribute |0|)
    # sum over ordered pairs i < j of w_i w_j (v_j - v_i), doubled, over 2 W^2 mean
    pairs = float(np.sum(w * v * before) - np.sum(w * v * (total_w - before - w)))
    return float(pairs / (total_w * total_vw))


def _bootstrap(
    stat: Any, draws: np.ndarray, confidence: float, point: float | None, name: str, replicates: int
) -> Estimate:
    units = int(draws[0].sum()) if draws.size else 0
    if point is None or units < 2:
        return Estimate(point, None, None, units, units, name, None, confidence)
    values = np.array([stat(w) for w in draws])
    values = values[np.isfinite(values)]
    alpha = (1 - confidence) / 2
    if values.size == 0:
        return Estimate(float(point), None, None, units, units, name, None, confidence)
    low, high = float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))
    return Estimate(
        float(point),
        low,
        high,
        units,
        units,
        f"{name}; item bootstrap, {replicates} replicates",
        None,
        confidence,
    )


def _verdict(icc: Estimate) -> str:
    if icc.low is None or icc.high is None:
        return f"unknown: {icc.method.split(': ', 1)[-1]}"
    if icc.low is not None and icc.low >= 0.5:
        return "systematic: the same items fail on every try (more repeats will not change which)"
    if icc.high is not None and icc.high <= 0.2:
        return "random: failures are spread over items and tries (noise, not a failing slice)"
    return "mixed: part of the failures stick to items, part are noise"


def _repeat_advice(between: float, within: float, now: int) -> tuple[list[RepeatAdvice], int | None, str]:
    rows = []
    base = between + within / max(now, 1)
    for k in (1, 2, 3, 5, 10, 20):
        width = math.sqrt((between + within / k) / base) if base > 0 else 1.0
        rows.append(RepeatAdvice(k, width, k))
    if between <= 0:
        return (
            rows,
            None,
            (
                "all the variance is within items: every extra call, a new item or a repeat, "
                "narrows the interval as much; prefer new items if you have them"
            ),
        )
    recommended = next((k for k in range(1, 51) if math.sqrt((between + within / k) / between) <= 1.05), 50)
    return (
        rows,
        recommended,
        (
            f"with this item set, {recommended} repeat(s) per item bring the interval within 5% of the narrowest "
            "repeats can give; beyond that add items. Per call, a new item always narrows the interval more than "
            "a repeat of an old one."
        ),
    )


def icc_interval_anova(
    n: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    weights: np.ndarray,
    confidence: float,
    kurtosis: tuple[float, float] | None = None,
) -> tuple[float, float] | None:
    """Searle's (1971) F interval for the one-way random-effects ICC, with Kirk's n0 for
    unequal sample counts; rows with fewer than 2 samples are left out (as in the estimate)."""
    from tailgate.analysis._distributions import f_ppf

    keep = (n >= 2) & (weights > 0)
    w, n, s1, s2 = weights[keep].astype(float), n[keep].astype(float), s1[keep], s2[keep]
    groups, total = float(w.sum()), float(np.sum(w * n))
    if groups < 2 or total - groups < 1:
        return None
    mean = s1 / n
    grand = float(np.sum(w * s1) / total)
    msb = float(np.sum(w * n * (mean - grand) ** 2) / (groups - 1))
    msw = float(np.sum(w * np.maximum(s2 - n * mean * mean, 0.0)) / (total - groups))
    if msw <= 0:
        return None
    n0 = (total - float(np.sum(w * n * n)) / total) / (groups - 1)
    f = msb / msw
    alpha = 1 - confidence
    df_b, df_w = groups - 1, total - groups
    if kurtosis is not None:  # Satterthwaite-style degrees of freedom for non-normal data
        k_b, k_w = (max(k, 0.0) for k in kurtosis)  # never narrower than normal theory
        df_b = 2 / (2 / (groups - 1) + k_b / groups)
        df_w = 2 / (2 / (total - groups) + k_w / total)
    f_low = f / f_ppf(1 - alpha / 2, df_b, df_w)
    f_high = f / f_ppf(alpha / 2, df_b, df_w)
    low, high = ((x - 1) / (x + n0 - 1) for x in (f_low, f_high))
    return min(max(low, 0.0), 1.0), min(max(high, 0.0), 1.0)


def _mean_squares(
    n: np.ndarray, s1: np.ndarray, s2: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-way ANOVA mean squares (between, within) and Kirk's n0 for each row of weights ``w``
    (replicates x rows: how many items share each row)."""
    groups, total = w.sum(axis=1), w @ n
    grand = (w @ s1) / total
    mean = s1 / n
    msb = (w * n * (mean[None, :] - grand[:, None]) ** 2).sum(axis=1) / (groups - 1)
    msw = (w @ np.maximum(s2 - n * mean * mean, 0.0)) / (total - groups)
    n0 = (total - (w @ (n * n)) / total) / (groups - 1)
    return msb, msw, n0


def icc_interval_log_f_bootstrap(
    n: np.ndarray, s1: np.ndarray, s2: np.ndarray, weights: np.ndarray, confidence: float, draws: np.ndarray
) -> tuple[float, float] | None:
    """Basic (reverse-percentile) item bootstrap of log F = log(MSB / MSW), twice Fisher's z of the
    ICC, mapped back through ICC = (F - 1) / (F + n0 - 1). ``draws``: multinomial counts of each
    row per replicate (rows with fewer than 2 samples are left out)."""
    keep = (n >= 2) & (weights > 0)
    if keep.sum() < 1 or weights[keep].sum() < 2:
        return None
    n, s1, s2 = n[keep].astype(float), s1[keep], s2[keep]
    msb, msw, n0 = _mean_squares(n, s1, s2, weights[keep][None, :].astype(float))
    if msw[0] <= 0 or msb[0] <= 0:
        return None
    point = float(np.log(msb[0] / msw[0]))
    w = draws[:, keep].astype(float)
    w = w[w.sum(axis=1) >= 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        b_msb, b_msw, _ = _mean_squares(n, s1, s2, w)
        boot = np.log(b_msb / b_msw)
    boot = boot[np.isfinite(boot)]
    if boot.size < 10:
        return None
    alpha = 1 - confidence
    q_low, q_high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    f_low, f_high = math.exp(2 * point - float(q_high)), math.exp(2 * point - float(q_low))
    low, high = ((f - 1) / (f + float(n0[0]) - 1) for f in (f_low, f_high))
    return min(max(low, 0.0), 1.0), min(max(high, 0.0), 1.0)


def icc_interval_binary(
    n: np.ndarray, s: np.ndarray, weights: np.ndarray, confidence: float, grid: int = 400
) -> tuple[float, float] | None:
    """Profile-likelihood interval for the ICC of 0/1 scores under the beta-binomial model.
    (Long: the likelihood, its profile over mu and the search for the interval's ends share the
    count vectors A, B, C; the derivation is below.)

    An item with true pass rate p ~ Beta(a, b) and n samples passes s ~ BetaBinomial(n, a, b);
    the correlation of two samples of one item is rho = 1 / (a + b + 1), the ICC. With
    mu = a / (a + b) and theta = rho / (1 - rho) the log-likelihood is

        sum_j A_j log(mu + j theta) + B_j log(1 - mu + j theta) - C_j log(1 + j theta)

    where A_j, B_j, C_j count (weighted) items with more than j passes, fails and samples.
    For each rho the nuisance mu is profiled out (the log-likelihood is concave in mu); the
    interval is every rho whose likelihood-ratio statistic is within chi2(1) at ``confidence``.
    None when no item has 2+ samples or every sample has the same score (the likelihood is
    flat in rho: there is no information on it).
    """
    from tailgate.analysis._distributions import chi2_ppf

    keep = (n >= 2) & (weights > 0)
    w, n, s = weights[keep].astype(float), n[keep].astype(int), np.rint(s[keep]).astype(int)
    if w.sum() < 2:
        return None
    top = int(n.max())
    j = np.arange(top, dtype=float)
    a_j = np.array([np.sum(w * (s > k)) for k in range(top)])
    b_j = np.array([np.sum(w * (n - s > k)) for k in range(top)])
    c_j = np.array([np.sum(w * (n > k)) for k in range(top)])
    if a_j[0] == 0 or b_j[0] == 0:
        return None

    def profile(rho: np.ndarray) -> np.ndarray:
        theta = (rho / (1 - rho))[:, None]
        lo, hi = np.zeros(rho.size), np.ones(rho.size)
        for _ in range(60):  # bisection on d/dmu, which falls from +inf to -inf on (0, 1)
            mu = ((lo + hi) / 2)[:, None]
            slope = np.sum(a_j / (mu + j * theta), axis=1) - np.sum(b_j / (1 - mu + j * theta), axis=1)
            lo, hi = np.where(slope > 0, mu[:, 0], lo), np.where(slope > 0, hi, mu[:, 0])
        mu = ((lo + hi) / 2)[:, None]
        with np.errstate(divide="ignore"):
            terms = a_j * np.log(mu + j * theta) + b_j * np.log(1 - mu + j * theta) - c_j * np.log1p(j * theta)
        return np.asarray(np.sum(np.where(np.isfinite(terms), terms, 0.0), axis=1))

    # a grid dense near 0, where small ICCs live, then refine each crossing by bisection
    rho = np.concatenate([[0.0], np.geomspace(1e-5, 0.999, grid)])
    ll = profile(rho)
    best = int(np.argmax(ll))
    crit = chi2_ppf(confidence, 1) / 2
    inside = ll >= ll[best] - crit

    def cross(a: float, b: float) -> float:  # a inside, b outside
        for _ in range(40):
            mid = (a + b) / 2
            if profile(np.array([mid]))[0] >= ll[best] - crit:
                a = mid
            else:
                b = mid
        return (a + b) / 2

    first = int(np.argmax(inside))
    last = int(len(inside) - 1 - np.argmax(inside[::-1]))
    low = 0.0 if first == 0 else cross(float(rho[first]), float(rho[first - 1]))
    high = float(rho[-1]) if last == len(rho) - 1 else cross(float(rho[last]), float(rho[last + 1]))
    return low, min(high, 1.0)
