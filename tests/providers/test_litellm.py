"""The litellm: provider: its spec, LiteLLM's exceptions as tailgate faults, and runs through
LiteLLM against a real HTTP server that injects faults (tests/support/fault_server.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest

from tailgate.errors import MissingDependency, ProviderError, UsageError
from tailgate.providers import Fault, ProviderOptions, Request, create_provider
from tailgate.providers._litellm import LiteLLMProvider, _parse, fault_of, import_litellm
from tailgate.records import Prompt
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.cli import REPO
from tests.support.fault_server import FaultPlan, FaultServer
from tests.support.suites import make_suite

pytestmark = pytest.mark.timeout(180)

# through tailgate's import, which sets LiteLLM up offline first (a plain ``import litellm``
# would fetch its model cost map from the internet)
litellm = import_litellm()

ITEMS = [{"id": str(i), "question": f"What is {i}+{i * 3}?", "answer": i * 4, "task": "math"} for i in range(20)]
MODEL = "litellm:openai/m"


def _suite(tmp_path: Path, **extra: object) -> Path:
    run = {"timeout_s": 2.0, "retry": {"base_delay_s": 0.01, "max_attempts": 8}}
    return make_suite(tmp_path / "suite", ITEMS, scorers=[{"type": "numeric"}], extra={"run": run, **extra})


def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    return httpx.Response(status, headers=headers or {}, request=request, json={"error": {"message": "x"}})


M, P = "m", "openai"


def _wrapped(cause: BaseException) -> BaseException:
    """What LiteLLM raises for a lost connection or an unreadable body: a 500 raised from it."""
    try:
        try:
            raise cause
        except BaseException as inner:
            raise litellm.InternalServerError("OpenAIException - Connection error.", P, M) from inner
    except BaseException as outer:
        return outer


def _status_error(status: int) -> BaseException:
    import openai

    return openai.InternalServerError("Error code: 500", response=_response(status), body=None)


# (what LiteLLM raises, tailgate's error_class or "stop" for a ProviderError, retried?)
EXCEPTIONS: list[tuple[Callable[[], BaseException], str, bool]] = [
    (lambda: litellm.RateLimitError("slow down", P, M, response=_response(429)), "rate_limit", True),
    (lambda: litellm.Timeout("no answer", M, P), "timeout", True),
    (lambda: litellm.APIConnectionError("Connection reset by peer", P, M), "connection", True),
    (lambda: litellm.ServiceUnavailableError("down", P, M, response=_response(503)), "server_error", True),
    (lambda: litellm.BadGatewayError("bad gateway", P, M, response=_response(502)), "server_error", True),
    (lambda: litellm.InternalServerError("internal", P, M, response=_response(500)), "server_error", True),
    (lambda: litellm.APIError(500, "boom", P, M), "server_error", True),
    (lambda: _wrapped(ConnectionResetError("reset by peer")), "connection", True),
    (lambda: _wrapped(httpx.ReadError("server disconnected")), "connection", True),
    (lambda: _wrapped(json.JSONDecodeError("Unterminated string", '{"a', 3)), "malformed_response", True),
    (lambda: _wrapped(httpx.ReadTimeout("read timed out")), "timeout", True),
    (lambda: _wrapped(_status_error(500)), "server_error", True),
    (lambda: litellm.APIError(408, "request timeout", P, M), "timeout", True),
    (lambda: litellm.APIError(429, "slow", P, M), "rate_limit", True),
    (lambda: litellm.APIResponseValidationError("bad body", P, M), "malformed_response", True),
    (lambda: litellm.APIConnectionError("JSONDecodeError: Expecting value: line 1", P, M), "malformed_response", True),
    (lambda: litellm.ContentPolicyViolationError("flagged", M, P), "content_filter", False),
    (lambda: litellm.ContextWindowExceededError("too long", M, P), "client_error", False),
    (lambda: litellm.BadRequestError("bad request", M, P), "client_error", False),
    (lambda: litellm.UnprocessableEntityError("unprocessable", M, P, response=_response(422)), "client_error", False),
    (lambda: litellm.APIError(418, "teapot", P, M), "client_error", False),
    (lambda: KeyError("choices"), "provider_error", False),
    (lambda: litellm.AuthenticationError("bad key", P, M), "stop", False),
    (lambda: litellm.PermissionDeniedError("no", P, M, response=_response(403)), "stop", False),
    (lambda: litellm.NotFoundError("no such model", M, P), "stop", False),
    (lambda: litellm.UnsupportedParamsError("seed is not supported", P, M), "stop", False),
    (lambda: litellm.APIError(401, "unauthorized", P, M), "stop", False),
]


@pytest.mark.parametrize(("make", "expected", "retried"), EXCEPTIONS)
def test_litellm_exceptions_map_onto_faults(make: Callable[[], BaseException], expected: str, retried: bool) -> None:
    mapped = fault_of(make(), MODEL)
    if expected == "stop":
        assert isinstance(mapped, ProviderError)
        return
    assert isinstance(mapped, Fault)
    assert (mapped.error_class, mapped.retryable) == (expected, retried)


def test_rate_limit_keeps_the_retry_after_of_the_response() -> None:
    exc = litellm.RateLimitError("slow", P, M, response=_response(429, {"retry-after-ms": "250"}))
    mapped = fault_of(exc, MODEL)
    assert isinstance(mapped, Fault)
    assert (mapped.status, mapped.retry_after) == (429, 0.25)


def test_mapped_messages_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-litellm-secret-0123456789abcdef"
    monkeypatch.setenv("SOME_PROVIDER_API_KEY", secret)
    for exc in (
        litellm.InternalServerError(f"echoing {secret}", P, M, response=_response(500)),
        litellm.AuthenticationError(f"Incorrect API key provided: {secret}", P, M),
    ):
        assert secret not in str(fault_of(exc, MODEL))


def _provider(spec: str = MODEL, **options: Any) -> LiteLLMProvider:
    provider = create_provider(spec, ProviderOptions(**options))
    assert isinstance(provider, LiteLLMProvider)
    return provider


def test_spec_and_options_make_the_identity() -> None:
    provider = _provider("litellm:openai/smollm2", base_url="http://127.0.0.1:8000/v1/", mode="completion")
    assert provider.name == "litellm:openai/smollm2"
    assert provider.identity() == {
        "provider": "litellm",
        "model": "openai/smollm2",
        "llm_provider": "openai",
        "api_base": "http://127.0.0.1:8000/v1",
        "api_key_id": None,
        "params_not_sent": [],
    }
    assert provider.default_mode() == "completion"
    assert _provider("litellm:openai/smollm2", base_url="http://127.0.0.1:8000/v1").default_mode() == "chat"
    described = provider.describe()
    assert described["litellm"] == version("litellm")
    assert described["api_key_env"] is None


def test_a_provider_with_a_fixed_base_records_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test-0123456789")
    identity = _provider("litellm:groq/llama3").identity()
    assert identity["api_base"] == "https://api.groq.com/openai/v1"
    assert identity["llm_provider"] == "groq"
    assert identity["api_key_id"] is not None


def test_identity_changes_with_the_model_the_base_and_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    base = "http://127.0.0.1:8000/v1"
    identities = [
        _provider("litellm:openai/a", base_url=base).identity(),
        _provider("litellm:openai/b", base_url=base).identity(),
        _provider("litellm:openai/a", base_url="http://127.0.0.1:9000/v1").identity(),
    ]
    monkeypatch.setenv("MY_KEY_1", "first-key-value-123")
    monkeypatch.setenv("MY_KEY_2", "second-key-value-456")
    identities += [_provider("litellm:openai/a", base_url=base, api_key_env=f"MY_KEY_{i}").identity() for i in (1, 2)]
    assert len({json.dumps(i, sort_keys=True) for i in identities}) == 5
    assert all("key-value" not in json.dumps(i) for i in identities)
    # the same spec and options: the same identity (a rerun is answered by the cache)
    assert _provider("litellm:openai/a", base_url=base).identity() == identities[0]


def test_conventional_key_variable_is_used_and_recorded_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-conventional-0123456789")
    provider = _provider("litellm:openai/a", base_url="http://127.0.0.1:8000/v1")
    assert provider.key_env == "OPENAI_API_KEY"
    assert provider.identity()["api_key_id"] is not None
    assert "sk-conventional" not in json.dumps(provider.describe())


@pytest.mark.parametrize(
    ("spec", "options", "error", "match"),
    [
        ("litellm: ", {}, UsageError, "needs a model"),
        ("litellm:no-such-provider-xyz/model", {}, UsageError, "does not know the provider"),
        ("litellm:openai/m", {"base_url": "localhost:8000"}, UsageError, "base URL"),
        ("litellm:openai/m", {"api_key_env": "TAILGATE_TEST_UNSET_KEY"}, ProviderError, "TAILGATE_TEST_UNSET_KEY"),
        ("litellm:openai/gpt-4o-mini", {}, ProviderError, "set OPENAI_API_KEY"),
        ("litellm:anthropic/claude-3-5-haiku", {}, ProviderError, "set ANTHROPIC_API_KEY"),
    ],
)
def test_a_wrong_spec_is_an_error_before_any_call(
    spec: str, options: dict[str, Any], error: type[Exception], match: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(error, match=match):
        create_provider(spec, ProviderOptions(**options))


def test_missing_litellm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "litellm" else real(name, *a))
    with pytest.raises(MissingDependency, match=r"tailgate\[litellm\]"):
        create_provider(MODEL, ProviderOptions())


def test_importing_tailgate_does_not_import_litellm() -> None:
    code = (
        "import sys, tailgate, tailgate.providers, tailgate.runner, tailgate.cli; "
        "from tailgate.providers import create_provider; print('litellm' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, timeout=60)
    assert out.stdout.strip() == "False"


class _Obj:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _chat(content: Any, finish: str = "stop", refusal: str | None = None, usage: Any = None) -> Any:
    message = _Obj(content=content, refusal=refusal)
    return _Obj(
        id="c1",
        model="smollm2",
        choices=[_Obj(message=message, finish_reason=finish)],
        usage=usage if usage is not None else _Obj(prompt_tokens=11, completion_tokens=3),
    )


def test_parse_records_text_tokens_finish_and_served_model() -> None:
    response = _parse(_chat("The answer is 4."), chat=True)
    assert (response.text, response.tokens_in, response.tokens_out, response.finish_reason) == (
        "The answer is 4.",
        11,
        3,
        "stop",
    )
    assert response.meta == {"id": "c1", "model": "smollm2"}
    text = _parse(_Obj(choices=[_Obj(text=" 4", finish_reason="length")], usage=None), chat=False)
    assert (text.text, text.finish_reason, text.tokens_in) == (" 4", "length", None)


@pytest.mark.parametrize(
    ("raw", "error_class"),
    [
        (_chat(None, finish="content_filter"), "content_filter"),
        (_chat("Part", finish="content_filter"), "content_filter"),
        (_chat(None, refusal="I can't help with that."), "refusal"),
        (_Obj(choices=[]), "malformed_response"),
        (_chat(42), "malformed_response"),
    ],
)
def test_withheld_and_unreadable_responses_are_their_own_fault(raw: Any, error_class: str) -> None:
    with pytest.raises(Fault) as err:
        _parse(raw, chat=True)
    assert err.value.error_class == error_class


def _request(text: str = "What is 1+3?") -> Request:
    return Request(Prompt("chat", messages=({"role": "user", "content": text},)), 0.0, 1.0, 16, 0, (), 5.0)


def _call(provider: LiteLLMProvider) -> Any:
    """One generate and the provider's close, on one event loop (as a run does)."""
    import asyncio

    async def main() -> Any:
        try:
            return await provider.generate(_request())
        finally:
            await provider.aclose()

    return asyncio.run(main())


def test_warnings_during_a_call_do_not_turn_an_answer_into_a_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    """A previous attempt scored pydantic's serializer UserWarning (an error under this suite's
    ``filterwarnings = error``) as a malformed response."""

    warnings.simplefilter("error")
    provider = _provider(base_url="http://127.0.0.1:1/v1")

    async def acompletion(**kwargs: Any) -> Any:
        warnings.warn("Pydantic serializer warnings:\n  Expected 9 fields but got 5", UserWarning, stacklevel=1)
        warnings.warn_explicit("deprecated thing", DeprecationWarning, "utils.py", 1, module="litellm.utils")
        return _chat("The answer is 4.")

    monkeypatch.setattr(provider._litellm, "acompletion", acompletion)
    assert _call(provider).text == "The answer is 4."
    with pytest.raises(UserWarning):  # other warnings keep the process's filters
        warnings.warn("someone else's warning", UserWarning, stacklevel=1)


def test_calls_send_no_litellm_retries_no_cache_and_the_decoding(monkeypatch: pytest.MonkeyPatch) -> None:

    seen: list[dict[str, Any]] = []

    async def acompletion(**kwargs: Any) -> Any:
        seen.append(kwargs)
        return _chat("4")

    provider = _provider(base_url="http://127.0.0.1:1/v1")
    monkeypatch.setattr(provider._litellm, "acompletion", acompletion)
    _call(provider)
    sent = seen[0]
    assert (sent["num_retries"], sent["max_retries"], sent["caching"], sent["no-log"]) == (0, 0, False, True)
    assert (sent["model"], sent["api_base"], sent["seed"], sent["max_tokens"]) == (
        "openai/m",
        "http://127.0.0.1:1/v1",
        0,
        16,
    )
    assert (sent["temperature"], sent["top_p"], sent["timeout"]) == (0.0, 1.0, 5.0)
    assert litellm.telemetry is False
    assert litellm.suppress_debug_info is True
    assert litellm.callbacks == []
    assert litellm.success_callback == []
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"


def test_faults_through_litellm_are_retried_recorded_and_never_scored_wrong(tmp_path: Path) -> None:
    plan = FaultPlan(share=0.3, kinds=("429", "500", "reset", "malformed", "timeout"), seed=11, timeout_sleep_s=2.5)
    with FaultServer(plan) as server:
        result = run_sync(
            RunOptions(suite=str(_suite(tmp_path)), model=MODEL, base_url=server.base_url, repeats=2, concurrency=4)
        )
    assert result.status == "completed"
    rows = Store().read_records(result.run_id).to_pylist()
    assert len(rows) == 40
    assert set(server.seen.faults) == {"429", "500", "reset", "malformed", "timeout"}
    seen_classes = {e["class"] for r in rows for e in json.loads(r["attempt_errors"])}
    assert seen_classes == {"rate_limit", "server_error", "connection", "malformed_response", "timeout"}
    # LiteLLM retried nothing itself: one request per attempt, every retry is tailgate's
    assert sum(r["attempts"] for r in rows) == len(server.seen.requests)
    assert sum(r["attempts"] - 1 for r in rows) == sum(server.seen.faults.values())
    assert all(r["error_class"] is None and r["score"] == 1.0 for r in rows)
    assert all(r["tokens_in"] == 10 and r["tokens_out"] == 5 and r["finish_reason"] == "stop" for r in rows)


def test_a_sample_that_never_succeeds_is_unscored(tmp_path: Path) -> None:
    from tailgate.errors import RunFailed

    with FaultServer(FaultPlan(status_always=503)) as server, pytest.raises(RunFailed):
        run_sync(
            RunOptions(
                suite=str(_suite(tmp_path)), model=MODEL, base_url=server.base_url, limit=3, max_attempts=2, run_id="d"
            )
        )
    rows = Store().read_records("d").to_pylist()
    assert all(r["error_class"] == "server_error" and r["score"] is None and r["attempts"] == 2 for r in rows)
    assert len(server.seen.requests) == 6


def test_filtered_and_refused_outputs_through_litellm_are_not_wrong_answers(tmp_path: Path) -> None:
    plan = FaultPlan(share=0.4, kinds=("content_filter", "refusal"), seed=5)
    with FaultServer(plan) as server:
        result = run_sync(RunOptions(suite=str(_suite(tmp_path)), model=MODEL, base_url=server.base_url))
    rows = Store().read_records(result.run_id).to_pylist()
    withheld = [r for r in rows if r["error_class"] is not None]
    assert {r["error_class"] for r in withheld} == {"content_filter", "refusal"}
    assert len(withheld) == sum(server.seen.faults.values())
    assert all(r["attempts"] == 1 and r["output"] is None and r["score"] is None for r in withheld)
    assert all(r["score"] == 1.0 for r in rows if r["error_class"] is None)


def test_bad_key_stops_the_run_and_the_key_is_never_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-litellm-test-abcdefghijklmnop1234"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    plan = FaultPlan(status_always=401, error_body=f"Incorrect API key provided: {secret}")
    with FaultServer(plan) as server, pytest.raises(ProviderError) as err:
        run_sync(RunOptions(suite=str(_suite(tmp_path)), model=MODEL, base_url=server.base_url, limit=2))
    assert "refused the API key" in str(err.value)
    assert secret not in str(err.value)
    assert server.seen.requests[0]["headers"]["Authorization"] == f"Bearer {secret}"
    written = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
    assert secret.encode() not in written


def test_three_runs_in_one_process_reuse_nothing_from_a_closed_loop(tmp_path: Path) -> None:
    """Each run has its own event loop; LiteLLM caches HTTP clients per loop. A previous
    attempt's third run in one process hung. Completion mode goes through atext_completion."""
    with FaultServer() as server:
        for i, mode in enumerate(("chat", "completion", "chat")):
            result = run_sync(
                RunOptions(
                    suite=str(_suite(tmp_path)),
                    model=MODEL,
                    base_url=server.base_url,
                    limit=4,
                    mode=mode,
                    cache=False,
                    run_id=f"r{i}",
                )
            )
            rows = Store().read_records(result.run_id).to_pylist()
            assert all(r["score"] == 1.0 and r["mode"] == mode for r in rows), rows
    paths = [r["path"] for r in server.seen.requests]
    assert paths == ["/v1/chat/completions"] * 4 + ["/v1/completions"] * 4 + ["/v1/chat/completions"] * 4


_GUARD = """
import socket, sys
seen = []
real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo
def connect(self, address):
    if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
        seen.append(address)
        raise OSError("outbound connection refused by the test")
    return real_connect(self, address)
def getaddrinfo(host, *args, **kwargs):
    if host not in ("127.0.0.1", "::1", "localhost", None):
        seen.append(host)
        raise OSError("outbound lookup refused by the test")
    return real_getaddrinfo(host, *args, **kwargs)
socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
import asyncio
from tailgate.providers import ProviderOptions, Request
from tailgate.providers._litellm import LiteLLMProvider
from tailgate.records import Prompt
provider = LiteLLMProvider("openai/m", ProviderOptions(base_url=sys.argv[1]))
request = Request(Prompt("chat", messages=({"role": "user", "content": "What is 2+2?"},)), 0.0, 1.0, 8, 0, (), 10.0)
async def main():
    try:
        return await provider.generate(request)
    finally:
        await provider.aclose()
print(asyncio.run(main()).text)
print("outbound:", seen)
"""


def test_litellm_makes_no_outbound_connection(tmp_path: Path) -> None:
    """Its import and a call reach nothing but the endpoint (no cost map download, no telemetry)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for name in list(env):
        if name.startswith("LITELLM_"):
            del env[name]
    with FaultServer() as server:
        proc = subprocess.run(
            [sys.executable, "-c", _GUARD, server.base_url],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["The answer is 4.", "outbound: []"]


def test_the_provider_meets_the_plugin_contract() -> None:
    from tailgate.testing import check_provider

    with FaultServer() as server:
        check_provider(LiteLLMProvider("openai/m", ProviderOptions(base_url=server.base_url)))
        check_provider(LiteLLMProvider("openai/m", ProviderOptions(base_url=server.base_url, mode="completion")))
    assert len(server.seen.requests) == 2


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"system_fingerprint": "fp_a"}, {"system_fingerprint": "fp_b"}),
        ({"served_model": "m-2024-01"}, {"served_model": "m-2024-06"}),
    ],
    ids=["fingerprint", "served-model-id"],
)
def test_what_litellm_says_was_served_guards_the_cache(
    tmp_path: Path, before: dict[str, str], after: dict[str, str]
) -> None:
    """LiteLLM passes the response's model and system_fingerprint through: a rerun is replayed
    after one check call, a redeploy behind the same URL and name is answered live."""
    suite = _suite(tmp_path)

    def run(server: FaultServer) -> Any:
        return run_sync(RunOptions(suite=str(suite), model=MODEL, base_url=server.base_url, limit=5))

    with FaultServer(FaultPlan(**before)) as server:  # type: ignore[arg-type]
        first = run(server)
        again = run(server)
        calls_again = len(server.seen.requests)
        for name, value in after.items():
            setattr(server.plan, name, value)
        redeployed = run(server)
    assert (first.stats.cached, again.stats.cached, redeployed.stats.cached) == (0, 5, 0)
    assert (calls_again, len(server.seen.requests)) == (5 + 1, 5 + 1 + 1 + 5)
    assert any("cached answers not replayed: the endpoint now serves" in w for w in redeployed.warnings)


def test_a_parameter_the_provider_does_not_take_is_not_sent_and_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anthropic takes no seed: the suite's default ``seed: 0`` must not stop every run."""

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    provider = _provider("litellm:anthropic/claude-3-5-haiku")
    assert provider.identity()["params_not_sent"] == ["seed"]
    seen: list[dict[str, Any]] = []

    async def acompletion(**kwargs: Any) -> Any:
        seen.append(kwargs)
        return _chat("4")

    monkeypatch.setattr(provider._litellm, "acompletion", acompletion)
    _call(provider)
    assert "seed" not in seen[0]
    assert (seen[0]["temperature"], seen[0]["top_p"]) == (0.0, 1.0)
    assert _provider("litellm:openai/m", base_url="http://127.0.0.1:1/v1").identity()["params_not_sent"] == []
