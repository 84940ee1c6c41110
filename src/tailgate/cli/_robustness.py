"""Commands about robustness: rescore (parser sensitivity) and contamination."""

from __future__ import annotations

import click

from tailgate.cli import cli
from tailgate.cli._common import handle_errors, json_option, open_store, store_option, write_outputs


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--corpus", required=True, metavar="PATH", help="A text/JSONL file or a folder (read recursively).")
@click.option("--n", "n", type=int, default=13, show_default=True, help="Tokens per n-gram.")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of an item's n-grams found for it to count as overlapping (0: any one).",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Level of every interval.",
)
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True, help="Overlapping items listed.")
@json_option()
@store_option
@click.pass_context
@handle_errors
def contamination(
    ctx: click.Context, run_ref: str, corpus: str, n: int, threshold: float, confidence: float, top: int,
    json_out: str | None,
) -> None:  # fmt: skip
    """Items whose text overlaps a corpus (n-grams), and the score of clean and overlapping items."""
    from tailgate.analysis import contamination as check
    from tailgate.report import console, render_contamination

    store = open_store(ctx)
    result = check(store, store.resolve(run_ref), corpus, n=n, threshold=threshold, confidence=confidence, top=top)
    write_outputs(result.as_dict(), json_out)
    if json_out != "-":
        console().print(render_contamination(result))


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--extract",
    "extractors",
    multiple=True,
    metavar="NAME",
    help="Re-score with every suite scorer using this extractor (repeatable; default: a standard set).",
)
@click.option(
    "--scorer",
    "scorers",
    multiple=True,
    metavar="TYPE[/EXTRACT]",
    help="Re-score every sample with this scorer, e.g. choice/first_word (repeatable).",
)
@click.option("--llm", metavar="MODEL", help="Also let MODEL read each output's final answer (an LLM extractor).")
@click.option(
    "--vs", "versus", metavar="BASE", help="Warn when the parser spread is as large as the delta BASE -> RUN."
)
@json_option()
@store_option
@click.pass_context
@handle_errors
def rescore(
    ctx: click.Context,
    run_ref: str,
    extractors: tuple[str, ...],
    scorers: tuple[str, ...],
    llm: str | None,
    versus: str | None,
    json_out: str | None,
) -> None:
    """Re-score RUN's stored outputs with other answer parsers (no model call): is a gap the parser?"""
    from tailgate._api import rescore_run
    from tailgate.report import console, render_parsers

    result = rescore_run(
        run_ref, extractors=extractors or None, scorers=scorers, llm=llm, versus=versus, store=open_store(ctx)
    )
    write_outputs(result, json_out)
    if json_out != "-":
        console().print(render_parsers(result))
