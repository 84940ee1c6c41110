"""Pairing two runs: the (item, variant) units both scored, their per-item summaries, and the
same units at a common number of repeats.

Records are joined on (item, variant); an item takes part when both runs scored it on at least one
shared variant, and its score in each run is the mean over those samples. Before pairing, the
runs must have been scored the same way and asked the same questions: a variant whose template
differs, or a dataset id whose content hash differs (the question or reference changed), is an
error rather than a silent mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tailgate.analysis._compare_results import CompareOptions, Pairing, RunInfo
from tailgate.analysis._data import NORMALIZED_ANSWER, RunData, exact_sum
from tailgate.errors import UsageError

__all__ = ["Matched", "Paired", "matched", "pair_units", "repeats_warning", "run_info", "template_check"]


def _units(data: RunData) -> dict[str, np.ndarray]:
    return data.query(
        f"""SELECT item_id, variant, count(score) AS n, coalesce({exact_sum("score")}, 0) AS s,
                   count_if(score >= {float(data.pass_threshold)!r}) AS p
            FROM records WHERE score IS NOT NULL GROUP BY ALL ORDER BY item_id, variant"""
    )


@dataclass(frozen=True)
class Paired:
    """The shared (item, variant) units of two runs and their per-item summaries.

    ``b`` and ``c`` are each run's unit rows (n, s = score sum, p = passes, variant) restricted
    to the shared units, in the same order; ``inverse`` maps a unit to its item in ``item_ids``.
    """

    b: dict[str, np.ndarray]
    c: dict[str, np.ndarray]
    item_ids: np.ndarray
    inverse: np.ndarray

    @classmethod
    def of(cls, ub: dict[str, np.ndarray], uc: dict[str, np.ndarray], bi: np.ndarray, ci: np.ndarray) -> Paired:
        b = {k: v[bi] for k, v in ub.items()}
        c = {k: v[ci] for k, v in uc.items()}
        item_ids, inverse = _unique(b["item_id"])
        return cls(b, c, item_ids, inverse)

    def per_item(self, side: dict[str, np.ndarray], key: str) -> np.ndarray:
        """A unit column summed per item."""
        return np.bincount(self.inverse, weights=side[key].astype(float), minlength=self.item_ids.size)

    @property
    def n_b(self) -> np.ndarray:
        return self.per_item(self.b, "n")

    @property
    def n_c(self) -> np.ndarray:
        return self.per_item(self.c, "n")

    @property
    def mean_b(self) -> np.ndarray:
        return np.asarray(self.per_item(self.b, "s") / self.n_b)

    @property
    def mean_c(self) -> np.ndarray:
        return np.asarray(self.per_item(self.c, "s") / self.n_c)


def _unique(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(ids, return_inverse=True)``, without sorting ids that come sorted (the units do:
    sorting 200,000 strings as Python objects took a third of a second)."""
    if ids.dtype == object and ids.size > 1:
        try:
            ordered = bool(np.all(ids[1:] >= ids[:-1]))
        except TypeError:  # (not comparable: let numpy say so)
            ordered = False
        if ordered:
            first = np.concatenate([[True], ids[1:] != ids[:-1]])
            return ids[first], np.cumsum(first) - 1
    item_ids, inverse = np.unique(ids, return_inverse=True)
    return item_ids, inverse


@dataclass(frozen=True)
class Matched:
    """The shared units at a common number of repeats: in each unit, both runs' first
    min(K_base, K_cand) samples by repeat index (``paired``), next to every sample (``full``).

    Never-pass, "always passed" and answer consistency change with K alone (more tries, more
    chances to pass once and to answer differently), so they are compared at equal K. Taking the
    first repeats by index, not a random subset, keeps the report byte-identical. When every
    unit has the same number of samples in both runs, ``paired`` is ``full``.
    """

    full: Paired
    paired: Paired
    answers: tuple[np.ndarray, np.ndarray]
    """Per shared unit, each run's number of samples with an output."""
    answered: dict[str, np.ndarray] | None = None
    """Per shared unit: item_id, variant and k, the common number of answered samples (for
    consistency); None when the runs have the same number everywhere."""

    @property
    def thinned(self) -> bool:
        return self.paired is not self.full

    def consistency(self, data: RunData, side: str) -> np.ndarray:
        """Per item of ``full.item_ids``: mean over its units of the top answer's share."""
        if self.answered is None:
            return _consistency_per_item(data, self.full.item_ids)
        data.con.register("matched_units", _arrow(self.answered))
        try:
            rows = data.query(
                f"""WITH first AS ({_first_repeats("output IS NOT NULL")}),
                answers AS (SELECT item_id, variant, {NORMALIZED_ANSWER} AS a, count(*)::DOUBLE AS c
                            FROM first GROUP BY ALL),
                units AS (SELECT item_id, variant, max(c) / sum(c) AS share FROM answers
                          GROUP BY ALL HAVING sum(c) >= 2)
                SELECT item_id, avg(share) AS v FROM units GROUP BY item_id"""
            )
        finally:
            data.con.unregister("matched_units")
        lookup = dict(zip(rows["item_id"].tolist(), rows["v"].tolist(), strict=True))
        return np.array([lookup.get(str(i), np.nan) for i in self.full.item_ids.tolist()], dtype=float)


def _first_repeats(where: str) -> str:
    """Records of the units in ``matched_units``, only the first k (by repeat index) that meet ``where``."""
    return (
        'SELECT r.* FROM (SELECT *, row_number() OVER (PARTITION BY item_id, variant ORDER BY "repeat", sample_id) '
        f"AS rank_ FROM records WHERE {where}) r JOIN matched_units m USING (item_id, variant) WHERE r.rank_ <= m.k"
    )


def _arrow(columns: dict[str, np.ndarray]) -> Any:
    import pyarrow as pa

    return pa.table({k: pa.array(v.tolist()) for k, v in columns.items()})


def matched(base: RunData, cand: RunData, paired: Paired) -> Matched:
    """``paired`` at equal numbers of samples per unit (see :class:`Matched`)."""
    b, c = paired.b, paired.c
    answered_b, answered_c = _answered(base, b), _answered(cand, c)
    same_scored = bool(np.array_equal(b["n"], c["n"]))
    same_answered = bool(np.array_equal(answered_b, answered_c))
    if same_scored and same_answered:
        return Matched(paired, paired, (answered_b, answered_c))
    thinned = paired
    if not same_scored:
        k = np.minimum(b["n"], c["n"]).astype(np.int64)
        units = {"item_id": b["item_id"], "variant": b["variant"], "k": k}
        sides = []
        for data in (base, cand):
            data.con.register("matched_units", _arrow(units))
            try:
                rows = data.query(
                    f"""SELECT item_id, variant, count(score) AS n, coalesce({exact_sum("score")}, 0) AS s,
                               count_if(score >= {float(data.pass_threshold)!r}) AS p
                        FROM ({_first_repeats("score IS NOT NULL")}) GROUP BY ALL"""
                )
            finally:
                data.con.unregister("matched_units")
            at = {(i, v): j for j, (i, v) in enumerate(zip(rows["item_id"], rows["variant"], strict=True))}
            order = np.array([at[(i, v)] for i, v in zip(b["item_id"], b["variant"], strict=True)], dtype=np.int64)
            sides.append({key: rows[key][order] for key in ("item_id", "variant", "n", "s", "p")})
        thinned = Paired(sides[0], sides[1], paired.item_ids, paired.inverse)
    answered = None
    if not same_answered:
        answered = {"item_id": b["item_id"], "variant": b["variant"], "k": np.minimum(answered_b, answered_c)}
    return Matched(paired, thinned, (answered_b, answered_c), answered)


def _answered(data: RunData, units: dict[str, np.ndarray]) -> np.ndarray:
    """For each unit, the run's number of samples with an output."""
    rows = data.query("SELECT item_id, variant, count(*) AS n FROM records WHERE output IS NOT NULL GROUP BY ALL")
    at = {(i, v): int(n) for i, v, n in zip(rows["item_id"], rows["variant"], rows["n"], strict=True)}
    keys = zip(units["item_id"], units["variant"], strict=True)
    return np.array([at.get((i, v), 0) for i, v in keys], dtype=np.int64)


def repeats_warning(pairing: Pairing) -> list[str]:
    kb, kc = pairing.repeats_base, pairing.repeats_cand
    if kb == kc:
        return []
    k = min(kb, kc)
    return [
        f"the runs have different numbers of repeats (base {kb}, candidate {kc} samples per item-variant): "
        f"never-pass, consistency and newly failing items are compared on the first {k} repeat(s) of each in "
        f"both runs (by repeat index), pass^k at k <= {k}; the mean score uses every sample (unbiased at any "
        "number of repeats), but the two runs' precision differs"
    ]


def template_check(base: RunData, cand: RunData) -> list[str]:
    """Variants whose template definitions differ between the runs' suites."""

    a, b = base.manifest.templates, cand.manifest.templates
    changed = {name for name in set(a) & set(b) if a[name] != b[name]}
    # generated variants (formats, perturbations, paraphrases) share names across suites only if
    # their definitions match: the same name with other parameters is another prompt
    if base.manifest.generated_variants != cand.manifest.generated_variants:
        shared = set(base.manifest.variants or ()) & set(cand.manifest.variants or ())
        changed |= {name for name in shared if name not in a or "+" in name}
    return sorted(changed)


def _why_unscored(data: RunData) -> str:
    """Why a run has no scored sample, from its manifest (a failed run says why) or its records."""
    if error := data.manifest.error:
        return str(error)
    rows = data.query("SELECT count(*) AS n, count(error_class) AS errors, count(output) AS answered FROM records")
    n, errors = int(rows["n"][0]), int(rows["errors"][0])
    if n == 0:
        return "it has no records"
    if errors == n:
        return f"every one of its {n} samples failed (see tailgate show {data.run_id})"
    return f"{n - errors} samples were answered but none could be scored (see tailgate show {data.run_id})"


def run_info(data: RunData) -> RunInfo:
    m = data.manifest
    return RunInfo(
        data.run_id,
        m.suite.name,
        m.model.spec,
        m.mode,
        m.repeats,
        None if m.variants is None else tuple(m.variants),
    )


def pair_units(base: RunData, cand: RunData, options: CompareOptions) -> tuple[Paired, Matched, Pairing]:
    """The shared units of two runs, the same units at a common number of repeats, and what
    paired (see the module docstring); an error when nothing pairs or the items changed."""
    ub, uc = _units(base), _units(cand)
    bi, ci = _shared(ub, uc)
    counts = _pairing(base, cand, ub, uc, bi, options)
    if bi.size == 0:
        for data, units, role in ((base, ub, "base"), (cand, uc, "candidate")):
            if units["item_id"].size == 0:  # the real reason, not "no shared items"
                raise UsageError(f"the {role} run {data.run_id} has no scored sample: {_why_unscored(data)}")
        raise UsageError("the two runs share no (item, variant): nothing to compare")
    paired = Paired.of(ub, uc, bi, ci)
    at_k = matched(base, cand, paired)
    counts = replace(
        counts,
        repeats_base=int(np.median(paired.b["n"])),
        repeats_cand=int(np.median(paired.c["n"])),
        repeats_matched=at_k.thinned or at_k.answered is not None,
    )
    return paired, at_k, counts


def _shared(ub: dict[str, np.ndarray], uc: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the units both runs have (one per unit), in the candidate's order."""
    if _same(ub["item_id"], uc["item_id"]) and _same(ub["variant"], uc["variant"]):
        # the same units in the same order (runs of one suite): a dict of 200,000 tuples took 0.5 s
        every = np.arange(ub["item_id"].size, dtype=np.int64)
        return every, every
    key_b = {(i, v): j for j, (i, v) in enumerate(zip(ub["item_id"], ub["variant"], strict=True))}
    shared = [
        (key_b[(i, v)], j) for j, (i, v) in enumerate(zip(uc["item_id"], uc["variant"], strict=True)) if (i, v) in key_b
    ]
    bi = np.array([s[0] for s in shared], dtype=np.int64)
    ci = np.array([s[1] for s in shared], dtype=np.int64)
    return bi, ci


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal element by element with Python's equality (as a dict key would be)."""
    return a.shape == b.shape and bool(np.all(a == b))


def _pairing(
    base: RunData,
    cand: RunData,
    ub: dict[str, np.ndarray],
    uc: dict[str, np.ndarray],
    bi: np.ndarray,
    options: CompareOptions,
) -> Pairing:
    items_b = set(ub["item_id"].tolist())
    if bi.size == ub["item_id"].size and _same(ub["item_id"], uc["item_id"]):  # (the common case, fast)
        items_c = shared_items = items_b
    else:
        items_c, shared_items = set(uc["item_id"].tolist()), set(ub["item_id"][bi].tolist())
    changed = _changed_items(base, cand)
    if changed and not options.allow_changed_items:
        raise UsageError(
            f"{len(changed)} item(s) have the same dataset id but a different question or reference in the two "
            f"runs (e.g. {', '.join(changed[:3])}): the suites do not match. Use --allow-changed-items to compare "
            "the unchanged items only"
        )
    return Pairing(
        shared_items=len(shared_items),
        shared_units=int(bi.size),
        only_in_base=len(items_b - items_c),
        only_in_cand=len(items_c - items_b),
        changed_items=tuple(changed[:50]),
        n_changed_items=len(changed),
        examples_only_in_base=tuple(_names(base, sorted(items_b - items_c)[:10])),
        examples_only_in_cand=tuple(_names(cand, sorted(items_c - items_b)[:10])),
    )


def _changed_items(base: RunData, cand: RunData) -> list[str]:
    """Dataset ids whose content hash differs between the runs: the question or the reference changed."""
    a, b = base.items, cand.items
    if _same(a.item_id, b.item_id) and _same(a.source_id, b.source_id):
        return []
    src_b = {str(s): str(i) for i, s in zip(a.item_id, a.source_id, strict=True) if s is not None}
    src_c = {str(s): str(i) for i, s in zip(b.item_id, b.source_id, strict=True) if s is not None}
    return sorted(s for s in set(src_b) & set(src_c) if src_b[s] != src_c[s])


def _names(data: RunData, item_ids: list[str]) -> list[str]:
    """Dataset ids where the items have them (what a user recognises), else the content hash."""
    source = data.items.source_id
    rows = data.items.index_of(item_ids)
    return [i if source[k] is None else str(source[k]) for i, k in zip(item_ids, rows, strict=True)]


def _consistency_per_item(data: RunData, item_ids: np.ndarray) -> np.ndarray:
    from tailgate.analysis._consistency import _unit_rows

    rows = _unit_rows(data)
    out = np.full(item_ids.size, np.nan)
    if rows["n"].size == 0:
        return out
    frac = rows["top"] / rows["n"]
    codes = rows["code"].astype(np.int64)
    per_code_sum = np.bincount(codes, weights=frac, minlength=data.items.size)
    per_code_n = np.bincount(codes, minlength=data.items.size)
    codes_of = data.items.index_of(item_ids.tolist())
    found = codes_of >= 0
    seen = found.copy()
    seen[found] = per_code_n[codes_of[found]] > 0
    out[seen] = per_code_sum[codes_of[seen]] / per_code_n[codes_of[seen]]
    return out
