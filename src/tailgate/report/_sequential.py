"""The sequential gate's verdict as terminal text (``tailgate gate --sequential``, ``tailgate run
--until-decided``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tailgate.analysis import SequentialDecision

__all__ = ["render_look", "render_sequential", "render_until_decided"]


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


def render_look(decision: SequentialDecision, n_done: int, n_order: int, samples_done: int, calls: int) -> str:
    """One progress line of ``tailgate run --until-decided``: after a batch, the CS on the paired
    items so far and the decision."""
    d = decision
    at = f"{d.n_items} paired items" if d.decision == "inconclusive" else f"decided at paired item {d.n_items}"
    return (
        f"until-decided: {n_done}/{n_order} items ({samples_done} samples, {calls} calls this session): "
        f"{at}, mean {d.mean:+.4f}, {1 - d.alpha:.0%} CS [{d.low:+.4f}, {d.high:+.4f}] -> {d.decision}"
    )


def render_until_decided(
    decision: SequentialDecision, n_done: int, n_order: int, samples_done: int, samples_order: int
) -> str:
    """The final decision of ``tailgate run --until-decided`` with what it used of the suite."""
    how = (
        "stopped early"
        if n_done < n_order
        else (
            "the suite exhausted: inconclusive at budget" if decision.decision == "inconclusive" else "every item run"
        )
    )
    return (
        f"{render_sequential(decision)}\n"
        f"  used {n_done} of {n_order} items ({n_done / n_order:.0%}), {samples_done} of {samples_order} samples "
        f"({samples_done / max(samples_order, 1):.0%}); {how}"
    )
