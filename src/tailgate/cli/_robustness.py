"""Commands about robustness: rescore (parser sensitivity) and contamination."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tailgate.cli import cli
from tailgate.cli._common import handle_errors, json_option, open_store, store_option, write_outputs

if TYPE_CHECKING:
    from tailgate.runner import RunResult


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
@click.option(
    "--judge",
    "judges",
    multiple=True,
    metavar="SCORER",
    help="Judge the outputs into a new run instead: a scorer entry as YAML, e.g. "
    "'{type: judge_reference, judge: local:smollm2-135m}', or a YAML file of entries (repeatable).",
)
@click.option("--run-id", "new_run_id", metavar="ID", help="With --judge: the judged run's id (default RUN.judged).")
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
    judges: tuple[str, ...],
    new_run_id: str | None,
    json_out: str | None,
) -> None:
    """Re-score RUN's stored outputs with other answer parsers (no model call): is a gap the parser?
    With --judge: score them with judges into a new run (the model under test is not called)."""
    from tailgate._api import judge_run, rescore_run
    from tailgate.report import console, render_parsers

    if judges:
        _print_judged(
            judge_run(run_ref, judges=_judge_entries(judges), run_id=new_run_id, store=open_store(ctx)), json_out
        )
        return

    result = rescore_run(
        run_ref, extractors=extractors or None, scorers=scorers, llm=llm, versus=versus, store=open_store(ctx)
    )
    write_outputs(result, json_out)
    if json_out != "-":
        console().print(render_parsers(result))


def _judge_entries(values: tuple[str, ...]) -> list[dict[str, object]]:
    """``--judge`` values: YAML mappings, or YAML files of a mapping or a list of them."""
    from pathlib import Path

    import yaml

    from tailgate.errors import UsageError

    entries: list[dict[str, object]] = []
    for value in values:
        path = Path(value)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8") if path.is_file() else value)
        except yaml.YAMLError as exc:
            raise UsageError(f"--judge {value!r} is not YAML: {exc}") from None
        for entry in loaded if isinstance(loaded, list) else [loaded]:
            if not isinstance(entry, dict) or "type" not in entry:
                raise UsageError(
                    f"--judge {value!r}: give a scorer entry with a type, e.g. '{{type: judge_reference, ...}}'"
                )
            entries.append(entry)
    return entries


def _print_judged(result: RunResult, json_out: str | None) -> None:
    from tailgate.report import console

    write_outputs(result.as_dict(), json_out)
    if json_out != "-":
        console().print(
            f"judged run {result.run_id}: {result.done} samples, {result.issued} judge calls"
            f" ({result.stats.cached} outputs replayed)\nnext: tailgate report {result.run_id}",
            markup=False,
        )
        for warning in result.warnings:
            console().print(f"warning: {warning}", markup=False)


@cli.command("judge-attack")
@click.argument("suite")
@click.option(
    "--judge", required=True, metavar="SPEC", help="The judge: a model spec, or a judge scorer entry as YAML."
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Items attacked.")
@click.option("--repeats", type=click.IntRange(min=1), default=1, show_default=True, help="Judge samples per output.")
@click.option("--temperature", type=click.FloatRange(min=0), help="The judge's temperature (default: the scorer's, 0).")
@click.option("--attack", "attacks", multiple=True, metavar="NAME", help="Only this attack (repeatable; default all).")
@click.option(
    "--run-id", "run_id", metavar="ID", help="The attack run's id (default: derived; the same command resumes)."
)
@json_option()
@store_option
@click.pass_context
@handle_errors
def judge_attack(
    ctx: click.Context,
    suite: str,
    judge: str,
    limit: int,
    repeats: int,
    temperature: float | None,
    attacks: tuple[str, ...],
    run_id: str | None,
    json_out: str | None,
) -> None:
    """Red-team a judge: wrong answers dressed up ("Yes", padding, self-praise, an injected grade,
    broken markup, one fact changed), judged in a stored run; the success rate of each attack."""
    from tailgate._api import judge_attack as attack_judge
    from tailgate.report import console, render_judge_attack

    spec: str | dict[str, object] = _judge_entries((judge,))[0] if judge.lstrip().startswith("{") else judge
    report = attack_judge(suite, judge=spec, limit=limit, repeats=repeats, temperature=temperature,
                          attacks=attacks or None, run_id=run_id, store=open_store(ctx))  # fmt: skip
    write_outputs(report.as_dict(), json_out)
    if json_out != "-":
        console().print(render_judge_attack(report))
