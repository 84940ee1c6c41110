"""A first summary of a run: n, headline score with its interval, errors, per variant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailgate.analysis._estimate import Estimate, mean_estimate
from tailgate.analysis._slices import equal_mask
from tailgate.records import WITHHELD_ERROR_CLASSES

__all__ = ["SUMMARY_COLUMNS", "RunSummary", "summarize_records"]


@dataclass(frozen=True)
class RunSummary:
    """Counts and the headline score of a run's records."""

    n_samples: int
    n_items: int
    n_scored: int
    n_unscored: int
    n_errors: int
    errors_by_class: dict[str, int]
    """Faults by class, without the outputs the endpoint withheld."""
    cached: int
    """Samples replayed from the response cache."""
    score: Estimate
    by_variant: dict[str, Estimate] = field(default_factory=dict)
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None
    tokens_out_mean: float | None = None
    withheld_by_class: dict[str, int] = field(default_factory=dict)
    """Outputs the endpoint withheld: ``content_filter`` and ``refusal`` counts."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_samples": self.n_samples,
            "n_items": self.n_items,
            "n_scored": self.n_scored,
            "n_unscored": self.n_unscored,
            "n_errors": self.n_errors,
            "errors_by_class": self.errors_by_class,
            "cached": self.cached,
            "withheld_by_class": self.withheld_by_class,
            "score": self.score.as_dict(),
            "by_variant": {k: v.as_dict() for k, v in self.by_variant.items()},
            "latency_ms_p50": self.latency_ms_p50,
            "latency_ms_p95": self.latency_ms_p95,
            "tokens_out_mean": self.tokens_out_mean,
        }


SUMMARY_COLUMNS = ("item_id", "variant", "score", "error_class", "latency_ms", "tokens_out", "cached")
"""The record columns a summary reads (``Store.read_columns(run_id, SUMMARY_COLUMNS)``)."""


def summarize_records(table: Any, confidence: float = 0.95) -> RunSummary:
    """Summarise an Arrow table of records (see ``docs/records.md``), or the mapping of
    :data:`SUMMARY_COLUMNS` to lists that ``Store.read_columns`` returns.

    Unscored samples (endpoint faults, scorer errors) are counted, never averaged in as zeros.
    Outputs the endpoint filtered or refused are counted apart from faults (``withheld_by_class``).
    Latency percentiles here are plain sample percentiles of successful calls; ``tailgate report``
    gives them with item-level bootstrap intervals.
    """
    data = table if isinstance(table, Mapping) else table.select(list(SUMMARY_COLUMNS)).to_pydict()
    score = np.array([np.nan if s is None else s for s in data["score"]], dtype=float)
    items = np.array(data["item_id"], dtype=object)
    variants = np.array(data["variant"], dtype=object)
    errors: dict[str, int] = {}
    for err in data["error_class"]:
        if err is not None:
            errors[err] = errors.get(err, 0) + 1
    scored = ~np.isnan(score)
    by_variant = {
        str(v): mean_estimate(
            score[scored & equal_mask(variants, v)], items[scored & equal_mask(variants, v)], confidence
        )
        for v in sorted(set(data["variant"]))
    }
    latency = np.array(
        [x for x, e in zip(data["latency_ms"], data["error_class"], strict=True) if x is not None and e is None],
        dtype=float,
    )
    tokens = np.array([t for t in data["tokens_out"] if t is not None], dtype=float)
    return RunSummary(
        n_samples=len(score),
        n_items=len(set(data["item_id"])),
        n_scored=int(scored.sum()),
        n_unscored=int((~scored).sum()),
        n_errors=sum(n for k, n in errors.items() if k not in WITHHELD_ERROR_CLASSES),
        errors_by_class={k: n for k, n in errors.items() if k not in WITHHELD_ERROR_CLASSES},
        cached=sum(bool(c) for c in data["cached"]),
        score=mean_estimate(score[scored], items[scored], confidence),
        by_variant=by_variant,
        latency_ms_p50=float(np.percentile(latency, 50)) if latency.size else None,
        latency_ms_p95=float(np.percentile(latency, 95)) if latency.size else None,
        tokens_out_mean=float(tokens.mean()) if tokens.size else None,
        withheld_by_class={k: n for k, n in sorted(errors.items()) if k in WITHHELD_ERROR_CLASSES},
    )
