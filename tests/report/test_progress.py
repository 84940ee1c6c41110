from __future__ import annotations

import io

from rich.console import Console

from tailgate.providers import ServerFault
from tailgate.report import LineProgress, RichProgress


def test_progress_shows_counts_errors_and_retries() -> None:
    out = io.StringIO()
    progress = RichProgress(Console(file=out, width=100, force_terminal=False), description="m")
    progress.start(total=10, done=4)
    progress.advance({"error_class": None})
    progress.advance({"error_class": "timeout"})
    progress.retry("s", ServerFault("x"), 0.1)
    progress.finish()
    text = out.getvalue()
    assert "6/10" in text
    assert "1 errors" in text
    assert "1 retries" in text


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_without_a_terminal_progress_is_a_line_every_interval() -> None:
    out = io.StringIO()
    clock = _Clock()
    progress = LineProgress(out, description="local:m", interval_s=10.0, min_gap_s=1.0, clock=clock)
    progress.start(total=1000, done=100)
    for k in range(300):  # 300 samples in 150 s: 2 per second, a line every 10 s (not every sample)
        clock.now += 0.5
        progress.advance({"error_class": "timeout" if k == 0 else None})
    progress.retry("s", ServerFault("x"), 0.1)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "local:m 100/1000 samples, 100 already done; progress every 10s"
    assert lines[1] == "local:m 120/1000 (12%) 2.0/s eta 7m20s 1 errors"
    assert 14 <= len(lines) <= 17  # one per 10 s of 150 s, plus start and end
    assert lines[-1] == "local:m 400/1000 (40%) 2.0/s in 2m30s 1 errors 1 retries"


def test_a_fast_run_prints_at_most_one_line_per_tenth_and_gap() -> None:
    out = io.StringIO()
    clock = _Clock()
    progress = LineProgress(out, description="m", interval_s=10.0, min_gap_s=1.0, clock=clock)
    progress.start(total=100, done=0)
    for _ in range(100):  # 100 samples in 20 s: a tenth every 2 s
        clock.now += 0.2
        progress.advance({})
    progress.finish()
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines[1:-1]] == [f"{10 * k}/100" for k in range(1, 10)]
    assert lines[-1] == "m 100/100 (100%) 5.0/s in 20s"


def test_a_slow_run_counts_per_minute() -> None:
    out = io.StringIO()
    clock = _Clock()
    progress = LineProgress(out, description="local:smollm2-135m", interval_s=10.0, clock=clock)
    progress.start(total=24, done=0)
    for _ in range(3):  # one sample every 50 s
        clock.now += 50.0
        progress.advance({})
    assert out.getvalue().splitlines()[-1] == "local:smollm2-135m 3/24 (12%) 1.2/min eta 17m30s"
