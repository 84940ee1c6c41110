"""Isolation of the primary path from a misbehaving candidate (issue 13: "Must hold").

    python bench/shadow_chaos.py [--quick] [--requests 4000] [--rounds 4] [--out FILE]

One healthy primary mock (``bench/shadow_mock.py``, 50 ms) behind one ``tailgate shadow`` per
candidate chaos mode, every request mirrored (``--sample 1.0``):

* ``refuse``: the candidate's port has no listener (connection refused);
* ``error500``: every candidate answer is an HTTP 500;
* ``hang``: the candidate answers after 10 s;
* ``slow_sse``: the candidate sends one event (or body piece) a second for 10 s;
* ``reset``: the candidate resets the connection in the middle of its answer;
* ``garbage``: the candidate answers 200 with bytes that are neither JSON nor SSE;

and, as the baseline, the same proxy with ``--sample 0`` (unshadowed: nothing mirrored) and the
mock called directly. Rounds alternate the targets (rotating order) and streamed / non-streamed
requests; the load generator is ``bench/shadow_harness.py``'s (a separate process, concurrency 32).

Checks (exit 1 if one fails): every target's responses equal the direct ones byte for byte
(0 primary errors), and the primary's p99 (TTFB and total, both modes; median over rounds) is within
5% of the unshadowed run's. Reported beside them: each proxy's mirror counters (mirrored, dropped
because the bounded queue was full, failed by class), which must account for every request.
JSON goes to ``bench/results/shadow_chaos.json`` (``shadow_chaos_quick.json`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from shadow_harness import (
    REPO,
    Phase,
    decided,
    failures_by_class,
    free_port,
    load_average,
    percentiles,
    read_accounting,
    run_load,
    services,
    spread,
)

MODES = ("refuse", "error500", "hang", "slow_sse", "reset", "garbage")
TOLERANCE = 0.05
FAILING = ("refuse", "error500", "reset", "garbage")  # modes whose every mirror call must fail


def main() -> int:
    args = parse_args()
    with services(args.proxy_src, keep=args.keep) as svc:
        primary = svc.mock("primary")
        healthy = svc.mock("healthy-candidate")
        urls = {"direct": primary, "unshadowed": svc.proxy("unshadowed", primary, healthy, "--sample", "0")}
        for mode in args.modes:
            candidate = f"http://127.0.0.1:{free_port()}" if mode == "refuse" else svc.mock(mode, "--chaos", mode)
            urls[mode] = svc.proxy(mode, primary, candidate, "--sample", "1.0")
        for name, url in urls.items():
            for stream in (False, True):
                run_load(url, name, 50_000_000, args.warmup, args.concurrency, stream, svc.workdir)
        phases, meta = measure(urls, svc.workdir, args)
        counters = {}
        for name, url in urls.items():
            if name != "direct":
                decided(url)
                acc = read_accounting(url)
                ends = acc.not_sampled + acc.skipped + acc.dropped + acc.mirrored
                counters[name] = acc.as_dict() | {"every_request_accounted": ends == acc.requests}
                counters[name]["failed_by_class"] = failures_by_class(url)
    result = summarise(args, phases, meta, counters)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    render(result)
    print(f"wrote {args.out}")
    return 0 if all(result["checks"].values()) else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 requests per target and mode, 2 rounds")
    parser.add_argument("--requests", type=int, default=4000, help="per target and mode, over all rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=128, help="unmeasured requests per target and mode first")
    parser.add_argument("--modes", default=",".join(MODES), help="a subset of " + ",".join(MODES))
    parser.add_argument("--proxy-src", type=Path, default=REPO / "src", help="the tailgate sources to run")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, stores)")
    args = parser.parse_args()
    args.modes = [m for m in args.modes.split(",") if m in MODES]
    if args.quick:
        args.requests, args.rounds = 500, 2
    if args.out is None:
        args.out = REPO / "bench" / "results" / ("shadow_chaos_quick.json" if args.quick else "shadow_chaos.json")
    return args


def measure(urls: dict[str, str], workdir: Path, args: argparse.Namespace) -> tuple[list[Phase], list[dict[str, Any]]]:
    per_round = args.requests // args.rounds
    phases: list[Phase] = []
    meta: list[dict[str, Any]] = []
    names = list(urls)
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        t0 = time.monotonic()
        for stream in (False, True) if r % 2 == 0 else (True, False):
            for name in order:
                phases.append(run_load(urls[name], name, r * per_round, per_round, args.concurrency, stream, workdir))
        meta.append({"round": r, "order": order, "seconds": round(time.monotonic() - t0, 1), "load": load_average()})
        print(f"round {r + 1}/{args.rounds}: {meta[-1]['seconds']} s, load average {meta[-1]['load']}", flush=True)
    return phases, meta


def summarise(
    args: argparse.Namespace, phases: list[Phase], meta: list[dict[str, Any]], counters: dict[str, Any]
) -> dict[str, Any]:
    direct = {
        (p.stream, p.start + k): (p.status[k], p.sha[k], p.done[k])
        for p in phases
        if p.target == "direct"
        for k in range(p.n)
    }
    table: dict[str, Any] = {}
    checks: dict[str, bool] = {}
    for name in dict.fromkeys(p.target for p in phases):
        for stream in (False, True):
            mine = sorted((p for p in phases if p.target == name and p.stream == stream), key=lambda p: p.start)
            base = sorted((p for p in phases if p.target == "unshadowed" and p.stream == stream), key=lambda p: p.start)
            differ = sum(
                (p.status[k], p.sha[k], p.done[k]) != direct[(p.stream, p.start + k)] for p in mine for k in range(p.n)
            )
            row: dict[str, Any] = {"requests": sum(p.n for p in mine), "differences_from_direct": differ}
            for metric in ("ttfb", "total"):
                per_round = [percentiles(getattr(p, f"{metric}_ms")) for p in mine]
                row[metric] = {q: spread([r[q] for r in per_round]) for q in ("p50", "p99")}
                ratios = [
                    percentiles(getattr(p, f"{metric}_ms"))["p99"] / percentiles(getattr(b, f"{metric}_ms"))["p99"]
                    for p, b in zip(mine, base, strict=True)
                ]
                row[f"p99_vs_unshadowed_{metric}"] = spread(ratios)
                if name in MODES:
                    ok = row[f"p99_vs_unshadowed_{metric}"]["median"] <= 1 + TOLERANCE
                    checks[f"{name} {'stream' if stream else 'plain'} {metric}: p99 within 5% of unshadowed"] = ok
            if name != "direct":
                checks[f"{name} {'stream' if stream else 'plain'}: 0 primary errors"] = differ == 0
            table.setdefault(name, {})["stream" if stream else "plain"] = row
    for name, c in counters.items():
        checks[f"{name}: every request accounted for (not sampled, skipped, dropped or mirrored)"] = c[
            "every_request_accounted"
        ]
        if name in FAILING:
            # every finished call to a candidate that cannot answer is a counted failure
            checks[f"{name}: every finished mirror counted as failed"] = c["calls"] > 0 and c["failed"] == c["calls"]
    return {
        "benchmark": "shadow_chaos",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": {
            "requests_per_target_and_mode": args.requests,
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "modes": args.modes,
            "tolerance": TOLERANCE,
        },
        "rounds": meta,
        "primary": table,
        "proxy_counters": counters,
        "checks": checks,
    }


def render(result: dict[str, Any]) -> None:
    cfg = result["config"]
    print(f"\nshadow chaos: {cfg['requests_per_target_and_mode']} requests per target and mode, {cfg['rounds']} rounds")
    print(f"load average per round: {[m['load'] for m in result['rounds']]}")
    print(f"{'target':12} {'mode':6} {'diffs':>5} {'ttfb p99':>9} {'x unsh.':>7} {'total p99':>9} {'x unsh.':>7}")
    for name, modes in result["primary"].items():
        for mode, row in modes.items():
            print(
                f"{name:12} {mode:6} {row['differences_from_direct']:5d} "
                f"{row['ttfb']['p99']['median']:9.2f} {row['p99_vs_unshadowed_ttfb']['median']:7.3f} "
                f"{row['total']['p99']['median']:9.2f} {row['p99_vs_unshadowed_total']['median']:7.3f}"
            )
    for name, c in result["proxy_counters"].items():
        print(f"{name:12} " + ", ".join(f"{k} {v}" for k, v in c.items()))
    failed = [k for k, ok in result["checks"].items() if not ok]
    print(f"checks: {len(result['checks']) - len(failed)}/{len(result['checks'])} hold")
    for k in failed:
        print(f"  FAILED: {k}")


if __name__ == "__main__":
    sys.exit(main())
