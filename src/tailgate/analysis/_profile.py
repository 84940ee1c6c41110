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

__all__ = ["FailureProfile", "failure_profile", "gini_weighted", "variance_components"]


@dataclass(frozen=True)
class FailureProfile:
    between_var: float | None
    within_var: float | None
    icc: Estimate
    gini: Estimate
    never_pass: Estimate
    never_pass_if_random: float | None
    verdict: str
    repeats_now: int
    repeats_advice: list[dict[str, float]]
    recommended_repeats: int | None
    advice: str
    concentration: dict[str, Any] = field(default_factory=dict)
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
            "repeats_advice": self.repeats_advice,
            "recommended_repeats": self.recommended_repeats,
            "advice": self.advice,
            "concentration": self.concentration,
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
    """``temperature``: the run's decoding temperature when known (from the manifest); at 0
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

    def icc_of(w: np.ndarray) -> float:
        c = variance_components(rn, rs1, rs2, w)
        return float("nan") if c is None or c[0] + c[1] == 0 else c[0] / (c[0] + c[1])

    point = between / (between + within) if between + within > 0 else None
    icc = _bootstrap(icc_of, draws, confidence, point, "ICC = B / (B + W)", replicates)
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
    if icc.low is not None and icc.low >= 0.5:
        return "systematic: the same items fail on every try (more repeats will not change which)"
    if icc.high is not None and icc.high <= 0.2:
        return "random: failures are spread over items and tries (noise, not a failing slice)"
    return "mixed: part of the failures stick to items, part are noise"


def _repeat_advice(between: float, within: float, now: int) -> tuple[list[dict[str, float]], int | None, str]:
    rows = []
    base = between + within / max(now, 1)
    for k in (1, 2, 3, 5, 10, 20):
        width = math.sqrt((between + within / k) / base) if base > 0 else 1.0
        rows.append({"repeats": float(k), "relative_ci_width": width, "calls_per_item": float(k)})
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
