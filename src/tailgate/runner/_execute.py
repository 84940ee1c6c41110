"""Executing a plan: bounded workers, rate limit, timeouts, retries, one record per sample.

Scheduling: workers take samples from a ready queue. A retryable fault does not hold a worker
while it backs off: the sample is put back on the queue after its delay (``Retry-After`` when
the endpoint gives one, else exponential back-off with jitter), so the other samples keep the
endpoint busy, and it goes to the *front* of the queue, so retries interleave with fresh work
instead of piling up at the end of the run (where their back-off would become the run's tail).
A sample's record is written the moment it completes or exhausts its attempts.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from tailgate.config import RetryConfig
from tailgate.providers import Fault, Provider, Response, TimeoutFault, redact
from tailgate.records import SCHEMA_VERSION, WITHHELD_ERROR_CLASSES
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
) -> ExecutionStats:
    """Run ``samples`` and hand each finished record to ``write`` (in completion order).

    ``cached`` maps cache keys to stored responses (``text``, ``tokens_in``, ``tokens_out``,
    ``finish_reason``, ``latency_ms``): those samples are replayed without a call.
    ``withheld`` (the suite's ``run.filtered``): ``fail`` scores an output the endpoint filtered
    or refused 0 with the first applicable scorer; ``unscored`` leaves it unscored.
    Cancelling the calling task stops everything; samples still in flight are not written.
    """
    progress = progress or NullProgress()
    stats = ExecutionStats()
    cached = cached or {}
    base = {"schema_version": SCHEMA_VERSION, "run_id": run_id, "model": model, "mode": mode}

    def finish(
        state: _State,
        response: Response | None,
        latency_ms: float | None,
        fault: Fault | None,
        from_cache: bool = False,
    ) -> None:
        record = _record(base, state, response, latency_ms, fault, scorers, from_cache, withheld == "fail")
        write(record)
        stats.completed += 1
        if fault is not None:
            stats.errors += 1
            stats.errors_by_class[fault.error_class] = stats.errors_by_class.get(fault.error_class, 0) + 1
        progress.advance(record)

    # (priority, sequence, state): retries (0) before fresh samples (1) before the stop marks (2)
    queue: asyncio.PriorityQueue[tuple[int, int, _State | None]] = asyncio.PriorityQueue()
    sequence = itertools.count()
    pending = 0
    for sample in samples:
        hit = cached.get(sample.cache_key)
        if hit is not None:
            stats.cached += 1
            state = _State(sample, attempts=0, started_at=utc_now())
            replay = Response(
                text=hit["text"],
                tokens_in=hit.get("tokens_in"),
                tokens_out=hit.get("tokens_out"),
                finish_reason=hit.get("finish_reason"),
            )
            finish(state, replay, hit.get("latency_ms"), None, from_cache=True)
            continue
        queue.put_nowait((1, next(sequence), _State(sample)))
        pending += 1

    limiter = RateLimiter(rps, burst=max(1, min(concurrency, int(rps)))) if rps else None
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    workers_n = max(1, min(concurrency, provider.max_concurrency or concurrency, pending or 1))
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

    failure: list[BaseException] = []

    async def guarded() -> None:
        # A worker that dies of anything but a Fault (a ProviderError: bad key, unknown model;
        # a bug) stops the whole execution instead of leaving the others waiting forever.
        try:
            await worker()
        except Exception as exc:
            failure.append(exc)
            done.set()

    async def worker() -> None:
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
            try:
                async with asyncio.timeout(request.timeout_s):
                    response = await provider.generate(request)
            except TimeoutError:
                fault: Fault = TimeoutFault(f"no answer within {request.timeout_s:g} s")
            except Fault as exc:
                fault = exc
            else:
                finish(state, response, (time.perf_counter() - t0) * 1000.0, None)
                settle()
                continue
            if fault.retryable and state.attempts < retry.max_attempts:
                wait = backoff_delay(state.attempts, retry, fault.retry_after, rng)
                state.log.append(_fault_entry(fault, wait))
                stats.retries += 1
                progress.retry(state.sample.sample_id, fault, wait)
                loop.call_later(wait, queue.put_nowait, (0, next(sequence), state))
                continue
            finish(state, None, None, fault)
            settle()

    tasks = [asyncio.create_task(guarded(), name=f"tailgate-worker-{i}") for i in range(workers_n)]
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


def _fault_entry(fault: Fault, wait: float | None) -> dict[str, Any]:
    return {
        "class": fault.error_class,
        "status": fault.status,
        "message": redact(str(fault))[:500],
        "wait_s": None if wait is None else round(wait, 3),
    }


def _record(
    base: dict[str, Any],
    state: _State,
    response: Response | None,
    latency_ms: float | None,
    fault: Fault | None,
    scorers: list[BoundScorer],
    from_cache: bool,
    withheld_fails: bool = False,
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
