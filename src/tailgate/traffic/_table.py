"""The traffic table on disk: immutable Parquet parts and an import journal, in ``STORE/traffic/``.

Layout::

    part-<ns>-<pid>.parquet    rows committed by one batch of one writer (immutable, never rewritten)
    imports.jsonl              one line per committed batch: file, format, how far it was read
    .staged-<pid>-*.tmp        a part being written (by the import of process pid, or its workers)
    .lock                      flock held by a writer while it commits a batch

Append-only and idempotent: a batch is committed under the lock, after dropping every row whose
``request_id`` is already in the table (DuckDB keeps the ids seen, and spills them to disk past
its memory limit), so the same request imported twice, or a batch re-read after a kill, is
stored once. A part is written to a temporary name, fsynced and renamed before its journal line
is appended: a kill between the two only makes the next import re-read lines whose rows are
already there (and drop them). Readers need no lock: parts are never deleted or changed.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import StoreError
from tailgate.traffic._schema import DERIVED_COLUMNS

__all__ = ["TrafficTable", "TrafficWriter"]


def _sql_paths(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _not_in(values: Any, known: Any) -> Any:
    import pyarrow.compute as pc

    return pc.invert(pc.is_in(values, value_set=known))


_DICTIONARY = [
    "schema_version",
    "model",
    "status",
    "is_error",
    "prompt_tokens",
    "completion_tokens",
    "finish_reason",
    "columns",
    *DERIVED_COLUMNS,
    "source",
    "format",
    "imported_at",
]
"""Columns dictionary-encoded in a part: the others (ids, texts, times, lines) are mostly
distinct, and trying a dictionary on them costs time for nothing."""


def stage(rows: Any, folder: Path, owner: int | None = None, *, sync: bool = True) -> Path:
    """Write rows (an Arrow table) as a Parquet file in the table's folder under a temporary
    name, fsynced, ready to be renamed into place as a part; ``owner`` is the pid of the
    importing process (default this one), so that a writer can remove what a killed one left;
    ``sync=False`` leaves the fsync to whoever renames it (:meth:`TrafficWriter.commit_staged`)."""
    import pyarrow.parquet as pq

    path = folder / f".staged-{owner or os.getpid()}-{time.time_ns()}-{os.getpid()}.parquet.tmp"
    try:
        pq.write_table(rows, path, compression="zstd", use_dictionary=_DICTIONARY)
        if sync:
            _fsync(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def _remove_stale(folder: Path) -> None:
    """Staged files whose importing process is gone (killed while it wrote them)."""
    for path in folder.glob(".staged-*.parquet.tmp"):
        try:
            os.kill(int(path.name.split("-")[1]), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (ValueError, IndexError, PermissionError):
            continue


class TrafficTable:
    """The traffic table of one store. Constructing it touches nothing on disk.

    Example:
        >>> table = TrafficTable(Path(".tailgate") / "traffic")
        >>> table.count()  # doctest: +SKIP
        1000000
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def parts(self) -> list[Path]:
        """The committed parts, in write order."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.name.startswith("part-") and p.suffix == ".parquet")

    def journal(self) -> list[dict[str, Any]]:
        """The import journal's entries (a torn last line, from a killed writer, is ignored)."""
        path = self.folder / "imports.jsonl"
        if not path.is_file():
            return []
        entries = []
        for raw in path.read_bytes().split(b"\n"):
            try:
                entries.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                continue
        return entries

    def register(self, con: Any, name: str = "traffic") -> None:
        """Create a DuckDB view ``name`` over the parts (an empty one with the schema when there are
        none), so windows and drift queries run in the engine, scanning the files in place."""
        from tailgate.traffic._schema import traffic_arrow_schema

        parts = self.parts()
        if parts:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_sql_paths(parts)})")
        else:
            con.register(f"__{name}_empty", traffic_arrow_schema().empty_table())
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM __{name}_empty")

    def read(self, columns: list[str] | None = None) -> Any:
        """The whole table (or some columns) as an Arrow table, in timestamp order."""
        import duckdb

        con = duckdb.connect()
        try:
            self.register(con)
            selected = ", ".join(f'"{c}"' for c in columns) if columns else "*"
            query = f"SELECT {selected} FROM traffic ORDER BY timestamp, request_id"
            return con.sql(query).to_arrow_table()
        finally:
            con.close()

    def count(self) -> int:
        import duckdb

        con = duckdb.connect()
        try:
            self.register(con)
            return int(con.execute("SELECT count(*) FROM traffic").fetchone()[0])  # type: ignore[index]
        finally:
            con.close()

    def writer(self) -> TrafficWriter:
        return TrafficWriter(self)


class TrafficWriter:
    """Commits batches of rows to the table, dropping requests it already holds."""

    def __init__(self, table: TrafficTable) -> None:
        import duckdb

        self.table = table
        table.folder.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect()
        spill = Path(tempfile.gettempdir()) / "tailgate-duckdb"
        self._con.execute("SET memory_limit = '1GB'")
        self._con.execute(f"SET temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
        self._con.execute("CREATE TEMP TABLE seen (request_id VARCHAR)")
        self._loaded: set[str] = set()
        _remove_stale(table.folder)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> TrafficWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _lock(self) -> Iterator[None]:
        fd = os.open(self.table.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _catch_up(self) -> None:
        """Add the ids of parts committed since the last look (by this writer or another)."""
        new = [p for p in self.table.parts() if p.name not in self._loaded]
        if new:
            self._con.execute(f"INSERT INTO seen SELECT request_id FROM read_parquet({_sql_paths(new)})")
            self._loaded.update(p.name for p in new)

    def commit(self, rows: Any, entry: dict[str, Any]) -> int:
        """Append the rows (an Arrow table, ids unique within it) not already in the table, then
        the journal ``entry``; returns how many rows were new."""
        with self._lock():
            self._catch_up()
            known = self._known(rows["request_id"])
            if len(known):
                rows = rows.filter(_not_in(rows["request_id"], known))
            name = self._write(rows) if rows.num_rows else None
            return self._record(rows["request_id"], name, entry)

    def commit_staged(self, staged: Path | None, ids: Any, entry: dict[str, Any]) -> int:
        """:meth:`commit` of rows a worker process wrote already (:func:`stage`; ``ids``: their
        request ids, None for no rows): renamed into place as they are when none is known (the
        common case: the part is not read), else rewritten without the known rows, or dropped."""
        import pyarrow.parquet as pq

        try:
            with self._lock():
                self._catch_up()
                known = self._known(ids)
                name = None
                if staged is not None and not len(known):
                    _fsync(staged)  # here, not in the worker: the disk waits overlap its parsing
                    name = self._name()
                    os.replace(staged, self.table.folder / name)
                elif staged is not None and len(known) < len(ids):
                    rows = pq.ParquetFile(staged).read()
                    rows = rows.filter(_not_in(rows["request_id"], known))
                    name, ids = self._write(rows), rows["request_id"]
                return self._record(ids, name, entry)
        finally:
            if staged is not None:
                staged.unlink(missing_ok=True)

    def _known(self, ids: Any) -> Any:
        """The request ids among ``ids`` (an Arrow array) already in the table."""
        if not len(ids):
            return ids
        import pyarrow as pa

        self._con.register("batch", pa.table({"request_id": ids}))
        known = self._con.sql(
            "SELECT request_id FROM seen WHERE request_id IN (SELECT request_id FROM batch)"
        ).to_arrow_table()["request_id"]
        self._con.unregister("batch")
        return known

    @staticmethod
    def _name() -> str:
        return f"part-{time.time_ns():020d}-{os.getpid()}.parquet"

    def _write(self, rows: Any) -> str:
        name = self._name()
        os.replace(stage(rows, self.table.folder), self.table.folder / name)
        return name

    def _record(self, ids: Any, name: str | None, entry: dict[str, Any]) -> int:
        """After a part ``name`` holding ``ids`` is in place: its ids seen, the journal line."""
        import pyarrow as pa

        if name is not None:
            self._con.register("fresh", pa.table({"request_id": ids}))
            self._con.execute("INSERT INTO seen SELECT request_id FROM fresh")
            self._con.unregister("fresh")
            self._loaded.add(name)
            entry = {**entry, "part": name}
        self._journal({**entry, "inserted": len(ids) if name is not None else 0})
        return len(ids) if name is not None else 0

    def _journal(self, entry: dict[str, Any]) -> None:
        try:
            with (self.table.folder / "imports.jsonl").open("ab") as fh:
                fh.write(orjson.dumps(entry) + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise StoreError(f"{self.table.folder}: cannot write the import journal ({exc})") from None
