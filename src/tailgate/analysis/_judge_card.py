"""The judge report card: how far the judge that scored a run can be trusted (docs/judges.md).

Read from the judge's replies stored on each record (the score's ``details``), one card per judge
scorer:

* **unscored**: the share of outputs the judge left without a verdict (no parseable reply, or a
  call that failed after its retries), Wilson on items;
* **swap-flip rate** (pairwise): the share of (output, repeat) pairs whose verdict changed when
  the two responses swapped places, Wilson on items (clustered when an item has several);
* **self-consistency** (2+ judge repeats): per output, the share of pairs of repeats that gave the
  same verdict, averaged (t interval on the item-clustered SE);
* **length bias**: the OLS slope of the judge's score on the output's length (per 100
  characters), with the item-clustered (CR1) standard error and a t interval on items - 1 df;
* **against the truth**: when the same records carry a non-judge scorer's 0/1 verdict (``exact``,
  ``choice``...: the reference decides), the judge's pass (score > 0.5) against it: Cohen's kappa,
  Scott's pi, Krippendorff's alpha (:func:`~tailgate.analysis.agreement`, item jackknife) and the
  judge's sensitivity and specificity (:func:`~tailgate.analysis.judge_accuracy`, Wilson).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from tailgate.analysis._agreement import Agreement, JudgeAccuracy, agreement, judge_accuracy
from tailgate.analysis._compare_results import JsonResult
from tailgate.analysis._estimate import Estimate, mean_estimate

__all__ = ["JudgeCard", "judge_cards", "length_slope"]

PASS_ABOVE = 0.5
"""A judge's score above this is a pass when it is compared with a 0/1 truth."""


@dataclass(frozen=True)
class JudgeCard(JsonResult):
    """One judge scorer's report card, see :func:`judge_cards`."""

    label: str
    """The scorer's label in the records."""
    kind: str
    """``judge_reference``, ``judge_rubric`` or ``judge_pairwise``."""
    judge: str
    """The judge's model spec."""
    prompt_sha: str
    """SHA-256 (first 16 hex digits) of the prompt template."""
    n_outputs: int
    """Outputs the judge was asked about."""
    n_items: int
    repeats: int
    """Judge samples per output (per order, for pairwise)."""
    unscored: Estimate
    """Share of outputs left without a verdict."""
    unparseable_replies: Estimate
    """Share of the judge's replies (every repeat, and order) that stated no verdict."""
    n_unparseable: int
    """Outputs none of whose replies parsed."""
    n_call_failures: int
    """Outputs whose judge calls failed after their retries."""
    swap_flip: Estimate | None
    """Pairwise: share of (output, repeat) verdicts that changed with the order (None otherwise)."""
    self_consistency: Estimate | None
    """Share of pairs of judge repeats that agree (None with one repeat)."""
    length_slope: Estimate | None
    """Score per 100 characters of output (None when lengths do not vary or too few items)."""
    truth: str | None
    """The non-judge scorers the judge is compared with, comma-separated: on each record the first
    one with a 0/1 verdict, the suite's headline order (None: no truth on these records)."""
    agreement: Agreement | None
    accuracy: JudgeAccuracy | None
    warnings: tuple[str, ...] = ()


def length_slope(
    lengths: Sequence[float] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    items: Sequence[object] | np.ndarray,
    confidence: float = 0.95,
) -> Estimate:
    """OLS slope of ``scores`` on ``lengths`` with the item-clustered (CR1) standard error, as
    statsmodels' ``OLS(...).fit(cov_type="cluster")`` computes it, and a t interval on G - 1 df
    (G items).

    Example:
        >>> e = length_slope([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1], ["a", "a", "b", "b", "c", "c"])
        >>> round(e.value, 4), e.n_items
        (0.2286, 3)
    """
    x = np.asarray(lengths, dtype=float)
    y = np.asarray(scores, dtype=float)
    groups = np.asarray(list(items), dtype=object)
    n = x.size
    _, codes = np.unique(groups.astype(str), return_inverse=True)
    g = int(codes.max()) + 1 if n else 0
    sxx = float(((x - x.mean()) ** 2).sum()) if n else 0.0
    if n < 3 or g < 3 or sxx == 0.0:
        why = "lengths do not vary" if n and sxx == 0.0 else "fewer than 3 items"
        return Estimate.no_interval(f"length slope: {why}", n_items=g, n_samples=n, confidence=confidence)
    if float(np.ptp(y)) == 0.0:
        # a judge that gives every output one score has slope 0 and a zero SE: the data show no
        # spread to measure, not a certain absence of length bias
        why = "length slope: the judge gave every output the same score (no spread; no interval)"
        return Estimate.no_interval(why, value=0.0, n_items=g, n_samples=n, confidence=confidence)
    dx = x - x.mean()
    slope = float((dx * (y - y.mean())).sum() / sxx)
    resid = y - y.mean() - slope * dx
    # the sandwich for [intercept, slope] on centred x: X'X is diagonal (n, sxx)
    scores_g = np.zeros((g, 2))
    np.add.at(scores_g, codes, np.column_stack([resid, dx * resid]))
    meat = scores_g.T @ scores_g
    bread = np.diag([1.0 / n, 1.0 / sxx])
    cov = bread @ meat @ bread * (g / (g - 1)) * ((n - 1) / (n - 2))
    se = math.sqrt(max(float(cov[1, 1]), 0.0))
    method = "OLS slope per 100 characters, item-clustered (CR1) SE, t interval"
    return Estimate.t_interval(slope, se, g - 1, n_items=g, n_samples=n, method=method, confidence=confidence)


def _share_equal(verdicts: list[float]) -> float:
    pairs = list(itertools.combinations(verdicts, 2))
    return sum(a == b for a, b in pairs) / len(pairs)


@dataclass
class _Rows:
    """One judge's records: what :func:`_card` needs, one entry per output."""

    items: list[str]
    lengths: list[float]
    values: list[float | None]
    errors: list[str | None]
    details: list[dict[str, Any]]
    truth: list[float | None]
    truth_labels: list[str] = field(default_factory=list)
    """The non-judge scorers that gave the truth, in order of first appearance."""

    @property
    def truth_label(self) -> str | None:
        return ", ".join(self.truth_labels) or None


def _collect(item_ids: Sequence[str], outputs: Sequence[str | None], scores: Sequence[str]) -> dict[str, _Rows]:
    rows: dict[str, _Rows] = {}
    for item, output, raw in zip(item_ids, outputs, scores, strict=True):
        if '"details"' not in raw:
            continue
        parsed: dict[str, Any] = orjson.loads(raw)
        truth_label, truth = next(
            ((k, v["value"]) for k, v in parsed.items() if "details" not in v and v.get("value") in (0.0, 1.0)),
            (None, None),
        )
        for label, score in parsed.items():
            details = score.get("details")
            if not isinstance(details, dict) or "samples" not in details:
                continue
            r = rows.setdefault(label, _Rows([], [], [], [], [], []))
            r.items.append(item)
            r.lengths.append(len(output or "") / 100.0)
            r.values.append(score.get("value"))
            r.errors.append(score.get("error"))
            r.details.append(details)
            r.truth.append(truth)
            if truth_label is not None and truth_label not in r.truth_labels:
                r.truth_labels.append(truth_label)
    return rows


def judge_cards(
    item_ids: Sequence[str], outputs: Sequence[str | None], scores: Sequence[str], confidence: float = 0.95
) -> list[JudgeCard]:
    """The card of every judge scorer found in the records (``scores``: each record's ``scores``
    JSON); empty when no judge scored them."""
    return [_card(label, r, confidence) for label, r in sorted(_collect(item_ids, outputs, scores).items())]


def _card(label: str, r: _Rows, confidence: float) -> JudgeCard:
    keys = np.asarray(r.items, dtype=object)
    first = r.details[0]
    kind = str(first.get("kind", "judge"))
    pairwise = kind == "judge_pairwise"
    unscored = np.array([v is None for v in r.values], dtype=float)
    failures = sum(bool(e) and e.startswith("judge call failed") for e in r.errors if e)
    unparseable = sum(bool(e) and e.startswith("unparseable") for e in r.errors if e)
    verdicts = [[v for v in d.get("verdicts", []) if v is not None] for d in r.details]
    repeats = max(len(d.get("verdicts", [])) for d in r.details)
    warnings: list[str] = []
    flips: Estimate | None = None
    if pairwise:
        units = [(item, s.get("flipped", False)) for item, d in zip(r.items, r.details, strict=True)
                 for s, v in zip(d["samples"][1::2], d.get("verdicts", []), strict=False) if v is not None]  # fmt: skip
        if units:
            flips = mean_estimate([float(f) for _, f in units], [i for i, _ in units], confidence)
        else:
            flips = Estimate.no_interval("swap-flip rate: no output with both orders parsed", confidence=confidence)
    consistency: Estimate | None = None
    if repeats >= 2:
        multi = [(item, v) for item, v in zip(r.items, verdicts, strict=True) if len(v) >= 2]
        if multi:
            consistency = mean_estimate([_share_equal(v) for _, v in multi], [i for i, _ in multi], confidence)
        else:
            why = "self-consistency: no output has 2 or more parsed verdicts"
            consistency = Estimate.no_interval(why, confidence=confidence)
    scored = [i for i, v in enumerate(r.values) if v is not None]
    slope = None
    if scored:
        slope = length_slope(
            [r.lengths[i] for i in scored], [float(r.values[i] or 0.0) for i in scored], keys[scored], confidence
        )
    agree, accuracy = _against_truth(r, scored, confidence, warnings)
    return JudgeCard(
        label=label,
        kind=kind,
        judge=str(first.get("judge", "")),
        prompt_sha=str(first.get("prompt_sha", "")),
        n_outputs=len(r.values),
        n_items=len(set(r.items)),
        repeats=repeats,
        unscored=mean_estimate(unscored, keys, confidence),
        unparseable_replies=_unparseable_replies(r, confidence),
        n_unparseable=unparseable,
        n_call_failures=failures,
        swap_flip=flips,
        self_consistency=consistency,
        length_slope=slope,
        truth=r.truth_label if agree is not None else None,
        agreement=agree,
        accuracy=accuracy,
        warnings=tuple(warnings),
    )


def _unparseable_replies(r: _Rows, confidence: float) -> Estimate:
    values, items = [], []
    for item, d in zip(r.items, r.details, strict=True):
        for sample in d["samples"]:
            if sample.get("raw") is not None:  # a failed call is no reply
                values.append(float(sample.get("verdict") is None))
                items.append(item)
    if not values:
        return Estimate.no_interval("unparseable replies: no reply", confidence=confidence)
    return mean_estimate(values, items, confidence)


def _against_truth(
    r: _Rows, scored: list[int], confidence: float, warnings: list[str]
) -> tuple[Agreement | None, JudgeAccuracy | None]:
    both = [i for i in scored if r.truth[i] is not None]
    if not both or r.details[0].get("kind") == "judge_pairwise":
        return None, None
    judge = [float(r.values[i] or 0.0) > PASS_ABOVE for i in both]
    truth = [r.truth[i] == 1.0 for i in both]
    items = [r.items[i] for i in both]
    if len(both) < len(r.values):
        warnings.append(
            f"agreement with {r.truth_label} on the {len(both)} of {len(r.values)} outputs the judge scored: "
            "an unscored verdict is left out, which flatters a judge that fails to answer"
        )
    return agreement(judge, truth, items=items, confidence=confidence), judge_accuracy(
        judge, truth, items=items, confidence=confidence
    )
