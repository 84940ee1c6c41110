"""A rich progress bar for runs: done/total, rate, ETA, errors and retries."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tailgate.providers import Fault

__all__ = ["RichProgress"]


class RichProgress:
    """Implements :class:`tailgate.runner.ProgressSink` on a rich console (stderr)."""

    def __init__(self, console: Console, description: str = "run") -> None:
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
