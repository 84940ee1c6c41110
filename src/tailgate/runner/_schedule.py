"""Running a suite's items in a given order, in batches, with a look after each batch that may
stop the run (``tailgate run --until-decided``: the look is the sequential gate).

The runner knows nothing of the decision: a :class:`Schedule` gives it the order (fixed before
the first call: it must not depend on any outcome), the batch size and a ``look`` callable. A
look sees only a *prefix* of the order whose items all have their samples (a record each, answer
or error), so that the looks see one sequence of items growing at its end, however the run was
interrupted and resumed: a run killed inside a batch re-issues the missing samples of that batch
before the next look.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tailgate.errors import RunMismatch, UsageError
from tailgate.records import content_hash
from tailgate.runner._execute import ExecutionStats
from tailgate.runner._plan import Plan, Sample

__all__ = ["Look", "LookOutcome", "Schedule"]


@dataclass(frozen=True)
class Look:
    """What a look is shown: how far along the order the run is."""

    run_id: str
    n_done: int
    """Items of the order done, a prefix: ``order[:n_done]`` have every sample recorded."""
    n_order: int
    """Items in the order (the budget)."""
    samples_done: int
    """Samples of those items (planned: every variant and repeat)."""
    samples_order: int
    """Samples of every item of the order (what running them all would take)."""
    calls: int
    """Model calls issued by this session so far."""


@dataclass(frozen=True)
class LookOutcome:
    """A look's verdict: stop or go on, and what to record in the manifest (``until_decided.look``)."""

    stop: bool
    summary: Mapping[str, Any]


@dataclass(frozen=True)
class Schedule:
    """Run only the items of ``order``, in that order, ``batch`` items at a time, and ask ``look``
    after each batch (and once before the first, on a resumed run) whether to stop."""

    order: tuple[str, ...]
    """Item ids, in the order to run them; fixed before the first call."""
    batch: int
    """Items per batch (each with all its variants and repeats)."""
    look: Callable[[Look], LookOutcome]
    key: Mapping[str, Any]
    """What a resumed run must match (stored in the manifest's ``until_decided``): the baseline,
    the seed, the policy's rules. ``order_hash`` (:func:`~tailgate.records.content_hash` of the
    order) and ``n_order`` are added from ``order``."""

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise UsageError("--batch must be at least 1 item")
        if not self.order:
            raise UsageError("the schedule has no item to run")

    def record(self) -> dict[str, Any]:
        """The manifest's ``until_decided`` keys that a resume must match."""
        return {**self.key, "order_hash": content_hash(list(self.order)), "n_order": len(self.order)}

    def check_plan(self, plan: Plan) -> None:
        """Every item of the order is one the plan has."""
        planned = {i.item_id for i in plan.items}
        missing = [i for i in self.order if i not in planned]
        if missing:
            raise UsageError(
                f"{len(missing)} item(s) of the order are not in the suite's plan (first: {missing[0]}); "
                "the suite or --limit differs from the baseline's"
            )

    def check_resume(self, run_id: str, stored: Mapping[str, Any] | None) -> None:
        """A resumed run continues the same schedule (the batch size may change: looks may come at
        any time; the order, the baseline and the rules may not)."""
        if stored is None:
            raise RunMismatch(
                f"run '{run_id}' was not started with --until-decided: its items ran in plan order, "
                "not in a random order fixed beforehand; start a new run"
            )
        mine = self.record()
        differ = [k for k in mine if k != "batch" and stored.get(k) != mine[k]]
        if differ:
            raise RunMismatch(
                f"run '{run_id}' was started with a different {', '.join(differ)} for --until-decided; "
                "resume it with the same --baseline, policy and --seed, or start a new run"
            )

    def batches(self, todo: list[Sample]) -> tuple[int, list[tuple[int, list[Sample]]]]:
        """The items done before any batch (a prefix of the order, cut at a batch boundary so that
        a resumed run looks where an uninterrupted one would), and each batch still to run as
        (items done after it, its samples to issue)."""
        missing: dict[str, list[Sample]] = {}
        for s in todo:
            missing.setdefault(s.item.item_id, []).append(s)
        first = next((i for i, item in enumerate(self.order) if item in missing), len(self.order))
        start = first - first % self.batch
        out = []
        for lo in range(start, len(self.order), self.batch):
            items = self.order[lo : lo + self.batch]
            out.append((lo + len(items), [s for item in items for s in missing.get(item, [])]))
        return start, out

    def samples_of(self, plan: Plan, n_done: int) -> int:
        """Planned samples of the first ``n_done`` items of the order."""
        done = set(self.order[:n_done])
        return sum(s.item.item_id in done for s in plan.samples)


def merge_stats(total: ExecutionStats, part: ExecutionStats) -> ExecutionStats:
    """The statistics of two executions of one session, one after the other."""
    offset = total.completions[-1][0] if total.completions else 0.0
    return ExecutionStats(
        completed=total.completed + part.completed,
        errors=total.errors + part.errors,
        retries=total.retries + part.retries,
        cached=total.cached + part.cached,
        calls=total.calls + part.calls,
        errors_by_class=_add(total.errors_by_class, part.errors_by_class),
        workers=max(total.workers, part.workers),
        completions=[*total.completions, *((t + offset, ms) for t, ms in part.completions)],
        solo_ms=total.solo_ms if total.solo_ms is not None else part.solo_ms,
        scored=total.scored + part.scored,
        unscored_reasons=_add(total.unscored_reasons, part.unscored_reasons),
        last_error=part.last_error or total.last_error,
    )


def _add(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in {**a, **b}}
