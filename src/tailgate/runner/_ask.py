"""Asking a model a list of prompts outside a run (paraphrases, LLM answer extraction): through
the response cache under a purpose, so a repeat asks nothing again, with the run's retries."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from typing import Any

from tailgate.config import RetryConfig
from tailgate.errors import UsageError
from tailgate.providers import Fault, Provider, Request, Response, redact_output
from tailgate.records import Prompt, cache_key_hasher
from tailgate.runner._served import served_of, verify_hits
from tailgate.store import ResponseCache

__all__ = ["ask_model"]


async def ask_model(
    provider: Provider,
    prompts: list[str],
    *,
    purpose: str,
    temperature: float,
    max_tokens: int,
    seed: int | None,
    cache: ResponseCache | None,
    retry: RetryConfig,
    timeout_s: float,
    concurrency: int = 8,
    stop: tuple[str, ...] = (),
    completion_cue: str = "",
) -> tuple[list[str], int]:
    """Each prompt sent to ``provider`` as one user message (or as text plus ``completion_cue``
    for a completion model), through the response cache under ``purpose``, faults retried.
    Returns the replies and how many came from the cache."""
    mode = provider.default_mode()
    params = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed, "stop": list(stop)}
    key_of = cache_key_hasher({"provider": provider.identity(), "mode": mode, "purpose": purpose, "params": params})
    keys = [key_of(p) for p in prompts]
    cached = cache.get_many(keys) if cache is not None else {}
    gate = asyncio.Semaphore(concurrency)

    def request(prompt: str) -> Request:
        form = (
            Prompt("chat", messages=({"role": "user", "content": prompt},))
            if mode == "chat"
            else Prompt("completion", text=prompt + completion_cue)
        )
        return Request(form, temperature, 1.0, max_tokens, seed, stop, timeout_s)

    if cached:  # as for samples: replay only what the endpoint still serves (stale ones are asked again)
        first = next(p for p, k in zip(prompts, keys, strict=True) if k in cached)
        cached, _ = await verify_hits(provider, cached, request(first))

    async def ask(prompt: str, key: str) -> str:
        if key in cached:
            return str(cached[key]["text"])
        async with gate:
            response = await _with_retries(provider.generate, request(prompt), retry, purpose)
        if cache is not None:
            cache.put(key, {"text": response.text, "served": served_of(response)}, model=provider.name)
        return response.text

    replies = await asyncio.gather(*(ask(p, k) for p, k in zip(prompts, keys, strict=True)))
    return list(replies), sum(k in cached for k in keys)


async def _with_retries(generate: Any, request: Request, retry: RetryConfig, purpose: str) -> Response:
    from tailgate.runner._execute import backoff_delay

    rng = random.Random(0)
    for attempt in range(1, retry.max_attempts + 1):
        try:
            response: Response = await generate(request)
            return dataclasses.replace(response, text=redact_output(response.text))
        except Fault as exc:
            if not exc.retryable or attempt == retry.max_attempts:
                raise UsageError(f"the model asked for {purpose} failed: {exc}") from exc  # the fault's class
            await asyncio.sleep(backoff_delay(attempt, retry, exc.retry_after, rng))
    raise AssertionError("unreachable")
