"""Real servers for the shadow tests: a configurable OpenAI-compatible mock upstream (aiohttp, in a
background thread, on a real socket) and the proxy itself run the same way."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tailgate.shadow import ShadowConfig, ShadowProxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Behaviour:
    """What the mock does: ``ok`` (answers), ``status`` (``status``, ``headers``, ``body``),
    ``hang`` (sleeps ``hang_s``), ``garbage`` (a 200 that is not JSON), ``reset`` (cuts the
    connection mid-body), ``slow`` (streams one chunk per ``chunk_delay_s``)."""

    kind: str = "ok"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hang_s: float = 10.0
    chunks: int = 3
    chunk_delay_s: float = 0.0
    hold_last: threading.Event | None = None
    """When set, a stream waits for it before sending its last chunk (chunk-by-chunk tests)."""
    delay_s: float = 0.0


class Upstream:
    """A mock OpenAI-compatible server; ``name`` goes into its answers."""

    def __init__(self, name: str, behaviour: Behaviour | None = None) -> None:
        self.name = name
        self.behaviour = behaviour or Behaviour()
        self.seen: list[Seen] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        b = self.behaviour
        if b.delay_s:
            await asyncio.sleep(b.delay_s)
        if request.path not in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"):
            echo = {"method": request.method, "path": request.path_qs, "body": body.decode("utf-8", "replace")}
            return web.Response(
                body=json.dumps(echo).encode(),
                status=b.status if b.kind == "status" else 200,
                headers={"Content-Type": "application/json", "X-Upstream": self.name, **b.headers},
            )
        if b.kind == "status":
            return web.Response(status=b.status, body=b.body, headers=b.headers)
        if b.kind == "hang":
            await asyncio.sleep(b.hang_s)
        if b.kind == "garbage":
            return web.Response(body=b"\x00not json{{", content_type="application/json")
        data = json.loads(body) if body else {}
        if request.path == "/v1/embeddings":
            return web.json_response(
                {
                    "object": "list",
                    "data": [{"embedding": [0.1, 0.2], "index": 0}],
                    "usage": {"prompt_tokens": 2, "total_tokens": 2},
                }
            )
        content = self._answer(data)
        if data.get("stream") or b.kind in ("reset", "slow"):
            return await self._stream(request, data, content)
        if request.path == "/v1/completions":
            choice: dict[str, Any] = {"index": 0, "text": content, "finish_reason": "stop"}
        else:
            choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
        return web.Response(
            body=json.dumps({"id": "x", "object": "chat.completion", "choices": [choice], "usage": usage}).encode(),
            headers={"Content-Type": "application/json", "X-Upstream": self.name, **b.headers},
            status=200,
        )

    def _answer(self, data: dict[str, Any]) -> str:
        messages = data.get("messages") or []
        text = " ".join(str(m.get("content", "")) for m in messages) if messages else str(data.get("prompt", ""))
        if isinstance(data.get("response_format"), dict):
            return json.dumps({"from": self.name, "text": text[:50]})
        return f"{self.name} says: {text[:200]}"

    async def _stream(self, request: web.Request, data: dict[str, Any], content: str) -> web.StreamResponse:
        b = self.behaviour
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Upstream": self.name})
        await resp.prepare(request)
        pieces = [content[i * len(content) // b.chunks : (i + 1) * len(content) // b.chunks] for i in range(b.chunks)]
        for i, piece in enumerate(pieces):
            if i == len(pieces) - 1 and b.hold_last is not None:
                await asyncio.get_running_loop().run_in_executor(None, b.hold_last.wait, 10)
            if b.kind == "reset" and i == 1:
                assert request.transport is not None
                request.transport.close()
                return resp
            if b.chunk_delay_s:
                await asyncio.sleep(b.chunk_delay_s)
            chunk = {"id": "x", "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        final = {
            "id": "x",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 5},
        }
        await resp.write(b"data: " + json.dumps(final).encode() + b"\n\ndata: [DONE]\n\n")
        await resp.write_eof()
        return resp

    def __enter__(self) -> Upstream:
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application(client_max_size=64 << 20)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.behaviour.hold_last is not None:
            self.behaviour.hold_last.set()
        assert self._loop is not None
        assert self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)


class ProxyThread:
    """The shadow proxy on its own thread and loop (as a server would run it)."""

    def __init__(self, config: ShadowConfig) -> None:
        self.proxy = ShadowProxy(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.summary: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return self.proxy.url

    def __enter__(self) -> ProxyThread:
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.proxy.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            self.summary = loop.run_until_complete(self.proxy.stop())
            loop.close()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> dict[str, Any]:
        if self._thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(60)
            self._thread = None
        return self.summary

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def shadowed(primary: Upstream, candidates: list[Upstream], **options: Any) -> Iterator[ProxyThread]:
    options.setdefault("sample", 1.0)
    options.setdefault("port", 0)
    options.setdefault("mirror_timeout", 5.0)
    options.setdefault("grace", 5.0)
    config = ShadowConfig(primary.url, tuple(c.url for c in candidates), **options)
    with ProxyThread(config) as proxy:
        yield proxy


def request(
    base: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None, method: str = "POST"
) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """One HTTP/1.1 call with the standard library: status, reason, headers in order, body bytes."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.reason, resp.getheaders(), resp.read()
    finally:
        conn.close()


def chat_body(content: str, **extra: Any) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": content}], **extra}).encode()


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")
