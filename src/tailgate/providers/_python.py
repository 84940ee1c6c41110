"""``python:<module>:<function>``: a user function as a model.

The function receives the prompt (the text for completion mode, the list of messages for chat)
and a dict of decoding parameters, and returns the output text or a dict with ``text`` and
optionally ``tokens_in``, ``tokens_out``, ``finish_reason``. It may be sync (run in a thread, so
it does not block the event loop) or async. Raising a :class:`~tailgate.providers.Fault` subclass
(e.g. ``RateLimited``) is retried like an endpoint fault; any other exception is recorded on the
sample as ``provider_error``. ``<module>`` may also be a path to a ``.py`` file.

Example:
    tailgate run suite.yaml --model python:my_models:answer
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from tailgate.providers._base import Fault, ProviderOptions, Request, Response
from tailgate.records import Mode
from tailgate.registry import load_callable

__all__ = ["PythonProvider"]


class PythonProvider:
    """Calls a Python function per sample."""

    max_concurrency: int | None = None

    def __init__(self, name: str, options: ProviderOptions) -> None:
        self.name = f"python:{name}"
        self.spec = name
        self.options = options
        self.func = load_callable(name)
        self._is_async = inspect.iscoroutinefunction(self.func)

    def default_mode(self) -> Mode:
        return "completion" if self.options.mode == "completion" else "chat"

    def identity(self) -> dict[str, Any]:
        return {"provider": "python", "model": self.spec}

    def describe(self) -> dict[str, Any]:
        return self.identity()

    async def generate(self, request: Request) -> Response:
        prompt: Any = (
            request.prompt.text if request.prompt.mode == "completion" else [dict(m) for m in request.prompt.messages]
        )
        params = request.params()
        try:
            if self._is_async:
                result = await self.func(prompt, params)
            else:
                result = await asyncio.to_thread(self.func, prompt, params)
        except Fault:
            raise
        except Exception as exc:
            raise Fault(f"{type(exc).__name__}: {exc}") from None
        if isinstance(result, str):
            return Response(text=result)
        if isinstance(result, dict) and isinstance(result.get("text"), str):
            return Response(
                text=result["text"],
                tokens_in=result.get("tokens_in"),
                tokens_out=result.get("tokens_out"),
                finish_reason=result.get("finish_reason"),
            )
        raise Fault(f"{self.spec} returned {type(result).__name__}; expected str or {{'text': ...}}")

    async def aclose(self) -> None:
        return None
