"""API keys never reach records, manifests, exports, logs or error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import tailgate
from tests.support.fault_server import FaultPlan, FaultServer
from tests.support.suites import make_suite

SECRET = "sk-proj-SUPERSECRET0123456789abcdef"


def _everything_written(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_key_is_sent_but_never_written(tmp_path: Path) -> None:
    items = [{"id": str(i), "question": f"What is {i}+1?", "answer": i + 1, "task": "math"} for i in range(6)]
    suite = make_suite(
        tmp_path / "s",
        items,
        scorers=[{"type": "numeric"}],
        extra={"model": {"api_key_env": "MY_LLM_CREDENTIAL"}},
    )
    env = {"MY_LLM_CREDENTIAL": SECRET}
    # a hostile endpoint that echoes the key back in its error messages
    plan = FaultPlan(share=0.5, kinds=("500",), seed=3, error_body=f"internal error for key {SECRET}")
    with FaultServer(plan) as server:
        proc = tailgate(
            "run",
            str(suite),
            "--model",
            "openai:m",
            "--base-url",
            server.base_url,
            "--run-id",
            "s1",
            "--max-attempts",
            "2",
            "--json",
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        assert server.seen.requests[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
        assert server.seen.faults["500"] > 0
        server.plan = FaultPlan(status_always=401, error_body=f"bad key {SECRET}")
        refused = tailgate("run", str(suite), "--model", "openai:m", "--base-url", server.base_url, env=env)
    assert refused.returncode == 2
    assert "refused the API key" in refused.stderr
    exported = tailgate("export", "s1", "--format", "jsonl")
    shown = tailgate("show", "s1", "--json")
    outputs = [
        proc.stdout,
        proc.stderr,
        refused.stdout,
        refused.stderr,
        exported.stdout,
        shown.stdout,
    ]
    for text in outputs:
        assert SECRET not in text
    written = _everything_written(tmp_path / "store")
    assert b"internal error for key ***" in written  # the fault was recorded, the key redacted
    assert SECRET.encode() not in written
    assert b"MY_LLM_CREDENTIAL" in written  # the variable's name is recorded, not its value


def test_key_echoed_in_outputs_is_never_stored(tmp_path: Path) -> None:
    """A canary key that the endpoint echoes back in every successful answer (issue 10, item 12:
    it was stored 1,472 times across journals, the cache, exports and reports)."""
    canary = "canary-7f3a9c1e5b2d4f6a8e0c"  # no sk- or Bearer shape: only knowing the key finds it
    items = [{"id": str(i), "question": f"What is {i}+1?", "answer": i + 1, "task": "math"} for i in range(5)]
    suite = make_suite(tmp_path / "s", items, scorers=[{"type": "numeric"}], repeats=2)
    env = {"OPENAI_API_KEY": canary}
    with FaultServer(FaultPlan(echo_authorization=True)) as server:
        first = tailgate(
            "run", str(suite), "--model", "openai:m", "--base-url", server.base_url, "--run-id", "e1", env=env
        )
        # the second run is answered from the cache: the replay must not bring the key back either
        second = tailgate(
            "run", str(suite), "--model", "openai:m", "--base-url", server.base_url, "--run-id", "e2", env=env
        )
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    rendered = [
        tailgate("export", "e1", "--format", "jsonl").stdout,
        tailgate("show", "e2", "--json").stdout,
        tailgate("report", "e1", "--json").stdout,
        tailgate("report", "e2", "--html", str(tmp_path / "r.html")).stdout,
        (tmp_path / "r.html").read_text(encoding="utf-8"),
    ]
    assert "(you sent Bearer ***)" in rendered[0]  # the output is kept, the key is not
    for text in [first.stdout, first.stderr, second.stdout, second.stderr, *rendered]:
        assert canary not in text
    assert canary.encode() not in _everything_written(tmp_path / "store")


def test_redact_removes_keys_from_messages(monkeypatch: object) -> None:
    from tailgate.providers import redact, register_secret

    register_secret("custom-secret-value-42")
    assert redact("error: custom-secret-value-42 is wrong") == "error: *** is wrong"
    assert "sk-abcdefghijklmnop" not in redact("key sk-abcdefghijklmnop rejected")
    assert redact("Authorization: Bearer abc.def.ghijklmnop") == "Authorization: Bearer ***"


@pytest.mark.timeout(300)
def test_litellm_key_is_sent_but_never_written(tmp_path: Path) -> None:
    """The same through LiteLLM (``litellm:openai/m``): the key from the named variable reaches
    the endpoint, and neither its echo in error messages nor in answers is stored or printed."""
    from tests.support.entry_points import checkout_env

    items = [{"id": str(i), "question": f"What is {i}+1?", "answer": i + 1, "task": "math"} for i in range(6)]
    suite = make_suite(
        tmp_path / "s", items, scorers=[{"type": "numeric"}], extra={"model": {"api_key_env": "MY_LLM_CREDENTIAL"}}
    )
    env = {**checkout_env(tmp_path / "components"), "MY_LLM_CREDENTIAL": SECRET}
    plan = FaultPlan(share=0.5, kinds=("500",), seed=3, error_body=f"internal error for key {SECRET}")
    plan.echo_authorization = True
    with FaultServer(plan) as server:
        args = ("run", str(suite), "--model", "litellm:openai/m", "--base-url", server.base_url)
        proc = tailgate(*args, "--run-id", "l1", "--max-attempts", "3", "--json", env=env)
        assert proc.returncode == 0, proc.stderr
        assert server.seen.requests[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
        assert server.seen.faults["500"] > 0
        server.plan = FaultPlan(status_always=401, error_body=f"bad key {SECRET}")
        refused = tailgate(*args, "--no-cache", env=env)
    assert refused.returncode == 2
    assert "refused the API key" in refused.stderr
    exported = tailgate("export", "l1", "--format", "jsonl", env=env)
    assert "(you sent Bearer ***)" in exported.stdout  # the output is kept, the key is not
    for text in (proc.stdout, proc.stderr, refused.stdout, refused.stderr, exported.stdout):
        assert SECRET not in text
    written = _everything_written(tmp_path / "store")
    assert b"internal error for key ***" in written
    assert SECRET.encode() not in written
    assert b"MY_LLM_CREDENTIAL" in written
