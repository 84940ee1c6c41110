"""The mirror side: decides each finished primary's fate and calls the candidates (and the
primary again, for the noise share) on the worker process's event loop, then hands the calls to
the recorder (the worker's writer thread).

Nothing here runs in the proxy's process: the proxy writes each finished request to the worker's
socket without waiting (``_worker.py``), and never waits for this side.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from multidict import CIMultiDict
from yarl import URL

from tailgate.shadow._http import join, payload
from tailgate.shadow._keys import mirror_share, noise_share, request_key, skip_reason
from tailgate.shadow._metrics import Metrics
from tailgate.shadow._parse import Outcome, parse_response
from tailgate.shadow._recorder import Recorder
from tailgate.shadow._records import Call, Captured
from tailgate.store import utc_now

if TYPE_CHECKING:
    from tailgate.shadow._config import ShadowConfig

__all__ = ["MirrorSide"]

log = logging.getLogger("tailgate.shadow")


@dataclass
class _Job:
    key: str
    mode: str
    body: dict[str, Any]
    captured: Captured
    noise: bool


class MirrorSide:
    """The mirror side's state: the queue, the workers, the candidate and noise sessions."""

    def __init__(
        self,
        config: ShadowConfig,
        metrics: Metrics,
        recorder: Recorder,
        *,
        run_id: str,
        labels: list[str],
        candidate_key: str | None,
        seen: set[str],
        taken: Callable[[], None],
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.recorder = recorder
        self.run_id = run_id
        self.labels = labels
        self.candidate_key = candidate_key
        self.seen = seen
        self.taken = taken
        self.queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=config.queue)
        self.in_flight = 0
        self.workers: list[asyncio.Task[None]] = []
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.max_answer = config.max_answer

    async def start(self) -> None:
        limit = self.config.mirror_concurrency * 2
        for label in [*self.labels, "noise"]:
            self.sessions[label] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limit),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=self.config.mirror_timeout),
            )
        self.workers = [asyncio.create_task(self._worker()) for _ in range(self.config.mirror_concurrency)]

    def _columns(self, key: str | None, captured: Captured, **given: Any) -> dict[str, Any]:
        return {
            "shadow_run": self.run_id,
            "path": captured.path,
            "request_key": key,
            "mirrored": False,
            "noise": False,
            "primary_ttft_ms": captured.ttft_ms,
            "primary_latency_ms": captured.latency_ms,
            **given,
        }

    def _skip(self, reason: str) -> None:
        self.metrics.skip(reason)

    def intake(self, mode: str, captured: Captured) -> None:
        """Decide a finished primary's fate: not sampled, skipped, dropped, or queued."""
        self.taken()
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
            self.metrics.not_sampled.inc()
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

    async def _mirror(self, job: _Job) -> None:
        captured = job.captured
        stream = bool(job.body.get("stream"))
        calls: list[Any] = []
        for label, base in zip(self.labels, self.config.candidates, strict=True):
            calls.append(
                self._call(
                    label,
                    label,
                    join(base, captured.path),
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
                    join(self.config.primary, captured.path),
                    captured.body,
                    {k: v for k, v in captured.headers.items() if k.lower() != "accept-encoding"},
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
        for role, call in zip([*self.labels, *(["noise"] if job.noise else [])], done, strict=True):
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
        if self.candidate_key:
            headers["Authorization"] = f"Bearer {self.candidate_key}"
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
                    url, data=payload(body), headers=headers, allow_redirects=False
                ) as resp:
                    status = resp.status
                    chunks, size = [], 0
                    async for chunk in resp.content.iter_any():
                        if ttft is None:
                            ttft = (time.perf_counter() - t0) * 1000
                        chunks.append(chunk)
                        size += len(chunk)
                        if size > self.max_answer:
                            break
            total = (time.perf_counter() - t0) * 1000
            if size > self.max_answer:
                outcome = Outcome.fault(
                    "malformed_response", f"an answer over {self.max_answer / (1 << 20):g} MiB (not read further)"
                )
            else:
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

    async def abandon(self) -> None:
        """The proxy is gone (killed): queued and in-flight mirrors are cut, nothing is counted."""
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        for session in self.sessions.values():
            await session.close()

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
