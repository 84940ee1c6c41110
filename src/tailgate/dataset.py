"""Reading a suite's dataset (JSONL, CSV, Parquet) into items, with errors that name the place.

Every problem is an :class:`~tailgate.errors.InputError` naming the file, the line (JSONL, CSV)
or row (Parquet) and the field: malformed JSON or CSV, text that is not UTF-8, a missing column,
an attribute that is not a scalar, a field larger than ``dataset.max_field_bytes``, an empty file.

One rule for every format (:func:`check_value`): a number must be finite (NaN, infinity and
numbers too large for a double such as ``1e400`` are rejected, in JSONL as in Parquet), a string
must be valid Unicode (no lone surrogates such as ``"\\ud800"``), and a value may nest at most
:data:`MAX_DEPTH` levels. A path that is a directory, a FIFO or a device, or that cannot be
resolved (a symlink loop), is rejected before anything is read, naming the suite's
``dataset.path``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailgate.config import LoadedSuite, file_problem
from tailgate.errors import InputError
from tailgate.records import Item, canonical_json, item_id

__all__ = ["MAX_DEPTH", "Dataset", "check_value", "detect_format", "iter_rows", "load_dataset"]

MAX_DEPTH = 64
"""Deepest nesting of lists and objects accepted in one value."""

_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class Dataset:
    """The items of a suite, in file order, with what was noticed while reading."""

    items: list[Item]
    path: Path
    rows_read: int
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def display(self) -> str:
        """The file's path as error messages show it (relative to the working directory)."""
        return _display(self.path)


def detect_format(path: Path, fmt: str = "auto", display: str | None = None) -> str:
    """The file format named by ``fmt`` or, for ``auto``, by the extension."""
    if fmt != "auto":
        return fmt
    found = _FORMATS.get(path.suffix.lower())
    if found is None:
        raise InputError(
            f"cannot tell the format from the extension '{path.suffix}'; "
            "use .jsonl, .csv or .parquet or set dataset.format",
            file=display or str(path),
        )
    return found


def iter_rows(path: Path, fmt: str, display: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line or row number, row)`` from a JSONL, CSV or Parquet file."""
    problem = file_problem(path)
    if problem is not None:
        raise InputError(problem, file=display)
    if fmt == "jsonl":
        yield from _jsonl_rows(path, display)
    elif fmt == "csv":
        yield from _csv_rows(path, display)
    elif fmt == "parquet":
        yield from _parquet_rows(path, display)
    else:  # pragma: no cover - guarded by the config's Literal
        raise InputError(f"unknown format '{fmt}'", file=display)


def load_dataset(suite: LoadedSuite, limit: int | None = None) -> Dataset:
    """Read and validate the suite's dataset; keep the first ``limit`` distinct items."""
    cfg = suite.config.dataset
    path = suite.dataset_path()
    display = _display(path)
    problem = file_problem(path)
    if problem is not None:
        raise suite.source.error(("dataset", "path"), f"'{cfg.path}' ({display}): {problem}")
    fmt = detect_format(path, cfg.format, display)
    items: list[Item] = []
    seen: set[str] = set()
    by_source: dict[str, str] = {}
    duplicates = 0
    rows = 0
    for line, row in iter_rows(path, fmt, display):
        rows += 1
        item = _make_item(row, line, cfg.id, cfg.reference, cfg.attributes, cfg.max_field_bytes, display)
        if item.source_id is not None:
            previous = by_source.setdefault(item.source_id, item.item_id)
            if previous != item.item_id:
                raise InputError(
                    f"id '{item.source_id}' is used by two different items",
                    file=display,
                    line=line,
                    field=cfg.id,
                )
        if item.item_id in seen:
            duplicates += 1
            continue
        seen.add(item.item_id)
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise InputError("the dataset has no items", file=display)
    warnings = []
    if duplicates:
        warnings.append(f"{display}: {duplicates} duplicate item(s) (same input and reference) skipped")
    return Dataset(items, path, rows, duplicates, warnings)


def check_value(value: Any, display: str, line: int, key: str, depth: int = 0) -> None:
    """The one validation rule for values from every format (see the module docstring)."""
    if isinstance(value, str):
        if _has_surrogate(value):
            raise InputError(
                "text contains a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode",
                file=display,
                line=line,
                field=key,
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(
                "a number must be finite: NaN, infinity and numbers too large for a double (such as "
                "1e400) are not allowed; write null for a missing value",
                file=display,
                line=line,
                field=key,
            )
    elif isinstance(value, (dict, list)):
        if depth >= MAX_DEPTH:
            raise InputError(f"nested more than {MAX_DEPTH} levels deep", file=display, line=line, field=key)
        if isinstance(value, dict):
            for k, v in value.items():
                check_value(k, display, line, key, depth + 1)
                check_value(v, display, line, f"{key}.{k}", depth + 1)
        else:
            for v in value:
                check_value(v, display, line, key, depth + 1)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _make_item(
    row: dict[str, Any],
    line: int,
    id_col: str | None,
    ref_col: str | None,
    attr_cols: list[str],
    max_bytes: int,
    display: str,
) -> Item:
    def need(col: str) -> Any:
        if col not in row:
            raise InputError("missing field", file=display, line=line, field=col)
        return row[col]

    source_id = None
    if id_col is not None:
        raw_id = need(id_col)
        if not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool):
            raise InputError(
                f"an id must be a string or an integer, not {_type_name(raw_id)}",
                file=display,
                line=line,
                field=id_col,
            )
        source_id = str(raw_id)
    reference = need(ref_col) if ref_col is not None else None
    attributes: dict[str, Any] = {}
    for col in attr_cols:
        value = need(col)
        if isinstance(value, (dict, list)):
            raise InputError(
                f"an attribute must be a scalar (string, number, boolean or null), not {_type_name(value)}",
                file=display,
                line=line,
                field=col,
            )
        attributes[col] = value
    skip = {c for c in (id_col, ref_col) if c is not None} | set(attr_cols)
    fields = {k: v for k, v in row.items() if k not in skip}
    sized = (*fields.items(), ("reference", reference), *attributes.items(), *([(id_col, source_id)] if id_col else []))
    for key, value in sized:
        size = len(value.encode("utf-8")) if isinstance(value, str) else len(_json(value, display, line, key))
        if size > max_bytes:
            name = ref_col if key == "reference" and ref_col else key
            raise InputError(
                f"value is {size:,} bytes; the limit is {max_bytes:,} "
                "(raise dataset.max_field_bytes if this is intended)",
                file=display,
                line=line,
                field=name,
            )
    return Item(
        item_id=item_id(fields, reference),
        input=fields,
        reference=reference,
        attributes=attributes,
        source_id=source_id,
        row=line,
    )


def _json(value: Any, display: str, line: int, key: str) -> str:
    try:
        return canonical_json(value)
    except ValueError as exc:  # NaN or infinity
        raise InputError(f"value is not valid JSON ({exc})", file=display, line=line, field=key) from None


def _jsonl_rows(path: Path, display: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            raw = line[3:] if number == 1 and line.startswith(b"\xef\xbb\xbf") else line
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"not valid UTF-8 (byte {exc.start} of the line)", file=display, line=number) from None
            if not text.strip():
                continue
            try:
                # NaN, Infinity and 1e400 parse to floats that check_value rejects, naming the field
                value = json.loads(text, parse_constant=float)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=display, line=number) from None
            except ValueError as exc:
                raise InputError(f"invalid JSON: {exc}", file=display, line=number) from None
            except RecursionError:
                raise InputError(f"nested more than {MAX_DEPTH} levels deep", file=display, line=number) from None
            if not isinstance(value, dict):
                raise InputError(
                    f"each line must be a JSON object, not {_type_name(value)}",
                    file=display,
                    line=number,
                )
            for key, field_value in value.items():
                check_value(key, display, number, key)
                check_value(field_value, display, number, key)
            yield number, value


def _csv_rows(path: Path, display: str) -> Iterator[tuple[int, dict[str, Any]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 (byte {exc.start})", file=display, line=line) from None
    csv.field_size_limit(2**31 - 1)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", file=display, line=reader.line_num) from None
    if len(set(header)) != len(header):
        raise InputError("the header repeats a column name", file=display, line=1)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", file=display, line=reader.line_num) from None
        if not cells or cells == [""]:
            continue
        if len(cells) != len(header):
            raise InputError(
                f"has {len(cells)} cells but the header has {len(header)} columns",
                file=display,
                line=reader.line_num,
            )
        yield reader.line_num, dict(zip(header, cells, strict=True))


def _parquet_rows(path: Path, display: str) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=display) from None
    number = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            plain = {k: _plain(v, display, number, k) for k, v in row.items()}
            for key, field_value in plain.items():
                check_value(field_value, display, number, key)
            yield number, plain


def _plain(value: Any, display: str, row: int, key: str) -> Any:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, float):
        return value  # NaN and infinity are rejected by check_value, as in JSONL
    if isinstance(value, dict):
        return {str(k): _plain(v, display, row, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, display, row, key) for v in value]
    if isinstance(value, bytes):
        raise InputError("binary values are not supported", file=display, line=row, field=key)
    return str(value)


def _type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
