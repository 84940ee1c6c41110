"""Exporting a run as one row per sample (records joined with their item's reference and
attributes) to JSONL, CSV or Parquet, via DuckDB."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from tailgate.errors import UsageError
from tailgate.records import canonical_json
from tailgate.store._store import Store

__all__ = ["FORMATS", "export_run"]

FORMATS = {
    "jsonl": "(FORMAT JSON)",
    "csv": "(FORMAT CSV, HEADER)",
    "parquet": "(FORMAT PARQUET, COMPRESSION ZSTD)",
}


def export_run(store: Store, run_id: str, fmt: str, output: str | None) -> int:
    """Write the run's samples to ``output`` (``None`` or ``-``: standard output, not for
    Parquet). Returns the number of rows written."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format '{fmt}'; use one of {', '.join(FORMATS)}")
    if fmt == "parquet" and output in (None, "-"):
        raise UsageError("Parquet is binary: give an output file with -o FILE")
    import duckdb

    records = store.read_records(run_id)
    items = _items_table(store.read_items(run_id))
    con = duckdb.connect()
    try:
        con.register("records", records)
        con.register("items", items)
        query = (
            "SELECT r.*, i.* EXCLUDE (item_id, __row) FROM records r "
            "LEFT JOIN items i USING (item_id) ORDER BY i.__row, r.variant, r.repeat"
        )
        if output in (None, "-"):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"export.{fmt}"
                con.execute(f"COPY ({query}) TO '{path}' {FORMATS[fmt]}")
                with path.open("rb") as fh:
                    shutil.copyfileobj(fh, sys.stdout.buffer)
                sys.stdout.flush()
        else:
            target = Path(output).resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            escaped = str(target).replace("'", "''")
            con.execute(f"COPY ({query}) TO '{escaped}' {FORMATS[fmt]}")
        return int(records.num_rows)
    finally:
        con.close()


def _items_table(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    names = sorted({k for row in rows for k in row["attributes"]})
    columns: dict[str, Any] = {
        "item_id": [r["item_id"] for r in rows],
        "__row": [r["row"] for r in rows],
        "source_id": [r["source_id"] for r in rows],
        "reference": [None if r["reference"] is None else canonical_json(r["reference"]) for r in rows],
    }
    for name in names:
        values = [r["attributes"].get(name) for r in rows]
        columns[f"attr_{name}"] = [
            None if v is None else (v if isinstance(v, str) else canonical_json(v)) for v in values
        ]
    return pa.table({k: pa.array(v, pa.int64() if k == "__row" else pa.string()) for k, v in columns.items()})
