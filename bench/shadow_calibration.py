"""Calibration of the shadow report's agreement-difference test on REAL model outputs (issue 13).

    python bench/shadow_calibration.py [--quick] [--experiments 2000] [--pool FILE]

The pool (``bench/shadow_pool.py``, committed as ``bench/results/shadow_pool.jsonl``): ShareGPT
prompts, each answered at temperature 0.7, max_tokens 48, by SmolLM2-135M-Instruct three times
(seeds s0, s1, s2) and by Gemma 3 270M base once (g0). Only prompts with all four answers are used.

One experiment = one simulated shadow session of ``n`` mirrored requests: ``n`` prompts drawn
without replacement from the pool; each request is noise-sampled with probability ``noise``
(Bernoulli, as the proxy's hash sampling); per prompt the roles are assigned at random:

* A/A: a random permutation of (s0, s1, s2) gives primary, candidate and noise: the candidate is
  the primary model itself, so the truth is "no difference" exactly (the roles are exchangeable).
* A->B: primary and noise are two of (s0, s1, s2) at random, the candidate is Gemma (g0).

The session goes through the product's own estimator (``agreement_difference``, the slices'
``_slices``), on chrF computed once per pair of answers. Rows: the A/A type-I error of the verdict
(two-sided, alpha 0.05) and of "any slice flagged" (BY across slices), the coverage of the
agreement difference's 95% interval under A/A (truth 0), the power against Gemma, and what a naive
output diff says (share of items whose answers differ; share of sessions where it flags anything).

Dependence, said plainly: every experiment draws from the same few hundred prompts and the same
three or four answers per prompt, so experiments are not independent samples of "real traffic";
the Monte-Carlo SE below is the SE of the rate *for this pool*. Sampling prompts without
replacement from a finite pool makes the between-prompt part of the variance smaller than the
interval assumes (a finite-population effect), so the type-I error and coverage are, if anything,
conservative for larger n / pool ratios; the within-prompt (sampling-seed) randomness is real.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from tailgate.analysis._shadow import ShadowOptions, _slices, agreement_difference  # noqa: E402
from tailgate.analysis._shadow_text import chrf, exact_match  # noqa: E402

POOL = HERE / "results" / "shadow_pool.jsonl"
RESULTS = HERE / "results" / "shadow_calibration.json"
SMOL = ("s0", "s1", "s2")
PAIRS = [("s0", "s1"), ("s0", "s2"), ("s1", "s2"), ("s0", "g0"), ("s1", "g0"), ("s2", "g0")]


@dataclass(frozen=True)
class Pool:
    pids: list[int]
    attributes: list[dict[str, Any]]
    sim: dict[tuple[str, str], np.ndarray]
    """chrF per prompt for each pair (symmetric)."""
    same: dict[tuple[str, str], np.ndarray]
    """Exact match per prompt for each pair."""
    latency: dict[str, np.ndarray]


def load(path: Path = POOL) -> Pool:
    prompts: dict[int, dict[str, Any]] = {}
    samples: dict[int, dict[str, dict[str, Any]]] = {}
    for line in path.read_text("utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row["type"] == "prompt":
            prompts[row["pid"]] = row
        else:
            samples.setdefault(row["pid"], {})[row["sample"]] = row
    need = {*SMOL, "g0"}
    pids = [p for p in prompts if need <= set(samples.get(p, {}))]
    sim = {
        pair: np.array([chrf(samples[p][pair[0]]["text"], samples[p][pair[1]]["text"]) for p in pids]) for pair in PAIRS
    }
    same = {
        pair: np.array([exact_match(samples[p][pair[0]]["text"], samples[p][pair[1]]["text"]) for p in pids])
        for pair in PAIRS
    }
    latency = {s: np.array([samples[p][s]["latency_ms"] for p in pids]) for s in need}
    return Pool(pids, [prompts[p]["attributes"] for p in pids], sim, same, latency)


def _pair(
    pool: Pool, x: np.ndarray, y: np.ndarray, table: dict[tuple[str, str], np.ndarray], idx: np.ndarray
) -> np.ndarray:
    """Per drawn prompt, the measure between its answers x[k] and y[k] (sample names)."""
    out = np.empty(idx.size)
    for k, (i, u, v) in enumerate(zip(idx.tolist(), x.tolist(), y.tolist(), strict=True)):
        key = (u, v) if (u, v) in table else (v, u)
        out[k] = table[key][i]
    return out


@dataclass
class Tally:
    name: str
    hits: int = 0
    reps: int = 0

    def add(self, hit: bool) -> None:
        self.hits += int(hit)
        self.reps += 1

    @property
    def rate(self) -> float:
        return self.hits / self.reps if self.reps else float("nan")

    @property
    def mcse(self) -> float:
        p = self.rate
        return math.sqrt(p * (1 - p) / self.reps) if self.reps else float("nan")


def experiment(
    pool: Pool, rng: np.random.Generator, n: int, noise: float, changed: bool, slices: bool
) -> dict[str, Any]:
    idx = rng.choice(len(pool.pids), size=n, replace=False)
    perm = np.array([rng.permutation(3) for _ in range(n)])
    smol = np.array(SMOL)
    primary, other, third = smol[perm[:, 0]], smol[perm[:, 1]], smol[perm[:, 2]]
    candidate = np.full(n, "g0") if changed else other
    noise_sample = other if changed else third
    in_noise = rng.random(n) < noise
    a = _pair(pool, primary, candidate, pool.sim, idx)
    b = np.where(in_noise, _pair(pool, primary, noise_sample, pool.sim, idx), np.nan)
    d = agreement_difference(a, b, "chrf")
    ea = _pair(pool, primary, candidate, pool.same, idx)
    out = {
        "diff": d,
        "naive_share": float(1 - ea.mean()),
        "naive_any": bool(ea.min() < 1),
    }
    if slices:
        attrs = [pool.attributes[i] for i in idx.tolist()]
        found = _slices(attrs, a, b, ShadowOptions())
        out["slice_flag"] = any(s.differs for s in found)
        out["n_slices"] = len(found)
    return out


def study(pool: Pool, experiments: int, ns: list[int], noises: list[float], seed: int = 7) -> list[dict[str, Any]]:
    rows = []
    rng = np.random.default_rng(seed)
    for n in ns:
        if n > len(pool.pids):
            continue
        for noise in noises:
            t0 = time.perf_counter()
            reject = Tally("A/A verdict 'differs' (type-I)")
            cover = Tally("A/A 95% CI of the agreement difference covers 0")
            slice_flag = Tally("A/A any slice flagged (BY)")
            naive_any = Tally("A/A naive output diff flags a difference")
            power = Tally("A->B Gemma detected (power)")
            naive_share, slices_seen, widths = [], [], []
            for _ in range(experiments):
                aa = experiment(pool, rng, n, noise, changed=False, slices=True)
                d = aa["diff"]
                if d.p_value is None:
                    continue
                reject.add(d.p_value < 0.05)
                est = d.difference
                cover.add(est.low is not None and est.low <= 0.0 <= est.high)
                widths.append(est.high - est.low)
                slice_flag.add(aa["slice_flag"])
                slices_seen.append(aa["n_slices"])
                naive_any.add(aa["naive_any"])
                naive_share.append(aa["naive_share"])
                ab = experiment(pool, rng, n, noise, changed=True, slices=False)
                power.add(ab["diff"].p_value is not None and ab["diff"].p_value < 0.05)
            rows.append(
                {
                    "n": n,
                    "noise": noise,
                    "experiments": reject.reps,
                    "rows": [
                        {"measure": t.name, "rate": t.rate, "mcse": t.mcse, "hits": t.hits, "reps": t.reps}
                        for t in (reject, cover, slice_flag, naive_any, power)
                    ],
                    "naive_share_mean": float(np.mean(naive_share)) if naive_share else None,
                    "ci_width_mean": float(np.mean(widths)) if widths else None,
                    "slices_mean": float(np.mean(slices_seen)) if slices_seen else None,
                    "seconds": time.perf_counter() - t0,
                }
            )
    return rows


def pool_summary(pool: Pool) -> dict[str, Any]:
    ss = np.concatenate([pool.sim[p] for p in PAIRS[:3]])
    sg = np.concatenate([pool.sim[p] for p in PAIRS[3:]])
    es = np.concatenate([pool.same[p] for p in PAIRS[:3]])
    return {
        "prompts": len(pool.pids),
        "chrf_smol_smol_mean": float(ss.mean()),
        "chrf_smol_gemma_mean": float(sg.mean()),
        "exact_smol_smol_mean": float(es.mean()),
        "truth_difference_gemma": float(sg.mean() - ss.mean()),
        "latency_ms_median": {k: float(np.median(v)) for k, v in sorted(pool.latency.items())},
    }


def table(summary: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Pool: {summary['prompts']} ShareGPT prompts x (3 SmolLM2-135M + 1 Gemma-3-270M) answers, T=0.7, "
        f"max_tokens 48; mean chrF SmolLM2-SmolLM2 {summary['chrf_smol_smol_mean']:.3f}, SmolLM2-Gemma "
        f"{summary['chrf_smol_gemma_mean']:.3f} (difference {summary['truth_difference_gemma']:+.3f}); "
        f"exact match SmolLM2-SmolLM2 {summary['exact_smol_smol_mean']:.3f}.",
        "",
        "| n requests | noise share | measure | rate | MC SE | experiments |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        for m in r["rows"]:
            lines.append(
                f"| {r['n']} | {r['noise']:g} | {m['measure']} | {m['rate']:.3f} | {m['mcse']:.3f} | {m['reps']} |"
            )
        lines.append(
            f"| {r['n']} | {r['noise']:g} | A/A naive diff: mean share of items whose answers differ | "
            f"{r['naive_share_mean']:.3f} | | {r['experiments']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 experiments at n=200, noise 0.25; writes nothing")
    parser.add_argument("--experiments", type=int, default=2000)
    parser.add_argument("--pool", type=Path, default=POOL)
    args = parser.parse_args()
    pool = load(args.pool)
    summary = pool_summary(pool)
    if args.quick:
        rows = study(pool, 200, [200], [0.25])
    else:
        rows = study(pool, args.experiments, [50, 100, 200, 300], [0.1, 0.25, 0.5])
    print(table(summary, rows))
    if not args.quick:
        RESULTS.write_text(json.dumps({"pool": summary, "cells": rows}, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main()
