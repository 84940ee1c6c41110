"""Calibration of quality under drift (issue 12, "Must hold": the 95% CI covers the truth >= 93%).

    python bench/quality_drift_calibration.py [--quick] [--reps R] [--seed S]

Each replication simulates, from a known truth, an eval run and a traffic window and runs
``tailgate.analysis.post_stratify`` (the code ``tailgate.quality_under_drift`` calls) on them:

* cells: ``lang`` (en, de, fr, es, zh) x ``length`` (short, long), each with a true mean score
  mu_h; the eval's population mix has German at 4% and Chinese at 1% (rare cells); the window's
  population mix is shifted (German 19%, Chinese 6%, more long requests);
* eval: n items drawn from the eval mix; item i of cell h has its own success probability
  p_i ~ Beta(mu_h k, (1 - mu_h) k) (k = 2: a third of the variance between items), and r
  samples scored 0/1 (or, in the ``continuous`` regime, one score ~ Beta around p_i);
* window: N requests drawn from the window's mix (multinomial);
* truth: sum_h W_h mu_h over the cells the eval covers (renormalised), W the window's
  *population* mix: the interval must cover the eval's and the window's sampling together.

Regimes cross n items (60, 300, 1,500) with N requests (50, 500, 5,000), plus one repeat per
item, continuous scores, low scores (a fifth of the above: a weak model), and ``uncovered``:
the eval never has Chinese items, the window has
6% of them. Reported per regime: coverage of the reweighted interval (target >= 0.93) and of
the delta interval (reweighted - suite, against the truth minus the eval mix's true score), its
Monte-Carlo SE, the mean width, how often a warning was given, pooled or bounded cells and
unknown cells appeared; for ``uncovered``, how often [worst.low, best.high] covers the score of
the *whole* window. The full run writes ``bench/results/quality_drift_calibration.json`` and the
table of ``docs/drift.md`` between the generated markers; ``--quick`` writes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (ROOT / "src", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from tailgate.analysis._quality_drift import post_stratify  # noqa: E402

DOC = ROOT / "docs" / "drift.md"
RESULTS = HERE / "results" / "quality_drift_calibration.json"
START, END = "<!-- quality-drift-calibration:start -->", "<!-- quality-drift-calibration:end -->"

LANGS = ("en", "de", "fr", "es", "zh")
LENGTHS = ("short", "long")
MU = {
    ("en", "short"): 0.85,
    ("en", "long"): 0.75,
    ("de", "short"): 0.55,
    ("de", "long"): 0.35,
    ("fr", "short"): 0.70,
    ("fr", "long"): 0.60,
    ("es", "short"): 0.75,
    ("es", "long"): 0.60,
    ("zh", "short"): 0.50,
    ("zh", "long"): 0.30,
}
EVAL_LANG = {"en": 0.55, "de": 0.04, "fr": 0.20, "es": 0.20, "zh": 0.01}
EVAL_LENGTH = {"short": 0.6, "long": 0.4}
WINDOW_LANG = {"en": 0.50, "de": 0.19, "fr": 0.10, "es": 0.15, "zh": 0.06}
WINDOW_LENGTH = {"short": 0.4, "long": 0.6}
KAPPA = 2.0
CELLS = [(lang, length) for lang in LANGS for length in LENGTHS]


@dataclass(frozen=True)
class Regime:
    name: str
    n_items: int
    n_window: int
    repeats: int = 3
    scores: str = "binary"  # or "continuous"
    uncovered: bool = False
    low: bool = False  # true scores a fifth of MU (0.06-0.17): a weak model, scores near 0


REGIMES = (
    *(Regime(f"n={n}, N={m}", n, m) for n in (60, 300, 1500) for m in (50, 500, 5000)),
    Regime("n=300, N=500, 1 repeat", 300, 500, repeats=1),
    Regime("n=300, N=500, continuous scores", 300, 500, repeats=1, scores="continuous"),
    Regime("n=120, N=500, low scores (0.06-0.17)", 120, 500, low=True),
    Regime("n=300, N=5000, low scores, 1 repeat", 300, 5000, repeats=1, low=True),
    Regime("uncovered: no zh item, N=500", 300, 500, uncovered=True),
    Regime("uncovered: no zh item, N=5000", 300, 5000, uncovered=True),
)
QUICK = ("n=60, N=500", "n=300, N=50", "n=300, N=5000", "uncovered: no zh item, N=500")


def _mix(lang: dict[str, float], length: dict[str, float], drop: str | None = None) -> np.ndarray:
    w = np.array([0.0 if la == drop else lang[la] * length[le] for la, le in CELLS])
    return w / w.sum()


def replicate(regime: Regime, rng: np.random.Generator, *, eval_only: bool = False) -> dict[str, Any]:
    """One simulated eval run and window; what the estimate says, and the truth. ``eval_only``
    replaces the interval by one that treats the window's shares as known (the cells' standard
    errors only): the calibration test shows that this undercovers."""
    mu = np.array([MU[c] for c in CELLS]) * (0.2 if regime.low else 1.0)
    eval_mix = _mix(EVAL_LANG, EVAL_LENGTH, drop="zh" if regime.uncovered else None)
    window_mix = _mix(WINDOW_LANG, WINDOW_LENGTH)
    cell = rng.choice(len(CELLS), size=regime.n_items, p=eval_mix)
    p = rng.beta(mu[cell] * KAPPA, (1 - mu[cell]) * KAPPA)
    if regime.scores == "continuous":
        counts = np.ones(regime.n_items)
        sums = rng.beta(p * 4 + 0.5, (1 - p) * 4 + 0.5)
        # the cells' true means for this score law: E[(4p + .5) / 5] = (4 mu + .5) / 5
        truth_mu = (4 * mu + 0.5) / 5
    else:
        counts = np.full(regime.n_items, float(regime.repeats))
        sums = rng.binomial(regime.repeats, p).astype(float)
        truth_mu = mu
    window = rng.choice(len(CELLS), size=regime.n_window, p=window_mix)
    items = {"lang": [CELLS[c][0] for c in cell], "length": [CELLS[c][1] for c in cell]}
    requests = {"lang": [CELLS[c][0] for c in window], "length": [CELLS[c][1] for c in window]}
    q = post_stratify(counts, sums, items, requests, ["lang", "length"], binary=regime.scores == "binary")
    covered = np.isin(np.arange(len(CELLS)), cell)
    truth = float(np.sum(window_mix[covered] * truth_mu[covered]) / window_mix[covered].sum())
    truth_all = float(np.sum(window_mix * truth_mu))
    eval_truth = float(np.sum(np.bincount(cell, minlength=len(CELLS)) / regime.n_items * truth_mu))
    r, d = q.reweighted, q.delta
    if eval_only and r.value is not None:
        se = math.sqrt(sum(c.window_share**2 * (c.score.se or 0.0) ** 2 for c in q.cells))
        r = replace(r, low=r.value - 1.96 * se, high=r.value + 1.96 * se)
    return {
        "covered": r.low is not None and r.high is not None and r.low <= truth <= r.high,
        "width": (r.high - r.low) if r.low is not None and r.high is not None else math.nan,
        "delta_covered": d.low is not None and d.high is not None and d.low <= truth - eval_truth <= d.high,
        "warned": bool(q.warnings),
        "pooled": any(c.members for c in q.cells),
        "bounded": any(c.variance.startswith("bounded") for c in q.cells),
        "unknown": bool(q.unknown),
        "bounds_cover": (
            q.worst is not None
            and q.best is not None
            and q.worst.low is not None
            and q.best.high is not None
            and q.worst.low <= truth_all <= q.best.high
        ),
    }


def run_regime(regime: Regime, reps: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng([seed, zlib.crc32(regime.name.encode())])
    rows = [replicate(regime, rng) for _ in range(reps)]

    def share(key: str) -> float:
        return float(np.mean([bool(r[key]) for r in rows]))

    cov = share("covered")
    return {
        "regime": regime.name,
        "reps": reps,
        "coverage": cov,
        "mc_se": math.sqrt(cov * (1 - cov) / reps),
        "delta_coverage": share("delta_covered"),
        "mean_width": float(np.nanmean([r["width"] for r in rows])),
        "warned": share("warned"),
        "pooled": share("pooled"),
        "bounded": share("bounded"),
        "unknown": share("unknown"),
        "bounds_cover": share("bounds_cover") if regime.uncovered else None,
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| regime | coverage ± MC SE | delta coverage | mean width | warned | pooled / bounded / unknown cells |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        extra = (
            f"; [worst, best] covers the whole window {r['bounds_cover']:.3f}" if r["bounds_cover"] is not None else ""
        )
        lines.append(
            f"| {r['regime']} | {r['coverage']:.3f} ± {r['mc_se']:.3f} ({r['reps']}) | {r['delta_coverage']:.3f} | "
            f"{r['mean_width']:.3f} | {r['warned']:.2f} | "
            f"{r['pooled']:.2f} / {r['bounded']:.2f} / {r['unknown']:.2f}{extra} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    regimes = [r for r in REGIMES if not args.quick or r.name in QUICK]
    reps = 200 if args.quick else args.reps
    started = time.process_time()
    results = []
    for regime in regimes:
        results.append(run_regime(regime, reps, args.seed))
        print(table(results[-1:]).splitlines()[-1], flush=True)
    seconds = time.process_time() - started
    print(f"\n{table(results)}\n\n{len(regimes)} regimes x {reps} replications in {seconds:.0f} CPU-seconds")
    if args.quick:
        return
    RESULTS.write_text(
        json.dumps({"reps": reps, "seed": args.seed, "cpu_seconds": seconds, "results": results}, indent=1)
    )
    text = DOC.read_text(encoding="utf-8")
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(f"{head}{START}\n{table(results)}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
