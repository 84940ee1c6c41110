"""The primary path: what the client gets through the proxy is what it gets from the primary."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from tests.shadow._servers import Behaviour, Upstream, chat_body, request, shadowed, wait_for

_VARYING = {"date"}  # the server's clock; everything else must be equal
_HOP = {"connection", "keep-alive", "transfer-encoding"}


def _comparable(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in headers if k.lower() not in _VARYING | _HOP]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_the_client_gets_the_primarys_bytes(stream: bool, path: str) -> None:
    with Upstream("primary") as primary, Upstream("candidate") as cand, shadowed(primary, [cand]) as proxy:
        for i in range(20):
            if path == "/v1/completions":
                body = json.dumps({"model": "m", "prompt": f"question {i} ünïcødé", "stream": stream}).encode()
            else:
                body = chat_body(f"question {i} ünïcødé", stream=stream)
            headers = {"Content-Type": "application/json", "Authorization": "Bearer client-key"}
            direct = request(primary.url, path, body, headers)
            through = request(proxy.url, path, body, headers)
            assert through[0] == direct[0] == 200
            assert through[1] == direct[1]
            assert through[3] == direct[3]
            assert _comparable(through[2]) == _comparable(direct[2])
        # the request reached the primary as the client sent it: same body bytes, same headers
        sent = primary.seen[-1]
        assert sent.body == body
        assert sent.headers["Authorization"] == "Bearer client-key"
        assert "User-Agent" not in sent.headers  # nothing added that the client did not send


def test_a_stream_is_relayed_chunk_by_chunk() -> None:
    """The client reads the first chunk while the primary still holds back its last one."""
    hold = threading.Event()
    with (
        Upstream("primary", Behaviour(chunks=4, hold_last=hold)) as primary,
        Upstream("candidate") as cand,
        shadowed(primary, [cand]) as proxy,
    ):
        conn = http.client.HTTPConnection("127.0.0.1", proxy.proxy.port, timeout=20)
        conn.request(
            "POST", "/v1/chat/completions", chat_body("stream me", stream=True), {"Content-Type": "application/json"}
        )
        resp = conn.getresponse()
        first = resp.read1(65536)
        assert first.startswith(b"data: ")  # arrived while the last chunk is still held upstream
        assert not hold.is_set()
        hold.set()
        rest = resp.read()
        conn.close()
        assert (first + rest).endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (404, {"Content-Type": "application/json"}, b'{"error": "no such model"}'),
        (500, {"Content-Type": "text/plain", "X-Trace": "abc"}, b"internal error"),
        (429, {"Retry-After": "7", "Content-Type": "application/json"}, b'{"error": {"type": "rate_limit"}}'),
    ],
)
def test_error_statuses_and_headers_pass_through(status: int, headers: dict[str, str], body: bytes) -> None:
    with (
        Upstream("primary", Behaviour(kind="status", status=status, headers=headers, body=body)) as primary,
        Upstream("candidate") as cand,
        shadowed(primary, [cand]) as proxy,
    ):
        direct = request(primary.url, "/v1/chat/completions", chat_body("x"), {"Content-Type": "application/json"})
        through = request(proxy.url, "/v1/chat/completions", chat_body("x"), {"Content-Type": "application/json"})
        assert through[0] == status
        assert through[3] == body
        assert through[:2] == direct[:2]
        assert _comparable(through[2]) == _comparable(direct[2])
        wait_for(lambda: proxy.proxy.health()["records"].get("primary", 0) >= 1)
    failed = proxy.summary.get("records", {})
    assert failed["primary"] == 1  # the primary's fault is recorded as such


def test_other_paths_and_methods_are_forwarded_untouched() -> None:
    with Upstream("primary") as primary, Upstream("candidate") as cand, shadowed(primary, [cand]) as proxy:
        for method, path in [("GET", "/v1/models?x=1&y=%20z"), ("DELETE", "/v1/files/abc"), ("POST", "/other")]:
            body = b"raw \x00 bytes" if method == "POST" else None
            status, _, headers, data = request(proxy.url, path, body, {"X-Custom": "1"}, method=method)
            echo = json.loads(data)
            assert status == 200
            assert echo["method"] == method
            assert echo["path"] == path
            assert dict(headers)["X-Upstream"] == "primary"
            assert primary.seen[-1].headers["X-Custom"] == "1"
        time.sleep(0.2)
        assert cand.seen == []  # only the three endpoints are mirrored


def test_hop_by_hop_headers_are_not_forwarded() -> None:
    with Upstream("primary") as primary, Upstream("candidate") as cand, shadowed(primary, [cand], sample=0.0) as proxy:
        request(
            proxy.url,
            "/v1/chat/completions",
            chat_body("x"),
            {"Connection": "keep-alive, X-Hop", "X-Hop": "1", "Keep-Alive": "timeout=5", "X-End": "2"},
        )
        seen = primary.seen[-1].headers
        assert "X-Hop" not in seen
        assert "Keep-Alive" not in seen
        assert seen["X-End"] == "2"


def test_an_8_mib_body_is_forwarded_and_mirrored() -> None:
    big = "x" * (8 << 20)
    body = chat_body(big)
    assert len(body) > 8 << 20
    with Upstream("primary") as primary, Upstream("candidate") as cand, shadowed(primary, [cand]) as proxy:
        status, _, _, data = request(proxy.url, "/v1/chat/completions", body, {"Content-Type": "application/json"})
        assert status == 200
        assert data.startswith(b'{"id"')
        assert primary.seen[-1].body == body
        wait_for(lambda: len(cand.seen) == 1, 20)
        assert cand.seen[0].body == body
        wait_for(lambda: proxy.proxy.health()["records"].get("candidate", 0) == 1, 20)


def test_a_body_over_the_limit_gets_413() -> None:
    with (
        Upstream("primary") as primary,
        Upstream("candidate") as cand,
        shadowed(primary, [cand], max_body=1 << 20) as proxy,
    ):
        status, *_ = request(proxy.url, "/v1/chat/completions", chat_body("x" * (2 << 20)))
        assert status == 413
        assert primary.seen == []


def test_an_unreachable_primary_is_a_502_from_the_proxy() -> None:
    with Upstream("candidate") as cand:
        dead = Upstream("dead")  # never started: its port refuses connections
        with shadowed(dead, [cand]) as proxy:
            status, _, _, data = request(proxy.url, "/v1/chat/completions", chat_body("x"))
            assert status == 502
            assert b"proxy_error" in data
            assert proxy.proxy.health()["counts"]["primary_errors.connection"] == 1
