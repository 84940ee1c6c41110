"""The mirroring reverse proxy: the primary path in this process, the mirrors in another.

The primary path (this process's event loop) reads the request, forwards its bytes to the
primary, relays the status, the headers (minus hop-by-hop ones, RFC 9110 section 7.6.1) and the
body chunk by chunk as they arrive, and only then writes what the mirror needs to the mirror
worker's socket (``_link.py``: one non-blocking write; a full intake is counted as a drop, never
awaited). Everything else — parsing the request, the key, sampling, the candidate and noise calls,
the records and traffic rows — runs in the worker process (``_worker.py``), so neither a candidate
that is down, slow, hanging or answering garbage nor the cost of recording can change what a
client sees or when: the two processes share no interpreter lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from tailgate.errors import UsageError
from tailgate.shadow._config import ShadowConfig
from tailgate.shadow._http import (
    client_secret,
    default_run_id,
    new_loop,
    response_headers,
    safe_url,
)
from tailgate.shadow._keys import MIRRORABLE_PATHS
from tailgate.shadow._link import WorkerLink, worker_env
from tailgate.shadow._metrics import Metrics
from tailgate.shadow._primary import PrimaryPool, forward_head
from tailgate.shadow._wire import captured_frame

__all__ = ["ShadowProxy", "serve"]

log = logging.getLogger("tailgate.shadow")

ADMIN_PATHS = {
    "/healthz": "health",
    "/_tailgate/healthz": "health",
    "/metrics": "metrics",
    "/_tailgate/metrics": "metrics",
}
_MAX_CAPTURE = 64 << 20
"""A mirrorable response longer than this is relayed whole but not mirrored (skipped: too_large)."""


@dataclass
class _Relay:
    """One primary call's timings (``time.perf_counter``) and what is kept of its answer."""

    t0: float
    timestamp_us: int
    head: bytes = b""
    """The client's header lines as forwarded to the primary (and handed to the worker)."""
    sent: float = 0.0
    headers: float = 0.0
    prepared: float = 0.0
    first: float | None = None
    last: float = 0.0
    done: float = 0.0
    status: int = 0
    encoding: str | None = None
    client_gone: bool = False
    size: int = 0
    chunks: list[bytes] = field(default_factory=list)

    @property
    def ttfb(self) -> float:
        """Upstream time to the first body byte (to the headers for an empty body), seconds."""
        return (self.first or self.headers) - self.sent

    def keep(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= _MAX_CAPTURE:
            self.chunks.append(chunk)


class _HotMetrics:
    """The primary path's metric children, looked up once (a label lookup takes a lock)."""

    def __init__(self, metrics: Metrics) -> None:
        self.added_ttfb = metrics.added.labels("ttfb")
        self.added_total = metrics.added.labels("total")
        self.primary_ttfb = metrics.upstream.labels("primary", "ttfb")
        self.primary_total = metrics.upstream.labels("primary", "total")
        self.mirrorable = metrics.requests.labels("mirrorable")
        self.other = metrics.requests.labels("other")


class ShadowProxy:
    """The proxy. ``await start()`` starts the mirror worker (which opens the runs) and binds;
    ``await stop()`` shuts down gracefully (in-flight primaries finish, pending mirrors are counted
    as dropped, the worker closes the runs).

    Example:
        >>> proxy = ShadowProxy(ShadowConfig("http://127.0.0.1:8001", ("http://127.0.0.1:8002",), port=0))
        >>> async def main() -> None:  # doctest: +SKIP
        ...     await proxy.start()
        ...     print(proxy.url)      # point the client's base URL here
        ...     await proxy.stop()
    """

    def __init__(self, config: ShadowConfig) -> None:
        self.config = config
        self.run_id = config.run_id or default_run_id()
        self.metrics = Metrics()
        self._hot = _HotMetrics(self.metrics)
        self.port = config.port
        self._runner: web.ServerRunner | None = None
        self._pool: PrimaryPool | None = None
        self._link: WorkerLink | None = None
        self._closed = False
        self._candidate_key = os.environ.get(config.candidate_key_env) or None
        self.labels = ["candidate" if i == 0 else f"candidate-{i + 1}" for i in range(len(config.candidates))]

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def worker_pid(self) -> int | None:
        """The mirror worker process's id (None before start)."""
        return self._link.pid if self._link is not None else None

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {
            "sample": c.sample,
            "noise": c.noise,
            "queue": c.queue,
            "mirror_concurrency": c.mirror_concurrency,
            "mirror_timeout": c.mirror_timeout,
            "mirror_tools": c.mirror_tools,
            "candidate_model": c.candidate_model,
            "candidate_key_env": c.candidate_key_env,
            "traffic_rows": c.traffic_rows,
            "primary": safe_url(c.primary),
            "candidates": [safe_url(u) for u in c.candidates],
        }

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self.config.check()
        if self._candidate_key:
            from tailgate.providers import register_secret

            register_secret(self._candidate_key)
        config = dataclasses.asdict(self.config)
        config["store"] = None if self.config.store is None else str(self.config.store)
        spec = {
            "config": config,
            "run_id": self.run_id,
            "labels": self.labels,
            "settings": self.settings(),
            "log_level": log.getEffectiveLevel(),
        }
        link = WorkerLink(
            spec, worker_env(self.config.candidate_key_env, self._candidate_key), intake=self.config.intake
        )
        await link.start()  # (a run locked by another proxy raises here, nothing left open)
        self._link = link
        self.metrics.peer = link.metrics
        self.metrics.worker_up.set_function(lambda: 1.0 if link.alive else 0.0)
        try:
            self._pool = PrimaryPool(self.config.primary, limit=self.config.primary_connections)
            # aiohttp's low-level server: every path to one handler, no router, no middlewares; a
            # compressed request body stays compressed (it is forwarded with its Content-Encoding)
            server = web.Server(
                self._handle, request_factory=self._make_request, access_log=None, auto_decompress=False
            )
            self._runner = web.ServerRunner(server, shutdown_timeout=self.config.grace, handle_signals=False)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                where = f"{self.config.host}:{self.config.port}"
                raise UsageError(f"cannot listen on {where}: {exc.strerror or exc}") from None
            sockets = getattr(site._server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]
        except BaseException:
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
            await self._close_all({}, status="failed")
            raise

    async def stop(self) -> dict[str, Any]:
        """Stop accepting, let in-flight primaries finish (``grace``), count pending mirrors as
        dropped, flush the records, close the runs; returns the session's counters."""
        if self._runner is not None:
            await self._runner.cleanup()  # stops listening, waits for handlers up to shutdown_timeout
            self._runner = None
        return await self._close_all({})

    async def _close_all(self, extra: dict[str, Any], status: str = "completed") -> dict[str, Any]:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        final: dict[str, Any] | None = None
        link = self._link
        if link is not None and not self._closed:
            self._closed = True
            final = await link.stop(self.metrics.own(), status, self.config.grace)
        summary = {**self.metrics.snapshot(), **extra}
        last = final or (link.latest() if link is not None else None) or {}
        summary["records"] = dict(last.get("records", {}))
        summary["traffic_rows"] = last.get("traffic_rows", 0)
        summary["write_errors"] = last.get("write_errors", 0)
        summary["traffic_dropped"] = last.get("traffic_dropped", 0)
        if link is not None and link.lost:
            summary["worker_lost"] = True
        return summary

    def health(self) -> dict[str, Any]:
        link = self._link
        last = (link.latest() if link is not None else None) or {}
        alive = link is not None and link.alive
        return {
            "status": "ok" if alive else ("stopped" if self._closed else "degraded"),
            "run_id": self.run_id,
            "counts": self.metrics.snapshot(),
            "queue": last.get("queue", 0),
            "in_flight_mirrors": last.get("in_flight", 0),
            "records": dict(last.get("records", {})),
            "write_errors": last.get("write_errors", 0),
            "traffic_dropped": last.get("traffic_dropped", 0),
            "writer_backlog": last.get("writer_backlog", 0),
            "worker": {
                "pid": link.pid if link is not None else None,
                "alive": alive,
                "intake": link.sent - link.taken if link is not None else 0,
            },
        }

    # -- the primary path -------------------------------------------------------------------------

    def _make_request(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        loop = asyncio.get_running_loop()
        return web.BaseRequest(message, payload, protocol, writer, task, loop, client_max_size=self.config.max_body)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.version == HttpVersion11 and "Expect" in request.headers:
            await _expect(request)  # (what aiohttp's router did before any handler)
        admin = ADMIN_PATHS.get(request.path) if request.method == "GET" else None
        if admin is not None:
            return self._admin(admin)
        relay = _Relay(time.perf_counter(), time.time_ns() // 1000)
        body = await self._body(request)
        mode = MIRRORABLE_PATHS.get(request.path) if request.method == "POST" else None
        (self._hot.mirrorable if mode else self._hot.other).inc()
        try:
            response = await self._relay(request, body, relay, capture=mode is not None)
        except (aiohttp.ClientError, HttpProcessingError, TimeoutError, OSError) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "connection"
            self.metrics.primary_errors.labels(reason).inc()
            self.metrics.count(f"primary_errors.{reason}")
            if relay.prepared:
                raise  # the status is sent already: the client sees the upstream's cut as a cut
            message = f"tailgate shadow: the primary could not be reached ({type(exc).__name__})"
            return web.json_response({"error": {"message": message, "type": "proxy_error"}}, status=502)
        self._observe(relay)
        if mode is not None:
            self._capture(mode, request, body, relay)
        return response

    def _admin(self, what: str) -> web.Response:
        if what == "health":
            return web.Response(body=orjson.dumps(self.health()), content_type="application/json")
        from prometheus_client import CONTENT_TYPE_LATEST

        return web.Response(body=self.metrics.text(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _relay(
        self, request: web.BaseRequest, body: bytes, relay: _Relay, *, capture: bool
    ) -> web.StreamResponse:
        """Forward the request as received; relay status, headers and each chunk as it arrives."""
        assert self._pool is not None
        send_body = body if body or request.headers.get("Content-Length") is not None else None
        relay.head = forward_head(request.raw_headers)
        relay.sent = time.perf_counter()
        upstream = await self._pool.send(request.method, request.raw_path, relay.head, send_body)
        try:
            relay.headers = time.perf_counter()
            relay.status, relay.encoding = upstream.status, upstream.headers.get("Content-Encoding")
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            response.headers.extend(response_headers(upstream.headers))
            content = upstream.content
            if content.is_eof():  # the whole body is here already: headers and body in one write
                await self._relay_whole(request, response, content.read_nowait(), relay, capture=capture)
                return response
            await response.prepare(request)
            relay.prepared = time.perf_counter()
            async for chunk in content.iter_any():
                if relay.first is None:
                    relay.first = time.perf_counter()
                if capture:
                    relay.keep(chunk)
                try:
                    await response.write(chunk)
                except (ConnectionResetError, aiohttp.ClientConnectionResetError):
                    relay.client_gone = True
                    break
            relay.last = time.perf_counter()
        finally:
            upstream.release()  # (kept for the next request only when read to its end)
        if not relay.client_gone:
            with contextlib.suppress(ConnectionResetError, aiohttp.ClientConnectionResetError):
                await response.write_eof()
        relay.done = time.perf_counter()
        return response

    async def _relay_whole(
        self, request: web.BaseRequest, response: web.StreamResponse, body: bytes, relay: _Relay, *, capture: bool
    ) -> None:
        """Relay an answer whose body arrived with its headers (most unstreamed ones): one write
        of both, as aiohttp joins a first chunk to the headers; nothing waits for more bytes."""
        relay.first = relay.last = relay.headers  # (the last byte was there with the headers)
        if capture:
            relay.keep(body)
        await response.prepare(request)
        relay.prepared = time.perf_counter()
        try:
            await response.write_eof(body)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            relay.client_gone = True
        relay.done = time.perf_counter()

    async def _body(self, request: web.BaseRequest) -> bytes:
        """The request body: taken as it is when it arrived whole with the request (most do),
        else read (up to ``max_body``, past it a 413, as ``BaseRequest.read``)."""
        content = request.content
        if content.is_eof() and content.total_bytes <= self.config.max_body and content.exception() is None:
            return content.read_nowait()
        return await request.read()

    def _observe(self, r: _Relay) -> None:
        hot = self._hot
        hot.added_ttfb.observe(max(0.0, (r.prepared - r.t0) - (r.headers - r.sent)))
        hot.added_total.observe(max(0.0, (r.done - r.t0) - (r.last - r.sent)))
        hot.primary_ttfb.observe(r.ttfb)
        hot.primary_total.observe(r.last - r.sent)

    def _capture(self, mode: str, request: web.BaseRequest, body: bytes, relay: _Relay) -> None:
        """Hand what the mirror needs of a finished primary to the worker, never waiting."""
        if relay.client_gone:
            self._not_handed("skipped", "client_disconnected")
            return
        if relay.size > _MAX_CAPTURE:
            self._not_handed("skipped", "too_large")
            return
        link = self._link
        refusal = link.refusal() if link is not None else "worker_down"
        if refusal is not None:
            self._not_handed("dropped", refusal)
            return
        assert link is not None
        head = [
            mode,
            request.path,
            relay.status,
            relay.encoding,
            relay.timestamp_us,
            time.time_ns() // 1000,
            relay.ttfb * 1000,
            (relay.last - relay.sent) * 1000,
            client_secret(request.headers),
            None,
        ]
        link.hand(captured_frame(head, relay.head, body, relay.chunks, relay.size))

    def _not_handed(self, kind: str, reason: str) -> None:
        (self.metrics.skipped if kind == "skipped" else self.metrics.dropped).labels(reason).inc()
        self.metrics.count(f"{kind}.{reason}")


async def _expect(request: web.BaseRequest) -> None:
    """Answer an ``Expect`` header as aiohttp's router does: ``100 Continue``, else 417."""
    expect = request.headers.get("Expect", "")
    if expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # (the answer's own bytes start after it)


def serve(
    config: ShadowConfig,
    *,
    on_start: Callable[[ShadowProxy], None] | None = None,
    on_status: Callable[[ShadowProxy], None] | None = None,
    status_every: float = 1.0,
) -> dict[str, Any]:
    """Run the proxy until SIGTERM or SIGINT, then shut down gracefully; returns the counters.

    Example:
        >>> serve(ShadowConfig("http://127.0.0.1:8001", ("http://127.0.0.1:8002",), port=8080))  # doctest: +SKIP
    """

    async def main() -> dict[str, Any]:
        proxy = ShadowProxy(config)
        await proxy.start()
        # this process's start-up objects (modules, classes: ~35k) leave the collector's view: a full
        # collection scanned them in ~6 ms, a stall every request in flight would wait for
        gc.freeze()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if on_start is not None:
            on_start(proxy)
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), status_every)
                if on_status is not None:
                    on_status(proxy)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            summary = await proxy.stop()
        return summary

    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(main())
