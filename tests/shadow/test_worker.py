"""The proxy's two processes: the frames between them, counters summed across the boundary and
exact at the end, a worker that dies noticed while the primary path goes on."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

import pytest
from multidict import CIMultiDict
from prometheus_client.parser import text_string_to_metric_families

import tailgate
from tailgate.shadow import mirror_share, request_key
from tailgate.shadow._metrics import Metrics
from tailgate.shadow._primary import forward_head
from tailgate.shadow._wire import HEADER, captured_frame, header_dict, iso_utc, read_captured
from tailgate.store import Store, utc_now
from tests.shadow._servers import Upstream, chat_body, request, shadowed, wait_for


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_a_captured_frame_round_trips_bytes_and_fields() -> None:
    body = b'{"messages": [{"content": "\\u00fc \xff raw"}]}'  # not valid UTF-8: bytes travel as bytes
    chunks = [b"data: one\n\n", b"", b"data: \x00two\n\n"]
    lines = b"Authorization: Bearer k\r\nX-A: 1\r\nx-a: 2\r\nX-Empty: \r\nX-\xc3\xbc: \xc3\xbc\r\n"
    head = ["chat", "/v1/chat/completions", 200, None, 1_764_806_400_000_017, 1_764_806_401_250_000, None, 12.5, "k"]
    head += [None]
    buffers = captured_frame(head, lines, body, chunks, sum(map(len, chunks)))
    data = b"".join(buffers)
    length, _kind = HEADER.unpack_from(data)
    assert length == len(data) - HEADER.size
    mode, captured = read_captured(data[HEADER.size :])
    assert mode == "chat"
    assert captured.body == body
    assert captured.response == b"".join(chunks)
    # as dict(CIMultiDict(...)) of the same headers: the first line of a name, as sent
    assert captured.headers == {"Authorization": "Bearer k", "X-A": "1", "X-Empty": "", "X-ü": "ü"}
    assert (captured.status, captured.encoding, captured.timestamp_us) == (200, None, 1_764_806_400_000_017)
    # 1764806400 s after the epoch is 2025-12-04T00:00:00Z (20,426 days of 86,400 s)
    assert (captured.started_at, captured.ended_at) == ("2025-12-04T00:00:00.000017Z", "2025-12-04T00:00:01.250000Z")
    assert (captured.ttft_ms, captured.latency_ms, captured.secret, captured.error) == (None, 12.5, "k", None)


def test_times_are_formatted_as_the_store_formats_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker formats the proxy's integer microseconds as ``utc_now`` formats the clock."""
    import tailgate.store._store as store_module

    for seconds in (1_764_806_400.5, 1_764_806_399.25, 0.0):  # (exact in binary: no rounding between the two)
        monkeypatch.setattr(store_module.time, "time", lambda s=seconds: s)
        assert iso_utc(int(seconds * 1_000_000)) == utc_now()
    assert iso_utc(1_764_806_400_500_000) == "2025-12-04T00:00:00.500000Z"


def test_header_lines_decode_as_the_proxys_headers_did() -> None:
    raw = ((b"Content-Type", b"application/json"), (b"X-Dup", b"a"), (b"x-dup", b"b"), (b"Host", b"h"))
    expected = dict(CIMultiDict((k.decode(), v.decode()) for k, v in raw if k != b"Host"))
    assert header_dict(forward_head(raw)) == expected == {"Content-Type": "application/json", "X-Dup": "a"}


def test_metrics_of_both_processes_are_summed() -> None:
    proxy, worker = Metrics(), Metrics()
    proxy.requests.labels("mirrorable").inc(7)
    proxy.skip("client_disconnected")
    proxy.dropped.labels("intake_full").inc()
    proxy.count("dropped.intake_full")
    proxy.added.labels("total").observe(0.0003)
    worker.mirrored.inc(4)
    worker.count("mirrored", 4)
    worker.not_sampled.inc()
    worker.count("not_sampled")
    worker.dropped.labels("queue_full").inc()
    worker.count("dropped.queue_full")
    worker.skip("client_disconnected")  # (never on both sides in the proxy; summed all the same)
    worker.upstream.labels("candidate", "total").observe(0.02)
    worker.upstream.labels("candidate", "total").observe(3.0)
    worker.queue_depth.set(2)
    exported = json.loads(json.dumps(worker.export()))  # what crosses the socket is JSON
    proxy.peer = lambda: exported
    assert proxy.snapshot() == {
        "dropped.intake_full": 1,
        "dropped.queue_full": 1,
        "mirrored": 4,
        "not_sampled": 1,
        "skipped.client_disconnected": 2,
    }
    text = proxy.text().decode()
    assert text.count("# TYPE tailgate_shadow_dropped_total counter") == 1  # one family, both sides' samples
    s = _samples(text)
    assert s[("tailgate_shadow_requests_total", (("kind", "mirrorable"),))] == 7
    assert s[("tailgate_shadow_mirrored_total", ())] == 4
    assert s[("tailgate_shadow_not_sampled_total", ())] == 1
    assert s[("tailgate_shadow_dropped_total", (("reason", "intake_full"),))] == 1
    assert s[("tailgate_shadow_dropped_total", (("reason", "queue_full"),))] == 1
    assert s[("tailgate_shadow_skipped_total", (("reason", "client_disconnected"),))] == 2
    assert s[("tailgate_shadow_queue_depth", ())] == 2
    cand = (("phase", "total"), ("target", "candidate"))
    assert s[("tailgate_shadow_upstream_latency_seconds_count", cand)] == 2
    assert s[("tailgate_shadow_upstream_latency_seconds_sum", cand)] == pytest.approx(3.02)
    assert s[("tailgate_shadow_upstream_latency_seconds_bucket", (("le", "0.025"), *cand))] == 1
    assert s[("tailgate_shadow_added_latency_seconds_count", (("phase", "total"),))] == 1


def test_counters_are_exact_across_the_process_boundary(tmp_path: Path) -> None:
    """Stopped right after the last request (no waiting): every count is final and agrees with
    one computed here from the requests alone, in the summary, /metrics and the manifests."""
    store = Store(tmp_path / "store")
    path = "/v1/chat/completions"
    bodies = [chat_body(f"exact {i}") for i in range(60)]
    sampled = [b for b in bodies if mirror_share(request_key(path, json.loads(b))) < 0.5]
    assert 0 < len(sampled) < 60
    with (
        Upstream("primary") as primary,
        Upstream("candidate") as cand,
        shadowed(primary, [cand], store=str(store.root), run_id="exact", sample=0.5) as proxy,
    ):
        for body in bodies:
            assert request(proxy.url, path, body)[0] == 200
        for i in range(3):
            request(proxy.url, path, chat_body(f"tool {i}", tools=[{"type": "function"}]))
        for i in range(2):
            request(proxy.url, path, chat_body(f"header {i}"), {"X-Tailgate-No-Mirror": "1"})
        request(proxy.url, path, b"{not json")
        for _ in range(2):
            request(proxy.url, path, sampled[0])  # a repeat of a mirrored request
        for _ in range(2):
            request(proxy.url, "/v1/models", method="GET")
    summary = proxy.stop()
    expected = {
        "mirrored": len(sampled),
        "not_sampled": 60 - len(sampled),
        "skipped.tools": 3,
        "skipped.no_mirror_header": 2,
        "skipped.unparsable_body": 1,
        "skipped.repeat": 2,
    }
    # (mirrors still queued at the stop are dropped: the stop does not wait for them)
    shutdown = summary.get("dropped.shutdown", 0)
    counts = {k: v for k, v in summary.items() if (k in expected or "." in k) and k != "dropped.shutdown"}
    assert counts == expected, summary
    done = len(sampled) - shutdown
    assert summary["records"] == {"primary": done, "candidate": done, "noise": 0}
    assert summary["traffic_rows"] == 60 + 3 + 2 + 2  # every parsed mirrorable request, mirrored or not
    s = _samples(proxy.proxy.metrics.text().decode())
    mirrorable = s[("tailgate_shadow_requests_total", (("kind", "mirrorable"),))]
    assert mirrorable == 60 + 3 + 2 + 1 + 2
    assert s[("tailgate_shadow_requests_total", (("kind", "other"),))] == 2
    ends = s[("tailgate_shadow_not_sampled_total", ())] + s[("tailgate_shadow_mirrored_total", ())]
    ends += sum(v for (name, _), v in s.items() if name == "tailgate_shadow_skipped_total")
    # drops before a mirror is counted; a shutdown's drops are of mirrored requests
    ends += sum(
        v
        for (name, labels), v in s.items()
        if name == "tailgate_shadow_dropped_total" and labels != (("reason", "shutdown"),)
    )
    assert ends == mirrorable
    session = store.manifest("exact-primary").sessions[-1]
    assert {k: session.get(k) for k in expected} == expected
    assert session.get("dropped.shutdown", 0) == shutdown
    assert session["records"] == done
    assert store.read_records("exact-candidate").num_rows == done


def test_a_dead_worker_is_noticed_and_the_primary_path_goes_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.ERROR, "tailgate.shadow")
    monkeypatch.setenv("PYTHONPATH", "/nonexistent")  # the worker must find this package anyway
    with Upstream("primary") as primary, Upstream("candidate") as cand, shadowed(primary, [cand]) as proxy:
        assert request(proxy.url, "/v1/chat/completions", chat_body("before"))[0] == 200
        wait_for(lambda: proxy.proxy.health()["records"].get("candidate", 0) == 1)
        pid = proxy.proxy.worker_pid
        assert pid is not None
        assert pid != os.getpid()
        # the worker runs this very tailgate package (not another checkout's or installed copy)
        environ = dict(v.split(b"=", 1) for v in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in v)
        here = Path(tailgate.__file__).resolve().parents[1]
        assert environ[b"PYTHONPATH"].decode().split(os.pathsep) == [str(here), "/nonexistent"]
        # the worker yields the CPU to the primary path
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 19)
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: proxy.proxy.health()["status"] == "degraded")
        health = proxy.proxy.health()
        assert health["worker"] == {"pid": pid, "alive": False, "intake": 0}
        assert any("mirror worker" in r.getMessage() and "signal 9" in r.getMessage() for r in caplog.records)
        body = chat_body("after")
        direct = request(primary.url, "/v1/chat/completions", body)
        through = request(proxy.url, "/v1/chat/completions", body)
        assert (through[0], through[3]) == (direct[0], direct[3])
        # (counted just after the answer's last byte is written: the client may read it first)
        wait_for(lambda: proxy.proxy.health()["counts"].get("dropped.worker_down") == 1)
        status, _, _, data = request(proxy.url, "/healthz", method="GET")
        assert (status, json.loads(data)["status"]) == (200, "degraded")
        metrics = request(proxy.url, "/metrics", method="GET")[3].decode()
        assert "tailgate_shadow_worker_up 0.0" in metrics
        assert 'tailgate_shadow_dropped_total{reason="worker_down"} 1.0' in metrics
        assert "tailgate_shadow_mirrored_total 1.0" in metrics  # the dead worker's last counts stay
        t0 = time.monotonic()
    summary = proxy.stop()
    assert time.monotonic() - t0 < 10
    assert summary["worker_lost"] is True
    assert summary["mirrored"] == 1
    assert summary["dropped.worker_down"] == 1
