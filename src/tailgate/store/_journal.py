"""Append-only record files of one run, and reading them back.

Layout of a run folder::

    manifest.json                      replaced atomically (write, fsync, rename)
    items.jsonl | items.parquet        the run's items, written once
    journal-000001.jsonl               records appended by one writer session, one JSON per line
    part-000001-000003.parquet         compacted journals 1..3 (deduplicated, immutable)
    .lock                              flock held by the live writer
    .readers                           flock shared by readers; a writer deletes replaced files
                                       (stale journals, items.jsonl) only when it can take it
                                       exclusively, so a reader's snapshot never loses a file

A finished run of 10,000 samples or more is compacted to Parquet; smaller runs stay JSONL (also
an open format, read directly by DuckDB and pandas).

Durability: each record is written with one ``write`` and flushed to the OS before the sample
counts as done, so a ``kill -9`` loses only calls still in flight. A killed writer may leave a
torn last line; it is ignored on read, and the next writer session appends to a new journal, so
a torn line is never glued to a new record. Compaction writes the Parquet part to a temporary
name, fsyncs and renames it before deleting the journals it covers; a part's name says which
journals it covers, so a crash between the two steps cannot count a record twice.

When a sample has several records (``--retry-errors`` re-issues failed samples), the last one
written wins.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import StoreError
from tailgate.records import record_arrow_schema

__all__ = ["Journal", "JournalFiles", "read_journal", "records_to_table", "scan_run_files"]

_JOURNAL = re.compile(r"^journal-(\d{6})\.jsonl$")
_PART = re.compile(r"^part-(\d{6})-(\d{6})\.parquet$")


@dataclass(frozen=True)
class JournalFiles:
    """The record files of a run that count, in write order."""

    parts: list[tuple[int, int, Path]]
    journals: list[tuple[int, Path]]
    stale_journals: list[Path]

    @property
    def next_segment(self) -> int:
        numbers = [hi for _, hi, _ in self.parts] + [n for n, _ in self.journals]
        numbers += [int(_JOURNAL.match(p.name).group(1)) for p in self.stale_journals]  # type: ignore[union-attr]
        return max(numbers, default=0) + 1


def scan_run_files(run_dir: Path) -> JournalFiles:
    """Find parts and journals; journals already covered by a part are stale."""
    parts: list[tuple[int, int, Path]] = []
    journals: list[tuple[int, Path]] = []
    for path in run_dir.iterdir():
        if m := _PART.match(path.name):
            parts.append((int(m.group(1)), int(m.group(2)), path))
        elif m := _JOURNAL.match(path.name):
            journals.append((int(m.group(1)), path))
    parts.sort()
    journals.sort()
    covered = [(lo, hi) for lo, hi, _ in parts]
    live = [(n, p) for n, p in journals if not any(lo <= n <= hi for lo, hi in covered)]
    stale = [p for n, p in journals if any(lo <= n <= hi for lo, hi in covered)]
    return JournalFiles(parts, live, stale)


class Journal:
    """One writer session's append-only JSONL file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("ab", buffering=0)

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line, in one system call (durable against a process kill)."""
        data = orjson.dumps(record) + b"\n"
        written = self._fh.write(data)
        while written is not None and written < len(data):  # pragma: no cover - short writes
            written += self._fh.write(data[written:]) or 0

    def sync(self) -> None:
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self.sync()
            self._fh.close()


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Records of one journal; a torn final line (a killed writer) is ignored."""
    records: list[dict[str, Any]] = []
    with path.open("rb") as fh:
        data = fh.read()
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    for number, raw in enumerate(complete, start=1):
        if not raw:
            continue
        try:
            records.append(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise StoreError(f"{path}:{number}: corrupt record ({exc}); the store was modified by hand?") from None
    del tail  # bytes after the last newline: a record whose write was cut off
    return records


def records_to_table(records: list[dict[str, Any]]) -> Any:
    """Records (dicts as written to journals) as an Arrow table of the records schema."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = record_arrow_schema()
    columns = []
    for field in schema:
        values = [r.get(field.name) for r in records]
        if pa.types.is_timestamp(field.type):
            columns.append(pc.cast(pa.array(values, pa.string()), field.type))
        else:
            columns.append(pa.array(values, field.type))
    return pa.Table.from_arrays(columns, schema=schema)
