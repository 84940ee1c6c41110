"""Do the judge-agreement intervals and the PPI++ interval cover? (issue 14)

Two kinds of cells, each replicated ``--reps`` times with the product's defaults (PPI: 2,000 bootstrap
replicates):

* agreement (`tailgate.analysis.agreement`): Cohen's kappa, Scott's pi and Krippendorff's alpha
  with their item-jackknife t intervals,
  - ``binary``: a synthetic judge against the truth (prevalence 0.3, sensitivity 0.85,
    specificity 0.80, one verdict per item); the truth is the population value in closed form;
  - ``wildbench``: real data, the two WildBench v2 judges (gpt-4-turbo and gpt-4o, 1-10 scores,
    ``../shared/data/wildbench``) on the same (model, task) pairs; a replication draws n tasks with
    replacement (all of a task's rated models together: the task is the item) and the truth is the
    coefficient on all 1,024 tasks (ordinal alpha and quadratic-weighted kappa too).
* PPI (`tailgate.analysis.ppi_mean`): the mean gpt-4o score (or share >= 7) of a population,
  from gpt-4-turbo's scores on n + N items and gpt-4o's on n of them (real judge-vs-reference
  disagreement: turbo scores ~0.6 higher); truth = the mean over all 6,133 rated pairs. Coverage,
  and the median width against the labelled-only interval on the same n.

    python bench/agreement_calibration.py --reps 1000   # about 30 min on one core
    python bench/agreement_calibration.py --quick    # the subset tests/analysis/test_agreement.py runs
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tailgate.analysis import agreement, ppi_mean  # noqa: E402

WILDBENCH = ROOT.parent / "shared" / "data" / "wildbench" / "scores.csv.gz"
OUT = ROOT / "bench" / "results" / "agreement_calibration.json"


def wildbench_pairs(path: Path = WILDBENCH) -> tuple[np.ndarray, np.ndarray]:
    """(scores (pairs, 2): gpt-4o, gpt-4-turbo; task index per pair)."""
    by_key: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            by_key[(row["version"], row["model"], row["session_id"])][row["judge"]] = int(row["score"])
    keys = sorted(k for k, v in by_key.items() if len(v) == 2)
    tasks = {t: i for i, t in enumerate(sorted({k[2] for k in keys}))}
    scores = np.array([(by_key[k]["gpt-4o-2024-05-13"], by_key[k]["gpt-4-turbo-2024-04-09"]) for k in keys], float)
    return scores, np.array([tasks[k[2]] for k in keys])


def _binary_truth(prev: float, sens: float, spec: float) -> dict[str, float]:
    p_judge = prev * sens + (1 - prev) * (1 - spec)
    p_o = prev * sens + (1 - prev) * spec
    p_e = prev * p_judge + (1 - prev) * (1 - p_judge)
    m = (prev + p_judge) / 2
    p_e_pooled = m**2 + (1 - m) ** 2
    pi = (p_o - p_e_pooled) / (1 - p_e_pooled)
    return {"kappa": (p_o - p_e) / (1 - p_e), "scott_pi": pi, "alpha": pi}


def agreement_cells(reps: int, ns: tuple[int, ...], seed: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(seed)
    prev, sens, spec = 0.3, 0.85, 0.80
    truth = _binary_truth(prev, sens, spec)
    for n in ns:
        hits: dict[str, int] = defaultdict(int)
        given: dict[str, int] = defaultdict(int)
        for _r in range(reps):
            t = rng.random(n) < prev
            j = np.where(t, rng.random(n) < sens, rng.random(n) < 1 - spec)
            res = agreement(j.tolist(), t.tolist())
            for name in ("kappa", "scott_pi", "alpha"):
                e = getattr(res, name)
                if e.low is not None and e.high is not None:
                    given[name] += 1
                    hits[name] += int(e.low <= truth[name] <= e.high)
        rows += [_row("binary judge vs truth", n, name, hits[name], given[name], reps) for name in truth]
    scores, task = wildbench_pairs()
    full = agreement(scores[:, 1].astype(int).tolist(), scores[:, 0].astype(int).tolist(), level="ordinal")
    wb_truth = {"kappa": full.kappa.value, "weighted_kappa": full.weighted_kappa.value if full.weighted_kappa else None,
                "alpha": full.alpha.value}  # fmt: skip
    by_task = [np.flatnonzero(task == i) for i in range(int(task.max()) + 1)]
    for n in ns:
        hits = defaultdict(int)
        given = defaultdict(int)
        for _r in range(reps):
            picked = rng.integers(0, len(by_task), n)
            idx = np.concatenate([by_task[i] for i in picked])
            units = np.repeat(np.arange(n), [by_task[i].size for i in picked])
            res = agreement(scores[idx, 1].astype(int).tolist(), scores[idx, 0].astype(int).tolist(), items=units,
                            level="ordinal")  # fmt: skip
            for name, value in wb_truth.items():
                e = getattr(res, name)
                if e is not None and e.low is not None and e.high is not None and value is not None:
                    given[name] += 1
                    hits[name] += int(e.low <= value <= e.high)
        rows += [_row("WildBench judges (ordinal 1-10), n tasks", n, name, hits[name], given[name], reps)
                 for name in wb_truth]  # fmt: skip
    return rows


def ppi_cells(reps: int, cells: tuple[tuple[int, int], ...], seed: int) -> list[dict[str, Any]]:
    scores, _ = wildbench_pairs()
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(seed)
    for kind in ("score", "share >= 7"):
        y_all, f_all = scores[:, 0], scores[:, 1]
        if kind != "score":
            y_all, f_all = (y_all >= 7).astype(float), (f_all >= 7).astype(float)
        truth = float(y_all.mean())
        for n, big_n in cells:
            hit = hit_lab = 0
            ratios: list[float] = []
            for r in range(reps):
                idx = rng.integers(0, y_all.size, n + big_n)
                res = ppi_mean(y_all[idx[:n]], f_all[idx[:n]], f_all[idx[n:]], seed=r)
                e, lab = res.estimate, res.labelled_only
                hit += int(e.low is not None and e.high is not None and e.low <= truth <= e.high)
                hit_lab += int(lab.low is not None and lab.high is not None and lab.low <= truth <= lab.high)
                if res.width_ratio is not None:
                    ratios.append(res.width_ratio)
            row = _row(f"PPI++ mean gpt-4o {kind}, N={big_n} judged only", n, "PPI++ interval", hit, reps, reps)
            row["labelled_only_coverage"] = hit_lab / reps
            row["median_width_ratio"] = float(np.median(ratios)) if ratios else None
            rows.append(row)
    return rows


def _row(cell: str, n: int, measure: str, hits: int, given: int, reps: int) -> dict[str, Any]:
    rate = hits / given if given else None
    se = math.sqrt(0.95 * 0.05 / given) if given else None
    return {"cell": cell, "n": n, "measure": measure, "coverage": rate, "mc_se": se, "reps": reps,
            "no_interval": 1 - given / reps}  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| cell | n | measure | coverage | MC SE | reps | width vs labelled-only |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        cov = "—" if r["coverage"] is None else f"{r['coverage']:.3f}"
        se = "—" if r["mc_se"] is None else f"{r['mc_se']:.3f}"
        ratio = r.get("median_width_ratio")
        out.append(f"| {r['cell']} | {r['n']} | {r['measure']} | {cov} | {se} | {r['reps']} | "
                   f"{'' if ratio is None else f'{ratio:.2f}'} |")  # fmt: skip
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="the small subset the tests run; writes nothing")
    ap.add_argument("--seed", type=int, default=20261203)
    args = ap.parse_args(argv)
    t0 = time.time()
    if args.quick:
        rows = agreement_cells(60, (100,), args.seed) + ppi_cells(60, ((50, 2000),), args.seed)
    else:
        rows = agreement_cells(args.reps, (30, 100, 300), args.seed)
        rows += ppi_cells(args.reps, ((50, 500), (50, 5000), (100, 5000)), args.seed)
    print(table(rows))
    print(f"{time.time() - t0:.0f} s")
    if not args.quick:
        OUT.write_text(json.dumps({"rows": rows, "reps": args.reps, "seconds": round(time.time() - t0)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
