"""``tailgate drift``: has the production traffic moved (docs/drift.md)."""

from __future__ import annotations

import sys
from typing import Any

import click

from tailgate.cli import cli
from tailgate.cli._common import handle_errors, json_option, open_store, store_option, write_outputs
from tailgate.text import neutralize


def _names(values: tuple[str, ...]) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


@cli.command()
@click.option("--ref", metavar="WINDOW", help="Reference window: START..END, 7d, 14d..7d, last:N, first:N.")
@click.option("--cur", metavar="WINDOW", help="Current window, the same way [default: see docs/drift.md].")
@click.option("--every", metavar="SPEC", help="Monitor consecutive windows of 1d, 6h, 30m or N requests.")
@click.option("--attribute", "attributes", multiple=True, metavar="NAME", help="Test this attribute (repeatable).")
@click.option("--no-text", is_flag=True, help="Skip the text tests (domain classifier, n-grams, typical requests).")
@click.option("--embeddings", is_flag=True, help="Also an MMD test on text embeddings (extra 'semantic').")
@click.option("--run", "run_ref", metavar="RUN", help="An eval run to re-weight to each window's mix (with --by).")
@click.option("--by", metavar="A,B", help="Attributes the run is re-weighted on, e.g. lang,input_tokens.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--max-texts", type=click.IntRange(min=10), default=20_000, show_default=True, help="Texts per window.")
@json_option("the drift report as JSON")
@click.option("--html", "html_out", metavar="FILE", help="Write a self-contained HTML drift report.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when drift is found (BH verdict, or the monitor's alarm).")
@click.option("--quiet", "-q", is_flag=True, help="No progress.")
@store_option
@click.pass_context
@handle_errors
def drift(ctx: click.Context, /, attributes: tuple[str, ...], json_out: str | None, html_out: str | None,
          **opts: Any) -> None:  # fmt: skip
    """Has the traffic moved? Test two windows of the traffic table (or monitor consecutive
    windows), explain what moved, and re-weight an eval run to each window's mix."""
    from tailgate._api import drift as compute
    from tailgate.report import StepProgress, console, drift_html, render_drift

    with StepProgress(console(stderr=True), "drift") as progress:
        report = compute(
            ref=opts["ref"], cur=opts["cur"], every=opts["every"], attributes=_names(attributes) or None,
            text=not opts["no_text"], embeddings=opts["embeddings"], run=opts["run_ref"],
            by=_names((opts["by"],)) if opts["by"] else None, alpha=opts["alpha"], seed=opts["seed"],
            max_texts=opts["max_texts"], store=open_store(ctx), progress=None if opts["quiet"] else progress,
        )  # fmt: skip
    write_outputs(report.as_dict(), json_out, (html_out, drift_html(report)) if html_out else None)
    if json_out != "-":
        console().print(render_drift(report))
    for warning in report.warnings:
        click.echo(f"tailgate: warning: {neutralize(warning)}", err=True)
    if opts["fail_on_drift"] and report.drift_detected:
        sys.exit(1)
