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
import io
import logging
import os
import secrets as _secrets
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
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from tailgate.errors import UsageError
from tailgate.shadow._keys import MIRRORABLE_PATHS, mirror_share, noise_share, request_key, skip_reason
from tailgate.shadow._metrics import Metrics
from tailgate.shadow._parse import Outcome, parse_response
from tailgate.shadow._recorder import Recorder, RunTarget
from tailgate.shadow._records import Call, Captured
from tailgate.store import Store, utc_now

__all__ = ["ShadowConfig", "ShadowProxy", "default_run_id", "safe_url", "serve"]

log = logging.getLogger("tailgate.shadow")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_SKIP_AUTO = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
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


def default_run_id() -> str:
    return time.strftime("shadow-%Y%m%d-%H%M%S", time.gmtime()) + "-" + _secrets.token_hex(2)


def safe_url(url: str) -> str:
    """A URL without user, password, query or fragment (what may be stored or printed)."""
    try:
        parsed = URL(url)
        return str(parsed.with_user(None).with_query(None).with_fragment(None))
    except (ValueError, TypeError):
        return "<unparsable URL>"


def _payload(body: bytes | None) -> Any:
    """A body aiohttp sends with its length: large ones as a file object (aiohttp would warn
    that writing a large ``bytes`` at once can hold the loop; a file object is written in parts)."""
    return io.BytesIO(body) if body is not None and len(body) >= 1 << 20 else body


def _join(base: str, raw_path: str) -> URL:
    return URL(base.rstrip("/") + raw_path, encoded=True)


def forward_headers(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """The headers a hop forwards: all but hop-by-hop ones (and those ``Connection`` names),
    ``Host`` (the upstream's own), ``Content-Length`` (recomputed for the same bytes) and
    ``Expect`` (the proxy answered the client's ``100-continue`` itself, and sends the body whole)."""
    named = {t.strip().lower() for v in headers.getall("Connection", ()) for t in v.split(",")}
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in named or lower in ("host", "content-length", "expect"):
            continue
        out.add(name, value)
    return out


def _response_headers(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    named = {t.strip().lower() for v in headers.getall("Connection", ()) for t in v.split(",")}
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in HOP_BY_HOP and name.lower() not in named:
            out.add(name, value)
    return out


def _client_secret(headers: CIMultiDictProxy[str]) -> str | None:
    auth = headers.get("Authorization") or headers.get("api-key") or headers.get("x-api-key")
    if not auth:
        return None
    scheme, _, token = auth.partition(" ")
    return token.strip() if token and scheme.lower() in ("bearer", "basic", "token") else auth.strip()


@dataclass
class _Job:
    key: str
    mode: str
    body: dict[str, Any]
    captured: Captured
    noise: bool


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
        self.port = config.port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._mloop: asyncio.AbstractEventLoop | None = None
        self._mthread: threading.Thread | None = None
        self._mstate: _MirrorSide | None = None
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
        self._recorder = Recorder(Store(self.config.store), self.run_id, targets, self.settings())
        self._recorder.on_error = lambda _: self.metrics.write_errors.inc()
        recorder = self._recorder
        self.metrics.traffic_dropped.set_function(lambda: recorder.traffic_dropped)
        seen = self._recorder.open()
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
            await site.start()
            sockets = getattr(site._server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]
        except BaseException:
            await self._close_all({"status": "failed"})
            raise

    async def stop(self) -> dict[str, Any]:
        """Stop accepting, let in-flight primaries finish (``grace``), count pending mirrors as
        dropped, flush the records, close the runs; returns the session's counters."""
        if self._runner is not None:
            await self._runner.cleanup()  # stops listening, waits for handlers up to shutdown_timeout
            self._runner = None
        return await self._close_all({})

    async def _close_all(self, extra: dict[str, Any]) -> dict[str, Any]:
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
            await asyncio.to_thread(recorder.close, summary)
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
        if admin == "health":
            return web.Response(body=orjson.dumps(self.health()), content_type="application/json")
        if admin == "metrics":
            from prometheus_client import CONTENT_TYPE_LATEST

            return web.Response(body=self.metrics.text(), headers={"Content-Type": CONTENT_TYPE_LATEST})
        t0 = time.perf_counter()
        started, timestamp_us = utc_now(), time.time_ns() // 1000
        body = await request.read()
        mode = MIRRORABLE_PATHS.get(request.path) if request.method == "POST" else None
        self.metrics.requests.labels("mirrorable" if mode else "other").inc()
        headers = forward_headers(request.headers)
        send_body = body if body or request.headers.get("Content-Length") is not None else None
        assert self._session is not None
        capture: list[bytes] | None = [] if mode else None
        response: web.StreamResponse | None = None
        first: float | None = None
        client_gone = False
        t_sent = time.perf_counter()
        try:
            async with self._session.request(
                request.method,
                _join(self.config.primary, request.raw_path),
                headers=headers,
                data=_payload(send_body),
                allow_redirects=False,
                skip_auto_headers=_SKIP_AUTO,
            ) as upstream:
                t_headers = time.perf_counter()
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                response.headers.extend(_response_headers(upstream.headers))
                await response.prepare(request)
                t_prepared = time.perf_counter()
                size = 0
                async for chunk in upstream.content.iter_any():
                    if first is None:
                        first = time.perf_counter()
                    if capture is not None:
                        size += len(chunk)
                        if size <= _MAX_CAPTURE:
                            capture.append(chunk)
                    try:
                        await response.write(chunk)
                    except (ConnectionResetError, aiohttp.ClientConnectionResetError):
                        client_gone = True
                        break
                t_last = time.perf_counter()
                if not client_gone:
                    with contextlib.suppress(ConnectionResetError, aiohttp.ClientConnectionResetError):
                        await response.write_eof()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "connection"
            self.metrics.primary_errors.labels(reason).inc()
            self.metrics.count(f"primary_errors.{reason}")
            if response is not None and response.prepared:
                raise  # the status is sent already: the client sees the upstream's cut as a cut
            message = f"tailgate shadow: the primary could not be reached ({type(exc).__name__})"
            return web.json_response({"error": {"message": message, "type": "proxy_error"}}, status=502)
        t_done = time.perf_counter()
        up_ttfb = (first or t_headers) - t_sent
        self.metrics.added.labels("ttfb").observe(max(0.0, (t_prepared - t0) - (t_headers - t_sent)))
        self.metrics.added.labels("total").observe(max(0.0, (t_done - t0) - (t_last - t_sent)))
        self.metrics.upstream.labels("primary", "ttfb").observe(up_ttfb)
        self.metrics.upstream.labels("primary", "total").observe(t_last - t_sent)
        if mode is not None and capture is not None:
            if client_gone:
                self._skip("client_disconnected")
            elif size > _MAX_CAPTURE:
                self._skip("too_large")
            else:
                captured = Captured(
                    path=request.path,
                    body=body,
                    headers=dict(headers),
                    status=upstream.status,
                    response=b"".join(capture),
                    encoding=upstream.headers.get("Content-Encoding"),
                    started_at=started,
                    ended_at=utc_now(),
                    timestamp_us=timestamp_us,
                    ttft_ms=up_ttfb * 1000,
                    latency_ms=(t_last - t_sent) * 1000,
                    secret=_client_secret(request.headers),
                )
                self._handoff(mode, captured)
        return response

    def _skip(self, reason: str) -> None:
        self.metrics.skipped.labels(reason).inc()
        self.metrics.count(f"skipped.{reason}")

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
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._mloop = loop
        assert self._recorder is not None
        self._mstate = _MirrorSide(self, self._recorder, seen)
        loop.run_until_complete(self._mstate.start())
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


class _MirrorSide:
    """The mirror thread's state: the queue, the workers, the candidate and noise sessions."""

    def __init__(self, proxy: ShadowProxy, recorder: Recorder, seen: set[str]) -> None:
        self.proxy = proxy
        self.config = proxy.config
        self.metrics = proxy.metrics
        self.recorder = recorder
        self.seen = seen
        self.queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=self.config.queue)
        self.in_flight = 0
        self.workers: list[asyncio.Task[None]] = []
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.running: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        limit = self.config.mirror_concurrency * 2
        for label in [*self.proxy.labels, "noise"]:
            self.sessions[label] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limit),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=self.config.mirror_timeout),
            )
        self.workers = [asyncio.create_task(self._worker()) for _ in range(self.config.mirror_concurrency)]

    def _columns(self, key: str | None, captured: Captured, **given: Any) -> dict[str, Any]:
        return {
            "shadow_run": self.proxy.run_id,
            "path": captured.path,
            "request_key": key,
            "mirrored": False,
            "noise": False,
            "primary_ttft_ms": captured.ttft_ms,
            "primary_latency_ms": captured.latency_ms,
            **given,
        }

    def _skip(self, reason: str) -> None:
        self.proxy._skip(reason)

    def intake(self, mode: str, captured: Captured) -> None:
        """Decide a finished primary's fate: not sampled, skipped, dropped, or queued."""
        self.proxy._taken()
        try:
            body = orjson.loads(captured.body)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            self._skip("unparsable_body")
            return
        key = request_key(captured.path, body)
        reason = skip_reason(body, CIMultiDict(captured.headers), mirror_tools=self.config.mirror_tools)
        if reason is None and mirror_share(key) >= self.config.sample:
            self.metrics.count("not_sampled")
            if self.config.traffic_rows == "all":
                self.recorder.traffic(mode, body, captured, self._columns(key, captured))
            return
        if reason is None and key in self.seen:
            reason = "repeat"
        if reason is not None:
            self._skip(reason)
            if self.config.traffic_rows == "all":
                self.recorder.traffic(mode, body, captured, self._columns(key, captured, skipped=reason))
            return
        noise = self.config.noise > 0 and noise_share(key) < self.config.noise
        try:
            self.queue.put_nowait(_Job(key, mode, body, captured, noise))
        except asyncio.QueueFull:
            self._drop("queue_full", mode, body, captured, key)
            return
        self.seen.add(key)
        self.metrics.mirrored.inc()
        self.metrics.count("mirrored")
        if noise:
            self.metrics.noise.inc()
            self.metrics.count("noise")
        self.metrics.queue_depth.set(self.queue.qsize())

    def _drop(self, reason: str, mode: str, body: dict[str, Any], captured: Captured, key: str) -> None:
        self.metrics.dropped.labels(reason).inc()
        self.metrics.count(f"dropped.{reason}")
        if self.config.traffic_rows != "none":
            self.recorder.traffic(mode, body, captured, self._columns(key, captured, dropped=reason))

    async def _worker(self) -> None:
        while True:
            job = await self.queue.get()
            self.metrics.queue_depth.set(self.queue.qsize())
            self.in_flight += 1
            task = asyncio.current_task()
            try:
                await self._mirror(job)
            except asyncio.CancelledError:
                self.seen.discard(job.key)
                self._drop("shutdown", job.mode, job.body, job.captured, job.key)
                raise
            except Exception as exc:  # a bug here must not stop the workers: counted and said
                log.error("shadow: a mirror failed unexpectedly (%s)", type(exc).__name__)
                self._drop("error", job.mode, job.body, job.captured, job.key)
            finally:
                self.in_flight -= 1
                del task

    async def _mirror(self, job: _Job) -> None:
        captured = job.captured
        stream = bool(job.body.get("stream"))
        calls: list[Any] = []
        for label, base in zip(self.proxy.labels, self.config.candidates, strict=True):
            calls.append(
                self._call(
                    label,
                    label,
                    _join(base, captured.path),
                    self._candidate_body(job),
                    self._candidate_headers(stream),
                    job.mode,
                )
            )
        if job.noise:
            calls.append(
                self._call(
                    "noise",
                    "primary",
                    _join(self.config.primary, captured.path),
                    captured.body,
                    captured.headers,
                    job.mode,
                )
            )
        done: list[Call] = list(await asyncio.gather(*calls))
        if captured.error is not None:
            outcome = Outcome.fault("connection", captured.error)
        else:
            outcome = parse_response(job.mode, captured.status, captured.response, encoding=captured.encoding)
        primary = Call(
            "primary",
            outcome,
            captured.started_at,
            captured.ended_at,
            captured.latency_ms,
            captured.ttft_ms,
            captured.status,
        )
        by_role = {"primary": primary}
        columns = self._columns(job.key, captured, mirrored=True, noise=job.noise)
        for role, call in zip([*self.proxy.labels, *(["noise"] if job.noise else [])], done, strict=True):
            by_role[role] = call
            columns |= {
                f"{role}_ttft_ms": call.ttft_ms,
                f"{role}_latency_ms": call.latency_ms,
                f"{role}_status": call.status,
                f"{role}_error": call.outcome.error_class,
            }
        self.recorder.record(job.key, job.mode, job.body, captured, by_role, columns)

    def _candidate_body(self, job: _Job) -> bytes:
        if self.config.candidate_model is None:
            return job.captured.body
        return orjson.dumps({**job.body, "model": self.config.candidate_model})

    def _candidate_headers(self, stream: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        if self.proxy._candidate_key:
            headers["Authorization"] = f"Bearer {self.proxy._candidate_key}"
        return headers

    async def _call(
        self, session_name: str, label: str, url: URL, body: bytes, headers: dict[str, str], mode: str
    ) -> Call:
        """One mirror call, its timings and outcome (faults classified, never raised)."""
        started, t0 = utc_now(), time.perf_counter()
        ttft: float | None = None
        status: int | None = None
        target = session_name
        try:
            async with asyncio.timeout(self.config.mirror_timeout):
                async with self.sessions[session_name].post(
                    url, data=_payload(body), headers=headers, allow_redirects=False
                ) as resp:
                    status = resp.status
                    chunks = []
                    async for chunk in resp.content.iter_any():
                        if ttft is None:
                            ttft = (time.perf_counter() - t0) * 1000
                        chunks.append(chunk)
            total = (time.perf_counter() - t0) * 1000
            outcome = parse_response(mode, status, b"".join(chunks))
        except TimeoutError:
            total = (time.perf_counter() - t0) * 1000
            outcome = Outcome.fault("timeout", f"no complete answer within {self.config.mirror_timeout:g} s")
        except aiohttp.ClientPayloadError as exc:
            total = (time.perf_counter() - t0) * 1000
            outcome = Outcome.fault("connection", f"the answer was cut off ({type(exc).__name__})")
        except (aiohttp.ClientError, OSError) as exc:
            total = (time.perf_counter() - t0) * 1000
            outcome = Outcome.fault("connection", f"{type(exc).__name__}: {exc}")
        self.metrics.completed.labels(target).inc()
        if outcome.error_class is not None:
            self.metrics.failed.labels(target, outcome.error_class).inc()
            self.metrics.count(f"failed.{target}.{outcome.error_class}")
        else:
            self.metrics.upstream.labels(target, "total").observe(total / 1000)
            if ttft is not None:
                self.metrics.upstream.labels(target, "ttfb").observe(ttft / 1000)
        return Call(label, outcome, started, utc_now(), total, ttft, status)

    async def shutdown(self, grace: float) -> None:
        """Queued mirrors are dropped (shutdown); in-flight ones get ``grace`` seconds, then are cut."""
        while not self.queue.empty():
            job = self.queue.get_nowait()
            self.seen.discard(job.key)
            self._drop("shutdown", job.mode, job.body, job.captured, job.key)
        deadline = time.monotonic() + grace
        while self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        self.metrics.queue_depth.set(0)
        for session in self.sessions.values():
            await session.close()


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
        return asyncio.run(main())
    finally:
        sys.setswitchinterval(interval)
