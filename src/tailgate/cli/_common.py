"""What the commands share: error handling, ``--json [FILE]``, ``--store``, writing outputs."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tailgate.errors import Interrupted, TailgateError
from tailgate.text import neutralize

DEFAULT_MODEL = "local:smollm2-135m"
"""The model ``tailgate run`` evaluates without ``--model``: SmolLM2-135M-Instruct, in process."""

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn library errors into a one-line message on stderr and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Interrupted as exc:
            click.echo(f"tailgate: {neutralize(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("tailgate: interrupted", err=True)
            sys.exit(130)
        except TailgateError as exc:  # messages quote the user's files: nothing in them steers the terminal
            click.echo(f"tailgate: error: {neutralize(str(exc))}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def json_option(what: str = "JSON") -> Callable[[F], F]:
    """``--json [FILE]``: alone, print JSON instead of the tables; with a FILE, write it there too."""
    return click.option(
        "--json",
        "json_out",
        is_flag=False,
        flag_value="-",
        default=None,
        metavar="[FILE]",
        help=f"Write {what} to FILE (alone: print it instead of the tables).",
    )


def write_file(path: str, text: str) -> None:
    from pathlib import Path

    Path(path).write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}", err=True)


def write_outputs(data: dict[str, Any], json_out: str | None, *files: tuple[str, str] | None) -> None:
    """The JSON (to standard output for ``-``, else to its file) and any (path, text) files."""
    if json_out == "-":
        echo_json(data)
    elif json_out:
        write_file(json_out, json.dumps(data, indent=2, ensure_ascii=False, default=str))
    for pair in files:
        if pair:
            write_file(*pair)


def store_option(func: F) -> F:
    """``--store PATH`` after the command too (``tailgate report latest --store runs/``); given in
    both places, the one after the command wins; ``TAILGATE_STORE`` applies when neither is given."""

    def remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(dict)["store"] = value

    return click.option(
        "--store",
        metavar="PATH",
        expose_value=False,
        callback=remember,
        help="Records store folder (default: ./.tailgate; env TAILGATE_STORE).",
    )(func)


def open_store(ctx: click.Context) -> Any:
    """The records store chosen by ``--store`` (or ``TAILGATE_STORE``)."""
    from tailgate.store import Store

    return Store(ctx.obj.get("store"))
