"""The litellm: provider through LiteLLM against a real OpenAI-compatible server
(``python -m llama_cpp.server`` with SmolLM2-135M), through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tailgate.store import Store
from tests.support.cli import tailgate
from tests.support.entry_points import checkout_env
from tests.support.llama_server import llama_server

pytestmark = [pytest.mark.model, pytest.mark.timeout(900)]

KEY = "sk-litellm-local-key-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with llama_server("smollm2-135m", "smollm2") as base:
        yield base


def _run(server: str, tmp: str, *extra: str) -> dict[str, object]:
    from pathlib import Path

    env = {**checkout_env(Path(tmp) / "components"), "OPENAI_API_KEY": KEY}
    proc = tailgate(
        "run",
        "basic",
        "--model",
        "litellm:openai/smollm2",
        "--base-url",
        server,
        "--limit",
        "4",
        "--repeats",
        "2",
        "--variants",
        "original",
        "--concurrency",
        "2",
        "-q",
        "--json",
        *extra,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert KEY not in proc.stdout + proc.stderr
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def test_a_run_through_litellm_is_stored_and_a_rerun_is_answered_by_the_cache(server: str, tmp_path: object) -> None:
    first = _run(server, str(tmp_path))
    rows = Store().read_records(str(first["run_id"])).to_pylist()
    assert len(rows) == 8
    assert all(r["error_class"] is None and r["output"] for r in rows)
    assert all(r["tokens_in"] > 0 and r["tokens_out"] > 0 for r in rows)
    assert all(r["finish_reason"] in {"stop", "length"} for r in rows)
    assert all(r["latency_ms"] > 0 and not r["cached"] for r in rows)
    manifest = Store().manifest(str(first["run_id"])).as_dict()
    assert manifest["model"]["provider"] == "litellm"
    assert manifest["model"]["api_base"] == server
    assert manifest["model"]["api_key_env"] == "OPENAI_API_KEY"
    assert KEY not in json.dumps(manifest)

    second = _run(server, str(tmp_path))
    replayed = Store().read_records(str(second["run_id"])).to_pylist()
    assert len(replayed) == 8
    assert all(r["cached"] and r["attempts"] == 0 for r in replayed)
    by_sample = {(r["item_id"], r["repeat"]): r["output"] for r in rows}
    assert {(r["item_id"], r["repeat"]): r["output"] for r in replayed} == by_sample
    written = b"".join(p.read_bytes() for p in Store().root.rglob("*") if p.is_file())
    assert KEY.encode() not in written


def test_completion_mode_through_litellm(server: str, tmp_path: object) -> None:
    out = _run(server, str(tmp_path), "--mode", "completion", "--no-cache")
    rows = Store().read_records(str(out["run_id"])).to_pylist()
    assert {r["mode"] for r in rows} == {"completion"}
    assert all(r["error_class"] is None and r["tokens_out"] > 0 for r in rows)
