"""A mock OpenAI-compatible upstream for the shadow proxy's benchmarks (issue 13).

    python bench/shadow_mock.py --port 8101 [--latency 0.05] [--chunks 5] [--chaos MODE]

Serves ``POST /v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings``, non-streaming
and SSE streaming (``"stream": true``: ``--chunks`` events spaced in time, then ``data: [DONE]``),
``GET /v1/models``, and its own counters at ``GET /stats`` (``POST /stats/reset`` clears them).

Every answer is a pure function of the request body's bytes (ids, ``created``, text, token counts),
so the same request gives byte-identical responses, which is what the byte-identity check of
``bench/shadow_latency.py`` needs. A request header ``X-Mock-Bytes: N`` makes the answer's text N
bytes long (large responses). The fixed latency is the time from the request to the last byte;
a streamed answer sends its first event at 40% of it and the rest evenly spaced. A non-streamed
answer says in ``X-Mock-Elapsed-Us`` how long the mock took from reading the request to answering.

Chaos modes (``--chaos``, for a candidate; the primary always runs ``none``):

* ``none``: the behaviour above.
* ``error500``: HTTP 500 with an OpenAI-style error body, after the latency.
* ``hang``: answers only after 10 s (``--hang``).
* ``slow_sse``: headers at once, then one event a second for 10 s (streamed or not: a slow body).
* ``reset``: sends the headers and part of the body, then resets the connection (RST).
* ``garbage``: HTTP 200 whose body is not JSON (nor SSE when streamed).
* ``refuse`` is not a mode of this server: the harness gives the proxy a port nobody listens on.

``/stats`` counts the requests per path, the body bytes received, and keeps the sha256 of every
request body (``/stats?keys=1``), so a harness can check which requests reached this upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import struct
import time
from typing import Any

from aiohttp import web

WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar "
    "papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
).split()
CHAOS = ("none", "error500", "hang", "slow_sse", "reset", "garbage")


def _text(digest: bytes, size: int | None) -> str:
    """Deterministic answer text from a request digest: 24-64 words, or exactly ``size`` bytes."""
    if size is not None:
        unit = digest.hex()
        return (unit * (size // len(unit) + 1))[:size]
    n = 24 + digest[0] % 41
    return " ".join(WORDS[(digest[1 + i % 31] + i) % len(WORDS)] for i in range(n))


class Mock:
    def __init__(self, latency: float, chunks: int, chaos: str, hang: float, label: str) -> None:
        self.latency = latency
        self.chunks = chunks
        self.chaos = chaos
        self.hang = hang
        self.label = label
        self.reset_stats()

    def reset_stats(self) -> None:
        self.requests: dict[str, int] = {}
        self.bytes_in = 0
        self.max_body = 0
        self.keys: list[str] = []
        self.authorization: set[str] = set()

    # -- routes -----------------------------------------------------------------------------
    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.label, "object": "model"}]})

    async def stats(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {
            "label": self.label,
            "chaos": self.chaos,
            "requests": sum(self.requests.values()),
            "by_path": self.requests,
            "bytes_in": self.bytes_in,
            "max_body": self.max_body,
            "authorization": sorted(self.authorization),
        }
        if request.query.get("keys"):
            body["keys"] = self.keys
        return web.json_response(body)

    async def stats_reset(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return web.json_response({"ok": True})

    async def generate(self, request: web.Request) -> web.StreamResponse:
        request["t0"] = time.perf_counter()
        raw = await request.read()
        self.requests[request.path] = self.requests.get(request.path, 0) + 1
        self.bytes_in += len(raw)
        self.max_body = max(self.max_body, len(raw))
        digest = hashlib.sha256(raw).digest()
        self.keys.append(digest.hex())
        if "Authorization" in request.headers:
            self.authorization.add(request.headers["Authorization"])
        try:
            body = json.loads(raw)
        except ValueError:
            return web.json_response({"error": {"message": "body is not JSON", "type": "invalid_request"}}, status=400)
        size = request.headers.get("X-Mock-Bytes")
        text = _text(digest, int(size) if size else None)
        stream = bool(body.get("stream"))
        if self.chaos == "error500":
            await asyncio.sleep(self.latency)
            return web.json_response({"error": {"message": "mock chaos", "type": "server_error"}}, status=500)
        if self.chaos == "hang":
            await asyncio.sleep(self.hang)
        if self.chaos == "garbage":
            await asyncio.sleep(self.latency)
            kind = "text/event-stream" if stream else "application/json"
            return web.Response(body=b"\x00\xffnot json {{{" + digest, content_type=kind)
        if request.path.endswith("/embeddings"):
            await asyncio.sleep(self.latency)
            return web.json_response(_embedding(digest, body), dumps=_dumps)
        payloads = _chunks(request.path, digest, body, text, self.chunks if stream else 1)
        if stream:
            return await self._sse(request, payloads, body)
        return await self._plain(request, payloads[0])

    async def _plain(self, request: web.Request, payload: dict[str, Any]) -> web.StreamResponse:
        data = _dumps(payload).encode()
        if self.chaos in ("slow_sse", "reset"):
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            resp.content_length = len(data)
            await resp.prepare(request)
            parts = 10 if self.chaos == "slow_sse" else 2
            step = len(data) // parts + 1
            for i in range(parts):
                await resp.write(data[i * step : (i + 1) * step])
                if self.chaos == "reset":
                    _reset(request)
                    return resp
                await asyncio.sleep(1.0)
            await resp.write_eof()
            return resp
        await asyncio.sleep(self.latency)
        # the mock's own time for this answer, so a client can subtract it (its overhead on the direct path)
        elapsed = f"{(time.perf_counter() - request['t0']) * 1e6:.0f}"
        return web.Response(body=data, content_type="application/json", headers={"X-Mock-Elapsed-Us": elapsed})

    async def _sse(
        self, request: web.Request, payloads: list[dict[str, Any]], body: dict[str, Any]
    ) -> web.StreamResponse:
        events = [f"data: {_dumps(p)}\n\n".encode() for p in payloads]
        options = body.get("stream_options") or {}
        if options.get("include_usage"):
            text = "".join(str(p["choices"][0].get("text") or p["choices"][0]["delta"]["content"]) for p in payloads)
            usage = payloads[-1] | {"choices": [], "usage": _usage(body, text)}
            events.append(f"data: {_dumps(usage)}\n\n".encode())
        events.append(b"data: [DONE]\n\n")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        if self.chaos == "slow_sse":
            await resp.prepare(request)
            for event in events:
                await resp.write(event)
                await asyncio.sleep(10.0 / len(events))
            await resp.write_eof()
            return resp
        first = self.latency * 0.4
        gap = (self.latency - first) / max(len(events) - 1, 1)
        await asyncio.sleep(first)
        await resp.prepare(request)
        for i, event in enumerate(events):
            if i:
                await asyncio.sleep(gap)
            await resp.write(event)
            if self.chaos == "reset" and i == len(events) // 2:
                _reset(request)
                return resp
        await resp.write_eof()
        return resp


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    tokens_in = max(1, len(json.dumps(body.get("messages") or body.get("prompt") or "")) // 4)
    tokens_out = max(1, len(text) // 5)
    return {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}


def _chunks(path: str, digest: bytes, body: dict[str, Any], text: str, n: int) -> list[dict[str, Any]]:
    """The answer as ``n`` OpenAI payloads (n == 1: the non-streamed body, with usage)."""
    head = {
        "id": "cmpl-" + digest.hex()[:24],
        "object": "",
        "created": 1_700_000_000 + int.from_bytes(digest[:3], "big"),
        "model": str(body.get("model") or "mock"),
    }
    chat = path.endswith("/chat/completions")
    if n == 1:
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "logprobs": None}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        kind = "chat.completion" if chat else "text_completion"
        return [head | {"object": kind, "choices": [choice], "usage": _usage(body, text)}]
    step = len(text) // n + 1
    out = []
    for i in range(n):
        piece = text[i * step : (i + 1) * step]
        delta: dict[str, Any] = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
        choice = {"index": 0, "finish_reason": "stop" if i == n - 1 else None, "logprobs": None}
        choice.update({"delta": delta} if chat else {"text": piece})
        kind = "chat.completion.chunk" if chat else "text_completion"
        out.append(head | {"object": kind, "choices": [choice]})
    return out


def _embedding(digest: bytes, body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input")
    n = len(inputs) if isinstance(inputs, list) else 1
    data = [
        {"object": "embedding", "index": i, "embedding": [((digest[(i + j) % 32] - 128) / 128) for j in range(8)]}
        for i in range(n)
    ]
    return {"object": "list", "data": data, "model": str(body.get("model") or "mock"), "usage": {"prompt_tokens": n}}


def _reset(request: web.Request) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0), as a crashed upstream would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def make_app(
    latency: float = 0.05, chunks: int = 5, chaos: str = "none", hang: float = 10.0, label: str = "mock"
) -> web.Application:
    mock = Mock(latency, chunks, chaos, hang, label)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/v1/models", mock.models)
    app.router.add_get("/stats", mock.stats)
    app.router.add_post("/stats/reset", mock.stats_reset)
    for path in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"):
        app.router.add_post(path, mock.generate)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds from request to last byte")
    parser.add_argument("--chunks", type=int, default=5, help="SSE events of a streamed answer (before [DONE])")
    parser.add_argument("--chaos", choices=CHAOS, default="none")
    parser.add_argument("--hang", type=float, default=10.0, help="seconds a 'hang' answer waits")
    parser.add_argument("--label", default="mock")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is in the dev extra
        pass
    app = make_app(args.latency, args.chunks, args.chaos, args.hang, args.label)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, backlog=1024)


if __name__ == "__main__":
    main()
