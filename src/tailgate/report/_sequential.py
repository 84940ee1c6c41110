"""The sequential gate's verdict as terminal text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tailgate.analysis import SequentialDecision

__all__ = ["render_sequential"]


def render_sequential(result: SequentialDecision) -> str:
    """The decision, the CS at the stopping point with its n, and the items saved."""
    confidence = 1 - result.alpha
    lines = [
        f"sequential gate: {result.decision.upper()} after {result.n_items} of {result.n_available} items "
        f"(saved {result.savings:.0%} of the fixed-n count)",
        f"  mean difference (cand - base) {result.mean:+.4f}, anytime-valid {confidence:.0%} CS "
        f"[{result.low:+.4f}, {result.high:+.4f}] at n = {result.n_items} items",
        f"  rules: better if low > {result.min_improvement:g}, worse if high < {-result.max_drop + 0.0:g}, "
        f"equivalent if inside (-{result.margin:g}, {result.margin:g}); item order seed {result.seed}",
        f"  method: {result.method}",
    ]
    if result.slices:
        flagged = result.regressed_slices
        lines.append(
            f"  slices: {len(flagged)} of {len(result.slices)} flagged as regressions (e-BH, FDR {result.alpha:g})"
            + "".join(
                f"\n    {s.slice}: mean {s.mean:+.3f} over {s.n_items} items, e = {s.e_value:.3g}" for s in flagged
            )
        )
    return "\n".join(lines)
