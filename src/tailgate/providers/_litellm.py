"""``litellm:<model>``: every provider LiteLLM speaks, through one spec (``litellm:openai/<model>``
with ``--base-url`` for any OpenAI-compatible server, ``litellm:anthropic/<model>``,
``litellm:ollama/<model>``...). Optional: ``pip install 'tailgate[litellm]'``.

tailgate's runner keeps owning retries, rate limits, timeouts and the cache, so every call is
made with LiteLLM's own retries off (``num_retries=0``, ``max_retries=0``) and its cache off
(``caching=False``); LiteLLM is set up once, before its first import, to work offline and
quietly: its model cost map and other catalogues are read from the copies it ships
(``LITELLM_LOCAL_MODEL_COST_MAP``, ``LITELLM_OFFLINE_MODE``: otherwise it fetches them at
import), no telemetry, no debug banners on stdout, no logging callbacks (the lists are emptied
and each call asks for none).

LiteLLM's exceptions map onto tailgate's faults as the ``openai:`` provider maps HTTP statuses
(:func:`fault_of`): rate limits, timeouts, lost connections and 5xx are retried; a content-policy
rejection is :class:`Filtered` (its own outcome, never a wrong answer); a refused key or an
unknown model stops the run (:class:`~tailgate.errors.ProviderError`). Warnings LiteLLM or
pydantic emit while a response is built (pydantic's ``serializer warnings`` on LiteLLM's own
response objects, ``ReadOnly`` notices from its lazy imports) are LiteLLM's business, not the
endpoint's: from the provider's creation on they are ignored for LiteLLM's and pydantic's modules,
so they never turn a good answer into a fault, whatever the process's warning filters.

The API key comes from the environment only: from the variable named by ``--api-key-env`` /
``model.api_key_env``, else from ``<PROVIDER>_API_KEY`` (``OPENAI_API_KEY`` for ``openai/``),
else LiteLLM's own lookup (cloud credentials). A key tailgate reads is passed to the call,
registered for redaction, and identified in the cache key by its HMAC (``api_key_id``, as for
``openai:``), never stored.

Identity (cache key and run fingerprint): the model as given, the LiteLLM provider it resolves
to, the API base and the ``api_key_id``; the decoding parameters and the repeat index are in the
cache key beside it, as for every provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from typing import Any, ClassVar

from tailgate.config import check_base_url
from tailgate.errors import MissingDependency, ProviderError, UsageError
from tailgate.providers._base import (
    BaseProvider,
    ClientFault,
    ConnectionFault,
    Fault,
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
from tailgate.providers._openai import api_key_id, retry_after
from tailgate.records import Mode

__all__ = ["LiteLLMProvider", "fault_of", "import_litellm"]

# What LiteLLM must find in the environment before its first import: without these it fetches
# its model cost map (and other catalogues) from the internet while being imported.
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_TELEMETRY": "False",
    "DISABLE_HF_TOKENIZER_DOWNLOAD": "True",
}


_CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "input_callback",
    "service_callback",
    "_async_success_callback",
    "_async_failure_callback",
    "_async_input_callback",
)


class _Shared:
    """The HTTP client tailgate gives LiteLLM (``litellm.aclient_session``, used by its
    OpenAI-SDK providers) and the providers using it. Without it LiteLLM 1.110's
    text-completion path makes a new client (an aiohttp session and its connection) per call
    and never closes it. A client belongs to the event loop that made it: it is closed, with
    LiteLLM's own cached clients, when the last provider that called through that loop closes,
    and dropped if a later loop (a later run) finds it."""

    client: Any = None
    loop: Any = None
    users: ClassVar[set[int]] = set()


def import_litellm() -> Any:
    """LiteLLM, imported offline and quiet (see the module docstring).

    Raises:
        MissingDependency: LiteLLM is not installed; names the extra to install.
    """
    import importlib.util

    if importlib.util.find_spec("litellm") is None:
        raise MissingDependency("litellm: models need LiteLLM: pip install 'tailgate[litellm]'")
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    with warnings.catch_warnings():
        # its import-time deprecation notices (pydantic, httpx...) are not the user's to fix
        warnings.simplefilter("ignore")
        import litellm
    litellm.telemetry = False
    litellm.suppress_debug_info = True  # else exceptions print "Give Feedback / Get Help" on stdout
    litellm.cache = None
    litellm.num_retries = None
    litellm.disable_hf_tokenizer_download = True
    for hooks in _CALLBACK_LISTS:
        if isinstance(getattr(litellm, hooks, None), list):
            getattr(litellm, hooks).clear()
    _quiet_warnings()
    return litellm


def _quiet_warnings() -> None:
    """Warnings raised from LiteLLM's modules, and pydantic's serializer warnings about
    LiteLLM's response models, are ignored (a process whose filters turn warnings into errors
    would otherwise lose a good answer). Re-applied per call: a caller (pytest) may reset the
    filters between runs."""
    warnings.filterwarnings("ignore", module=r"(litellm|pydantic|pydantic_core)(\.|$)")
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)


class LiteLLMProvider(BaseProvider):
    """One LiteLLM ``acompletion`` (chat) or ``atext_completion`` (completion) call per attempt."""

    max_concurrency: int | None = None
    verify_served = True
    """A name and an API base do not pin what answers (see ``openai:``): verify before replaying."""

    def __init__(self, name: str, options: ProviderOptions) -> None:
        if not name.strip():
            raise UsageError("litellm: needs a model, e.g. litellm:openai/gpt-4o-mini")
        self.name = f"litellm:{name}"
        self.model = name
        self.options = options
        try:
            self.api_base = None if options.base_url is None else check_base_url(options.base_url)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        self._litellm = import_litellm()
        self.llm_provider, self.default_base = self._resolve_provider()
        self.not_sent = self._unsupported_params()
        self.key_env, key = self._find_key()
        if key:
            register_secret(key)
        self._key = key
        self.key_id = api_key_id(key)

    def _resolve_provider(self) -> tuple[str, str | None]:
        """The LiteLLM provider the model names (``openai`` for ``openai/smollm2``) and its fixed
        API base where it has one (Groq's); an unknown provider is a usage error before any call."""
        try:
            _, provider, _, default_base = self._litellm.get_llm_provider(self.model, api_base=self.api_base)
        except Exception as exc:
            raise UsageError(
                f"litellm: LiteLLM does not know the provider of '{self.model}': name it as "
                f"provider/model, e.g. litellm:openai/{self.model} ({redact(str(exc)).partition(chr(10))[0][:200]})"
            ) from None
        fixed = default_base if self.api_base is None and isinstance(default_base, str) else None
        return str(provider), fixed

    def _unsupported_params(self) -> tuple[str, ...]:
        """The optional decoding parameters the provider does not take (Anthropic and Bedrock
        take no ``seed``): not sent, and named in the identity, rather than a run that stops on
        the suite's default ``seed: 0``. Temperature and max_tokens are always sent."""
        try:
            supported = self._litellm.get_supported_openai_params(
                model=self.model.partition("/")[2] or self.model, custom_llm_provider=self.llm_provider
            )
        except Exception:  # LiteLLM cannot say: send everything, and let the provider answer
            return ()
        if not supported:
            return ()
        return tuple(p for p in ("seed", "top_p", "stop") if p not in supported)

    def _find_key(self) -> tuple[str | None, str | None]:
        if self.options.api_key_env:
            key = os.environ.get(self.options.api_key_env)
            if not key:
                raise ProviderError(f"no API key found: set the {self.options.api_key_env} environment variable")
            return self.options.api_key_env, key
        conventional = f"{self.llm_provider.upper().replace('-', '_')}_API_KEY"
        key = os.environ.get(conventional)
        if key:
            return conventional, key
        if self.api_base is None:
            # a cloud provider without its credentials would fail every call (as a retried 500)
            try:
                needed = self._litellm.validate_environment(self.model)
            except Exception:  # LiteLLM cannot say: let the first call answer
                needed = {}
            missing = [k for k in needed.get("missing_keys", []) if not k.endswith(("_API_BASE", "_BASE_URL"))]
            if missing and not needed.get("keys_in_environment"):
                raise ProviderError(
                    f"no API key found for {self.name}: set {' or '.join(missing)} "
                    "(or name another variable with --api-key-env; give --base-url for a local endpoint)"
                )
        return None, None

    def default_mode(self) -> Mode:
        return "completion" if self.options.mode == "completion" else "chat"

    def identity(self) -> dict[str, Any]:
        return {
            "provider": "litellm",
            "model": self.model,
            "llm_provider": self.llm_provider,
            "api_base": self.api_base or self.default_base,
            "api_key_id": self.key_id,
            "params_not_sent": list(self.not_sent),
        }

    def describe(self) -> dict[str, Any]:
        """Manifest details: the key's variable (never its value) and the LiteLLM version."""
        from importlib.metadata import version

        return {**self.identity(), "api_key_env": self.key_env, "litellm": version("litellm")}

    def _arguments(self, request: Request) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": self.model,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            "timeout": request.timeout_s,
            # the runner retries (with its back-off, Retry-After and record of every attempt)
            "num_retries": 0,
            "max_retries": 0,
            "caching": False,
            "no-log": True,
        }
        if self.api_base is not None:
            args["api_base"] = self.api_base
        if self._key is not None:
            args["api_key"] = self._key
        elif self.api_base is not None and self.llm_provider in ("openai", "text-completion-openai"):
            args["api_key"] = "no-key"  # a local OpenAI-compatible server needs none; the SDK insists
        if request.seed is not None:
            args["seed"] = request.seed
        if request.stop:
            args["stop"] = list(request.stop)
        for name in self.not_sent:
            args.pop(name, None)
        return args

    async def generate(self, request: Request) -> Response:
        chat = request.prompt.mode == "chat"
        args = self._arguments(request)
        _quiet_warnings()
        _share_client(self._litellm, self)
        try:
            if chat:
                raw = await self._litellm.acompletion(messages=list(request.prompt.messages), **args)
            else:
                raw = await self._litellm.atext_completion(prompt=request.prompt.text, **args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            mapped = fault_of(exc, self.name)
            raise mapped from None
        return _parse(raw, chat)

    async def aclose(self) -> None:
        _Shared.users.discard(id(self))
        if not _Shared.users and _Shared.loop is asyncio.get_running_loop():
            await _close_clients(self._litellm)


def _share_client(litellm: Any, provider: LiteLLMProvider) -> None:
    """Give LiteLLM one HTTP client for this loop's calls, unless the program set its own."""
    loop = asyncio.get_running_loop()
    if _Shared.client is not None and _Shared.loop is not loop:  # a finished run's: its loop is gone
        if litellm.aclient_session is _Shared.client:
            litellm.aclient_session = None
        _Shared.client, _Shared.loop = None, None
        _Shared.users.clear()
    if litellm.aclient_session is None:
        import httpx

        limits = httpx.Limits(max_connections=None, max_keepalive_connections=max(provider.options.concurrency, 1))
        _Shared.client = httpx.AsyncClient(limits=limits, timeout=None, follow_redirects=False)
        _Shared.loop = loop
        litellm.aclient_session = _Shared.client
    if litellm.aclient_session is _Shared.client:
        _Shared.users.add(id(provider))


async def _close_clients(litellm: Any) -> None:
    """Close LiteLLM's HTTP clients and forget them: a later run (a new loop) must not find them."""
    client, _Shared.client, _Shared.loop = _Shared.client, None, None
    if client is not None:
        if litellm.aclient_session is client:
            litellm.aclient_session = None
        await client.aclose()
    close = getattr(litellm, "close_litellm_async_clients", None)
    if close is not None:
        with contextlib.suppress(Exception):  # cleanup of a library's cache must not fail a finished run
            await close()
    cache = getattr(litellm, "in_memory_llm_clients_cache", None)
    if cache is not None and hasattr(cache, "flush_cache"):
        cache.flush_cache()


def _headers(exc: BaseException) -> dict[str, str]:
    """The response headers an exception carries (lower-cased names), for ``Retry-After``."""
    found: dict[str, str] = {}
    response = getattr(exc, "response", None)
    for source in (getattr(response, "headers", None), getattr(exc, "litellm_response_headers", None)):
        if source is not None and hasattr(source, "items"):
            found.update({str(k).lower(): str(v) for k, v in source.items()})
    return found


def fault_of(exc: BaseException, where: str) -> Exception:
    """The tailgate fault (or error) for an exception LiteLLM raised, most specific class first.

    Retried: rate limits (with the response's ``Retry-After``), timeouts, lost connections,
    5xx, unreadable responses. Not retried: a content-policy rejection (:class:`Filtered`),
    any other rejected request (:class:`ClientFault`: context too long, a bad parameter), and
    anything else LiteLLM raised (:class:`Fault`, ``provider_error``). A refused key, an unknown
    model and a parameter the provider does not take stop the run (:class:`ProviderError`).
    """
    from litellm import exceptions as lx

    message = redact(str(exc))[:500] or type(exc).__name__
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    if isinstance(exc, lx.ContentPolicyViolationError):
        return Filtered(f"the provider's content policy rejected the request ({message})", status=status)
    if isinstance(exc, lx.ContextWindowExceededError):
        return ClientFault(message, status=status)
    if isinstance(exc, lx.UnsupportedParamsError):
        return ProviderError(
            f"{where} does not take a decoding parameter the suite sends ({message}); remove it from the "
            "suite's decoding (e.g. seed: null)"
        )
    if isinstance(exc, lx.AuthenticationError | lx.PermissionDeniedError):
        return ProviderError(f"{where}: the provider refused the API key ({message})")
    if isinstance(exc, lx.NotFoundError):
        return ProviderError(f"{where}: unknown model or wrong --base-url ({message})")
    if (cause := _cause_fault(exc, message, status)) is not None:
        return cause
    if isinstance(exc, lx.RateLimitError):
        return RateLimited(message, status=429, retry_after=retry_after(_headers(exc)))
    if isinstance(exc, lx.Timeout):  # before APIConnectionError: the SDK's timeout is one
        return TimeoutFault(message, status=status)
    if isinstance(exc, lx.APIResponseValidationError):
        return MalformedResponse(message, status=status)
    if isinstance(exc, lx.APIConnectionError):
        return _connection_fault(exc, message, status)
    if isinstance(exc, lx.ServiceUnavailableError | lx.BadGatewayError | lx.InternalServerError):
        return ServerFault(message, status=status, retry_after=retry_after(_headers(exc)))
    if isinstance(exc, lx.BadRequestError | lx.UnprocessableEntityError):
        return ClientFault(message, status=status)
    if isinstance(exc, lx.APIError):
        return _by_status(exc, message, status, where)
    if isinstance(exc, Fault | ProviderError | UsageError):
        return exc
    return Fault(f"{type(exc).__name__}: {message}", status=status)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _cause_fault(exc: BaseException, message: str, status: int | None) -> Fault | None:
    """What actually failed, read from the exceptions LiteLLM wrapped: it reports a lost
    connection and an unreadable body as an ``InternalServerError`` (status 500), though no
    server said 500. None when an HTTP status answered (then the status decides)."""
    import json

    import httpx
    import openai

    causes = _chain(exc)[1:]
    if any(isinstance(c, openai.APIStatusError | httpx.HTTPStatusError) for c in causes):
        return None
    for cause in causes:
        if isinstance(cause, json.JSONDecodeError):
            return MalformedResponse(message, status=None)
        if isinstance(cause, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
            return TimeoutFault(message, status=None)
        if isinstance(cause, openai.APIConnectionError | httpx.TransportError | ConnectionError):
            return ConnectionFault(message, status=None)
    return None


def _connection_fault(exc: BaseException, message: str, status: int | None) -> Fault:
    """LiteLLM reports an unreadable body (truncated JSON) as a connection error: it is a
    malformed response, retried the same way but named for what it is."""
    lowered = message.lower()
    if any(word in lowered for word in ("json", "decode", "expecting value", "unterminated", "unexpected")):
        return MalformedResponse(message, status=status)
    return ConnectionFault(message, status=status)


def _by_status(exc: BaseException, message: str, status: int | None, where: str) -> Exception:
    if status == 429:
        return RateLimited(message, status=status, retry_after=retry_after(_headers(exc)))
    if status == 408:
        return TimeoutFault(message, status=status)
    if status is None or status >= 500 or status == 409:
        return ServerFault(message, status=status, retry_after=retry_after(_headers(exc)))
    if status in (401, 403):
        return ProviderError(f"{where}: the provider refused the API key ({message})")
    if status == 404:
        return ProviderError(f"{where}: unknown model or wrong --base-url ({message})")
    return ClientFault(message, status=status)


def _parse(raw: Any, chat: bool) -> Response:
    """A LiteLLM ``ModelResponse`` / ``TextCompletionResponse`` as a :class:`Response`; a
    filtered output and a refusal are their own faults, as for ``openai:``."""
    try:
        choice = raw.choices[0]
        finish = getattr(choice, "finish_reason", None)
        if chat:
            message = choice.message
            refusal = getattr(message, "refusal", None)
            if isinstance(refusal, str) and refusal:
                raise Refused(f"the model refused: {refusal[:500]}")
            text = message.content
        else:
            text = choice.text
        if finish == "content_filter":
            partial = f"; {len(text)} characters of partial output dropped" if isinstance(text, str) and text else ""
            raise Filtered(f"the provider's content filter withheld the output (finish_reason content_filter{partial})")
        text = "" if text is None and chat else text
        if not isinstance(text, str):
            raise TypeError(f"content is {type(text).__name__}, not a string")
        usage = getattr(raw, "usage", None)
        meta = {k: v for k in ("id", "model", "system_fingerprint") if isinstance(v := getattr(raw, k, None), str)}
        return Response(
            text=text,
            tokens_in=_count(getattr(usage, "prompt_tokens", None)),
            tokens_out=_count(getattr(usage, "completion_tokens", None)),
            finish_reason=finish if isinstance(finish, str) else None,
            meta=meta,
        )
    except (AttributeError, IndexError, KeyError, TypeError) as exc:
        raise MalformedResponse(f"an unreadable response ({type(exc).__name__}: {redact(str(exc))[:300]})") from None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
