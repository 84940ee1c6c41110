"""The records store: a folder of runs in open formats (JSONL while writing, Parquet after).

The default store is ``.tailgate/`` in the working directory; ``--store PATH`` or the
``TAILGATE_STORE`` environment variable selects another. Writers never block readers: a report
can read a run while it is being written.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailgate.errors import RunLocked, RunNotFound, StoreError, UsageError
from tailgate.records import RECORD_COLUMNS, Item, Manifest, canonical_json, record_arrow_schema
from tailgate.store._cache import ResponseCache
from tailgate.store._journal import Journal, read_journal, records_to_table, scan_run_files
from tailgate.store._sql import sql_list

__all__ = ["ReadSnapshot", "RunInfo", "RunWriter", "Store", "default_store_path", "utc_now"]

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def default_store_path() -> Path:
    return Path(os.environ.get("TAILGATE_STORE") or ".tailgate")


def utc_now() -> str:
    """Current UTC time as ISO 8601 with microseconds and a ``Z``."""
    now = time.time()
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now))}.{int(now % 1 * 1e6):06d}Z"


@dataclass(frozen=True)
class RunInfo:
    """A line of ``tailgate runs``."""

    run_id: str
    suite: str
    model: str
    status: str
    planned: int
    done: int
    errors: int
    started_at: str
    ended_at: str | None


class Store:
    """A folder of runs. Constructing it touches nothing on disk."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_store_path()

    @property
    def runs_dir(self) -> Path:
        self._check_root()
        return self.root / "runs"

    @property
    def traffic_dir(self) -> Path:
        """The folder of the traffic table (production requests: :mod:`tailgate.traffic`)."""
        self._check_root()
        return self.root / "traffic"

    def cache(self, *, refresh: bool = False) -> ResponseCache:
        """The response cache; ``refresh`` reads nothing (every lookup misses) but still writes."""
        self._check_root()
        return ResponseCache(self.root / "cache.sqlite", read=not refresh)

    def _check_root(self) -> None:
        """The store (or the first part of its path that exists) must be a folder: a file there
        made every command fail with a traceback from ``mkdir``."""
        for path in (self.root / "runs", self.root, *self.root.parents):
            try:
                is_dir = path.is_dir()
                exists = is_dir or path.exists()
            except OSError as exc:  # a symlink loop, a name too long
                raise StoreError(f"store {self.root}: {exc.strerror or exc}") from None
            if is_dir:
                return
            if exists:
                raise StoreError(
                    f"store {self.root}: {path} is a file, not a folder "
                    "(--store or TAILGATE_STORE must name a folder, which is created if missing)"
                )

    def run_dir(self, run_id: str) -> Path:
        if not _RUN_ID.match(run_id):
            raise UsageError(f"'{run_id}' is not a valid run id (letters, digits, '.', '_', '-')")
        return self.runs_dir / run_id

    def exists(self, run_id: str) -> bool:
        return (self.run_dir(run_id) / "manifest.json").is_file()

    def manifest(self, run_id: str) -> Manifest:
        """The run's manifest (``manifest.json`` as a :class:`~tailgate.records.Manifest`)."""
        path = self.run_dir(run_id) / "manifest.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return Manifest.from_dict(data)
        except FileNotFoundError:
            raise RunNotFound(f"no run '{run_id}' in {self.root} (see: tailgate runs)") from None
        except (ValueError, TypeError) as exc:
            raise StoreError(f"{path}: unreadable manifest ({exc})") from None

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique prefix of one, or ``latest``."""
        if ref == "latest":
            runs = self.list_runs()
            if not runs:
                raise RunNotFound(f"no runs in {self.root}")
            return max(runs, key=lambda r: r.started_at).run_id
        if self.exists(ref):
            return ref
        matches = [p.name for p in self._run_dirs() if p.name.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UsageError(f"'{ref}' matches several runs: {', '.join(sorted(matches)[:5])}")
        raise RunNotFound(f"no run '{ref}' in {self.root} (see: tailgate runs)")

    def _run_dirs(self) -> list[Path]:
        if not self.runs_dir.is_dir():
            return []
        return [p for p in self.runs_dir.iterdir() if (p / "manifest.json").is_file()]

    # -- writing ------------------------------------------------------------------------------

    def create_run(self, run_id: str, manifest: Manifest, items: list[Item]) -> RunWriter:
        """Create a run that this process writes (``tailgate run``): its items, its manifest and
        the write lock, held by the returned writer."""
        run_dir = self.run_dir(run_id)
        if self.exists(run_id):
            raise StoreError(f"run '{run_id}' already exists")
        run_dir.mkdir(parents=True, exist_ok=True)
        writer = RunWriter(run_dir)
        try:
            _write_items_jsonl(run_dir / "items.jsonl", items)
            writer.write_manifest(manifest)
        except BaseException:  # release the lock (and its file) when the run cannot be created
            writer.close()
            raise
        return writer

    def prepare_run(self, run_id: str) -> Path:
        """The empty folder of a new run whose files the caller writes itself (an import writes
        its Parquet files straight from DuckDB). The run exists once :meth:`publish_run` wrote
        its manifest, so a reader never sees it half written.

        Raises:
            StoreError: the run already exists.
        """
        if self.exists(run_id):
            raise StoreError(f"run '{run_id}' already exists")
        run_dir = self.run_dir(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir

    def publish_run(self, manifest: Manifest) -> None:
        """Write the manifest of a run made with :meth:`prepare_run` (atomically)."""
        _write_manifest(self.run_dir(manifest.run_id), manifest)

    def open_run(self, run_id: str) -> RunWriter:
        """Take the write lock of an existing run (for resuming it)."""
        if not self.exists(run_id):
            raise RunNotFound(f"no run '{run_id}' in {self.root}")
        return RunWriter(self.run_dir(run_id))

    # -- reading ------------------------------------------------------------------------------

    def read_records(self, run_id: str) -> Any:
        """All records of a run as an Arrow table, one per sample (the last written wins)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        run_dir = self.run_dir(run_id)
        if not run_dir.is_dir():
            raise RunNotFound(f"no run '{run_id}' in {self.root}")
        with ReadSnapshot(run_dir):
            files = scan_run_files(run_dir)
            tables = [pq.read_table(path) for _, _, path in files.parts]
            live: list[dict[str, Any]] = []
            for _, path in files.journals:
                live.extend(read_journal(path))
        if live or not tables:
            tables.append(records_to_table(live))
        table = pa.concat_tables([t.cast(record_arrow_schema()) for t in tables])
        if table.num_rows == 0:
            return table
        index = pa.array(range(table.num_rows), pa.int64())
        keyed = pa.table({"sample_id": table["sample_id"], "__i": index})
        last = keyed.group_by("sample_id", use_threads=False).aggregate([("__i", "max")])["__i_max"]
        if len(last) == table.num_rows:
            return table
        return table.take(pc.take(last, pc.sort_indices(last)))  # write order, last wins

    def read_columns(self, run_id: str, columns: Sequence[str]) -> dict[str, list[Any]]:
        """Some columns of a run's records as lists, one value per sample, in the order and with
        the deduplication of :meth:`read_records` (the last record of a sample wins), as JSON
        values (timestamps stay strings). A run still in journals (under 10,000 samples) is read
        without pyarrow, whose import alone is most of what ``tailgate show`` may take."""
        names = ["sample_id", *(c for c in columns if c != "sample_id")]
        run_dir = self.run_dir(run_id)
        if not run_dir.is_dir():
            raise RunNotFound(f"no run '{run_id}' in {self.root}")
        rows: dict[str, tuple[Any, ...]] = {}
        with ReadSnapshot(run_dir):
            files = scan_run_files(run_dir)
            for _, _, path in files.parts:
                import pyarrow.parquet as pq

                # ParquetFile, not read_table: read_table goes through pyarrow.dataset, whose
                # import pulls in pandas (0.3 s of `tailgate show`'s 0.8 s)
                data = pq.ParquetFile(path).read(columns=names).to_pydict()
                for row in zip(*(data[n] for n in names), strict=True):
                    rows.pop(row[0], None)  # re-inserted: the order is that of each sample's last record
                    rows[row[0]] = row
            for _, path in files.journals:
                for rec in read_journal(path):
                    rows.pop(rec["sample_id"], None)
                    rows[rec["sample_id"]] = tuple(rec.get(n) for n in names)
        return {n: [row[i] for row in rows.values()] for i, n in enumerate(names) if n in columns}

    def register(self, con: Any, run_id: str) -> ReadSnapshot:
        """Create DuckDB views ``records`` (one row per sample, the last written wins) and
        ``items`` over a run's files, so analysis queries run in the engine, scanning the files in
        place (projection and filters pushed down). A torn last journal line (a killed writer) is
        skipped, as :func:`read_journal` does.

        The views read the files lazily, at every query, so the files they name must outlive
        them: the returned :class:`ReadSnapshot` holds the run's reader lock, under which no
        compaction deletes a file. Keep it until the views are no longer queried, then close it.
        """
        run_dir = self.run_dir(run_id)
        if not run_dir.is_dir():
            raise RunNotFound(f"no run '{run_id}' in {self.root}")
        snapshot = ReadSnapshot(run_dir)
        try:
            self._register(con, run_dir)
        except BaseException:
            snapshot.close()
            raise
        return snapshot

    def _register(self, con: Any, run_dir: Path) -> None:
        files = scan_run_files(run_dir)
        names = [c.name for c in RECORD_COLUMNS]
        select = ", ".join(f'"{n}"' for n in names)
        sources = []
        if files.parts:
            paths = sql_list(p for _, _, p in files.parts)
            sources.append(
                f"SELECT {select}, CAST(regexp_extract(filename, 'part-[0-9]+-([0-9]+)', 1) AS INTEGER) AS __seg "
                f"FROM read_parquet({paths}, filename=true)"
            )
        if files.journals:
            paths = sql_list(p for _, p in files.journals)
            types = {
                "int32": "INTEGER",
                "int64": "BIGINT",
                "float64": "DOUBLE",
                "string": "VARCHAR",
                "bool": "BOOLEAN",
                "timestamp": "VARCHAR",
            }
            columns = ", ".join(f"'{c.name}': '{types[c.type]}'" for c in RECORD_COLUMNS)
            casts = ", ".join(
                f'CAST("{c.name}" AS TIMESTAMPTZ) AS "{c.name}"' if c.type == "timestamp" else f'"{c.name}"'
                for c in RECORD_COLUMNS
            )
            sources.append(
                f"SELECT {casts}, CAST(regexp_extract(filename, 'journal-([0-9]+)', 1) AS INTEGER) AS __seg "
                f"FROM read_json({paths}, format='newline_delimited', columns={{{columns}}}, "
                "ignore_errors=true, filename=true)"
            )
        if not sources:
            empty = ", ".join(f'NULL AS "{n}"' for n in names)
            sources.append(f"SELECT {empty}, 0 AS __seg WHERE false")
        union = " UNION ALL ".join(sources)
        dedup = (
            ""
            if len(files.parts) == 1 and not files.journals
            else (" QUALIFY row_number() OVER (PARTITION BY sample_id ORDER BY __seg DESC) = 1")
        )
        con.execute(f"CREATE OR REPLACE TEMP VIEW records AS SELECT * EXCLUDE (__seg) FROM ({union}){dedup}")
        parquet = run_dir / "items.parquet"
        if parquet.is_file():
            source = f"read_parquet({sql_list([parquet])})"
        else:
            source = (
                f"read_json({sql_list([run_dir / 'items.jsonl'])}, format='newline_delimited', "
                "columns={item_id: 'VARCHAR', source_id: 'VARCHAR', row: 'BIGINT', input: 'VARCHAR', "
                "reference: 'VARCHAR', attributes: 'VARCHAR'})"
            )
        con.execute(f"CREATE OR REPLACE TEMP VIEW items AS SELECT * FROM {source}")

    def read_items(self, run_id: str) -> list[dict[str, Any]]:
        """The items table of a run as dicts (input, reference, attributes decoded)."""
        run_dir = self.run_dir(run_id)
        parquet = run_dir / "items.parquet"
        with ReadSnapshot(run_dir):
            if parquet.is_file():
                import pyarrow.parquet as pq

                rows: list[dict[str, Any]] = pq.read_table(parquet).to_pylist()
            else:
                text = (run_dir / "items.jsonl").read_text("utf-8")
                rows = [json.loads(line) for line in text.splitlines() if line]
        for row in rows:
            row["input"] = json.loads(row["input"])
            row["reference"] = None if row["reference"] is None else json.loads(row["reference"])
            row["attributes"] = json.loads(row["attributes"])
        return rows

    def sample_status(self, run_id: str) -> dict[str, bool]:
        """sample_id -> True when the sample has a successful record (last record wins)."""
        run_dir = self.run_dir(run_id)
        status: dict[str, bool] = {}
        with ReadSnapshot(run_dir):
            files = scan_run_files(run_dir)
            if files.parts:
                import pyarrow.parquet as pq

                for _, _, path in files.parts:
                    t = pq.read_table(path, columns=["sample_id", "error_class"])
                    for sid, err in zip(t["sample_id"].to_pylist(), t["error_class"].to_pylist(), strict=True):
                        status[sid] = err is None
            for _, path in files.journals:
                for rec in read_journal(path):
                    status[rec["sample_id"]] = rec.get("error_class") is None
        return status

    def list_runs(self) -> list[RunInfo]:
        infos = []
        for run_dir in sorted(self._run_dirs()):
            try:
                m = self.manifest(run_dir.name)
            except StoreError:
                continue
            infos.append(self.run_info(run_dir.name, m))
        return sorted(infos, key=lambda r: r.started_at)

    def run_info(self, run_id: str, manifest: Manifest | None = None) -> RunInfo:
        m = manifest or self.manifest(run_id)
        status = self.effective_status(run_id, m)
        if m.counts is None or status in ("running", "interrupted"):
            states = self.sample_status(run_id)
            done, errors = len(states), sum(not ok for ok in states.values())
        else:
            done, errors = m.counts.done, m.counts.errors
        return RunInfo(
            run_id=run_id,
            suite=m.suite.name,
            model=m.model.spec,
            status=status,
            planned=m.plan.samples,
            done=done,
            errors=errors,
            started_at=m.started_at,
            ended_at=m.ended_at,
        )

    def effective_status(self, run_id: str, manifest: Manifest) -> str:
        """The manifest's status, except that a ``running`` run with no live writer is
        ``interrupted`` (its process was killed)."""
        status = manifest.status
        if status == "running" and not _is_locked(self.run_dir(run_id) / ".lock"):
            return "interrupted"
        return status


class ReadSnapshot:
    """A shared lock on a run's ``.readers`` file, held while a reader may still open the files it
    listed. Writers delete replaced files only under the exclusive lock, so a reader never finds
    a listed file gone (issue: reports crashed while a run was compacted). In a store the reader
    cannot write to there is no writer either, and no lock is taken."""

    def __init__(self, run_dir: Path) -> None:
        self._fd: int | None = _open_readers(run_dir)
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def __enter__(self) -> ReadSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    @contextmanager
    def exclusive(run_dir: Path) -> Iterator[bool]:
        """Try the exclusive lock without waiting: yields whether no reader holds a snapshot."""
        fd = _open_readers(run_dir)
        if fd is None:
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        try:
            yield True
        finally:
            os.close(fd)


def _open_readers(run_dir: Path) -> int | None:
    try:
        return os.open(run_dir / ".readers", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None


class RunWriter:
    """Holds a run's write lock; appends records, rewrites the manifest, compacts."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._lock_fh = (run_dir / ".lock").open("a+")
        try:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_fh.seek(0)
            pid = self._lock_fh.read().strip() or "?"
            self._lock_fh.close()
            raise RunLocked(
                f"run '{run_dir.name}' is being written by another process (pid {pid}); wait for it or stop it first"
            ) from None
        self._lock_fh.seek(0)
        self._lock_fh.truncate()
        self._lock_fh.write(str(os.getpid()))
        self._lock_fh.flush()
        files = scan_run_files(run_dir)
        self._segment = files.next_segment
        self._remove_unread()  # stale journals left by a crash during compaction, or kept for readers
        self._journal: Journal | None = None

    def manifest(self) -> Manifest:
        return Manifest.from_dict(json.loads((self.run_dir / "manifest.json").read_text("utf-8")))

    def write_manifest(self, manifest: Manifest) -> None:
        _write_manifest(self.run_dir, manifest)

    def update_manifest(self, **changes: Any) -> Manifest:
        """Rewrite the manifest with ``changes`` (see :meth:`~tailgate.records.Manifest.updated`)."""
        manifest = self.manifest().updated(**changes)
        self.write_manifest(manifest)
        return manifest

    def append(self, record: dict[str, Any]) -> None:
        if self._journal is None:
            self._journal = Journal(self.run_dir / f"journal-{self._segment:06d}.jsonl")
        self._journal.append(record)

    def seal(self) -> None:
        """Close the journal being written (fsynced); a later record starts the next one."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
            self._segment += 1

    def compact(self, min_records: int = 0) -> bool:
        """Fold every journal into one Parquet part (and the items into Parquet), if the journals
        hold at least ``min_records`` records. Returns whether it compacted."""
        self.seal()
        files = scan_run_files(self.run_dir)
        if sum(_count_lines(path) for _, path in files.journals) < min_records:
            return False  # (lines bound the records from above: no need to parse them)
        records: dict[str, dict[str, Any]] = {}
        for _, path in files.journals:
            for rec in read_journal(path):
                records.pop(rec["sample_id"], None)
                records[rec["sample_id"]] = rec
        if len(records) < min_records:
            return False
        import pyarrow.parquet as pq

        items_jsonl = self.run_dir / "items.jsonl"
        if items_jsonl.is_file() and not (self.run_dir / "items.parquet").is_file():
            _items_to_parquet(items_jsonl, self.run_dir / "items.parquet")
        if not files.journals:
            self._remove_unread()
            return True
        lo, hi = files.journals[0][0], files.journals[-1][0]
        target = self.run_dir / f"part-{lo:06d}-{hi:06d}.parquet"
        tmp = target.with_name(target.name + ".tmp")
        pq.write_table(records_to_table(list(records.values())), tmp, compression="zstd")
        _fsync_file(tmp)
        os.replace(tmp, target)
        _fsync_dir(self.run_dir)
        self._remove_unread()
        return True

    def _remove_unread(self) -> None:
        """Delete the files a part or ``items.parquet`` has replaced (stale journals,
        ``items.jsonl``), unless a reader holds a snapshot that may still name them: then they
        stay, are ignored by every scan, and go at the writer's next compaction or close."""
        files = scan_run_files(self.run_dir)
        garbage = list(files.stale_journals)
        if (self.run_dir / "items.parquet").is_file() and (self.run_dir / "items.jsonl").is_file():
            garbage.append(self.run_dir / "items.jsonl")
        if garbage:
            with ReadSnapshot.exclusive(self.run_dir) as free:
                if free:
                    for path in garbage:
                        path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if not self._lock_fh.closed:
            self._remove_unread()
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_items_jsonl(path: Path, items: list[Item]) -> None:
    lines = []
    for item in items:
        row = {
            "item_id": item.item_id,
            "source_id": item.source_id,
            "row": item.row,
            "input": canonical_json(item.input),
            "reference": None if item.reference is None else canonical_json(item.reference),
            "attributes": canonical_json(item.attributes),
        }
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    _atomic_write(path, "".join(lines))


def _items_to_parquet(src: Path, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tailgate.records import item_arrow_schema

    rows = [json.loads(line) for line in src.read_text("utf-8").splitlines() if line]
    schema = item_arrow_schema()
    table = pa.Table.from_pylist(rows, schema=schema)
    tmp = target.with_name(target.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    _fsync_file(tmp)
    os.replace(tmp, target)


def _write_manifest(run_dir: Path, manifest: Manifest) -> None:
    """The one place ``manifest.json`` is written, for runs and imports alike."""
    _atomic_write(run_dir / "manifest.json", json.dumps(manifest.as_dict(), indent=2, ensure_ascii=False))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return fh.read().count(b"\n")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with suppress(OSError):
        _fsync_file(path)


def _is_locked(lock_path: Path) -> bool:
    if not lock_path.exists():
        return False
    with lock_path.open("r") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False
