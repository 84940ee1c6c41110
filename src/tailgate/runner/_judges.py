"""The runner's side of judge scorers: their calls through the response cache and the retry policy.

A judge call's cache key hashes the judge's identity (for ``python:`` its code, for ``local:`` the
model file, for an endpoint its model and URL), the mode, the purpose ``judge``, the decoding
parameters (seed included: each judge repeat is its own sample) and the filled prompt, so a changed
judge model or prompt template never replays an old verdict. A fault is retried as the run's
samples are (back-off with jitter, ``Retry-After`` honoured); every retried fault is kept in the
reply, and one that remains is returned, not raised: the output is then unscored, never wrong.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from tailgate.config import RetryConfig
from tailgate.providers import (
    Fault,
    Provider,
    ProviderOptions,
    Request,
    create_provider,
    redact,
    redact_output,
)
from tailgate.records import Prompt, cache_key_hasher
from tailgate.runner._calls import call_once, fault_entry
from tailgate.scorers import BoundScorer, JudgeCall, JudgeReply, Score
from tailgate.store import ResponseCache, Store

__all__ = ["RunJudges", "judge_scores"]

PURPOSE = "judge"


class RunJudges:
    """A :class:`~tailgate.scorers.JudgeContext` over one store: providers made on first use
    (one per judge spec) and closed by :meth:`aclose`."""

    def __init__(
        self,
        store: Store | None,
        cache: ResponseCache | None,
        retry: RetryConfig,
        timeout_s: float,
        concurrency: int = 4,
        seed: int = 0,
    ) -> None:
        self.store = store
        self.cache = cache
        self.retry = retry
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self._providers: dict[str, tuple[Provider, asyncio.Semaphore]] = {}
        self._baselines: dict[str, dict[str, str]] = {}
        self._rng = random.Random(seed)
        self.calls = 0
        self.cached = 0
        self.retries = 0

    def prepare(self, specs: list[str]) -> None:
        """Make the provider of every judge spec now, so that a judge that cannot be made (an
        unknown provider, a missing model, a ``python:`` function that does not import) stops
        the run before its first call instead of leaving every output unscored."""
        for spec in specs:
            self._provider(spec)

    def _provider(self, spec: str) -> tuple[Provider, asyncio.Semaphore]:
        if spec not in self._providers:
            provider = create_provider(spec, ProviderOptions(timeout_s=self.timeout_s, concurrency=self.concurrency))
            width = min(self.concurrency, provider.max_concurrency or self.concurrency)
            self._providers[spec] = (provider, asyncio.Semaphore(max(1, width)))
        return self._providers[spec]

    def _key(self, provider: Provider, call: JudgeCall) -> str:
        params: dict[str, Any] = {
            "temperature": call.temperature,
            "max_tokens": call.max_tokens,
            "seed": call.seed,
            "stop": [],
        }
        head = {"provider": provider.identity(), "mode": provider.default_mode(), "purpose": PURPOSE, "params": params}
        key: str = cache_key_hasher(head)(call.prompt)
        return key

    async def ask(self, call: JudgeCall) -> JudgeReply:
        provider, gate = self._provider(call.judge)
        key = self._key(provider, call)
        if self.cache is not None:
            hit = self.cache.get_many([key]).get(key)
            if hit is not None:
                self.cached += 1
                return JudgeReply(text=str(hit["text"]), cached=True)
        form = (
            Prompt("chat", messages=({"role": "user", "content": call.prompt},))
            if provider.default_mode() == "chat"
            else Prompt("completion", text=call.prompt)
        )
        request = Request(form, call.temperature, 1.0, call.max_tokens, call.seed, (), self.timeout_s)
        log: list[dict[str, Any]] = []
        for attempt in range(1, self.retry.max_attempts + 1):
            self.calls += 1
            async with gate:
                outcome = await call_once(provider, request, self.timeout_s)
            if not isinstance(outcome, Fault):
                text = redact_output(outcome.text)
                if self.cache is not None:
                    self.cache.put(key, {"text": text}, model=call.judge)
                return JudgeReply(text=text, attempts=attempt, attempt_errors=tuple(log))
            fault = outcome
            if not fault.retryable or attempt == self.retry.max_attempts:
                return JudgeReply(None, False, attempt, tuple(log), fault.error_class, redact(str(fault))[:500])
            from tailgate.runner._execute import backoff_delay

            wait = backoff_delay(attempt, self.retry, fault.retry_after, self._rng)
            log.append(fault_entry(fault, wait))
            self.retries += 1
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def baseline(self, run_id: str, item_id: str) -> str | None:
        if self.store is None:
            return None
        if run_id not in self._baselines:
            table = self.store.read_records(run_id)
            cols = {n: table.column(n).to_pylist() for n in ("item_id", "variant", "repeat", "output", "error_class")}
            found: dict[str, str] = {}
            for i, item in enumerate(cols["item_id"]):
                if cols["variant"][i] == "original" and cols["repeat"][i] == 0 and isinstance(cols["output"][i], str):
                    found.setdefault(item, cols["output"][i])
            self._baselines[run_id] = found
        return self._baselines[run_id].get(item_id)

    async def aclose(self) -> None:
        for provider, _ in self._providers.values():
            await provider.aclose()
        self._providers.clear()


async def judge_scores(
    scorers: list[BoundScorer], context: RunJudges | None, output: str, item: Any
) -> dict[str, Score]:
    """The scores of the judges among ``scorers`` that apply to ``item`` (concurrently)."""
    judges = [s for s in scorers if s.needs_model and s.applies_to(item)]
    if not judges:
        return {}
    if context is None:
        return {s.label: Score(None, None, "a judge needs the runner (no judge context)") for s in judges}
    results = await asyncio.gather(*(s.score_async(output, item, context) for s in judges))
    return {s.label: r for s, r in zip(judges, results, strict=True)}
