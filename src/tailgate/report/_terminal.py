"""Terminal views (rich), readable at 80 columns. Model outputs are never interpreted as markup."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from tailgate.records import Manifest
from tailgate.report import _format as fmt
from tailgate.report._provenance import cache_line, withheld_line
from tailgate.store import RunInfo
from tailgate.text import neutralize

if TYPE_CHECKING:  # `tailgate runs` renders no estimate: it must not import numpy
    from tailgate.analysis import Estimate, RunSummary

__all__ = ["console", "estimate_text", "render_run_summary", "render_runs"]


def estimate_text(est: Estimate) -> str:
    """The estimate as "value [low, high]", or "n/a (why)" without a value."""
    return fmt.estimate(est, why=True)


_STATUS_STYLE = {
    "completed": "green",
    "stopped_early": "yellow",
    "running": "cyan",
    "interrupted": "yellow",
    "failed": "red",
}


class _Runs:
    """The runs as a table when the ids fit next to status, counts, suite and model; else one
    block per run: the id on its own line, the rest below it. An id is copied into the next
    command, so it is never wrapped or cut."""

    def __init__(self, runs: list[RunInfo]) -> None:
        self.runs = runs

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        id_width = max((len(r.run_id) for r in self.runs), default=3)
        counts = max((len(f"{r.done}/{r.planned}") for r in self.runs), default=4)
        if id_width + 11 + counts + 5 + 2 * 12 + 10 <= options.max_width:
            yield self._table(id_width)
            return
        yield Text("runs", style="italic")
        for r in self.runs:
            yield Text(r.run_id, no_wrap=True, overflow="ignore")
            yield Text.assemble(
                "  ", (r.status, _STATUS_STYLE.get(r.status, "")), f"  {r.done}/{r.planned} done  {r.errors} err  ",
                r.suite, "  ", r.model,
            )  # fmt: skip

    def _table(self, id_width: int) -> Table:
        table = Table(title="runs", title_justify="left", expand=False, pad_edge=False, box=box.SIMPLE_HEAD)
        table.add_column("run", no_wrap=True, min_width=id_width)
        table.add_column("status", no_wrap=True)
        table.add_column("done", justify="right", no_wrap=True)
        table.add_column("err", justify="right", no_wrap=True)
        table.add_column("suite", overflow="fold", max_width=16)
        table.add_column("model", overflow="fold", max_width=30)
        for r in self.runs:
            table.add_row(
                Text(r.run_id),
                Text(r.status, style=_STATUS_STYLE.get(r.status, "")),
                f"{r.done}/{r.planned}",
                str(r.errors),
                Text(r.suite),
                Text(r.model),
            )
        return table


def render_runs(runs: list[RunInfo]) -> _Runs:
    """``tailgate runs``: id, status, samples done/total, errors, suite, model."""
    return _Runs(runs)


def render_run_summary(manifest: Manifest, info: RunInfo, summary: RunSummary) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold", min_width=len(info.run_id))
    head.add_row("run", Text(info.run_id))
    head.add_row("suite", Text(f"{manifest.suite.name}  ({manifest.suite.path})"))
    head.add_row("model", Text(f"{manifest.model.spec}  mode={manifest.mode}"))
    plan = manifest.plan
    head.add_row(
        "plan", f"{plan.items} items x {plan.variants} variants x {plan.repeats} repeats = {plan.samples} samples"
    )
    head.add_row("status", f"{info.status}: {info.done}/{info.planned} samples done")
    head.add_row("started", f"{manifest.started_at}  ended {manifest.ended_at or '-'}")

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


class _SafeConsole(Console):
    """A console that cannot be steered by the text it shows: every text segment is neutralised
    (control and bidi characters made visible, :func:`tailgate.text.neutralize`) as it is
    written; the segments rich itself emits for styles and cursor control are left alone. The
    renderers neutralise their data before layout too; this is the net under all of them."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            Segment(neutralize(text), style, None) if control is None else Segment(text, style, control)
            for text, style, control in buffer
        )


def console(stderr: bool = False) -> Console:
    return _SafeConsole(stderr=stderr, highlight=False, soft_wrap=False)
