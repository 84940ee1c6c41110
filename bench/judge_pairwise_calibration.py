"""Does the pairwise judge's debiased win rate cover the truth, and its swap-flip rate? (issue 14:
"on synthetic known-winner pairs (a correct answer vs the same answer with one fact corrupted),
the flip rate has a CI and the debiased win-rate CI covers the truth >= 95% in simulation")

Each replication is a suite of ``n`` known-winner pairs: item i's output is a correct answer and
its baseline the same answer with one fact changed ("The capital of Country-i is City-i." against
"... is City-i-b."). The real :class:`tailgate.scorers.JudgePairwise` scores each output, asking
both orders in every one of ``R`` repeats, through an in-process judge with a position bias: with
the correct answer shown first it picks it with probability q1_i = clip(s_i + b), shown second
q2_i = clip(s_i - b), where the judge's skill on item i is s_i ~ Beta(skill * 4, (1 - skill) * 4)
and b is the bias toward position A. Per repeat the scorer scores the output 1 when both orders
agree on it, 0 when both pick the baseline, and 0.5 when the verdict flips with the order, so its
expectation is (q1 + q2) / 2: the order-averaged ("debiased") win rate, whose truth over the item
population is E[(q1 + q2) / 2]. The swap-flip rate's truth is E[q1 (1 - q2) + q2 (1 - q1)].

Measured per cell, as ``tailgate report`` prints them:
- the win rate: the run's headline (``mean_estimate`` over the outputs' scores, item-clustered);
- the swap-flip rate: the judge card's (``judge_cards``, clustered on items);
- for contrast, the naive one-order win rate (the output always shown first): its interval is
  the same construction on the first-order verdicts alone, and the position bias moves it off
  the truth.

    python bench/judge_pairwise_calibration.py [--reps 1000] [--out bench/results/judge_pairwise.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tailgate.analysis import mean_estimate  # noqa: E402
from tailgate.analysis._judge_card import judge_cards  # noqa: E402
from tailgate.records import Item  # noqa: E402
from tailgate.scorers import JudgePairwise  # noqa: E402
from tailgate.scorers._base import JudgeCall, JudgeReply  # noqa: E402
from tailgate.scorers._judge import PairwiseParams  # noqa: E402

CONCENTRATION = 4.0


@dataclass(frozen=True)
class Cell:
    n: int
    repeats: int
    bias: float
    skill: float = 0.75

    @property
    def name(self) -> str:
        return f"n={self.n} R={self.repeats} bias={self.bias:g} skill={self.skill:g}"


def truths(cell: Cell, draws: int = 2_000_000) -> tuple[float, float, float]:
    """(debiased win rate, swap-flip rate, naive first-order win rate) over the item population."""
    rng = np.random.default_rng(12345)
    s = rng.beta(cell.skill * CONCENTRATION, (1 - cell.skill) * CONCENTRATION, draws)
    q1, q2 = np.clip(s + cell.bias, 0, 1), np.clip(s - cell.bias, 0, 1)
    return float(((q1 + q2) / 2).mean()), float((q1 * (1 - q2) + q2 * (1 - q1)).mean()), float(q1.mean())


_COUNTRY = re.compile(r"Country-(\d+)")


def _correct(i: int) -> str:
    return f"The capital of Country-{i} is City-{i}."


class BiasedJudge:
    """A judge context whose verdicts follow the position-bias model (reproducible per call)."""

    def __init__(self, q1: np.ndarray, q2: np.ndarray, seed: int) -> None:
        self.q1, self.q2, self.seed = q1, q2, seed
        self.calls = 0

    async def ask(self, call: JudgeCall) -> JudgeReply:
        self.calls += 1
        prompt = call.prompt
        i = int(_COUNTRY.search(prompt).group(1))  # type: ignore[union-attr]
        a_pos, b_pos = prompt.index("Response A:"), prompt.index("Response B:")
        correct_first = prompt.index(_correct(i), a_pos) < b_pos
        rng = np.random.default_rng([self.seed, i, call.seed or 0, int(correct_first)])
        p_correct = self.q1[i] if correct_first else self.q2[i]
        picks_correct = rng.uniform() < p_correct
        return JudgeReply(text="A" if picks_correct == correct_first else "B")

    def baseline(self, run_id: str, item_id: str) -> str | None:
        return None


def replication(cell: Cell, rng: np.random.Generator, seed: int) -> dict[str, Any]:
    """One suite judged: the estimates as the report prints them."""
    n = cell.n
    s = rng.beta(cell.skill * CONCENTRATION, (1 - cell.skill) * CONCENTRATION, n)
    q1, q2 = np.clip(s + cell.bias, 0, 1), np.clip(s - cell.bias, 0, 1)
    judge = BiasedJudge(q1, q2, seed)
    scorer = JudgePairwise(PairwiseParams(judge="python:bench:biased", repeats=cell.repeats, seed=seed))
    items = [
        Item(
            item_id=f"i{i}",
            input={"question": f"What is the capital of Country-{i}?", "baseline": _correct(i)[:-1] + "-b."},
        )
        for i in range(n)
    ]

    async def judge_all() -> list[Any]:
        return [await scorer.score_async(_correct(i), item, judge) for i, item in enumerate(items)]

    scores = asyncio.run(judge_all())
    ids = [it.item_id for it in items]
    values = [float(sc.value) for sc in scores]
    win = mean_estimate(values, ids)
    raw = [orjson.dumps({"judge": sc.as_dict()}).decode() for sc in scores]
    (card,) = judge_cards(ids, [_correct(i) for i in range(n)], raw)
    first = [[v["verdict"] for v in sc.details["samples"][0::2]] for sc in scores]
    naive_vals = [float(np.mean(f)) for f in first]
    naive = mean_estimate(naive_vals, ids)
    return {"win": win, "flip": card.swap_flip, "naive": naive}


def _covers(est: Any, truth: float) -> bool:
    return est.low is not None and est.low - 1e-12 <= truth <= est.high + 1e-12


def run_cell(cell: Cell, reps: int, seed: int = 0) -> dict[str, Any]:
    win_t, flip_t, naive_t = truths(cell)
    rng = np.random.default_rng([seed, cell.n, cell.repeats, int(cell.bias * 100), int(cell.skill * 100)])
    hits = {"win": 0, "flip": 0, "naive": 0}
    widths = {"win": 0.0, "flip": 0.0, "naive": 0.0}
    for r in range(reps):
        out = replication(cell, rng, seed * 1_000_003 + r)
        for name, truth in (("win", win_t), ("flip", flip_t), ("naive", win_t)):
            est = out[name]
            hits[name] += _covers(est, truth)
            widths[name] += (est.high - est.low) if est.low is not None else math.nan
    se = math.sqrt(0.95 * 0.05 / reps)
    return {
        "cell": cell.name,
        "reps": reps,
        "truth_win": win_t,
        "truth_flip": flip_t,
        "naive_mean": naive_t,
        "coverage_win": hits["win"] / reps,
        "coverage_flip": hits["flip"] / reps,
        "coverage_naive_of_debiased_truth": hits["naive"] / reps,
        "mc_se": se,
        "mean_width_win": widths["win"] / reps,
        "mean_width_flip": widths["flip"] / reps,
    }


GRID = [Cell(n, r, b) for n in (30, 100, 300) for r in (1, 3) for b in (0.0, 0.3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "judge_pairwise.json")
    args = parser.parse_args()
    rows = []
    start = time.perf_counter()
    for cell in GRID:
        row = run_cell(cell, args.reps)
        rows.append(row)
        print(
            f"{row['cell']}: win {row['coverage_win']:.3f}  flip {row['coverage_flip']:.3f}  "
            f"naive {row['coverage_naive_of_debiased_truth']:.3f}  (truth win {row['truth_win']:.3f}, "
            f"flip {row['truth_flip']:.3f}, naive mean {row['naive_mean']:.3f}; MC SE {row['mc_se']:.3f})",
            flush=True,
        )
    args.out.write_text(json.dumps({"reps": args.reps, "seconds": time.perf_counter() - start, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
