"""``fake:<behaviour>``: a deterministic in-library provider for tests, demos and docs.

Behaviours: ``echo`` (returns the last user message or the completion text), ``constant=<text>``
(always ``<text>``). Options after ``?``: ``delay=<s>`` per call, ``fail=<share>`` of calls that
raise a retryable server fault (decided by a hash of the prompt and attempt, so runs repeat).

Example:
    tailgate run suite.yaml --model 'fake:constant=42?delay=0.01'
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any
from urllib.parse import parse_qsl

from tailgate.errors import UsageError
from tailgate.providers._base import BaseProvider, ProviderOptions, Request, Response, ServerFault
from tailgate.records import Mode

__all__ = ["FakeProvider"]


class FakeProvider(BaseProvider):
    """Answers without a model; see the module docstring."""

    max_concurrency: int | None = None

    def __init__(self, name: str, options: ProviderOptions) -> None:
        self.name = f"fake:{name}"
        behaviour, _, query = name.partition("?")
        self.behaviour = behaviour
        opts = dict(parse_qsl(query))
        try:
            self.delay = float(opts.pop("delay", 0.0))
            self.fail = float(opts.pop("fail", 0.0))
        except ValueError as exc:
            raise UsageError(f"fake provider option: {exc}") from None
        if opts:
            raise UsageError(f"unknown fake provider option(s): {', '.join(opts)}")
        if not (behaviour == "echo" or behaviour.startswith("constant=")):
            raise UsageError(f"unknown fake behaviour '{behaviour}'; use echo or constant=<text>")
        self.options = options
        self._calls: dict[str, int] = {}

    def default_mode(self) -> Mode:
        return "completion" if self.options.mode == "completion" else "chat"

    def identity(self) -> dict[str, Any]:
        return {"provider": "fake", "model": self.behaviour}

    def describe(self) -> dict[str, Any]:
        return self.identity()

    async def generate(self, request: Request) -> Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        key = request.prompt.stored() + repr(request.seed)
        attempt = self._calls.get(key, 0)
        self._calls[key] = attempt + 1
        if self.fail:
            draw = int(hashlib.sha256(f"{key}#{attempt}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            if draw < self.fail:
                raise ServerFault("injected fault", status=500)
        if self.behaviour == "echo":
            if request.prompt.mode == "completion":
                text = request.prompt.text
            else:
                users = [m["content"] for m in request.prompt.messages if m["role"] == "user"]
                text = users[-1] if users else ""
        else:
            text = self.behaviour.removeprefix("constant=")
        return Response(
            text=text,
            tokens_in=request.prompt.approx_chars() // 4,
            tokens_out=len(text) // 4,
            finish_reason="stop",
        )

    async def aclose(self) -> None:
        return None
