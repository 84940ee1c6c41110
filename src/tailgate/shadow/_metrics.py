"""The proxy's own counters and their Prometheus form (``/metrics``).

The proxy process and its mirror worker each keep a :class:`Metrics` of the same layout, each
counting what happens on its side. The worker sends :meth:`Metrics.export` to the proxy
periodically and at the end; the proxy's :attr:`Metrics.peer` returns the newest, and its
:meth:`Metrics.snapshot` and :meth:`Metrics.text` are the sums of both sides (the two count
disjoint events: no count is on both).
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Histogram", "Metrics"]

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """Counters (for ``/healthz`` and the status line) and a Prometheus registry of this proxy
    (never the process-global one, so two proxies in one process do not mix)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Gauge
        from prometheus_client import Counter as PCounter

        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.version = 0
        """Bumped by every :meth:`count` (the worker sends a snapshot when its state changed)."""
        self.peer: Callable[[], dict[str, Any] | None] | None = None
        """The other process's newest :meth:`export` (the proxy's view of its worker), or None."""
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
        self.worker_up = Gauge(
            "tailgate_shadow_worker_up",
            "1 while the mirror worker process (mirrors, records, traffic rows) runs, else 0.",
            registry=r,
        )
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
            self.version += 1

    def own(self) -> dict[str, int]:
        """This process's counts alone."""
        with self._lock:
            return dict(self.counts)

    def snapshot(self) -> dict[str, Any]:
        """The counts of both processes, summed."""
        merged = Counter(self.own())
        peer = self.peer() if self.peer is not None else None
        if peer is not None:
            merged.update(peer["counts"])
        return dict(sorted(merged.items()))

    def export(self) -> dict[str, Any]:
        """This process's counts and Prometheus samples, as JSON-able data (for the other side)."""
        families = [
            [f.name, f.type, f.documentation, f.unit, [[s.name, s.labels, s.value] for s in f.samples]]
            for f in self.registry.collect()
        ]
        return {"counts": self.own(), "families": families}

    def text(self) -> bytes:
        from prometheus_client import generate_latest

        peer = self.peer() if self.peer is not None else None
        return bytes(generate_latest(_Merged(self.registry, peer["families"] if peer else [])))


class Histogram:
    """A labelled Prometheus histogram whose ``observe`` is one bisection and two additions.

    prometheus_client's takes a lock per bucket and per sum and checks its state at every call:
    four of them per request were 5-6% of the proxy's CPU on the primary path. The samples it
    exports are the same (``_bucket`` cumulative per ``le``, ``+Inf``, ``_count``, ``_sum``,
    ``_created``). One event loop observes (not thread-safe, as nothing else observes).
    """

    def __init__(
        self, name: str, documentation: str, labelnames: list[str], *, buckets: tuple[float, ...], registry: Any
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.upper = (*(float(b) for b in buckets), math.inf)
        self._children: dict[tuple[str, ...], _Bins] = {}
        registry.register(self)

    def labels(self, *values: str) -> _Bins:
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name}: {len(self.labelnames)} label values expected, got {values!r}")
            child = self._children[values] = _Bins(self.upper)
        return child

    def describe(self) -> Iterator[Any]:
        from prometheus_client.metrics_core import HistogramMetricFamily

        yield HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.metrics_core import HistogramMetricFamily
        from prometheus_client.utils import floatToGoString

        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in list(self._children.items()):
            cumulative = itertools.accumulate(child.counts)
            buckets = [(floatToGoString(b), float(c)) for b, c in zip(self.upper, cumulative, strict=True)]  # type: ignore[no-untyped-call]
            family.add_metric(list(values), buckets, child.sum)
            family.add_sample(self.name + "_created", dict(zip(self.labelnames, values, strict=True)), child.created)
        yield family


class _Bins:
    """One label set's bucket counts (not cumulative: ``counts[i]`` values <= ``upper[i]`` and
    above ``upper[i - 1]``), their sum, and when it was created."""

    __slots__ = ("counts", "created", "sum", "upper")

    def __init__(self, upper: tuple[float, ...]) -> None:
        self.upper = upper
        self.counts = [0] * len(upper)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.upper, value)] += 1
        self.sum += value


class _Merged:
    """A collector of this process's families plus the peer's samples (summed per label set;
    a ``_created`` timestamp is this side's)."""

    def __init__(self, registry: Any, peer: list[Any]) -> None:
        self.registry = registry
        self.peer = {name: samples for name, _type, _doc, _unit, samples in peer}

    def collect(self) -> Iterator[Any]:
        from prometheus_client.metrics_core import Metric

        for family in self.registry.collect():
            values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
            for s in family.samples:
                values[(s.name, tuple(sorted(s.labels.items())))] = s.value
            for name, labels, value in self.peer.get(family.name, ()):
                key = (name, tuple(sorted(labels.items())))
                if value is None or (name.endswith("_created") and key in values):
                    continue
                values[key] = values.get(key, 0.0) + value
            merged = Metric(family.name, family.documentation, family.type, family.unit)
            for (name, labels), value in values.items():
                merged.add_sample(name, dict(labels), value)
            yield merged
