"""Consistency over repeats, and pass@k / pass^k.

A *unit* is one (item, variant): the same prompt sent K times. Its answers (the headline
scorer's extracted answer, normalised: lower case, punctuation and spaces collapsed; a missing
answer is its own class) form equivalence classes; from their counts:

* consistency = frequency of the most common answer (1 = always the same answer);
* distinct answers;
* entropy of the answer distribution, in bits.

pass@k (at least one of k samples passes) and pass^k (all k pass) use the unbiased estimators
from n samples with c passes per unit; a unit counts only if it has at least k scored samples.
Per-item values (mean over the item's variants) are averaged over items (items are
independent; a unit's repeats are not), with a mid-p exact interval on the effective number of items
(see :func:`_item_mean`): it never collapses to a point at 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailgate.analysis._data import ANSWER_TEXT, NORMALIZED_ANSWER, RunData, exact_sum
from tailgate.analysis._estimate import Estimate, kish_n
from tailgate.analysis._stats import (
    beta_binomial_estimator_variance,
    beta_binomial_rho,
    estimate_from_sums,
    pass_at_k,
    pass_hat_k,
)

__all__ = ["Consistency", "PassK", "UnitConsistency", "consistency", "pass_k_table"]


@dataclass(frozen=True)
class UnitConsistency:
    """How consistent one unit (an item under one variant) is over its repeats."""

    item_id: str
    source_id: str | None
    """The item's id in its source dataset, when imported with one."""
    variant: str
    consistency: float
    """Share of the unit's samples that give its most common answer."""
    distinct_answers: int
    samples: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "source_id": self.source_id,
            "variant": self.variant,
            "consistency": self.consistency,
            "distinct_answers": self.distinct_answers,
            "samples": self.samples,
        }


@dataclass(frozen=True)
class Consistency:
    """Distribution of per-unit answer consistency over repeats."""

    n_units: int
    """Units (item, variant) with two or more answered samples; 0: not computed."""
    n_items: int
    mean: Estimate
    """Mean over items of the units' consistency."""
    share_below: Estimate
    """Share of items whose consistency is below ``threshold``."""
    threshold: float
    mean_distinct: float
    """Distinct answers per unit, on average."""
    mean_entropy_bits: float
    """Entropy of a unit's answers, in bits, on average."""
    histogram: list[int]
    """Units per consistency bin: [0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]."""
    least_consistent: list[UnitConsistency]
    """The least consistent units, least first."""
    method: str = "answers equal after normalisation (lower case, punctuation collapsed)"
    """How answers are called the same."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_units": self.n_units,
            "n_items": self.n_items,
            "mean": self.mean.as_dict(),
            "share_below": self.share_below.as_dict(),
            "threshold": self.threshold,
            "mean_distinct": self.mean_distinct,
            "mean_entropy_bits": self.mean_entropy_bits,
            "histogram": self.histogram,
            "least_consistent": [u.as_dict() for u in self.least_consistent],
        }


@dataclass(frozen=True)
class PassK:
    """pass@k and pass^k at one k."""

    k: int
    pass_at_k: Estimate
    """At least one of k samples passes (unbiased estimator), mean over items."""
    pass_hat_k: Estimate
    """All k samples pass (unbiased estimator), mean over items."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "pass_at_k": self.pass_at_k.as_dict(),
            "pass_hat_k": self.pass_hat_k.as_dict(),
        }


def _item_mean(
    values: np.ndarray,
    codes: np.ndarray,
    samples: np.ndarray,
    confidence: float,
    what: str,
    noise: np.ndarray | None = None,
) -> Estimate:
    """Mean over items of per-item means of per-unit ``values`` in [0, 1] (NaN ignored);
    ``samples`` is each unit's number of samples (for the reported n).

    The interval is the mid-p exact interval (:func:`mid_p_interval`) on the effective number of
    items, n_eff = m (1 - m) / SE^2
    with SE the standard error over items (Kish's design effect; Korn & Graubard 1998, with their
    degrees-of-freedom correction (z / t_{n-1})^2: :func:`kish_n`, as for a clustered
    proportion), at least the number of items (a value in [0, 1] varies at most as a 0/1 one).
    ``noise`` (pass@k, pass^k) is each unit's variance under a beta-binomial model of the items
    fitted to the run (:func:`beta_binomial_estimator_variance` at the pooled pass rate and the
    moment estimate of the intra-item correlation): the SE is at least what those give, so a
    sample of items that happens to agree (pass@5 at a high pass rate is 1 for most items, and
    the few below 1 set the plain SE) does not shrink the interval below what every item's pass
    count says, and n_eff has no cap (the unbiased estimator uses all C(K, k) draws of an item,
    more than K / k: a cap of samples / k left pass@2 and pass@3 with ten repeats at coverage
    0.99-1.00; the plain SE without the model covered 0.92 for pass@5 at 300 items x 10). A t
    interval collapses to a point when every item has the same value (all pass^10 = 0 near 0,
    all pass@10 = 1 near 1); this one then gives the rule-of-three bound from the items (Wilson
    undercovers near 0 and 1 at small n: 0.91 at p = 0.99, n = 50). Mid-p rather than
    Clopper-Pearson: with a few effective passes or failures (30 items, or a pass rate of 0.03)
    Clopper-Pearson's exactness covered 0.978-1.00 in bench/calibration.py; mid-p, on the same
    seeds, 0.956-0.972 there, and 14 of 17 such rows came into 0.95 +- 0.02 with none below.
    """
    ok = ~np.isnan(values)
    if not ok.any():
        return Estimate.no_interval(f"no unit with enough samples for {what}", confidence=confidence)
    _uniq, inverse = np.unique(codes[ok], return_inverse=True)
    per_item = np.bincount(inverse, weights=values[ok]) / np.bincount(inverse)
    n = per_item.size
    total = int(samples[ok].sum())
    mean = float(per_item.mean())
    if n < 2:
        return Estimate.no_interval(
            "one item: no interval", value=mean, n_items=n, n_samples=total, confidence=confidence
        )
    se = float(per_item.std(ddof=1) / math.sqrt(n))
    cap = max(float(total), float(n))
    if noise is not None:
        units = np.bincount(inverse)
        item_noise = np.bincount(inverse, weights=noise[ok]) / units**2
        se = max(se, math.sqrt(float(item_noise.sum())) / n)
        cap = math.inf
    n_eff = kish_n(mean, se, float(n), cap, n, confidence) if 0.0 < mean < 1.0 and se > 0 else float(n)
    return Estimate.mid_p(
        mean,
        n_eff,
        n_items=n,
        n_samples=total,
        method=f"mean over items, mid-p on n_eff={n_eff:.0f} (Korn-Graubard)",
        se=se,
        confidence=confidence,
    )


def _pass_at_1(n: np.ndarray, c: np.ndarray, codes: np.ndarray, confidence: float) -> Estimate:
    """pass@1 is the mean score of 0/1 samples: the headline's estimate and interval (Wilson on the
    clustered effective n, :func:`estimate_from_sums`), so the two never disagree. Clopper-Pearson
    here covered 0.980-0.986 at 30 and 100 items x 1 (exactly 0.974 and 0.988 for a binomial at
    n = 30, p = 0.7 and 0.03, against Wilson's 0.930 and 0.940: bench/calibration.py)."""
    _uniq, inverse = np.unique(codes, return_inverse=True)
    return estimate_from_sums(np.bincount(inverse, weights=n), np.bincount(inverse, weights=c), True, confidence)


def consistency(
    data: RunData, threshold: float = 0.8, confidence: float = 0.95, k_worst: int = 10, semantic: bool = False
) -> Consistency:
    rows = _semantic_unit_rows(data) if semantic else _unit_rows(data)
    method = (
        "answers grouped by meaning: all-MiniLM-L6-v2 embeddings, cosine >= 0.9"
        if semantic
        else "answers equal after normalisation (lower case, punctuation collapsed)"
    )
    n = rows["n"].astype(float)
    if n.size == 0:
        empty = Estimate.no_interval("no item has two or more answered samples", confidence=confidence)
        return Consistency(0, 0, empty, empty, threshold, 0.0, 0.0, [0] * 10, [], method)
    frac = rows["top"] / n
    codes = rows["code"]
    mean = _item_mean(frac, codes, n, confidence, "consistency")
    below = _item_mean((frac < threshold).astype(float), codes, n, confidence, "consistency")
    hist = np.histogram(np.minimum(frac, 0.9999), bins=10, range=(0.0, 1.0))[0].astype(int).tolist()
    order = np.lexsort((-rows["distinct"], frac))[:k_worst]
    worst = [
        UnitConsistency(
            item_id=str(data.items.item_id[int(codes[i])]),
            source_id=_str_or_none(data.items.source_id[int(codes[i])]),
            variant=str(rows["variant"][i]),
            consistency=float(frac[i]),
            distinct_answers=int(rows["distinct"][i]),
            samples=int(n[i]),
        )
        for i in order
    ]
    return Consistency(
        n_units=int(n.size),
        n_items=int(np.unique(codes).size),
        mean=mean,
        share_below=below,
        threshold=threshold,
        mean_distinct=float(rows["distinct"].mean()),
        mean_entropy_bits=float(rows["entropy"].mean()),
        histogram=hist,
        least_consistent=worst,
        method=method,
    )


MAX_SEMANTIC_ANSWERS = 200_000


def _semantic_unit_rows(data: RunData) -> dict[str, np.ndarray]:
    """Like :func:`_unit_rows`, with answers grouped by meaning (see ``_semantic.py``)."""
    from tailgate.analysis._semantic import Embedder, group_by_meaning
    from tailgate.errors import UsageError

    answers = data.query(
        f"""SELECT cd.code, variant, {NORMALIZED_ANSWER} AS a, min(coalesce({ANSWER_TEXT}, '')) AS raw,
                   count(*)::DOUBLE AS c
            FROM records JOIN item_codes cd USING (item_id) WHERE (output IS NOT NULL OR answer IS NOT NULL)
            GROUP BY cd.code, variant, a ORDER BY cd.code, variant, c DESC, a"""
    )
    if answers["c"].size > MAX_SEMANTIC_ANSWERS:
        raise UsageError(
            f"--semantic would embed {answers['c'].size:,} distinct answers (the limit is "
            f"{MAX_SEMANTIC_ANSWERS:,}); report without it, or on fewer items"
        )
    embedder = Embedder()
    out: dict[str, list[Any]] = {"code": [], "variant": [], "n": [], "top": [], "distinct": [], "entropy": []}
    keys = list(zip(answers["code"].tolist(), answers["variant"].tolist(), strict=True))
    start = 0
    while start < len(keys):
        end = start
        while end < len(keys) and keys[end] == keys[start]:
            end += 1
        counts = answers["c"][start:end].astype(float)
        if counts.sum() >= 2:
            groups = group_by_meaning([str(r) for r in answers["raw"][start:end]], embedder)
            merged = np.bincount(np.array(groups), weights=counts)
            p = merged / merged.sum()
            out["code"].append(int(keys[start][0]))
            out["variant"].append(keys[start][1])
            out["n"].append(float(counts.sum()))
            out["top"].append(float(merged.max()))
            out["distinct"].append(int(merged.size))
            out["entropy"].append(float(-(p * np.log2(p)).sum()))
        start = end
    return {k: np.array(v, dtype=object if k == "variant" else (int if k == "code" else float)) for k, v in out.items()}


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _unit_rows(data: RunData) -> dict[str, np.ndarray]:
    return data.query(
        f"""
        WITH answers AS (
            SELECT item_id, variant, {NORMALIZED_ANSWER} AS a, count(*)::DOUBLE AS c
            FROM records WHERE (output IS NOT NULL OR answer IS NOT NULL) GROUP BY ALL
        ), shares AS (
            SELECT item_id, variant, c, c / sum(c) OVER (PARTITION BY item_id, variant) AS p FROM answers
        )
        SELECT cd.code, s.variant, sum(s.c) AS n, max(s.c) AS top, count(*) AS distinct,
               -{exact_sum("s.p * log2(s.p)")} AS entropy
        FROM shares s JOIN item_codes cd USING (item_id)
        GROUP BY cd.code, s.variant HAVING sum(s.c) >= 2
        ORDER BY cd.code, s.variant
        """
    )


def pass_k_table(data: RunData, ks: list[int] | None = None, confidence: float = 0.95) -> list[PassK]:
    """pass@k and pass^k for k = 1 .. the largest number of samples per unit (at most 10)."""
    rows = data.query(
        f"""
        SELECT cd.code, variant, count(score) AS n, count_if(score >= {float(data.pass_threshold)!r}) AS c
        FROM records JOIN item_codes cd USING (item_id) WHERE score IS NOT NULL GROUP BY ALL ORDER BY ALL
        """
    )
    if rows["n"].size == 0:
        return []
    n, c, codes = rows["n"].astype(float), rows["c"].astype(float), rows["code"]
    top = int(min(n.max(), 10))
    ks = ks or sorted({1, 2, 3, 5, top} & set(range(1, top + 1)))
    pooled, rho = float(c.sum() / n.sum()), beta_binomial_rho(n, c)

    def estimate(estimator: Callable[[np.ndarray, np.ndarray, int], np.ndarray], k: int, what: str) -> Estimate:
        if k == 1:
            return _pass_at_1(n, c, codes, confidence)
        noise = beta_binomial_estimator_variance(n, pooled, rho, k, estimator)
        return _item_mean(estimator(n, c, k), codes, n, confidence, what, noise)

    return [PassK(k, estimate(pass_at_k, k, f"pass@{k}"), estimate(pass_hat_k, k, f"pass^{k}")) for k in ks]
