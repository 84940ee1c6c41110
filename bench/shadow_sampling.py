"""The shadow proxy's sampling share over 100k request keys (issue 13: within ±0.5 pp of the target).

    python bench/shadow_sampling.py [--quick] [--requests 100000] [--out FILE]

Two parts:

1. The decision function alone (``tailgate.shadow`` ``request_key`` / ``mirror_share`` /
   ``noise_share``) over the keys of ``--requests`` distinct requests (the load generator's
   requests, chat and completions), at the rates 0.01, 0.02, 0.05, 0.1, 0.25, 0.5: the share
   mirrored, its distance from the target in percentage points, and an exact two-sided binomial
   test (scipy) of "the share is the target" (a hash that samples fairly gives p-values spread over
   (0, 1), not all near 0). The noise share is measured among the mirrored keys, the same way.
2. End to end: the same requests through a running ``tailgate shadow --sample 0.05 --noise 0.2``
   (upstreams: two mocks answering at once), counted three ways: the proxy's ``/metrics``, the
   candidate mock's request count, the noise calls the primary mock received. Then every request
   again: the same request gets the same decision (a repeat, nothing newly mirrored).

Exit 1 if a share is outside ±0.5 pp or the three counts disagree. JSON goes to
``bench/results/shadow_sampling.json`` (``shadow_sampling_quick.json`` for ``--quick``, 10,000 keys).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from shadow_harness import REPO, drain, get_json, load_average, request_body, run_load, services

RATES = (0.01, 0.02, 0.05, 0.1, 0.25, 0.5)
TOLERANCE_PP = 0.5


def main() -> int:
    args = parse_args()
    sys.path.insert(0, str(args.proxy_src))
    decision = decision_function(args.requests)
    with services(args.proxy_src, keep=args.keep) as svc:
        end_to_end = through_proxy(svc, args, decision["expected_end_to_end"])
    checks = {f"rate {r['target']}: within ±{TOLERANCE_PP} pp": r["within_tolerance"] for r in decision["mirror"]}
    checks |= {f"noise {r['target']}: within ±{TOLERANCE_PP} pp": r["within_tolerance"] for r in decision["noise"]}
    checks |= end_to_end["checks"]
    result = {
        "benchmark": "shadow_sampling",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "requests": args.requests,
        "load_average": load_average(),
        "decision_function": decision,
        "end_to_end": end_to_end,
        "checks": checks,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for part in ("mirror", "noise"):
        for r in decision[part]:
            print(
                f"{part:6} target {r['target']:5.2f}: {r['selected']:6d}/{r['n']} = {r['share']:.5f} "
                f"({r['error_pp']:+.3f} pp, binomial p = {r['binomial_p']:.3f})"
            )
    print(f"end to end: {end_to_end['counts']}")
    failed = [k for k, ok in checks.items() if not ok]
    print(f"checks: {len(checks) - len(failed)}/{len(checks)} hold" + "".join(f"\n  FAILED: {k}" for k in failed))
    print(f"wrote {args.out}")
    return 0 if not failed else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 keys")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--proxy-src", type=Path, default=REPO / "src", help="the tailgate sources to run")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, stores)")
    args = parser.parse_args()
    if args.quick:
        args.requests = 10_000
    if args.out is None:
        args.out = REPO / "bench" / "results" / ("shadow_sampling_quick.json" if args.quick else "shadow_sampling.json")
    return args


def _row(target: float, selected: int, n: int) -> dict[str, Any]:
    from scipy.stats import binomtest

    share = selected / n
    return {
        "target": target,
        "n": n,
        "selected": selected,
        "share": round(share, 6),
        "error_pp": round((share - target) * 100, 4),
        "binomial_p": round(float(binomtest(selected, n, target).pvalue), 4),
        "within_tolerance": abs(share - target) * 100 <= TOLERANCE_PP,
    }


def decision_function(n: int) -> dict[str, Any]:
    from tailgate.shadow._keys import mirror_share, noise_share, request_key

    keys = []
    for i in range(n):
        path, body = request_body(i, False)
        keys.append(request_key(path, json.loads(body)))
    shares = [mirror_share(k) for k in keys]
    mirror = [_row(rate, sum(s < rate for s in shares), n) for rate in RATES]
    # noise: among the keys mirrored at 0.5 (a large enough subsample for the ±0.5 pp question)
    mirrored = [k for k, s in zip(keys, shares, strict=True) if s < 0.5]
    noise = [_row(rate, sum(noise_share(k) < rate for k in mirrored), len(mirrored)) for rate in (0.02, 0.1, 0.2)]
    # what the proxy must do end to end (--sample 0.05 --noise 0.2), key by key
    expect_mirror = [k for k, s in zip(keys, shares, strict=True) if s < 0.05]
    expect = {"mirrored": len(expect_mirror), "noise": sum(noise_share(k) < 0.2 for k in expect_mirror)}
    return {"distinct_keys": len(set(keys)), "mirror": mirror, "noise": noise, "expected_end_to_end": expect}


def through_proxy(svc: Any, args: argparse.Namespace, expect: dict[str, int]) -> dict[str, Any]:
    primary = svc.mock("primary", "--latency", "0")
    candidate = svc.mock("candidate", "--latency", "0")
    proxy = svc.proxy("sampling", primary, candidate, "--sample", "0.05", "--noise", "0.2")
    run_load(proxy, "sampling", 0, args.requests, 32, False, svc.workdir)
    first = drain(proxy)
    run_load(proxy, "sampling", 0, args.requests, 32, False, svc.workdir)
    second = drain(proxy)
    primary_got = get_json(f"{primary}/stats")["requests"]
    counts = {
        "requests": first.requests,
        "mirrored": first.mirrored,
        "dropped": first.dropped,
        "candidate_received": get_json(f"{candidate}/stats")["requests"],
        "noise_calls_at_primary": primary_got - 2 * args.requests,
        "second_pass_newly_mirrored": second.mirrored - first.mirrored,
        "second_pass_skipped": second.skipped - first.skipped,
    }
    sampled = first.mirrored + first.dropped
    share = sampled / first.requests if first.requests else 0.0
    noise_share = counts["noise_calls_at_primary"] / first.mirrored if first.mirrored else 0.0
    checks = {
        "end to end: sampled share within ±0.5 pp of 0.05": abs(share - 0.05) * 100 <= TOLERANCE_PP,
        "end to end: mirrored == the decision function's count": sampled == expect["mirrored"],
        "end to end: no mirror dropped": first.dropped == 0,
        "end to end: candidate received == mirrored": counts["candidate_received"] == first.mirrored,
        "end to end: noise calls == the decision function's count": counts["noise_calls_at_primary"] == expect["noise"],
        "end to end: the same requests again mirror nothing new": counts["second_pass_newly_mirrored"] == 0,
        "end to end: counters balance": first.balanced and second.balanced,
    }
    return {"sampled_share": round(share, 6), "noise_share": round(noise_share, 6), "counts": counts, "checks": checks}


if __name__ == "__main__":
    sys.exit(main())
