"""``tailgate import records``: per-sample results from another tool become a run.

The file (CSV, JSONL or Parquet, optionally gzipped for CSV/JSONL) is read by DuckDB and written
straight to the run's Parquet files, so a few million rows import in seconds. Item ids are
``sha256("import:" + <item key>)[:16]``, so two files that use the same item keys pair item by
item (``tailgate compare``).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailgate.errors import InputError, StoreError
from tailgate.records import (
    RECORD_COLUMNS,
    SCHEMA_VERSION,
    Counts,
    DatasetInfo,
    ImportInfo,
    Manifest,
    ModelInfo,
    Plan,
    SuiteInfo,
    file_sha256,
)
from tailgate.store._sql import sql_list, sql_string
from tailgate.store._store import Store, utc_now

__all__ = [
    "MAX_GZIP_LINE_BYTES",
    "MAX_LINE_BYTES",
    "MAX_OBJECT_BYTES",
    "ImportSpec",
    "derive_run_id",
    "import_query",
    "import_records",
    "import_table",
]

MAX_LINE_BYTES = 2**30
"""Longest CSV line an import reads: 1 GiB."""
MAX_GZIP_LINE_BYTES = 2**25
"""Longest line of a gzipped CSV: 32 MiB."""
MAX_OBJECT_BYTES = 2**28
"""Largest JSONL object an import reads: 256 MiB (DuckDB allocates twice this for its buffer)."""


@dataclass(frozen=True)
class ImportSpec:
    """Which columns of the file mean what (only ``item`` and ``score`` are required)."""

    file: str
    item: str
    score: str
    repeat: str | None = None
    variant: str | None = None
    output: str | None = None
    answer: str | None = None
    latency: str | None = None
    input: str | None = None
    slices: list[str] = field(default_factory=list)
    run_id: str | None = None
    model: str | None = None
    scores: str | None = None
    """Column with each sample's ``scores`` JSON (scorer label -> {value, answer, error}); default:
    the one score under the label ``scorer``."""
    scorer: str | None = None
    """Label of the headline scorer (default: ``imported``)."""
    error: str | None = None
    """Column with the tool's error message for a sample that has no output (its score is null)."""
    format: str | None = None
    """The importer (``lm-eval``, ``inspect``, ...); None for a plain records file."""
    files: tuple[str, ...] = ()
    """Every file that went into the run (``file`` is the first), for the manifest."""
    source: dict[str, Any] | None = None
    """What the tool's own files say of the run (tool version, task, its config), kept in the
    manifest under ``import_source``."""


def _reader(path: Path, display: str) -> str:
    name = path.name.lower().removesuffix(".gz")
    source = sql_list([path])
    # DuckDB's defaults reject a line over 2 MB (CSV) or an object over 16 MB (JSON) as malformed;
    # a long output is valid data
    if name.endswith(".csv") or name.endswith(".tsv"):
        # (a gzipped file is read through a buffer of 16 lines' size, so its limit is lower)
        limit = MAX_GZIP_LINE_BYTES if path.name.lower().endswith(".gz") else MAX_LINE_BYTES
        return f"read_csv({source}, header=true, all_varchar=true, max_line_size={limit})"
    if name.endswith(".jsonl") or name.endswith(".ndjson") or name.endswith(".json"):
        return f"read_json({source}, format='newline_delimited', maximum_object_size={MAX_OBJECT_BYTES})"
    if name.endswith(".parquet") or name.endswith(".pq"):
        return f"read_parquet({source})"
    raise InputError("cannot tell the format: use .csv, .jsonl or .parquet (optionally .gz)", file=display)


def import_records(store: Store, spec: ImportSpec) -> tuple[str, int, int]:
    """Import; returns (run id, records, items)."""
    import duckdb

    path = Path(spec.file)
    display = spec.file
    if not path.is_file():
        raise InputError("file not found", file=display)
    con = duckdb.connect()
    # Large files: let DuckDB spill to disk instead of holding every intermediate in memory.
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"SET temp_directory = {sql_string(Path(tempfile.gettempdir()) / 'tailgate-duckdb')}")
    try:
        try:
            con.execute(
                f"CREATE TEMP TABLE src AS SELECT *, row_number() OVER () AS __row FROM {_reader(path, display)}"
            )
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            found = re.search(r"(?:on Line: |in line )(\d+)", str(exc))
            line = int(found.group(1)) if found else None
            raise InputError(f"cannot read it: {first}", file=display, line=line) from None
        available = [r[0] for r in con.execute("DESCRIBE src").fetchall() if r[0] != "__row"]
        header_offset = 1 if "read_csv" in _reader(path, display) else 0
        wanted = {
            "--item": spec.item,
            "--score": spec.score,
            "--repeat": spec.repeat,
            "--variant": spec.variant,
            "--output": spec.output,
            "--answer": spec.answer,
            "--latency": spec.latency,
            "--input": spec.input,
        }
        for option, column in [*wanted.items(), *(("--slice", s) for s in spec.slices)]:
            if column is not None and column not in available:
                raise InputError(
                    f"no column '{column}' (from {option}); the file has: {', '.join(available)}",
                    file=display,
                    line=1 if header_offset else None,  # a CSV's header
                    field=column,
                )
        _check(con, spec, display, header_offset)
        return _write(con, store, spec, path, header_offset)
    finally:
        con.close()


def import_table(store: Store, table: Any, spec: ImportSpec) -> tuple[str, int, int]:
    """Import a table that a format's parser built (a pyarrow Table, or a dict of numpy arrays,
    whose columns ``spec`` names, plus ``__row``: the source line or position of each sample);
    the same checks and the same writer as :func:`import_records`. Returns (run id, records,
    items)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"SET temp_directory = {sql_string(Path(tempfile.gettempdir()) / 'tailgate-duckdb')}")
    try:
        con.register("parsed", table)
        # a numpy column of None only has DuckDB's NULL type: text, as a pyarrow string column
        picks = [
            f"CAST({_q(name)} AS VARCHAR) AS {_q(name)}" if kind == '"NULL"' else _q(name)
            for name, kind, *_ in con.execute("DESCRIBE parsed").fetchall()
        ]
        con.execute(f"CREATE TEMP TABLE src AS SELECT {', '.join(picks)} FROM parsed")
        con.unregister("parsed")
        _check(con, spec, spec.file, 0)
        return _write(con, store, spec, Path(spec.file), 0)
    finally:
        con.close()


def import_query(store: Store, build: Callable[[Any], bool], spec: ImportSpec) -> tuple[str, int, int] | None:
    """Import a table that ``build(con)`` makes as the temp table ``src`` in DuckDB (a format's
    fast path: DuckDB parses the file); ``build`` returns False when the file needs the format's
    own parser instead (then nothing is written and None is returned). The same checks and writer
    as :func:`import_records`."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"SET temp_directory = {sql_string(Path(tempfile.gettempdir()) / 'tailgate-duckdb')}")
    try:
        try:
            if not build(con):
                return None
        except duckdb.Error:
            return None  # the file is not what the fast path reads: the parser says what is wrong
        _check(con, spec, spec.file, 0)
        return _write(con, store, spec, Path(spec.file), 0)
    finally:
        con.close()


def text(col: str | None) -> str:
    """A column as VARCHAR in SQL, or NULL when the option was not given."""
    return f"CAST({_q(col)} AS VARCHAR)" if col else "CAST(NULL AS VARCHAR)"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check(con: Any, spec: ImportSpec, display: str, offset: int) -> None:
    """Bad values name the line (CSV: counting the header) and the column."""
    checks = [
        (spec.score, "DOUBLE", "a finite number"),
        (spec.latency, "DOUBLE", "a finite number (milliseconds)"),
        (spec.repeat, "INTEGER", "a whole number from 0"),
    ]
    for column, sql_type, what in checks:
        if column is None:
            continue
        value = f"TRY_CAST({_q(column)} AS {sql_type})"
        # the same rule as datasets: NaN, infinity and 1e400 (which overflows to infinity) are not numbers
        finite = f" OR NOT isfinite({value})" if sql_type == "DOUBLE" else ""
        if sql_type == "INTEGER":  # TRY_CAST rounds '1.5' to 2; a repeat is a whole number from 0
            finite = f" OR {value} < 0 OR TRY_CAST({_q(column)} AS DOUBLE) <> {value}"
        bad = con.execute(
            f"SELECT __row, CAST({_q(column)} AS VARCHAR) FROM src WHERE {_q(column)} IS NOT NULL "
            f"AND ({value} IS NULL{finite}) ORDER BY __row LIMIT 1"
        ).fetchone()
        if bad:
            raise InputError(
                f"'{str(bad[1])[:40]}' is not {what}", file=display, line=int(bad[0]) + offset, field=column
            )
    missing = con.execute(f"SELECT __row FROM src WHERE {_q(spec.item)} IS NULL ORDER BY __row LIMIT 1").fetchone()
    if missing:
        raise InputError("missing item key", file=display, line=int(missing[0]) + offset, field=spec.item)
    if con.execute("SELECT count(*) FROM src").fetchone()[0] == 0:
        raise InputError("the file has no rows", file=display)
    for column in spec.slices:
        clash = con.execute(
            f"SELECT min(__row) FROM src GROUP BY {_q(spec.item)} HAVING count(DISTINCT {_q(column)}) > 1 "
            "ORDER BY 1 LIMIT 1"
        ).fetchone()
        if clash:
            raise InputError(
                "a slice column must have one value per item; this item has several",
                file=display,
                line=int(clash[0]) + offset,
                field=column,
            )


def derive_run_id(path: Path, now: str) -> str:
    """``import-<file stem>-<UTC time>``, the stem reduced to the characters a run id allows
    (``my file's.csv`` -> ``import-my-file-s-20250101T120000``)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.name.split(".")[0]).strip("-._")[:64] or "file"
    return f"import-{stem}-{now[:19].replace(':', '').replace('-', '')}"


def _write(con: Any, store: Store, spec: ImportSpec, path: Path, offset: int) -> tuple[str, int, int]:
    """Validate the file's rows and write them as one run. Long: one DuckDB statement per check
    (ids, scores, repeats, variants), each with the error it raises, in the order a user reads them."""
    run_id = spec.run_id or derive_run_id(path, utc_now())
    if store.exists(run_id):
        raise StoreError(f"run '{run_id}' already exists; choose another --run-id")
    model = spec.model or f"import:{path.name}"
    # The user's columns under internal names, so that none can collide with the record's own.
    optional = {
        "c_repeat": spec.repeat,
        "c_variant": spec.variant,
        "c_output": spec.output,
        "c_answer": spec.answer or spec.output,
        "c_latency": spec.latency,
        "c_input": spec.input,
        "c_scores": spec.scores,
        "c_error": spec.error,
    }
    picks = [f"CAST({_q(spec.item)} AS VARCHAR) AS c_item", f"TRY_CAST({_q(spec.score)} AS DOUBLE) AS c_score"]
    picks += [f"{_q(col)} AS {name}" if col else f"NULL AS {name}" for name, col in optional.items()]
    picks += [f"CAST({_q(col)} AS VARCHAR) AS s_{i}" for i, col in enumerate(spec.slices)]
    con.execute(f"CREATE TEMP TABLE clean AS SELECT {', '.join(picks)}, __row FROM src")
    con.execute("DROP TABLE src")
    variant = "coalesce(CAST(c_variant AS VARCHAR), 'original')" if spec.variant else "'original'"
    repeat = (
        "CAST(c_repeat AS INTEGER)"
        if spec.repeat
        else f"CAST(row_number() OVER (PARTITION BY c_item, {variant} ORDER BY __row) - 1 AS INTEGER)"
    )
    now = utc_now()
    # one hash per item, not per record
    con.execute(
        "CREATE TEMP TABLE keys AS SELECT c_item, left(sha256('import:' || c_item), 16) AS item_id "
        "FROM (SELECT DISTINCT c_item FROM clean)"
    )
    con.execute(
        f"""CREATE TEMP TABLE recs AS SELECT
            {SCHEMA_VERSION}::INTEGER AS schema_version, ? AS run_id, k.item_id,
            {variant} AS variant, {repeat} AS repeat,
            item_id || '/' || variant || '/' || CAST(repeat AS VARCHAR) AS sample_id,
            ? AS model, 'imported' AS mode, '{{}}' AS params,
            coalesce(CAST(c_input AS VARCHAR), '') AS prompt, CAST(c_output AS VARCHAR) AS output,
            CAST(c_answer AS VARCHAR) AS answer, c_score AS score, ? AS scorer,
            coalesce(CAST(c_scores AS VARCHAR), json_object(?, json_object('value', c_score,
                'answer', CAST(c_answer AS VARCHAR), 'error', NULL))::VARCHAR) AS scores,
            TRY_CAST(c_latency AS DOUBLE) AS latency_ms,
            CAST(NULL AS BIGINT) AS tokens_in, CAST(NULL AS BIGINT) AS tokens_out,
            CAST(NULL AS VARCHAR) AS finish_reason,
            CASE WHEN c_error IS NULL THEN NULL ELSE 'provider_error' END AS error_class,
            CAST(c_error AS VARCHAR) AS error_message, 1::INTEGER AS attempts, '[]' AS attempt_errors,
            CAST(? AS TIMESTAMPTZ) AS started_at, CAST(? AS TIMESTAMPTZ) AS ended_at, false AS cached,
            '' AS cache_key, __row
        FROM clean JOIN keys k USING (c_item)""",
        [run_id, model, spec.scorer or "imported", spec.scorer or "imported", now, now],
    )
    dup = con.execute(
        "SELECT __row FROM (SELECT __row, row_number() OVER (PARTITION BY sample_id ORDER BY __row) AS nth "
        "FROM recs) WHERE nth = 2 ORDER BY __row LIMIT 1"
    ).fetchone()
    if dup:
        raise InputError(
            "this item, variant and repeat appear twice",
            file=spec.file,
            line=int(dup[0]) + offset,
            field=spec.repeat or spec.item,
        )
    attrs = ", ".join(f"'{col}', first(s_{i})" for i, col in enumerate(spec.slices))
    input_json = "json_object('input', CAST(first(c_input) AS VARCHAR))" if spec.input else "'{}'"
    con.execute(
        f"""CREATE TEMP TABLE its AS SELECT k.item_id, c_item AS source_id, min(__row) + {offset} AS row,
            {input_json}::VARCHAR AS input, CAST(NULL AS VARCHAR) AS reference,
            {f"json_object({attrs})" if spec.slices else "'{}'"}::VARCHAR AS attributes
        FROM clean JOIN keys k USING (c_item) GROUP BY k.item_id, c_item"""
    )
    run_dir = store.prepare_run(run_id)
    columns = ", ".join(_q(c.name) for c in RECORD_COLUMNS)
    part = run_dir / "part-000001-000001.parquet"
    con.execute(
        f"COPY (SELECT {columns} FROM recs ORDER BY __row) TO {sql_string(part)} (FORMAT PARQUET, COMPRESSION ZSTD)"
    )
    con.execute(
        f"COPY (SELECT * FROM its ORDER BY row) TO {sql_string(run_dir / 'items.parquet')} "
        "(FORMAT PARQUET, COMPRESSION ZSTD)"
    )
    records = con.execute(
        "SELECT count(*), count(DISTINCT item_id), count(DISTINCT variant), max(repeat) + 1 FROM recs"
    ).fetchone()
    n, items, variants, repeats = (int(x) for x in records)
    errors = int(con.execute("SELECT count(*) FROM recs WHERE error_class IS NOT NULL").fetchone()[0])
    variant_names = [r[0] for r in con.execute("SELECT DISTINCT variant FROM recs ORDER BY 1").fetchall()]
    sizes = (n, items, variants, repeats, errors)
    store.publish_run(_manifest(spec, run_id, path, model, now, sizes, variant_names))
    return run_id, n, items


def _manifest(
    spec: ImportSpec,
    run_id: str,
    path: Path,
    model: str,
    now: str,
    sizes: tuple[int, int, int, int, int],
    names: list[str],
) -> Manifest:
    """An import's manifest: a completed run whose suite and dataset are the file."""
    n, items, variants, repeats, errors = sizes
    source = str(path.resolve())
    files = [str(Path(f).resolve()) for f in spec.files] if len(spec.files) > 1 else []
    return Manifest(
        run_id=run_id,
        status="completed",
        suite=SuiteInfo(name=f"import:{path.name}", path=source, config=None),
        dataset=DatasetInfo(path=source, sha256=file_sha256(path), rows_read=n, items=items),
        model=ModelInfo(model),
        mode="imported",
        repeats=repeats,
        variants=tuple(names),
        imported=ImportInfo(
            file=source,
            item=spec.item,
            score=spec.score,
            repeat=spec.repeat,
            variant=spec.variant,
            output=spec.output,
            answer=spec.answer,
            latency=spec.latency,
            input=spec.input,
            slices=tuple(spec.slices),
            format=spec.format,
        ),
        plan=Plan(items=items, variants=variants, repeats=repeats, samples=n),
        tailgate_version=_version(),
        started_at=now,
        ended_at=now,
        counts=Counts(planned=n, done=n, errors=errors),
        extra=({"import_files": files} if files else {}) | ({"import_source": spec.source} if spec.source else {}),
    )


def _version() -> str:
    from tailgate._version import __version__

    return __version__
