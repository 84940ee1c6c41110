"""``tailgate import lm-eval|inspect|promptfoo|openai-evals FILE...``: other tools' result files
become ordinary runs (one library call: :func:`tailgate.store.import_format`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tailgate.cli._commands import import_
from tailgate.cli._common import F, handle_errors, open_store, store_option
from tailgate.text import neutralize


def _common(func: F) -> F:
    func = click.option("--model", help="Model name to record (default: the one the file names).")(func)
    func = click.option("--run-id", help="Name of the new run (promptfoo, several providers: NAME-<provider>).")(func)
    return click.argument("files", nargs=-1, required=True, metavar="FILE...")(func)


def _run(ctx: click.Context, fmt: str, files: tuple[str, ...], **options: Any) -> None:
    from tailgate.store import FormatOptions, import_format

    for run in import_format(open_store(ctx), fmt, list(files), FormatOptions(**options)):
        click.echo(f"imported {run.records} records of {run.items} items as run {run.run_id} ({neutralize(run.model)})")


def _command(name: str, doc: str, *extra: Callable[[F], F]) -> Callable[[Callable[..., None]], Any]:
    def decorate(func: Callable[..., None]) -> Any:
        func.__doc__ = doc
        wrapped: Any = handle_errors(func)
        wrapped = click.pass_context(wrapped)
        wrapped = store_option(wrapped)
        for option in extra:
            wrapped = option(wrapped)
        return import_.command(name)(_common(wrapped))

    return decorate


@_command(
    "lm-eval",
    "Import lm-evaluation-harness --log_samples files (samples_<task>_<date>.jsonl) as one run.",
    click.option(
        "--filter", "filter_", metavar="NAME", help="Filter whose answers the run keeps (default: the first)."
    ),
    click.option("--metric", metavar="NAME", help="Headline metric (default: each line's first)."),
)
def import_lmeval_cmd(
    ctx: click.Context,
    files: tuple[str, ...],
    run_id: str | None,
    model: str | None,
    filter_: str | None,
    metric: str | None,
) -> None:
    _run(ctx, "lm-eval", files, run_id=run_id, model=model, filter=filter_, metric=metric)


@_command(
    "inspect",
    "Import Inspect AI logs (.eval or .json) as one run; epochs become repeats.",
    click.option("--scorer", metavar="NAME", help="Headline scorer (default: the log's first)."),
)
def import_inspect_cmd(
    ctx: click.Context, files: tuple[str, ...], run_id: str | None, model: str | None, scorer: str | None
) -> None:
    _run(ctx, "inspect", files, run_id=run_id, model=model, scorer=scorer)


@_command(
    "promptfoo",
    "Import promptfoo results (promptfoo eval -o out.json): one run per provider.",
    click.option("--provider", metavar="NAME", help="Import only this provider (its label or id)."),
)
def import_promptfoo_cmd(
    ctx: click.Context, files: tuple[str, ...], run_id: str | None, model: str | None, provider: str | None
) -> None:
    _run(ctx, "promptfoo", files, run_id=run_id, model=model, provider=provider)


@_command("openai-evals", "Import OpenAI evals record logs (oaieval --record_path) as one run.")
def import_oaievals_cmd(ctx: click.Context, files: tuple[str, ...], run_id: str | None, model: str | None) -> None:
    _run(ctx, "openai-evals", files, run_id=run_id, model=model)
