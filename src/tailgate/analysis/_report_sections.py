"""The typed sections of a :class:`tailgate.analysis.Report`.

Renderers read these attributes; ``as_dict()`` is the JSON documented in ``docs/report.md``
(key for key, in order: ``tests/test_json_frozen.py`` holds it byte for byte).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tailgate.analysis._estimate import Estimate

__all__ = [
    "DiscoveredSlice",
    "Discovery",
    "LatencyHistogram",
    "Overview",
    "Plots",
    "RunHeader",
    "SectionNotes",
    "Slo",
    "WorstItem",
]


@dataclass(frozen=True)
class RunHeader:
    """Which run this is: from its manifest and its records."""

    run_id: str
    suite: str
    """The suite's name."""
    model: str
    """The model spec (``local:...``, ``openai:...``, ``python:...``, or the imported label)."""
    status: str
    """``completed``, ``running``, ``interrupted`` or ``failed``."""
    planned: int
    """Samples planned."""
    done: int
    """Samples stored."""
    mode: str | None
    """``chat`` or ``completion``, as recorded in the manifest."""
    repeats: int | None
    variants: list[str] | None
    """Variant names, as recorded in the manifest."""
    started_at: str | None
    ended_at: str | None
    latency_notes: list[str]
    """The runner's queueing hints (latency measured under load), one per session that had one."""
    stopped_early: str | None = None
    """Why the run has only some of the suite's items: ``tailgate run --until-decided`` stopped it
    (None for any other run; then not in the JSON)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "suite": self.suite,
            "model": self.model,
            "status": self.status,
            "planned": self.planned,
            "done": self.done,
            "mode": self.mode,
            "repeats": self.repeats,
            "variants": self.variants,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "latency_notes": self.latency_notes,
        } | ({"stopped_early": self.stopped_early} if self.stopped_early else {})


@dataclass(frozen=True)
class Overview:
    """Counts, errors and the headline score."""

    n_items: int
    n_items_scored: int
    """Items with at least one scored sample."""
    n_samples: int
    n_scored: int
    n_unscored: int
    """Samples without a score (faults, scorer errors, withheld outputs): never averaged in as 0."""
    errors_by_class: dict[str, int]
    """Faults by class, without the outputs the endpoint withheld."""
    withheld_by_class: dict[str, int]
    """Outputs the endpoint withheld: ``content_filter`` and ``refusal`` counts."""
    n_cached: int
    """Samples replayed from the response cache."""
    binary_scores: bool
    """Every score is 0 or 1."""
    pass_threshold: float
    """A sample passes when its score is at least this."""
    score: Estimate
    """Mean score over samples, clustered on items."""
    pass_rate: Estimate
    """Share of samples that pass, clustered on items."""
    declared_attributes: list[str]
    """Slice attributes the suite declares."""
    derived_attributes: list[str]
    """Slice attributes derived from the input (``auto:``)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_items": self.n_items,
            "n_items_scored": self.n_items_scored,
            "n_samples": self.n_samples,
            "n_scored": self.n_scored,
            "n_unscored": self.n_unscored,
            "errors_by_class": self.errors_by_class,
            "withheld_by_class": self.withheld_by_class,
            "n_cached": self.n_cached,
            "binary_scores": self.binary_scores,
            "pass_threshold": self.pass_threshold,
            "score": self.score.as_dict(),
            "pass_rate": self.pass_rate.as_dict(),
            "attributes": {"declared": self.declared_attributes, "derived": self.derived_attributes},
        }


@dataclass(frozen=True)
class Slo:
    """Samples within a latency objective."""

    slo_ms: float
    correct_within_slo: Estimate
    """Share of scored samples that pass and are within ``slo_ms``."""
    within_slo: Estimate
    """Share of scored samples within ``slo_ms``, right or wrong."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "slo_ms": self.slo_ms,
            "correct_within_slo": self.correct_within_slo.as_dict(),
            "within_slo": self.within_slo.as_dict(),
        }


@dataclass(frozen=True)
class WorstItem:
    """An item with one of the lowest mean scores, with its worst sample."""

    item_id: str
    source_id: str | None
    """The item's id in its source dataset, when imported with one."""
    mean_score: float
    samples: int
    """Scored samples."""
    passes: int
    input: str
    """The item's input text (at most 500 characters)."""
    reference: str | None
    """The reference answer as display text; None without one."""
    worst_output: str | None
    """The worst sample's raw output (at most 500 characters)."""
    worst_answer: str | None
    """The worst sample's extracted answer (at most 200 characters)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "source_id": self.source_id,
            "mean_score": self.mean_score,
            "samples": self.samples,
            "passes": self.passes,
            "input": self.input,
            "reference": self.reference,
            "worst_output": self.worst_output,
            "worst_answer": self.worst_answer,
        }


@dataclass(frozen=True)
class DiscoveredSlice:
    """A conjunction of attribute values where items fail more (see ``_discovery.py``)."""

    predicates: list[str]
    label: str
    """The predicates joined with ``AND``."""
    size: int
    """Items in the slice."""
    share_of_items: float
    error: Estimate
    """The slice's error rate (mean item error) with its interval (``error_rate``, ``error_low``,
    ``error_high`` and ``interval_method`` in the JSON)."""
    lift: float | None
    """Error rate over the mean error rate; None when nothing fails."""
    share_of_errors: float | None
    """The slice's share of the error sum; None when nothing fails."""
    score: float
    """SliceLine score."""
    p_value: float
    """One-sided exact permutation test against the complement."""
    p_bh: float
    """Benjamini-Hochberg adjusted over the whole family."""
    p_by: float
    """Benjamini-Yekutieli adjusted over the whole family."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "predicates": self.predicates,
            "label": self.label,
            "size": self.size,
            "share_of_items": self.share_of_items,
            "error_rate": self.error.value,
            "error_low": self.error.low,
            "error_high": self.error.high,
            "interval_method": self.error.method,
            "lift": self.lift,
            "share_of_errors": self.share_of_errors,
            "score": self.score,
            "p_value": self.p_value,
            "p_bh": self.p_bh,
            "p_by": self.p_by,
        }


@dataclass(frozen=True)
class Discovery:
    """Failing-slice discovery: the search's settings, its family, the slices it reports."""

    min_support: int
    max_depth: int
    slice_weight: float
    """SliceLine's weight of error against size (its paper calls it alpha; ``alpha`` in the JSON)."""
    fdr: float
    units: int
    """Items with a score (the unit of the tests)."""
    error: str
    """What an item's error is."""
    family: int
    """Slices with enough support, all tested (the multiplicity family)."""
    evaluated: int
    """Candidates the top-k search looked at."""
    slices: list[DiscoveredSlice]
    """Significant at ``fdr`` (BH), best score first."""
    note: str | None = None
    """Why nothing was searched; then the fields below are None."""
    cells: int | None = None
    """Distinct combinations of attribute values."""
    mean_error: float | None = None
    method: str | None = None
    top_by_score: list[DiscoveredSlice] | None = None
    """The best scores, significant or not."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "min_support": self.min_support,
            "max_depth": self.max_depth,
            "alpha": self.slice_weight,
            "fdr": self.fdr,
            "units": self.units,
            "error": self.error,
            "family": self.family,
            "evaluated": self.evaluated,
        }
        if self.note is not None:
            return {**out, "slices": [s.as_dict() for s in self.slices], "note": self.note}
        return {
            **out,
            "cells": self.cells,
            "mean_error": self.mean_error,
            "method": self.method,
            "slices": [s.as_dict() for s in self.slices],
            "top_by_score": [s.as_dict() for s in self.top_by_score or []],
        }


@dataclass(frozen=True)
class LatencyHistogram:
    """Counts of successful calls' latency (ms) between ``edges``."""

    edges: list[float]
    counts: list[int]

    def as_dict(self) -> dict[str, Any]:
        return {"edges": self.edges, "counts": self.counts}


@dataclass(frozen=True)
class Plots:
    """The data behind the HTML report's plots."""

    item_mean_scores: list[float]
    """Sorted per-item mean scores, thinned to at most 400 (an ECDF)."""
    latency_hist: LatencyHistogram | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_mean_scores": self.item_mean_scores,
            "latency_hist": None if self.latency_hist is None else self.latency_hist.as_dict(),
        }


@dataclass(frozen=True)
class SectionNotes:
    """Why a section is empty or missing, so that it is not silently absent."""

    consistency: str | None = None
    robustness: str | None = None

    def items(self) -> list[tuple[str, str]]:
        """(section, why) for each note, in report order."""
        return [(k, v) for k, v in (("consistency", self.consistency), ("robustness", self.robustness)) if v]

    def as_dict(self) -> dict[str, str]:
        return dict(self.items())
