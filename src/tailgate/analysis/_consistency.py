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
independent; a unit's repeats are not), with a Clopper-Pearson interval on the effective number of items
(see :func:`_item_mean`): it never collapses to a point at 0 or 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailgate.analysis._data import ANSWER_TEXT, NORMALIZED_ANSWER, RunData, exact_sum
from tailgate.analysis._estimate import Estimate, _t_quantile, _z_quantile
from tailgate.analysis._stats import pass_at_k, pass_hat_k

__all__ = ["Consistency", "PassK", "consistency", "pass_k_table"]


@dataclass(frozen=True)
class Consistency:
    """Distribution of per-unit answer consistency over repeats."""

    n_units: int
    n_items: int
    mean: Estimate
    share_below: Estimate
    threshold: float
    mean_distinct: float
    mean_entropy_bits: float
    histogram: list[int]
    """Units per consistency bin: [0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]."""
    least_consistent: list[dict[str, Any]]
    method: str = "answers equal after normalisation (lower case, punctuation collapsed)"

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
            "least_consistent": self.least_consistent,
        }


@dataclass(frozen=True)
class PassK:
    k: int
    pass_at_k: Estimate
    pass_hat_k: Estimate

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "pass_at_k": self.pass_at_k.as_dict(),
            "pass_hat_k": self.pass_hat_k.as_dict(),
        }


def _item_mean(
    values: np.ndarray, codes: np.ndarray, samples: np.ndarray, confidence: float, what: str, k: int = 1
) -> Estimate:
    """Mean over items of per-item means of per-unit ``values`` in [0, 1] (NaN ignored);
    ``samples`` is each unit's number of samples (for the reported n).

    The interval is Clopper-Pearson's on the effective number of items, n_eff = m (1 - m) / SE^2
    with SE the standard error over items (Kish's design effect; Korn & Graubard 1998, with their
    degrees-of-freedom correction (z / t_{n-1})^2), at least the number of items (a value in
    [0, 1] varies at most as a 0/1 one) and at most the samples / ``k`` (the independent
    k-sample draws). A t interval collapses to a point when every item has the same value (all
    pass^10 = 0 near 0, all pass@10 = 1 near 1); this one then gives the rule-of-three bound from
    the items (Wilson undercovers near 0 and 1 at small n: 0.91 at p = 0.99, n = 50).
    """
    ok = ~np.isnan(values)
    if not ok.any():
        return Estimate(None, None, None, 0, 0, f"no unit with enough samples for {what}", None, confidence)
    _uniq, inverse = np.unique(codes[ok], return_inverse=True)
    per_item = np.bincount(inverse, weights=values[ok]) / np.bincount(inverse)
    n = per_item.size
    total = int(samples[ok].sum())
    mean = float(per_item.mean())
    if n < 2:
        return Estimate(mean, None, None, n, total, "one item: no interval", None, confidence)
    se = float(per_item.std(ddof=1) / math.sqrt(n))
    if 0.0 < mean < 1.0 and se > 0:
        n_eff = min(max(mean * (1 - mean) / se**2, float(n)), max(total / k, float(n)))
        n_eff *= (_z_quantile(confidence) / _t_quantile(confidence, n - 1)) ** 2
    else:
        n_eff = float(n)
    low, high = _clopper_pearson(mean * n_eff, n_eff, confidence)
    return Estimate(
        mean,
        low,
        high,
        n,
        total,
        f"mean over items, Clopper-Pearson on n_eff={n_eff:.0f} (Korn-Graubard)",
        se,
        confidence,
    )


def _clopper_pearson(successes: float, n: float, confidence: float) -> tuple[float, float]:
    """Clopper-Pearson interval, for a possibly fractional (effective) number of successes."""
    from scipy import stats

    alpha = 1.0 - confidence
    low = float(stats.beta.ppf(alpha / 2, successes, n - successes + 1)) if successes > 0 else 0.0
    high = float(stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes)) if successes < n else 1.0
    return low, high


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
        empty = Estimate(None, None, None, 0, 0, "no item has two or more answered samples", None, confidence)
        return Consistency(0, 0, empty, empty, threshold, 0.0, 0.0, [0] * 10, [], method)
    frac = rows["top"] / n
    codes = rows["code"]
    mean = _item_mean(frac, codes, n, confidence, "consistency")
    below = _item_mean((frac < threshold).astype(float), codes, n, confidence, "consistency")
    hist = np.histogram(np.minimum(frac, 0.9999), bins=10, range=(0.0, 1.0))[0].astype(int).tolist()
    order = np.lexsort((-rows["distinct"], frac))[:k_worst]
    worst = [
        {
            "item_id": str(data.items.item_id[int(codes[i])]),
            "source_id": _str_or_none(data.items.source_id[int(codes[i])]),
            "variant": str(rows["variant"][i]),
            "consistency": float(frac[i]),
            "distinct_answers": int(rows["distinct"][i]),
            "samples": int(n[i]),
        }
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
    return [
        PassK(
            k,
            _item_mean(pass_at_k(n, c, k), codes, n, confidence, f"pass@{k}", k),
            _item_mean(pass_hat_k(n, c, k), codes, n, confidence, f"pass^{k}", k),
        )
        for k in ks
    ]
