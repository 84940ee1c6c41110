"""Where a comparison's headline score comes from a judge: the judge's card and its corrected mean.

The gate must not decide on a judge's scores without knowing how far the judge agrees with the
truth (docs/judges.md, "The gate and judges"). :func:`headline_judges` finds, in one run, the judge
scorers that gave the headline ``score`` of some of its samples (the records' ``scorer``), and for
each one gives:

* its report card (:class:`~tailgate.analysis.JudgeCard`: Cohen's kappa against the run's
  reference scorers, with the item jackknife interval and n);
* ``judge_mean``: the mean of the judge's score over the items it scored (item-clustered interval),
  what a gate reads when it trusts the judge;
* ``corrected``: when some items also carry a true 0/1 label, the PPI++ mean of the true label
  (:func:`~tailgate.analysis.ppi_mean`, the item as unit: the judge's item mean and the item's mean
  truth), the judge metric with the judge's bias removed; every item labelled: the labels' own mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from tailgate.analysis._compare_results import JsonResult
from tailgate.analysis._estimate import Estimate, mean_estimate
from tailgate.analysis._judge_card import JudgeCard, judge_cards
from tailgate.analysis._ppi import PPIMean, ppi_mean

if TYPE_CHECKING:
    from tailgate.analysis._data import RunData

__all__ = ["HeadlineJudge", "headline_judges", "judge_metric"]


@dataclass(frozen=True)
class HeadlineJudge(JsonResult):
    """A judge scorer behind (some of) a run's headline scores, see :func:`headline_judges`."""

    run: str
    """``base`` or ``cand``: which run of the comparison."""
    run_id: str
    scorer: str
    """The judge scorer's label."""
    n_samples: int
    """Samples whose headline score is this judge's."""
    share: float
    """Their share of the run's samples with a headline score."""
    card: JudgeCard
    """The judge's report card on this run (its ``agreement`` is None: no labelled item)."""
    judge_mean: Estimate
    """Mean judge score over the items it scored: the judge-only metric."""
    corrected: PPIMean | None
    """The PPI++ mean of the true label (None: no item carries a true label)."""

    @property
    def n_labelled(self) -> int:
        """Items with both a judge score and a true label."""
        return 0 if self.corrected is None else self.corrected.n_labelled

    @property
    def kappa(self) -> Estimate | None:
        """Cohen's kappa of the judge's pass against the truth (None: no labelled item)."""
        return None if self.card.agreement is None else self.card.agreement.kappa

    @property
    def metric(self) -> Estimate:
        """The judge metric a gate reads: the corrected one when labels exist, else the judge's own."""
        if self.corrected is None:
            return self.judge_mean
        if self.corrected.n_unlabelled == 0:
            return self.corrected.labelled_only
        return self.corrected.estimate


def headline_judges(data: RunData, run: str, confidence: float = 0.95, seed: int = 0) -> tuple[HeadlineJudge, ...]:
    """The judge scorers behind ``data``'s headline scores (empty: no judge gave one)."""
    counts = data.query("SELECT scorer, count(*) AS n FROM records WHERE score IS NOT NULL GROUP BY scorer")
    by_scorer = {str(s): int(n) for s, n in zip(counts["scorer"], counts["n"], strict=True) if s is not None}
    total = sum(by_scorer.values())
    if not total:
        return ()
    cols = data.query(
        "SELECT item_id, output, scores, scorer FROM records WHERE score IS NOT NULL AND scores LIKE '%\"details\"%'"
    )
    if not len(cols["item_id"]):
        return ()
    items, outputs, scores = list(cols["item_id"]), list(cols["output"]), list(cols["scores"])
    out = []
    for card in judge_cards(items, outputs, scores, confidence):
        if card.label not in by_scorer:
            continue  # a judge that scored but does not give the headline
        mine = [i for i, s in enumerate(cols["scorer"]) if s == card.label]
        mean, corrected = judge_metric([items[i] for i in mine], [scores[i] for i in mine], card.label, confidence,
                                       seed)  # fmt: skip
        n = by_scorer[card.label]
        out.append(HeadlineJudge(run, data.run_id, card.label, n, n / total, card, mean, corrected))
    return tuple(out)


def judge_metric(
    item_ids: list[str], scores: list[str], label: str, confidence: float = 0.95, seed: int = 0
) -> tuple[Estimate, PPIMean | None]:
    """The judge ``label``'s mean score per item (item-clustered interval) and, when some records
    carry a true 0/1 verdict (the first non-judge scorer's, as on the card), its PPI++ correction
    on item means. ``scores``: each record's ``scores`` JSON."""
    judged: dict[str, list[float]] = {}
    truth: dict[str, list[float]] = {}
    for item, raw in zip(item_ids, scores, strict=True):
        parsed: dict[str, Any] = orjson.loads(raw)
        value = parsed.get(label, {}).get("value")
        if value is None:
            continue
        judged.setdefault(item, []).append(float(value))
        true = next((v["value"] for v in parsed.values() if "details" not in v and v.get("value") in (0.0, 1.0)), None)
        if true is not None:
            truth.setdefault(item, []).append(float(true))
    values = [v for vs in judged.values() for v in vs]
    clusters = [item for item, vs in judged.items() for _ in vs]
    if not values:
        return Estimate.no_interval("the judge scored no sample", confidence=confidence), None
    mean = mean_estimate(values, clusters, confidence)
    if not truth:
        return mean, None
    order = sorted(judged)  # the bootstrap's draws follow the items' order: the same for any record order
    labelled = [i for i in order if i in truth]
    f_l = np.array([np.mean(judged[i]) for i in labelled])
    y = np.array([np.mean(truth[i]) for i in labelled])
    f_u = np.array([np.mean(judged[i]) for i in order if i not in truth])
    return mean, ppi_mean(y, f_l, f_u, confidence=confidence, seed=seed)
