"""Does the measured latency include waiting in the endpoint's queue?

With N calls in flight, a closed loop always satisfies Little's law, N = throughput x mean
latency, whether the endpoint serves the N calls at once or one after another: throughput and
latency alone cannot tell the two apart. A call's own time can: with two or more workers, the
executor makes the first call alone (the others start when it returns), and its latency L0 is a
call's own time, free of queueing. An endpoint that serialises then finishes about one call per
L0 (throughput x L0 ~ 1) while each call waits for the N - 1 ahead of it (median latency ~ N x
L0); one that serves calls in parallel finishes about N per L0 at a median latency ~ L0.

The hint is given when throughput x L0 <= 1.5 and the median latency >= max(3, N / 2) x L0, with
N >= 2 workers and at least 2N successful calls after the first. Limits, which the tests pin:
with 2 or 3 calls in flight queueing at most triples the latency and is not flagged; an endpoint
with a few parallel slots (llama.cpp ``--parallel 2`` under 16 calls) shows throughput x L0 ~ 2
and gets no hint although its latency includes queueing too; a first call that is much shorter
than the typical one (a third of the median or less, with throughput x L0 <= 1.5) could raise a
false hint on a parallel endpoint. A cold first call (a larger L0) only makes the hint rarer.
"""

from __future__ import annotations

import statistics

from tailgate.runner._execute import ExecutionStats

__all__ = ["queueing_hint"]


def queueing_hint(stats: ExecutionStats) -> str | None:
    """A one-line warning when the latencies of this execution look like queueing (see the
    module docstring), else None."""
    workers, solo, done = stats.workers, stats.solo_ms, stats.completions[1:]
    if workers < 2 or solo is None or solo <= 0 or len(done) < 2 * workers:
        return None
    span = done[-1][0] - done[0][0]
    if span <= 0:
        return None
    throughput = (len(done) - 1) / span  # calls per second, once the others started
    parallel = throughput * solo / 1000.0
    median_ms = statistics.median(ms for _, ms in done[workers:])
    if parallel > 1.5 or median_ms < max(3.0, workers / 2) * solo:
        return None
    return (
        f"latency includes queueing: {workers} calls were in flight, but the endpoint finished about "
        f"{parallel:.1f} call(s) in the time one call alone took ({solo:,.0f} ms), and the median latency is "
        f"{median_ms:,.0f} ms ({median_ms / solo:.0f}x): it seems to serve one call at a time. "
        "Use --concurrency 1 to measure per-call latency"
    )
