"""Compare and gate two 1M-record runs: wall time and peak memory of each step.

    python bench/compare_scale.py [--records 1000000] [--items 200000]

Two synthetic runs over the same items (items x repeats records each, four declared attributes,
log-normal latencies). The candidate is better overall (+2 points) but worse on one slice
(lang=de AND length=long: 15 points worse), which the comparison must find. Each step is a
separate `tailgate` process timed with /usr/bin/time (wall, peak RSS), as a CI job would run it:
`compare --json cmp.json`, then `gate --comparison cmp.json` (which decides on the saved
comparison), and for reference `gate` alone (which computes the comparison itself).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_scale import synthetic as scale_synthetic
from report_scale import timed

HERE = Path(__file__).resolve().parent

POLICY = """\
name: bench
rules:
  - overall_delta: {min_lower_bound: -0.01}
  - no_slice_regression: {margin: 0.02, min_items: 100}
  - never_pass: {max: 0.5}
  - pass_hat_k: {min: 0.3}
  - latency: {percentile: 95, max_ms: 5000}
  - min_items: {min: 1000}
  - power: {max_mde: 0.01}
"""


def synthetic(path: Path, records: int, items: int, candidate: bool) -> None:
    # the candidate: 2 points better everywhere except lang=de AND length=long, 15 points worse there
    shift = "CASE WHEN lang = 'de' AND length = 'long' THEN 0.15 ELSE -0.02 END" if candidate else "0.0"
    scale_synthetic(path, records, items, f"0.35 + 0.5 * (u - 0.5) + {shift}", seed=0.3 if candidate else 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--out", default=str(HERE / "results" / "compare_scale.json"))
    args = parser.parse_args()
    results: dict[str, object] = {"records_per_run": args.records, "items": args.items}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("base", "cand"):
            path = Path(tmp) / f"{name}.parquet"
            synthetic(path, args.records, args.items, candidate=name == "cand")
            results[f"import_{name}"] = timed(
                ["--store", "s", "import", "records", str(path), "--item", "item", "--score", "correct",
                 "--repeat", "r", "--latency", "ms", "--slice", "task", "--slice", "lang", "--slice", "length",
                 "--slice", "format", "--run-id", name],
                tmp,
            )  # fmt: skip
        results["compare"] = timed(["--store", "s", "compare", "base", "cand", "--json", "cmp.json"], tmp)
        (Path(tmp) / "gate.yaml").write_text(POLICY)
        gate = ["--store", "s", "gate", "base", "cand", "--policy", "gate.yaml", "--json", "gate.json",
                "--markdown", "gate.md", "--junit", "gate.xml", "--html", "gate.html"]  # fmt: skip
        # 1 is a verdict (the planted slice regression fails the gate), not an error
        results["gate"] = timed([*gate, "--comparison", "cmp.json"], tmp, ok=(0, 1))  # as CI runs it after compare
        results["compare_plus_gate_s"] = round(results["compare"]["wall_s"] + results["gate"]["wall_s"], 2)
        results["gate_alone"] = timed(gate, tmp, ok=(0, 1))  # a job that runs only the gate computes the comparison
        cmp = json.loads((Path(tmp) / "cmp.json").read_text())
        results["delta"] = cmp["overall"]["estimate"]
        results["worst_slices"] = [(s["slice"], round(s["delta"]["value"], 4), s["p_by"]) for s in cmp["slices"][:3]]
        results["warnings"] = cmp["warnings"]
        gate = json.loads((Path(tmp) / "gate.json").read_text())
        results["gate_passed"] = gate["passed"]
        results["gate_failed_rules"] = [r["rule"] for r in gate["rules"] if not r["passed"]]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
