"""Rendering: terminal tables, progress, and (later) JSON and HTML reports."""

from tailgate.report._progress import RichProgress
from tailgate.report._terminal import console, estimate_text, render_run_summary, render_runs

__all__ = ["RichProgress", "console", "estimate_text", "render_run_summary", "render_runs"]
