"""A run held in memory: synthetic ``records`` and ``items`` tables opened as a :class:`RunData`.

The calibration study (``bench/calibration.py``) draws thousands of runs with a known truth and
passes each through the same analysis code as a stored run; writing each one to a store would
cost more than the statistics. Columns the caller does not give are NULL (of the type the
records schema gives them), so any analysis query runs unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tailgate.analysis._data import RunData, open_run
from tailgate.records import Manifest, item_arrow_schema, record_arrow_schema

__all__ = ["run_from_tables"]


def run_from_tables(
    records: Mapping[str, Any],
    items: Mapping[str, Any],
    manifest: Manifest | Mapping[str, Any] | None = None,
    *,
    run_id: str = "memory",
    pass_threshold: float | None = None,
) -> RunData:
    """A RunData over in-memory columns (name -> sequence or numpy array) on a fresh DuckDB
    connection, which the RunData owns (``close()`` it).

    ``records`` needs ``item_id`` and whatever the analyses read (``variant``, ``score``,
    ``answer``, ``output``, ``latency_ms``...); ``sample_id`` defaults to
    ``item_id/variant/repeat``. ``items`` needs ``item_id``; ``row`` defaults to 1..n, ``input``
    and ``attributes`` to ``{}`` (attributes are canonical JSON strings, as the store writes
    them). Unknown column names are an error (a typo would silently become a NULL column).

    Example:
        >>> data = run_from_tables({"item_id": ["a", "b"], "score": [1.0, 0.0]}, {"item_id": ["a", "b"]})
        >>> data.items.sum_score.tolist()
        [1.0, 0.0]
        >>> data.close()
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.register("__records", _table(dict(records), record_arrow_schema(), _record_defaults))
        con.register("__items", _table(dict(items), item_arrow_schema(), _item_defaults))
        con.execute("CREATE TEMP VIEW records AS SELECT * FROM __records")
        con.execute("CREATE TEMP VIEW items AS SELECT * FROM __items")
        given = manifest.as_dict() if isinstance(manifest, Manifest) else dict(manifest or {})
        full = {"suite": {"name": "memory", "config": {}}, "model": {"spec": "memory"}, **given}
        return open_run(con, run_id, Manifest.from_dict(full), pass_threshold)
    except BaseException:
        con.close()
        raise


def _table(columns: dict[str, Any], schema: Any, defaults: Any) -> Any:
    import pyarrow as pa

    known = set(schema.names)
    unknown = sorted(set(columns) - known)
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(unknown)}; the schema has {', '.join(schema.names)}")
    if "item_id" not in columns:
        raise ValueError("item_id is required")
    n = len(columns["item_id"])
    columns = {**defaults(columns, n), **columns}
    arrays = []
    for f in schema:
        if f.name in columns:
            arrays.append(pa.array(columns[f.name], type=f.type, from_pandas=True))
        else:
            arrays.append(pa.nulls(n, type=f.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema([f.with_nullable(True) for f in schema]))


def _record_defaults(columns: dict[str, Any], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "variant" not in columns:
        out["variant"] = ["original"] * n
    if "repeat" not in columns:
        out["repeat"] = [0] * n
    if "sample_id" not in columns:
        variants = columns["variant"] if "variant" in columns else out["variant"]
        repeats = columns["repeat"] if "repeat" in columns else out["repeat"]
        out["sample_id"] = [f"{i}/{v}/{r}" for i, v, r in zip(columns["item_id"], variants, repeats, strict=True)]
    return out


def _item_defaults(columns: dict[str, Any], n: int) -> dict[str, Any]:
    return {"row": list(range(1, n + 1)), "input": ["{}"] * n, "attributes": ["{}"] * n}
