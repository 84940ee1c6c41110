"""A real OpenAI-compatible HTTP server (aiohttp) that injects faults, for runner tests.

It answers "What is A+B?" questions correctly (so any fault scored as a wrong answer shows up as
a score below 1), and on a seeded share of requests answers with one of the fault kinds instead:
``429`` (with Retry-After), ``500``, ``timeout`` (answers after the client gave up), ``reset``
(closes the connection), ``malformed`` (a 200 with truncated JSON); on request also the
outcomes an endpoint withholds: ``content_filter`` (a 200 with ``content: null`` and
``finish_reason: content_filter``) and ``refusal`` (a 200 with ``message.refusal``). It records
every request. ``served_model`` and ``system_fingerprint`` say what the server reports it served
(a redeploy behind the same URL and model name changes them).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FaultPlan:
    share: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "timeout", "reset", "malformed")
    seed: int = 0
    timeout_sleep_s: float = 2.0
    status_always: int | None = None
    error_body: str | None = None
    echo_authorization: bool = False
    """A hostile endpoint: every answer ends with the Authorization header it received."""
    served_model: str | None = None
    """The response's ``model`` (default: the requested name, as vLLM answers)."""
    system_fingerprint: str | None = None


@dataclass
class Seen:
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)


def _answer(messages: Any, prompt: Any) -> str:
    text = prompt if isinstance(prompt, str) else " ".join(m.get("content", "") for m in messages or [])
    m = re.search(r"What is (\d+)\s*\+\s*(\d+)", text)
    return f"The answer is {int(m.group(1)) + int(m.group(2))}." if m else "I do not know."


class FaultServer:
    """Runs on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.plan = plan or FaultPlan()
        self.seen = Seen()
        self._rng = random.Random(self.plan.seed)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        self.seen.requests.append({"path": request.path, "headers": dict(request.headers), "body": body})
        plan = self.plan
        if plan.status_always is not None:
            return web.json_response({"error": {"message": plan.error_body or "refused"}}, status=plan.status_always)
        if plan.share and self._rng.random() < plan.share:
            kind = self._rng.choice(plan.kinds)
            self.seen.faults[kind] += 1
            if kind == "429":
                return web.json_response(
                    {"error": {"message": "slow down"}},
                    status=429,
                    headers={"Retry-After": "0", "retry-after-ms": "20"},
                )
            if kind == "500":
                return web.json_response({"error": {"message": plan.error_body or "internal"}}, status=500)
            if kind == "timeout":
                await asyncio.sleep(plan.timeout_sleep_s)
            elif kind == "reset":
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=500)
            elif kind in ("content_filter", "refusal"):
                message: dict[str, Any] = {"role": "assistant", "content": None}
                if kind == "refusal":
                    message["refusal"] = "I can't help with that."
                finish = "content_filter" if kind == "content_filter" else "stop"
                return web.json_response(
                    {
                        "id": "x",
                        "model": body.get("model"),
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    }
                )
            elif kind == "malformed":
                return web.Response(
                    status=200,
                    body=b'{"choices": [{"message": {"content": "The',
                    content_type="application/json",
                )
        text = _answer(body.get("messages"), body.get("prompt"))
        if plan.echo_authorization:
            text += f" (you sent {request.headers.get('Authorization', '')})"
        if request.path.endswith("/chat/completions"):
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        else:
            choice = {"index": 0, "text": " " + text, "finish_reason": "stop"}
        answer: dict[str, Any] = {
            "id": "x",
            "object": "chat.completion",
            "model": plan.served_model or body.get("model"),
            "choices": [choice],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        if plan.system_fingerprint is not None:
            answer["system_fingerprint"] = plan.system_fingerprint
        return web.json_response(answer)

    def __enter__(self) -> FaultServer:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._handle)
            app.router.add_post("/v1/completions", self._handle)
            self._runner = web.AppRunner(app, handle_signals=False)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            loop.run_until_complete(site.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
