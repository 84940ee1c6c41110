"""Robustness across variants: does the answer survive a rewording, a format, a perturbation?

Inputs: one row per (item, variant) with its samples' mean score, pass share and most common
(normalised) answer. Only items that have every variant take part (they are paired).

* **per-variant score**: mean over items of the (item, variant) means, with a t interval over
  items (Wilson when each unit has one 0/1 sample).
* **format spread** (Sclar et al. 2023): best minus worst *template* score (observed, biased
  upward), with an interval for the true max - min of the template means from simultaneous
  intervals of all paired template differences, and a permutation test of "any spread at all"
  (Cochran's Q); the paired difference between the two named templates is reported too.
* **worst-case score** (HELM-style): per item, the lowest score over variants, averaged over
  items, next to the mean over variants.
* **flip rates**: an item flips when its majority verdict (pass share >= 0.5) differs between two
  of its variants; an answer flips when its most common answer differs. Shares of items with
  Wilson intervals, overall and per slice.
* **perturbation effect**: each perturbed variant (``template+name``) against its template, a
  paired delta over items with a t interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailgate.analysis._data import ANSWER_TEXT, NORMALIZED_ANSWER, RunData, exact_avg, references
from tailgate.analysis._estimate import Estimate, _t_quantile, wilson_interval
from tailgate.analysis._slices import equal_mask, item_features

__all__ = [
    "FlipSlice",
    "FlippingItem",
    "FormatSpread",
    "PerturbationEffect",
    "Robustness",
    "SpreadTest",
    "TemplateSpread",
    "VariantScore",
    "format_spread",
    "parser_sensitivity",
    "robustness",
    "template_spread",
]


@dataclass(frozen=True)
class VariantScore:
    """One variant's score over the items that have every variant."""

    variant: str
    description: str | None
    """What the variant is (its prompt or definition), from the run's manifest."""
    score: Estimate

    def as_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "description": self.description, **self.score.as_dict()}


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


@dataclass(frozen=True)
class FlipSlice:
    """The flip rate on one slice of the items."""

    slice: str
    """``feature=value``."""
    n_items: int
    flip_rate: Estimate

    def as_dict(self) -> dict[str, Any]:
        return {
            "slice": self.slice,
            "n_items": self.n_items,
            "flip_rate": self.flip_rate.as_dict(),
            "value": self.flip_rate.value,
        }


@dataclass(frozen=True)
class PerturbationEffect:
    """A perturbed variant (``template+name``) against its template, paired over items."""

    variant: str
    template: str
    delta: Estimate
    """Mean over items of variant - template."""

    def as_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "template": self.template, "delta": self.delta.as_dict()}


@dataclass(frozen=True)
class FlippingItem:
    """An item whose score moves between variants."""

    item_id: str
    source_id: str | None
    reference: str | None
    flips: bool
    """Its majority verdict differs between variants."""
    scores: dict[str, float]
    """Mean score by variant."""
    answers: dict[str, str | None]
    """Most common answer by variant (at most 200 characters)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "source_id": self.source_id,
            "reference": self.reference,
            "flips": self.flips,
            "scores": self.scores,
            "answers": self.answers,
        }


@dataclass(frozen=True)
class Robustness:
    """Robustness across a run's variants (see the module docstring)."""

    n_items: int
    """Items that have every variant (the others take no part)."""
    variants: list[VariantScore]
    """Per-variant scores; empty when the run has no scores."""
    templates: list[str]
    """Variants that are templates (no ``+perturbation``)."""
    spread: FormatSpread | None
    """Over templates; None with fewer than two."""
    mean_score: Estimate
    """Per item, the mean over variants; averaged over items."""
    worst_case: Estimate
    """Per item, its worst variant's score; averaged over items."""
    flip_rate: Estimate
    """Share of items whose majority verdict differs between variants."""
    answer_flip_rate: Estimate
    """Share of items whose most common answer differs between variants."""
    flip_by_slice: list[FlipSlice]
    """Highest flip rate first."""
    perturbations: list[PerturbationEffect]
    """Most harmful first."""
    most_flipping: list[FlippingItem]

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_items": self.n_items,
            "variants": [v.as_dict() for v in self.variants],
            "templates": self.templates,
            "spread": None if self.spread is None else self.spread.as_dict(),
            "mean_score": self.mean_score.as_dict(),
            "worst_case": self.worst_case.as_dict(),
            "flip_rate": self.flip_rate.as_dict(),
            "answer_flip_rate": self.answer_flip_rate.as_dict(),
            "flip_by_slice": [f.as_dict() for f in self.flip_by_slice],
            "perturbations": [p.as_dict() for p in self.perturbations],
            "most_flipping": [m.as_dict() for m in self.most_flipping],
        }


def _t_estimate(values: np.ndarray, confidence: float, what: str, bounded: bool = False) -> Estimate:
    """Mean over items with a t interval; ``bounded``: a quantity in [0, 1], so the interval is
    clipped to it, and when every item has the same value (no spread to estimate from) the Wilson
    interval of that share over the items is used instead of a zero-width one."""
    n = int(values.size)
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return Estimate.no_interval(
            "too few items", value=mean if n else None, n_items=n, n_samples=n, confidence=confidence
        )
    se = float(values.std(ddof=1)) / math.sqrt(n)
    if bounded and se == 0:
        # value: the mean itself, not mean * n / n (which may differ in the last bit)
        low, high = wilson_interval(mean * n, n, confidence)
        method = f"{what}; all items equal: Wilson over items"
        return Estimate.from_bounds(
            mean, low, high, n_items=n, n_samples=n, method=method, se=0.0, confidence=confidence
        )
    return Estimate.t_interval(
        mean,
        se,
        n - 1,
        n_items=n,
        n_samples=n,
        method=f"{what}, t({n - 1}) over items",
        confidence=confidence,
        clip=(0.0, 1.0) if bounded else None,
    )


def _unit(values: np.ndarray) -> bool:
    return bool(((values >= 0) & (values <= 1)).all())


def _level(values: np.ndarray, confidence: float, variant: str) -> Estimate:
    """A variant's score: Wilson over items when every item's score is 0 or 1, else a t interval."""
    if np.isin(values, (0.0, 1.0)).all():
        return _share(values, confidence, f"share of items right on {variant}")
    return _t_estimate(values, confidence, f"mean over items of {variant}", bounded=True)


def _share(flags: np.ndarray, confidence: float, what: str) -> Estimate:
    n = int(flags.size)
    if n == 0:
        return Estimate.no_interval(what, confidence=confidence)
    return Estimate.wilson(float(flags.sum()), n, method=f"{what}; Wilson over items", confidence=confidence)


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
        f"true max - min of {count} template means; simultaneous max-|t| intervals for all "
        f"{count * (count - 1) // 2} paired differences (multivariate t({items - 1}), critical value {crit:.2f})"
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
    crit = float(np.quantile(np.abs((sim[:, first] - sim[:, second]) / se).max(axis=1), confidence))
    crit = max(crit, _t_quantile(confidence, items - 1))  # never below one pair's own t interval
    # max over ordered pairs (j, k) of mu_j - mu_k: each pair in both directions
    low = max(0.0, float(np.max(np.abs(dhat) - crit * se)))
    high = float(np.max(np.abs(dhat) + crit * se))
    return low, high, crit


def any_spread_test(scores: np.ndarray, *, replicates: int = 2000, seed: int = 0) -> SpreadTest:
    """Do the templates (columns) differ at all? Randomised-block permutation test of Cochran's Q.

    Q = (J - 1) sum_j (T_j - mean T)^2 / sum_i sum_j (x_ij - xbar_i)^2, with T_j the template sums
    over items and xbar_i an item's mean over templates; for 0/1 scores this is Cochran's Q (1950).
    Its p-value comes from ``replicates`` shuffles of the template labels within each item (exact
    under the null that the templates are interchangeable, with the +1 that keeps it valid), or
    from the chi-square(J - 1) limit when the items are too many to shuffle cheaply.
    """
    from scipy import stats

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
        return SpreadTest(q, count - 1, float(stats.chi2.sf(q, count - 1)), items, method)
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


def robustness(
    data: RunData, confidence: float = 0.95, seed: int = 0, top: int = 10, semantic: bool = False
) -> Robustness | None:
    """Robustness across the run's variants, or None with fewer than two variants.

    ``semantic``: answers are the same when they mean the same (all-MiniLM-L6-v2, as for
    consistency) instead of equal after normalisation. Runs without scores (open-ended questions,
    no reference) get the answer flip rate only.
    """
    answer = ANSWER_TEXT if semantic else NORMALIZED_ANSWER
    # The most common answer per (item, variant); ties go to the first in sort order (DuckDB's
    # mode() picks any of them, so one stored run gave different reports).
    rows = data.query(
        f"""WITH kept AS (
                SELECT item_id, variant, score, {answer} AS a FROM records
                WHERE (output IS NOT NULL OR answer IS NOT NULL) AND error_class IS NULL
            ), counted AS (
                SELECT item_id, variant, a, count(*) AS c FROM kept WHERE a IS NOT NULL GROUP BY ALL
            ), top AS (
                SELECT item_id, variant, first(a ORDER BY c DESC, a) AS answer FROM counted GROUP BY ALL
            )
            SELECT item_id, variant, {exact_avg("score")} AS mean,
                   avg(CASE WHEN score IS NULL THEN NULL
                            ELSE (score >= {float(data.pass_threshold)!r})::DOUBLE END) AS pass,
                   any_value(t.answer) AS answer
            FROM kept LEFT JOIN top t USING (item_id, variant) GROUP BY ALL ORDER BY item_id, variant"""
    )
    variants = sorted({str(v) for v in rows["variant"].tolist()})
    if len(variants) < 2:
        return None
    col = {v: j for j, v in enumerate(variants)}
    ids = sorted({str(i) for i in rows["item_id"].tolist()})
    row_of = {i: k for k, i in enumerate(ids)}
    shape = (len(ids), len(variants))
    mean = np.full(shape, np.nan)
    passed = np.full(shape, np.nan)
    answers = np.full(shape, None, dtype=object)
    for i, v, m, p, a in zip(rows["item_id"], rows["variant"], rows["mean"], rows["pass"], rows["answer"], strict=True):
        r, c = row_of[str(i)], col[str(v)]
        mean[r, c], passed[r, c], answers[r, c] = m, p, a
    scored = not np.isnan(mean).all()
    complete = ~np.isnan(mean).any(axis=1) if scored else ~(answers == None).any(axis=1)  # noqa: E711
    mean, passed, answers = mean[complete], passed[complete], answers[complete]
    kept_ids = [i for i, ok in zip(ids, complete.tolist(), strict=True) if ok]
    n = len(kept_ids)
    if n < 2:
        return None
    answer_flips = _answer_flips(answers, semantic)
    what = "items whose most common answer differs between variants" + (" in meaning" if semantic else "")
    if not scored:
        none = Estimate.no_interval("no scores (no reference)", n_items=n, n_samples=n, confidence=confidence)
        return Robustness(n, [], [], None, none, none, none, _share(answer_flips, confidence, what), [], [], [])
    described = data.manifest.variant_descriptions
    per_variant = [VariantScore(v, described.get(v), _level(mean[:, j], confidence, v)) for j, v in enumerate(variants)]
    templates = [v for v in variants if "+" not in v]
    spread = None
    if len(templates) >= 2:
        idx = [col[t] for t in templates]
        spread = format_spread(mean[:, idx], templates, seed=seed, confidence=confidence)
    majority = passed >= 0.5
    flips = majority.any(axis=1) & ~majority.all(axis=1)
    perturbations: list[PerturbationEffect] = []
    for v in variants:
        if "+" in v:
            base = v.split("+", 1)[0]
            if base in col:
                d = mean[:, col[v]] - mean[:, col[base]]
                perturbations.append(PerturbationEffect(v, base, _t_estimate(d, confidence, f"paired {v} - {base}")))
    perturbations.sort(key=lambda p: float(p.delta.value or 0.0))  # (never None: n >= 2 here)
    return Robustness(
        n_items=n,
        variants=per_variant,
        templates=templates,
        spread=spread,
        mean_score=_t_estimate(mean.mean(axis=1), confidence, "mean over variants", bounded=_unit(mean)),
        worst_case=_t_estimate(
            mean.min(axis=1), confidence, "per item, the worst variant's score", bounded=_unit(mean)
        ),
        flip_rate=_share(flips, confidence, "items whose majority verdict differs between variants"),
        answer_flip_rate=_share(answer_flips, confidence, what),
        flip_by_slice=_flip_slices(data, kept_ids, flips, confidence),
        perturbations=perturbations,
        most_flipping=_most_flipping(data, kept_ids, variants, mean, answers, flips, top),
    )


def _answer_flips(answers: np.ndarray, semantic: bool) -> np.ndarray:
    if not semantic:
        return np.array([len(set(row.tolist())) > 1 for row in answers], dtype=bool)
    from tailgate.analysis._semantic import Embedder, group_by_meaning

    embedder = Embedder()
    return np.array([len(set(group_by_meaning([str(a) for a in row], embedder))) > 1 for row in answers], dtype=bool)


def _flip_slices(data: RunData, ids: list[str], flips: np.ndarray, confidence: float) -> list[FlipSlice]:
    index = data.items.index_of(ids)
    out: list[FlipSlice] = []
    for name, labels in item_features(data).items():
        aligned = labels[index]
        for value in sorted({v for v in aligned.tolist() if v is not None}, key=str):
            mask = equal_mask(aligned, value)
            if 5 <= mask.sum() < len(ids):  # a slice of every item says nothing new
                est = _share(flips[mask], confidence, "flip rate")
                out.append(FlipSlice(f"{name}={value}", int(mask.sum()), est))
    out.sort(key=lambda s: -float(s.flip_rate.value or 0.0))
    return out


def _most_flipping(
    data: RunData,
    ids: list[str],
    variants: list[str],
    mean: np.ndarray,
    answers: np.ndarray,
    flips: np.ndarray,
    top: int,
) -> list[FlippingItem]:
    source = data.items.source_id
    rows = data.items.index_of(ids)
    spread = mean.max(axis=1) - mean.min(axis=1)
    order = [int(k) for k in np.argsort(-spread, kind="stable")[:top] if spread[k] > 0]
    refs = references(data, [ids[k] for k in order])
    return [
        FlippingItem(
            item_id=ids[k],
            source_id=None if source[rows[k]] is None else str(source[rows[k]]),
            reference=refs.get(ids[k]),
            flips=bool(flips[k]),
            scores={v: float(mean[k, j]) for j, v in enumerate(variants)},
            answers={v: None if answers[k, j] is None else str(answers[k, j])[:200] for j, v in enumerate(variants)},
        )
        for k in order
    ]


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


def parser_sensitivity(
    item_ids: np.ndarray,
    parsers: list[str],
    scores: np.ndarray,
    outputs: list[str],
    *,
    delta: float | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    top: int = 10,
) -> dict[str, Any]:
    """How much the score depends on the answer parser: per parser the score with an interval
    clustered on items; the spread (best - worst parser, as :func:`format_spread`); the
    samples where parsers disagree; and a warning when the spread is at least ``delta`` (a delta
    between two runs that this spread could explain)."""
    from tailgate.analysis._stats import estimate_from_sums

    ok = ~np.isnan(scores).any(axis=1)
    scores, ids = scores[ok], item_ids[ok]
    outputs = [o for o, keep in zip(outputs, ok.tolist(), strict=True) if keep]
    if scores.shape[0] == 0:
        raise ValueError("no sample could be scored by every parser")
    uniq, inverse = np.unique(ids.astype(str), return_inverse=True)
    counts = np.bincount(inverse).astype(float)
    binary = bool(np.isin(scores, (0.0, 1.0)).all())
    per_parser = []
    item_means = np.empty((uniq.size, len(parsers)))
    for j, name in enumerate(parsers):
        sums = np.bincount(inverse, weights=scores[:, j])
        item_means[:, j] = sums / counts
        per_parser.append({"parser": name, **estimate_from_sums(counts, sums, binary, confidence).as_dict()})
    spread = (
        format_spread(item_means, parsers, seed=seed, confidence=confidence).as_dict() if len(parsers) > 1 else None
    )
    disagree = scores.max(axis=1) != scores.min(axis=1)
    examples = [
        {
            "item_id": str(ids[k]),
            "output": outputs[k][:300],
            "scores": dict(zip(parsers, scores[k].tolist(), strict=True)),
        }
        for k in np.flatnonzero(disagree)[:top]
    ]
    warnings = []
    if delta is not None and spread is not None and spread["spread"]["value"] >= abs(delta):
        warnings.append(
            f"the score moves by {spread['spread']['value']:.3f} between answer parsers ({spread['best']} vs "
            f"{spread['worst']}), at least the compared delta of {delta:+.3f}: the gap may be the parser"
        )
    return {
        "parsers": per_parser,
        "spread": spread,
        "n_samples": int(scores.shape[0]),
        "n_items": int(uniq.size),
        "disagreeing_samples": _share(disagree, confidence, "samples scored differently by some parser").as_dict(),
        "disagreeing_items": int(np.unique(inverse[disagree]).size),
        "examples": examples,
        "delta": delta,
        "warnings": warnings,
    }
