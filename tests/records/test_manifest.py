"""The typed manifest reads and writes ``manifest.json`` exactly as tailgate always has."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from tailgate.records import Counts, DatasetInfo, Manifest, ModelInfo, SuiteInfo
from tailgate.runner import RunOptions, run_sync
from tailgate.store import ImportSpec, Store, import_records
from tests.support.suites import make_suite

SRC = Path(__file__).resolve().parents[2] / "src" / "tailgate"

RUN_KEYS = [
    "schema_version",
    "run_id",
    "status",
    "suite",
    "dataset",
    "model",
    "mode",
    "repeats",
    "variants",
    "variant_descriptions",
    "decoding",
    "scorers",
    "execution",
    "plan",
    "fingerprint",
    "cli",
    "tailgate_version",
    "python",
    "packages",
    "git",
    "host",
    "started_at",
    "ended_at",
    "sessions",
    "counts",
]
IMPORT_KEYS = [
    "schema_version",
    "run_id",
    "status",
    "suite",
    "dataset",
    "model",
    "mode",
    "repeats",
    "variants",
    "import",
    "plan",
    "tailgate_version",
    "started_at",
    "ended_at",
    "sessions",
    "counts",
]


def _stored(store: Store, run_id: str) -> str:
    return (store.run_dir(run_id) / "manifest.json").read_text("utf-8")


def _rewritten(text: str) -> str:
    return json.dumps(Manifest.from_dict(json.loads(text)).as_dict(), indent=2, ensure_ascii=False)


def test_a_run_manifest_reads_back_to_the_same_bytes(tmp_path: Path) -> None:
    result = run_sync(RunOptions(suite=str(make_suite(tmp_path / "suite")), model="python:tests.support.models:oracle"))
    store = Store()
    text = _stored(store, result.run_id)
    assert list(json.loads(text)) == RUN_KEYS
    assert _rewritten(text) == text
    m = store.manifest(result.run_id)
    assert (m.status, m.is_import, m.plan.samples, m.counts) == ("completed", False, 4, Counts(4, 4, 0))
    assert (m.suite_config["name"], m.fingerprint["repeats"], m.temperature) == ("t", 1, 0.0)


def test_an_import_manifest_reads_back_to_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("q,ok,cat\n1,1,x\n2,0,y\n", encoding="utf-8")
    store = Store()
    import_records(store, ImportSpec(file=str(path), item="q", score="ok", slices=["cat"], run_id="imp"))
    text = _stored(store, "imp")
    assert list(json.loads(text)) == IMPORT_KEYS
    assert _rewritten(text) == text
    m = store.manifest("imp")
    assert (m.is_import, m.declared_attributes, m.provenance, m.temperature) == (True, ["cat"], None, None)
    assert m.imported is not None
    assert m.imported.item == "q"


def test_an_older_or_newer_manifest_keeps_its_keys() -> None:
    """Keys a version did not write stay absent; keys this version does not know are kept."""
    old = {
        "schema_version": 1,
        "run_id": "r",
        "status": "completed",
        "suite": {"name": "s", "path": "s.yaml", "sha256": "ab", "config": {}, "text": "", "future": 1},
        "dataset": {"path": "d", "sha256": "cd", "rows_read": 2, "items": 2, "duplicates_skipped": 0, "limit": None},
        "model": {"spec": "fake:echo", "provider": "fake"},
        "mode": "chat",
        "repeats": 1,
        "variants": ["original"],
        "decoding": {"temperature": 0.7},
        "scorers": [],
        "plan": {"items": 2, "variants": 1, "repeats": 1, "samples": 2},
        "tailgate_version": "0.0.1",
        "git": None,
        "started_at": "t0",
        "ended_at": "t1",
        "sessions": [{"status": "completed"}],
        "counts": {"planned": 2, "done": 2, "errors": 0},
        "error": "boom",
        "added_later": [1, 2],
    }
    m = Manifest.from_dict(old)
    assert json.dumps(m.as_dict()) == json.dumps(old)
    assert (m.temperature, m.variant_descriptions, m.error) == (0.7, {}, "boom")


def test_a_minimal_manifest_opens() -> None:
    m = Manifest.from_dict({"suite": {"name": "memory", "config": {}}, "model": {"spec": "memory"}})
    assert (m.suite.name, m.model.spec, m.variants, m.declared_attributes, m.templates) == (
        "memory",
        "memory",
        None,
        [],
        {},
    )


def test_updated_writes_counts_and_sessions_as_json() -> None:
    m = Manifest(run_id="r", suite=SuiteInfo("s"), dataset=DatasetInfo(), model=ModelInfo("m"))
    done = m.updated(status="completed", counts={"planned": 1, "done": 1, "errors": 0}, sessions=[{"a": 1}])
    assert done.counts == Counts(1, 1, 0)
    assert done.as_dict()["sessions"] == [{"a": 1}]
    assert list(done.updated(error="x").as_dict())[-1] == "error"


def test_the_import_uses_no_private_helper_of_the_store() -> None:
    tree = ast.parse((SRC / "store" / "_import.py").read_text("utf-8"))
    private = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tailgate.store")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []
