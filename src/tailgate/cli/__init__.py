"""The ``tailgate`` command: thin commands over the library.

Exit codes are API: 0 ok, 1 gate failed, 2 usage or input error, 3 a run that measured nothing or a gate
that refused to decide (an untrusted judge gave the scores), 130 interrupted.
"""

from __future__ import annotations

from tailgate.cli._startup import importing as _importing

with _importing():  # (collection off while importing: see tailgate.cli._startup)
    import click

    from tailgate._version import __version__
    from tailgate.cli._common import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="tailgate")
@click.option(
    "--store",
    envvar="TAILGATE_STORE",
    metavar="PATH",
    help="Records store folder (default: ./.tailgate; env TAILGATE_STORE).",
)
@click.pass_context
def cli(ctx: click.Context, store: str | None) -> None:
    """tailgate: gate model changes on the tails, not the mean."""
    ctx.obj = {"store": store}


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="tailgate")


with _importing():
    from tailgate.cli import (  # noqa: F401  (register the commands on ``cli``)
        _cache,
        _commands,
        _drift,
        _importers,
        _redteam,
        _robustness,
        _sample,
        _shadow,
        _traffic,
        _view,
    )
