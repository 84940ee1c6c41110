"""Importing traffic: every format into one table, idempotent, resumable, bad lines named."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tailgate.errors import InputError
from tailgate.store import Store
from tailgate.traffic import TRAFFIC_COLUMNS, ReadOptions, TrafficTable, import_traffic
from tests.traffic.test_readers import BASE, otlp, span, write_otlp

DOCS = Path(__file__).resolve().parents[2] / "docs" / "traffic.md"


def line(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": f"2024-05-01T10:{i // 60:02d}:{i % 60:02d}Z",
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": f"Question number {i}: what is {i} + {i}?"}],
        "response": str(2 * i),
        "latency_ms": 100 + i,
        **extra,
    }


def jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def folder() -> Path:
    return Store().traffic_dir


def test_jsonl_import_and_the_table(tmp_path: Path) -> None:
    f = jsonl(tmp_path / "log.jsonl", [line(i) for i in range(5)])
    result = import_traffic(folder(), [str(f)])
    assert (result.requests, result.inserted, result.bad, result.table_rows) == (5, 5, 0, 5)
    table = TrafficTable(folder()).read()
    assert table.schema.names == [c.name for c in TRAFFIC_COLUMNS]
    rows = table.to_pylist()
    assert [r["response"] for r in rows] == ["0", "2", "4", "6", "8"]
    first = rows[0]
    assert (first["source"], first["source_line"], first["format"]) == (str(f), 1, "openai-jsonl")
    assert (first["lang"], first["turns"], first["has_numbers"], first["asks_json"], first["input_tokens"]) == (
        "en",
        1,
        True,
        False,
        "<100",
    )
    assert len({r["request_id"] for r in rows}) == 5


def test_the_same_line_twice_is_one_request_and_reimport_adds_nothing(tmp_path: Path) -> None:
    f = jsonl(tmp_path / "log.jsonl", [line(0), line(1), line(0)])
    first = import_traffic(folder(), [str(f)])
    assert (first.requests, first.inserted, first.files[0].duplicates) == (3, 2, 1)
    again = import_traffic(folder(), [str(f)])
    assert (again.inserted, again.files[0].lines, again.files[0].resumed_at) == (0, 0, 3)
    copy = tmp_path / "elsewhere.jsonl"
    copy.write_bytes(f.read_bytes())
    moved = import_traffic(folder(), [str(copy)])  # read again in full: every request is known
    assert (moved.requests, moved.inserted, moved.table_rows) == (3, 0, 2)


def test_a_growing_log_is_read_from_where_the_last_import_stopped(tmp_path: Path) -> None:
    f = jsonl(tmp_path / "log.jsonl", [line(i) for i in range(4)])
    import_traffic(folder(), [str(f)])
    with f.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line(4)) + "\n" + json.dumps(line(5)) + "\n")
    result = import_traffic(folder(), [str(f)])
    assert (result.files[0].resumed_at, result.files[0].lines, result.inserted, result.table_rows) == (4, 2, 2, 6)
    # a file rewritten with other content is read from its start again
    jsonl(f, [line(i) for i in range(10, 13)])
    result = import_traffic(folder(), [str(f)])
    assert (result.files[0].resumed_at, result.inserted, result.table_rows) == (None, 3, 9)


def test_bad_lines_are_counted_named_and_skipped(tmp_path: Path) -> None:
    f = tmp_path / "log.jsonl"
    rows = [
        json.dumps(line(0)),
        "{not json",
        json.dumps({"messages": [{"role": "user", "content": "no time"}]}),
        json.dumps(line(3, latency_ms="slow")),
        "",
        json.dumps(line(5)),
        json.dumps([1, 2]),
    ]
    data = ("\n".join(rows) + "\n").encode() + b'{"timestamp": 1, "prompt": "caf\xe9"}\n' + json.dumps(line(9)).encode()
    f.write_bytes(data + b"\n" + b'{"timestamp": 2, "prom')  # a torn last line: a writer still appending
    result = import_traffic(folder(), [str(f)])
    assert (result.requests, result.inserted, result.bad, result.files[0].skipped) == (3, 3, 6, 1)
    shown = [str(b) for b in result.bad_lines]
    assert shown[0].startswith(f"{f}:2: not valid JSON")
    assert shown[1].startswith(f"{f}:3: field 'timestamp': no timestamp")
    assert shown[2].startswith(f"{f}:4: field 'latency_ms': expected a number")
    assert shown[3] == f"{f}:7: expected a JSON object, got list"
    assert shown[4] == f"{f}:8: not valid UTF-8 (byte 32 of the line)"
    assert "incomplete last line" in shown[5]
    # the torn line is not marked as read: once complete, the next import takes it
    with f.open("ab") as fh:
        fh.write(b'pt": "late"}\n')
    again = import_traffic(folder(), [str(f)])
    assert (again.files[0].resumed_at, again.inserted, again.bad) == (9, 1, 0)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    result = import_traffic(folder(), [str(empty)])
    assert (result.requests, result.files[0].lines, result.table_rows) == (0, 0, 0)
    with pytest.raises(InputError, match=r"missing\.jsonl: file not found"):
        import_traffic(folder(), [str(tmp_path / "missing.jsonl")])


def test_csv_with_named_columns(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_text(
        "time,prompt,response,latency_ms,model,team\n"
        '2024-05-01T10:00:00Z,"Hello, world",Hi,12.5,m1,search\n'
        '2024-05-01T10:00:01Z,"two\nlines",ok,,m1,ads\n'
        "not a time,x,y,1,m1,ads\n"
        "2024-05-01T10:00:03Z,short row\n",
        encoding="utf-8",
    )
    result = import_traffic(folder(), [str(f)], options=ReadOptions(columns=("team",)))
    assert (result.requests, result.inserted, result.bad) == (2, 2, 2)
    assert [str(b) for b in result.bad_lines] == [
        f"{f}:5: field 'time': 'not a time' is not an ISO 8601 time or an epoch number",
        f"{f}:6: 2 fields, the header has 6",
    ]
    rows = TrafficTable(folder()).read().to_pylist()
    assert [(r["prompt"], r["latency_ms"], json.loads(r["columns"])) for r in rows] == [
        ("Hello, world", 12.5, {"team": "search"}),
        ("two\nlines", None, {"team": "ads"}),
    ]
    assert [r["source_line"] for r in rows] == [2, 3]
    again = import_traffic(folder(), [str(f)], options=ReadOptions(columns=("team",)))
    assert (again.inserted, again.files[0].resumed_at) == (0, 6)


def test_csv_not_utf8(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_bytes(b"timestamp,prompt\n2024-05-01T10:00:00Z,caf\xe9\n2024-05-01T10:00:00Z,ok\n")
    result = import_traffic(folder(), [str(f)])
    assert (result.inserted, [str(b) for b in result.bad_lines]) == (1, [f"{f}:2: field 'prompt': not valid UTF-8"])


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    f = tmp_path / "log.parquet"
    table = pa.table(
        {
            "timestamp": pa.array([1714557600_000_000, 1714557601_000_000, None], pa.timestamp("us", tz="UTC")),
            "messages": [json.dumps([{"role": "user", "content": "Hola, ¿qué tal?"}]), None, None],
            "prompt": [None, "Bonjour", "no time"],
            "completion_tokens": [3, None, 1],
            "tier": [1, 2, 3],
        }
    )
    pq.write_table(table, f)
    result = import_traffic(folder(), [str(f)], options=ReadOptions(columns=("tier",)))
    assert (result.inserted, [str(b)[len(str(f)) :] for b in result.bad_lines]) == (
        2,
        [
            ":3: field 'timestamp': no timestamp (looked for timestamp, time, created_at, start_time, created...; "
            "name yours with --field timestamp=KEY)"
        ],
    )
    rows = TrafficTable(folder()).read().to_pylist()
    assert [(r["input_text"], r["completion_tokens"], r["columns"], r["lang"]) for r in rows] == [
        ("Hola, ¿qué tal?", 3, '{"tier":1}', "es"),
        ("Bonjour", None, '{"tier":2}', "fr"),
    ]
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        import_traffic(folder(), [str(bad)])


def test_otel_jsonl_export_and_pretty_document(tmp_path: Path) -> None:
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hallo"}]}])
    spans = [span({**BASE, "gen_ai.input.messages": messages}, span_id=f"{i:016x}") for i in range(3)]
    export = write_otlp(tmp_path / "spans.jsonl", otlp(*spans[:2]), otlp(spans[2], span({"db.system": "postgresql"})))
    result = import_traffic(folder(), [str(export)])
    assert (result.files[0].format, result.files[0].lines, result.inserted, result.files[0].skipped) == (
        "otel",
        2,
        3,
        1,
    )
    pretty = write_otlp(
        tmp_path / "trace.json", otlp(span({**BASE, "gen_ai.input.messages": "[]"}), *spans), pretty=True
    )
    result = import_traffic(folder(), [str(pretty)])
    assert (result.files[0].format, result.requests, result.inserted, result.bad) == ("otel", 3, 0, 1)
    assert str(result.bad_lines[0]).startswith(f"{pretty}:1: field 'resourceSpans.0.scopeSpans.0.spans.0.gen_ai.input")


def test_the_same_request_from_two_formats_is_one_row(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", [{"timestamp": "2024-05-01T10:00:00Z", "prompt": "Hi", "response": "Hello"}])
    b = tmp_path / "b.csv"
    b.write_text("timestamp,prompt,response\n1714557600,Hi,Hello\n", encoding="utf-8")
    result = import_traffic(folder(), [str(a), str(b)])
    assert (result.requests, result.inserted, result.table_rows) == (2, 1, 1)


def test_batches_commit_as_they_go_and_a_kill_loses_nothing_committed(tmp_path: Path) -> None:
    f = jsonl(tmp_path / "log.jsonl", [line(i) for i in range(3000)])
    code = (
        "import sys; from pathlib import Path; from tailgate.traffic import import_traffic, _import;"
        "_import._PARALLEL_FROM = 10**9;"
        "import_traffic(Path(sys.argv[1]), [sys.argv[2]], batch_size=50, jobs=0)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder()), str(f)], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(TrafficTable(folder()).parts()) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    committed = TrafficTable(folder()).count()
    result = import_traffic(folder(), [str(f)], batch_size=500)
    assert result.table_rows == 3000
    assert result.inserted == 3000 - committed
    rows = TrafficTable(folder()).read(["request_id", "source_line"]).to_pylist()
    assert len({r["request_id"] for r in rows}) == 3000
    assert sorted(r["source_line"] for r in rows) == list(range(1, 3001))


def test_attributes_are_computed_by_workers_the_same_way(tmp_path: Path) -> None:
    from tailgate.traffic import _import

    rows = [line(i) for i in range(60)] + [
        line(100, messages=[{"role": "user", "content": "Écris une fonction.\n```python\ndef f(): pass\n```"}]),
        line(101, messages=[{"role": "user", "content": "Gib mir bitte die Antwort als JSON."}]),
    ]
    f = jsonl(tmp_path / "log.jsonl", rows)
    import_traffic(tmp_path / "serial", [str(f)], jobs=0)
    saved = _import._PARALLEL_FROM
    _import._PARALLEL_FROM = 1
    try:
        import_traffic(tmp_path / "parallel", [str(f)], jobs=2, batch_size=20)
    finally:
        _import._PARALLEL_FROM = saved
    columns = ["request_id", "lang", "names", "non_ascii", "has_numbers", "asks_json", "has_code", "turns"]
    serial = TrafficTable(tmp_path / "serial").read(columns).to_pylist()
    assert serial == TrafficTable(tmp_path / "parallel").read(columns).to_pylist()
    by_lang = {r["lang"]: r for r in serial}
    assert by_lang["fr"]["has_code"]
    assert by_lang["fr"]["non_ascii"]
    assert by_lang["de"]["asks_json"]
    assert not by_lang["de"]["has_code"]


def test_the_schema_is_documented() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    for column in TRAFFIC_COLUMNS:
        assert f"`{column.name}`" in doc, column.name


def test_worker_processes_parse_ranges_into_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tailgate.traffic import _import

    rows: list[Any] = [line(i) for i in range(400)]
    rows[7] = "{broken"
    rows[300] = rows[299]  # a duplicate across ranges
    f = jsonl(tmp_path / "log.jsonl", rows)
    with f.open("ab") as fh:
        fh.write(b'{"timestamp": 1, "prom')  # an incomplete last line, left to the serial reader
    serial = import_traffic(tmp_path / "serial", [str(f)])
    monkeypatch.setattr(_import, "_PARSE_FROM", 1)
    monkeypatch.setattr(_import, "_RANGE_BYTES", 4096)  # about 30 lines a range
    parallel = import_traffic(tmp_path / "parallel", [str(f)], jobs=2)
    assert serial.as_dict()["files"] == parallel.as_dict()["files"]
    assert [str(b) for b in serial.bad_lines] == [str(b) for b in parallel.bad_lines]
    assert (parallel.inserted, parallel.bad, parallel.files[0].duplicates) == (398, 2, 1)
    skip = {"imported_at", "source"}
    names = [c.name for c in TRAFFIC_COLUMNS if c.name not in skip]
    assert TrafficTable(tmp_path / "serial").read(names) == TrafficTable(tmp_path / "parallel").read(names)
    with f.open("ab") as fh:
        fh.write(b'pt": "now complete"}\n')
    again = import_traffic(tmp_path / "parallel", [str(f)], jobs=2)
    assert (again.files[0].resumed_at, again.inserted, again.bad) == (400, 1, 0)
