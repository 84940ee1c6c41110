"""``python:<module>:<function>``: a user function as a model.

The function receives the prompt (the text for completion mode, the list of messages for chat)
and a dict of decoding parameters, and returns the output text or a dict with ``text`` and
optionally ``tokens_in``, ``tokens_out``, ``finish_reason``. It may be sync (run in a thread, so
it does not block the event loop) or async. Raising a :class:`~tailgate.providers.Fault` subclass
(e.g. ``RateLimited``) is retried like an endpoint fault; any other exception is recorded on the
sample as ``provider_error``. ``<module>`` may also be a path to a ``.py`` file.

Its identity (the cache key and the run's fingerprint) includes a hash of what answers: the
SHA-256 of the function's module file and of the function's own source (its compiled code when
there is no source), so editing the function, or anything in its module, is a different model
whose answers are never replayed from the cache. Code the function imports from *other* modules
is not hashed (document a version in the function's module, or use ``--refresh``).

Example:
    tailgate run suite.yaml --model python:my_models:answer
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from types import CodeType
from typing import Any

from tailgate.providers._base import BaseProvider, Fault, ProviderOptions, Request, Response
from tailgate.records import Mode
from tailgate.registry import load_callable

__all__ = ["PythonProvider"]


class PythonProvider(BaseProvider):
    """Calls a Python function per sample."""

    max_concurrency: int | None = None

    def __init__(self, name: str, options: ProviderOptions) -> None:
        self.name = f"python:{name}"
        self.spec = name
        self.options = options
        self.func = load_callable(name)
        self._is_async = inspect.iscoroutinefunction(self.func)
        self._code = code_identity(self.func)

    def default_mode(self) -> Mode:
        return "completion" if self.options.mode == "completion" else "chat"

    def identity(self) -> dict[str, Any]:
        return {"provider": "python", "model": self.spec, **self._code}

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


def code_identity(func: Any) -> dict[str, str | None]:
    """SHA-256 (16 hex digits) of ``func``'s module file and of its source (or compiled code)."""
    target = inspect.unwrap(func)
    module_file: str | None = None
    try:
        path = inspect.getsourcefile(target) or inspect.getfile(target)
        with open(path, "rb") as fh:
            module_file = hashlib.file_digest(fh, "sha256").hexdigest()[:16]
    except (TypeError, OSError):
        pass  # a built-in or a callable made at run time: the function's code still counts
    try:
        source = inspect.getsource(target).encode("utf-8")
    except (TypeError, OSError):
        code = getattr(target, "__code__", None) or getattr(type(target).__call__, "__code__", None)
        source = _code_bytes(code) if isinstance(code, CodeType) else repr(target).encode("utf-8")
    return {"module_sha256": module_file, "source_sha256": hashlib.sha256(source).hexdigest()[:16]}


def _code_bytes(code: CodeType) -> bytes:
    """The bytecode and constants of ``code`` and its nested functions (no addresses)."""
    parts = [code.co_code, repr(code.co_names).encode()]
    for const in code.co_consts:
        parts.append(_code_bytes(const) if isinstance(const, CodeType) else repr(const).encode())
    return b"\0".join(parts)
