"""Whatever the candidate does, the client sees the primary's answer, on the primary's time; every
mirror that did not make it is counted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.shadow._servers import Behaviour, Upstream, chat_body, request, shadowed, wait_for

CHAOS = {
    "down": None,
    "500": Behaviour(kind="status", status=500, body=b"boom"),
    "hang": Behaviour(kind="hang", hang_s=10.0),
    "garbage": Behaviour(kind="garbage"),
    "reset": Behaviour(kind="reset"),
    "slow": Behaviour(kind="slow", chunk_delay_s=1.0, chunks=5),
}
EXPECTED_CLASS = {
    "down": "connection",
    "500": "server_error",
    "hang": "timeout",
    "garbage": "malformed_response",
    "reset": "connection",
    "slow": "timeout",
}


@pytest.mark.parametrize("chaos", sorted(CHAOS))
@pytest.mark.parametrize("stream", [False, True])
def test_candidate_chaos_never_reaches_the_client(chaos: str, stream: bool) -> None:
    behaviour = CHAOS[chaos]
    n = 6
    with Upstream("primary") as primary:
        candidate = Upstream("candidate", behaviour)
        started = chaos != "down"
        if started:
            candidate.__enter__()
        try:
            with shadowed(primary, [candidate], mirror_timeout=1.5, mirror_concurrency=2) as proxy:
                for i in range(n):
                    body = chat_body(f"q{i}", stream=stream)
                    direct = request(primary.url, "/v1/chat/completions", body)
                    t0 = time.perf_counter()
                    through = request(proxy.url, "/v1/chat/completions", body)
                    elapsed = time.perf_counter() - t0
                    assert through[0] == 200
                    assert through[3] == direct[3]
                    assert elapsed < 0.5, f"{chaos}: the client waited {elapsed:.2f} s"
                wait_for(lambda: proxy.proxy.health()["records"].get("candidate", 0) == n, 20)
                counts = proxy.proxy.health()["counts"]
                assert counts[f"failed.candidate.{EXPECTED_CLASS[chaos]}"] == n, counts
                metrics = request(proxy.url, "/metrics", method="GET")[3].decode()
                line = f'tailgate_shadow_failed_total{{error_class="{EXPECTED_CLASS[chaos]}",target="candidate"}} {n}.0'
                assert line in metrics
        finally:
            if started:
                candidate.__exit__()


def test_a_full_queue_drops_and_counts() -> None:
    hold = Behaviour(kind="hang", hang_s=3.0)
    with (
        Upstream("primary") as primary,
        Upstream("candidate", hold) as cand,
        shadowed(primary, [cand], queue=2, mirror_concurrency=1, mirror_timeout=5.0, grace=0.5) as proxy,
    ):
        assert request(proxy.url, "/v1/chat/completions", chat_body("q0"))[0] == 200
        wait_for(lambda: len(cand.seen) == 1)  # the first mirror is in flight (its call hangs 3 s)
        for i in range(1, 10):  # (the worker may read these in one burst: the outcome is the same)
            assert request(proxy.url, "/v1/chat/completions", chat_body(f"q{i}"))[0] == 200
        wait_for(
            lambda: sum(proxy.proxy.health()["counts"].get(k, 0) for k in ("mirrored", "dropped.queue_full")) == 10
        )
        counts = proxy.proxy.health()["counts"]
        # one in flight, two waiting, the rest dropped
        assert (counts["mirrored"], counts["dropped.queue_full"]) == (3, 7), counts
    summary = proxy.summary
    # at shutdown the two waiting are dropped(shutdown), the one in flight is cut after the grace
    assert summary["dropped.shutdown"] == 3
    assert summary["dropped.queue_full"] == 7
    assert summary["records"]["candidate"] == 0


@pytest.mark.parametrize(
    ("extra", "headers", "reason"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, {}, "tools"),
        ({"tool_choice": "auto"}, {}, "tools"),
        ({"functions": [{"name": "f"}]}, {}, "tools"),
        ({}, {"Idempotency-Key": "abc"}, "no_mirror_header"),
        ({}, {"X-Tailgate-No-Mirror": "1"}, "no_mirror_header"),
    ],
)
def test_tools_and_non_idempotent_requests_are_not_mirrored(
    extra: dict[str, object], headers: dict[str, str], reason: str
) -> None:
    with Upstream("primary") as primary, Upstream("candidate") as cand, shadowed(primary, [cand]) as proxy:
        assert request(proxy.url, "/v1/chat/completions", chat_body("q", **extra), headers)[0] == 200
        wait_for(lambda: proxy.proxy.health()["counts"].get(f"skipped.{reason}") == 1)
        time.sleep(0.1)
        assert cand.seen == []


def test_mirror_tools_mirrors_them() -> None:
    extra = {"tools": [{"type": "function", "function": {"name": "f"}}]}
    with (
        Upstream("primary") as primary,
        Upstream("candidate") as cand,
        shadowed(primary, [cand], mirror_tools=True) as proxy,
    ):
        request(proxy.url, "/v1/chat/completions", chat_body("q", **extra))
        wait_for(lambda: len(cand.seen) == 1)


CANARY_CLIENT = "sk-client-CANARY-7f3a9c2e1d"
CANARY_CANDIDATE = "sk-cand-CANARY-b81e44d09a"


def test_keys_go_where_they_belong_and_are_stored_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SHADOW_TEST_KEY", CANARY_CANDIDATE)
    caplog.set_level("DEBUG")
    # hostile upstreams: both echo what they can into their answers and errors
    primary_b = Behaviour()
    with (
        Upstream("primary", primary_b) as primary,
        Upstream("candidate") as cand,
        Upstream(
            "failing", Behaviour(kind="status", status=401, body=f"bad key {CANARY_CANDIDATE}".encode())
        ) as failing,
    ):
        store = tmp_path / "store"
        with shadowed(
            primary, [cand, failing], candidate_key_env="SHADOW_TEST_KEY", noise=1.0, store=str(store), run_id="canary"
        ) as proxy:
            headers = {"Authorization": f"Bearer {CANARY_CLIENT}"}
            for i in range(5):
                body = chat_body(f"q{i} my key is {CANARY_CLIENT}", stream=i % 2 == 1)
                assert request(proxy.url, "/v1/chat/completions", body, headers)[0] == 200
            wait_for(lambda: proxy.proxy.health()["records"].get("noise", 0) == 5)
            metrics = request(proxy.url, "/metrics", method="GET")[3].decode()
            health = request(proxy.url, "/healthz", method="GET")[3].decode()
    # the candidates got the env var's key, never the client's
    for upstream in (cand, failing):
        assert upstream.seen
        assert all(s.headers.get("Authorization") == f"Bearer {CANARY_CANDIDATE}" for s in upstream.seen)
    # the primary (and its noise re-sample) got the client's
    assert all(s.headers.get("Authorization") == f"Bearer {CANARY_CLIENT}" for s in primary.seen)
    texts = [metrics, health, caplog.text, json.dumps(proxy.summary)]
    texts += [
        p.read_bytes().decode("utf-8", "replace") for p in store.rglob("*") if p.is_file() and p.suffix != ".parquet"
    ]
    for part in store.rglob("*.parquet"):
        import pyarrow.parquet as pq

        texts.append(json.dumps(pq.read_table(part).to_pylist(), default=str))
    for text in texts:
        assert CANARY_CLIENT not in text
        assert CANARY_CANDIDATE not in text


def test_an_endless_answer_is_cut_and_counted() -> None:
    huge = Behaviour(kind="status", status=200, body=b"x" * 50_000)
    with (
        Upstream("primary") as primary,
        Upstream("candidate", huge) as cand,
        shadowed(primary, [cand], max_answer=1000) as proxy,
    ):
        assert request(proxy.url, "/v1/chat/completions", chat_body("q"))[0] == 200
        wait_for(lambda: proxy.proxy.health()["counts"].get("failed.candidate.malformed_response") == 1)
