"""``tailgate shadow report``: does a shadowed candidate answer differently from the primary by more
than the primary differs from itself?

A shadow session (docs/shadow.md) stores three kinds of runs: ``RUN-primary`` (every mirrored
request), ``RUN-candidate`` (the candidate's answer to each), and ``RUN-noise`` (a second call to
the primary for a random share of them: the primary's own run-to-run variation, Diffy's noise
floor). For each item (request key) i the report measures

* a_i = sim(primary_i, candidate_i) on every item where both answered (n items, set A),
* b_i = sim(primary_i, noise_i) on the noise items where both answered (m items, set B),

with sim = symmetric chrF (:mod:`._shadow_text`), and estimates the agreement difference

    D = E[a] - E[b],   D^ = mean_A(a) - mean_B(b).

D = 0 when the candidate agrees with the primary as well as the primary agrees with itself.
The two means are over overlapping item sets (B is usually inside A), so they are correlated; the
variance uses the covariance, through each item's influence on D^ (the stacked-estimating-equation
sandwich, items as clusters; one item is one request key however often it was seen)::

    psi_i = 1[i in A] (a_i - mean_A(a)) / n  -  1[i in B] (b_i - mean_B(b)) / m
    Var(D^) = G / (G - 1) * sum_i psi_i^2,   G = |A u B| items

which is Var(a-bar) + Var(b-bar) - 2 Cov(a-bar, b-bar) with Cov = sum_{A n B} (a_i - a-bar)(b_i -
b-bar) / (n m). The interval is Student's t on m - 1 degrees of freedom (the noise subset is the
scarce side; conservative when n >> m). The test of D = 0 is two-sided. Checked against
statsmodels' cluster-robust OLS on the stacked data (tests/analysis/test_shadow.py) and by
simulation on real model outputs (bench/shadow_calibration.py, docs/calibration.md).

Per slice (the items' attributes) the same estimator runs on the slice's items; the slices'
p-values are Benjamini-Yekutieli adjusted (valid under any dependence, slices overlap), as
``tailgate compare`` does. Latency p50/p95/p99 deltas use compare's paired item bootstrap;
error rate, refusals, JSON validity and length use the paired t-test on items.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailgate.analysis._bootstrap import Binned, replicate_sums
from tailgate.analysis._compare_beyond import _bootstrap_summary, _too_few_for_quantile
from tailgate.analysis._compare_results import (
    CompareOptions,
    JsonResult,
    LatencyChange,
    LevelChange,
    PairedDelta,
    Unavailable,
)
from tailgate.analysis._compare_tests import paired_delta, paired_levels
from tailgate.analysis._estimate import Estimate
from tailgate.analysis._shadow_text import asks_json_valid, chrf, exact_match, is_refusal
from tailgate.analysis._stats import adjust_by

__all__ = [
    "AgreementDifference",
    "CandidateReport",
    "DifferingItem",
    "ShadowOptions",
    "ShadowReport",
    "ShadowSide",
    "SliceAgreement",
    "agreement_difference",
    "candidate_report",
]

NO_NOISE = (
    "noise floor missing: the session has no noise run (start the proxy with --noise), so the "
    "primary's own variation is unknown and no difference beyond noise can be judged"
)


@dataclass(frozen=True)
class ShadowOptions:
    """What the shadow report computes; recorded in its output."""

    confidence: float = 0.95
    """Confidence level of every interval."""
    alpha: float = 0.05
    """Significance level of the verdict and of the slices (after the BY adjustment)."""
    min_slice_items: int = 10
    """Smallest slice, in items with both answers, that gets an agreement difference."""
    min_slice_noise: int = 5
    """Smallest number of noise items a slice needs."""
    bootstrap: int = 2000
    """Replicates of the paired item bootstrap of the latency percentiles."""
    seed: int = 0
    """Seed of the bootstrap."""
    top_items: int = 20
    """Most dissimilar items listed."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ShadowSide:
    """One role's answers (primary, candidate or noise), aligned on the session's items."""

    outputs: list[str | None]
    """The answer text per item (None: no record, a fault, or no text)."""
    latency_ms: np.ndarray
    """Total latency per item (NaN: no record or a fault)."""
    failed: np.ndarray
    """Per item: True when the call failed (a record with an error class)."""
    present: np.ndarray
    """Per item: True when the role has a record for it."""
    ttft_ms: np.ndarray | None = None
    """Time to first byte per item, when known (NaN where missing)."""

    @classmethod
    def empty(cls, n: int) -> ShadowSide:
        nan = np.full(n, np.nan)
        return cls([None] * n, nan, np.zeros(n, bool), np.zeros(n, bool))


@dataclass(frozen=True)
class AgreementDifference(JsonResult):
    """Agreement of the candidate with the primary, against the primary's agreement with itself."""

    measure: str
    """``chrf`` (symmetric character n-gram F1) or ``exact_match``."""
    candidate: Estimate
    """Mean agreement candidate vs primary over the items where both answered."""
    noise: Estimate | None
    """Mean agreement noise vs primary over the noise items (None: no noise run)."""
    difference: Estimate | None
    """candidate - noise agreement, t interval with the covariance-corrected SE (None: no noise)."""
    p_value: float | None
    """Two-sided p-value of a zero difference (None without noise or under 2 noise items)."""
    n_items: int
    """Items with a primary and a candidate answer."""
    n_noise_items: int
    """Items with a primary and a noise answer."""


@dataclass(frozen=True)
class SliceAgreement(JsonResult):
    """The chrF agreement difference on one slice (items with one attribute value)."""

    attribute: str
    """The item attribute."""
    value: str
    """Its value."""
    agreement: AgreementDifference
    """The difference on the slice's items."""
    p_adjusted: float | None
    """Benjamini-Yekutieli adjusted p-value across the slices."""
    differs: bool
    """``p_adjusted`` is below the alpha."""


@dataclass(frozen=True)
class DifferingItem(JsonResult):
    """An item where the candidate's answer is far from the primary's (raw text: escape it)."""

    item_id: str
    """The request key."""
    agreement: float
    """chrF of the candidate's and the primary's answers."""
    beyond_noise: bool
    """The agreement is below the noise floor (the alpha-quantile of the noise agreements)."""
    input: str
    """The request's prompt (canonical JSON of path and messages/prompt), cut to 2,000 chars."""
    primary_output: str
    """The primary's answer, cut to 2,000 chars."""
    candidate_output: str
    """The candidate's answer, cut to 2,000 chars."""


@dataclass(frozen=True)
class CandidateReport(JsonResult):
    """One candidate against the primary and its noise floor."""

    label: str
    """The candidate's role name (``candidate``, ``candidate-2``, ...)."""
    run_id: str
    """The candidate's run."""
    verdict: str
    """``no difference beyond noise``, ``differs`` or ``noise floor missing``."""
    alpha: float
    """Significance level of the verdict (two-sided test of the chrF agreement difference)."""
    agreement: AgreementDifference
    """chrF agreement difference: the verdict's test."""
    exact_match: AgreementDifference
    """Exact-match agreement difference (near 0 - 0 on sampled text: shown, not decisive)."""
    naive_diff_share: float | None
    """Share of items whose candidate answer differs from the primary's at all (what a naive
    output diff flags); None without items."""
    noise_floor: float | None
    """The alpha-quantile of the noise agreements: an item below it differs beyond noise."""
    slices: tuple[SliceAgreement, ...]
    """Per attribute value, sorted by adjusted p-value."""
    differing_items: tuple[DifferingItem, ...]
    """The most dissimilar items, lowest agreement first."""
    n_beyond_noise: int
    """Items whose agreement is below the noise floor (0 without a floor)."""
    latency: dict[str, LatencyChange]
    """Total latency change (candidate - primary, ms) at ``p50``, ``p95``, ``p99``."""
    ttft: dict[str, LatencyChange]
    """The same for time to first byte, when known (else empty; see ``unavailable``)."""
    error_rate: LevelChange | None
    """Share of failed calls, paired on items both were asked."""
    refusal_rate: LevelChange | None
    """Share of answers that look like a refusal (:func:`is_refusal`), paired on answered items."""
    json_validity: LevelChange | None
    """Share of answers that parse as JSON over items whose request asks for JSON."""
    length_chars: PairedDelta | None
    """Mean answer length in characters, candidate - primary, paired on answered items."""
    unavailable: dict[str, Unavailable]
    """Measures not computed, and why."""
    warnings: tuple[str, ...]
    """What the reader must know (missing noise floor, small noise subset...)."""


@dataclass(frozen=True)
class ShadowReport(JsonResult):
    """A shadow session's statistics: each candidate against the primary and its noise floor."""

    session: str
    """The session id (the runs are ``SESSION-primary``, ``-candidate``, ``-noise``)."""
    n_items: int
    """Mirrored requests (distinct request keys) in the primary run."""
    n_noise_items: int
    """Of them, items with a noise re-sample."""
    noise_run: str | None
    """The noise run's id, None when the session has none."""
    candidates: tuple[CandidateReport, ...]
    """One report per candidate."""
    options: dict[str, Any] = field(default_factory=dict)
    """The :class:`ShadowOptions` used."""

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out["schema"] = "tailgate.shadow_report/1"
        return out


def agreement_difference(
    a: np.ndarray, b: np.ndarray | None, measure: str, confidence: float = 0.95
) -> AgreementDifference:
    """The agreement difference mean_A(a) - mean_B(b) with the covariance-corrected SE (module
    docstring). ``a`` and ``b`` are per item, NaN where the item has no pair; ``b`` None: no noise.

    Example:
        >>> import numpy as np
        >>> d = agreement_difference(np.array([0.2, 0.4, 0.3, 0.5]), np.array([0.4, np.nan, 0.5, np.nan]), "chrf")
        >>> round(d.difference.value, 3), d.n_items, d.n_noise_items
        (-0.1, 4, 2)
    """
    in_a = np.isfinite(a)
    n = int(in_a.sum())
    cand = _mean(a[in_a], confidence, "mean agreement over items")
    if b is None:
        return AgreementDifference(measure, cand, None, None, None, n, 0)
    in_b = np.isfinite(b)
    m = int(in_b.sum())
    noise = _mean(b[in_b], confidence, "mean noise agreement over noise items")
    if n == 0 or m == 0:
        why = "no items with both answers" if n == 0 else "no noise items with both answers"
        diff = Estimate.no_interval(why, n_items=int((in_a | in_b).sum()), confidence=confidence)
        return AgreementDifference(measure, cand, noise, diff, None, n, m)
    mean_a, mean_b = float(a[in_a].mean()), float(b[in_b].mean())
    value = mean_a - mean_b
    g = int((in_a | in_b).sum())
    samples = n + m
    if m < 2 or g < 2:
        diff = Estimate.no_interval("under 2 noise items: no interval", value=value, n_items=g, n_samples=samples)
        return AgreementDifference(measure, cand, noise, diff, None, n, m)
    psi = np.where(in_a, np.nan_to_num(a - mean_a) / n, 0.0) - np.where(in_b, np.nan_to_num(b - mean_b) / m, 0.0)
    se = math.sqrt(g / (g - 1) * float(np.sum(psi * psi)))
    df = m - 1
    method = f"mean_A(a) - mean_B(b), SE with their covariance (items as clusters), t({df})"
    if se <= 1e-12:  # every pair equally similar (up to rounding): no finite data makes a point interval honest
        why = "no variation in the agreement over items (identical similarity everywhere): no interval"
        diff = Estimate.no_interval(why, value=value, n_items=g, n_samples=samples, confidence=confidence)
        return AgreementDifference(measure, cand, noise, diff, _t_p(value, se, df), n, m)
    diff = Estimate.t_interval(value, se, df, n_items=g, n_samples=samples, method=method, confidence=confidence)
    p = _t_p(value, se, df)
    return AgreementDifference(measure, cand, noise, diff, p, n, m)


def _t_p(value: float, se: float, df: int) -> float:
    if se <= 0:
        return 1.0 if value == 0 else 0.0
    from scipy.special import stdtr

    return float(2 * stdtr(df, -abs(value) / se))


def _mean(x: np.ndarray, confidence: float, method: str) -> Estimate:
    n = int(x.size)
    if n == 0:
        return Estimate.no_interval("no items", confidence=confidence)
    mean = float(x.mean())
    if n < 2:
        return Estimate.no_interval("one item: no interval", value=mean, n_items=1, n_samples=1, confidence=confidence)
    if np.isin(x, (0.0, 1.0)).all():  # exact match: a share, never a point interval at 0 or 1
        return Estimate.wilson(float(x.sum()), n, method=f"{method}, Wilson", confidence=confidence)
    se = float(x.std(ddof=1)) / math.sqrt(n)
    if se <= 1e-12:  # equal up to rounding
        return Estimate.no_interval(f"{method}: every item equally similar, no interval", value=mean, n_items=n,
                                    n_samples=n, confidence=confidence)  # fmt: skip
    return Estimate.t_interval(
        mean, se, n - 1, n_items=n, n_samples=n, method=f"{method}, t({n - 1})", confidence=confidence, clip=(0, 1)
    )


def _pair_values(p: ShadowSide, other: ShadowSide, fn: Any) -> np.ndarray:
    out = np.full(len(p.outputs), np.nan)
    for i, (x, y) in enumerate(zip(p.outputs, other.outputs, strict=True)):
        if x is not None and y is not None:
            out[i] = fn(x, y)
    return out


def candidate_report(
    item_ids: Sequence[str],
    inputs: Sequence[str],
    attributes: Sequence[Mapping[str, Any]],
    primary: ShadowSide,
    candidate: ShadowSide,
    noise: ShadowSide | None,
    options: ShadowOptions | None = None,
    *,
    label: str = "candidate",
    run_id: str = "",
) -> CandidateReport:
    """One candidate's report from aligned per-item answers (the pure core of :func:`shadow_report`)."""
    opt = options or ShadowOptions()
    conf = opt.confidence
    a = _pair_values(primary, candidate, chrf)
    b = _pair_values(primary, noise, chrf) if noise is not None else None
    agreement = agreement_difference(a, b, "chrf", conf)
    ea = _pair_values(primary, candidate, exact_match)
    eb = _pair_values(primary, noise, exact_match) if noise is not None else None
    exact = agreement_difference(ea, eb, "exact_match", conf)
    warnings: list[str] = []
    if noise is None:
        verdict = "noise floor missing"
        warnings.append(NO_NOISE)
    elif agreement.p_value is None:
        verdict = "noise floor missing"
        warnings.append(f"only {agreement.n_noise_items} noise item(s) with both answers: no test")
    else:
        verdict = "differs" if agreement.p_value < opt.alpha else "no difference beyond noise"
        if agreement.n_noise_items < 30:
            warnings.append(
                f"the noise floor rests on {agreement.n_noise_items} items: a small difference is invisible"
            )
    floor = float(np.quantile(b[np.isfinite(b)], opt.alpha)) if b is not None and np.isfinite(b).sum() >= 20 else None
    if b is not None and floor is None:
        warnings.append("under 20 noise items: no per-item noise floor (items ranked, none marked beyond noise)")
    fin = np.isfinite(ea)
    naive = float(1.0 - ea[fin].mean()) if fin.any() else None
    items = _differing(item_ids, inputs, primary, candidate, a, floor, opt.top_items)
    unavailable: dict[str, Unavailable] = {}
    latency = _latency_changes(primary.latency_ms, candidate.latency_ms, opt, unavailable, "latency")
    ttft: dict[str, LatencyChange] = {}
    if primary.ttft_ms is not None and candidate.ttft_ms is not None:
        ttft = _latency_changes(primary.ttft_ms, candidate.ttft_ms, opt, unavailable, "ttft")
    else:
        unavailable["ttft"] = Unavailable("absent", "no time to first byte recorded for both roles")
    return CandidateReport(
        label=label,
        run_id=run_id,
        verdict=verdict,
        alpha=opt.alpha,
        agreement=agreement,
        exact_match=exact,
        naive_diff_share=naive,
        noise_floor=floor,
        slices=_slices(attributes, a, b, opt),
        differing_items=items,
        n_beyond_noise=int(np.sum(a[np.isfinite(a)] < floor)) if floor is not None else 0,
        latency=latency,
        ttft=ttft,
        error_rate=_rate(primary.failed, candidate.failed, primary.present & candidate.present, conf),
        refusal_rate=_text_rate(primary, candidate, is_refusal, None, conf),
        json_validity=_text_rate(primary, candidate, asks_json_valid, _asks_json(attributes), conf),
        length_chars=_length(primary, candidate, conf),
        unavailable=unavailable,
        warnings=tuple(warnings),
    )


def _asks_json(attributes: Sequence[Mapping[str, Any]]) -> np.ndarray:
    return np.array([str(a.get("asks_json", "")).lower() in ("true", "1", "yes") for a in attributes], dtype=bool)


def _rate(p: np.ndarray, c: np.ndarray, keep: np.ndarray, conf: float) -> LevelChange | None:
    if keep.sum() < 2:
        return None
    return paired_levels(p[keep].astype(float), c[keep].astype(float), conf)


def _text_rate(p: ShadowSide, c: ShadowSide, fn: Any, only: np.ndarray | None, conf: float) -> LevelChange | None:
    keep = np.array([x is not None and y is not None for x, y in zip(p.outputs, c.outputs, strict=True)], bool)
    if only is not None:
        keep &= only
    idx = np.flatnonzero(keep)
    if idx.size < 2:
        return None
    vp = np.array([float(fn(p.outputs[i])) for i in idx])
    vc = np.array([float(fn(c.outputs[i])) for i in idx])
    return paired_levels(vp, vc, conf)


def _length(p: ShadowSide, c: ShadowSide, conf: float) -> PairedDelta | None:
    pairs = [(len(x), len(y)) for x, y in zip(p.outputs, c.outputs, strict=True) if x is not None and y is not None]
    if len(pairs) < 2:
        return None
    arr = np.array(pairs, dtype=float)
    return paired_delta(arr[:, 0], arr[:, 1], conf)


def _differing(
    item_ids: Sequence[str],
    inputs: Sequence[str],
    primary: ShadowSide,
    candidate: ShadowSide,
    a: np.ndarray,
    floor: float | None,
    top: int,
) -> tuple[DifferingItem, ...]:
    idx = np.flatnonzero(np.isfinite(a))
    order = idx[np.argsort(a[idx], kind="stable")][:top]
    out = []
    for i in order.tolist():
        out.append(
            DifferingItem(
                item_id=str(item_ids[i]),
                agreement=float(a[i]),
                beyond_noise=floor is not None and float(a[i]) < floor,
                input=str(inputs[i])[:2000],
                primary_output=str(primary.outputs[i])[:2000],
                candidate_output=str(candidate.outputs[i])[:2000],
            )
        )
    return tuple(out)


def _slices(
    attributes: Sequence[Mapping[str, Any]], a: np.ndarray, b: np.ndarray | None, opt: ShadowOptions
) -> tuple[SliceAgreement, ...]:
    if b is None:
        return ()
    keys = sorted({k for attrs in attributes for k in attrs})
    found: list[tuple[str, str, AgreementDifference]] = []
    for key in keys:
        values = np.array([_label(attrs.get(key)) for attrs in attributes], dtype=object)
        for value in sorted({v for v in values.tolist() if v is not None}):
            mask = values == value
            sa, sb = np.where(mask, a, np.nan), np.where(mask, b, np.nan)
            if np.isfinite(sa).sum() < opt.min_slice_items or np.isfinite(sb).sum() < opt.min_slice_noise:
                continue
            if mask.all():
                continue  # the slice is the whole session: the overall line says it
            found.append((key, value, agreement_difference(sa, sb, "chrf", opt.confidence)))
    ps = np.array([1.0 if d.p_value is None else d.p_value for _, _, d in found])
    adjusted = adjust_by(ps) if ps.size else ps
    out = [
        SliceAgreement(k, v, d, float(q), bool(q < opt.alpha))
        for (k, v, d), q in zip(found, adjusted.tolist(), strict=True)
    ]
    return tuple(sorted(out, key=lambda s: (s.p_adjusted if s.p_adjusted is not None else 1.0, s.attribute, s.value)))


def _label(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None  # a numeric attribute: not a slice
    return str(value).lower() if isinstance(value, bool) else str(value)


_QUANTILES = (50.0, 95.0, 99.0)


def _latency_changes(
    lat_p: np.ndarray, lat_c: np.ndarray, opt: ShadowOptions, unavailable: dict[str, Unavailable], name: str
) -> dict[str, LatencyChange]:
    """Paired item bootstrap of the p50/p95/p99 change (compare's engine; one sample per item)."""
    keep = np.isfinite(lat_p) & np.isfinite(lat_c)
    n = int(keep.sum())
    if n < 2:
        unavailable[name] = Unavailable("absent", f"fewer than 2 items with a {name} in both roles")
        return {}
    vp, vc = lat_p[keep].astype(float), lat_c[keep].astype(float)
    codes = np.arange(n)
    distinct = np.unique(np.concatenate([vp, vc]))
    exact = distinct.size <= 8192
    edges = distinct if exact else np.quantile(np.concatenate([vp, vc]), np.linspace(0.0, 1.0, 4097))
    bins = [Binned.of(vp, codes, n, edges, exact), Binned.of(vc, codes, n, edges, exact)]
    _, pct = replicate_sums([], bins, _QUANTILES, n, opt.bootstrap, opt.seed)
    deltas = pct[1] - pct[0]
    copt = CompareOptions(confidence=opt.confidence, bootstrap=opt.bootstrap, seed=opt.seed)
    method = (
        f"paired item bootstrap, {opt.bootstrap} replicates, seed {opt.seed}; two-sided p = "
        "2 (min(#delta* <= 0, #delta* >= 0) + 1) / (B + 1), ties counted on both sides"
    )
    out = {}
    for j, q in enumerate(_QUANTILES):
        change = _bootstrap_summary(
            float(np.percentile(vp, q)), float(np.percentile(vc, q)), deltas[:, j], n, method, copt
        )
        q_name = f"p{q:g}"
        if (short := _too_few_for_quantile((float(n), float(n)), q / 100, opt.confidence)) is not None:
            blank = Estimate(change.delta.value, None, None, n, n, short, None, opt.confidence)
            out[q_name] = LatencyChange(change.base, change.cand, blank, None, change.ties)
        else:
            out[q_name] = LatencyChange(change.base, change.cand, change.delta, change.p_value, change.ties)
    return out
