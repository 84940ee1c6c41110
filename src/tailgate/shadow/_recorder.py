"""The shadow session's writer: one thread of the mirror worker process that owns every run
writer and the traffic table.

Disk work never runs on an event loop: the worker's mirror loop hands finished calls to this
thread through a queue (and the proxy's own process never touches the store). Records follow the
store's journal rules (one ``write`` per record, flushed to the OS before the next; fsync when a
writer closes, as the runner does), so a ``kill -9`` loses only what was still in flight. Items
are appended to ``items.jsonl`` (one ``write`` per item, before its first record). Traffic rows
go first to a spool file in the primary run's folder (one ``write`` each) and are committed to the
traffic table in batches (5,000 rows or 30 s); a spool left by a killed session is committed when
the same run id is opened again (the table drops rows it already holds, by request id).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import StoreError
from tailgate.records import (
    DatasetInfo,
    Item,
    LanguageDetector,
    Manifest,
    ModelInfo,
    Plan,
    SuiteInfo,
    canonical_json,
    derive_request_attributes,
)
from tailgate.shadow._records import Call, Captured, build_record, input_text, item_for, scrubbed, traffic_request
from tailgate.store import RunWriter, Store, utc_now
from tailgate.traffic import TRAFFIC_SCHEMA_VERSION, Request, TrafficTable, traffic_arrow_schema

__all__ = ["Recorder", "RunTarget", "run_ids"]

log = logging.getLogger("tailgate.shadow")

_TRAFFIC_BATCH = 5_000
_TRAFFIC_EVERY_S = 30.0
_SPOOL = "traffic-spool.jsonl"
_BACKLOG = 50_000


@dataclass(frozen=True)
class RunTarget:
    """One of a session's runs: its role (``primary``, ``candidate``, ``candidate-2``,
    ``noise``), the model label its records carry and the upstream's URL (no credentials)."""

    role: str
    label: str
    url: str


def run_ids(session: str, roles: list[str]) -> dict[str, str]:
    """role -> run id (``SESSION-primary``, ``SESSION-candidate``, ...)."""
    return {role: f"{session}-{role}" for role in roles}


class Recorder:
    """Writes a shadow session's runs and traffic rows on its own thread."""

    def __init__(self, store: Store, session: str, targets: list[RunTarget], settings: dict[str, Any]) -> None:
        self.store = store
        self.session = session
        self.targets = {t.role: t for t in targets}
        self.settings = settings
        self.runs = run_ids(session, list(self.targets))
        self._writers: dict[str, RunWriter] = {}
        self._items: dict[str, set[str]] = {}
        self._samples: dict[str, set[str]] = {}
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._detect = LanguageDetector()
        self._traffic: list[Request] = []
        self._traffic_since = 0.0
        self._table_writer: Any = None
        self._spool: Any = None
        self._line = 0
        self.started_at = utc_now()
        self.records = dict.fromkeys(self.targets, 0)
        self.errors = dict.fromkeys(self.targets, 0)
        self.traffic_rows = 0
        self.traffic_dropped = 0
        self.write_errors = 0
        self.on_error: Callable[[str], None] | None = None
        self._abandoned = False

    # -- lifecycle (the caller's thread) ----------------------------------------------------------

    def open(self) -> set[str]:
        """Create the runs, or take them over to append (same session id); returns the request
        keys already recorded in the primary run (a repeated request is recorded once)."""
        try:
            for role, run_id in self.runs.items():
                self._writers[role] = self._open_run(role, run_id)
            self._open_spool()
        except BaseException:  # a run locked by another proxy: release the ones taken
            for writer in self._writers.values():
                writer.close()
            self._writers = {}
            raise
        self._thread = threading.Thread(target=self._loop, name="tailgate-shadow-writer", daemon=True)
        self._thread.start()
        return set(self._items.get("primary", set()))

    def _open_run(self, role: str, run_id: str) -> RunWriter:
        if not self.store.exists(run_id):
            self._items[role], self._samples[role] = set(), set()
            return self.store.create_run(run_id, self._manifest(role), [])
        writer = self.store.open_run(run_id)
        try:
            manifest = writer.manifest()
            if "shadow" not in manifest.extra:
                raise StoreError(f"run '{run_id}' exists and is not a shadow run: choose another --run-id")
            _repair_items(writer.run_dir / "items.jsonl")
            self._items[role] = {row["item_id"] for row in self.store.read_items(run_id)}
            self._samples[role] = set(self.store.sample_status(run_id))
            writer.write_manifest(manifest.updated(status="running"))
        except BaseException:
            writer.close()
            raise
        return writer

    def close(self, session: dict[str, Any], status: str = "completed") -> None:
        """Flush everything, write the manifests (``status``, the session's counters), release."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._flush_traffic()
        if self._spool is not None:
            self._spool.close()
        if self._table_writer is not None:
            self._table_writer.close()
            self._table_writer = None
        ended = utc_now()
        for role, writer in self._writers.items():
            manifest = writer.manifest()
            entry = {
                "started_at": self.started_at,
                "ended_at": ended,
                **session,
                "status": status,
                "records": self.records[role],
            }
            samples = self._samples[role]
            writer.write_manifest(
                manifest.updated(
                    status=status,
                    ended_at=ended,
                    sessions=[*manifest.sessions, entry],
                    plan=Plan(items=len(self._items[role]), variants=1, repeats=1, samples=len(samples)),
                    counts=self._counts(role),
                    dataset=dataclasses.replace(manifest.dataset, items=len(self._items[role])),
                )
            )
            writer.close()
        self._writers = {}

    def abandon(self, timeout: float) -> bool:
        """The proxy is gone (killed): write what is queued (for at most ``timeout`` seconds; traffic
        rows only to the spool, committed when the session is opened again), then release the runs
        without touching their manifests, which then read ``interrupted`` as after a kill -9.
        Returns whether everything queued was written (else the caller exits: the kernel releases
        the locks, and a torn last line is what the journal rules already allow)."""
        self._abandoned = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
            self._thread = None
        if self._spool is not None:
            self._spool.close()
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
        return True

    def _counts(self, role: str) -> dict[str, int]:
        states = self.store.sample_status(self.runs[role])
        return {"planned": len(states), "done": len(states), "errors": sum(not ok for ok in states.values())}

    def _manifest(self, role: str) -> Manifest:
        from tailgate._version import __version__

        target = self.targets[role]
        shadow = {"session": self.session, "role": role, "runs": self.runs, **self.settings}
        return Manifest(
            run_id=self.runs[role],
            suite=SuiteInfo(name="shadow", path=f"shadow:{self.session}"),
            dataset=DatasetInfo(path=f"shadow:{self.session}"),
            model=ModelInfo.from_dict({"spec": target.label, "url": target.url, "role": role}),
            status="running",
            mode="shadow",
            repeats=1,
            variants=("shadow",),
            tailgate_version=__version__,
            started_at=self.started_at,
            extra={"shadow": shadow},
        )

    # -- submitting (the mirror loop's thread) ----------------------------------------------------

    def record(
        self,
        key: str,
        mode: str,
        body: dict[str, Any],
        captured: Captured,
        calls: dict[str, Call],
        columns: dict[str, Any],
    ) -> None:
        """Queue the records of one mirrored request (role -> call) and its traffic row."""
        self._queue.put(("record", (key, mode, body, captured, calls, columns)))

    def traffic(self, mode: str, body: dict[str, Any], captured: Captured, columns: dict[str, Any]) -> None:
        """Queue the traffic row of a proxied request that was not mirrored (dropped, and counted,
        when the writer is :data:`_BACKLOG` operations behind: memory stays bounded)."""
        if self._queue.qsize() >= _BACKLOG:
            self.traffic_dropped += 1
            return
        self._queue.put(("traffic", (mode, body, captured, columns)))

    def pending(self) -> int:
        return self._queue.qsize()

    # -- the writer thread ------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            try:
                op = self._queue.get(timeout=0.5)
            except queue.Empty:
                op = ("tick", None)
            if op is None:
                return
            try:
                if op[0] == "record":
                    self._write_records(*op[1])
                elif op[0] == "traffic":
                    self._add_traffic(*op[1])
                if (
                    self._traffic
                    and not self._abandoned
                    and (
                        len(self._traffic) >= _TRAFFIC_BATCH
                        or time.monotonic() - self._traffic_since > _TRAFFIC_EVERY_S
                    )
                ):
                    self._flush_traffic()
            except Exception as exc:  # a full disk must not stop the proxy: counted and said
                self.write_errors += 1
                log.error("shadow: could not write (%s: %s)", type(exc).__name__, exc)
                if self.on_error is not None:
                    self.on_error(type(exc).__name__)

    def _attributes(self, mode: str, body: dict[str, Any], tokens: int | None) -> dict[str, Any]:
        text = input_text(mode, body)
        messages = body.get("messages") if mode == "chat" else None
        turns = max(1, sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "user")) if messages else 1
        return _derive(text, tokens, turns, self._detect)

    def _write_records(
        self, key: str, mode: str, body: dict[str, Any], captured: Captured, calls: dict[str, Call], columns: Any
    ) -> None:
        secrets = tuple(s for s in (captured.secret,) if s)
        body = scrubbed(body, secrets)
        primary = calls["primary"].outcome
        attributes = self._attributes(mode, body, primary.tokens_in)
        item = item_for(key, captured.path, mode, body, attributes)
        for role, call in calls.items():
            writer = self._writers[role]
            record = build_record(self.runs[role], key, mode, body, call, secrets)
            if record["sample_id"] in self._samples[role]:
                continue  # recorded by an earlier request with the same key
            if key not in self._items[role]:
                _append_item(writer.run_dir / "items.jsonl", item)
                self._items[role].add(key)
            writer.append(record)
            self._samples[role].add(record["sample_id"])
            self.records[role] += 1
            self.errors[role] += record["error_class"] is not None
        if self.settings.get("traffic_rows", "all") != "none":
            self._add_traffic(mode, body, captured, columns)

    def _add_traffic(self, mode: str, body: dict[str, Any], captured: Captured, columns: dict[str, Any]) -> None:
        from tailgate.shadow._parse import Outcome, parse_response

        if captured.error is not None:
            outcome = Outcome.fault("connection", captured.error)
        else:
            outcome = parse_response(mode, captured.status, captured.response, encoding=captured.encoding)
        secrets = tuple(s for s in (captured.secret,) if s)
        outcome = dataclasses.replace(outcome, output=scrubbed(outcome.output, secrets))
        request = traffic_request(mode, scrubbed(body, secrets), captured, outcome, columns)
        self._spool_row(request)
        if not self._traffic:
            self._traffic_since = time.monotonic()
        self._traffic.append(request)

    def _open_spool(self) -> None:
        path = self._writers["primary"].run_dir / _SPOOL
        if path.is_file():  # a killed session's rows: committed now (rows already there are dropped)
            for raw in path.read_bytes().split(b"\n"):
                try:
                    data = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue  # a torn last line, or the empty tail
                self._traffic.append(Request(**data))
            self._flush_traffic(truncate=False)
        self._spool = path.open("wb", buffering=0)

    def _spool_row(self, request: Request) -> None:
        if self._spool is not None:
            self._spool.write(orjson.dumps(dataclasses.asdict(request)) + b"\n")

    def _flush_traffic(self, *, truncate: bool = True) -> None:
        if not self._traffic:
            return
        rows, self._traffic = self._traffic, []
        table = self._traffic_table(rows)
        entry = {
            "file": f"shadow:{self.session}",
            "path": f"shadow:{self.session}",
            "format": "shadow",
            "line": self._line,
            "rows": len(rows),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if self._table_writer is None:  # one for the session: it remembers the parts it has read
            self._table_writer = TrafficTable(self.store.traffic_dir).writer()
        self._table_writer.commit(table, entry)
        self.traffic_rows += len(rows)
        if truncate and self._spool is not None:
            self._spool.truncate(0)
            self._spool.seek(0)

    def _traffic_table(self, rows: list[Request]) -> Any:
        import pyarrow as pa

        schema = traffic_arrow_schema()
        now = int(time.time() * 1e6)
        columns: dict[str, list[Any]] = {f.name: [] for f in schema}
        seen: set[str] = set()
        for request in rows:
            rid = request.request_id()
            if rid in seen:
                continue
            seen.add(rid)
            self._line += 1
            text = request.input_text()
            attrs = _derive(text, request.prompt_tokens, request.turns(), self._detect)
            from tailgate.traffic import input_id

            values = {
                "schema_version": TRAFFIC_SCHEMA_VERSION,
                "request_id": rid,
                "input_id": input_id(request),
                "timestamp": request.timestamp_us,
                "messages": None if request.messages is None else canonical_json(request.messages),
                "input_text": text,
                "columns": canonical_json(request.columns),
                "source": f"shadow:{self.session}",
                "source_line": self._line,
                "format": "shadow",
                "imported_at": now,
                **attrs,
            }
            for name, column in columns.items():
                column.append(values[name] if name in values else getattr(request, name))
        return pa.Table.from_arrays([pa.array(columns[f.name], f.type) for f in schema], schema=schema)


_DERIVE_CHARS = 65_536


def _derive(text: str, tokens: int | None, turns: int, detect: LanguageDetector) -> dict[str, Any]:
    """The traffic attributes, of the input's first 64 Ki characters (the token bucket of all of
    it): the derivation's regexes hold the interpreter lock for their whole run, and on an 8 MiB
    prompt that is half a second the proxy's event loop would wait for."""
    if len(text) > _DERIVE_CHARS:
        tokens = tokens if tokens is not None else round(len(text) / 4.0)
        text = text[:_DERIVE_CHARS]
    return derive_request_attributes(text, tokens, turns, detect)


def _append_item(path: Path, item: Item) -> None:
    """One item line, in one ``write`` (the store's items.jsonl columns)."""
    row = {
        "item_id": item.item_id,
        "source_id": None,
        "row": 0,
        "input": canonical_json(item.input),
        "reference": None,
        "attributes": canonical_json(item.attributes),
    }
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, orjson.dumps(row) + b"\n")
    finally:
        os.close(fd)


def _repair_items(path: Path) -> None:
    """Cut a torn last line (a killed session's) so the next item starts on a line of its own."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
