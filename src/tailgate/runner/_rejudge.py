"""Judging a stored run: its outputs scored by judge scorers, with no call to the model under test.

The judged run is a new run (default id ``<run>.judged``) with the source's items, samples and
outputs and the source suite's scorers after the added ones (a judge added first is the headline
score; the suite's own scorers stay on every record, so the judge card can compare the judge with
them). Every output is a cached replay (``cached`` true on its record); only the judges are
called, through the runner's cache and retries. It resumes like any run: giving the same run id
again judges only the samples it lacks, and the judges' replies already made come from the cache.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tailgate.config import LoadedSuite, ScorerConfig, SourceMap
from tailgate.errors import RunNotFound, UsageError
from tailgate.perturb import build_variants
from tailgate.providers import BaseProvider, Request, Response
from tailgate.records import Item, Mode, Prompt
from tailgate.runner._execute import execute
from tailgate.runner._judges import RunJudges
from tailgate.runner._plan import Sample
from tailgate.runner._rescore import _suite
from tailgate.runner._run import RunResult, _finish
from tailgate.scorers import build_scorers
from tailgate.store import Store, utc_now

__all__ = ["judge_stored_run"]


class _NoCalls(BaseProvider):
    """The model under test of a judged run: every output is replayed, so it is never called."""

    def __init__(self, name: str, mode: Mode) -> None:
        self.name = name
        self.mode = mode

    def identity(self) -> dict[str, Any]:
        return {"provider": "replay", "model": self.name}

    def default_mode(self) -> Mode:
        return self.mode

    async def generate(self, request: Request) -> Response:
        raise AssertionError("a judged run calls no model under test")


def _judged_suite(suite: LoadedSuite, judges: list[dict[str, Any]]) -> LoadedSuite:
    added = [ScorerConfig.model_validate(j) for j in judges]
    if not any(build_scorers(_with(suite, [a]))[0].needs_model for a in added):
        raise UsageError("--judge: give at least one judge scorer (judge_reference, judge_rubric, judge_pairwise)")
    return _with(suite, [*added, *suite.config.scorers])


def _with(suite: LoadedSuite, scorers: list[ScorerConfig]) -> LoadedSuite:
    try:
        config = suite.config.model_validate({**suite.config.model_dump(by_alias=True), "scorers": scorers})
    except ValueError as exc:  # two scorers with one label, say
        raise UsageError(f"--judge: {exc}") from None
    return LoadedSuite(config, suite.path, SourceMap("--judge"), "")


def _samples(
    store: Store, run_id: str, suite: LoadedSuite
) -> tuple[list[Sample], dict[str, dict[str, Any]], list[Item]]:
    """The source run's answered samples, with their outputs as cache entries to replay."""
    rows = store.read_items(run_id)
    items = [Item(r["item_id"], r["input"], r["reference"], r["attributes"], r.get("source_id")) for r in rows]
    by_id = {i.item_id: i for i in items}
    changes = {n: p for n, p in build_variants(suite).perturbations.items() if p.impl.changes_reference}
    mode: Mode = "chat"
    samples: list[Sample] = []
    replay: dict[str, dict[str, Any]] = {}
    for rec in store.read_records(run_id).to_pylist():
        if rec["error_class"] is not None or rec["output"] is None:
            continue
        item = by_id[rec["item_id"]]
        if rec["variant"] in changes:
            item = changes[rec["variant"]].apply(item)
        request = Request(Prompt(mode), 0.0, 1.0, 1, None, (), 1.0)  # never sent
        sample = Sample(
            rec["sample_id"],
            item,
            rec["variant"],
            rec["repeat"],
            request,
            rec["prompt"],
            rec["params"],
            rec["cache_key"],
        )
        samples.append(sample)
        replay[sample.cache_key] = {
            "text": rec["output"],
            **{k: rec[k] for k in ("tokens_in", "tokens_out", "finish_reason", "latency_ms")},
        }
    return samples, replay, items


async def judge_stored_run(
    store: Store,
    run_id: str,
    judges: list[dict[str, Any]],
    new_run_id: str | None = None,
    *,
    cache: bool = True,
    concurrency: int = 4,
) -> RunResult:
    """Score the stored outputs of ``run_id`` with the scorer configs ``judges`` (suite entries,
    e.g. ``{"type": "judge_reference", "judge": "local:smollm2-135m"}``) into a new run; see the
    module docstring. Returns the judged run's :class:`RunResult` (``issued`` counts judge calls)."""
    source = store.manifest(run_id)
    suite = _suite(source, run_id)
    if suite is None:
        raise UsageError(f"run {run_id} has no suite (an import): judge it by importing its outputs as a suite")
    judged = _judged_suite(suite, judges)
    scorers = build_scorers(judged)
    samples, replay, items = _samples(store, run_id, suite)
    target = new_run_id or f"{run_id}.judged"
    resumed = store.exists(target)
    if resumed:
        writer = store.open_run(target)
        states = store.sample_status(target)
        todo = [s for s in samples if not states.get(s.sample_id)]
    else:
        if not samples:
            raise RunNotFound(f"run {run_id} has no answered samples to judge")
        config = judged.config.model_dump(mode="json", by_alias=True)
        manifest = source.updated(
            run_id=target,
            status="running",
            suite=dataclasses.replace(source.suite, config=config),
            sessions=(),
            counts=None,
            ended_at=None,
            error=None,
            started_at=utc_now(),
            plan=dataclasses.replace(source.plan, samples=len(samples)),
            extra={**source.extra, "judged_from": run_id},
        )
        writer = store.create_run(target, manifest, items)
        states = {}
        todo = samples

    def write(record: dict[str, Any]) -> None:
        writer.append(record)
        states[record["sample_id"]] = record["error_class"] is None  # (kept for _finish)

    retry = suite.config.run.retry
    session: dict[str, Any] = {"started_at": utc_now(), "argv": ["rescore", run_id, "--judge"], "to_issue": len(todo)}
    with writer:
        writer.update_manifest(status="running", sessions=[*writer.manifest().sessions, session])
        responses = store.cache() if cache else None
        context = RunJudges(store, responses, retry, suite.config.run.timeout_s, concurrency)
        status = "failed"
        try:
            stats = await execute(
                todo,
                _NoCalls(source.model.spec, (source.mode or "chat")),  # type: ignore[arg-type]
                scorers,
                write,
                run_id=target,
                model=source.model.spec,
                mode=source.mode or "chat",
                concurrency=concurrency,
                retry=retry,
                cached=replay,
                judges=context,
            )
            status = "completed"
        finally:
            session["judge_calls"] = {"calls": context.calls, "cached": context.cached, "retries": context.retries}
            await context.aclose()
            if responses is not None:
                responses.close()
        stats.calls = context.calls
        stats.retries = context.retries
        done = _finish(writer, status, session, stats, states)
    warnings = []
    if stats.unscored_reasons:
        top = max(stats.unscored_reasons.items(), key=lambda kv: kv[1])
        warnings.append(f"{sum(stats.unscored_reasons.values())} samples got no headline score (most often: {top[0]})")
    return RunResult(target, status, len(samples), done, context.calls, resumed, stats, warnings)
