"""What ``tailgate compare`` returns: frozen, documented result objects made of ``Estimate``\\ s.

Readers (the gate, the renderers) use attributes; :meth:`Comparison.as_dict` is the JSON edge and
:meth:`Comparison.from_dict` reads that JSON back (``tailgate gate --comparison FILE`` decides on a
saved comparison instead of computing it again). The JSON schema is frozen by
``tests/test_json_frozen.py``: a field's name here is its key there, in the same order, except
where an ``as_dict`` says otherwise.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar, Union

from tailgate.analysis._estimate import Estimate

if TYPE_CHECKING:
    from tailgate.analysis._judge_use import HeadlineJudge

__all__ = [
    "BeyondAccuracy",
    "BootstrapChange",
    "BootstrapLevelChange",
    "CompareOptions",
    "ComparePlots",
    "Comparison",
    "ItemsNeeded",
    "LatencyChange",
    "LevelChange",
    "McNemar",
    "NewlyFailing",
    "OverallChange",
    "PairedDelta",
    "Pairing",
    "PowerAdvice",
    "RunInfo",
    "SliceDelta",
    "Unavailable",
]

R = TypeVar("R", bound="JsonResult")


def to_json(value: Any) -> Any:
    """A result (or a tuple, dict or scalar of them) as plain JSON-ready data."""
    if isinstance(value, (JsonResult, Estimate)):
        return value.as_dict()
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def _from_json(tp: Any, value: Any) -> Any:
    """``value`` (parsed JSON) as type ``tp``; scalars are kept as they are, so a round trip
    writes the same bytes."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        return _from_json(members[0], value) if len(members) == 1 else value
    if isinstance(tp, type) and issubclass(tp, JsonResult):
        return tp.from_dict(value)
    if tp is Estimate:
        return Estimate(**value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v) for v in value)
        return tuple(_from_json(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict:
        return {k: _from_json(typing.get_args(tp)[1], v) for k, v in value.items()}
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


@dataclass(frozen=True)
class JsonResult:
    """A result whose JSON form is its fields in order (nested results and estimates as theirs)."""

    def as_dict(self) -> dict[str, Any]:
        return {f.name: to_json(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        """The result whose :meth:`as_dict` is ``data`` (keys it does not know are ignored)."""
        hints = _hints(cls)
        given = {f.name: _from_json(hints[f.name], data[f.name]) for f in fields(cls) if f.name in data}
        return cls(**given)


@dataclass(frozen=True)
class CompareOptions:
    """What ``tailgate compare`` computes; recorded in its output."""

    confidence: float = 0.95
    """Confidence level of every interval."""
    pass_threshold: float | None = None
    """A sample passes when its score is at least this (default: the run's own threshold)."""
    fdr: float = 0.05
    """False discovery rate for the "slices went down" warning (BY-adjusted p-values)."""
    min_items: int = 10
    """Smallest slice, in shared items, that gets a delta."""
    max_depth: int = 2
    """Attributes per slice: 1 (single values) or 2 (also conjunctions of two)."""
    bootstrap: int = 2000
    """Replicates of the paired item bootstrap (fewer, never below 200, for very large runs)."""
    seed: int = 0
    """Seed of the bootstrap (recorded, so the output is reproducible)."""
    power: float = 0.8
    """Power of the minimum detectable effect."""
    alpha: float = 0.05
    """Two-sided significance level of the minimum detectable effect."""
    target_delta: float | None = None
    """Smallest change worth detecting, for the sample-size advice (default: the MDE is reported)."""
    allow_changed_items: bool = False
    """Compare the unchanged items when some dataset ids have another question or reference."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareOptions:
        return cls(**data)


@dataclass(frozen=True)
class RunInfo(JsonResult):
    """One of the compared runs, from its manifest."""

    run_id: str
    suite: str
    """The suite's name."""
    model: str
    """The model spec, e.g. ``local:smollm2-135m``."""
    mode: str | None
    """Prompt form (chat or completion), when recorded."""
    repeats: int | None
    """Samples per item and variant the run asked for."""
    variants: tuple[str, ...] | None
    """The run's variant names."""


@dataclass(frozen=True)
class Pairing(JsonResult):
    """Which items and (item, variant) units both runs scored, and what does not pair."""

    shared_items: int
    """Items scored by both runs on at least one shared variant: the n of every paired test."""
    shared_units: int
    """Shared (item, variant) units."""
    only_in_base: int
    """Scored items only the base run has."""
    only_in_cand: int
    """Scored items only the candidate run has."""
    changed_items: tuple[str, ...]
    """Dataset ids whose question or reference differs between the runs (the first 50)."""
    n_changed_items: int
    """How many dataset ids changed."""
    examples_only_in_base: tuple[str, ...]
    """Up to 10 items only the base has (dataset ids where they exist)."""
    examples_only_in_cand: tuple[str, ...]
    """Up to 10 items only the candidate has."""
    repeats_base: int = 0
    """Samples per shared (item, variant) in the base (the median)."""
    repeats_cand: int = 0
    """Samples per shared (item, variant) in the candidate (the median)."""
    repeats_matched: bool = False
    """True when the measures that depend on the number of repeats used the first common ones."""


@dataclass(frozen=True)
class PairedDelta(JsonResult):
    """Mean paired difference of per-item values (candidate - base), with a t interval and test."""

    estimate: Estimate
    """The mean of the item deltas with its t interval (no interval under 2 items)."""
    p_value: float | None
    """Two-sided p-value of delta = 0 (None under 2 items)."""
    n_items: int
    """Items paired."""
    test: str | None = None
    """The test behind ``p_value``."""
    sd_item_delta: float | None = None
    """Standard deviation of the item deltas (None under 2 items: then only ``estimate``,
    ``p_value``, ``n_items`` and ``test`` are in the JSON)."""
    paired_se: float | None = None
    """Standard error of the mean delta, paired."""
    unpaired_se: float | None = None
    """The standard error two independent samples would have (for comparison)."""
    correlation: float | None = None
    """Pearson correlation of the two runs' item values (None when one run has no spread)."""
    correlation_ci: tuple[float, float] | None = None
    """Fisher-z interval of ``correlation`` (None at |r| = 1 or with 3 or fewer items)."""

    def as_dict(self) -> dict[str, Any]:
        if self.sd_item_delta is None:  # too few items: no test (McNemar's, for the overall delta, comes last)
            short = {"estimate": self.estimate.as_dict(), "p_value": self.p_value, "n_items": self.n_items}
            return short | ({} if self.test is None else {"test": self.test})
        return {
            "estimate": self.estimate.as_dict(),
            "p_value": self.p_value,
            "test": self.test,
            "sd_item_delta": self.sd_item_delta,
            "paired_se": self.paired_se,
            "unpaired_se": self.unpaired_se,
            "correlation": self.correlation,
            "correlation_ci": None if self.correlation_ci is None else list(self.correlation_ci),
            "n_items": self.n_items,
        }


@dataclass(frozen=True)
class McNemar(JsonResult):
    """McNemar's test on paired 0/1 outcomes."""

    lost: int
    """Pairs the base passed and the candidate failed."""
    gained: int
    """Pairs the base failed and the candidate passed."""
    exact_p: float
    """Exact (binomial) two-sided p-value."""
    mid_p: float
    """Mid-p two-sided p-value (Fagerland, Lydersen & Laake 2013): the one reported."""
    method: str


@dataclass(frozen=True)
class OverallChange(JsonResult):
    """The mean score of each run on the shared items and their paired difference."""

    base: Estimate
    """The base run's mean score on the shared items."""
    cand: Estimate
    """The candidate run's mean score on the shared items."""
    paired: PairedDelta
    """The paired delta; its p-value and test are McNemar's when that applies."""
    mcnemar: McNemar | None
    """McNemar's test, for 0/1 scores with one sample per (item, variant) in both runs."""

    @property
    def estimate(self) -> Estimate:
        """The paired delta (candidate - base) with its interval."""
        return self.paired.estimate

    @property
    def p_value(self) -> float | None:
        return self.paired.p_value

    @property
    def test(self) -> str | None:
        return self.paired.test

    def as_dict(self) -> dict[str, Any]:
        out = {"base": self.base.as_dict(), "cand": self.cand.as_dict(), **self.paired.as_dict()}
        short_test = out.pop("test") if self.paired.sd_item_delta is None and "test" in out else None
        out["mcnemar"] = None if self.mcnemar is None else self.mcnemar.as_dict()
        if short_test is not None:  # fewer than 2 items: McNemar's test name comes after its numbers
            out["test"] = short_test
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OverallChange:
        return cls(
            Estimate(**data["base"]),
            Estimate(**data["cand"]),
            PairedDelta.from_dict(data),
            None if data.get("mcnemar") is None else McNemar.from_dict(data["mcnemar"]),
        )


@dataclass(frozen=True)
class SliceDelta(JsonResult):
    """The paired delta on one slice (items sharing attribute values, or the units of a variant)."""

    slice: str
    """Its name, e.g. ``lang=de`` or ``lang=de AND length=long``."""
    kind: str
    """``declared``, ``derived``, ``conjunction`` or ``variant``."""
    n_items: int
    """Shared items in the slice (units, for a variant)."""
    base: float
    """The base's mean score on the slice."""
    cand: float
    """The candidate's mean score on the slice."""
    delta: Estimate
    """Mean paired difference with a t interval."""
    p_value: float
    """Two-sided p-value of delta = 0, unadjusted: the paired sign-flip (permutation) test of the
    slice's item deltas, not the t-test of the interval (see ``test``)."""
    p_bh: float
    """``p_value`` adjusted over all slices with Benjamini-Hochberg."""
    p_by: float
    """``p_value`` adjusted with Benjamini-Yekutieli (valid when slices overlap)."""
    test: str = ""
    """How ``p_value`` was computed, e.g. ``exact sign-flip test (deltas on the lattice 1/3)``."""


@dataclass(frozen=True)
class LevelChange(JsonResult):
    """A per-item rate in [0, 1] (consistency, JSON validity) in both runs, tested with a paired t."""

    paired: PairedDelta
    """The paired delta over the items both runs have the rate for."""
    base_estimate: Estimate
    """The base's mean rate over those items."""
    cand_estimate: Estimate
    """The candidate's mean rate over those items."""

    @property
    def delta(self) -> Estimate:
        return self.paired.estimate

    @property
    def p_value(self) -> float | None:
        return self.paired.p_value

    @property
    def base_value(self) -> float | None:
        return self.base_estimate.value

    @property
    def cand_value(self) -> float | None:
        return self.cand_estimate.value

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.paired.as_dict(),
            "delta": self.paired.estimate.as_dict(),
            "base_estimate": self.base_estimate.as_dict(),
            "cand_estimate": self.cand_estimate.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LevelChange:
        base, cand = Estimate(**data["base_estimate"]), Estimate(**data["cand_estimate"])
        return cls(PairedDelta.from_dict(data), base, cand)


@dataclass(frozen=True)
class BootstrapChange(JsonResult):
    """A measure's change with a paired item bootstrap interval and p-value."""

    base: float
    """The measure in the base run."""
    cand: float
    """The measure in the candidate run."""
    delta: Estimate
    """cand - base with the bootstrap percentile interval (none when too few samples)."""
    p_value: float | None
    """2 (min(#delta* <= 0, #delta* >= 0) + 1) / (B + 1), or None with no interval."""
    ties: str
    """How replicates equal to 0 count (on both sides)."""

    @property
    def base_value(self) -> float | None:
        return self.base

    @property
    def cand_value(self) -> float | None:
        return self.cand


@dataclass(frozen=True)
class LatencyChange(BootstrapChange):
    """The change of a latency percentile, in milliseconds, over all samples without an error."""


@dataclass(frozen=True)
class BootstrapLevelChange(BootstrapChange):
    """A per-item rate (never-pass, pass^k) compared with the paired bootstrap, with each run's level."""

    base_estimate: Estimate
    """The base's mean over items with a t interval."""
    cand_estimate: Estimate
    """The candidate's mean over items with a t interval."""

    @property
    def base_value(self) -> float | None:
        return self.base_estimate.value

    @property
    def cand_value(self) -> float | None:
        return self.cand_estimate.value


Measure = LevelChange | BootstrapLevelChange | LatencyChange
"""A block of :class:`BeyondAccuracy`."""

_PASS_HAT = re.compile(r"pass_hat_(\d+)")


@dataclass(frozen=True)
class BeyondAccuracy:
    """Measures beyond the mean score, each paired on the shared items (None: not compared, see
    :attr:`Comparison.unavailable`)."""

    never_pass: BootstrapLevelChange
    """Share of items never passed (at the common number of repeats)."""
    consistency: LevelChange | None = None
    """Mean share of an item's answers that agree with its most common answer (needs repeats)."""
    json_validity: LevelChange | None = None
    """Share of outputs that parse as JSON, over items whose input asks for JSON."""
    pass_hat: BootstrapLevelChange | None = None
    """pass^k: the chance that k samples of an item all pass (k = :attr:`pass_hat_k`)."""
    pass_hat_k: int | None = None
    """The k of ``pass_hat``: the smallest number of samples per unit in either run, at most 10."""
    latency_p95: LatencyChange | None = None
    """The change of the 95th latency percentile."""
    latency_p99: LatencyChange | None = None
    """The change of the 99th latency percentile."""

    def measures(self) -> list[tuple[str, Measure]]:
        """(JSON name, block) of every measure compared, in the JSON's order."""
        named: list[tuple[str, Measure | None]] = [
            ("consistency", self.consistency),
            ("json_validity", self.json_validity),
            ("never_pass", self.never_pass),
            (f"pass_hat_{self.pass_hat_k}", self.pass_hat),
            ("latency_p95_ms", self.latency_p95),
            ("latency_p99_ms", self.latency_p99),
        ]
        return [(name, block) for name, block in named if block is not None]

    def as_dict(self) -> dict[str, Any]:
        return {name: block.as_dict() for name, block in self.measures()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BeyondAccuracy:
        k = next((int(m.group(1)) for key in data if (m := _PASS_HAT.fullmatch(key))), None)

        def get(key: str, kind: type[R]) -> R | None:
            return None if data.get(key) is None else kind.from_dict(data[key])

        never_pass = BootstrapLevelChange.from_dict(data["never_pass"])
        return cls(
            never_pass,
            get("consistency", LevelChange),
            get("json_validity", LevelChange),
            get(f"pass_hat_{k}", BootstrapLevelChange),
            k,
            get("latency_p95_ms", LatencyChange),
            get("latency_p99_ms", LatencyChange),
        )


@dataclass(frozen=True)
class Unavailable(JsonResult):
    """Why a beyond-accuracy measure was not compared."""

    kind: str
    """``absent`` (neither run has what the measure needs) or ``one_run`` (one run has it)."""
    reason: str


@dataclass(frozen=True)
class NewlyFailing(JsonResult):
    """An item that always passed in the base and not always in the candidate."""

    item_id: str
    source_id: str | None
    """Its dataset id, when it has one."""
    base_pass_rate: float
    cand_pass_rate: float
    input: str
    """The item's input (the first 500 characters)."""
    reference: str | None
    base_output: str | None
    """The base's best output (the first 500 characters)."""
    cand_output: str | None
    """The candidate's worst output (the first 500 characters)."""


@dataclass(frozen=True)
class ItemsNeeded(JsonResult):
    """Items a paired comparison needs to detect ``target_delta`` with ``repeats`` samples each."""

    repeats: int
    items_needed: int


@dataclass(frozen=True)
class PowerAdvice(JsonResult):
    """How small a change the comparison can detect, and the items needed for a target change."""

    alpha: float
    power: float
    n_items: int
    sd_item_delta: float
    """Standard deviation of the item deltas."""
    mde: float | None
    """Minimum detectable effect at ``alpha`` and ``power`` (None: too few items, or identical runs)."""
    method: str
    target_delta: float | None = None
    """The change worth detecting, when asked for (then ``items_needed`` is given)."""
    items_needed: tuple[ItemsNeeded, ...] | None = None
    """Items needed for ``target_delta`` at 1, 3, 5 and 10 repeats."""
    underpowered: bool = False
    """No significant change, and the comparison could not rule out a change of the MDE."""
    statement: str = ""
    """One sentence for a person: what the comparison can and cannot say."""
    identical: bool = False
    """Both runs have the same score on every shared item."""

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        if self.items_needed is None:
            del out["target_delta"], out["items_needed"]
        return out


@dataclass(frozen=True)
class ComparePlots(JsonResult):
    """Data for the HTML plots."""

    paired_scores: tuple[tuple[float, float], ...]
    """(base, candidate) mean score of up to 1,500 shared items."""


@dataclass(frozen=True)
class Comparison:
    """Two runs compared item by item (see :mod:`tailgate.analysis._compare`)."""

    base: RunInfo
    cand: RunInfo
    options: CompareOptions
    pairing: Pairing
    overall: OverallChange
    slices: tuple[SliceDelta, ...]
    """Every slice with enough shared items, largest drop first."""
    warnings: tuple[str, ...]
    """What a reader must know before trusting the headline (a mean up while slices went down)."""
    beyond: BeyondAccuracy
    newly_failing: tuple[NewlyFailing, ...]
    """The worst (at most 20) of the items that always passed in the base and not now."""
    power: PowerAdvice
    plots: ComparePlots
    newly_failing_count: int = 0
    """All items that always passed in the base and not in the candidate (the list shows the worst)."""
    unavailable: dict[str, Unavailable] = field(default_factory=dict)
    """Beyond-accuracy measures not compared, by name, each with its reason and kind."""
    judges: tuple[HeadlineJudge, ...] = ()
    """The judge scorers behind either run's headline scores, with their agreement with the truth
    and their corrected mean (empty: no judge gave a headline score; then not in the JSON)."""

    def as_dict(self) -> dict[str, Any]:
        judges = {"judges": to_json(self.judges)} if self.judges else {}
        return {
            "schema_version": 1,
            "base": self.base.as_dict(),
            "cand": self.cand.as_dict(),
            "options": self.options.as_dict(),
            "pairing": self.pairing.as_dict(),
            "overall": self.overall.as_dict(),
            "slices": to_json(self.slices),
            "warnings": list(self.warnings),
            "beyond_accuracy": self.beyond.as_dict(),
            "newly_failing": to_json(self.newly_failing),
            "newly_failing_count": self.newly_failing_count,
            "unavailable": to_json(self.unavailable),
            "power": self.power.as_dict(),
            "plots": self.plots.as_dict(),
        } | judges

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        """The comparison whose :meth:`as_dict` is ``data`` (``tailgate compare --json``'s output)."""
        from tailgate.analysis._judge_use import HeadlineJudge

        return cls(
            RunInfo.from_dict(data["base"]),
            RunInfo.from_dict(data["cand"]),
            CompareOptions.from_dict(data["options"]),
            Pairing.from_dict(data["pairing"]),
            OverallChange.from_dict(data["overall"]),
            tuple(SliceDelta.from_dict(s) for s in data["slices"]),
            tuple(data["warnings"]),
            BeyondAccuracy.from_dict(data["beyond_accuracy"]),
            tuple(NewlyFailing.from_dict(n) for n in data["newly_failing"]),
            PowerAdvice.from_dict(data["power"]),
            ComparePlots.from_dict(data["plots"]),
            data["newly_failing_count"],
            {k: Unavailable.from_dict(v) for k, v in data["unavailable"].items()},
            tuple(HeadlineJudge.from_dict(j) for j in data.get("judges", [])),
        )
