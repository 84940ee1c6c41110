"""Per-slice estimates: the score of every value of every attribute, declared or derived.

Item-level attributes (declared columns, and those derived from the input text) are slices of
items; sample-level ones (variant, whether the output holds valid JSON, whether it was cut off by
max_tokens) are slices of samples. Either way the interval is clustered on items. Slices are
ranked worst first by the *upper* bound of their interval: a slice is only called bad when even
its optimistic end is low, so a tiny slice with one unlucky item does not top the list.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailgate.analysis._data import OUTPUT_JSON, RunData, exact_sum
from tailgate.analysis._estimate import Estimate
from tailgate.analysis._stats import estimate_from_sums

__all__ = [
    "MAX_VALUES",
    "SAMPLE_FEATURES",
    "SliceEstimate",
    "equal_mask",
    "item_features",
    "slice_estimates",
    "value_masks",
    "worst_slices",
]

MAX_VALUES = 30
SAMPLE_FEATURES = {
    "variant": "variant",
    "auto:output_json": OUTPUT_JSON,
    "auto:truncated": "CASE WHEN finish_reason = 'length' THEN 'true' ELSE 'false' END",
}


@dataclass(frozen=True)
class SliceEstimate:
    """The score on one slice (``feature = value``)."""

    feature: str
    """The attribute (declared, or derived: ``auto:...``, ``variant``)."""
    value: str
    level: str
    """``item`` (an attribute of items) or ``sample`` (of samples: variant, output JSON, truncation)."""
    estimate: Estimate
    """The mean score on the slice, clustered on items."""

    @property
    def label(self) -> str:
        return f"{self.feature}={self.value}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "value": self.value,
            "level": self.level,
            "estimate": self.estimate.as_dict(),
        }


def equal_mask(labels: np.ndarray, value: Any) -> np.ndarray:
    """Where ``labels`` equals ``value`` exactly. ``labels == value`` would turn a string into a
    numpy ``str_``, which drops trailing NULs: ``"bad\\0"`` would then match nothing and its
    slice would vanish from every report, comparison and gate."""
    return np.fromiter((v == value for v in labels.tolist()), dtype=bool, count=labels.size)


def item_features(data: RunData) -> dict[str, np.ndarray]:
    """Item-level attributes as categorical labels: numeric attributes with many values become
    quartile buckets, categorical ones keep their most frequent values (the rest ``other``)."""
    out = {}
    for name, values in data.items.attributes.items():
        out[name] = _categorical(values)
    return out


def _categorical(values: np.ndarray) -> np.ndarray:
    present = np.array([v is not None for v in values])
    # counted in Python: numpy's str dtype would merge "a" and "a\\0"
    counted = Counter(str(v) for v in values[present].tolist())
    if len(counted) <= MAX_VALUES:
        return values
    numbers = _as_numbers(values[present])
    if numbers is not None:
        edges = np.unique(np.quantile(numbers, [0.25, 0.5, 0.75]))
        labels = np.full(values.shape, None, dtype=object)
        buckets = np.searchsorted(edges, numbers, side="right")
        bounds = [-np.inf, *edges.tolist(), np.inf]
        labels[present] = [f"[{_fmt(bounds[b])}, {_fmt(bounds[b + 1])})" for b in buckets]
        return labels
    keep = {v for v, _ in sorted(counted.items(), key=lambda vc: (-vc[1], vc[0]))[: MAX_VALUES - 1]}
    return np.array([v if v is None or str(v) in keep else "other" for v in values.tolist()], dtype=object)


def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    try:
        return np.array([float(v) for v in values], dtype=float)
    except (TypeError, ValueError):
        return None


def _fmt(x: float) -> str:
    return "inf" if np.isinf(x) else f"{x:g}"


def slice_estimates(data: RunData, confidence: float = 0.95) -> list[SliceEstimate]:
    """Estimates for every value of every item-level and sample-level attribute."""
    items = data.items
    out: list[SliceEstimate] = []
    for name, labels in item_features(data).items():
        for value, mask in _masks(labels, _values(labels)):
            est = estimate_from_sums(items.n_scored[mask], items.sum_score[mask], data.binary, confidence)
            out.append(SliceEstimate(name, value, "item", est))
    for name, expr in SAMPLE_FEATURES.items():
        rows = data.query(
            f"SELECT c.code, {expr} AS value, count(score) AS n, coalesce({exact_sum('score')}, 0) AS s "
            "FROM records JOIN item_codes c USING (item_id) WHERE score IS NOT NULL GROUP BY ALL ORDER BY ALL"
        )
        values = rows["value"]
        distinct = list(_values(values))
        if len(distinct) < 2 and name != "variant":
            continue
        for value, mask in _masks(values, distinct):
            est = estimate_from_sums(rows["n"][mask], rows["s"][mask], data.binary, confidence)
            out.append(SliceEstimate(name, str(value), "sample", est))
    return out


def value_masks(labels: np.ndarray) -> Iterator[tuple[Any, np.ndarray]]:
    """``(value, equal_mask(labels, value))`` for each distinct label but None, sorted as text."""
    return _masks(labels, _values(labels))


def _masks(labels: np.ndarray, values: list[Any]) -> Iterator[tuple[Any, np.ndarray]]:
    """``(value, equal_mask(labels, value))`` for each of ``values``, from one pass over
    ``labels`` instead of one per value (29 variants x 349,000 rows were a second of the MMLU-Pro
    report). Python's equality decides, as in :func:`equal_mask`; NaN, equal to nothing, too."""
    rows: dict[Any, list[int]] = {}
    try:
        for i, label in enumerate(labels.tolist()):
            rows.setdefault(label, []).append(i)
    except TypeError:  # an unhashable label: compare one value at a time
        rows = {}
    for value in values:
        if not rows or (isinstance(value, float) and math.isnan(value)):  # a dict finds NaN by identity
            yield value, equal_mask(labels, value)
            continue
        mask = np.zeros(labels.size, dtype=bool)
        mask[rows.get(value, [])] = True
        yield value, mask


def _values(labels: np.ndarray) -> list[Any]:
    return sorted({v for v in labels.tolist() if v is not None}, key=str)


def worst_slices(slices: list[SliceEstimate], k: int = 10) -> list[SliceEstimate]:
    """The ``k`` slices whose interval's upper bound is lowest (ties: lower point estimate)."""
    scored = [s for s in slices if s.estimate.value is not None]

    def key(s: SliceEstimate) -> tuple[float, float]:
        high = s.estimate.high if s.estimate.high is not None else 1.0
        return (high, s.estimate.value or 0.0)

    return sorted(scored, key=key)[:k]
