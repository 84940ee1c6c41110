"""A sequential paired gate, valid under continuous monitoring: an anytime-valid confidence
sequence (CS) for the mean paired difference, re-checked after every item.

The unit is the item: each item's score in each run is first averaged over its repeats and
variants, and d_i = cand_i - base_i lies in [-1, 1] for [0, 1] scores. The CS is built for the
mean of x_i = (d_i + 1) / 2 in [0, 1] and mapped back (mu = 2 m - 1).

Method: the predictable plug-in empirical-Bernstein confidence sequence ("PrPl-EB") of
Waudby-Smith & Ramdas (2024), "Estimating means of bounded random variables by betting", JRSS-B
86(1), Theorem 2 and eq. (13)-(15), two-sided as the intersection of two one-sided CSs at alpha/2.
With predictable bets lambda_t (known before item t is seen),

    lambda_t = min( sqrt(2 log(2/alpha) / (sigma2_{t-1} t log(1 + t))), c ),    c = 1/2
    sigma2_t = (1/4 + sum_{i<=t} (x_i - mhat_i)^2) / (t + 1),  mhat_t = (1/2 + sum_{i<=t} x_i) / (t + 1)
    low_t    = (sum lambda_i x_i - log(2/alpha) - sum (x_i - xbar_{i-1})^2 psi(lambda_i)) / sum lambda_i
    psi(l)   = -log(1 - l) - l,   xbar_{i-1} = the plain mean of the first i - 1 items (0 for i = 1)

and the upper end is the same construction on 1 - x. Any predictable centre xbar_{i-1} in [0, 1]
keeps the guarantee (the theorem holds for every predictable choice); the plain running mean is
the one the ``confseq`` package uses, so the bounds can be checked against it to rounding
(tests/analysis/test_sequential.py). With ``running_intersection`` the ends are monotone
(low_t = max over s <= t), which is still a (1 - alpha)-CS.

Guarantee: P(exists t: mu not in [low_t, high_t]) <= alpha, whatever the stopping rule. The
three-way decision keeps its total error at alpha because every wrong decision implies a miss
of the CS at the stopping time: "better" (low > min_improvement) is wrong only if mu <=
min_improvement, "worse" (high < -max_drop) only if mu >= -max_drop, "equivalent" (-margin < low
and high < margin) only if |mu| >= margin; in each case the CS excludes mu. So the probability of
any wrong decision, at any data-dependent stopping time, is at most alpha: one CS, no split of
alpha between the decisions. The guarantee needs items taken in an order fixed independently of
their scores (a seeded random order by default), i.e. exchangeable draws from the suite.

Per-slice rules at the stopping time: each slice s gets a one-sided e-process against "no
regression" (H0_s: mean difference >= 0), the product over its items seen so far of
1 + lambda_i (1/2 - x_i), with predictable bets lambda_i in [0, 1] (aGRAPA, WSR 2024 section 5:
(1/2 - mhat) / (sigma2 + (1/2 - mhat)^2) on the slice's items before i, clipped to [0, 1]). Under
H0_s it is a non-negative supermartingale, so its value at the overall stopping time is an
e-value (optional stopping). The slices flagged as regressions are those that e-BH (Wang &
Ramdas 2022, "False discovery rate control with e-values", JRSS-B 84(3)) rejects at level alpha:
with m slices, the k largest e-values where k is the largest with e_(k) >= m / (alpha k); the
false discovery rate is <= alpha under any dependence between the slices (they overlap). A
flagged slice fails the gate. The overall decision's error (alpha) and the slices' FDR (alpha)
are separate guarantees.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from tailgate.analysis._compare_results import CompareOptions, JsonResult
from tailgate.errors import UsageError

if TYPE_CHECKING:
    from tailgate.analysis._data import RunData
    from tailgate.records import Manifest
    from tailgate.store import Store

__all__ = [
    "SequentialDecision",
    "SequentialOptions",
    "SliceEvidence",
    "e_bh",
    "ordered_decision",
    "prpl_eb_cs",
    "regression_e_value",
    "sequential_decision",
    "sequential_order",
    "sequential_prefix",
    "sequential_runs",
    "stopped_early_note",
]

Verdict = Literal["better", "worse", "equivalent", "inconclusive"]

METHOD = (
    "predictable plug-in empirical-Bernstein confidence sequence (Waudby-Smith & Ramdas 2024, JRSS-B), "
    "bets tuned for the available items"
)


def _lower(x: np.ndarray, alpha: float, truncation: float, horizon: int | None) -> np.ndarray:
    """One-sided lower PrPl-EB CS at level alpha for the mean of x in [0, 1], along the last axis."""
    t = np.arange(1, x.shape[-1] + 1, dtype=float)
    mhat = (0.5 + np.cumsum(x, axis=-1)) / (t + 1)
    sigma2 = (0.25 + np.cumsum((x - mhat) ** 2, axis=-1)) / (t + 1)
    sigma2_prev = np.concatenate([np.full((*x.shape[:-1], 1), 0.25), sigma2[..., :-1]], axis=-1)
    with np.errstate(divide="ignore"):
        spread = t * np.log1p(t) if horizon is None else float(horizon)
        lam = np.sqrt(2 * math.log(1 / alpha) / (spread * sigma2_prev))
    lam = np.minimum(lam, truncation)
    xbar = np.cumsum(x, axis=-1) / t
    xbar_prev = np.concatenate([np.zeros((*x.shape[:-1], 1)), xbar[..., :-1]], axis=-1)
    psi = -np.log1p(-lam) - lam
    penalty = math.log(1 / alpha) + np.cumsum((x - xbar_prev) ** 2 * psi, axis=-1)
    weights = np.cumsum(lam, axis=-1)
    low = (np.cumsum(lam * x, axis=-1) - penalty) / weights
    return np.asarray(np.minimum(low, 1.0))


def prpl_eb_cs(
    x: np.ndarray,
    alpha: float = 0.05,
    *,
    truncation: float = 0.5,
    running_intersection: bool = True,
    horizon: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The two-sided PrPl-EB confidence sequence for the mean of ``x`` in [0, 1] (module docstring).

    Works along the last axis, so a (simulations, items) array gives every simulation's path at
    once. Returns (low, high), each of the shape of ``x``: the CS after each observation.

    Example:
        >>> low, high = prpl_eb_cs(np.full(200, 0.5))
        >>> bool(low[-1] < 0.5 < high[-1])
        True
    """
    x = np.asarray(x, dtype=float)
    if x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1):
        raise ValueError("PrPl-EB needs observations in [0, 1]")
    low = _lower(x, alpha / 2, truncation, horizon)
    high = 1.0 - _lower(1.0 - x, alpha / 2, truncation, horizon)
    low, high = np.maximum(low, 0.0), np.minimum(high, 1.0)
    if running_intersection:
        low = np.maximum.accumulate(low, axis=-1)
        high = np.minimum.accumulate(high, axis=-1)
    return low, high


@dataclass(frozen=True)
class SequentialOptions:
    """What the sequential gate decides on; recorded in its output."""

    margin: float = 0.02
    """Equivalence margin delta: 'equivalent' when the CS of the mean difference is inside (-delta, delta)."""
    alpha: float = 0.05
    """Total error: the chance of any wrong decision at any stopping time (1 - confidence)."""
    min_improvement: float = 0.0
    """'better' when the CS's lower end is above this."""
    max_drop: float = 0.0
    """'worse' when the CS's upper end is below minus this."""
    seed: int = 0
    """Seed of the random order in which the items are taken (None-free: the order is recorded by its seed)."""

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if not 0 < self.margin <= 1 or self.min_improvement < 0 or self.max_drop < 0:
            raise ValueError("the margin must be in (0, 1], min_improvement and max_drop >= 0")


def regression_e_value(d: np.ndarray) -> float:
    """The e-process against "no regression" (mean of d >= 0, d in [-1, 1]) at the end of ``d``
    (module docstring): aGRAPA bets on x = (d + 1) / 2 against the null mean 1/2."""
    x = (np.asarray(d, dtype=float) + 1) / 2
    t = np.arange(1, x.size + 1, dtype=float)
    mhat = (0.5 + np.cumsum(x)) / (t + 1)
    sigma2 = (0.25 + np.cumsum((x - mhat) ** 2)) / (t + 1)
    mhat_prev = np.concatenate([[0.5], mhat[:-1]])
    sigma2_prev = np.concatenate([[0.25], sigma2[:-1]])
    gap = 0.5 - mhat_prev
    lam = np.clip(gap / (sigma2_prev + gap**2), 0.0, 1.0)
    return float(np.exp(np.sum(np.log1p(lam * (0.5 - x)))))


def e_bh(e_values: np.ndarray, alpha: float) -> np.ndarray:
    """e-BH (Wang & Ramdas 2022): which hypotheses are rejected at FDR level ``alpha``."""
    e = np.asarray(e_values, dtype=float)
    m = e.size
    ranked = np.sort(e)[::-1]
    ok = ranked >= m / (alpha * np.arange(1, m + 1))
    if not ok.any():
        return np.zeros(m, dtype=bool)
    k = int(np.nonzero(ok)[0].max()) + 1
    return np.asarray(e >= ranked[k - 1])


@dataclass(frozen=True)
class SliceEvidence(JsonResult):
    """A slice's evidence of regression at the stopping time."""

    slice: str
    """The slice, e.g. ``topic=math``."""
    n_items: int
    """The slice's items among those seen when the gate stopped."""
    mean: float | None
    """Their mean difference (None: no item of the slice was seen)."""
    e_value: float
    """The e-process against "no regression" at the stopping time (1 when nothing was seen)."""
    regression: bool
    """Flagged by e-BH at FDR alpha across the slices."""


@dataclass(frozen=True)
class SequentialDecision(JsonResult):
    """The sequential paired gate's verdict on the mean per-item difference (candidate - base)."""

    decision: Verdict
    """'better', 'worse', 'equivalent' (the CS inside (-margin, margin)), or 'inconclusive' at the budget."""
    n_items: int
    """Items seen when the decision was made (all of them when inconclusive)."""
    n_available: int
    """Paired items available: the fixed-n design's count."""
    low: float
    """Lower end of the CS of the mean difference at ``n_items``."""
    high: float
    """Upper end of the CS at ``n_items``."""
    mean: float
    """Plain mean difference over the ``n_items`` items seen (for reading; the CS is what decides)."""
    margin: float
    """The equivalence margin delta."""
    alpha: float
    """Total error of the decision at any stopping time."""
    min_improvement: float
    max_drop: float
    seed: int
    """Seed of the item order."""
    method: str
    path: tuple[tuple[float, float], ...]
    """(low, high) of the CS after each item, up to the decision (for plots)."""
    slices: tuple[SliceEvidence, ...] = ()
    """Per-slice regression evidence at the stopping time (e-BH at FDR alpha), largest e-value first."""

    @property
    def savings(self) -> float:
        """Share of the available items not needed: 1 - n_items / n_available."""
        return 1.0 - self.n_items / self.n_available

    @property
    def regressed_slices(self) -> tuple[SliceEvidence, ...]:
        return tuple(s for s in self.slices if s.regression)

    @property
    def passed(self) -> bool:
        """Better or equivalent overall, and no slice flagged as a regression."""
        return self.decision in ("better", "equivalent") and not self.regressed_slices

    @property
    def exit_code(self) -> int:
        """0 passed, 1 worse or a slice regressed, 3 inconclusive (run more items)."""
        if self.passed:
            return 0
        return 1 if self.decision == "worse" or self.regressed_slices else 3


def decide_path(low: np.ndarray, high: np.ndarray, options: SequentialOptions) -> tuple[np.ndarray, np.ndarray]:
    """First index at which each path (last axis) is decided (-1: never), and the verdict code
    there (0 inconclusive, 1 better, 2 worse, 3 equivalent); 'worse' wins ties, then 'better'."""
    worse = high < -options.max_drop
    better = low > options.min_improvement
    equivalent = (low > -options.margin) & (high < options.margin)
    code = np.where(worse, 2, np.where(better, 1, np.where(equivalent, 3, 0)))
    decided = code > 0
    first = np.where(decided.any(axis=-1), decided.argmax(axis=-1), -1)
    at = np.take_along_axis(code, np.maximum(first, 0)[..., None], axis=-1)[..., 0]
    return first, np.where(first >= 0, at, 0)


_VERDICTS: tuple[Verdict, ...] = ("inconclusive", "better", "worse", "equivalent")


def sequential_decision(
    base: np.ndarray,
    cand: np.ndarray,
    options: SequentialOptions | None = None,
    slices: Mapping[str, np.ndarray] | None = None,
) -> SequentialDecision:
    """Decide on per-item mean scores in [0, 1] (paired, same order), taken in a seeded random order;
    ``slices`` maps a slice's name to its item mask (same order) for the per-slice rule.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> base = rng.binomial(1, 0.6, 2000).astype(float)
        >>> cand = np.maximum(base, rng.binomial(1, 0.3, 2000))
        >>> result = sequential_decision(base, cand)
        >>> result.decision, result.n_items < 2000
        ('better', True)
    """
    options = options or SequentialOptions()
    base, cand = np.asarray(base, dtype=float), np.asarray(cand, dtype=float)
    if base.shape != cand.shape or base.ndim != 1 or base.size == 0:
        raise ValueError("base and cand must be 1-d arrays of the same non-zero length")
    if min(base.min(), cand.min()) < 0 or max(base.max(), cand.max()) > 1:
        raise ValueError("the sequential gate needs scores in [0, 1]")
    order = np.random.default_rng(options.seed).permutation(base.size)
    masks = {k: np.asarray(v, dtype=bool)[order] for k, v in (slices or {}).items()}
    return ordered_decision((cand - base)[order], base.size, options, masks)


def ordered_decision(
    d: np.ndarray,
    budget: int,
    options: SequentialOptions,
    slices: Mapping[str, np.ndarray] | None = None,
) -> SequentialDecision:
    """The decision on paired differences ``d`` in [-1, 1] *in the order they were taken* (the
    order fixed beforehand, independently of the scores), with the bets tuned for ``budget``
    items (known before the first item: ``len(d)`` or more). ``slices``: item masks in the same
    order. With no item yet the decision is 'inconclusive' on the CS [-1, 1] at n = 0."""
    d = np.asarray(d, dtype=float)
    if d.ndim != 1 or budget < d.size or budget < 1:
        raise ValueError("d must be 1-d and no longer than the budget (>= 1)")
    if d.size == 0:
        return _decision(options, 0, budget, (-1.0, 1.0), 0.0, (), ())
    if d.min() < -1 or d.max() > 1:
        raise ValueError("the sequential gate needs differences in [-1, 1] (scores in [0, 1])")
    # the budget is known before any item is seen: tune the bets for it (still valid at every n)
    low01, high01 = prpl_eb_cs((d + 1) / 2, options.alpha, horizon=budget)
    low, high = 2 * low01 - 1, 2 * high01 - 1
    first, code = decide_path(low, high, options)
    n = int(first) + 1 if int(first) >= 0 else d.size
    path = tuple((float(a), float(b)) for a, b in zip(low[:n], high[:n], strict=True))
    masks = {k: np.asarray(v, dtype=bool)[:n] for k, v in (slices or {}).items()}
    evidence = _slice_evidence(d[:n], masks, options)
    return _decision(options, n, budget, path[-1], float(d[:n].mean()), path, evidence, _VERDICTS[int(code)])


def _decision(
    options: SequentialOptions,
    n: int,
    budget: int,
    cs: tuple[float, float],
    mean: float,
    path: tuple[tuple[float, float], ...],
    slices: tuple[SliceEvidence, ...],
    verdict: Verdict = "inconclusive",
) -> SequentialDecision:
    return SequentialDecision(
        decision=verdict,
        n_items=n,
        n_available=budget,
        low=cs[0],
        high=cs[1],
        mean=mean,
        margin=options.margin,
        alpha=options.alpha,
        min_improvement=options.min_improvement,
        max_drop=options.max_drop,
        seed=options.seed,
        method=METHOD,
        path=path,
        slices=slices,
    )


def _slice_evidence(
    d: np.ndarray, masks: Mapping[str, np.ndarray], options: SequentialOptions
) -> tuple[SliceEvidence, ...]:
    if not masks:
        return ()
    names = list(masks)
    e = np.array([regression_e_value(d[masks[k]]) for k in names])
    flagged = e_bh(e, options.alpha)
    rows = [
        SliceEvidence(k, int(masks[k].sum()), float(d[masks[k]].mean()) if masks[k].any() else None, float(ev), bool(f))
        for k, ev, f in zip(names, e, flagged, strict=True)
    ]
    return tuple(sorted(rows, key=lambda r: (-r.e_value, r.slice)))


def sequential_runs(
    store: Store,
    base_id: str,
    cand_id: str,
    options: SequentialOptions | None = None,
    compare: CompareOptions | None = None,
) -> SequentialDecision:
    """The sequential decision on two stored runs, paired item by item as ``tailgate compare``
    pairs them (each item's score averaged over its shared variants and repeats).

    Raises:
        UsageError: the runs do not pair (see ``compare_runs``), or a score is outside [0, 1].
    """
    from tailgate.analysis._compare_pairing import pair_units, template_check
    from tailgate.analysis._data import load_run

    compare = compare or CompareOptions()
    base = load_run(store, base_id, compare.pass_threshold)
    cand = load_run(store, cand_id, compare.pass_threshold)
    try:
        changed = template_check(base, cand)
        if changed:
            raise UsageError(f"the runs' suites define variant(s) {', '.join(changed)} differently")
        paired, _, _ = pair_units(base, cand, compare)
        mean_b, mean_c = paired.mean_b, paired.mean_c
        masks = _slice_masks(base, paired.item_ids, compare)
    finally:
        base.close()
        cand.close()
    if min(mean_b.min(), mean_c.min()) < 0 or max(mean_b.max(), mean_c.max()) > 1:
        raise UsageError("the sequential gate needs scores in [0, 1]; these runs have scores outside it")
    return sequential_decision(mean_b, mean_c, options, masks)


def sequential_order(item_ids: Iterable[str], seed: int) -> tuple[str, ...]:
    """The order in which ``tailgate run --until-decided`` takes items: the distinct ids sorted,
    then shuffled by ``numpy.random.default_rng(seed)``. It depends on nothing but the ids and the
    seed (never on a score), so a resumed run takes the same order and the guarantee holds.

    Example:
        >>> sequential_order(["c", "a", "b", "a"], seed=0) == sequential_order(["a", "b", "c"], seed=0)
        True
    """
    ids = sorted(set(item_ids))
    return tuple(ids[int(i)] for i in np.random.default_rng(seed).permutation(len(ids)))


def sequential_prefix(
    store: Store,
    base_id: str,
    cand_id: str,
    order: Sequence[str],
    n_done: int,
    options: SequentialOptions | None = None,
    compare: CompareOptions | None = None,
    *,
    slices: bool = True,
) -> SequentialDecision:
    """The decision after the first ``n_done`` items of ``order`` have run in ``cand_id`` (a look
    of ``tailgate run --until-decided``): their paired differences with ``base_id`` in that order
    (items either run could not score are left out), the bets tuned for ``len(order)`` items;
    ``slices``: judge the slices of ``compare.min_items`` items or more at the stop.

    Raises:
        UsageError: the runs do not pair, or a score is outside [0, 1].
    """
    from tailgate.analysis._compare_pairing import pair_units, template_check
    from tailgate.analysis._data import load_run

    options = options or SequentialOptions()
    compare = compare or CompareOptions()
    seen = order[:n_done]
    base = load_run(store, base_id, compare.pass_threshold)
    cand = load_run(store, cand_id, compare.pass_threshold)
    try:
        changed = template_check(base, cand)
        if changed:
            raise UsageError(f"the runs' suites define variant(s) {', '.join(changed)} differently")
        if n_done == 0 or not cand.query("SELECT 1 AS x FROM records WHERE score IS NOT NULL LIMIT 1")["x"].size:
            return ordered_decision(np.zeros(0), len(order), options)
        paired, _, _ = pair_units(base, cand, compare)
        masks = _slice_masks(base, paired.item_ids, compare) if slices else {}
    finally:
        base.close()
        cand.close()
    row = {str(item): j for j, item in enumerate(paired.item_ids)}
    at = np.array([row[i] for i in seen if i in row], dtype=np.int64)
    mean_b, mean_c = paired.mean_b[at], paired.mean_c[at]
    if at.size and (min(mean_b.min(), mean_c.min()) < 0 or max(mean_b.max(), mean_c.max()) > 1):
        raise UsageError("the sequential gate needs scores in [0, 1]; these runs have scores outside it")
    return ordered_decision(mean_c - mean_b, len(order), options, {k: v[at] for k, v in masks.items()})


def stopped_early_note(manifest: Manifest) -> str | None:
    """What a reader of a run made by ``tailgate run --until-decided`` must know, or None: it ran
    a random subset of the suite's items, stopped by a sequential decision (its manifest's
    ``until_decided``)."""
    u = manifest.until_decided
    if not u or not u.get("stopped_early"):
        return None
    look = u.get("look") or {}
    return (
        f"stopped early by tailgate run --until-decided against {u.get('baseline')}: "
        f"'{look.get('decision')}' after {u.get('n_done')} of {u.get('n_order')} items (seed {u.get('seed')}); "
        "its items are a random subset of the suite's, and fixed-n intervals on it ignore the data-dependent "
        "stop: the sequential decision is the one that holds"
    )


def _slice_masks(base: RunData, item_ids: np.ndarray, compare: CompareOptions) -> dict[str, np.ndarray]:
    """The item masks of the slices ``tailgate compare`` tests (attribute values and pairs with at
    least ``min_items`` items), one per distinct set of items."""
    from tailgate.analysis._compare_slices import _attribute_slices, aligned_features

    masks: dict[str, np.ndarray] = {}
    seen: set[bytes] = set()
    for _, label, mask in _attribute_slices(aligned_features(base, item_ids), compare):
        key = np.packbits(mask).tobytes()
        if key not in seen:
            seen.add(key)
            masks[label] = mask
    return masks
