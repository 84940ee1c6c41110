"""A real OpenAI-compatible server (llama-cpp-python's) driven through the openai: provider."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tailgate.store import Store
from tests.support.cli import tailgate
from tests.support.llama_server import llama_server

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with llama_server("smollm2-135m", "smollm2") as base:
        yield base


def test_chat_through_a_real_server(server: str) -> None:
    proc = tailgate(
        "run",
        "basic",
        "--model",
        "openai:smollm2",
        "--base-url",
        server,
        "--limit",
        "8",
        "--repeats",
        "2",
        "--variants",
        "original",
        "--concurrency",
        "4",
        "-q",
        "--json",
        env={"OPENAI_API_KEY": "sk-local-test-key-123456"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    rows = Store().read_records(out["run_id"]).to_pylist()
    assert len(rows) == 16
    assert all(r["error_class"] is None and r["output"] for r in rows)
    assert all(r["tokens_in"] > 0 and r["finish_reason"] in {"stop", "length"} for r in rows)
    manifest = Store().manifest(out["run_id"]).as_dict()
    assert manifest["model"]["base_url"] == server
    assert manifest["model"]["api_key_env"] == "OPENAI_API_KEY"
    assert "sk-local-test-key-123456" not in json.dumps(manifest)


def test_completions_through_a_real_server(server: str) -> None:
    proc = tailgate(
        "run",
        "basic",
        "--model",
        "openai:smollm2",
        "--base-url",
        server,
        "--limit",
        "4",
        "--variants",
        "original",
        "--mode",
        "completion",
        "-q",
        "--json",
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    rows = Store().read_records(json.loads(proc.stdout)["run_id"]).to_pylist()
    assert {r["mode"] for r in rows} == {"completion"}
    assert all(r["error_class"] is None for r in rows)
