"""The one small provider interface, and the faults a provider reports.

A provider turns a rendered prompt into text. Rate limits, retries, timeouts and concurrency are
the runner's job, not the provider's: a provider makes exactly one attempt per call and reports a
failure by raising a :class:`Fault` (retryable or not) or, when the whole configuration is wrong
(bad key, unknown model), a :class:`~tailgate.errors.ProviderError`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from tailgate.records import Mode, Prompt

__all__ = [
    "BaseProvider",
    "ClientFault",
    "ConnectionFault",
    "Fault",
    "Filtered",
    "MalformedResponse",
    "ModelSpec",
    "Provider",
    "ProviderOptions",
    "RateLimited",
    "Refused",
    "Request",
    "Response",
    "ServerFault",
    "TimeoutFault",
    "parse_model_spec",
    "redact",
    "redact_output",
    "register_secret",
]


@dataclass(frozen=True)
class ModelSpec:
    """A parsed ``--model`` value: ``provider:name`` (``local:smollm2-135m``)."""

    provider: str
    name: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.name}"


def parse_model_spec(spec: str) -> ModelSpec:
    """Split ``provider:name``; the name may itself contain colons (``python:pkg.mod:fn``)."""
    provider, sep, name = spec.partition(":")
    if not sep or not provider or not name:
        from tailgate.errors import UsageError

        raise UsageError(
            f"model '{spec}' should look like provider:name, e.g. local:smollm2-135m, "
            "openai:gpt-4o-mini or python:my_module:my_function"
        )
    return ModelSpec(provider, name)


@dataclass(frozen=True)
class ProviderOptions:
    """Options a provider may use; the runner fills them from the suite and the command line."""

    base_url: str | None = None
    api_key_env: str | None = None
    mode: str = "auto"
    context_length: int | None = None
    concurrency: int = 16
    timeout_s: float = 120.0


@dataclass(frozen=True)
class Request:
    """One call: a prompt and the decoding parameters to send (seed already per repeat)."""

    prompt: Prompt
    temperature: float
    top_p: float
    max_tokens: int
    seed: int | None
    stop: tuple[str, ...]
    timeout_s: float

    def params(self) -> dict[str, Any]:
        """The decoding parameters as stored in records and in the cache key."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass
class Response:
    """What a provider returns for one successful call."""

    text: str
    tokens_in: int | None = None
    tokens_out: int | None = None
    finish_reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    """A model backend: one async ``generate`` call, and what the runner may ask of it.

    The optional capabilities (``verify_served``, :meth:`describe`, :meth:`cancel`) are declared
    here and defaulted by :class:`BaseProvider`; the registry checks that a plugin has them all.
    """

    name: str
    """The spec string the user gave."""
    max_concurrency: int | None
    """Calls the provider can take at once (1 for an in-process model); None = no limit."""
    verify_served: bool
    """True when a name does not pin what answers (a remote endpoint): before replaying cached
    answers the runner makes one live call and compares what the endpoint says it served
    (``Response.meta["served"]``)."""

    def default_mode(self) -> Mode:
        """``chat`` or ``completion`` when the suite says ``auto``."""
        ...

    def identity(self) -> dict[str, Any]:
        """What identifies the model for the cache and the manifest (never secrets)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the model: the identity and anything a person wants
        to know that must not change the cache key (the key variable's name, a library version)."""
        ...

    async def generate(self, request: Request) -> Response:
        """Make one attempt; raise a :class:`Fault` on failure."""
        ...

    def cancel(self) -> None:
        """Stop the call in progress soon (Ctrl-C); a no-op where asyncio cancellation suffices."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads, model memory."""
        ...


class BaseProvider:
    """The defaults of :class:`Provider`'s optional members: no concurrency limit, nothing to
    verify, described by its identity, nothing to cancel or close. A provider states ``name``
    and implements :meth:`identity`, :meth:`default_mode` and :meth:`generate`.

    Example:
        >>> import asyncio
        >>> from tailgate.records import Prompt
        >>> class Echo(BaseProvider):
        ...     def __init__(self, name: str, options: ProviderOptions) -> None:
        ...         self.name = f"echo:{name}"
        ...
        ...     def identity(self) -> dict[str, Any]:
        ...         return {"provider": "echo"}
        ...
        ...     async def generate(self, request: Request) -> Response:
        ...         return Response(request.prompt.text)
        >>> p = Echo("x", ProviderOptions())
        >>> request = Request(Prompt("completion", text="hi"), 0.0, 1.0, 8, 0, (), 5.0)
        >>> asyncio.run(p.generate(request)).text, p.describe()
        ('hi', {'provider': 'echo'})
    """

    name: str = ""
    max_concurrency: int | None = None
    verify_served: bool = False

    def default_mode(self) -> Mode:
        return "chat"

    def identity(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__}.identity")

    def describe(self) -> dict[str, Any]:
        return self.identity()

    async def generate(self, request: Request) -> Response:
        raise NotImplementedError(f"{type(self).__name__}.generate")

    def cancel(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class Fault(Exception):
    """A failed attempt at one sample. ``retryable`` faults are retried with back-off."""

    error_class: ClassVar[str] = "provider_error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(redact(message))
        self.status = status
        self.retry_after = retry_after


class RateLimited(Fault):
    error_class = "rate_limit"
    retryable = True


class ServerFault(Fault):
    error_class = "server_error"
    retryable = True


class TimeoutFault(Fault):
    error_class = "timeout"
    retryable = True


class ConnectionFault(Fault):
    error_class = "connection"
    retryable = True


class MalformedResponse(Fault):
    error_class = "malformed_response"
    retryable = True


class ClientFault(Fault):
    """The endpoint rejected this one request (400, context too long...): not retried."""

    error_class = "client_error"


class Filtered(Fault):
    """The endpoint's content filter withheld the output (``finish_reason: content_filter``, or
    a request rejected as filtered). Its own outcome, not an empty answer: not retried, output
    null, unscored unless the suite's ``run.filtered`` is ``fail``."""

    error_class = "content_filter"


class Refused(Fault):
    """The model declined to answer through the API's refusal field (``message.refusal``);
    recorded like :class:`Filtered`, with the refusal text as the message."""

    error_class = "refusal"


_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
)


_known_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Make :func:`redact` remove ``value`` wherever it appears (providers call it with keys)."""
    if value:
        _known_secrets.add(value)


def redact(text: str) -> str:
    """Remove API keys from ``text``: registered secrets, values of environment variables whose
    name says KEY/TOKEN/SECRET/PASSWORD, and bearer/sk- shaped tokens. Applied to every message
    that may be stored or printed."""
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "***")
    for name, value in os.environ.items():
        if value and len(value) >= 6 and _looks_secret(name) and value in text:
            text = text.replace(value, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


def redact_output(text: str) -> str:
    """Remove the keys this process uses (registered secrets) from a model's output. Only exact
    key values are replaced (by ``***``): shape patterns would rewrite legitimate outputs that
    merely look like tokens. An endpoint that echoes the key back cannot get it stored."""
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in ("KEY", "TOKEN", "SECRET", "PASSWORD"))
