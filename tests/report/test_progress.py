from __future__ import annotations

import io

from rich.console import Console

from tailgate.providers import ServerFault
from tailgate.report import RichProgress


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
