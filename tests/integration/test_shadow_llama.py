"""``tailgate shadow`` in front of REAL servers: two ``python -m llama_cpp.server`` (issue 13).

SmolLM2-135M is the primary, Gemma 3 270M the candidate; the proxy runs as a user runs it (a
subprocess, ``tailgate shadow``). A client sends 20 chat requests, half streamed, each also sent
directly to the primary: the client sees through the proxy what a direct call gives (status,
headers that matter, the same JSON shape, valid SSE ending in ``[DONE]``); every request is recorded
in RUN-primary and RUN-candidate; ``tailgate report`` and ``tailgate compare`` work on them.

Both servers demand a key (``--api_key``): the primary the client's, the candidate its own, given to
the proxy in ``TAILGATE_CANDIDATE_API_KEY``. A candidate call carrying the client's key (or none)
would be refused and recorded as a client error. Both keys are canaries: they must appear 0 times in
the store's files, the proxy's output, ``/metrics``, ``/healthz`` and the reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tailgate.store import Store
from tests.support.cli import REPO, tailgate
from tests.support.llama_server import free_port, llama_server

pytestmark = pytest.mark.model

CLIENT_KEY = "sk-client-canary-5e1b7c93d2a8"
CANDIDATE_KEY = "sk-candidate-canary-a40f6e28b7c1"
RUN = "shadow-llama-it"
N_REQUESTS = 20


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes


@dataclass
class Session:
    store: Path
    pairs: list[tuple[bool, Reply, Reply]] = field(default_factory=list)  # (streamed, direct, proxied)
    metrics: str = ""
    health: str = ""
    output: str = ""
    exit_code: int | None = None


def _post(url: str, body: dict[str, Any]) -> Reply:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {CLIENT_KEY}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return Reply(resp.status, resp.headers.get("Content-Type", ""), resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.headers.get("Content-Type", ""), exc.read())


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode())


def _events(body: bytes) -> list[str]:
    """The ``data:`` payloads of an SSE body (comments such as ``: ping`` left out)."""
    lines = body.decode().replace("\r\n", "\n").split("\n")
    return [line[len("data:") :].strip() for line in lines if line.startswith("data:")]


def _wait_idle(base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = json.loads(_get(f"{base}/healthz"))
        if not health.get("queue") and not health.get("in_flight_mirrors"):
            return
        time.sleep(0.2)
    raise AssertionError(f"mirrors still pending after {timeout:.0f} s: {health}")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    folder = tmp_path_factory.mktemp("shadow-llama")
    result = Session(store=folder / "store")
    # --interrupt_requests False: by default llama_cpp.server cuts a running stream short when the
    # next request arrives (mirrors and noise calls overlap the client's next request)
    common = ("--interrupt_requests", "False")
    with (
        llama_server("smollm2-135m", "smollm2", "--api_key", CLIENT_KEY, *common, n_ctx=2048) as primary,
        llama_server("gemma3-270m", "gemma", "--chat_format", "gemma", "--api_key", CANDIDATE_KEY, *common) as cand,
    ):
        port = free_port()
        log = folder / "proxy.log"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
            "TAILGATE_STORE": str(result.store),
            "TAILGATE_CANDIDATE_API_KEY": CANDIDATE_KEY,
        }
        env.pop("OPENAI_API_KEY", None)
        # base URLs without /v1: the proxy appends the client's path (/v1/chat/completions)
        cmd = [sys.executable, "-m", "tailgate", "shadow", "--primary", primary.removesuffix("/v1")]
        cmd += ["--candidate", cand.removesuffix("/v1")]
        cmd += ["--listen", f"127.0.0.1:{port}", "--sample", "1.0", "--noise", "0.25", "--run-id", RUN]
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, proc, log)
            for i in range(N_REQUESTS):
                stream = i % 2 == 1
                body = {
                    "model": "smollm2",
                    "messages": [{"role": "user", "content": f"Name a colour and the number {i}."}],
                    "max_tokens": 12,
                    "temperature": 0.0,
                    "stream": stream,
                }
                direct = _post(f"{primary}/chat/completions", body)
                proxied = _post(f"{base}/v1/chat/completions", body)
                result.pairs.append((stream, direct, proxied))
            _wait_idle(base)
            result.metrics = _get(f"{base}/metrics")
            result.health = _get(f"{base}/healthz")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                result.exit_code = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            result.output = log.read_text(errors="replace")
        yield result


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            _get(f"{base}/healthz")
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tailgate shadow did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)


def test_the_client_sees_what_a_direct_call_gives(session: Session) -> None:
    assert len(session.pairs) == N_REQUESTS
    for stream, direct, proxied in session.pairs:
        assert proxied.status == direct.status == 200, proxied.body[:300]
        assert proxied.content_type.split(";")[0] == direct.content_type.split(";")[0]
        if not stream:
            want, got = json.loads(direct.body), json.loads(proxied.body)
            assert set(got) == set(want)
            assert got["object"] == want["object"] == "chat.completion"
            assert set(got["choices"][0]) == set(want["choices"][0])
            assert isinstance(got["choices"][0]["message"]["content"], str)
            continue
        want_events, got_events = _events(direct.body), _events(proxied.body)
        assert got_events[-1] == want_events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in got_events[:-1]]
        assert chunks, proxied.body[:300]
        assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
        assert {tuple(sorted(c)) for c in chunks} == {tuple(sorted(json.loads(e))) for e in want_events[:-1]}


def test_every_request_is_recorded_for_both_models(session: Session) -> None:
    assert session.exit_code == 0, session.output[-2000:]
    store = Store(session.store)
    primary = store.read_records(f"{RUN}-primary").to_pylist()
    candidate = store.read_records(f"{RUN}-candidate").to_pylist()
    assert len(primary) == len(candidate) == N_REQUESTS
    assert {r["sample_id"] for r in primary} == {r["sample_id"] for r in candidate}
    assert {r["model"] for r in primary} == {"primary"}
    assert {r["model"] for r in candidate} == {"candidate"}
    for row in primary + candidate:
        # the candidate refuses any key but its own: an error here would say the proxy sent the client's
        assert row["error_class"] is None, (row["model"], row["error_class"], row["error_message"])
        assert row["output"], row
        assert row["finish_reason"] in {"stop", "length"}, row  # a whole answer, streamed or not
        assert row["latency_ms"] > 0
    assert {r["mode"] for r in primary} == {"chat"}
    # usage comes with the non-streamed answers (llama_cpp.server sends none in a stream)
    for rows in (primary, candidate):
        assert sum((r["tokens_out"] or 0) > 0 for r in rows) >= N_REQUESTS // 2
    noise = store.read_records(f"{RUN}-noise").to_pylist()
    assert 0 < len(noise) < N_REQUESTS  # --noise 0.25: a hash of each key decides (6 of these 20)
    assert all(r["error_class"] is None for r in noise)


def test_report_and_compare_work_on_the_shadow_runs(session: Session) -> None:
    env = {"TAILGATE_STORE": str(session.store)}
    report = tailgate("report", f"{RUN}-primary", env=env, timeout=300)
    assert report.returncode == 0, report.stderr
    compare = tailgate("compare", f"{RUN}-primary", f"{RUN}-candidate", env=env, timeout=300)
    assert compare.returncode == 0, compare.stderr
    for text in (report.stdout, report.stderr, compare.stdout, compare.stderr):
        assert CLIENT_KEY not in text
        assert CANDIDATE_KEY not in text


def test_canary_keys_are_nowhere(session: Session) -> None:
    assert session.store.is_dir()
    files = [p for p in session.store.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for key in (CLIENT_KEY, CANDIDATE_KEY):
            assert key.encode() not in data, f"{key[:12]}... found in {path.relative_to(session.store)}"
    for name, text in (("proxy output", session.output), ("/metrics", session.metrics), ("/healthz", session.health)):
        assert text, name
        assert CLIENT_KEY not in text, name
        assert CANDIDATE_KEY not in text, name


def test_the_shadow_report_sees_gemma_differ(session: Session) -> None:
    """At temperature 0 the primary answers the same twice (noise agreement 1): Gemma, a different
    model, must come out "differs" -- and `compare` on the pair carries the same verdict."""
    env = {"TAILGATE_STORE": str(session.store)}
    report = tailgate("shadow", "report", RUN, "--json", "-", env=env, timeout=300)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["n_noise_items"] > 0
    (candidate,) = data["candidates"]
    assert candidate["verdict"] == "differs", candidate
    compare = tailgate("compare", f"{RUN}-primary", f"{RUN}-candidate", "--json", "-", env=env, timeout=300)
    assert compare.returncode == 0, compare.stderr
    assert json.loads(compare.stdout)["shadow"]["candidates"][0]["verdict"] == "differs"


def test_a_primary_mirrored_to_itself_shows_no_difference(tmp_path: Path) -> None:
    """The issue's A/A setup end to end: SmolLM2 behind the proxy, mirrored to itself, with a noise
    share; at temperature 0 candidate and noise answers are the primary's: "no difference"."""
    store = tmp_path / "store"
    run = "shadow-aa"
    with llama_server("smollm2-135m", "smollm2", "--interrupt_requests", "False", n_ctx=2048) as primary:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
               "TAILGATE_STORE": str(store)}  # fmt: skip
        root = primary.removesuffix("/v1")
        cmd = [sys.executable, "-m", "tailgate", "shadow", "--primary", root, "--candidate", root, "--quiet",
               "--listen", f"127.0.0.1:{port}", "--sample", "1.0", "--noise", "0.5", "--run-id", run]  # fmt: skip
        log = tmp_path / "proxy.log"
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, proc, log)
            for i in range(16):
                body = {"model": "smollm2", "max_tokens": 12, "temperature": 0.0, "stream": i % 2 == 1,
                        "messages": [{"role": "user", "content": f"Name a fruit and the number {i}."}]}  # fmt: skip
                assert _post(f"{base}/v1/chat/completions", body).status == 200
            _wait_idle(base)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, log.read_text()[-2000:]
    report = tailgate("shadow", "report", run, "--json", "-", env={"TAILGATE_STORE": str(store)}, timeout=300)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["n_items"] == 16
    assert data["n_noise_items"] > 0
    assert data["candidates"][0]["verdict"] == "no difference beyond noise", data["candidates"][0]
