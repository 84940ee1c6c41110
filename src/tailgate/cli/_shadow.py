"""``tailgate shadow``: the mirroring proxy (a group: ``tailgate shadow report`` joins it)."""

from __future__ import annotations

import sys
from typing import Any

import click

from tailgate.cli import cli
from tailgate.cli._common import handle_errors, store_option
from tailgate.errors import UsageError


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--listen '{value}': expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]") or "127.0.0.1", int(port)


def _status_line(proxy: Any) -> str:
    c = proxy.metrics.snapshot()
    dropped = sum(v for k, v in c.items() if k.startswith("dropped."))
    failed = sum(v for k, v in c.items() if k.startswith("failed."))
    skipped = sum(v for k, v in c.items() if k.startswith("skipped."))
    health = proxy.health()
    return (
        f"shadow {proxy.run_id}: mirrored {c.get('mirrored', 0)}  noise {c.get('noise', 0)}  "
        f"dropped {dropped}  failed {failed}  skipped {skipped}  queue {health['queue']}  "
        f"in flight {health['in_flight_mirrors']}"
    )


def _serve(config: Any, *, live: bool) -> dict[str, Any]:
    """Serve until SIGTERM / Ctrl-C, with a live status line on a terminal (rich)."""
    from rich.console import Console
    from rich.text import Text

    from tailgate.shadow import serve

    console = Console(stderr=True)

    def started(proxy: Any) -> None:
        click.echo(f"tailgate shadow {proxy.run_id}: listening on {proxy.url}", err=True)

    if not live:
        return serve(config, on_start=started)
    with console.status("starting") as status:
        return serve(config, on_start=started, on_status=lambda proxy: status.update(Text(_status_line(proxy))))


@cli.group("shadow", invoke_without_command=True)
@click.option("--primary", metavar="URL", help="Base URL of the primary (the client's path is appended).")
@click.option("--candidate", "candidates", metavar="URL", multiple=True, help="Base URL of a candidate (repeatable).")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT", help="Where to listen.")
@click.option("--sample", type=float, default=0.05, show_default=True, help="Share of requests mirrored.")
@click.option(
    "--noise", type=float, default=0.0, show_default=True, help="Share of mirrored requests re-sent to the primary."
)
@click.option("--run-id", metavar="ID", help="Session id (default shadow-YYYYMMDD-HHMMSS-xxxx); the same id appends.")
@click.option("--queue", "queue_size", type=int, default=1000, show_default=True, help="Mirrors waiting, at most.")
@click.option("--mirror-concurrency", type=int, default=16, show_default=True, help="Mirrors in flight, at most.")
@click.option("--mirror-timeout", type=float, default=30.0, show_default=True, help="Seconds per mirror call.")
@click.option("--mirror-tools", is_flag=True, help="Mirror requests with tools/functions too.")
@click.option(
    "--candidate-key-env",
    default="TAILGATE_CANDIDATE_API_KEY",
    show_default=True,
    metavar="NAME",
    help="Environment variable with the candidates' API key.",
)
@click.option("--candidate-model", metavar="NAME", help="The model name sent to the candidates.")
@click.option("--grace", type=float, default=10.0, show_default=True, help="Seconds in-flight calls get at shutdown.")
@click.option("--max-body", type=int, default=64, show_default=True, metavar="MIB", help="Largest request body, MiB.")
@click.option(
    "--traffic-rows",
    type=click.Choice(["all", "mirrored", "none"]),
    default="all",
    show_default=True,
    help="Which proxied requests get a traffic-table row.",
)
@click.option("--quiet", is_flag=True, help="No status line on stderr.")
@store_option
@click.pass_context
@handle_errors
def shadow(ctx: click.Context, /, **opts: Any) -> None:
    """Mirror a sample of live OpenAI-compatible traffic to candidate models (a reverse proxy in
    front of the primary), storing RUN-primary / RUN-candidate / RUN-noise runs."""
    if ctx.invoked_subcommand is not None:
        return
    from tailgate.shadow import ShadowConfig

    if not opts["primary"] or not opts["candidates"]:
        raise UsageError("tailgate shadow needs --primary URL and at least one --candidate URL")
    host, port = _listen(opts["listen"])
    config = ShadowConfig(
        primary=opts["primary"],
        candidates=tuple(opts["candidates"]),
        host=host,
        port=port,
        sample=opts["sample"],
        noise=opts["noise"],
        run_id=opts["run_id"],
        store=ctx.obj.get("store"),
        queue=opts["queue_size"],
        mirror_concurrency=opts["mirror_concurrency"],
        mirror_timeout=opts["mirror_timeout"],
        mirror_tools=opts["mirror_tools"],
        candidate_key_env=opts["candidate_key_env"],
        candidate_model=opts["candidate_model"],
        grace=opts["grace"],
        max_body=opts["max_body"] << 20,
        traffic_rows=opts["traffic_rows"],
    )
    summary = _serve(config, live=not opts["quiet"] and sys.stderr.isatty())
    records = summary.get("records", {})
    lost = "; THE MIRROR WORKER DIED (records and counts after it are missing)" if summary.get("worker_lost") else ""
    click.echo(
        f"tailgate shadow: stopped; records {records}; traffic rows {summary.get('traffic_rows', 0)}"
        + (f"; {summary['write_errors']} WRITE ERRORS" if summary.get("write_errors") else "")
        + lost,
        err=True,
    )
    if summary.get("write_errors") or summary.get("worker_lost"):
        sys.exit(1)


from tailgate.cli._shadow_report import report_command  # noqa: E402 (the group is defined above)

shadow.add_command(report_command, "report")
