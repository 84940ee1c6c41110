"""``tailgate view``: the local web viewer (a paired diff first), or its static export."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tailgate.cli import cli
from tailgate.cli._common import handle_errors, open_store, store_option

F = TypeVar("F", bound=Callable[..., Any])


def _exit_promptly(func: F) -> F:
    """Exit at once (Ctrl-C, a busy port) while the background comparison still runs: the
    interpreter's normal exit would stop its thread inside DuckDB, which aborts the process."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from tailgate.view import comparing

        try:
            return func(*args, **kwargs)
        except SystemExit as exc:
            if comparing():
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(exc.code if isinstance(exc.code, int) else 1)
            raise

    return wrapper  # type: ignore[return-value]


@cli.command()
@click.argument("runs", nargs=-1, metavar="[RUN] [RUN2]")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option("--no-open", is_flag=True, help="Do not open a browser.")
@click.option(
    "--export", "export_dir", metavar="DIR", help="Write the views as static files to DIR instead of serving."
)
@click.option(
    "--comparison",
    metavar="FILE",
    help="Read the comparison from FILE (tailgate compare --json FILE, default options) instead of computing it.",
)
@store_option
@click.pass_context
@_exit_promptly
@handle_errors
def view(
    ctx: click.Context, runs: tuple[str, ...], port: int, no_open: bool, export_dir: str | None, comparison: str | None
) -> None:
    """Browse RUN (its report), or RUN RUN2 as a paired diff (base, candidate), on 127.0.0.1.

    With no run, the latest. Ctrl-C stops the server. See docs/view.md for the filter language.
    """
    from tailgate.errors import UsageError
    from tailgate.view import export_view, serve_view

    chosen = list(runs) or ["latest"]
    if len(chosen) > 2:
        raise UsageError("tailgate view takes at most two runs: BASE CAND")
    if export_dir is not None:
        result = export_view(chosen, export_dir, store=open_store(ctx), comparison=comparison)
        click.echo(
            f"wrote {result.folder}: {result.filters} precomputed filters, {result.items} items "
            "(serve the folder with any static server, e.g. python's http.server bound to 127.0.0.1)"
        )
        return
    serve_view(
        chosen,
        store=open_store(ctx),
        port=port,
        open_browser=not no_open,
        announce=lambda url: click.echo(f"tailgate view: {url} (Ctrl-C stops it)", err=True),
        notify=lambda message: click.echo(f"tailgate view: {message}", err=True),
        comparison=comparison,
    )
