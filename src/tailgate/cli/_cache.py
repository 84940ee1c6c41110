"""``tailgate cache``: what the response cache holds, and clearing it."""

from __future__ import annotations

import re
import time

import click

from tailgate.cli import cli
from tailgate.cli._common import echo_json, handle_errors, open_store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str | None) -> float | None:
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise click.BadParameter(f"'{text}' is not a duration like 30d, 12h, 90m or 3600s", param_hint="--older-than")
    return float(match.group(1)) * _UNITS[match.group(2)]


@cli.group()
def cache() -> None:
    """The response cache (STORE/cache.sqlite): stats and clear."""


@cache.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handle_errors
def stats(ctx: click.Context, as_json: bool) -> None:
    """Entries, size, oldest and newest entry, entries per model."""
    store_cache = open_store(ctx).cache()
    try:
        result = store_cache.stats()
    finally:
        store_cache.close()
    if as_json:
        echo_json(result.as_dict())
        return
    when = " to ".join(_stamp(t) for t in (result.oldest, result.newest) if t is not None)
    click.echo(f"{result.path}: {result.entries} entries, {result.bytes / 1e6:.1f} MB" + (f", {when}" if when else ""))
    for model, n in result.by_model.items():
        click.echo(f"  {model}\t{n}")


@cache.command()
@click.option("--older-than", metavar="AGE", help="Only entries older than AGE (e.g. 30d, 12h, 90m).")
@click.pass_context
@handle_errors
def clear(ctx: click.Context, older_than: str | None) -> None:
    """Delete cached answers (all, or those older than AGE); runs and records are untouched."""
    age = _duration(older_than)
    store_cache = open_store(ctx).cache()
    try:
        deleted = store_cache.clear(age)
    finally:
        store_cache.close()
    click.echo(f"deleted {deleted} cached answers" + (f" older than {older_than}" if older_than else ""))


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))
