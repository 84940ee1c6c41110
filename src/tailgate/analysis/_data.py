"""A run as the analyses see it: DuckDB views over its files, and per-item summaries.

The heavy part (grouping millions of records by item, by item and answer, by item and slice) is
SQL run by DuckDB over the Parquet/JSONL files; only one row per item (or per item and slice
value) comes back to numpy for the statistics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailgate.analysis._derive import derive_item_features
from tailgate.records import Manifest
from tailgate.store import Store

__all__ = [
    "ANSWER_TEXT",
    "AUTO",
    "NORMALIZED_ANSWER",
    "ItemFrame",
    "RunData",
    "exact_avg",
    "exact_sum",
    "fetch",
    "load_run",
    "open_run",
    "reference_text",
    "references",
]

# Prefix of attributes derived automatically from the input (see _derive.py).
AUTO = "auto:"

# Answers are compared after this normalisation (the same in every analysis): lower case, runs of
# anything but letters and digits (punctuation, white space) collapsed to one space, trimmed. A
# missing answer is its own class. Letters and digits are Unicode ones (RE2's \p{L} and \p{N}:
# "Français" stays "français"; POSIX [:alnum:] is ASCII-only in RE2 and split it to "fran ais").
# The answer of a sample: the extracted answer; for a sample nothing scored (an open-ended item
# without a reference), the output itself.
ANSWER_TEXT = "(CASE WHEN score IS NULL THEN coalesce(answer, output) ELSE answer END)"
NORMALIZED_ANSWER = (
    f"coalesce(nullif(trim(regexp_replace(lower({ANSWER_TEXT}), '[^\\p{{L}}\\p{{N}}]+', ' ', 'g')), ''), '<no answer>')"
)


def exact_sum(expr: str) -> str:
    """SQL for the sum of ``expr`` independent of the order rows arrive in (DuckDB adds doubles in
    whatever order its threads deliver them, so the last bits of a float sum, and then a report's
    bytes, changed between runs): summed as DECIMAL(38, 18), exactly, then back to DOUBLE."""
    return f"sum(({expr})::DECIMAL(38, 18))::DOUBLE"


def exact_avg(expr: str) -> str:
    """The mean of ``expr`` as :func:`exact_sum` over the count (NULL when there is none)."""
    return f"({exact_sum(expr)} / nullif(count({expr}), 0))"


# "Does the output contain valid JSON": the span from the first { or [ to the last } or ].
_JSON_SPAN = r"regexp_extract(output, '[{\[][\s\S]*[}\]]')"
OUTPUT_JSON = (
    f"CASE WHEN output IS NULL THEN NULL WHEN json_valid({_JSON_SPAN}) AND {_JSON_SPAN} <> '' "
    "THEN 'valid' ELSE 'invalid' END"
)


@dataclass
class ItemFrame:
    """One row per item, aligned arrays (index = item code)."""

    item_id: np.ndarray
    source_id: np.ndarray
    text: list[str]
    n_samples: np.ndarray
    n_scored: np.ndarray
    sum_score: np.ndarray
    sum_sq: np.ndarray
    n_pass: np.ndarray
    n_errors: np.ndarray
    tokens_in: np.ndarray
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    _rows: dict[str, int] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def size(self) -> int:
        return int(self.item_id.size)

    def index_of(self, item_ids: list[str]) -> np.ndarray:
        """The row (item code) of each id; -1 for an id this run does not have."""
        if self._rows is None:
            self._rows = {str(i): k for k, i in enumerate(self.item_id.tolist())}
        return np.array([self._rows.get(str(i), -1) for i in item_ids], dtype=np.int64)

    def mean_score(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n_scored > 0, self.sum_score / np.maximum(self.n_scored, 1), np.nan)


@dataclass
class RunData:
    """A run opened for analysis."""

    run_id: str
    manifest: Manifest
    con: Any
    items: ItemFrame
    declared: list[str]
    derived: list[str]
    binary: bool
    pass_threshold: float
    snapshot: Any = None
    """The store's read snapshot: the files the views name stay until :meth:`close`."""

    def query(self, sql: str, params: list[Any] | None = None) -> dict[str, np.ndarray]:
        """Run SQL and return its columns as numpy arrays."""
        return fetch(self.con, sql, params)

    def close(self) -> None:
        self.con.close()
        if self.snapshot is not None:
            self.snapshot.close()


def load_run(store: Store, run_id: str, pass_threshold: float | None = None) -> RunData:
    """Open a run: register its files in DuckDB and compute the per-item summaries."""
    import duckdb

    manifest = store.manifest(run_id)
    con = duckdb.connect()
    snapshot = store.register(con, run_id)
    try:
        data = open_run(con, run_id, manifest, pass_threshold)
    except BaseException:
        con.close()
        snapshot.close()
        raise
    data.snapshot = snapshot
    return data


def open_run(con: Any, run_id: str, manifest: Manifest, pass_threshold: float | None = None) -> RunData:
    """A run from a DuckDB connection on which views (or tables) ``records`` and ``items`` exist
    (with the columns of the records schema): the per-item summaries are computed, and the
    returned RunData owns ``con``. :func:`load_run` registers a stored run's files; the
    calibration study registers synthetic in-memory tables."""
    # fetchall, not fetchone: a result left unfinished makes DuckDB refuse every later query on
    # the connection ("connection has an unfinished result from execute()")
    (score_range,) = con.execute(
        "SELECT min(score), max(score), bool_and(score IN (0, 1)) FROM records WHERE score IS NOT NULL"
    ).fetchall()
    binary = bool(score_range[2]) if score_range[2] is not None else True
    threshold = pass_threshold if pass_threshold is not None else 1.0
    con.execute(
        "CREATE TEMP TABLE item_codes AS SELECT item_id, row_number() OVER (ORDER BY row, item_id) - 1 AS code "
        "FROM items"
    )
    cols = fetch(
        con,
        f"""
        SELECT c.code, i.item_id, i.source_id, i.input, i.attributes,
               count(r.sample_id) AS n_samples, count(r.score) AS n_scored,
               coalesce({exact_sum("r.score")}, 0) AS sum_score,
               coalesce({exact_sum("r.score * r.score")}, 0) AS sum_sq,
               coalesce(count_if(r.score >= {float(threshold)!r}), 0) AS n_pass, count(r.error_class) AS n_errors,
               median(r.tokens_in) AS tokens_in
        FROM items i JOIN item_codes c USING (item_id) LEFT JOIN records r USING (item_id)
        GROUP BY ALL ORDER BY c.code
        """,
    )
    declared = manifest.declared_attributes
    attributes = _attribute_arrays(con, cols["attributes"], declared)
    texts = [_input_text(raw) for raw in cols["input"]]
    tokens = cols["tokens_in"].astype(float)
    derived_cols = _derived_arrays(texts, tokens, has_text=any(texts))
    items = ItemFrame(
        item_id=cols["item_id"],
        source_id=cols["source_id"],
        text=texts,
        n_samples=cols["n_samples"].astype(np.int64),
        n_scored=cols["n_scored"].astype(np.int64),
        sum_score=cols["sum_score"].astype(float),
        sum_sq=cols["sum_sq"].astype(float),
        n_pass=cols["n_pass"].astype(np.int64),
        n_errors=cols["n_errors"].astype(np.int64),
        tokens_in=tokens,
        attributes={**attributes, **derived_cols},
    )
    return RunData(run_id, manifest, con, items, declared, list(derived_cols), binary, threshold)


def fetch(con: Any, sql: str, params: list[Any] | None = None) -> dict[str, np.ndarray]:
    """The result of ``sql`` as numpy arrays: NULL becomes NaN in numeric columns and None in
    others. (DuckDB's numpy fetch, not Arrow: pyarrow's conversions import pandas, 0.2 s.)"""
    relation = con.sql(sql, params=params) if params else con.sql(sql)
    out = {}
    for name, raw in relation.fetchnumpy().items():
        column: Any = raw
        if isinstance(raw, np.ma.MaskedArray):
            # (filled(None) would use numpy's default fill for objects, which is "?")
            column = np.array(raw.data, dtype=float if raw.dtype.kind in "iufb" else object)
            column[np.ma.getmaskarray(raw)] = np.nan if column.dtype.kind == "f" else None
        out[name] = np.asarray(column)
    return out


def references(data: RunData, item_ids: list[str], width: int = 200) -> dict[str, str | None]:
    """The reference answer of each item (from the run's items table) as display text, at most
    ``width`` characters; None for an item without one (open-ended, or imported without it)."""
    if not item_ids:
        return {}
    rows = data.query(
        f"SELECT item_id, reference FROM items WHERE item_id IN ({', '.join('?' for _ in item_ids)})", item_ids
    )
    return {str(i): reference_text(r, width) for i, r in zip(rows["item_id"], rows["reference"], strict=True)}


def reference_text(raw: Any, width: int = 200) -> str | None:
    """A stored reference (canonical JSON) as a person reads it: a string as itself, a number as
    written, anything else (a list of accepted answers, an object) as compact JSON."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        value = str(raw)
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 1] + "…"


def _attribute_arrays(con: Any, raw: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    if not names:
        return {}
    if all(_plain(name) for name in names):
        # DuckDB extracts the values (as text; true/false for booleans, as _label does) in C++:
        # parsing 200k JSON objects in Python took 1.4 s
        columns = ", ".join(
            f'json_extract_string(attributes, \'$."{name}"\') AS "a{k}"' for k, name in enumerate(names)
        )
        cols = fetch(con, f"SELECT {columns} FROM items i JOIN item_codes c USING (item_id) ORDER BY c.code")
        return {name: cols[f"a{k}"].astype(object) for k, name in enumerate(names)}
    parsed = [json.loads(a) if a else {} for a in raw]
    return {name: np.array([_label(p.get(name)) for p in parsed], dtype=object) for name in names}


def _plain(name: str) -> bool:
    """A name that can be quoted inside a JSON path and an SQL string literal as it is."""
    return all(ch not in name for ch in "\"'\\") and name.isprintable()


def _label(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _input_text(raw: Any) -> str:
    """The item's text fields joined: what derived attributes are computed from."""
    if not raw or raw == "{}":
        return ""
    value = json.loads(raw)
    if isinstance(value, dict):
        return "\n".join(str(v) for v in value.values() if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _derived_arrays(texts: list[str], tokens: np.ndarray, has_text: bool) -> dict[str, np.ndarray]:
    if not has_text and np.isnan(tokens).all():
        return {}
    rows = [
        derive_item_features(text, None if np.isnan(tok) else float(tok))
        for text, tok in zip(texts, tokens, strict=True)
    ]
    names = list(rows[0]) if rows else []
    if not has_text:
        names = ["input_tokens"]
    return {f"{AUTO}{name}": np.array([_label(r[name]) for r in rows], dtype=object) for name in names}
