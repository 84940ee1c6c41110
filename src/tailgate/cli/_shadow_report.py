"""``tailgate shadow report RUN``: the statistics of a shadow session (docs/shadow.md).

The command object is registered under the ``shadow`` group by the CLI's wiring; it is complete
on its own (tests call it through click's CliRunner).
"""

from __future__ import annotations

from typing import Any

import click

from tailgate.cli._common import handle_errors, json_option, open_store, store_option, write_outputs
from tailgate.text import neutralize

__all__ = ["report_command"]


@click.command("report")
@click.argument("run", metavar="RUN")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True,
              help="Significance level of the verdict and the slices.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latency bootstrap.")
@json_option("the shadow report as JSON")
@click.option("--html", "html_out", metavar="FILE", help="Write a self-contained HTML shadow report.")
@click.option("--markdown", "md_out", metavar="FILE", help="Write the report as Markdown (a PR comment).")
@store_option
@click.pass_context
@handle_errors
def report_command(ctx: click.Context, /, run: str, json_out: str | None, html_out: str | None, md_out: str | None,
                   **opts: Any) -> None:  # fmt: skip
    """Does the shadowed candidate answer differently from the primary by more than the primary
    differs from itself? RUN is the session id (its runs are RUN-primary, RUN-candidate, RUN-noise)."""
    from tailgate._api import shadow_report
    from tailgate.report import console, render_shadow, shadow_html, shadow_markdown

    ctx.ensure_object(dict)
    report = shadow_report(run, store=open_store(ctx), alpha=opts["alpha"], seed=opts["seed"])
    files = [
        (html_out, shadow_html(report)) if html_out else None,
        (md_out, shadow_markdown(report)) if md_out else None,
    ]
    write_outputs(report.as_dict(), json_out, *files)
    if json_out != "-":
        console().print(render_shadow(report))
    for c in report.candidates:
        for warning in c.warnings:
            click.echo(f"tailgate: warning: {c.label}: {neutralize(warning)}", err=True)
