"""Before planning: ask the paraphrasing models of a suite's ``paraphrase`` variants.

Every request goes through the response cache (keyed like samples, with a ``paraphrase`` purpose),
so a resumed or repeated run asks nothing again and gets the same texts. Endpoint faults are
retried with the run's back-off; a request that still fails stops the run with a clear error
rather than silently leaving the variant unparaphrased.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from tailgate.config import RetryConfig
from tailgate.dataset import Dataset
from tailgate.perturb import BoundPerturbation, ModelPerturbation, Variants
from tailgate.providers import Provider, ProviderOptions, create_provider
from tailgate.runner._ask import ask_model
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
    providers: dict[tuple[str, str | None], Provider] = {}  # one per model: a local model loads once
    try:
        for name, bound in built.perturbations.items():
            if not isinstance(bound.impl, ModelPerturbation) or not bound.impl.needs_model:
                continue
            params = bound.impl.params
            key = (params.model, params.base_url)
            if key not in providers:
                providers[key] = create_provider(
                    params.model, ProviderOptions(base_url=params.base_url, timeout_s=timeout_s)
                )
            summary[name] = await _one_variant(bound, providers[key], dataset, cache, retry, timeout_s, concurrency)
    finally:
        for provider in providers.values():
            await provider.aclose()
    if cache is not None:
        cache.flush()
    return summary


async def _one_variant(
    bound: BoundPerturbation,
    provider: Provider,
    dataset: Dataset,
    cache: ResponseCache | None,
    retry: RetryConfig,
    timeout_s: float,
    concurrency: int,
) -> dict[str, Any]:
    impl = bound.impl
    assert isinstance(impl, ModelPerturbation)  # (build_variants refuses one that needs a model without it)
    params = impl.params
    jobs = []
    for item in dataset.items:
        fields = bound.fields or [k for k, v in item.input.items() if isinstance(v, str)]
        for field in fields:
            value = item.input.get(field)
            if isinstance(value, str) and value.strip():
                jobs.append((item, field, value))
    replies, from_cache = await ask_model(
        provider,
        [impl.request(value) for _, _, value in jobs],
        purpose="paraphrase",
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        seed=bound.seed,
        cache=cache,
        retry=retry,
        timeout_s=timeout_s,
        concurrency=concurrency,
        completion_cue="\nRewritten text:",
    )
    reasons: Counter[str] = Counter()
    for (item, field, value), reply in zip(jobs, replies, strict=True):
        reason = impl.provide(field, value, reply, item.reference)
        if reason is not None:
            reasons[re.sub(r" [\d'\"(].*$", "", reason)] += 1  # "lost number", "not a question", ...
    return {
        "model": params.model,
        "asked": len(jobs),
        "from_cache": from_cache,
        "accepted": len(jobs) - sum(reasons.values()),
        "rejected": dict(reasons),
    }
