"""What an endpoint says it served, and the check that keeps stale answers out of a run.

A name and a URL do not pin a remote model: a redeploy, a moved alias (``gpt-4o`` pointing at a
new snapshot) or a changed backend answers under the same ones. OpenAI-compatible responses say
what answered (``model``: the served model id; ``system_fingerprint``: the backend
configuration), so every cached answer keeps that pair, and before a session replays any cached
answer for such a provider it makes one live call (the first cached sample's own request; its
answer is discarded) and replays only the entries whose recorded pair equals the live one.

Why not ``GET /models`` at start: its entries describe names, not deployments (vLLM's
``created`` is the time of the request, OpenAI's does not change when an alias moves), so it
cannot tell a redeploy from the same server. Where an endpoint reports neither field, a
redeploy behind the same name and key cannot be seen; ``--refresh`` and ``tailgate cache
clear`` are the remedies (docs/records.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from tailgate.errors import TailgateError
from tailgate.providers import Fault, Provider, Request, Response, redact
from tailgate.records import Mode

__all__ = ["ServedTracker", "served_of", "verify_hits"]


def served_of(response: Response) -> dict[str, Any]:
    """The served model id and system fingerprint a response reports (None where absent; an
    echoed key redacted, as everything stored)."""
    served = {k: response.meta.get(k) for k in ("model", "system_fingerprint")}
    return {k: redact(v) if isinstance(v, str) else v for k, v in served.items()}


def _describe(served: Any) -> str:
    if not isinstance(served, dict):
        return "an unrecorded model (cached before tailgate recorded it)"
    fingerprint = served.get("system_fingerprint")
    return f"model {served.get('model')!r}" + (f", fingerprint {fingerprint!r}" if fingerprint else "")


async def verify_hits(
    provider: Provider, hits: dict[str, dict[str, Any]], probe: Request
) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The cache hits still answered by what the endpoint serves now, and a warning for the rest.

    Providers without ``verify_served`` (a ``python:`` function, a local file: their identity is
    a content hash) keep every hit without a call.
    """
    if not hits or not provider.verify_served:
        return hits, None
    try:
        async with asyncio.timeout(probe.timeout_s):
            live = served_of(await provider.generate(probe))
    except (Fault, TimeoutError) as exc:
        reason = str(exc) or "timed out"
        return {}, f"{len(hits)} cached answers not replayed: the check of what the endpoint serves failed ({reason})"
    except TailgateError:
        raise
    kept = {key: hit for key, hit in hits.items() if hit.get("served") == live}
    if len(kept) == len(hits):
        return kept, None
    stale = next(hit.get("served") for key, hit in hits.items() if key not in kept)
    return kept, (
        f"{len(hits) - len(kept)} cached answers not replayed: the endpoint now serves {_describe(live)}, "
        f"they were answered by {_describe(stale)}"
    )


class ServedTracker:
    """Wraps a provider for one execution and remembers, per sample, what served its answer."""

    def __init__(self, provider: Provider, sample_of_request: dict[int, str]) -> None:
        self.inner = provider
        self.name = provider.name
        self.max_concurrency = provider.max_concurrency
        self.verify_served = provider.verify_served
        self._sample_of_request = sample_of_request
        self._served: dict[str, dict[str, Any]] = {}

    def default_mode(self) -> Mode:
        return self.inner.default_mode()

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def cancel(self) -> None:
        self.inner.cancel()

    async def aclose(self) -> None:
        return None  # the wrapped provider is closed by its owner

    async def generate(self, request: Request) -> Response:
        response = await self.inner.generate(request)
        sample_id = self._sample_of_request.get(id(request))
        if sample_id is not None:
            self._served[sample_id] = served_of(response)
        return response

    def pop(self, sample_id: str) -> dict[str, Any] | None:
        """What served the sample's successful call (once; None when it was not called)."""
        return self._served.pop(sample_id, None)
