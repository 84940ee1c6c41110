"""Terminal views (rich), readable at 80 columns. Model outputs are never interpreted as markup."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from tailgate.analysis import Estimate, RunSummary
from tailgate.report._provenance import cache_line, withheld_line
from tailgate.store import RunInfo

__all__ = ["console", "estimate_text", "render_run_summary", "render_runs"]


def estimate_text(est: Estimate) -> str:
    if est.value is None:
        return f"n/a ({est.method})"
    if est.low is None or est.high is None:
        return f"{est.value:.3f}"
    return f"{est.value:.3f} [{est.low:.3f}, {est.high:.3f}]"


def render_runs(runs: list[RunInfo]) -> Table:
    table = Table(title="runs", title_justify="left", expand=False, pad_edge=False)
    table.add_column("run", overflow="fold", max_width=34)
    table.add_column("suite", overflow="fold", max_width=12)
    table.add_column("model", overflow="fold", max_width=18)
    table.add_column("status")
    table.add_column("done", justify="right")
    table.add_column("err", justify="right")
    for r in runs:
        style = {
            "completed": "green",
            "running": "cyan",
            "interrupted": "yellow",
            "failed": "red",
        }.get(r.status, "")
        table.add_row(
            Text(r.run_id),
            Text(r.suite),
            Text(r.model),
            Text(r.status, style=style),
            f"{r.done}/{r.planned}",
            str(r.errors),
        )
    return table


def render_run_summary(manifest: dict[str, Any], info: RunInfo, summary: RunSummary) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    head.add_row("run", Text(info.run_id))
    head.add_row("suite", Text(f"{manifest['suite']['name']}  ({manifest['suite']['path']})"))
    head.add_row("model", Text(f"{manifest['model']['spec']}  mode={manifest['mode']}"))
    plan = manifest["plan"]
    head.add_row(
        "plan",
        f"{plan['items']} items x {plan['variants']} variants x {plan['repeats']} repeats = {plan['samples']} samples",
    )
    head.add_row("status", f"{info.status}: {info.done}/{info.planned} samples done")
    head.add_row("started", f"{manifest['started_at']}  ended {manifest.get('ended_at') or '-'}")

    scores = Table(title="headline score (first applicable scorer)", title_justify="left", pad_edge=False)
    scores.add_column("variant")
    scores.add_column("score [95% CI]", justify="right")
    scores.add_column("items", justify="right")
    scores.add_column("samples", justify="right")
    scores.add_column("method", overflow="fold", max_width=28)
    s = summary.score
    scores.add_row("all", estimate_text(s), str(s.n_items), str(s.n_samples), s.method, style="bold")
    if len(summary.by_variant) > 1:
        for name, est in summary.by_variant.items():
            scores.add_row(Text(name), estimate_text(est), str(est.n_items), str(est.n_samples), est.method)

    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row(
        "samples",
        f"{summary.n_samples} ({summary.n_scored} scored, {summary.n_unscored} unscored, {summary.cached} from cache)",
    )
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(summary.errors_by_class.items())) or "none"
    facts.add_row("errors", f"{summary.n_errors} ({errors})")
    if withheld := withheld_line(summary.withheld_by_class):
        facts.add_row("withheld", Text(withheld))
    if replayed := cache_line(summary.cached, summary.n_samples):
        facts.add_row("cache", Text(replayed))
    if summary.latency_ms_p50 is not None:
        facts.add_row(
            "latency",
            f"p50 {summary.latency_ms_p50:.0f} ms, p95 {summary.latency_ms_p95:.0f} ms (sample percentiles)",
        )
    if summary.tokens_out_mean is not None:
        facts.add_row("tokens out", f"{summary.tokens_out_mean:.1f} per sample")
    return Group(head, Text(""), scores, Text(""), facts)


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False)
