"""``tailgate import traffic``: production logs into the store's traffic table.

Each file is read line by line (the JSON parsing is orjson's), every request is normalised,
given its content ids and derived attributes, and committed in batches (:mod:`._table`). Bad
lines are counted and named (``file:line: field 'x': ...``) and skipped; nothing valid is
dropped. Resuming: for JSONL files the journal says how far a file was read; when the file still
starts with the same bytes (the same file, or the same log grown since), reading resumes there.
Any other re-import re-reads the file and stores nothing twice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import InputError
from tailgate.records import canonical_json, file_sha256
from tailgate.traffic._attributes import LanguageDetector, SharedAttributes, derive_text_attributes, token_bucket
from tailgate.traffic._fields import FieldError
from tailgate.traffic._openai import ReadOptions
from tailgate.traffic._schema import (
    TRAFFIC_COLUMNS,
    TRAFFIC_SCHEMA_VERSION,
    Request,
    request_keys,
    traffic_arrow_schema,
)
from tailgate.traffic._sources import detect_format, read_source
from tailgate.traffic._table import TrafficTable, stage

__all__ = ["BadLine", "FileImport", "TrafficImport", "import_traffic"]

MAX_BAD_LINES_KEPT = 1000
"""Bad lines kept (and shown) per import; all of them are counted."""
_ATTRIBUTE_CACHE = 200_000
_PARALLEL_FROM = 2000
"""New inputs in a batch from which their attributes are computed by worker processes."""

_WORKER_DETECTOR: LanguageDetector | None = None


_PARSE_FROM = 64 << 20
"""JSONL bytes left to read from which worker processes parse the file, a range each."""
_RANGE_BYTES = 48 << 20
_WORKER_IMPORTER: _Importer | None = None
_WORKER_SHARED: SharedAttributes | None = None


def _parse_range(
    folder: Path,
    path: str,
    fmt: str,
    options: ReadOptions,
    display: str,
    span: tuple[int, int, int, int],
    imported_at: int,
    shared: str,
) -> tuple[Path | None, Any, dict[str, int], list[BadLine]]:
    """In a worker process: the complete lines in bytes [start, stop) of a JSONL file, after
    ``line`` (``span``: start, stop, line, the range's index), made into new rows (attributes
    included, derived with the other workers through the ``shared`` file) and written as a staged
    part in ``folder``; returns its path (None without rows), its request ids, counts and bad
    lines. Writing the part here keeps its compression on the workers and the rows out of the
    pipe."""
    global _WORKER_IMPORTER, _WORKER_SHARED
    if _WORKER_IMPORTER is None or _WORKER_IMPORTER.options != options:
        _WORKER_IMPORTER = _Importer(TrafficTable(folder), options, 0, 0)  # (its table unused)
    if _WORKER_SHARED is None or _WORKER_SHARED.path != shared:
        _WORKER_SHARED = SharedAttributes(shared)
    importer = _WORKER_IMPORTER
    importer.bad_lines = []
    batch = _Batch()
    counts = {"lines": 0, "requests": 0, "bad": 0, "skipped": 0}
    start, stop, current, index = span
    for number, _, payload in read_source(Path(path), fmt, options, display, start, current, stop=stop):
        if number != current:
            counts["lines"] += 1
            current = number
        importer.consume(batch, counts, display, fmt, number, payload)
    extra = {"schema_version": TRAFFIC_SCHEMA_VERSION, "source": display, "format": fmt, "imported_at": imported_at}
    known = {k: importer.attributes[k] for k in batch.texts if k in importer.attributes}
    new = {k: text for k, text in batch.texts.items() if k not in known}
    table = importer._build(batch, known, _WORKER_SHARED.derive(new, importer.detect, reverse=index % 2 == 1), extra)
    staged = stage(table, folder, owner=os.getppid(), sync=False) if table.num_rows else None
    return staged, table["request_id"], counts, importer.bad_lines


def _derive_chunk(items: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """In a worker process: the text attributes of (input id, text) pairs."""
    global _WORKER_DETECTOR
    if _WORKER_DETECTOR is None:
        _WORKER_DETECTOR = LanguageDetector()
    return {key: derive_text_attributes(text, _WORKER_DETECTOR) for key, text in items}


@dataclass(frozen=True)
class BadLine:
    """A line that is not a valid request, and why."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        return f"{where}: " + (f"field '{self.field}': " if self.field else "") + self.message


@dataclass(frozen=True)
class FileImport:
    """What one file gave."""

    file: str
    format: str
    lines: int
    """Lines (rows) read in this import (after the resume point)."""
    requests: int
    """Valid requests read."""
    inserted: int
    """Requests new to the table."""
    bad: int
    skipped: int
    """Lines that are not requests: blank lines, OTel spans that are not GenAI inference."""
    resumed_at: int | None = None
    """The line after which reading resumed (it had been imported before), or None."""

    @property
    def duplicates(self) -> int:
        return self.requests - self.inserted


@dataclass(frozen=True)
class TrafficImport:
    """The result of one ``import_traffic`` call."""

    files: tuple[FileImport, ...]
    bad_lines: tuple[BadLine, ...]
    """The first :data:`MAX_BAD_LINES_KEPT` bad lines."""
    table_rows: int
    seconds: float

    @property
    def requests(self) -> int:
        return sum(f.requests for f in self.files)

    @property
    def inserted(self) -> int:
        return sum(f.inserted for f in self.files)

    @property
    def bad(self) -> int:
        return sum(f.bad for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [
                {
                    "file": f.file,
                    "format": f.format,
                    "lines": f.lines,
                    "requests": f.requests,
                    "inserted": f.inserted,
                    "duplicates": f.duplicates,
                    "bad": f.bad,
                    "skipped": f.skipped,
                    "resumed_at": f.resumed_at,
                }
                for f in self.files
            ],
            "requests": self.requests,
            "inserted": self.inserted,
            "bad": self.bad,
            "bad_lines": [
                {"file": b.file, "line": b.line, "field": b.field, "message": b.message} for b in self.bad_lines
            ],
            "table_rows": self.table_rows,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Batch:
    """Columns of the rows read since the last commit."""

    columns: dict[str, list[Any]] = field(default_factory=lambda: {c.name: [] for c in TRAFFIC_COLUMNS})
    ids: set[str] = field(default_factory=set)
    texts: dict[str, str] = field(default_factory=dict)
    """Input id -> input text, for the attributes."""

    def __len__(self) -> int:
        return len(self.ids)


def _jsonable(value: Any) -> Any:
    try:
        canonical_json(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _json_text(value: Any) -> str:
    """Canonical JSON text (orjson's, the same bytes for these values; see records.fast_content_hash)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return canonical_json(value)


class _Importer:
    def __init__(self, table: TrafficTable, options: ReadOptions, batch_size: int, jobs: int) -> None:
        self.table = table
        self.options = options
        self.batch_size = batch_size
        self.jobs = jobs
        self.detect = LanguageDetector()
        self.attributes: dict[str, dict[str, Any]] = {}
        self.bad_lines: list[BadLine] = []
        self.schema = traffic_arrow_schema()
        self.imported_at = int(time.time() * 1e6)
        # Parquet writing and DuckDB release the GIL: a batch is finished (attributes, Arrow,
        # Parquet) on a second thread while the next one is parsed; the attributes of new inputs
        # are computed by worker processes when there are many (fastText and regexes hold the GIL)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tailgate-traffic-commit")
        self._workers: ProcessPoolExecutor | None = None
        self._pending: Future[int] | None = None
        self._shared: str | None = None
        """A folder for the workers' shared attributes (:class:`SharedAttributes`), once made."""

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._workers is not None:
            self._workers.shutdown(wait=True, cancel_futures=True)
        if self._shared is not None:
            shutil.rmtree(self._shared, ignore_errors=True)

    def _add(self, batch: _Batch, request: Request, display: str, line: int, fmt: str) -> bool:
        if request.columns:
            request.columns = {k: _jsonable(v) for k, v in request.columns.items()}
        rid, key, messages = request_keys(request)
        if rid in batch.ids:
            return False
        text = request.input_text()
        if key not in batch.texts:
            batch.texts[key] = text
        tokens = request.prompt_tokens if request.prompt_tokens is not None else len(text) / 4.0
        columns = batch.columns
        columns["request_id"].append(rid)
        columns["input_id"].append(key)
        columns["timestamp"].append(request.timestamp_us)
        columns["log_id"].append(request.log_id)
        columns["model"].append(request.model)
        columns["messages"].append(messages)
        columns["prompt"].append(request.prompt)
        columns["input_text"].append(text)
        columns["response"].append(request.response)
        columns["status"].append(request.status)
        columns["is_error"].append(request.is_error)
        columns["latency_ms"].append(request.latency_ms)
        columns["prompt_tokens"].append(request.prompt_tokens)
        columns["completion_tokens"].append(request.completion_tokens)
        columns["finish_reason"].append(request.finish_reason)
        columns["columns"].append(_json_text(request.columns))
        columns["input_tokens"].append(token_bucket(tokens))
        columns["turns"].append(request.turns())
        columns["source_line"].append(line)
        batch.ids.add(rid)
        return True

    def _derive(self, texts: dict[str, str]) -> Future[dict[str, dict[str, Any]]] | dict[str, dict[str, Any]]:
        """The text attributes of new inputs: computed later on the commit thread when few, else
        by the worker processes (started on first use)."""
        if self.jobs < 1 or len(texts) < _PARALLEL_FROM:
            return {}
        workers = self._pool_of_workers()
        items = list(texts.items())
        size = -(-len(items) // self.jobs)
        try:
            chunks = [workers.submit(_derive_chunk, items[i : i + size]) for i in range(0, len(items), size)]
        except BrokenProcessPool:
            self.jobs = 0
            return {}
        merged: Future[dict[str, dict[str, Any]]] = Future()

        def gather(_: Any) -> None:
            if all(c.done() for c in chunks) and not merged.done():
                try:
                    merged.set_result({k: v for c in chunks for k, v in c.result().items()})
                except BaseException as exc:
                    merged.set_exception(exc)

        for chunk in chunks:
            chunk.add_done_callback(gather)
        return merged

    def _pool_of_workers(self) -> ProcessPoolExecutor:
        if self._workers is None:
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # no fork under DuckDB's and our threads
            self._workers = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)
        return self._workers

    def _parallel(
        self, path: Path, display: str, fmt: str, writer: Any, start: tuple[int, int], prefix: Any, out: dict[str, Any]
    ) -> tuple[int, int]:
        """Parse the complete lines from ``start`` (offset, line) in worker processes, a byte range
        each, and commit their tables in file order; returns where the serial reader goes on."""
        workers = self._pool_of_workers()
        if self._shared is None:
            self._shared = tempfile.mkdtemp(prefix="tailgate-attributes-")
            SharedAttributes(os.path.join(self._shared, "attributes.sqlite")).close()  # created once, WAL
        shared = os.path.join(self._shared, "attributes.sqlite")
        offset, line = start
        index = 0
        pending: deque[tuple[Future[Any], int, int, str]] = deque()
        with path.open("rb") as fh:
            fh.seek(offset)
            carry = b""
            while block := fh.read(_RANGE_BYTES):
                data = carry + block
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                if not cut:
                    continue
                prefix.update(memoryview(data)[:cut])
                span, index = (offset, offset + cut, line, index), index + 1
                args = (self.table.folder, str(path), fmt, self.options, display, span, self.imported_at, shared)
                offset, line = offset + cut, line + data.count(b"\n", 0, cut)
                pending.append((workers.submit(_parse_range, *args), offset, line, prefix.hexdigest()))
                while len(pending) > self.jobs + 1:
                    self._collect(pending.popleft(), display, fmt, path, writer, out)
        while pending:
            self._collect(pending.popleft(), display, fmt, path, writer, out)
        return offset, line

    def _collect(
        self,
        item: tuple[Future[Any], int, int, str],
        display: str,
        fmt: str,
        path: Path,
        writer: Any,
        out: dict[str, Any],
    ) -> None:
        future, offset, line, digest = item
        staged, ids, counts, bad_lines = future.result()
        for name, value in counts.items():
            out["counts"][name] += value
        self.bad_lines.extend(bad_lines[: max(0, MAX_BAD_LINES_KEPT - len(self.bad_lines))])
        entry = {"file": display, "path": str(path.resolve()), "format": fmt, "line": line, "rows": len(ids)}
        entry.update(at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), offset=offset, prefix_sha256=digest)
        if self._pending is not None:
            self._pending.result()
        self._pending = self._pool.submit(writer.commit_staged, staged, ids, entry)
        out["commits"].append(self._pending)

    def _finish(
        self,
        batch: _Batch,
        known: dict[str, dict[str, Any]],
        derived: Any,
        writer: Any,
        extra: dict[str, Any],
        entry: dict[str, Any],
    ) -> int:
        """On the commit thread: attributes filled in, the Arrow table built and committed."""
        return int(writer.commit(self._build(batch, known, derived, extra), entry))

    def _build(self, batch: _Batch, known: dict[str, dict[str, Any]], derived: Any, extra: dict[str, Any]) -> Any:
        """The batch as an Arrow table, its attributes filled in (computed here when not given)."""
        import pyarrow as pa

        try:
            found = derived.result() if isinstance(derived, Future) else derived
        except BrokenProcessPool:  # a worker could not start or died: the attributes are computed here
            self.jobs, found = 0, {}
        for key, text in batch.texts.items():
            if key not in known and key not in found:
                found[key] = derive_text_attributes(text, self.detect)
        if len(self.attributes) + len(found) > _ATTRIBUTE_CACHE:
            self.attributes = {}
        self.attributes.update(found)
        attributes = {**known, **found}
        rows = [attributes[key] for key in batch.columns["input_id"]]
        for name in ("lang", "names", "non_ascii", "has_numbers", "asks_json", "has_code"):
            batch.columns[name] = [row[name] for row in rows]
        n = len(batch.columns["request_id"])
        arrays = []
        for f in self.schema:
            values = batch.columns[f.name]
            if len(values) != n:  # the same for the whole batch
                values = [extra[f.name]] * n
            if f.name == "messages":  # UTF-8 bytes already: checked, not decoded and encoded again
                arrays.append(pa.array(values, pa.binary()).cast(f.type))
            else:
                arrays.append(pa.array(values, f.type))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def consume(self, batch: _Batch, counts: dict[str, int], display: str, fmt: str, line: int, payload: Any) -> None:
        """Count one payload, keep a bad line, add a request to the batch."""
        if payload is None:
            counts["skipped"] += 1
        elif isinstance(payload, FieldError):
            counts["bad"] += 1
            if len(self.bad_lines) < MAX_BAD_LINES_KEPT:
                self.bad_lines.append(BadLine(display, line, payload.field, payload.message))
        else:
            counts["requests"] += 1
            self._add(batch, payload, display, line, fmt)

    def _resume_point(self, path: Path) -> tuple[int, int, Any]:
        """(offset, line, hasher of the prefix) to resume a JSONL file from."""
        digest = hashlib.sha256()
        size = path.stat().st_size
        resolved = str(path.resolve())
        candidates = sorted(
            (e for e in self.table.journal() if e.get("path") == resolved and 0 < e.get("offset", 0) <= size),
            key=lambda e: e["offset"],
            reverse=True,
        )
        for entry in candidates:
            probe = hashlib.sha256()
            with path.open("rb") as fh:
                remaining = entry["offset"]
                while remaining and (block := fh.read(min(remaining, 1 << 22))):
                    probe.update(block)
                    remaining -= len(block)
            if probe.hexdigest() == entry.get("prefix_sha256"):
                return int(entry["offset"]), int(entry["line"]), probe
        return 0, 0, digest

    def import_file(self, display: str, fmt: str, writer: Any) -> FileImport:
        path = Path(display)
        if not path.is_file():
            raise InputError("file not found" if not path.exists() else "not a file", file=display)
        fmt = detect_format(path, display) if fmt == "auto" else fmt
        resumable = fmt in ("openai-jsonl", "otel")
        digest = None if resumable else file_sha256(path)
        if digest is not None and (done := self._done_before(digest)) is not None:
            return FileImport(display, fmt, 0, 0, 0, 0, 0, resumed_at=done)
        offset, start_line, prefix = self._resume_point(path) if resumable else (0, 0, None)
        counts = {"lines": 0, "requests": 0, "bad": 0, "skipped": 0}
        commits: list[Future[int]] = []
        resumed_at = start_line or None
        if fmt == "openai-jsonl" and self.jobs > 0 and path.stat().st_size - offset >= _PARSE_FROM:
            try:
                offset, start_line = self._parallel(
                    path, display, fmt, writer, (offset, start_line), prefix, {"counts": counts, "commits": commits}
                )
            except BrokenProcessPool:  # workers could not start: read it here (what was committed stays)
                self.jobs = 0
                return self.import_file(display, fmt, writer)
        batch = _Batch()
        # a batch is committed only between lines (an OTel line holds many spans), and the journal
        # records the end of the last line read whole
        current, done_line, hashed = start_line, start_line, offset
        current_end: int | None = offset
        with path.open("rb") as raw:
            for line, end, payload in read_source(path, fmt, self.options, display, offset, start_line):
                if line != current:
                    if current_end is not None or not resumable:
                        offset, done_line = current_end or 0, current
                    if len(batch) >= self.batch_size:
                        hashed = self._hash_to(raw, prefix, hashed, offset)
                        commits.append(self._commit(writer, batch, display, path, fmt, offset, done_line, prefix))
                        batch = _Batch()
                    counts["lines"] += 1
                    current = line
                current_end = end
                self.consume(batch, counts, display, fmt, line, payload)
            if current_end is not None or not resumable:
                offset, done_line = current_end or 0, current
            self._hash_to(raw, prefix, hashed, offset)
            commits.append(self._commit(writer, batch, display, path, fmt, offset, done_line, prefix, digest))
        return FileImport(
            display,
            fmt,
            counts["lines"],
            counts["requests"],
            sum(c.result() for c in commits),
            counts["bad"],
            counts["skipped"],
            resumed_at=resumed_at,
        )

    @staticmethod
    def _hash_to(raw: Any, prefix: Any, hashed: int, offset: int) -> int:
        """Extend the running hash of the file's prefix up to ``offset``."""
        if prefix is None:
            return offset
        raw.seek(hashed)
        remaining = offset - hashed
        while remaining > 0 and (block := raw.read(min(remaining, 1 << 22))):
            prefix.update(block)
            remaining -= len(block)
        return offset

    def _done_before(self, digest: str) -> int | None:
        """For CSV/Parquet (no resume by offset): the rows of an identical file imported in full."""
        for entry in self.table.journal():
            if entry.get("sha256") == digest and entry.get("complete"):
                return int(entry["line"])
        return None

    def _commit(
        self,
        writer: Any,
        batch: _Batch,
        display: str,
        path: Path,
        fmt: str,
        offset: int,
        line: int,
        prefix: Any,
        digest: str | None = None,
    ) -> Future[int]:
        entry: dict[str, Any] = {
            "file": display,
            "path": str(path.resolve()),
            "format": fmt,
            "line": line,
            "rows": len(batch),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if prefix is not None:
            entry.update(offset=offset, prefix_sha256=prefix.hexdigest())
        if digest is not None:
            entry.update(sha256=digest, complete=True)
        known = {k: self.attributes[k] for k in batch.texts if k in self.attributes}
        derived = self._derive({k: t for k, t in batch.texts.items() if k not in known})
        extra = {"schema_version": TRAFFIC_SCHEMA_VERSION, "source": display, "format": fmt}
        extra["imported_at"] = self.imported_at
        if self._pending is not None:  # one batch finished while the next is parsed, no more
            self._pending.result()
        self._pending = self._pool.submit(self._finish, batch, known, derived, writer, extra, entry)
        return self._pending


def import_traffic(
    folder: Path,
    files: Sequence[str],
    *,
    fmt: str = "auto",
    options: ReadOptions | None = None,
    batch_size: int = 50_000,
    jobs: int = 0,
    progress: Callable[[FileImport], None] | None = None,
) -> TrafficImport:
    """Import log files into the traffic table in ``folder`` (``STORE/traffic``).

    Args:
        folder: the table's folder (:attr:`tailgate.store.Store.traffic_dir`).
        files: log files, read in order.
        fmt: ``auto`` (from the name, and for JSON the content), ``openai-jsonl``, ``otel``,
            ``csv`` or ``parquet``.
        options: field names, user-declared columns, latency unit.
        batch_size: requests per committed part (and per resume point).
        jobs: worker processes (0, the default: none; the command uses one per core). They
            parse a large JSONL file a byte range each (64 MB or more left to read), else compute
            the attributes of new inputs. Workers are spawned, so a script that passes ``jobs``
            must guard its entry point (``if __name__ == "__main__":``), as with any
            multiprocessing.
        progress: called with each file's result as it finishes.

    Example:
        >>> result = import_traffic(Path(".tailgate/traffic"), ["requests.jsonl"])  # doctest: +SKIP
        >>> result.inserted, result.bad
        (1000, 2)
    """
    started = time.perf_counter()
    table = TrafficTable(folder)
    importer = _Importer(table, options or ReadOptions(), batch_size, jobs)
    results = []
    try:
        with table.writer() as writer:
            for display in files:
                result = importer.import_file(display, fmt, writer)
                results.append(result)
                if progress is not None:
                    progress(result)
    finally:
        importer.close()
    return TrafficImport(tuple(results), tuple(importer.bad_lines), table.count(), time.perf_counter() - started)
