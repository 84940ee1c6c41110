"""``tailgate run``: plan a suite on a model, execute what is missing, store every sample.

Example:
    >>> from tailgate.runner import RunOptions, run_sync
    >>> result = run_sync(RunOptions(suite="basic", model="local:smollm2-135m", limit=5))
    >>> result.status
    'completed'
"""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from tailgate.config import LoadedSuite, RetryConfig, load_suite
from tailgate.dataset import Dataset, load_dataset
from tailgate.errors import Interrupted, RunFailed, RunMismatch, TailgateError
from tailgate.providers import Provider, ProviderOptions, create_provider, redact
from tailgate.records import Counts, Manifest, Mode
from tailgate.runner._execute import NOT_APPLICABLE, ExecutionStats, ProgressSink, execute
from tailgate.runner._judges import RunJudges
from tailgate.runner._manifest import build_manifest, fingerprint, mismatches
from tailgate.runner._paraphrases import prepare_paraphrases
from tailgate.runner._plan import Plan, Sample, build_plan, variants_of
from tailgate.runner._queueing import queueing_hint
from tailgate.runner._schedule import Look, Schedule, merge_stats
from tailgate.runner._served import ServedTracker, verify_hits
from tailgate.scorers import BaseJudge, BoundScorer, build_scorers
from tailgate.store import RunWriter, Store, utc_now

__all__ = ["RunOptions", "RunResult", "run", "run_sync"]

T = TypeVar("T")


@dataclass(frozen=True)
class RunOptions:
    """Everything ``tailgate run`` accepts; ``None`` means "the suite's value"."""

    suite: str
    model: str
    repeats: int | None = None
    limit: int | None = None
    variants: list[str] | None = None
    run_id: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    mode: str | None = None
    concurrency: int | None = None
    rps: float | None = None
    timeout_s: float | None = None
    max_attempts: int | None = None
    context_length: int | None = None
    cache: bool = True
    refresh: bool = False
    """Call again and overwrite the cache instead of replaying it."""
    retry_errors: bool = False
    store: str | None = None
    argv: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    """The outcome of one ``run`` call (one session of a run)."""

    run_id: str
    status: str
    planned: int
    done: int
    issued: int
    resumed: bool
    stats: ExecutionStats
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        """The JSON of ``tailgate run --json`` (docs/cli.md)."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "planned": self.planned,
            "done": self.done,
            "issued": self.issued,
            "resumed": self.resumed,
            "retries": self.stats.retries,
            "errors": self.stats.errors_by_class,
            "cached": self.stats.cached,
        }


def run_sync(options: RunOptions, progress: ProgressSink | None = None, schedule: Schedule | None = None) -> RunResult:
    """Run on a fresh event loop (uvloop when installed); SIGTERM stops like Ctrl-C."""
    return _run_loop(run(options, progress, schedule))


def _run_loop(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        loop = runner.get_loop()
        task: asyncio.Task[T] | None = None

        async def main() -> T:
            nonlocal task
            task = asyncio.current_task()
            loop.add_signal_handler(signal.SIGTERM, _cancel, task)
            return await coro

        try:
            return runner.run(main())
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None


def _cancel(task: asyncio.Task[Any] | None) -> None:
    if task is not None:
        task.cancel()


@dataclass
class _Setup:
    """Everything resolved before the first call: suite, items, scorers, provider, plan."""

    options: RunOptions
    suite: LoadedSuite
    dataset: Dataset
    scorers: list[BoundScorer]
    provider: Provider
    plan: Plan
    store: Store
    concurrency: int
    timeout_s: float
    retry: RetryConfig
    rps: float | None
    fingerprint: dict[str, Any]
    schedule: Schedule | None = None


async def run(options: RunOptions, progress: ProgressSink | None = None, schedule: Schedule | None = None) -> RunResult:
    """Plan and execute a run (or resume one); see :class:`RunOptions`. With a ``schedule``, only
    its items run, in its order and batches, until its look stops the run (:mod:`._schedule`).

    Long: the steps of a run in the order they happen (resolve, lock, plan, cache, execute,
    record), each a few lines, read top to bottom as the documentation of what a run does."""
    suite = load_suite(options.suite)
    cfg = suite.config
    dataset = load_dataset(suite, options.limit)
    scorers = build_scorers(suite)
    concurrency = options.concurrency or cfg.run.concurrency
    timeout_s = options.timeout_s or cfg.run.timeout_s
    retry = cfg.run.retry
    if options.max_attempts is not None:
        retry = retry.model_copy(update={"max_attempts": options.max_attempts})
    requested_mode = options.mode or cfg.model.mode
    provider = create_provider(
        options.model,
        ProviderOptions(
            base_url=options.base_url or cfg.model.base_url,
            api_key_env=options.api_key_env or cfg.model.api_key_env,
            mode=requested_mode,
            context_length=options.context_length or cfg.model.context_length,
            concurrency=concurrency,
            timeout_s=timeout_s,
        ),
    )
    try:
        mode: Mode = provider.default_mode() if requested_mode == "auto" else requested_mode  # type: ignore[assignment]
        identity = provider.identity()
        repeats = options.repeats or cfg.repeats
        built = variants_of(suite, options.variants)
        if any(b.impl.needs_model for b in built.perturbations.values()):
            store = Store(options.store)
            cache = store.cache(refresh=options.refresh) if options.cache else None
            try:
                made = await prepare_paraphrases(built, dataset, cache, retry, timeout_s)
            finally:
                if cache is not None:
                    cache.close()
            for name, info in made.items():
                dataset.warnings.append(
                    f"variant {name}: {info['accepted']}/{info['asked']} paraphrases by {info['model']} kept"
                    + (f" (rejected: {info['rejected']})" if info["rejected"] else "")
                    + (f"; {info['from_cache']} from cache" if info["from_cache"] else "")
                )
        plan = build_plan(
            suite,
            dataset,
            mode=mode,
            repeats=repeats,
            identity=identity,
            timeout_s=timeout_s,
            only_variants=options.variants,
            built=built,
        )
        if schedule is not None:
            schedule.check_plan(plan)
        setup = _Setup(
            options,
            suite,
            dataset,
            scorers,
            provider,
            plan,
            Store(options.store),
            concurrency,
            timeout_s,
            retry,
            options.rps or cfg.run.rps,
            fingerprint(suite, dataset, identity, mode, repeats, [v.name for v in plan.variants]),
            schedule,
        )
        started = utc_now()
        writer, run_id, todo, resumed, states = _open(setup, started)
        with writer:
            return await _session(setup, writer, run_id, todo, resumed, started, progress, states)
    finally:
        await provider.aclose()


def _open(setup: _Setup, started: str) -> tuple[RunWriter, str, list[Sample], bool, dict[str, bool]]:
    """Create the run, or take the lock of the existing one and find its missing samples; also
    returns the run's sample states (:meth:`Store.sample_status`: none for a new run), which the
    session keeps current as it writes so that closing it need not read the journals again."""
    options, store, plan = setup.options, setup.store, setup.plan
    if options.run_id is not None and store.exists(options.run_id):
        run_id = options.run_id
        writer = store.open_run(run_id)
        try:
            differ = mismatches(writer.manifest().fingerprint, setup.fingerprint)
            if differ:
                raise RunMismatch(
                    f"run '{run_id}' was made with a different {', '.join(differ)}; resume it "
                    "with the same suite, model, mode and --repeats/--limit, or start a new run"
                )
            if setup.schedule is not None:
                setup.schedule.check_resume(run_id, writer.manifest().until_decided)
            states = store.sample_status(run_id)
        except BaseException:
            writer.close()
            raise
        todo = [
            s for s in plan.samples if s.sample_id not in states or (options.retry_errors and not states[s.sample_id])
        ]
        return writer, run_id, todo, True, states
    run_id = options.run_id or _new_run_id(setup.suite.config.name, options.model)
    manifest = build_manifest(
        run_id=run_id,
        suite=setup.suite,
        dataset=setup.dataset,
        limit=options.limit,
        model_spec=options.model,
        provider_description=setup.provider.describe(),
        mode=plan.mode,
        repeats=plan.repeats,
        variants=[v.name for v in plan.variants],
        variant_descriptions={v.name: v.description for v in plan.variants if v.description},
        scorers=[s.spec() for s in setup.scorers],
        execution={
            "concurrency": setup.concurrency,
            "rps": setup.rps,
            "timeout_s": setup.timeout_s,
            "retry": setup.retry.model_dump(),
            "cache": options.cache,
            "refresh": options.refresh,
        },
        planned=plan.size,
        fingerprint_=setup.fingerprint,
        argv=options.argv,
        started_at=started,
    )
    if setup.schedule is not None:
        manifest = manifest.updated(until_decided=setup.schedule.record())
    return store.create_run(run_id, manifest, setup.dataset.items), run_id, plan.samples, False, {}


async def _session(
    setup: _Setup,
    writer: RunWriter,
    run_id: str,
    todo: list[Sample],
    resumed: bool,
    started: str,
    progress: ProgressSink | None,
    states: dict[str, bool],
) -> RunResult:
    """Execute ``todo`` into the run, then compact and record the session in the manifest.

    Long: the writer, the progress sink and the signal handlers must be opened and closed in
    this order around one ``execute`` for a kill at any moment to lose no finished sample."""
    options, plan, schedule = setup.options, setup.plan, setup.schedule
    if schedule is not None:
        ordered = set(schedule.order)
        todo = [s for s in todo if s.item.item_id in ordered]
    session: dict[str, Any] = {
        "started_at": started,
        "argv": [redact(a) for a in options.argv],
        "to_issue": len(todo),
    }
    manifest = writer.manifest()
    writer.update_manifest(status="running", sessions=[*manifest.sessions, session])
    cache = setup.store.cache(refresh=options.refresh) if options.cache else None
    cached = cache.get_many(s.cache_key for s in todo) if cache is not None else {}
    # what served each answer is kept for the cache only (without one it would pile up unread)
    tracker = ServedTracker(setup.provider, {id(s.request): s.sample_id for s in todo}) if cache is not None else None

    def write(record: dict[str, Any]) -> None:
        writer.append(record)
        states[record["sample_id"]] = record["error_class"] is None  # (last record wins, as on disk)
        if cache is not None and tracker is not None and record["error_class"] is None and not record["cached"]:
            cache.put(
                record["cache_key"],
                {k: record[k] for k in _CACHED_FIELDS}
                | {"text": record["output"], "served": tracker.pop(record["sample_id"])},
                model=record["model"],
            )

    total = plan.size if schedule is None else schedule.samples_of(plan, len(schedule.order))
    if progress is not None:
        progress.start(total, total - len(todo))
    status = "failed"
    stats = ExecutionStats()
    judges = (
        RunJudges(setup.store, cache, setup.retry, setup.timeout_s, min(setup.concurrency, 8))
        if any(s.needs_model for s in setup.scorers)
        else None
    )
    try:
        if judges is not None:
            judges.prepare(sorted({s.impl.params.judge for s in setup.scorers if isinstance(s.impl, BaseJudge)}))
        if cached:  # a remote model may have changed behind its name: check before replaying
            probe = next(s for s in todo if s.cache_key in cached).request
            if setup.provider.verify_served:
                session["cache_check_calls"] = 1  # not a sample: its answer is not recorded
            cached, stale = await verify_hits(setup.provider, cached, probe)
            if stale:
                setup.dataset.warnings.append(stale)
                session["cache_not_replayed"] = stale

        async def issue(samples: list[Sample]) -> ExecutionStats:
            return await execute(
                samples,
                tracker or setup.provider,
                setup.scorers,
                write,
                run_id=run_id,
                model=options.model,
                mode=plan.mode,
                concurrency=setup.concurrency,
                retry=setup.retry,
                rps=setup.rps,
                progress=progress,
                cached=cached,
                withheld=setup.suite.config.run.filtered,
                judges=judges,
            )

        if schedule is None:
            stats = await issue(todo)
            status = "completed"
        else:
            stats, stopped = await _scheduled(schedule, plan, writer, run_id, todo, issue)
            status = "stopped_early" if stopped else "completed"
    except asyncio.CancelledError:
        status = "interrupted"
        setup.provider.cancel()
        raise Interrupted(
            f"interrupted; completed samples are stored. Resume with the same command and --run-id {run_id}"
        ) from None
    except TailgateError as exc:
        writer.update_manifest(error=str(exc))
        raise
    finally:
        if progress is not None:
            progress.finish()
        if judges is not None:
            session["judge_calls"] = {"calls": judges.calls, "cached": judges.cached, "retries": judges.retries}
            await judges.aclose()
        if cache is not None:
            cache.close()
        hint = queueing_hint(stats)
        if hint is not None:
            session["latency_note"] = hint
        done = _finish(writer, status, session, stats, states)
    warnings = [*setup.dataset.warnings, *([hint] if hint else [])]
    problem = _measured_nothing(writer.manifest(), stats)
    if problem is not None:
        writer.update_manifest(status="failed", error=problem)
        raise RunFailed(f"run {run_id}: {problem}", run_id)
    warnings += _partial_failures(writer.manifest(), stats)
    return RunResult(run_id, status, plan.size, done, stats.calls, resumed, stats, warnings)


def _measured_nothing(manifest: Manifest, stats: ExecutionStats) -> str | None:
    """Why a completed run measured nothing, or None. Over the whole run (every session)."""
    counts = manifest.counts or Counts()
    done, errors = counts.done, counts.errors
    if done and errors == done:
        classes = ", ".join(f"{k} x{v}" for k, v in sorted(stats.errors_by_class.items(), key=lambda kv: -kv[1]))
        return (
            f"every one of the {done} samples failed after its retries ({classes or 'see tailgate show'}); "
            f"last error: {stats.last_error}. Nothing was measured"
        )
    sessions = manifest.sessions
    if not done or any("scored" not in s for s in sessions):
        return None  # sessions written before scored counts were kept: cannot tell
    failed_scores = {r: n for r, n in stats.unscored_reasons.items() if r != NOT_APPLICABLE}
    if sum(int(s["scored"]) for s in sessions) == 0 and failed_scores:
        reasons = sorted(failed_scores.items(), key=lambda kv: -kv[1])
        why = "; ".join(f"{r} (x{n})" for r, n in reasons[:3]) or "no scorer gave a score"
        return (
            f"0 of {done - errors} answered samples could be scored: {why}. Check the suite's "
            "dataset.reference and the scorers' extractors (`tailgate rescore` re-scores stored outputs); "
            "the outputs are stored and `tailgate report` still shows consistency without scores"
        )
    return None


def _partial_failures(manifest: Manifest, stats: ExecutionStats) -> list[str]:
    counts = manifest.counts or Counts()
    done, errors = counts.done, counts.errors
    out = []
    if errors:
        classes = ", ".join(f"{k} x{v}" for k, v in sorted(stats.errors_by_class.items(), key=lambda kv: -kv[1]))
        out.append(
            f"{errors} of {done} samples ({errors / done:.0%}) failed after their retries"
            + (f" ({classes})" if classes else "")
            + "; they are unscored, not wrong. Re-issue them with --retry-errors"
        )
    failed_scores = {r: n for r, n in stats.unscored_reasons.items() if r != NOT_APPLICABLE}
    if unscored := sum(failed_scores.values()):
        top = max(failed_scores.items(), key=lambda kv: kv[1])[0]
        out.append(f"{unscored} answered samples of this session got no score (most often: {top})")
    return out


async def _scheduled(
    schedule: Schedule,
    plan: Plan,
    writer: RunWriter,
    run_id: str,
    todo: list[Sample],
    issue: Callable[[list[Sample]], Awaitable[ExecutionStats]],
) -> tuple[ExecutionStats, bool]:
    """Run the schedule's batches, looking after each (and first, when a resumed run has done
    some); returns the session's statistics and whether a look stopped the run before the end
    of the order. Each look's summary goes into the manifest as it is made (a kill keeps it)."""
    stats = ExecutionStats()
    done, batches = schedule.batches(todo)
    total = schedule.samples_of(plan, len(schedule.order))

    def look(n_done: int) -> bool:
        n_order = len(schedule.order)
        seen = Look(run_id, n_done, n_order, schedule.samples_of(plan, n_done), total, stats.calls)
        outcome = schedule.look(seen)
        stopped = outcome.stop and n_done < len(schedule.order)
        record = {**schedule.record(), "batch": schedule.batch, "n_done": n_done, "stopped_early": stopped}
        writer.update_manifest(until_decided=record | {"look": dict(outcome.summary)})
        return outcome.stop

    if (done or not batches) and look(done):
        return stats, done < len(schedule.order)
    for n_done, samples in batches:
        stats = merge_stats(stats, await issue(samples))
        if look(n_done):
            return stats, n_done < len(schedule.order)
    return stats, False


COMPACT_MIN_RECORDS = 10_000
_CACHED_FIELDS = ("tokens_in", "tokens_out", "finish_reason", "latency_ms")


def _finish(
    writer: RunWriter,
    status: str,
    session: dict[str, Any],
    stats: ExecutionStats,
    states: dict[str, bool],
) -> int:
    """Compact a completed run and record the session; ``states`` is every sample's state (the
    store's at the start, then each record this session wrote)."""
    if status in ("completed", "stopped_early"):
        # Small runs stay as JSONL (an open format DuckDB reads directly): importing pyarrow and
        # writing Parquet would cost more than reading them ever will. (The journals hold at most
        # ``len(states)`` distinct samples: below the bound there is nothing to read.)
        if len(states) >= COMPACT_MIN_RECORDS:
            writer.compact(min_records=COMPACT_MIN_RECORDS)
        else:
            writer.seal()
    manifest = writer.manifest()
    planned = manifest.plan.samples
    session.update(
        ended_at=utc_now(),
        status=status,
        issued=stats.calls,
        retries=stats.retries,
        cached=stats.cached,
        errors=stats.errors,
        scored=stats.scored,
    )
    sessions = list(manifest.sessions)
    if sessions:
        sessions[-1] = session
    writer.update_manifest(
        status=status,
        ended_at=utc_now(),
        sessions=sessions,
        counts={
            "planned": planned,
            "done": len(states),
            "errors": sum(not ok for ok in states.values()),
        },
    )
    return len(states)


def _new_run_id(suite_name: str, model: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model.split("?", maxsplit=1)[0].rsplit("/", 1)[-1]).strip("-")[:40]
    suite_slug = re.sub(r"[^A-Za-z0-9]+", "-", suite_name).strip("-")[:30]
    return f"{suite_slug}-{slug}-{stamp}-{secrets.token_hex(2)}"
