"""The pairwise judge's debiased win rate and swap-flip rate cover their truths in simulation
(issue 14): a subset of ``bench/judge_pairwise_calibration.py``, run through the real
``JudgePairwise`` scorer, the report's ``mean_estimate`` and the judge card. The truths are closed
forms of the position-bias model (the bench's docstring): the order-averaged win rate
E[(q1 + q2) / 2] and the flip rate E[q1 (1 - q2) + q2 (1 - q1)]."""

from __future__ import annotations

import math

from bench.judge_pairwise_calibration import Cell, run_cell

REPS = 300


def test_debiased_win_rate_and_flip_rate_cover_under_a_strong_position_bias() -> None:
    row = run_cell(Cell(100, 1, 0.3), REPS, seed=7)
    tol = 4 * math.sqrt(0.95 * 0.05 / REPS)  # 4 MC SE: 0.050
    assert abs(row["coverage_win"] - 0.95) <= tol, row
    assert abs(row["coverage_flip"] - 0.95) <= tol, row
    # the same interval on one order only (the output always first) is moved by the bias: the
    # judge picks position A, so the naive win rate sits near 0.94 against a truth near 0.70
    assert row["coverage_naive_of_debiased_truth"] < 0.05, row
    assert row["naive_mean"] - row["truth_win"] > 0.2, row
