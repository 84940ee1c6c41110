"""The proxy's own endpoints, compression and the traffic-rows option."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tailgate.store import Store
from tailgate.traffic import TrafficTable
from tests.shadow._servers import Behaviour, Upstream, chat_body, request, shadowed, wait_for


def test_healthz_and_metrics() -> None:
    with Upstream("primary") as primary, Upstream("candidate") as cand, shadowed(primary, [cand], noise=1.0) as proxy:
        for i in range(3):
            request(proxy.url, "/v1/chat/completions", chat_body(f"q{i}"))
        request(proxy.url, "/v1/chat/completions", chat_body("t", tools=[{"type": "function"}]))
        # the mirror thread decides on each request after its answer: wait for all four decisions
        wait_for(
            lambda: (
                proxy.proxy.health()["records"].get("noise", 0) == 3
                and proxy.proxy.health()["counts"].get("skipped.tools", 0) == 1
            )
        )
        for prefix in ("", "/_tailgate"):
            status, _, headers, body = request(proxy.url, f"{prefix}/healthz", method="GET")
            health = json.loads(body)
            assert status == 200
            assert health["status"] == "ok"
            assert health["counts"]["mirrored"] == 3
            assert health["counts"]["skipped.tools"] == 1
            status, _, headers, body = request(proxy.url, f"{prefix}/metrics", method="GET")
            text = body.decode()
            assert status == 200
            assert dict(headers)["Content-Type"].startswith("text/plain")
            assert "tailgate_shadow_mirrored_total 3.0" in text
            assert "tailgate_shadow_noise_total 3.0" in text
            assert 'tailgate_shadow_skipped_total{reason="tools"} 1.0' in text
            assert 'tailgate_shadow_added_latency_seconds_count{phase="ttfb"} 4.0' in text
            assert 'tailgate_shadow_upstream_latency_seconds_count{phase="total",target="candidate"} 3.0' in text
            assert 'tailgate_shadow_upstream_latency_seconds_count{phase="total",target="noise"} 3.0' in text
        assert primary.seen[-1].path == "/v1/chat/completions"  # the admin paths never reach the primary


def test_gzip_from_the_primary_reaches_the_client_as_gzip_and_is_recorded(tmp_path: Path) -> None:
    answer = {"choices": [{"index": 0, "message": {"content": "zipped"}, "finish_reason": "stop"}]}
    packed = gzip.compress(json.dumps(answer).encode())
    behaviour = Behaviour(
        kind="status", status=200, body=packed, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )
    store = Store(tmp_path / "store")
    with (
        Upstream("primary", behaviour) as primary,
        Upstream("candidate") as cand,
        shadowed(primary, [cand], store=str(store.root), run_id="gz") as proxy,
    ):
        status, _, headers, body = request(
            proxy.url, "/v1/chat/completions", chat_body("x"), {"Accept-Encoding": "gzip"}
        )
        assert status == 200
        assert body == packed
        assert dict(headers)["Content-Encoding"] == "gzip"
        wait_for(lambda: proxy.proxy.health()["records"].get("primary", 0) == 1)
    (record,) = store.read_records("gz-primary").to_pylist()
    assert record["output"] == "zipped"


def test_traffic_rows_mirrored_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with (
        Upstream("primary") as primary,
        Upstream("candidate") as cand,
        shadowed(primary, [cand], store=str(store.root), run_id="tr", sample=0.5, traffic_rows="mirrored") as proxy,
    ):
        for i in range(40):
            request(proxy.url, "/v1/chat/completions", chat_body(f"q{i}"))
        wait_for(
            lambda: (
                proxy.proxy.health()["counts"].get("mirrored", 0) + proxy.proxy.health()["counts"].get("not_sampled", 0)
                == 40
            )
        )
        mirrored = proxy.proxy.health()["counts"]["mirrored"]
        wait_for(lambda: proxy.proxy.health()["records"].get("candidate", 0) == mirrored)
        # /metrics alone accounts for every mirrorable request: sampled out + mirrored
        text = request(proxy.url, "/metrics", method="GET")[3].decode()
        assert 'tailgate_shadow_requests_total{kind="mirrorable"} 40.0' in text
        assert f"tailgate_shadow_mirrored_total {float(mirrored)}" in text
        assert f"tailgate_shadow_not_sampled_total {float(40 - mirrored)}" in text
    assert 0 < mirrored < 40
    rows = TrafficTable(store.traffic_dir).read().to_pylist()
    assert len(rows) == mirrored
    assert all(json.loads(r["columns"])["mirrored"] for r in rows)


def test_a_client_that_goes_away_mid_stream_is_counted() -> None:
    import http.client
    import threading

    hold = threading.Event()
    with (
        Upstream("primary", Behaviour(chunks=3, hold_last=hold)) as primary,
        Upstream("candidate") as cand,
        shadowed(primary, [cand]) as proxy,
    ):
        conn = http.client.HTTPConnection("127.0.0.1", proxy.proxy.port, timeout=20)
        conn.request("POST", "/v1/chat/completions", chat_body("bye", stream=True))
        resp = conn.getresponse()
        assert resp.read1(65536).startswith(b"data: ")
        conn.sock.close()
        conn.close()
        hold.set()
        wait_for(lambda: proxy.proxy.health()["counts"].get("skipped.client_disconnected", 0) == 1)
        assert request(proxy.url, "/v1/chat/completions", chat_body("still fine"))[0] == 200
        wait_for(lambda: len(cand.seen) == 1)


def test_a_port_in_use_and_a_locked_session_are_clean_errors(tmp_path: Path) -> None:
    import pytest

    from tailgate.errors import RunLocked, UsageError
    from tailgate.shadow import ShadowConfig
    from tests.shadow._servers import ProxyThread

    store = str(tmp_path / "store")
    with Upstream("primary") as primary, Upstream("candidate") as cand:
        with shadowed(primary, [cand], store=store, run_id="busy") as first:
            clash = ShadowConfig(primary.url, (cand.url,), port=first.proxy.port, store=store, run_id="other")
            with pytest.raises(UsageError, match="cannot listen"), ProxyThread(clash):
                pass
            again = ShadowConfig(primary.url, (cand.url,), port=0, store=store, run_id="busy")
            with pytest.raises(RunLocked), ProxyThread(again):
                pass
        assert Store(store).manifest("other-primary").status == "failed"
