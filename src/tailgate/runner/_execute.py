"""Executing a plan: bounded workers, rate limit, timeouts, retries, one record per sample.

Scheduling: workers take samples from a ready queue. A retryable fault does not hold a worker
while it backs off: the sample is put back on the queue after its delay (``Retry-After`` when
the endpoint gives one, else exponential back-off with jitter), so the other samples keep the
endpoint busy, and it goes to the *front* of the queue, so retries interleave with fresh work
instead of piling up at the end of the run (where their back-off would become the run's tail).
A sample's back-off doubles with its attempts only while the endpoint keeps failing: the exponent
is capped by the run's current streak of failed calls, so a sample unlucky on a healthy endpoint
(10% of calls failing at random: its fifth retry waited 1.6-3.2 s, the run's whole tail) retries
after the first back-off, while a failing endpoint (every call failing) gets the full exponential
back-off. A sample's record is written the moment it completes or exhausts its attempts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from tailgate.config import RetryConfig
from tailgate.errors import RunFailed
from tailgate.providers import Fault, Provider, Response, redact, redact_output
from tailgate.records import SCHEMA_VERSION, WITHHELD_ERROR_CLASSES
from tailgate.runner._calls import call_once, fault_entry
from tailgate.runner._judges import RunJudges, judge_scores
from tailgate.runner._plan import Sample
from tailgate.scorers import BoundScorer, Score
from tailgate.store import utc_now

__all__ = [
    "ExecutionStats",
    "NullProgress",
    "ProgressSink",
    "RateLimiter",
    "backoff_delay",
    "execute",
]


class ProgressSink(Protocol):
    """Receives progress events; the CLI draws a bar, the library default ignores them."""

    def start(self, total: int, done: int) -> None: ...

    def advance(self, record: dict[str, Any]) -> None: ...

    def retry(self, sample_id: str, fault: Fault, wait_s: float) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    def start(self, total: int, done: int) -> None:
        return None

    def advance(self, record: dict[str, Any]) -> None:
        return None

    def retry(self, sample_id: str, fault: Fault, wait_s: float) -> None:
        return None

    def finish(self) -> None:
        return None


@dataclass
class ExecutionStats:
    """What happened during one execution."""

    completed: int = 0
    errors: int = 0
    retries: int = 0
    cached: int = 0
    calls: int = 0
    errors_by_class: dict[str, int] = field(default_factory=dict)
    workers: int = 0
    """Calls in flight at most (the concurrency the endpoint actually saw)."""
    completions: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the execution started, latency in ms) of each successful call, in
    completion order (cached replays excluded): what :func:`queueing_hint` reads."""
    solo_ms: float | None = None
    """Latency of the first call, made while no other call was in flight (with 2+ workers the
    others start when it returns): a call's own time, free of queueing."""
    scored: int = 0
    """Samples with a headline score."""
    unscored_reasons: dict[str, int] = field(default_factory=dict)
    """Why answered samples got no score (the headline scorer's error), with counts."""
    last_error: str | None = None


# A persistent failure stops the run early instead of spending every retry on every sample:
# - when FIRST_STREAK samples in a row ended in a fault (after their retries) and none had been
#   answered yet, or LATER_STREAK in a row after some had;
# - when CALL_STREAK calls in a row failed (rate limits excepted: they are back-pressure, not a
#   failure) and no call had succeeded yet, or 5 x CALL_STREAK in a row after some had.
FIRST_STREAK = 10
LATER_STREAK = 50
CALL_STREAK = 20
# Why an answered sample has no score when no scorer's `when` matches its item: a suite scored on
# purpose by nothing (open-ended items, robustness by answer flips) is not a failure.
NOT_APPLICABLE = "no scorer applies to the item"


class RateLimiter:
    """Token bucket: at most ``rps`` call starts per second on average, bursts of ``burst``."""

    def __init__(self, rps: float, burst: int = 1) -> None:
        self.rps = rps
        self.burst = max(burst, 1)
        self._tokens = float(self.burst)
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rps)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rps)


def backoff_delay(attempt: int, retry: RetryConfig, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``.

    ``Retry-After`` (capped at ``max_retry_after_s``) wins when given; otherwise
    ``base * 2**(attempt-1)`` capped at ``max_delay_s``, with "equal jitter" (uniform between half
    and all of it) so that retries of a burst spread out but never collapse to zero.
    """
    if retry_after is not None:
        return min(retry_after, retry.max_retry_after_s) + rng.uniform(0.0, 0.1 * retry.base_delay_s)
    ceiling = min(retry.max_delay_s, retry.base_delay_s * (2 ** (attempt - 1)))
    return rng.uniform(ceiling / 2.0, ceiling)


@dataclass
class _State:
    sample: Sample
    attempts: int = 0
    started_at: str = ""
    log: list[dict[str, Any]] = field(default_factory=list)


async def execute(
    samples: list[Sample],
    provider: Provider,
    scorers: list[BoundScorer],
    write: Callable[[dict[str, Any]], None],
    *,
    run_id: str,
    model: str,
    mode: str,
    concurrency: int,
    retry: RetryConfig,
    rps: float | None = None,
    progress: ProgressSink | None = None,
    cached: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    withheld: str = "unscored",
    judges: RunJudges | None = None,
) -> ExecutionStats:
    """Run ``samples`` and hand each finished record to ``write`` (in completion order).

    Long on purpose: the worker loop, its retry/back-off, the early stop and the cancellation
    share one set of counters and one task group; split apart they would need a state object
    passed everywhere, and the crash-safety argument (every finished sample written once) is
    easier to check in one place.

    ``cached`` maps cache keys to stored responses (``text``, ``tokens_in``, ``tokens_out``,
    ``finish_reason``, ``latency_ms``): those samples are replayed without a call.
    ``withheld`` (the suite's ``run.filtered``): ``fail`` scores an output the endpoint filtered
    or refused 0 with the first applicable scorer; ``unscored`` leaves it unscored.
    ``judges``: the call path of the judge scorers (see :mod:`tailgate.runner._judges`), awaited
    after the target's answer and before its record is written (a kill loses the sample, and
    resuming replays the answer and the verdicts from the cache).
    Cancelling the calling task stops everything; samples still in flight are not written.
    """
    progress = progress or NullProgress()
    stats = ExecutionStats()
    began = time.perf_counter()
    cached = cached or {}
    base = {"schema_version": SCHEMA_VERSION, "run_id": run_id, "model": model, "mode": mode}
    streak = 0  # samples in a row that ended in a fault
    call_streak = 0  # calls in a row that failed (not counting rate limits)
    fault_streak = 0  # calls in a row that failed retryably (rate limits included): caps the back-off
    answered_calls = 0
    failure: list[BaseException] = []

    def stop(message: str) -> None:
        if not failure:
            failure.append(RunFailed(message, run_id))
            done.set()

    def finish(
        state: _State,
        response: Response | None,
        latency_ms: float | None,
        fault: Fault | None,
        from_cache: bool = False,
        judged: dict[str, Score] | None = None,
    ) -> None:
        nonlocal streak
        record = _record(base, state, response, latency_ms, fault, scorers, from_cache, withheld == "fail", judged)
        write(record)
        stats.completed += 1
        if fault is None and not from_cache and latency_ms is not None:
            stats.completions.append((time.perf_counter() - began, latency_ms))
        if fault is not None:
            stats.errors += 1
            stats.errors_by_class[fault.error_class] = stats.errors_by_class.get(fault.error_class, 0) + 1
            stats.last_error = record["error_message"]
        # a filtered or refused answer is an answer (the endpoint works), not a failure to stop on
        streak = streak + 1 if fault is not None and fault.error_class not in WITHHELD_ERROR_CLASSES else 0
        if fault is None:
            if record["score"] is not None:
                stats.scored += 1
            else:
                reason = _unscored_reason(record)
                stats.unscored_reasons[reason] = stats.unscored_reasons.get(reason, 0) + 1
        progress.advance(record)
        answered = stats.completed - stats.errors
        if streak >= (LATER_STREAK if answered else FIRST_STREAK):
            stop(_streak_message(f"{streak} samples in a row failed after their retries", answered, stats))

    # (priority, sequence, state): retries (0) before fresh samples (1) before the stop marks (2)
    queue: asyncio.PriorityQueue[tuple[int, int, _State | None]] = asyncio.PriorityQueue()
    sequence = itertools.count()
    pending = 0
    judging = any(s.needs_model for s in scorers)
    replays: list[tuple[_State, Response, Any]] = []
    for sample in samples:
        hit = cached.get(sample.cache_key)
        if hit is not None:
            stats.cached += 1
            state = _State(sample, attempts=0, started_at=utc_now())
            replay = Response(
                text=redact_output(hit["text"]),
                tokens_in=hit.get("tokens_in"),
                tokens_out=hit.get("tokens_out"),
                finish_reason=hit.get("finish_reason"),
            )
            if judging:
                replays.append((state, replay, hit.get("latency_ms")))
            else:
                finish(state, replay, hit.get("latency_ms"), None, from_cache=True)
            continue
        queue.put_nowait((1, next(sequence), _State(sample)))
        pending += 1
    if replays:  # the judges still have to read the replayed answers (their verdicts may be cached too)
        verdicts = await asyncio.gather(*(judge_scores(scorers, judges, r.text, s.sample.item) for s, r, _ in replays))
        for (state, replay, latency), judged in zip(replays, verdicts, strict=True):
            finish(state, replay, latency, None, from_cache=True, judged=judged)

    limiter = RateLimiter(rps, burst=max(1, min(concurrency, int(rps)))) if rps else None
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    workers_n = max(1, min(concurrency, provider.max_concurrency or concurrency, pending or 1))
    stats.workers = workers_n
    if pending == 0:
        return stats
    done = asyncio.Event()

    def settle() -> None:
        nonlocal pending
        pending -= 1
        if pending == 0:
            done.set()
            for _ in range(workers_n):
                queue.put_nowait((2, next(sequence), None))

    # The first call goes alone: its latency is a call's own time, which the queueing hint
    # compares the others with (one call's time at the start of the run is all it costs).
    alone = asyncio.Event()
    if workers_n < 2:
        alone.set()

    async def guarded(index: int) -> None:
        # A worker that dies of anything but a Fault (a ProviderError: bad key, unknown model;
        # a bug) stops the whole execution instead of leaving the others waiting forever.
        try:
            if index > 0:
                await alone.wait()
            await worker()
        except Exception as exc:
            failure.append(exc)
            done.set()
        finally:
            alone.set()

    async def worker() -> None:
        nonlocal call_streak, answered_calls, fault_streak
        while True:
            _, _, state = await queue.get()
            if state is None:
                return
            if limiter is not None:
                await limiter.acquire()
            if not state.started_at:
                state.started_at = utc_now()
            state.attempts += 1
            stats.calls += 1
            request = state.sample.request
            t0 = time.perf_counter()
            outcome = await call_once(provider, request, request.timeout_s)
            if not isinstance(outcome, Fault):
                response = outcome
                call_streak, answered_calls, fault_streak = 0, answered_calls + 1, 0
                latency = (time.perf_counter() - t0) * 1000.0
                if not alone.is_set():
                    stats.solo_ms = latency
                if (text := redact_output(response.text)) != response.text:
                    response = dataclasses.replace(response, text=text)
                judged = await judge_scores(scorers, judges, response.text, state.sample.item) if judging else None
                finish(state, response, latency, None, judged=judged)
                settle()
                alone.set()
                continue
            alone.set()
            fault = outcome
            fault_streak = fault_streak + 1 if fault.retryable else 0
            if fault.error_class in WITHHELD_ERROR_CLASSES:
                call_streak = 0  # the endpoint answered: it withheld this one answer
            elif fault.error_class != "rate_limit":
                call_streak += 1
                stats.last_error = redact(str(fault))[:500]
                if call_streak >= CALL_STREAK * (5 if answered_calls else 1):
                    before = stats.completed - stats.errors
                    stop(_streak_message(f"{call_streak} calls in a row failed ({fault.error_class})", before, stats))
                    return
            if fault.retryable and state.attempts < retry.max_attempts:
                wait = backoff_delay(min(state.attempts, fault_streak), retry, fault.retry_after, rng)
                state.log.append(fault_entry(fault, wait))
                stats.retries += 1
                progress.retry(state.sample.sample_id, fault, wait)
                loop.call_later(wait, queue.put_nowait, (0, next(sequence), state))
                continue
            finish(state, None, None, fault)
            settle()

    tasks = [asyncio.create_task(guarded(i), name=f"tailgate-worker-{i}") for i in range(workers_n)]
    try:
        await done.wait()
        if failure:
            raise failure[0]
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return stats


def _unscored_reason(record: dict[str, Any]) -> str:
    scores = orjson.loads(record["scores"])
    for label, score in scores.items():
        if score.get("error"):
            return f"{label}: {str(score['error'])[:200]}"
    return NOT_APPLICABLE if not scores else "the scorer returned no score"


def _streak_message(what: str, answered: int, stats: ExecutionStats) -> str:
    classes = ", ".join(f"{k} x{v}" for k, v in sorted(stats.errors_by_class.items(), key=lambda kv: -kv[1]))
    before = f"after {answered} answered samples" if answered else "and none was answered"
    return (
        f"stopped early: {what} {before}" + (f" (samples failed: {classes})" if classes else "") + "; "
        f"last error: {stats.last_error}. The endpoint looks down or misconfigured: nothing more was "
        "sent. Completed samples are stored; fix the endpoint and resume with the same command and --run-id"
    )


def _record(
    base: dict[str, Any],
    state: _State,
    response: Response | None,
    latency_ms: float | None,
    fault: Fault | None,
    scorers: list[BoundScorer],
    from_cache: bool,
    withheld_fails: bool = False,
    judged: dict[str, Score] | None = None,
) -> dict[str, Any]:
    sample = state.sample
    scores: dict[str, Any] = {}
    headline = None
    if withheld_fails and fault is not None and fault.error_class in WITHHELD_ERROR_CLASSES:
        label = next((s.label for s in scorers if s.applies_to(sample.item)), None)
        if label is not None:
            headline = (label, Score(0.0))  # the record's error_class says why (run.filtered: fail)
            scores[label] = headline[1].as_dict()
    if response is not None:
        for scorer in scorers:
            if scorer.applies_to(sample.item):
                if scorer.needs_model:
                    result = (judged or {}).get(scorer.label) or Score(None, None, "the judge was not asked")
                else:
                    result = scorer(response.text, sample.item)
                scores[scorer.label] = result.as_dict()
                if headline is None:
                    headline = (scorer.label, result)
    return {
        **base,
        "sample_id": sample.sample_id,
        "item_id": sample.item.item_id,
        "variant": sample.variant,
        "repeat": sample.repeat,
        "params": sample.params_json,
        "prompt": sample.prompt,
        "output": None if response is None else response.text,
        "answer": None if headline is None else headline[1].answer,
        "score": None if headline is None else headline[1].value,
        "scorer": None if headline is None else headline[0],
        "scores": orjson.dumps(scores).decode(),
        "latency_ms": None if latency_ms is None else round(latency_ms, 3),
        "tokens_in": None if response is None else response.tokens_in,
        "tokens_out": None if response is None else response.tokens_out,
        "finish_reason": None if response is None else response.finish_reason,
        "error_class": None if fault is None else fault.error_class,
        "error_message": None if fault is None else redact(str(fault))[:2000],
        "attempts": state.attempts,
        "attempt_errors": orjson.dumps(state.log).decode() if state.log else "[]",
        "started_at": state.started_at,
        "ended_at": utc_now(),
        "cached": from_cache,
        "cache_key": sample.cache_key,
    }
