"""Commands about robustness: rescore (parser sensitivity) and contamination."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tailgate.cli import cli, echo_json, handle_errors


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
@click.option(
    "--json",
    "json_out",
    is_flag=False,
    flag_value="-",
    default=None,
    metavar="[FILE]",
    help="Write JSON to FILE (alone: print it instead of the tables).",
)
@click.pass_context
@handle_errors
def contamination(
    ctx: click.Context, run_ref: str, corpus: str, n: int, threshold: float, confidence: float, top: int,
    json_out: str | None,
) -> None:  # fmt: skip
    """Items whose text overlaps a corpus (n-grams), and the score of clean and overlapping items."""
    from tailgate.analysis import contamination as check
    from tailgate.report import console
    from tailgate.store import Store

    store = Store(ctx.obj.get("store"))
    result = check(store, store.resolve(run_ref), corpus, n=n, threshold=threshold, confidence=confidence, top=top)
    data = result.as_dict()
    if json_out == "-":
        echo_json(data)
        return
    if json_out:
        Path(json_out).write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        click.echo(f"wrote {json_out}", err=True)
    console().print(_render_contamination(data))


def _interval(e: dict[str, Any], signed: bool = False) -> str:
    if e.get("value") is None:
        return "n/a"
    f = "+.3f" if signed else ".3f"
    if e.get("low") is None:
        return format(e["value"], f)
    return f"{e['value']:{f}} [{e['low']:{f}}, {e['high']:{f}}]"


def _render_contamination(c: dict[str, Any]) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    o, k, corpus = c["options"], c["counts"], c["corpus"]
    head = Text(
        f"run {c['run_id']}: {k['items']} items, {o['n']}-grams, threshold {o['threshold']:g}; corpus {corpus['path']} "
        f"({corpus['files']} files, {corpus['tokens']:,} tokens)"
    )
    scores = Table(title="score by subset", title_justify="left", pad_edge=False)
    scores.add_column("subset")
    scores.add_column("items", justify="right")
    scores.add_column(f"score [{o['confidence']:.0%} CI]", justify="right")
    scores.add_column("method", overflow="fold", max_width=32)
    for name in ("all", "clean", "overlapping"):
        est = c["score"][name]
        scores.add_row(name, str(k[name] if name != "all" else k["items"]), _interval(est), est["method"])
    diff = c["difference"]
    p = "" if diff["p_value"] is None else f"  p={diff['p_value']:.2g}"
    scores.add_row("overlap - clean", "", _interval(diff["estimate"], signed=True) + p, diff["estimate"]["method"])
    parts: list[Any] = [head, Text(f"too short to check (< {o['n']} tokens): {k['too_short']} items"), scores]
    if c["top_overlapping"]:
        items = Table(title="most overlapping items", title_justify="left", pad_edge=False)
        for name in ("item", "overlap", "first match"):
            items.add_column(name, overflow="fold", max_width=60 if name == "first match" else 24)
        for row in c["top_overlapping"]:
            items.add_row(
                Text(str(row["source_id"] or row["item_id"])), f"{row['overlap']:.0%}", Text(row["first_match"])
            )
        parts.append(items)
    parts.extend(Text(f"warning: {w}", style="yellow") for w in c["warnings"])
    return Group(*parts)
