"""``openai:<model>``: any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp server, Ollama...).

Uses aiohttp: measured here, httpx's pool (and so the openai SDK) collapses above ~32 concurrent
connections, while aiohttp's connector holds the physical limit at 64 and 256 (BENCHMARKS.md).

The API key is read from the environment variable named by ``model.api_key_env`` in the suite
(default ``OPENAI_API_KEY``); it is sent in the ``Authorization`` header only and registered for
redaction, so it never reaches a record, a manifest, a log or an error message.

Identity: base URL, model name and ``api_key_id``, the first 16 hex digits of
HMAC-SHA256(key="tailgate-api-key-id", message=the API key): a different key may be routed to a
different deployment (proxies map keys to backends), so it is a different cache entry; the hash
identifies a key without revealing it. What the endpoint says it *served* (the response's
``model`` and ``system_fingerprint``) is recorded with every cached answer, and the runner
checks it against a live call before replaying any (see ``docs/records.md``, response cache).

Outputs the endpoint withholds are their own outcome, not an empty answer: ``finish_reason:
content_filter`` (or a 400 whose error code is ``content_filter``) raises :class:`Filtered`, a
non-empty ``message.refusal`` raises :class:`Refused`; neither is retried.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import os
import time
from typing import Any

import aiohttp
import orjson

from tailgate.config import check_base_url
from tailgate.errors import ProviderError, UsageError
from tailgate.providers._base import (
    BaseProvider,
    ClientFault,
    ConnectionFault,
    Filtered,
    MalformedResponse,
    ProviderOptions,
    RateLimited,
    Refused,
    Request,
    Response,
    ServerFault,
    TimeoutFault,
    redact,
    register_secret,
)
from tailgate.records import Mode

__all__ = ["OpenAIProvider"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _check_base_url(url: str) -> str:
    try:
        return check_base_url(url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


class OpenAIProvider(BaseProvider):
    """Chat and text completions over HTTP, one attempt per call."""

    max_concurrency: int | None = None
    verify_served = True
    """What answers can change behind the same URL and name: verify before replaying the cache."""

    def __init__(self, name: str, options: ProviderOptions) -> None:
        self.name = f"openai:{name}"
        self.model = name
        self.options = options
        self.base_url = _check_base_url(options.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
        self.key_env = options.api_key_env or "OPENAI_API_KEY"
        key = os.environ.get(self.key_env)
        if not key and self.base_url == DEFAULT_BASE_URL:
            raise ProviderError(
                f"no API key found: set the {self.key_env} environment variable "
                "(or give --base-url for a local endpoint that needs none)"
            )
        if key:
            register_secret(key)
        self.key_id = api_key_id(key)
        self._headers = {"Content-Type": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._session: Any = None

    def default_mode(self) -> Mode:
        return "completion" if self.options.mode == "completion" else "chat"

    def identity(self) -> dict[str, Any]:
        return {"provider": "openai", "model": self.model, "base_url": self.base_url, "api_key_id": self.key_id}

    def describe(self) -> dict[str, Any]:
        return {**self.identity(), "api_key_env": self.key_env}

    def _session_get(self) -> Any:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=max(self.options.concurrency, 1), limit_per_host=0, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.options.timeout_s),
            )
        return self._session

    async def generate(self, request: Request) -> Response:
        chat = request.prompt.mode == "chat"
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
        }
        if chat:
            body["messages"] = list(request.prompt.messages)
        else:
            body["prompt"] = request.prompt.text
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        url = self.base_url + ("/chat/completions" if chat else "/completions")
        session = self._session_get()
        try:
            async with session.post(
                url, data=orjson.dumps(body), timeout=aiohttp.ClientTimeout(total=request.timeout_s)
            ) as resp:
                status = resp.status
                headers = resp.headers
                raw = await resp.read()
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise TimeoutFault(f"no answer within {request.timeout_s:g} s") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise ConnectionFault(f"{type(exc).__name__}: {exc}") from None
        if status != 200:
            _raise_for_status(status, headers, raw, url)
        return _parse(raw, chat, status)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def api_key_id(key: str | None) -> str | None:
    """A key's identity for the cache: 16 hex digits of an HMAC-SHA256, never the key."""
    if not key:
        return None
    return hmac.new(b"tailgate-api-key-id", key.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def _raise_for_status(status: int, headers: Any, raw: bytes, url: str) -> None:
    message = f"HTTP {status}: {_error_text(raw)}"
    if status == 400 and _error_code(raw) == "content_filter":  # Azure: the prompt was filtered
        raise Filtered(f"the endpoint's content filter rejected the prompt ({message})", status=status)
    if status == 429:
        raise RateLimited(message, status=status, retry_after=retry_after(headers))
    if status >= 500 or status in (408, 409):
        cls = TimeoutFault if status == 408 else ServerFault
        raise cls(message, status=status, retry_after=retry_after(headers))
    if status in (401, 403):
        raise ProviderError(f"{url} refused the API key ({message})")
    if status == 404:
        raise ProviderError(f"{url} answered 404: wrong --base-url or unknown model ({message})")
    raise ClientFault(message, status=status)


def _error_text(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            return redact(str(data["error"].get("message", "")))[:300]
    except ValueError:
        pass
    return redact(raw[:300].decode("utf-8", "replace"))


def _error_code(raw: bytes) -> str | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or a date)."""
    if ms := headers.get("retry-after-ms"):
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _parse(raw: bytes, chat: bool, status: int) -> Response:
    try:
        data = orjson.loads(raw)
        choice = data["choices"][0]
        finish = choice.get("finish_reason")
        if chat:
            refusal = choice["message"].get("refusal")
            if isinstance(refusal, str) and refusal:
                raise Refused(f"the model refused: {refusal[:500]}", status=status)
            text = choice["message"].get("content")
            if finish == "content_filter":
                raise Filtered(_filtered_message(text), status=status)
            text = "" if text is None else text
        else:
            text = choice["text"]
            if finish == "content_filter":
                raise Filtered(_filtered_message(text), status=status)
        if not isinstance(text, str):
            raise TypeError("content is not a string")
        usage = data.get("usage") or {}
        return Response(
            text=text,
            tokens_in=usage.get("prompt_tokens"),
            tokens_out=usage.get("completion_tokens"),
            finish_reason=choice.get("finish_reason"),
            meta={k: data[k] for k in ("id", "model", "system_fingerprint") if k in data},
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        snippet = raw[:200].decode("utf-8", "replace")
        raise MalformedResponse(
            f"HTTP {status} with an unreadable body ({type(exc).__name__}: {exc}): {snippet!r}"
        ) from None


def _filtered_message(text: Any) -> str:
    partial = f"; {len(text)} characters of partial output dropped" if isinstance(text, str) and text else ""
    return f"the endpoint's content filter withheld the output (finish_reason content_filter{partial})"
