"""``tailgate report``: everything a single benchmark mean hides, for one run.

``build_report`` is a pure function of the stored run (no model, no network): it returns a
:class:`Report` whose ``as_dict()`` is the documented JSON (``docs/report.md``) and which the
terminal and HTML renderers draw.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tailgate.analysis._consistency import Consistency, PassK, consistency, pass_k_table
from tailgate.analysis._data import AUTO, RunData, load_run, references
from tailgate.analysis._derive import TOKEN_EDGES, token_bucket
from tailgate.analysis._discovery import (
    Cells,
    Slice,
    build_cells,
    enumerate_slices,
    significance,
    sliceline_topk,
)
from tailgate.analysis._estimate import Estimate
from tailgate.analysis._judge_card import JudgeCard, judge_cards
from tailgate.analysis._profile import Concentration, FailureProfile, failure_profile
from tailgate.analysis._redteam import RedTeamReport, redteam_report, redteam_samples
from tailgate.analysis._report_sections import (
    DiscoveredSlice,
    Discovery,
    LatencyHistogram,
    Overview,
    Plots,
    RunHeader,
    SectionNotes,
    Slo,
    WorstItem,
)
from tailgate.analysis._robustness import Robustness, robustness
from tailgate.analysis._sequential import stopped_early_note
from tailgate.analysis._slices import SliceEstimate, item_features, slice_estimates, worst_slices
from tailgate.analysis._stats import Percentile, bootstrap_percentiles, estimate_from_sums
from tailgate.records import WITHHELD_ERROR_CLASSES
from tailgate.store import Store

__all__ = ["REPORT_SCHEMA_VERSION", "Report", "ReportOptions", "build_report", "report_options"]

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ReportOptions:
    """What ``tailgate report`` computes; every field is recorded in the report."""

    confidence: float = 0.95
    percentiles: tuple[float, ...] = (5, 10, 25, 50, 75, 90, 95, 99)
    latency_percentiles: tuple[float, ...] = (50, 90, 95, 99)
    slo_ms: float | None = None
    pass_threshold: float | None = None
    consistency_threshold: float = 0.8
    min_support: int | None = None
    max_depth: int = 3
    top_slices: int = 10
    worst_items: int = 10
    slice_weight: float = 0.99
    """SliceLine's weight of a slice's error against its size (its paper's alpha; ``alpha`` in
    the JSON). ``alpha`` means a test's level everywhere else."""
    fdr: float = 0.05
    bootstrap: int = 1000
    seed: int = 0
    semantic: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "confidence": self.confidence,
            "percentiles": list(self.percentiles),
            "latency_percentiles": list(self.latency_percentiles),
            "slo_ms": self.slo_ms,
            "pass_threshold": self.pass_threshold,
            "consistency_threshold": self.consistency_threshold,
            "min_support": self.min_support,
            "max_depth": self.max_depth,
            "top_slices": self.top_slices,
            "worst_items": self.worst_items,
            "alpha": self.slice_weight,
            "fdr": self.fdr,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "semantic": self.semantic,
        }


@dataclass(frozen=True)
class Report:
    """The report of one run (see ``docs/report.md`` for the JSON form)."""

    run: RunHeader
    options: ReportOptions
    """What was computed, as asked."""
    overview: Overview
    score_percentiles: list[Percentile]
    """Empty for 0/1 scores."""
    latency_percentiles: list[Percentile]
    """Of successful calls, in ms."""
    slo: Slo | None
    """None without ``slo_ms``."""
    worst_items: list[WorstItem]
    slices: list[SliceEstimate]
    """Every value of every attribute."""
    worst_slices: list[SliceEstimate]
    """Ranked by the upper end of their interval."""
    discovery: Discovery
    consistency: Consistency
    pass_k: list[PassK]
    profile: FailureProfile
    plots: Plots
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step of :func:`build_report` (not in the JSON)."""
    robustness: Robustness | None = None
    """Across variants (templates, formats, perturbations); None with one variant."""
    notes: SectionNotes = field(default_factory=SectionNotes)
    """Why a section is empty or missing (``consistency``, ``robustness``)."""
    judges: list[JudgeCard] = field(default_factory=list)
    """The report card of each judge scorer that scored the run (docs/judges.md); empty without."""
    redteam: RedTeamReport | None = None
    """A ``tailgate redteam`` run's statistics (docs/redteam.md); None for other runs (and then
    not in the JSON)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "run": self.run.as_dict(),
            "options": self.options.as_dict(),
            "overview": self.overview.as_dict(),
            "percentiles": {
                "score": [p.as_dict() for p in self.score_percentiles],
                "latency_ms": [p.as_dict() for p in self.latency_percentiles],
            },
            "slo": None if self.slo is None else self.slo.as_dict(),
            "worst_items": [w.as_dict() for w in self.worst_items],
            "slices": [s.as_dict() for s in self.slices],
            "worst_slices": [s.as_dict() for s in self.worst_slices],
            "discovery": self.discovery.as_dict(),
            "consistency": self.consistency.as_dict(),
            "pass_k": [p.as_dict() for p in self.pass_k],
            "profile": self.profile.as_dict(),
            "robustness": None if self.robustness is None else self.robustness.as_dict(),
            "notes": self.notes.as_dict(),
            "judges": [j.as_dict() for j in self.judges],
            "plots": self.plots.as_dict(),
        } | ({} if self.redteam is None else {"redteam": self.redteam.as_dict()})


def build_report(store: Store, run_id: str, options: ReportOptions | None = None) -> Report:
    """Compute the report of a stored run."""
    options = options or _suite_options(store, run_id)
    clock = _Clock()
    data = load_run(store, run_id, options.pass_threshold)
    try:
        clock.lap("load")
        overview = _overview(data, options)
        clock.lap("overview")
        score_pct, latency_pct, latency_sample = _percentiles(data, options)
        clock.lap("percentiles")
        slo = _slo(data, options)
        slices = slice_estimates(data, options.confidence)
        clock.lap("slices")
        discovery = _discovery(data, options)
        clock.lap("discovery")
        cons = consistency(data, options.consistency_threshold, options.confidence, semantic=options.semantic)
        passk = pass_k_table(data, confidence=options.confidence)
        clock.lap("consistency")
        profile = failure_profile(
            data.items,
            data.pass_threshold,
            options.confidence,
            options.bootstrap,
            options.seed,
            temperature=data.manifest.temperature,
        )
        profile = _with_concentration(profile, discovery)
        clock.lap("profile")
        robust = robustness(data, options.confidence, options.seed, semantic=options.semantic)
        clock.lap("robustness")
        notes = _section_notes(data, cons, robust)
        worst = _worst_items(data, options.worst_items)
        plots = _plot_data(data, latency_sample)
        clock.lap("items and plots")
        judges = _judges(data, options.confidence)
        clock.lap("judges")
        samples = redteam_samples(data)
        redteam = None if samples is None else redteam_report(data, samples, confidence=options.confidence)
    finally:
        data.close()
    return Report(
        run=_run_info(store, run_id, data),
        options=options,
        overview=overview,
        score_percentiles=score_pct,
        latency_percentiles=latency_pct,
        slo=slo,
        worst_items=worst,
        slices=slices,
        worst_slices=worst_slices(slices, options.top_slices),
        discovery=discovery,
        consistency=cons,
        pass_k=passk,
        profile=profile,
        plots=plots,
        timings=clock.laps,
        robustness=robust,
        notes=notes,
        judges=judges,
        redteam=redteam,
    )


def _judges(data: RunData, confidence: float) -> list[JudgeCard]:
    """The judge cards, from the records whose scores carry a judge's details (none: no cost beyond
    one filtered scan)."""
    cols = data.query("SELECT item_id, output, scores FROM records WHERE scores LIKE '%\"details\"%'")
    if not len(cols["item_id"]):
        return []
    return judge_cards(list(cols["item_id"]), list(cols["output"]), list(cols["scores"]), confidence)


def _section_notes(data: RunData, cons: Consistency, robust: Robustness | None) -> SectionNotes:
    """Why the consistency or robustness section is empty, so that it is not silently missing."""
    if cons.n_units and robust is not None:
        return SectionNotes()
    row = data.query(
        "SELECT count(output) AS outputs, count(answer) AS answers, count(DISTINCT variant) AS variants FROM records"
    )
    no_text = int(row["outputs"][0]) == 0 and int(row["answers"][0]) == 0
    imported = " (imported without --output or --answer)" if data.manifest.is_import else ""
    notes: dict[str, str] = {}
    if not cons.n_units:
        notes["consistency"] = (
            f"not computed: the run has no outputs or answers{imported}, and consistency compares the answers of "
            "an item's repeated samples"
            if no_text
            else "not computed: one sample per item and variant; consistency needs two or more (repeats)"
        )
    if robust is None and int(row["variants"][0]) >= 2:  # (one variant: nothing to compare, no note)
        if no_text:
            notes["robustness"] = (
                f"not computed: the run has no outputs or answers{imported}, and robustness compares the answers "
                "of an item's variants"
            )
        else:
            notes["robustness"] = "not computed: fewer than two items have an answer on every variant"
    return SectionNotes(**notes)


class _Clock:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.start, 4)
        self.start = now


def report_options(store: Store, run_id: str, **overrides: Any) -> ReportOptions:
    """The options for a run: defaults, then the suite's ``report`` section, then ``overrides``
    (those that are not None)."""
    import dataclasses

    given: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items() if v is not None}
    return dataclasses.replace(_suite_options(store, run_id), **given)


def _suite_options(store: Store, run_id: str) -> ReportOptions:
    """Defaults, overridden by the suite's ``report`` section when the run has one."""
    section = store.manifest(run_id).report_section
    known = {k: v for k, v in section.items() if k in ReportOptions.__dataclass_fields__ and v is not None}
    for key in ("percentiles", "latency_percentiles"):
        if key in known:
            known[key] = tuple(known[key])
    return ReportOptions(**known)


def _run_info(store: Store, run_id: str, data: RunData) -> RunHeader:
    m = data.manifest
    info = store.run_info(run_id, m)
    return RunHeader(
        run_id=run_id,
        suite=m.suite.name,
        model=m.model.spec,
        status=info.status,
        planned=info.planned,
        done=info.done,
        mode=m.mode,
        repeats=m.repeats,
        variants=None if m.variants is None else list(m.variants),
        started_at=m.started_at,
        ended_at=m.ended_at,
        # the runner's queueing hint of any session (latency measured under load): see runner/_queueing.py
        latency_notes=list(m.latency_notes),
        stopped_early=stopped_early_note(m),
    )


def _overview(data: RunData, options: ReportOptions) -> Overview:
    items = data.items
    errors = data.query(
        "SELECT error_class, count(*) AS n FROM records WHERE error_class IS NOT NULL GROUP BY 1 ORDER BY 1"
    )
    by_class = {str(k): int(v) for k, v in zip(errors["error_class"], errors["n"], strict=True)}
    cached = data.query("SELECT count(*) AS n FROM records WHERE cached")
    score = estimate_from_sums(items.n_scored, items.sum_score, data.binary, options.confidence)
    pass_rate = estimate_from_sums(items.n_scored, items.n_pass.astype(float), True, options.confidence)
    return Overview(
        n_items=items.size,
        n_items_scored=int((items.n_scored > 0).sum()),
        n_samples=int(items.n_samples.sum()),
        n_scored=int(items.n_scored.sum()),
        n_unscored=int(items.n_samples.sum() - items.n_scored.sum()),
        errors_by_class={k: v for k, v in by_class.items() if k not in WITHHELD_ERROR_CLASSES},
        withheld_by_class={k: v for k, v in by_class.items() if k in WITHHELD_ERROR_CLASSES},
        n_cached=int(cached["n"][0]),
        binary_scores=data.binary,
        pass_threshold=data.pass_threshold,
        score=score,
        pass_rate=pass_rate,
        declared_attributes=data.declared,
        derived_attributes=data.derived,
    )


def _percentiles(data: RunData, options: ReportOptions) -> tuple[list[Percentile], list[Percentile], np.ndarray]:
    lat = data.query(
        "SELECT c.code, latency_ms FROM records JOIN item_codes c USING (item_id) "
        "WHERE error_class IS NULL AND latency_ms IS NOT NULL ORDER BY c.code, latency_ms"
    )
    latency = bootstrap_percentiles(
        lat["latency_ms"],
        lat["code"],
        options.latency_percentiles,
        replicates=options.bootstrap,
        seed=options.seed,
        confidence=options.confidence,
    )
    score: list[Percentile] = []
    if not data.binary:
        sc = data.query(
            "SELECT c.code, score FROM records JOIN item_codes c USING (item_id) WHERE score IS NOT NULL "
            "ORDER BY c.code, score"
        )
        score = bootstrap_percentiles(
            sc["score"],
            sc["code"],
            options.percentiles,
            replicates=options.bootstrap,
            seed=options.seed,
            confidence=options.confidence,
        )
    values = lat["latency_ms"]
    sample = (
        values if values.size <= 20000 else np.random.default_rng(options.seed).choice(values, 20000, replace=False)
    )
    return score, latency, np.sort(sample)


def _slo(data: RunData, options: ReportOptions) -> Slo | None:
    if options.slo_ms is None:
        return None
    rows = data.query(
        f"""SELECT c.code, count(*) AS n,
                   count_if(score >= {float(data.pass_threshold)!r} AND latency_ms <= {float(options.slo_ms)!r}) AS ok,
                   count_if(latency_ms <= {float(options.slo_ms)!r}) AS fast
            FROM records JOIN item_codes c USING (item_id) WHERE score IS NOT NULL GROUP BY 1 ORDER BY 1"""
    )
    return Slo(
        slo_ms=options.slo_ms,
        correct_within_slo=estimate_from_sums(rows["n"], rows["ok"].astype(float), True, options.confidence),
        within_slo=estimate_from_sums(rows["n"], rows["fast"].astype(float), True, options.confidence),
    )


def _errors(data: RunData) -> np.ndarray:
    items = data.items
    scored = items.n_scored > 0
    if data.binary or _in_unit_interval(data):
        return np.asarray(1.0 - items.sum_score[scored] / items.n_scored[scored], dtype=float)
    return np.asarray(1.0 - items.n_pass[scored] / items.n_scored[scored], dtype=float)


def _in_unit_interval(data: RunData) -> bool:
    row = data.query(
        "SELECT coalesce(min(score) >= 0 AND max(score) <= 1, false) AS unit FROM records WHERE score IS NOT NULL"
    )
    return bool(row["unit"][0])


def _discovery(data: RunData, options: ReportOptions) -> Discovery:
    scored = data.items.n_scored > 0
    units = int(scored.sum())
    min_support = options.min_support or max(10, math.ceil(0.01 * units))
    features = {name: labels[scored] for name, labels in item_features(data).items()}
    ordinal = {f"{AUTO}input_tokens": _token_order()}
    errors = _errors(data)
    error = (
        "1 - mean score per item"
        if data.binary or _in_unit_interval(data)
        else f"share of an item's samples below {data.pass_threshold}"
    )
    if units < 2 * min_support or not features or errors.sum() == 0:
        return Discovery(
            min_support, options.max_depth, options.slice_weight, options.fdr, units, error, 0, 0, [],
            note="too few items or no failures",
        )  # fmt: skip
    cells = build_cells(features, errors, ordinal)
    family = enumerate_slices(cells, options.max_depth, min_support, options.slice_weight)
    significance(cells, family)
    top, evaluated = sliceline_topk(
        cells, max(options.top_slices * 3, 30), options.max_depth, min_support, options.slice_weight
    )
    by_key = {s.predicates: s for s in family}
    mean_err = cells.total_err / cells.n_units
    significant = [by_key[s.predicates] for s in top if by_key[s.predicates].p_bh <= options.fdr]
    chosen = _distinct_sets(cells, significant)[: options.top_slices]
    method = (
        "SliceLine score (alpha {:g}); exact top-k search with support and score-bound pruning; "
        "one-sided {} vs the complement; Benjamini-Hochberg over all {} slices with support >= {}".format(
            options.slice_weight,
            "Fisher exact test" if cells.binary else "exact permutation test of the item error sum",
            len(family),
            min_support,
        )
    )
    return Discovery(
        min_support,
        options.max_depth,
        options.slice_weight,
        options.fdr,
        units,
        error,
        len(family),
        evaluated,
        cells=int(cells.count.size),
        mean_error=mean_err,
        method=method,
        slices=[_discovered(cells, s, mean_err, options.confidence) for s in chosen],
        top_by_score=[
            _discovered(cells, s, mean_err, options.confidence)
            for s in _distinct_sets(cells, [by_key[s.predicates] for s in top])[: options.top_slices]
        ],
    )


def _distinct_sets(cells: Cells, slices: list[Slice]) -> list[Slice]:
    """Drop a slice whose items are exactly those of one listed before it (``lang=de`` and the
    derived ``auto:lang=de`` on a suite whose German items are labelled)."""
    seen: set[bytes] = set()
    out = []
    for s in slices:
        key = np.packbits(cells.member[:, list(s.predicates)].all(axis=1)).tobytes()
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _discovered(cells: Cells, s: Slice, mean_err: float, confidence: float) -> DiscoveredSlice:
    rate = s.err_sum / s.size
    if cells.binary:
        error = Estimate.wilson(s.err_sum, s.size, method="Wilson", confidence=confidence)
    else:
        var = max((s.err_sq - s.err_sum * s.err_sum / s.size) / max(s.size - 1, 1), 0.0)
        error = Estimate.t_interval(
            rate,
            math.sqrt(var / s.size),
            max(s.size - 1, 1),
            n_items=s.size,
            n_samples=s.size,
            method=f"t({s.size - 1}) over items",
            confidence=confidence,
            clip=(0.0, 1.0),
        )
    return DiscoveredSlice(
        predicates=[str(cells.predicates[p]) for p in s.predicates],
        label=" AND ".join(str(cells.predicates[p]) for p in s.predicates),
        size=s.size,
        share_of_items=s.size / cells.n_units,
        error=error,
        lift=rate / mean_err if mean_err else None,
        share_of_errors=s.err_sum / cells.total_err if cells.total_err else None,
        score=s.score,
        p_value=s.p_value,
        p_bh=s.p_bh,
        p_by=s.p_by,
    )


def _token_order() -> list[str]:
    labels = [token_bucket(0.0)]
    labels += [token_bucket(float(edge)) for edge in TOKEN_EDGES]
    return [label for label in labels if label is not None]


def _with_concentration(profile: FailureProfile, discovery: Discovery) -> FailureProfile:
    """The profile with the worst discovered slice's share of items and of errors."""
    if not discovery.slices:
        return profile
    top = discovery.slices[0]
    return replace(
        profile,
        concentration=Concentration(top.label, top.share_of_items, top.share_of_errors),
    )


def _worst_items(data: RunData, k: int) -> list[WorstItem]:
    items = data.items
    means = items.mean_score()
    order = [int(i) for i in np.lexsort((-items.n_scored, means)) if not np.isnan(means[i])][:k]
    if not order:
        return []
    ids = [str(items.item_id[i]) for i in order]
    rows = data.query(
        # the worst sample; among equally bad ones the first by sample id (arg_min would pick any)
        f"""SELECT item_id, first(output ORDER BY coalesce(score, 2), sample_id) AS output,
                   first(answer ORDER BY coalesce(score, 2), sample_id) AS answer
            FROM records WHERE item_id IN ({", ".join("?" for _ in ids)}) GROUP BY item_id ORDER BY item_id""",
        ids,
    )
    outputs = dict(
        zip(
            rows["item_id"].tolist(),
            zip(rows["output"].tolist(), rows["answer"].tolist(), strict=True),
            strict=True,
        )
    )
    refs = references(data, ids)
    out = []
    for i, item_id in zip(order, ids, strict=True):
        output, answer = outputs.get(item_id, (None, None))
        out.append(
            WorstItem(
                item_id=item_id,
                source_id=None if items.source_id[i] is None else str(items.source_id[i]),
                mean_score=float(means[i]),
                samples=int(items.n_scored[i]),
                passes=int(items.n_pass[i]),
                input=items.text[i][:500],
                reference=refs.get(item_id),
                worst_output=None if output is None else str(output)[:500],
                worst_answer=None if answer is None else str(answer)[:200],
            )
        )
    return out


def _plot_data(data: RunData, latency_sample: np.ndarray) -> Plots:
    means = data.items.mean_score()
    means = np.sort(means[~np.isnan(means)])
    hist_edges = None
    hist_counts = None
    if latency_sample.size:
        lo, hi = float(latency_sample[0]), float(latency_sample[-1])
        hist_edges = np.geomspace(lo, hi, 41) if hi > lo > 0 else np.linspace(lo, hi if hi > lo else lo + 1, 41)
        hist_counts = np.histogram(latency_sample, bins=hist_edges)[0]
    return Plots(
        item_mean_scores=_thin(means, 400),
        latency_hist=None
        if hist_counts is None or hist_edges is None
        else LatencyHistogram(hist_edges.tolist(), hist_counts.tolist()),
    )


def _thin(sorted_values: np.ndarray, points: int) -> list[float]:
    """At most ``points`` evenly spaced order statistics (enough to draw an ECDF)."""
    if sorted_values.size <= points:
        return [float(v) for v in sorted_values]
    idx = np.linspace(0, sorted_values.size - 1, points).round().astype(int)
    return [float(v) for v in sorted_values[idx]]
