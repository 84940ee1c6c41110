"""The mirroring reverse proxy: the primary path on one event loop, the mirrors on another.

The primary path (the server's loop, the caller's thread) reads the request, forwards its bytes
to the primary, relays the status, the headers (minus hop-by-hop ones, RFC 9110 section 7.6.1)
and the body chunk by chunk as they arrive, and only then copies what the mirror needs to the
mirror thread (one ``call_soon_threadsafe``; a full intake is counted as a drop, never awaited).
Everything else — parsing the request, the key, sampling, the candidate and noise calls, the
records — runs on the mirror thread's own loop and the recorder's thread, so a candidate that is
down, slow, hanging or answering garbage cannot change what a client sees or when.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from tailgate.errors import UsageError
from tailgate.shadow._http import (
    SKIP_AUTO,
    client_secret,
    default_run_id,
    forward_headers,
    join,
    new_loop,
    payload,
    response_headers,
    safe_url,
)
from tailgate.shadow._keys import MIRRORABLE_PATHS
from tailgate.shadow._metrics import Metrics
from tailgate.shadow._mirror import MirrorSide
from tailgate.shadow._recorder import Recorder, RunTarget
from tailgate.shadow._records import Captured
from tailgate.store import Store, utc_now

__all__ = ["ShadowConfig", "ShadowProxy", "serve"]

log = logging.getLogger("tailgate.shadow")

ADMIN_PATHS = {
    "/healthz": "health",
    "/_tailgate/healthz": "health",
    "/metrics": "metrics",
    "/_tailgate/metrics": "metrics",
}
_MAX_CAPTURE = 64 << 20
"""A mirrorable response longer than this is relayed whole but not mirrored (skipped: too_large)."""


@dataclass(frozen=True)
class ShadowConfig:
    """What ``tailgate shadow`` serves (the CLI options; see docs/shadow.md).

    Attributes:
        primary: base URL of the primary (the client's path, e.g. ``/v1/chat/completions``, is appended).
        candidates: base URLs of the candidates (one run each: ``candidate``, ``candidate-2``, ...).
        host: address to listen on.
        port: port to listen on (0: any free port; see :attr:`ShadowProxy.port`).
        sample: share of mirrorable requests mirrored (by the request key's hash).
        noise: share of mirrored requests also re-sent to the primary (by an independent hash).
        run_id: the session id (runs ``RUN-primary``, ``RUN-candidate``, ``RUN-noise``); the same id appends.
        store: the records store (default: ``TAILGATE_STORE`` or ``./.tailgate``).
        queue: mirrors waiting for a worker, at most (past it a mirror is dropped and counted).
        mirror_concurrency: mirrors in flight at once.
        mirror_timeout: seconds a mirror call may take, in all.
        mirror_tools: mirror requests with tools / functions / tool_choice too.
        candidate_key_env: environment variable holding the candidates' API key (may be unset).
        candidate_model: the ``model`` the candidates are asked for (None: the client's).
        grace: seconds in-flight primaries (and then in-flight mirrors) get at shutdown.
        max_body: largest request body accepted, in bytes.
        primary_connections: connections to the primary, at most.
        traffic_rows: which proxied requests get a traffic-table row: ``all`` mirrorable ones,
            only the ``mirrored`` ones, or ``none``.
        intake: requests the mirror thread may fall behind by before they are dropped (``intake_full``).
    """

    primary: str
    candidates: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8080
    sample: float = 0.05
    noise: float = 0.0
    run_id: str | None = None
    store: str | Path | None = None
    queue: int = 1000
    mirror_concurrency: int = 16
    mirror_timeout: float = 30.0
    mirror_tools: bool = False
    candidate_key_env: str = "TAILGATE_CANDIDATE_API_KEY"
    candidate_model: str | None = None
    grace: float = 10.0
    max_body: int = 64 << 20
    primary_connections: int = 1024
    traffic_rows: str = "all"
    intake: int = field(default=10_000)

    def check(self) -> None:
        if not self.candidates:
            raise UsageError("shadow needs at least one --candidate URL")
        for name, value in (("sample", self.sample), ("noise", self.noise)):
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"--{name} must be between 0 and 1, got {value}")
        for url in (self.primary, *self.candidates):
            parsed = URL(url)
            if parsed.scheme not in ("http", "https") or not parsed.host:
                raise UsageError(f"'{safe_url(url)}' is not an http(s) base URL")
        if self.traffic_rows not in ("all", "mirrored", "none"):
            raise UsageError(f"--traffic-rows must be all, mirrored or none, got {self.traffic_rows!r}")
        if self.queue < 1 or self.mirror_concurrency < 1 or self.mirror_timeout <= 0:
            raise UsageError("--queue, --mirror-concurrency and --mirror-timeout must be positive")


@dataclass
class _Relay:
    """One primary call's timings (``time.perf_counter``) and what is kept of its answer."""

    t0: float
    started_at: str
    timestamp_us: int
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
    """The proxy. ``await start()`` binds and opens the runs; ``await stop()`` shuts down
    gracefully (in-flight primaries finish, pending mirrors are counted as dropped).

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
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._mloop: asyncio.AbstractEventLoop | None = None
        self._mthread: threading.Thread | None = None
        self._mstate: MirrorSide | None = None
        self._recorder: Recorder | None = None
        self._intake_lock = threading.Lock()
        self._intake_pending = 0
        self._candidate_key = os.environ.get(config.candidate_key_env) or None
        self.labels = ["candidate" if i == 0 else f"candidate-{i + 1}" for i in range(len(config.candidates))]

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

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
        targets = [RunTarget("primary", "primary", safe_url(self.config.primary))]
        targets += [
            RunTarget(label, label, safe_url(u)) for label, u in zip(self.labels, self.config.candidates, strict=True)
        ]
        targets.append(RunTarget("noise", "primary", safe_url(self.config.primary)))
        recorder = Recorder(Store(self.config.store), self.run_id, targets, self.settings())
        recorder.on_error = lambda _: self.metrics.write_errors.inc()
        self.metrics.traffic_dropped.set_function(lambda: recorder.traffic_dropped)
        seen = recorder.open()  # (a run locked by another proxy raises here, nothing left open)
        self._recorder = recorder
        try:
            ready = threading.Event()
            self._mthread = threading.Thread(
                target=self._mirror_main, args=(ready, seen), name="tailgate-shadow-mirror", daemon=True
            )
            self._mthread.start()
            ready.wait()
            connector = aiohttp.TCPConnector(limit=self.config.primary_connections, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            app = web.Application(client_max_size=self.config.max_body)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=self.config.grace, handle_signals=False)
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
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._mloop is not None and self._mstate is not None:
            future = asyncio.run_coroutine_threadsafe(self._mstate.shutdown(self.config.grace), self._mloop)
            await asyncio.wrap_future(future)
            self._mloop.call_soon_threadsafe(self._mloop.stop)
            if self._mthread is not None:
                await asyncio.to_thread(self._mthread.join)
            self._mloop = None
        summary = {**self.metrics.snapshot(), **extra}
        if self._recorder is not None:
            recorder, self._recorder = self._recorder, None
            await asyncio.to_thread(recorder.close, summary, status)
            summary["records"] = dict(recorder.records)
            summary["traffic_rows"] = recorder.traffic_rows
            summary["write_errors"] = recorder.write_errors
            summary["traffic_dropped"] = recorder.traffic_dropped
        return summary

    def health(self) -> dict[str, Any]:
        recorder = self._recorder
        return {
            "status": "ok",
            "run_id": self.run_id,
            "counts": self.metrics.snapshot(),
            "queue": self._mstate.queue.qsize() if self._mstate is not None else 0,
            "in_flight_mirrors": self._mstate.in_flight if self._mstate is not None else 0,
            "records": dict(recorder.records) if recorder is not None else {},
            "write_errors": recorder.write_errors if recorder is not None else 0,
            "traffic_dropped": recorder.traffic_dropped if recorder is not None else 0,
            "writer_backlog": recorder.pending() if recorder is not None else 0,
        }

    # -- the primary path -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        admin = ADMIN_PATHS.get(request.path) if request.method == "GET" else None
        if admin is not None:
            return self._admin(admin)
        relay = _Relay(time.perf_counter(), utc_now(), time.time_ns() // 1000)
        body = await request.read()
        mode = MIRRORABLE_PATHS.get(request.path) if request.method == "POST" else None
        (self._hot.mirrorable if mode else self._hot.other).inc()
        headers = forward_headers(request.headers)
        try:
            response = await self._relay(request, body, headers, relay, capture=mode is not None)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "connection"
            self.metrics.primary_errors.labels(reason).inc()
            self.metrics.count(f"primary_errors.{reason}")
            if relay.prepared:
                raise  # the status is sent already: the client sees the upstream's cut as a cut
            message = f"tailgate shadow: the primary could not be reached ({type(exc).__name__})"
            return web.json_response({"error": {"message": message, "type": "proxy_error"}}, status=502)
        self._observe(relay)
        if mode is not None:
            self._capture(mode, request, body, headers, relay)
        return response

    def _admin(self, what: str) -> web.Response:
        if what == "health":
            return web.Response(body=orjson.dumps(self.health()), content_type="application/json")
        from prometheus_client import CONTENT_TYPE_LATEST

        return web.Response(body=self.metrics.text(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _relay(
        self, request: web.Request, body: bytes, headers: Any, relay: _Relay, *, capture: bool
    ) -> web.StreamResponse:
        """Forward the request as received; relay status, headers and each chunk as it arrives."""
        assert self._session is not None
        send_body = body if body or request.headers.get("Content-Length") is not None else None
        relay.sent = time.perf_counter()
        async with self._session.request(
            request.method,
            join(self.config.primary, request.raw_path),
            headers=headers,
            data=payload(send_body),
            allow_redirects=False,
            skip_auto_headers=SKIP_AUTO,
        ) as upstream:
            relay.headers = time.perf_counter()
            relay.status, relay.encoding = upstream.status, upstream.headers.get("Content-Encoding")
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            response.headers.extend(response_headers(upstream.headers))
            await response.prepare(request)
            relay.prepared = time.perf_counter()
            async for chunk in upstream.content.iter_any():
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
        if not relay.client_gone:
            with contextlib.suppress(ConnectionResetError, aiohttp.ClientConnectionResetError):
                await response.write_eof()
        relay.done = time.perf_counter()
        return response

    def _observe(self, r: _Relay) -> None:
        hot = self._hot
        hot.added_ttfb.observe(max(0.0, (r.prepared - r.t0) - (r.headers - r.sent)))
        hot.added_total.observe(max(0.0, (r.done - r.t0) - (r.last - r.sent)))
        hot.primary_ttfb.observe(r.ttfb)
        hot.primary_total.observe(r.last - r.sent)

    def _capture(self, mode: str, request: web.Request, body: bytes, headers: Any, relay: _Relay) -> None:
        """Copy what the mirror needs of a finished primary and hand it over."""
        if relay.client_gone:
            self._skip("client_disconnected")
            return
        if relay.size > _MAX_CAPTURE:
            self._skip("too_large")
            return
        captured = Captured(
            path=request.path,
            body=body,
            headers=dict(headers),
            status=relay.status,
            response=b"".join(relay.chunks),
            encoding=relay.encoding,
            started_at=relay.started_at,
            ended_at=utc_now(),
            timestamp_us=relay.timestamp_us,
            ttft_ms=relay.ttfb * 1000,
            latency_ms=(relay.last - relay.sent) * 1000,
            secret=client_secret(request.headers),
        )
        self._handoff(mode, captured)

    def _skip(self, reason: str) -> None:
        self.metrics.skip(reason)

    def _handoff(self, mode: str, captured: Captured) -> None:
        """Copy a finished primary to the mirror thread, never waiting: a full intake is a drop."""
        with self._intake_lock:
            full = self._intake_pending >= self.config.intake
            if not full:
                self._intake_pending += 1
        if full or self._mloop is None or self._mstate is None:
            self.metrics.dropped.labels("intake_full").inc()
            self.metrics.count("dropped.intake_full")
            return
        self._mloop.call_soon_threadsafe(self._mstate.intake, mode, captured)

    def _taken(self) -> None:
        with self._intake_lock:
            self._intake_pending -= 1

    # -- the mirror thread ------------------------------------------------------------------------

    def _mirror_main(self, ready: threading.Event, seen: set[str]) -> None:
        loop = new_loop()
        asyncio.set_event_loop(loop)
        self._mloop = loop
        assert self._recorder is not None
        self._mstate = MirrorSide(
            self.config,
            self.metrics,
            self._recorder,
            run_id=self.run_id,
            labels=self.labels,
            candidate_key=self._candidate_key,
            seen=seen,
            taken=self._taken,
        )
        loop.run_until_complete(self._mstate.start())
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


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

    # the mirror and writer threads share the interpreter lock with the primary path: a shorter
    # switch interval (default 5 ms) bounds how long a relay waits for it behind their work
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            return runner.run(main())
    finally:
        sys.setswitchinterval(interval)
