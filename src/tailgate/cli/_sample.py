"""``tailgate sample``: a runnable suite from recent production traffic."""

from __future__ import annotations

from typing import Any

import click

from tailgate.cli import cli
from tailgate.cli._common import echo_json, handle_errors, open_store, store_option
from tailgate.errors import UsageError
from tailgate.text import neutralize


def _oversample(pairs: tuple[str, ...]) -> dict[str, int]:
    out = {}
    for pair in pairs:
        spec, sep, count = pair.rpartition("=")
        if not sep or "=" not in spec or not count.strip().isdigit():
            raise UsageError(f"--oversample '{pair}': expected SLICE=N, e.g. lang=de=50 or lang=de,length=<100=20")
        out[spec] = int(count)
    return out


@cli.command()
@click.option(
    "-o", "--out", required=True, metavar="DIR", help="Folder to write suite.yaml, items.jsonl, sampling.json."
)
@click.option(
    "--since", default="7d", show_default=True, metavar="T", help="Window start: a duration back from --until, or ISO."
)
@click.option(
    "--until", metavar="T", help="Window end (exclusive): ISO 8601 time or a duration back from now [default: now]."
)
@click.option("--n", "-n", "n", type=click.IntRange(min=1), default=300, show_default=True, help="Items in all.")
@click.option(
    "--stratify", default="lang,length", show_default=True, metavar="COLS", help="Columns whose values are the strata."
)
@click.option(
    "--min-per-slice",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="At least this many items per stratum.",
)
@click.option("--oversample", multiple=True, metavar="SLICE=N", help="At least N items in SLICE (e.g. lang=de=50).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random draw.")
@click.option(
    "--dedup-threshold",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=0.8,
    show_default=True,
    help="Near-duplicate Jaccard similarity (character 5-grams).",
)
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True, help="The suite's repeats.")
@click.option("--name", help="Suite name [default: traffic-SINCE-UNTIL].")
@click.option(
    "--detect-drop",
    "--drop-in-slice",
    "detect_drop",
    type=click.FloatRange(min=0, max=1, min_open=True),
    help="Say how many items each slice needs to detect this drop (80% power, two-sided 0.05).",
)
@click.option(
    "--delta-sd",
    type=click.FloatRange(min=0, min_open=True),
    help="Planning sd of an item's score change between two models [default: 0.5].",
)
@click.option("--force", is_flag=True, help="Overwrite a suite already in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@store_option
@click.pass_context
@handle_errors
def sample(ctx: click.Context, /, out: str, stratify: str, oversample: tuple[str, ...], **opts: Any) -> None:
    """Build a runnable suite from recent traffic: stratified, near-duplicates removed, PII
    scrubbed, the logged answers kept as a baseline, with the items each slice needs for a drop."""
    from tailgate._api import sample_suite
    from tailgate.traffic import SampleOptions

    options = SampleOptions(
        n=opts["n"],
        since=opts["since"],
        until=opts["until"],
        stratify=tuple(c.strip() for c in stratify.split(",") if c.strip()),
        min_per_slice=opts["min_per_slice"],
        oversample=_oversample(oversample),
        seed=opts["seed"],
        dedup_threshold=opts["dedup_threshold"],
        repeats=opts["repeats"],
        name=opts["name"],
    )
    outcome = sample_suite(
        out,
        store=open_store(ctx),
        options=options,
        detect_drop=opts["detect_drop"],
        delta_sd=opts["delta_sd"],
        force=opts["force"],
    )
    if opts["as_json"]:
        echo_json(outcome.as_dict())
    else:
        _render(outcome)


def _render(outcome: Any) -> None:
    s = outcome.sample
    click.echo(
        f"window {s.as_dict()['window']['since']} .. {s.as_dict()['window']['until']}: {s.window_requests} requests, "
        f"{s.window_inputs} distinct inputs, {len(s.strata)} strata on {', '.join(s.stratify)}"
    )
    pii = ", ".join(f"{n} {kind}" for kind, n in s.pii.items()) or "none"
    click.echo(
        f"sampled {s.items} items ({s.near_duplicates} near-duplicates dropped at Jaccard >= {s.dedup_threshold:g}); "
        f"PII replaced in {s.items_with_pii} items: {pii}"
    )
    width = max([len(neutralize(st.label)) for st in s.strata] + [5])
    click.echo(f"{'slice':<{width}}  requests  inputs  sampled  near-dups")
    for st in s.strata:
        click.echo(
            f"{neutralize(st.label):<{width}}  {st.requests:>8}  {st.inputs:>6}  {st.sampled:>7}  "
            f"{st.near_duplicates:>9}"
        )
    power = outcome.power
    if power is not None:
        click.echo(
            f"power: each slice needs {power.items_needed} items to detect a drop of {power.drop:g} ({power.method})"
        )
    for warning in [*s.warnings, *(power.warnings if power else ())]:
        click.echo(f"tailgate: warning: {neutralize(warning)}", err=True)
    click.echo(f"wrote {s.suite} ({s.items} items); run it with: tailgate run {s.suite} --model SPEC")
