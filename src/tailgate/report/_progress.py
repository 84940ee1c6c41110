"""Run progress: a rich bar on a terminal; plain periodic lines elsewhere (CI logs, pipes)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from tailgate.providers import Fault
from tailgate.text import neutralize

if TYPE_CHECKING:  # rich is imported by the bar alone: a run in a CI log never loads it (~15 ms)
    from rich.console import Console
    from rich.progress import TaskID

__all__ = ["LineProgress", "RichProgress", "StepProgress"]


class RichProgress:
    """Implements :class:`tailgate.runner.ProgressSink` on a rich console (stderr)."""

    def __init__(self, console: Console, description: str = "run") -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console
        self.description = description
        self.errors = 0
        self.retries = 0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=None),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[faults]}"),
            console=console,
            transient=False,
            refresh_per_second=8,
        )
        self._task: TaskID | None = None
        self._done_this_session = 0

    def start(self, total: int, done: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=total, completed=done, rate="", faults="")

    def advance(self, record: dict[str, Any]) -> None:
        self._done_this_session += 1
        if record.get("error_class") is not None:
            self.errors += 1
        if self._task is not None:
            task = self._progress.tasks[0]
            elapsed = task.elapsed or 0.0
            rate = f"{self._done_this_session / elapsed:,.1f}/s" if elapsed > 0 else ""
            self._progress.update(self._task, advance=1, rate=rate, faults=self._faults())

    def retry(self, sample_id: str, fault: Fault, wait_s: float) -> None:
        self.retries += 1
        if self._task is not None:
            self._progress.update(self._task, faults=self._faults())

    def _faults(self) -> str:
        parts = []
        if self.errors:
            parts.append(f"[red]{self.errors} errors[/red]")
        if self.retries:
            parts.append(f"[yellow]{self.retries} retries[/yellow]")
        return " ".join(parts)

    def finish(self) -> None:
        self._progress.stop()


def _duration(seconds: float) -> str:
    """``2m13s``, ``45s``, ``1h02m``: short enough for a log line."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class LineProgress:
    """Implements :class:`tailgate.runner.ProgressSink` as plain lines, for logs without a terminal
    (CI): one line when the run starts, then one every ``interval_s`` seconds, never more than one
    per ``min_gap_s`` even when a tenth of the run is done sooner, and one at the end, e.g.
    ``local:smollm2-135m 120/360 (33%) 1.8/s eta 2m13s``."""

    def __init__(
        self,
        stream: TextIO,
        description: str = "run",
        interval_s: float = 10.0,
        min_gap_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.description = description
        self.interval_s = interval_s
        self.min_gap_s = min_gap_s
        self.clock = clock
        self.errors = 0
        self.retries = 0
        self.total = 0
        self.done = 0
        self._started = 0.0
        self._at_start = 0
        self._last = 0.0
        self._last_step = 0

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self._at_start = total, done, done
        self._started = self._last = self.clock()
        self._last_step = done * 10 // max(total, 1)
        resumed = f", {done} already done" if done else ""
        self._write(f"{self.description} {done}/{total} samples{resumed}; progress every {self.interval_s:g}s")

    def advance(self, record: dict[str, Any]) -> None:
        self.done += 1
        if record.get("error_class") is not None:
            self.errors += 1
        now = self.clock()
        step = self.done * 10 // max(self.total, 1)
        due = now - self._last >= self.interval_s or (step > self._last_step and now - self._last >= self.min_gap_s)
        if due and self.done < self.total:
            self._last, self._last_step = now, step
            self._write(self._line(now))

    def retry(self, sample_id: str, fault: Fault, wait_s: float) -> None:
        self.retries += 1

    def finish(self) -> None:
        now = self.clock()
        self._write(self._line(now, final=True))

    def _line(self, now: float, final: bool = False) -> str:
        elapsed = now - self._started
        issued = self.done - self._at_start
        rate = issued / elapsed if elapsed > 0 else 0.0
        pct = 100 * self.done / self.total if self.total else 100.0
        parts = [f"{self.description} {self.done}/{self.total} ({pct:.0f}%)"]
        if rate > 0:
            parts.append(f"{rate:,.1f}/s" if rate >= 1 else f"{rate * 60:,.1f}/min")  # a local model on a busy CPU
        if final:
            parts.append(f"in {_duration(elapsed)}")
        elif rate > 0:
            parts.append(f"eta {_duration((self.total - self.done) / rate)}")
        if self.errors:
            parts.append(f"{self.errors} errors")
        if self.retries:
            parts.append(f"{self.retries} retries")
        return " ".join(parts)

    def _write(self, line: str) -> None:
        self.stream.write(neutralize(line) + "\n")
        self.stream.flush()


class StepProgress:
    """Progress of a computation made of named steps (``tailgate drift``): a spinner with the
    step and the time spent on a terminal; elsewhere a line per step, at most one every
    ``min_gap_s`` seconds. A context manager; call it with each step's description."""

    def __init__(
        self,
        console: Console,
        description: str,
        *,
        min_gap_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.description = description
        self.min_gap_s = min_gap_s
        self.clock = clock
        self._status: Any = None
        self._last = -math.inf
        self._started = 0.0

    def __enter__(self) -> StepProgress:
        self._started = self.clock()
        if self.console.is_terminal:
            self._status = self.console.status(neutralize(self.description))
            self._status.start()
        return self

    def __call__(self, step: str) -> None:
        now = self.clock()
        text = f"{self.description}: {step} ({_duration(now - self._started)})"
        if self._status is not None:
            self._status.update(neutralize(text))
        elif now - self._last >= self.min_gap_s:
            self._last = now
            self.console.file.write(neutralize(text) + "\n")
            self.console.file.flush()

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()
