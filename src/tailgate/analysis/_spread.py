"""Format spread: how much the score moves between prompt templates (Sclar et al. 2023).

* :func:`format_spread`, from an items x templates matrix of per-item scores: the observed best
  minus worst template score (biased upward), an interval for the true max - min of the template
  means from simultaneous intervals of all paired template differences, the paired difference of
  the two named templates at the simultaneous critical value, and :func:`any_spread_test`, a
  permutation test (Cochran's Q, permuted within items) of "do the templates differ at all".
* :func:`template_spread`, from template-level accuracies alone (a paper's table): unpaired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailgate.analysis._estimate import Estimate, _t_quantile, wilson_interval

__all__ = ["FormatSpread", "SpreadTest", "TemplateSpread", "any_spread_test", "format_spread", "template_spread"]


@dataclass(frozen=True)
class SpreadTest:
    """Do the templates differ at all? Cochran's Q (randomised-block form)."""

    statistic: float
    df: int
    p_value: float
    n_items: int
    method: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "n_items": self.n_items,
            "method": self.method,
        }


@dataclass(frozen=True)
class FormatSpread:
    """Best minus worst template (or answer parser), see :func:`format_spread`."""

    best: str
    worst: str
    best_score: float
    worst_score: float
    spread: Estimate
    """Observed best - worst, with an interval for the true max - min of the template means."""
    best_vs_worst: Estimate
    """The paired difference of the two picked templates, simultaneous over all pairs."""
    any_spread: SpreadTest
    n_templates: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "worst": self.worst,
            "best_score": self.best_score,
            "worst_score": self.worst_score,
            "spread": self.spread.as_dict(),
            "best_vs_worst": self.best_vs_worst.as_dict(),
            "any_spread": self.any_spread.as_dict(),
            "n_templates": self.n_templates,
        }


@dataclass(frozen=True)
class TemplateSpread:
    """Spread over templates from template-level accuracies alone (see :func:`template_spread`)."""

    n_templates: int
    n_items: int
    """Items each template was scored on."""
    best: str
    worst: str
    max: float
    """The best template's accuracy (MaxP)."""
    min: float
    mean: float
    """Mean accuracy over templates (AvgP)."""
    median: float
    sd: float
    spread: Estimate
    """Best - worst with Newcombe's hybrid score interval (unpaired)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_templates": self.n_templates,
            "n_items": self.n_items,
            "best": self.best,
            "worst": self.worst,
            "max": self.max,
            "min": self.min,
            "mean": self.mean,
            "median": self.median,
            "sd": self.sd,
            "spread": self.spread.as_dict(),
        }


def format_spread(
    scores: np.ndarray, names: list[str], *, replicates: int = 2000, seed: int = 0, confidence: float = 0.95
) -> FormatSpread:
    """Spread over templates from an items x templates matrix of per-item scores.

    The estimand is the true spread max_j mu_j - min_j mu_j of the templates' mean scores over
    the item population. The reported value is the observed best minus worst (biased upward:
    picking the extremes after seeing the data), and the interval is built so that it covers the
    true spread: simultaneous intervals for every paired difference mu_j - mu_k (max-|t| over
    the pairs, critical value from the multivariate t of the pair differences, as Hothorn, Bretz
    & Westfall 2008; Tukey's studentized range for paired designs) all hold at once with
    ``confidence``, and then max_j mu_j - min_j mu_j lies between the largest lower bound and
    the largest upper bound; the lower bound is 0 when no pair is surely different.

    ``any_spread`` tests whether the templates differ at all: the permutation (randomised-block)
    test of Cochran's Q, template labels shuffled within each item, exact under the null that the
    templates are interchangeable; for 0/1 scores its statistic is Cochran's Q itself.
    """
    items, count = scores.shape
    means = scores.mean(axis=0)
    best, worst = int(np.argmax(means)), int(np.argmin(means))
    low, high, crit = _simultaneous_spread(scores, confidence, seed)
    method = (
        f"true max - min of {count} template means; lower end: simultaneous max-|t| intervals for all "
        f"{count * (count - 1) // 2} paired differences (multivariate t({items - 1}), critical value {crit:.2f}); "
        f"upper end: one pair's t({items - 1})"
        if low is not None
        else "too few items"
    )
    return FormatSpread(
        best=names[best],
        worst=names[worst],
        best_score=float(means[best]),
        worst_score=float(means[worst]),
        # the interval comes from all pairs at once (_simultaneous_spread), not from this value's SE
        spread=Estimate.from_bounds(
            float(means[best] - means[worst]),
            low,
            high,
            n_items=items,
            n_samples=items,
            method=method,
            confidence=confidence,
        ),
        best_vs_worst=_picked_pair(scores[:, best] - scores[:, worst], crit, confidence, names[best], names[worst]),
        any_spread=any_spread_test(scores, replicates=replicates, seed=seed),
        n_templates=len(names),
    )


def _picked_pair(d: np.ndarray, crit: float, confidence: float, best: str, worst: str) -> Estimate:
    """The paired difference of the two templates picked as best and worst. They were picked after
    seeing the data, so a pair's own t interval undercovers (0.89 in bench/calibration.py with
    identical templates); the simultaneous critical value of :func:`_simultaneous_spread` holds
    for every pair at once, so for the picked one too."""
    n = d.size
    if n < 2 or not math.isfinite(crit):
        return Estimate.no_interval(
            "too few items", value=float(d.mean()) if n else None, n_items=n, n_samples=n, confidence=confidence
        )
    mean = float(d.mean())
    se = max(float(d.std(ddof=1)) / math.sqrt(n), 1.0 / n)  # never 0, as in _simultaneous_spread
    method = f"paired difference {best} - {worst}, simultaneous over all pairs (critical value {crit:.2f})"
    return Estimate.from_se(mean, se, crit, n_items=n, n_samples=n, method=method, confidence=confidence)


def _simultaneous_spread(
    scores: np.ndarray, confidence: float, seed: int, draws: int = 20000
) -> tuple[float | None, float | None, float]:
    """(low, high, critical value) of an interval for max_j mu_j - min_j mu_j (see format_spread)."""
    items, count = scores.shape
    if items < 2:
        return None, None, float("nan")
    first, second = np.triu_indices(count, k=1)
    diffs = scores[:, first] - scores[:, second]
    dhat = diffs.mean(axis=0)
    # a pair that never differs on these items still has an unknown true difference: its SE is
    # floored at that of one item in n differing by 1 (the rule-of-three scale), never 0
    se = np.maximum(diffs.std(axis=0, ddof=1) / math.sqrt(items), 1.0 / items)
    # the template means' sampling distribution: multivariate t with the items' covariance
    eigval, eigvec = np.linalg.eigh(np.atleast_2d(np.cov(scores, rowvar=False)))
    root = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    rng = np.random.default_rng(seed)
    normal = rng.standard_normal((draws, count)) @ root.T / math.sqrt(items)
    scale = np.sqrt(rng.chisquare(items - 1, draws) / (items - 1))
    sim = normal / scale[:, None]
    crit = float(np.quantile(_max_abs_t(sim, first, second, se), confidence))
    single = _t_quantile(confidence, items - 1)
    crit = max(crit, single)  # never below one pair's own t interval
    # max over ordered pairs (j, k) of mu_j - mu_k: each pair in both directions. The lower end
    # needs every pair at once (it fails when any pair's |dhat| - c se exceeds the spread), the
    # upper end only the one pair (j*, k*) that makes the true spread (it fails only when that
    # pair's estimate falls below mu_j* - mu_k* - c se): its one-sided alpha / 2 is one pair's t
    # quantile. Where the lower end can fail with probability alpha (identical templates) the
    # upper cannot fail (the spread is 0); where the spread is far from 0 the lower end fails only
    # on an outward deviation of the extreme pairs (about alpha / 2 at most): the total stays
    # <= alpha. With two templates tied below a better one the failures left are the lower
    # end's: coverage 0.988 -> 0.986 there (bench/calibration.py; 0.95 at identical templates).
    low = max(0.0, float(np.max(np.abs(dhat) - crit * se)))
    high = float(np.max(np.abs(dhat) + single * se))
    return low, high, crit


def _max_abs_t(sim: np.ndarray, first: np.ndarray, second: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Per draw, max over pairs of |sim_j - sim_k| / se_jk. In blocks of draws, each computed in
    place: with 29 templates (406 pairs) x 20,000 draws the whole matrix and its temporaries took
    a quarter of a GB and most of the MMLU-Pro report's time; the values are the same."""
    out = np.empty(sim.shape[0])
    block = max(1, 2**18 // max(1, first.size))  # about 2 MB of differences at a time
    for start in range(0, sim.shape[0], block):
        part = sim[start : start + block]
        d = part[:, first]
        d -= part[:, second]
        np.abs(d, out=d)
        d /= se
        d.max(axis=1, out=out[start : start + block])
    return out


def any_spread_test(scores: np.ndarray, *, replicates: int = 2000, seed: int = 0) -> SpreadTest:
    """Do the templates (columns) differ at all? Randomised-block permutation test of Cochran's Q.

    Q = (J - 1) sum_j (T_j - mean T)^2 / sum_i sum_j (x_ij - xbar_i)^2, with T_j the template sums
    over items and xbar_i an item's mean over templates; for 0/1 scores this is Cochran's Q (1950).
    Its p-value comes from ``replicates`` shuffles of the template labels within each item (exact
    under the null that the templates are interchangeable, with the +1 that keeps it valid), or
    from the chi-square(J - 1) limit when the items are too many to shuffle cheaply.
    """
    from tailgate.analysis._distributions import chi2_sf

    items, count = scores.shape
    spread_within = float(np.sum((scores - scores.mean(axis=1, keepdims=True)) ** 2))
    if spread_within <= 1e-12 or items < 2:
        return SpreadTest(
            0.0, count - 1, 1.0, items, "no item scores differently between templates: no evidence of a spread"
        )
    denominator = spread_within / (count - 1)

    def q_of(sums: np.ndarray) -> np.ndarray:
        return np.asarray(np.sum((sums - sums.mean(axis=-1, keepdims=True)) ** 2, axis=-1) / denominator)

    q = float(q_of(scores.sum(axis=0)))
    if items * count * replicates > 1e7:  # ~1,000 items x 5 templates: the chi-square limit is close there
        method = f"Cochran's Q (randomised-block form), chi-square({count - 1}) limit"
        return SpreadTest(q, count - 1, chi2_sf(q, count - 1), items, method)
    rng = np.random.default_rng(seed)
    chunk = max(1, int(2e6 // (items * count)))
    exceed = done = 0
    while done < replicates:
        size = min(chunk, replicates - done)
        shuffled = rng.permuted(np.broadcast_to(scores, (size, items, count)), axis=2)
        exceed += int(np.sum(q_of(shuffled.sum(axis=1)) >= q * (1 - 1e-12)))
        done += size
    method = (
        f"Cochran's Q (randomised-block form); permutation of templates within items, "
        f"{replicates} shuffles, seed {seed}"
    )
    return SpreadTest(q, count - 1, (exceed + 1) / (replicates + 1), items, method)


def template_spread(accuracies: dict[str, float], n_items: int, confidence: float = 0.95) -> TemplateSpread:
    """Spread over templates from template-level accuracies alone (e.g. a paper's table), each on
    the same ``n_items`` items: best (MaxP), worst, mean (AvgP, Mizrahi et al. 2024) and best -
    worst with Newcombe's hybrid score interval for a difference of two proportions.

    Without per-item results the templates cannot be paired, so the interval is the unpaired
    (wider) one; and the two templates were picked as the extremes after seeing the data, so the
    point estimate is optimistic. With per-item results use :func:`format_spread`.
    """
    if len(accuracies) < 2:
        raise ValueError("a spread needs at least two templates")
    names = list(accuracies)
    values = np.array([accuracies[k] for k in names], dtype=float)
    best, worst = int(np.argmax(values)), int(np.argmin(values))
    p1, p2 = float(values[best]), float(values[worst])
    l1, u1 = wilson_interval(p1 * n_items, n_items, confidence)
    l2, u2 = wilson_interval(p2 * n_items, n_items, confidence)
    d = p1 - p2
    # Newcombe (1998), method 10: hybrid score interval from the two Wilson intervals
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    method = "best - worst template; Newcombe hybrid score (unpaired)"
    return TemplateSpread(
        n_templates=len(names),
        n_items=n_items,
        best=names[best],
        worst=names[worst],
        max=p1,
        min=p2,
        mean=float(values.mean()),
        median=float(np.median(values)),
        sd=float(values.std(ddof=1)),
        spread=Estimate.from_bounds(
            d, low, high, n_items=n_items, n_samples=n_items, method=method, confidence=confidence
        ),
    )
