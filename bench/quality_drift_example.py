"""The worked example of docs/drift.md, "Quality under drift": a real eval run re-weighted to real
traffic (ShareGPT prompts on the Azure trace's arrival times, bench/replay_log.py).

    tailgate run basic --model local:smollm2-135m --repeats 1 --store STORE     # once (~5 min on 2 cores)
    python bench/quality_drift_example.py --store STORE [--run RUN] [--n 20000] [--shift lang:0.3]

The log's second half has the shift (a share of its requests replaced by prompts fastText does
not call English). Both halves are imported into the store's traffic table if it is empty; the run
is then re-weighted to each half's mix by ``lang`` and by ``lang`` x ``input_tokens``, with
``tailgate.quality_under_drift``. Prints each result's explanation and its largest cells, and
writes them to ``bench/results/quality_drift_example.txt``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (ROOT / "src", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench import replay_log  # noqa: E402

import tailgate  # noqa: E402
from tailgate.store import Store  # noqa: E402
from tailgate.traffic import TrafficTable, import_traffic  # noqa: E402

OUT = HERE / "results" / "quality_drift_example.txt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True)
    ap.add_argument("--run", default="latest")
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--shift", default="lang:0.3")
    args = ap.parse_args()
    store = Store(args.store)
    table = TrafficTable(store.traffic_dir)
    if table.count() == 0:
        kind, _, rate = args.shift.partition(":")
        log = Path(args.store) / "replay.jsonl"
        shifted = replay_log.build_log(log, args.n, shifts={kind: float(rate)}, shift_at=0.5)
        import_traffic(store.traffic_dir, [str(log)])
        print(f"imported {args.n:,} requests ({shifted:,} shifted) from {log}", file=sys.stderr)
    stamps = table.read(["timestamp"])["timestamp"].to_pylist()
    middle = stamps[len(stamps) // 2]
    lines = []
    for name, bounds in (("first half (no shift)", {"until": middle}), ("second half (shifted)", {"since": middle})):
        for by in (["lang"], ["lang", "input_tokens"]):
            q = tailgate.quality_under_drift(args.run, by=by, store=store, **bounds)  # type: ignore[arg-type]
            lines.append(f"## {name}, by {' x '.join(by)}: {q.window}")
            lines.append(q.explanation())
            lines.append(f"reweighted {q.reweighted}")
            lines.append(f"delta {q.delta}")
            for cell in q.cells[:6]:
                lines.append(
                    f"  {cell.label:<40} items {cell.n_items:>4} eval {cell.eval_share:6.1%} window "
                    f"{cell.window_share:6.1%} score {cell.mean:.3f} contribution {cell.contribution:+.4f}"
                )
            lines.extend(f"  warning: {w}" for w in q.warnings)
            lines.append("")
    text = "\n".join(lines)
    print(text)
    OUT.write_text(f"run {args.run}, store {args.store}\n\n{text}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
