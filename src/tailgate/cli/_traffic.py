"""``tailgate import traffic``: production logs into the store's traffic table."""

from __future__ import annotations

import os
from typing import Any

import click

from tailgate.cli._commands import import_
from tailgate.cli._common import echo_json, handle_errors, open_store, store_option
from tailgate.errors import InputError, UsageError
from tailgate.text import neutralize

_SHOWN_BAD_LINES = 20


def _fields(pairs: tuple[str, ...]) -> dict[str, str]:
    from tailgate.traffic import FIELD_NAMES

    fields = {}
    for pair in pairs:
        name, sep, key = pair.partition("=")
        if not sep or not key or name not in FIELD_NAMES:
            raise UsageError(f"--field '{pair}': expected NAME=KEY with NAME one of {', '.join(FIELD_NAMES)}")
        fields[name] = key
    return fields


@import_.command("traffic")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "openai-jsonl", "otel", "csv", "parquet"]),
    default="auto",
    show_default=True,
    help="Log format (auto: from the file name, and for JSON from its content).",
)
@click.option("--field", "fields", multiple=True, metavar="NAME=KEY", help="Where a field is (e.g. timestamp=ts).")
@click.option("--column", "columns", multiple=True, metavar="KEY", help="Keep this column/key with each request.")
@click.option("--latency-unit", type=click.Choice(["ms", "s"]), default="ms", show_default=True, help="Of `latency`.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@store_option
@click.pass_context
@handle_errors
def import_traffic_cmd(
    ctx: click.Context,
    files: tuple[str, ...],
    fmt: str,
    fields: tuple[str, ...],
    columns: tuple[str, ...],
    latency_unit: str,
    as_json: bool,
) -> None:
    """Import production logs (OpenAI-style JSONL, OTel GenAI spans, CSV, Parquet) into the traffic
    table; re-importing stores nothing twice and resumes where a killed import stopped."""
    from tailgate.traffic import ReadOptions, import_traffic

    options = ReadOptions(fields=_fields(fields), columns=columns, latency_unit=latency_unit)
    jobs = os.cpu_count() or 1  # worker processes: they parse large JSONL files, a range each
    result = import_traffic(open_store(ctx).traffic_dir, list(files), fmt=fmt, options=options, jobs=jobs)
    if as_json:
        echo_json(result.as_dict())
    else:
        _render(result)
    if result.requests == 0 and not any(f.resumed_at for f in result.files):
        raise InputError("no valid request in " + ", ".join(files) + _why(result))


def _why(result: Any) -> str:
    if result.bad:
        return f" ({result.bad} bad lines)"
    return " (empty)" if all(f.lines == 0 for f in result.files) else " (no GenAI request in it)"


def _render(result: Any) -> None:
    for f in result.files:
        name = neutralize(f.file)
        if f.lines == 0:
            click.echo(
                f"{name}: " + (f"already imported ({f.resumed_at} lines), nothing new" if f.resumed_at else "empty")
            )
            continue
        resumed = f" (resumed after line {f.resumed_at})" if f.resumed_at else ""
        skipped = f", {f.skipped} skipped" if f.skipped else ""
        click.echo(
            f"{name} [{f.format}]{resumed}: {f.lines} lines, {f.requests} requests, {f.inserted} new, "
            f"{f.duplicates} duplicates, {f.bad} bad{skipped}"
        )
    for bad in result.bad_lines[:_SHOWN_BAD_LINES]:
        click.echo(f"  {neutralize(str(bad))}", err=True)
    if result.bad > _SHOWN_BAD_LINES:
        click.echo(f"  ... and {result.bad - _SHOWN_BAD_LINES} more bad lines (the first 1000: --json)", err=True)
    click.echo(f"traffic table: {result.table_rows} requests ({result.seconds:.1f} s)")
