"""A store path that is a file is a clear error, not a traceback from mkdir (issue 10, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailgate.errors import StoreError
from tailgate.store import Store
from tests.support.cli import tailgate
from tests.support.suites import make_suite


@pytest.mark.parametrize("sub", ["", "inner"])
def test_store_under_a_file(tmp_path: Path, sub: str) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    store = Store(tmp_path / "afile" / sub if sub else tmp_path / "afile")
    for action in (store.list_runs, store.cache, lambda: store.run_dir("r1")):
        with pytest.raises(StoreError, match="is a file, not a folder"):
            action()


def test_run_with_store_pointing_at_a_file_exits_2(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    done = tailgate("--store", str(tmp_path / "afile"), "run", str(suite), "--model", "fake:echo", "-q")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "is a file, not a folder" in done.stderr


def test_a_run_that_cannot_be_created_releases_its_lock(tmp_path: Path) -> None:
    """The lock file stayed open (and locked) when writing the manifest failed: the fuzz test saw
    it as an unclosed file."""
    from tailgate.records import DatasetInfo, Manifest, ModelInfo, SuiteInfo
    from tailgate.store._store import RunWriter

    store = Store(tmp_path / "store")
    manifest = Manifest(run_id="r1", suite=SuiteInfo("\ud800"), dataset=DatasetInfo(), model=ModelInfo("m"))
    with pytest.raises(UnicodeEncodeError):
        store.create_run("r1", manifest, [])
    RunWriter(store.run_dir("r1")).close()  # RunLocked if the failed attempt still held it
