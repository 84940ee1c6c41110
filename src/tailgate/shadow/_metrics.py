"""The proxy's own counters, shared by its threads, and their Prometheus form (``/metrics``)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """Counters (for ``/healthz`` and the status line) and a Prometheus registry of this proxy
    (never the process-global one, so two proxies in one process do not mix)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Gauge, Histogram
        from prometheus_client import Counter as PCounter

        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = PCounter("tailgate_shadow_requests", "Requests proxied to the primary.", ["kind"], registry=r)
        self.primary_errors = PCounter(
            "tailgate_shadow_primary_errors", "Primary calls the proxy could not complete.", ["reason"], registry=r
        )
        self.not_sampled = PCounter(
            "tailgate_shadow_not_sampled",
            "Mirrorable requests outside the sample (requests{kind=mirrorable} = not_sampled + skipped"
            " + dropped(intake_full) + mirrored).",
            registry=r,
        )
        self.mirrored = PCounter("tailgate_shadow_mirrored", "Requests mirrored (sampled and queued).", registry=r)
        self.noise = PCounter("tailgate_shadow_noise", "Mirrored requests also re-sent to the primary.", registry=r)
        self.dropped = PCounter(
            "tailgate_shadow_dropped", "Sampled mirrors not sent, by reason.", ["reason"], registry=r
        )
        self.skipped = PCounter(
            "tailgate_shadow_skipped", "Mirrorable requests not mirrored, by reason.", ["reason"], registry=r
        )
        self.failed = PCounter(
            "tailgate_shadow_failed",
            "Mirror calls that failed, by target and class.",
            ["target", "error_class"],
            registry=r,
        )
        self.completed = PCounter(
            "tailgate_shadow_mirror_calls", "Mirror calls that finished, by target.", ["target"], registry=r
        )
        self.write_errors = PCounter("tailgate_shadow_write_errors", "Records or traffic rows not written.", registry=r)
        self.traffic_dropped = Gauge(
            "tailgate_shadow_traffic_rows_dropped",
            "Traffic rows of unmirrored requests not written (the writer was 50,000 behind).",
            registry=r,
        )
        self.queue_depth = Gauge("tailgate_shadow_queue_depth", "Mirrors waiting for a worker.", registry=r)
        self.added = Histogram(
            "tailgate_shadow_added_latency_seconds",
            "The proxy's own time on the primary path: through the proxy minus upstream, as observed.",
            ["phase"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream = Histogram(
            "tailgate_shadow_upstream_latency_seconds",
            "Upstream latency per target (ttfb: time to the response headers' first body byte; total: last byte).",
            ["target", "phase"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def skip(self, reason: str) -> None:
        """A mirrorable request not mirrored, for ``reason``."""
        self.skipped.labels(reason).inc()
        self.count(f"skipped.{reason}")

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(sorted(self.counts.items()))

    def text(self) -> bytes:
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))
