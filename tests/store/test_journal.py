from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailgate.errors import RunLocked, StoreError
from tailgate.records import DatasetInfo, Item, Manifest, ModelInfo, Plan, SuiteInfo
from tailgate.store import Store, read_journal, scan_run_files, utc_now


def _record(sample: str, error: str | None = None, output: str = "x") -> dict[str, object]:
    return {
        "schema_version": 1,
        "run_id": "r1",
        "sample_id": sample,
        "item_id": sample.split("/", maxsplit=1)[0],
        "variant": "original",
        "repeat": 0,
        "model": "fake:echo",
        "mode": "chat",
        "params": "{}",
        "prompt": "p",
        "output": None if error else output,
        "answer": None,
        "score": None if error else 1.0,
        "scorer": None,
        "scores": "{}",
        "latency_ms": 1.0,
        "tokens_in": 1,
        "tokens_out": 1,
        "finish_reason": "stop",
        "error_class": error,
        "error_message": error,
        "attempts": 1,
        "attempt_errors": "[]",
        "started_at": utc_now(),
        "ended_at": utc_now(),
        "cached": False,
        "cache_key": "k",
    }


def _new_run(store: Store, run_id: str = "r1"):  # type: ignore[no-untyped-def]
    manifest = Manifest(
        run_id=run_id,
        status="running",
        suite=SuiteInfo("s"),
        dataset=DatasetInfo(),
        model=ModelInfo("fake:echo"),
        plan=Plan(samples=3),
        started_at=utc_now(),
    )
    return store.create_run(run_id, manifest, [Item("i1", {"q": "x"}, 1, {"task": "t"}, "a", 1)])


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "journal-000001.jsonl"
    path.write_bytes(json.dumps(_record("a/original/0")).encode() + b"\n" + b'{"schema_version": 1, "run_')
    assert [r["sample_id"] for r in read_journal(path)] == ["a/original/0"]


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "journal-000001.jsonl"
    path.write_bytes(b"garbage\n" + json.dumps(_record("a/original/0")).encode() + b"\n")
    with pytest.raises(StoreError, match=r"journal-000001\.jsonl:1"):
        read_journal(path)


def test_new_session_gets_new_journal_after_torn_write(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with _new_run(store) as writer:
        writer.append(_record("a/original/0"))
    journal = store.run_dir("r1") / "journal-000001.jsonl"
    with journal.open("ab") as fh:
        fh.write(b'{"torn": ')
    with store.open_run("r1") as writer:
        writer.append(_record("b/original/0"))
    assert (store.run_dir("r1") / "journal-000002.jsonl").exists()
    assert sorted(store.sample_status("r1")) == ["a/original/0", "b/original/0"]
    table = store.read_records("r1")
    assert sorted(table["sample_id"].to_pylist()) == ["a/original/0", "b/original/0"]


def test_last_record_of_a_sample_wins(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with _new_run(store) as writer:
        writer.append(_record("a/original/0", error="rate_limit"))
        writer.append(_record("b/original/0"))
    with store.open_run("r1") as writer:
        writer.append(_record("a/original/0", output="second"))
    assert store.sample_status("r1") == {"a/original/0": True, "b/original/0": True}
    table = store.read_records("r1")
    assert table.num_rows == 2
    rows = {r["sample_id"]: r for r in table.to_pylist()}
    assert rows["a/original/0"]["output"] == "second"


def test_compaction_keeps_every_record_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with _new_run(store) as writer:
        for i in range(5):
            writer.append(_record(f"s{i}/original/0"))
        writer.append(_record("s0/original/0", output="again"))
        writer.compact()
    files = scan_run_files(store.run_dir("r1"))
    assert files.journals == []
    assert len(files.parts) == 1
    assert (store.run_dir("r1") / "items.parquet").exists()
    table = store.read_records("r1")
    assert table.num_rows == 5
    assert store.read_items("r1")[0]["attributes"] == {"task": "t"}


def test_crash_between_part_and_journal_deletion(tmp_path: Path) -> None:
    """A part's name says which journals it covers, so leftover journals are not read twice."""
    store = Store(tmp_path / "store")
    with _new_run(store) as writer:
        writer.append(_record("s0/original/0"))
    run_dir = store.run_dir("r1")
    saved = (run_dir / "journal-000001.jsonl").read_bytes()
    with store.open_run("r1") as writer:
        writer.compact()
    (run_dir / "journal-000001.jsonl").write_bytes(saved)  # as if deletion never happened
    assert store.read_records("r1").num_rows == 1
    with store.open_run("r1"):
        pass
    assert not (run_dir / "journal-000001.jsonl").exists()


def test_second_writer_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with _new_run(store), pytest.raises(RunLocked, match="another process"):
        store.open_run("r1")


def test_running_run_without_writer_is_interrupted(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with _new_run(store):
        assert store.effective_status("r1", store.manifest("r1")) == "running"
    assert store.effective_status("r1", store.manifest("r1")) == "interrupted"


def test_resolve_prefix_and_latest(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    _new_run(store, "alpha-1").close()
    _new_run(store, "beta-1").close()
    assert store.resolve("alp") == "alpha-1"
    assert store.resolve("latest") in {"alpha-1", "beta-1"}
