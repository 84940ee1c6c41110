"""The queueing hint (issue 9, item 14): latency measured with many calls in flight to an endpoint
that serves one at a time is mostly waiting; the run says so, and only then."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tailgate.analysis import build_report
from tailgate.report import render_html, render_report
from tailgate.runner import RunOptions, run_sync
from tailgate.runner._execute import ExecutionStats
from tailgate.runner._queueing import queueing_hint
from tailgate.store import Store
from tests.support.suites import make_suite


def _serial(workers: int, calls: int, service_ms: float) -> ExecutionStats:
    """A FIFO single server under a closed loop of ``workers``, the first call alone: exact
    completion times."""
    stats = ExecutionStats(workers=workers, solo_ms=service_ms)
    first = service_ms / 1000
    stats.completions.append((first, service_ms))
    sent = [first] * workers  # the others start when the first returns
    free_at = first
    for k in range(1, calls):
        w = k % workers
        start = max(free_at, sent[w])
        free_at = start + service_ms / 1000
        stats.completions.append((free_at, (free_at - sent[w]) * 1000))
        sent[w] = free_at  # that worker sends its next call at once
    return stats


def _parallel(workers: int, calls: int, service_ms: list[float]) -> ExecutionStats:
    """A server that serves every call at once, in its own time (``service_ms`` cycles)."""
    stats = ExecutionStats(workers=workers, solo_ms=service_ms[0])
    first = service_ms[0] / 1000
    sent = [first] * workers
    events = [(first, service_ms[0])]
    for k in range(1, calls):
        w = k % workers
        done = sent[w] + service_ms[k % len(service_ms)] / 1000
        events.append((done, (done - sent[w]) * 1000))
        sent[w] = done
    stats.completions.extend(sorted(events))
    return stats


@pytest.mark.parametrize("workers", [4, 8, 16])
def test_a_serialising_endpoint_gets_the_hint(workers: int) -> None:
    hint = queueing_hint(_serial(workers, 10 * workers, 50.0))
    assert hint is not None
    assert f"{workers} calls were in flight" in hint
    assert "--concurrency 1" in hint


@pytest.mark.parametrize("workers", [2, 4, 8, 16])
@pytest.mark.parametrize(
    "service_ms",
    [
        [100.0],
        [300.0, 100.0, 900.0, 420.0],  # outputs of very different lengths
        [200.0, 100.0, 400.0, 420.0, 800.0],  # the first call half the median
    ],
)
def test_a_parallel_endpoint_does_not(workers: int, service_ms: list[float]) -> None:
    assert queueing_hint(_parallel(workers, 10 * workers, service_ms)) is None


def test_the_documented_limits() -> None:
    assert queueing_hint(_serial(2, 40, 50.0)) is None  # 2 in flight: at most 2x, not flagged
    # a first call a tenth of the typical one looks like a serialising endpoint: a false hint
    assert queueing_hint(_parallel(16, 160, [40.0, 400.0, 420.0, 800.0])) is not None


def test_no_hint_without_concurrency_or_data() -> None:
    assert queueing_hint(_serial(1, 50, 50.0)) is None
    assert queueing_hint(_serial(8, 10, 50.0)) is None  # not past the first batch
    assert queueing_hint(ExecutionStats()) is None


@pytest.mark.parametrize(("model", "expected"), [("one_at_a_time", True), ("all_at_once", False)])
def test_a_run_says_when_its_latency_is_queueing(tmp_path: Path, model: str, expected: bool) -> None:
    suite = make_suite(tmp_path / "s", repeats=12, scorers=[{"type": "exact"}])
    store = Store(tmp_path / "store")
    result = run_sync(
        RunOptions(
            suite=str(suite),
            model=f"python:tests.support.endpoints:{model}",
            concurrency=8,
            store=str(store.root),
            cache=False,
        )
    )
    hints = [w for w in result.warnings if "latency includes queueing" in w]
    assert bool(hints) is expected, result.warnings
    session = store.manifest(result.run_id).as_dict()["sessions"][-1]
    assert ("latency_note" in session) is expected
    report = build_report(store, result.run_id)
    assert bool(report.run.latency_notes) is expected
    text = io.StringIO()
    Console(file=text, width=100, force_terminal=False).print(render_report(report))
    assert ("latency includes queueing" in text.getvalue()) is expected
    assert ("latency includes queueing" in render_html(report)) is expected
