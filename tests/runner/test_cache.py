"""The response cache answers only for the model that answered: a changed function, a redeployed
endpoint or another API key is a different model (issue 10, item 1)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tailgate.errors import RunFailed
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.fault_server import FaultPlan, FaultServer
from tests.support.suites import make_suite

ITEMS = [{"id": str(i), "question": f"What is {i}+{i * 3}?", "answer": i * 4, "task": "math"} for i in range(6)]

MODEL_V1 = "def answer(prompt, params):\n    return 'The answer is 4.'\n"
MODEL_V2 = "def answer(prompt, params):\n    return 'The answer is 5.'\n"


def _suite(tmp_path: Path) -> Path:
    return make_suite(tmp_path / "suite", ITEMS, scorers=[{"type": "numeric"}])


def _run(suite: Path, model: str, **kw: object):  # type: ignore[no-untyped-def]
    return run_sync(RunOptions(suite=str(suite), model=model, **kw))  # type: ignore[arg-type]


def _outputs(run_id: str) -> list[str]:
    return [r["output"] for r in Store().read_records(run_id).to_pylist()]


def test_a_python_model_whose_code_changed_is_not_answered_from_the_cache(tmp_path: Path) -> None:
    model_file = tmp_path / "my_model.py"
    model_file.write_text(MODEL_V1)
    suite = _suite(tmp_path)
    first = _run(suite, f"python:{model_file}:answer")
    assert first.stats.cached == 0
    same = _run(suite, f"python:{model_file}:answer")
    assert same.stats.cached == 6  # unchanged code: replayed
    model_file.write_text(MODEL_V2)
    changed = _run(suite, f"python:{model_file}:answer")
    assert changed.stats.cached == 0
    assert set(_outputs(changed.run_id)) == {"The answer is 5."}


def test_code_identity_hashes_the_source_and_falls_back_to_the_compiled_code() -> None:
    from tailgate.providers._python import code_identity

    namespace: dict[str, object] = {}
    exec(compile(MODEL_V1, "<no file>", "exec"), namespace)  # no source file to read
    other: dict[str, object] = {}
    exec(compile(MODEL_V2, "<no file>", "exec"), other)
    a, b = code_identity(namespace["answer"]), code_identity(other["answer"])
    assert a["module_sha256"] is None
    assert a["source_sha256"] != b["source_sha256"]
    assert code_identity(namespace["answer"]) == a  # stable
    assert code_identity(code_identity)["module_sha256"] is not None


def _openai(suite: Path, server: FaultServer, **kw: object):  # type: ignore[no-untyped-def]
    return _run(suite, "openai:m", base_url=server.base_url, **kw)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"system_fingerprint": "fp_a"}, {"system_fingerprint": "fp_b"}),
        ({"served_model": "m-2024-01"}, {"served_model": "m-2024-06"}),
    ],
    ids=["fingerprint", "served-model-id"],
)
def test_a_redeployed_endpoint_is_not_answered_from_the_cache(
    tmp_path: Path, before: dict[str, str], after: dict[str, str]
) -> None:
    suite = _suite(tmp_path)
    plan = FaultPlan(**before)  # type: ignore[arg-type]
    with FaultServer(plan) as server:
        _openai(suite, server)
        again = _openai(suite, server)  # same deployment: replayed, after one check call
        calls_again = len(server.seen.requests)
        for name, value in after.items():  # redeployed behind the same URL and model name
            setattr(server.plan, name, value)
        redeployed = _openai(suite, server)
    assert again.stats.cached == 6
    assert redeployed.stats.cached == 0
    assert set(_outputs(redeployed.run_id)) == set(_outputs(again.run_id))  # answered live, not replayed
    assert (calls_again, len(server.seen.requests)) == (6 + 1, 6 + 1 + 1 + 6)
    assert any("cached answers not replayed: the endpoint now serves" in w for w in redeployed.warnings)
    session = Store().manifest(redeployed.run_id).as_dict()["sessions"][-1]
    assert "not replayed" in session["cache_not_replayed"]
    assert session["cache_check_calls"] == 1


def test_another_api_key_is_not_answered_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = _suite(tmp_path)
    with FaultServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-first-key-0123456789")
        _openai(suite, server)
        assert _openai(suite, server).stats.cached == 6
        monkeypatch.setenv("OPENAI_API_KEY", "sk-second-key-9876543210")
        other = _openai(suite, server)
    assert other.stats.cached == 0
    # the key's identity is in the manifest, never the key
    manifest = json.dumps(Store().manifest(other.run_id).as_dict())
    assert "sk-second-key" not in manifest
    assert "api_key_id" in manifest
    cache_bytes = (Path(os.environ["TAILGATE_STORE"]) / "cache.sqlite").read_bytes()
    assert b"sk-first-key" not in cache_bytes
    assert b"sk-second-key" not in cache_bytes


def test_a_failed_check_call_replays_nothing(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    with FaultServer() as server:
        _openai(suite, server)
        server.plan.status_always = 503  # the check call (and every call) fails
        with pytest.raises(RunFailed) as failed:  # and with nothing replayed, the run measured nothing
            _openai(suite, server, max_attempts=1)
    session = Store().manifest(str(failed.value.run_id)).as_dict()["sessions"][-1]
    assert session["cached"] == 0
    assert "the check of what the endpoint serves failed" in session["cache_not_replayed"]


def test_refresh_calls_again_and_overwrites_the_cache(tmp_path: Path) -> None:
    model_file = tmp_path / "counter.py"
    counter = tmp_path / "calls.txt"
    counter.write_text("0")
    model_file.write_text(  # answers differ on every call, across processes and reloads
        "from pathlib import Path\n"
        f"COUNTER = Path({str(counter)!r})\n"
        "def answer(prompt, params):\n"
        "    n = int(COUNTER.read_text()) + 1\n"
        "    COUNTER.write_text(str(n))\n"
        "    return f'call {n}'\n"
    )
    suite = _suite(tmp_path)
    first = _run(suite, f"python:{model_file}:answer", concurrency=1)
    refreshed = _run(suite, f"python:{model_file}:answer", refresh=True, concurrency=1)
    assert refreshed.stats.cached == 0
    assert refreshed.stats.calls == 6
    replay = _run(suite, f"python:{model_file}:answer", concurrency=1)
    assert replay.stats.cached == 6
    assert _outputs(replay.run_id) == _outputs(refreshed.run_id) != _outputs(first.run_id)
    assert Store().manifest(refreshed.run_id).as_dict()["execution"]["refresh"] is True


def test_a_gguf_is_identified_by_its_content_hashed_once_per_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tailgate.providers._models import model_sha256

    monkeypatch.setenv("TAILGATE_CACHE_DIR", str(tmp_path / "user-cache"))
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + b"a" * 5000)
    calls: list[Path] = []
    import tailgate.providers._models as models

    real = models.file_sha256
    monkeypatch.setattr(models, "file_sha256", lambda p: calls.append(p) or real(p))
    first = model_sha256(model)
    assert first == hashlib.sha256(model.read_bytes()).hexdigest()
    assert model_sha256(model) == first
    assert len(calls) == 1
    model.write_bytes(b"GGUF" + b"b" * 5000)  # same name and size, new weights
    os.utime(model, ns=(1, 1))
    assert model_sha256(model) != first
    assert len(calls) == 2


def test_paraphrase_and_extractor_calls_are_not_replayed_from_a_redeployed_endpoint(tmp_path: Path) -> None:
    import asyncio

    from tailgate.config import RetryConfig
    from tailgate.providers import ProviderOptions, create_provider
    from tailgate.runner._ask import ask_model

    async def ask(server: FaultServer) -> int:
        provider = create_provider("openai:m", ProviderOptions(base_url=server.base_url))
        cache = Store().cache()
        try:
            _, from_cache = await ask_model(
                provider, ["What is 1+2?", "What is 2+3?"], purpose="paraphrase", temperature=0.0,
                max_tokens=8, seed=0, cache=cache, retry=RetryConfig(), timeout_s=5.0,
            )  # fmt: skip
        finally:
            cache.close()
            await provider.aclose()
        return from_cache

    with FaultServer(FaultPlan(system_fingerprint="fp_a")) as server:
        assert asyncio.run(ask(server)) == 0
        assert asyncio.run(ask(server)) == 2
        server.plan.system_fingerprint = "fp_b"
        assert asyncio.run(ask(server)) == 0
