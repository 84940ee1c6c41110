"""The sequential gate against the fixed-n paired test on two real runs, over shuffled item orders.

The issue's check (docs/sequential.md): on SmolLM2-135M vs Gemma 3 270M on the bundled suite, the
sequential decision should equal the fixed-n decision in >= 95% of 200 shuffled item orders.
The fixed-n decision is compare's paired delta at 95%: better if its interval is above 0, worse if
below, no difference otherwise; the sequential one agrees when it says the same (better / worse),
or, for no difference, when it says equivalent or inconclusive.

    python bench/sequential_real.py --store STORE BASE CAND [--orders 200]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tailgate import compare_runs, gate_sequential


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("cand")
    parser.add_argument("--store", required=True)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--margin", type=float, default=0.02)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "sequential_real.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    comparison = compare_runs(args.base, args.cand, store=args.store)
    delta = comparison.overall.paired.estimate
    assert delta.low is not None
    assert delta.high is not None
    fixed = "better" if delta.low > 0 else "worse" if delta.high < 0 else "no difference"
    verdicts: collections.Counter[str] = collections.Counter()
    items_used: list[int] = []
    agree = 0
    n_available = 0
    for seed in range(args.orders):
        result = gate_sequential(args.base, args.cand, store=args.store, margin=args.margin, seed=seed)
        verdicts[result.decision] += 1
        items_used.append(result.n_items)
        n_available = result.n_available
        same = result.decision == fixed or (
            fixed == "no difference" and result.decision in ("equivalent", "inconclusive")
        )
        agree += same
    items_used.sort()
    out = {
        "base": args.base,
        "cand": args.cand,
        "fixed_n": {
            "decision": fixed,
            "delta": delta.value,
            "low": delta.low,
            "high": delta.high,
            "n_items": n_available,
        },
        "orders": args.orders,
        "margin": args.margin,
        "sequential_decisions": dict(verdicts),
        "agreement": agree / args.orders,
        "median_items": items_used[len(items_used) // 2],
        "seconds": round(time.perf_counter() - started, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
