"""The viewer's per-item table: one run's (or two paired runs') units, reduced to items on demand.

A unit is an (item, variant) with at least one scored sample, as :func:`tailgate.compare_runs`
pairs them: with two runs, only the units both scored. The table keeps each unit's counts (scored
samples, score sum and sum of squares, passes, slowest latency), so that a filter, which may
restrict the variants that count, is a few numpy reductions and no SQL: a filter over 100,000
items is answered in milliseconds. Outputs stay in the run's files and are read per item.

The tag of an item (two runs; docs/view.md):

* ``flaky``: in either run, the samples of one of its units disagree (some pass, some fail);
* else ``regressed`` when its pass rate (passing samples / scored samples, over the units that
  count) is lower in the candidate, ``improved`` when higher, ``unchanged`` when equal.

A sample passes when its score is at least the run's pass threshold (``tailgate compare``'s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tailgate.analysis import NORMALIZED_ANSWER, RunData, item_features
from tailgate.view._filter import TAGS, Filter, FilterError, Term, scorer_field

__all__ = ["ItemStats", "Side", "ViewTable", "item_tags", "materialize"]

_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "=": np.equal,
    "!=": np.not_equal,
}


@dataclass(frozen=True)
class Side:
    """One run's units, aligned with the table's (``item`` is the row in :attr:`ViewTable.item_ids`)."""

    data: RunData
    item: np.ndarray
    variant: np.ndarray
    n: np.ndarray
    """Scored samples."""
    s: np.ndarray
    """Sum of the scores."""
    q: np.ndarray
    """Sum of the squared scores."""
    p: np.ndarray
    """Passing samples."""
    latency: np.ndarray
    """Slowest sample, in ms (NaN: none recorded)."""


@dataclass(frozen=True)
class ItemStats:
    """One side's units reduced to items (over the units that count)."""

    n: np.ndarray
    s: np.ndarray
    q: np.ndarray
    p: np.ndarray
    latency: np.ndarray
    flaky: np.ndarray
    """Some unit of the item has passing and failing samples."""

    @property
    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 0, self.s / np.maximum(self.n, 1), np.nan)


def item_tags(base: ItemStats, cand: ItemStats) -> np.ndarray:
    """The tag code of every item (an index into :data:`TAGS`; -1 where a side has no sample).

    Pass rates are compared exactly, as integers: p_c / n_c < p_b / n_b iff p_c n_b < p_b n_c.
    """
    left = cand.p.astype(np.int64) * base.n.astype(np.int64)
    right = base.p.astype(np.int64) * cand.n.astype(np.int64)
    tags = np.where(left < right, 0, np.where(left > right, 1, 2))
    tags = np.where(base.flaky | cand.flaky, 3, tags)
    return np.where((base.n > 0) & (cand.n > 0), tags, -1)


def materialize(data: RunData) -> None:
    """The columns an item's page reads, copied once into DuckDB tables sorted by item (the
    run's views re-read its files on every query: 25 ms per item for a JSONL journal)."""
    if getattr(data, "_view_tables", False):
        return
    data.con.execute(
        f"""CREATE TEMP TABLE view_records AS
            SELECT item_id, variant, "repeat", sample_id, prompt, output, answer, score, scores, latency_ms,
                   error_class, {NORMALIZED_ANSWER} AS answer_class
            FROM records ORDER BY item_id"""
    )
    data.con.execute("CREATE TEMP TABLE view_items AS SELECT item_id, input, reference FROM items ORDER BY item_id")
    data._view_tables = True  # type: ignore[attr-defined]


def _units(data: RunData, scored_only: bool) -> dict[str, np.ndarray]:
    threshold = float(data.pass_threshold)
    having = "HAVING count(score) > 0" if scored_only else ""
    return data.query(
        f"""SELECT item_id, variant, count(score) AS n, coalesce(sum(score), 0) AS s,
                   coalesce(sum(score * score), 0) AS q, coalesce(count_if(score >= {threshold!r}), 0) AS p,
                   max(latency_ms) AS latency
            FROM records GROUP BY ALL {having} ORDER BY item_id, variant"""
    )


def _shared(ub: dict[str, np.ndarray] | None, uc: dict[str, np.ndarray]) -> tuple[np.ndarray | None, np.ndarray]:
    """The rows of the units both runs have (in the candidate's order); one run: all of its rows."""
    if ub is None:
        return None, np.arange(uc["item_id"].size)
    if ub["item_id"].shape == uc["item_id"].shape and bool(
        np.all(ub["item_id"] == uc["item_id"]) and np.all(ub["variant"] == uc["variant"])
    ):  # the same units in the same order (runs of one suite): no dict of 100,000 tuples
        every = np.arange(uc["item_id"].size, dtype=np.int64)
        return every, every
    base_units = zip(ub["item_id"].tolist(), ub["variant"].tolist(), strict=True)
    key_b = {key: j for j, key in enumerate(base_units)}
    cand_units = zip(uc["item_id"].tolist(), uc["variant"].tolist(), strict=True)
    pairs = [(key_b[key], j) for j, key in enumerate(cand_units) if key in key_b]
    return np.array([b for b, _ in pairs], dtype=np.int64), np.array([c for _, c in pairs], dtype=np.int64)


def _unique(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct item ids (sorted) and each unit's index among them; the units come sorted by
    item id, so without sorting 100,000 strings again when they do."""
    values = ids.astype(str).astype(object)
    if values.size > 1 and bool(np.all(values[1:] >= values[:-1])):
        first = np.concatenate([[True], values[1:] != values[:-1]])
        return values[first], np.cumsum(first) - 1
    unique, inverse = np.unique(values.astype(str), return_inverse=True)
    return unique.astype(object), inverse


def _side(data: RunData, units: dict[str, np.ndarray], rows: np.ndarray, item: np.ndarray) -> Side:
    return Side(
        data,
        item,
        units["variant"][rows],
        np.nan_to_num(units["n"][rows].astype(float)).astype(np.int64),
        units["s"][rows].astype(float),
        units["q"][rows].astype(float),
        np.nan_to_num(units["p"][rows].astype(float)).astype(np.int64),
        units["latency"][rows].astype(float),
    )


class ViewTable:
    """Per-item data of one run, or of two runs paired on their shared units."""

    def __init__(self, cand: RunData, base: RunData | None = None, confidence: float = 0.95) -> None:
        self.confidence = confidence
        self.paired = base is not None
        uc = _units(cand, scored_only=base is not None)
        ub = _units(base, scored_only=True) if base is not None else None
        rows_b, rows_c = _shared(ub, uc)
        self.item_ids, item = _unique(uc["item_id"][rows_c])
        self.cand = _side(cand, uc, rows_c, item)
        self.base = None if base is None or ub is None or rows_b is None else _side(base, ub, rows_b, item)
        self._rows = {str(i): k for k, i in enumerate(self.item_ids.tolist())}
        # item attributes, texts and dataset ids from the base (the run whose slices compare reports)
        owner = base if base is not None else cand
        index = owner.items.index_of(self.item_ids.tolist())
        self.features = {name: labels[index] for name, labels in item_features(owner).items()}
        self.source_ids = owner.items.source_id[index]
        self.texts = [owner.items.text[k] for k in index.tolist()]
        self._lower: list[str] | None = None
        self._every: tuple[ItemStats | None, ItemStats, np.ndarray | None, np.ndarray] | None = None
        self._codes: dict[str, tuple[dict[str, int], np.ndarray]] = {}
        self._scorers: dict[tuple[str, str], np.ndarray] = {}
        self.binary = bool(owner.binary and (base is None or cand.binary))
        self.owner = owner

    @property
    def size(self) -> int:
        return int(self.item_ids.size)

    def row(self, item_id: str) -> int | None:
        return self._rows.get(item_id)

    # -- reduction -------------------------------------------------------------------------
    def stats(self, side: Side, unit_mask: np.ndarray) -> ItemStats:
        """``side``'s units under ``unit_mask`` reduced to items."""
        item = side.item[unit_mask]
        size = self.size

        def total(values: np.ndarray) -> np.ndarray:
            return np.bincount(item, weights=values[unit_mask].astype(float), minlength=size)

        latency = np.full(size, -np.inf)
        np.maximum.at(latency, item, np.nan_to_num(side.latency[unit_mask], nan=-np.inf))
        disagree = (side.p > 0) & (side.p < side.n)
        return ItemStats(
            n=total(side.n).astype(np.int64),
            s=total(side.s),
            q=total(side.q),
            p=total(side.p).astype(np.int64),
            latency=np.where(np.isinf(latency), np.nan, latency),
            flaky=total(disagree.astype(float)) > 0,
        )

    def variant_mask(self, filt: Filter) -> np.ndarray:
        """The units the filter's ``variant:`` terms let count."""
        mask = np.ones(self.cand.variant.size, dtype=bool)
        for term in filt.of("variant"):
            names = term.value if isinstance(term.value, tuple) else (str(term.value),)
            hit = np.isin(self.cand.variant.astype(str), np.array(names, dtype=str))
            mask &= ~hit if term.negated else hit
        return mask

    def select(self, filt: Filter) -> Selection:
        """The items that meet ``filt``, with each side's item statistics under its variants.

        Raises:
            FilterError: a term this table cannot answer (``tag:`` or ``base.*`` with one run).
        """
        if filt.of("variant"):
            base, cand, tags, keep = self._reduce(self.variant_mask(filt))
        else:  # every unit counts: the reduction made once
            if self._every is None:
                self._every = self._reduce(np.ones(self.cand.variant.size, dtype=bool))
            base, cand, tags, keep = self._every
        keep = keep.copy()
        for term in filt.terms:
            if term.field == "variant":
                continue
            hit = self._term(term, base, cand, tags)
            keep &= ~hit if term.negated else hit
        return Selection(self, np.flatnonzero(keep), base, cand, tags)

    def _reduce(self, units: np.ndarray) -> tuple[ItemStats | None, ItemStats, np.ndarray | None, np.ndarray]:
        """Both sides' item statistics over ``units``, the tags, and the items that have samples."""
        cand = self.stats(self.cand, units)
        base = None if self.base is None else self.stats(self.base, units)
        tags = None if base is None else item_tags(base, cand)
        keep = (cand.n > 0) if base is not None else np.bincount(self.cand.item[units], minlength=self.size) > 0
        if tags is not None:
            keep &= tags >= 0
        return base, cand, tags, keep

    def _term(self, term: Term, base: ItemStats | None, cand: ItemStats, tags: np.ndarray | None) -> np.ndarray:
        if term.op in _OPS:
            values = self._numbers(term, base, cand)
            with np.errstate(invalid="ignore"):
                return np.asarray(_OPS[term.op](values, float(term.value)))  # type: ignore[arg-type]
        if term.field == "tag":
            if tags is None:
                raise FilterError("tag: needs two runs (tailgate view BASE CAND)", term.column)
            names = term.value if isinstance(term.value, tuple) else (str(term.value),)
            return np.isin(tags, [TAGS.index(t) for t in names])
        if term.field == "slice":
            return self._slice(term)
        if term.field == "id":
            prefix = str(term.value)
            ids = [str(i).startswith(prefix) for i in self.item_ids.tolist()]
            sources = [s is not None and str(s).startswith(prefix) for s in self.source_ids.tolist()]
            return np.asarray(np.array(ids, dtype=bool) | np.array(sources, dtype=bool))
        if term.field == "output":
            return self._output(str(term.value))
        needle = str(term.value).casefold()
        if self._lower is None:
            self._lower = [t.casefold() for t in self.texts]
        return np.array([needle in t for t in self._lower], dtype=bool)

    def _numbers(self, term: Term, base: ItemStats | None, cand: ItemStats) -> np.ndarray:
        scorer = scorer_field(term.field)
        if scorer is not None:
            return self._scorer(scorer[0], scorer[1], term)
        side_name, _, measure = term.field.rpartition(".")
        if (side_name == "base" or term.field == "delta") and base is None:
            raise FilterError(f"{term.field} needs two runs (tailgate view BASE CAND)", term.column)
        if term.field == "delta":
            assert base is not None
            return np.asarray(cand.mean - base.mean)
        stats = base if side_name == "base" else cand
        assert stats is not None
        if measure == "score":
            return stats.mean
        if measure == "latency":
            return stats.latency
        return stats.n.astype(float)

    def _scorer(self, role: str, label: str, term: Term) -> np.ndarray:
        """Per item, the mean of scorer ``label``'s values over the samples of run ``role`` (NaN
        where it gave none): every sample counts, whatever the ``variant:`` terms."""
        side = self.cand if role == "cand" else self.base
        if side is None:
            raise FilterError(f"{term.field} needs two runs (tailgate view BASE CAND)", term.column)
        key = (role, label)
        if key not in self._scorers:
            materialize(side.data)
            known = side.data.query("SELECT DISTINCT unnest(json_keys(scores)) AS k FROM view_records")["k"]
            if label not in set(known.tolist()):
                names = ", ".join(sorted(str(k) for k in known.tolist())) or "none"
                raise FilterError(f"no scorer {label!r} in the {role} run (scorers: {names})", term.column)
            rows = side.data.query(
                "SELECT item_id, avg(TRY_CAST(json_extract_string(scores, ?) AS DOUBLE)) AS v "
                "FROM view_records GROUP BY item_id",
                [f'$."{label}".value'],
            )
            values = np.full(self.size, np.nan)
            for item_id, value in zip(rows["item_id"].tolist(), rows["v"].tolist(), strict=True):
                k = self._rows.get(str(item_id))
                if k is not None and value is not None:
                    values[k] = value
            self._scorers[key] = values
        return self._scorers[key]

    def _slice(self, term: Term) -> np.ndarray:
        name, _, value = str(term.value).partition("=")
        labels = self.features.get(name)
        if labels is None:
            known = ", ".join(sorted(self.features)) or "none"
            raise FilterError(f"slice: no attribute {name!r} (attributes: {known})", term.column)
        if name not in self._codes:
            # each attribute's labels as codes, once: a slice is then one integer comparison
            lookup: dict[str, int] = {}
            values = labels.tolist()
            codes = np.fromiter(
                (-1 if v is None else lookup.setdefault(str(v), len(lookup)) for v in values), np.int64, len(values)
            )
            self._codes[name] = (lookup, codes)
        lookup, codes = self._codes[name]
        code = lookup.get(value)
        return np.zeros(self.size, dtype=bool) if code is None else np.asarray(codes == code)

    def _output(self, needle: str) -> np.ndarray:
        hit = np.zeros(self.size, dtype=bool)
        for side in (self.base, self.cand):
            if side is None:
                continue
            materialize(side.data)
            rows = side.data.query(
                "SELECT DISTINCT item_id FROM view_records "
                "WHERE output IS NOT NULL AND contains(lower(output), lower(?))",
                [needle],
            )
            for item_id in rows["item_id"].tolist():
                k = self._rows.get(str(item_id))
                if k is not None:
                    hit[k] = True
        return hit


@dataclass(frozen=True)
class Selection:
    """The items a filter selected (rows of the table) and the statistics they were judged on."""

    table: ViewTable
    rows: np.ndarray
    base: ItemStats | None
    cand: ItemStats
    tags: np.ndarray | None

    def tag_counts(self) -> dict[str, int]:
        if self.tags is None:
            return {}
        chosen = self.tags[self.rows]
        return {tag: int((chosen == k).sum()) for k, tag in enumerate(TAGS)}

    def ordered(self) -> np.ndarray:
        """Rows, worst first: by candidate - base (or by score, one run), then by item id."""
        mean = self.cand.mean[self.rows]
        key = mean - self.base.mean[self.rows] if self.base is not None else mean
        key = np.where(np.isnan(key), np.inf, key)
        return self.rows[np.lexsort((self.table.item_ids[self.rows].astype(str), key))]

    def summary(self, row: int) -> dict[str, Any]:
        """What the items list shows of one item (numbers as raw parts: the API turns them into estimates)."""
        out: dict[str, Any] = {"cand": _counts(self.cand, row)}
        if self.base is not None:
            out["base"] = _counts(self.base, row)
        if self.tags is not None:
            out["tag"] = TAGS[int(self.tags[row])]
        return out


def _counts(stats: ItemStats, row: int) -> dict[str, float | int | None]:
    latency = float(stats.latency[row])
    return {
        "n": int(stats.n[row]),
        "s": float(stats.s[row]),
        "q": float(stats.q[row]),
        "p": int(stats.p[row]),
        "latency": None if np.isnan(latency) else latency,
    }
