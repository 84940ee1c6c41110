"""Readers see a consistent snapshot while a writer appends and compacts (issue 10, item 9).

Before the reader lock, ``tailgate report`` failed in 19 of 21 attempts that overlapped a
compaction: DuckDB's views named a journal that the compaction had just deleted.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tailgate.analysis import ReportOptions, build_report, load_run
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store, export_run, scan_run_files
from tests.support.suites import make_suite


def _finished_run(tmp_path: Path) -> tuple[Store, str]:
    items = [{"id": f"q{i}", "question": f"What is {i}+0?", "answer": i, "task": "math"} for i in range(40)]
    suite = make_suite(tmp_path / "suite", items, repeats=2, scorers=[{"type": "numeric"}])
    store = Store(tmp_path / "store")
    result = run_sync(RunOptions(suite=str(suite), model="fake:echo", store=str(store.root), cache=False))
    return store, result.run_id


def test_readers_never_fail_while_a_writer_compacts(tmp_path: Path) -> None:
    store, run_id = _finished_run(tmp_path)
    records = store.read_records(run_id).to_pylist()
    stop = threading.Event()
    compactions = 0

    def write() -> None:
        nonlocal compactions
        with store.open_run(run_id) as writer:
            while not stop.is_set() and compactions < 40:  # bounded: every compaction adds a part
                for rec in records[:20]:  # the same samples again: the last written wins
                    writer.append(rec)
                writer.compact()
                compactions += 1
                stop.wait(0.02)

    failures: list[str] = []
    reads = 0
    writer = threading.Thread(target=write)
    writer.start()
    try:
        options = ReportOptions(bootstrap=200)
        for i in range(200):
            try:
                if i % 5 == 0:
                    report = build_report(store, run_id, options)
                    assert report.overview.n_samples == len(records)
                elif i % 5 in (1, 2):
                    data = load_run(store, run_id)
                    try:
                        assert data.query("SELECT count(*) AS n FROM records")["n"][0] == len(records)
                    finally:
                        data.close()
                else:
                    assert store.read_records(run_id).num_rows == len(records)
                    assert len(store.sample_status(run_id)) == len(records)
                    export_run(store, run_id, "jsonl", str(tmp_path / f"out-{i}.jsonl"))
                reads += 1
            except Exception as exc:  # every kind of failure counts
                failures.append(f"read {i}: {type(exc).__name__}: {exc}")
    finally:
        stop.set()
        writer.join()
    assert compactions > 10, "the writer must really have compacted while we read"
    assert failures == [], failures[:3]
    assert reads == 200
    # Files a reader still needed when the writer closed go with the next writer session.
    with store.open_run(run_id):
        pass
    files = scan_run_files(store.run_dir(run_id))
    assert files.stale_journals == []
    assert not (store.run_dir(run_id) / "items.jsonl").exists()


def test_stale_files_kept_while_a_snapshot_is_held(tmp_path: Path) -> None:
    store, run_id = _finished_run(tmp_path)
    data = load_run(store, run_id)  # holds the snapshot: its views name items.jsonl and the journal
    try:
        with store.open_run(run_id) as writer:
            writer.compact()
        run_dir = store.run_dir(run_id)
        assert scan_run_files(run_dir).stale_journals, "the journal the view names must survive the compaction"
        assert data.query("SELECT count(*) AS n FROM records")["n"][0] > 0
        assert data.query("SELECT count(*) AS n FROM items")["n"][0] == 40
    finally:
        data.close()
    with store.open_run(run_id):  # the next writer session removes what no reader needs any more
        pass
    assert scan_run_files(store.run_dir(run_id)).stale_journals == []
