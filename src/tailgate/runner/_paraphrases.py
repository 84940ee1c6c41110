"""Before planning: ask the paraphrasing models of a suite's ``paraphrase`` variants.

Every request goes through the response cache (keyed like samples, with a ``paraphrase`` purpose),
so a resumed or repeated run asks nothing again and gets the same texts. Endpoint faults are
retried with the run's back-off; a request that still fails stops the run with a clear error
rather than silently leaving the variant unparaphrased.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from typing import Any

from tailgate.config import RetryConfig
from tailgate.dataset import Dataset
from tailgate.errors import UsageError
from tailgate.perturb import BoundPerturbation, Variants
from tailgate.providers import Fault, ProviderOptions, Request, create_provider
from tailgate.records import Prompt, cache_key_hasher
from tailgate.store import ResponseCache

__all__ = ["prepare_paraphrases"]


async def prepare_paraphrases(
    built: Variants,
    dataset: Dataset,
    cache: ResponseCache | None,
    retry: RetryConfig,
    timeout_s: float,
    concurrency: int = 8,
) -> dict[str, dict[str, Any]]:
    """Fill every model-made variant with its checked paraphrases; returns a summary per variant:
    how many were asked, accepted, taken from the cache, and the rejection reasons."""
    summary: dict[str, dict[str, Any]] = {}
    for name, bound in built.perturbations.items():
        if getattr(bound.impl, "needs_model", False):
            summary[name] = await _one_variant(bound, dataset, cache, retry, timeout_s, concurrency)
    if cache is not None:
        cache.flush()
    return summary


async def _one_variant(
    bound: BoundPerturbation,
    dataset: Dataset,
    cache: ResponseCache | None,
    retry: RetryConfig,
    timeout_s: float,
    concurrency: int,
) -> dict[str, Any]:
    impl = bound.impl
    params = impl.params
    provider = create_provider(params.model, ProviderOptions(base_url=params.base_url, timeout_s=timeout_s))
    try:
        mode = provider.default_mode()
        key_of = cache_key_hasher(
            {
                "provider": provider.identity(),
                "mode": mode,
                "purpose": "paraphrase",
                "params": {"temperature": params.temperature, "max_tokens": params.max_tokens, "seed": bound.seed},
            }
        )
        jobs = []
        for item in dataset.items:
            fields = bound.fields or [k for k, v in item.input.items() if isinstance(v, str)]
            for field in fields:
                value = item.input.get(field)
                if isinstance(value, str) and value.strip():
                    jobs.append((item, field, value))
        gate = asyncio.Semaphore(concurrency)
        prompts = [impl.request(value) for _, _, value in jobs]
        keys = [key_of(p) for p in prompts]
        cached = cache.get_many(keys) if cache is not None else {}

        async def ask(prompt: str, key: str) -> str:
            if key in cached:
                return str(cached[key]["text"])
            form = (
                Prompt("chat", messages=({"role": "user", "content": prompt},))
                if mode == "chat"
                else Prompt("completion", text=f"{prompt}\nRewritten text:")
            )
            request = Request(form, params.temperature, 1.0, params.max_tokens, bound.seed, (), timeout_s)
            async with gate:
                text = await _with_retries(provider.generate, request, retry)
            if cache is not None:
                cache.put(key, {"text": text})
            return text

        replies = await asyncio.gather(*(ask(p, k) for p, k in zip(prompts, keys, strict=True)))
        reasons: Counter[str] = Counter()
        for (item, field, value), reply in zip(jobs, replies, strict=True):
            reason = impl.provide(field, value, reply, item.reference)
            if reason is not None:
                reasons[re.sub(r" [\d'\"(].*$", "", reason)] += 1  # "lost number", "not a question", ...
        return {
            "model": params.model,
            "asked": len(jobs),
            "from_cache": sum(k in cached for k in keys),
            "accepted": len(jobs) - sum(reasons.values()),
            "rejected": dict(reasons),
        }
    finally:
        await provider.aclose()


async def _with_retries(generate: Any, request: Request, retry: RetryConfig) -> str:
    from tailgate.runner._execute import backoff_delay

    rng = random.Random(0)
    for attempt in range(1, retry.max_attempts + 1):
        try:
            response = await generate(request)
            return str(response.text)
        except Fault as exc:
            if not exc.retryable or attempt == retry.max_attempts:
                raise UsageError(f"the paraphrasing model failed: {exc}") from None
            await asyncio.sleep(backoff_delay(attempt, retry, exc.retry_after, rng))
    raise AssertionError("unreachable")
