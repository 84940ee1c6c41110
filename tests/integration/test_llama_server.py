"""A real OpenAI-compatible server (llama-cpp-python's) driven through the openai: provider."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailgate.providers import resolve_local_model
from tailgate.store import Store
from tests.support.cli import tailgate

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    model = resolve_local_model("smollm2-135m").path
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-server-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                # llama_cpp.server, with the local provider's safe loading (no extra weight buffers:
                # they crash llama.cpp on AMX CPUs)
                "import runpy; from tailgate.providers._local import without_extra_buffers; "
                "without_extra_buffers(); runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "4096",
                "--model_alias",
                "smollm2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama_cpp.server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


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
