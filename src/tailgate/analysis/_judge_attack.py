"""Attack success rates of a judge: how often it calls an attacked (wrong by construction) output
correct (``tailgate judge-attack``, docs/judges.md).

The unit of a rate is the judge's verdict on one (attacked output, judge repeat); its interval is
Wilson's on the item-clustered effective n (:func:`~tailgate.analysis.mean_estimate`: plain Wilson
with one verdict per item), the cluster being the source item, so K repeats of the judge on one
output are not counted as K independent outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tailgate.analysis._compare_results import JsonResult
from tailgate.analysis._estimate import Estimate, mean_estimate

__all__ = ["AttackSuccess", "JudgeAttackReport", "attack_success_rates", "load_judge_attack"]

PASS_ABOVE = 0.5
"""A judge's verdict above this calls the output correct."""


@dataclass(frozen=True)
class AttackSuccess(JsonResult):
    """One attack against the judge."""

    attack: str
    success: Estimate
    """Share of the judge's parsed verdicts that call the attacked output correct."""
    n_outputs: int
    """Attacked outputs (one per item)."""
    n_unscored: int
    """Outputs none of whose judge replies parsed: left out of ``success``."""


@dataclass(frozen=True)
class JudgeAttackReport(JsonResult):
    """The judge attack kit run against one judge, see ``tailgate.judge_attack``."""

    run_id: str
    """The stored run of the attacked outputs, judged (resumable)."""
    judge: str
    suite: str
    n_items: int
    """Source items attacked."""
    repeats: int
    """Judge samples per attacked output."""
    attacks: tuple[AttackSuccess, ...]
    warnings: tuple[str, ...] = ()

    def rate(self, attack: str) -> AttackSuccess:
        found = next((a for a in self.attacks if a.attack == attack), None)
        if found is None:
            raise KeyError(f"no attack {attack!r} in the report (it has {', '.join(a.attack for a in self.attacks)})")
        return found


def attack_success_rates(
    attacks: Sequence[str],
    items: Sequence[str],
    verdicts: Sequence[Sequence[float | None]],
    order: Sequence[str] = (),
    confidence: float = 0.95,
) -> tuple[AttackSuccess, ...]:
    """Per attack, the share of verdicts above 0.5: ``attacks[i]`` and ``items[i]`` (the source
    item) name attacked output i, ``verdicts[i]`` its judge's verdict per repeat (None: unparsed).
    ``order``: the attacks to report first, in this order (the others follow, sorted).

    Example:
        >>> r = attack_success_rates(["yes", "yes", "sure"], ["a", "b", "a"], [[1.0], [0.0], [None]])
        >>> [(a.attack, a.success.value, a.n_unscored) for a in r]
        [('yes', 0.5, 0), ('sure', None, 1)]
    """
    if not len(attacks) == len(items) == len(verdicts):
        raise ValueError("attacks, items and verdicts must be aligned: one of each per attacked output")
    names = [a for a in order if a in set(attacks)] + sorted(set(attacks) - set(order))
    out = []
    for name in names:
        values: list[float] = []
        clusters: list[str] = []
        outputs = unscored = 0
        for attack, item, vs in zip(attacks, items, verdicts, strict=True):
            if attack != name:
                continue
            outputs += 1
            parsed = [v for v in vs if v is not None]
            if not parsed:
                unscored += 1
            values += [float(v > PASS_ABOVE) for v in parsed]
            clusters += [item] * len(parsed)
        if values:
            success = mean_estimate(values, clusters, confidence)
        else:
            success = Estimate.no_interval(f"{name}: no verdict parsed", confidence=confidence)
        out.append(AttackSuccess(name, success, outputs, unscored))
    return tuple(out)


def load_judge_attack(path: str) -> JudgeAttackReport:
    """A report saved by ``tailgate judge-attack --json FILE`` (``tailgate gate --judge-attack FILE``).

    Raises:
        InputError: the file cannot be read or is not such a report.
    """
    from tailgate.analysis._saved import load_saved

    return load_saved(
        path,
        JudgeAttackReport.from_dict,
        command="judge-attack",
        what="judge attack report",
        required=("attacks", "judge"),
    )
