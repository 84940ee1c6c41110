"""Reading log files line by line (or row by row), so that every bad line is named and skipped.

Each reader yields ``(line, offset, payload)``: the 1-based line (CSV: the row's first line;
Parquet: the row), the byte offset just after it (JSONL only, for resuming; else ``None``), and a
:class:`Request`, a :class:`FieldError` (a bad line, counted and shown), or ``None`` (a line that
is not a request: blank, or an OTel span of another kind).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import InputError
from tailgate.traffic._fields import FieldError
from tailgate.traffic._openai import ReadOptions, request_from_mapping
from tailgate.traffic._otel import requests_from_otlp
from tailgate.traffic._schema import Request

__all__ = ["FORMATS", "Payload", "detect_format", "read_source"]

FORMATS = ("openai-jsonl", "otel", "csv", "parquet")
Payload = Request | FieldError | None
_BLOCK = 1 << 24
MAX_DOCUMENT_BYTES = 1 << 30
"""Largest single-document OTLP JSON file read whole (a JSONL export has no such limit)."""


def detect_format(path: Path, display: str) -> str:
    """The format of a file from its name, and for JSON from its first non-blank bytes."""
    name = path.name.lower()
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head.strip():
        return "openai-jsonl"  # an empty file: reported as empty whatever its format
    if b'"resourceSpans"' in head:
        return "otel"
    if name.endswith((".jsonl", ".ndjson", ".json", ".log")) or head.lstrip()[:1] == b"{":
        return "openai-jsonl"
    raise InputError("cannot tell the format: pass --format openai-jsonl, otel, csv or parquet", file=display)


def _lines(path: Path, offset: int, line: int, stop: int | None = None) -> Iterator[tuple[int, int, bytes, bool]]:
    """(line number, end offset, raw line, complete) from ``offset`` (to ``stop``, a line end);
    the last line is incomplete when the file does not end with a newline (a writer may still be
    appending it)."""
    with path.open("rb") as fh:
        fh.seek(offset)
        rest = b""
        while block := fh.read(_BLOCK if stop is None else min(_BLOCK, stop - offset - len(rest))):
            data = rest + block
            start = 0
            while (end := data.find(b"\n", start)) != -1:
                line += 1
                offset += end + 1 - start
                yield line, offset, data[start:end], True
                start = end + 1
            rest = data[start:]
        if rest:
            yield line + 1, offset + len(rest), rest, False


def _decode(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise FieldError(None, f"not valid UTF-8 (byte {bad.start + 1} of the line)") from None
        raise FieldError(None, f"not valid JSON ({str(exc).split(':')[0]})") from None


def _jsonl(
    path: Path, fmt: str, options: ReadOptions, offset: int, line: int, stop: int | None = None
) -> Iterator[tuple[int, int | None, Payload]]:
    for number, end, raw, complete in _lines(path, offset, line, stop):
        if not raw.strip():
            yield number, end, None
            continue
        try:
            obj = _decode(raw)
        except FieldError as exc:
            if not complete:
                exc = FieldError(None, f"{exc.message}; an incomplete last line (is the file still being written?)")
                yield number, None, exc  # not consumed: a resume reads it again once it is complete
            else:
                yield number, end, exc
            continue
        if fmt == "otel":
            for payload in requests_from_otlp(obj, options.columns):
                yield number, end, payload
            continue
        try:
            yield number, end, request_from_mapping(obj, options)
        except FieldError as exc:
            yield number, end, exc


def _otel_document(path: Path, options: ReadOptions, display: str) -> Iterator[tuple[int, int | None, Payload]]:
    """A pretty-printed OTLP file: one JSON document (its spans have no lines of their own)."""
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise InputError("an OTLP JSON document over 1 GiB: export it as JSONL (one request per line)", file=display)
    try:
        document = _decode(path.read_bytes())
    except FieldError as exc:
        yield 1, None, exc
        return
    for payload in requests_from_otlp(document, options.columns):
        yield 1, None, payload


def _csv(path: Path, options: ReadOptions) -> Iterator[tuple[int, int | None, Payload]]:
    csv.field_size_limit(1 << 30)
    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield 1, None, FieldError(None, f"unreadable CSV header ({exc})")
            return
        previous = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield previous + 1, None, FieldError(None, f"malformed CSV ({exc})")
                previous = reader.line_num
                continue
            number, previous = previous + 1, reader.line_num
            yield number, None, _csv_row(header, row, options)


def _csv_row(header: list[str], row: list[str], options: ReadOptions) -> Payload:
    if not any(row):
        return None
    if len(row) != len(header):
        return FieldError(None, f"{len(row)} fields, the header has {len(header)}")
    for name, value in zip(header, row, strict=True):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return FieldError(name, "not valid UTF-8")
    obj = {name: value for name, value in zip(header, row, strict=True) if value != ""}
    try:
        return request_from_mapping(obj, options)
    except FieldError as exc:
        return exc


def _plain(value: Any) -> Any:
    """Parquet cells as JSON values (times as ISO text, decimals as floats, bytes as text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _parquet(path: Path, options: ReadOptions, display: str) -> Iterator[tuple[int, int | None, Payload]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", file=display) from None
    number = 0
    for batch in parquet.iter_batches(batch_size=65536):
        for row in batch.to_pylist():
            number += 1
            timestamp = row.get(options.fields.get("timestamp", "timestamp"))
            obj = {k: _plain(v) for k, v in row.items() if v is not None}
            if isinstance(timestamp, datetime):  # keep the typed time (its zone) rather than its text
                obj[options.fields.get("timestamp", "timestamp")] = timestamp
            try:
                yield number, None, request_from_mapping(obj, options)
            except FieldError as exc:
                yield number, None, exc


def read_source(
    path: Path, fmt: str, options: ReadOptions, display: str, offset: int = 0, line: int = 0, stop: int | None = None
) -> Iterator[tuple[int, int | None, Payload]]:
    """The payloads of one file in one format (JSONL formats from a byte ``offset`` after ``line``,
    up to ``stop``, which must be the end of a line)."""
    if fmt == "openai-jsonl":
        return _jsonl(path, fmt, options, offset, line, stop)
    if fmt == "otel":
        with path.open("rb") as fh:
            first = fh.readline(1 << 20).strip()
        try:  # a collector's JSONL export: one document per line; else one pretty-printed document
            one_per_line = offset > 0 or isinstance(orjson.loads(first), dict)
        except orjson.JSONDecodeError:
            one_per_line = False
        return _jsonl(path, fmt, options, offset, line) if one_per_line else _otel_document(path, options, display)
    if fmt == "csv":
        return _csv(path, options)
    if fmt == "parquet":
        return _parquet(path, options, display)
    raise InputError(f"unknown format '{fmt}' (one of: auto, {', '.join(FORMATS)})", file=display)
