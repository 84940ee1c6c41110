"""A run opened from in-memory tables is the same run as the stored one: every per-item summary
and every analysis the calibration study calls agrees with ``load_run`` on the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tailgate.analysis import consistency, failure_profile, pass_k_table, robustness
from tailgate.analysis._data import RunData, load_run
from tailgate.analysis._memory import run_from_tables
from tailgate.records import canonical_json
from tailgate.store import ImportSpec, Store, import_records


def _stored(tmp_path: Path) -> Store:
    rng = np.random.default_rng(5)
    lines = ["item,variant,rep,ok,answer,lang,ms"]
    for i in range(40):
        skill = rng.uniform()
        for v in ("t1", "t2"):
            for r in range(3):
                ok = int(rng.uniform() < skill)
                # two answer classes over 3 repeats: the modal answer has no tie (DuckDB's mode()
                # breaks ties arbitrarily, issue 9.7, which would make the two opens differ)
                answer = "yes" if ok else "no"
                lines.append(f"q{i},{v},{r},{ok},{answer},{'de' if i % 3 else 'en'},{rng.lognormal(6, 0.5):.1f}")
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store(tmp_path / "store")
    spec = ImportSpec(
        file=str(path), item="item", score="ok", repeat="rep", variant="variant", output="answer",
        latency="ms", slices=["lang"], run_id="r",
    )  # fmt: skip
    import_records(store, spec)
    return store


def _in_memory(store: Store) -> RunData:
    records = store.read_records("r").to_pydict()
    items = store.read_items("r")
    item_cols: dict[str, Any] = {
        "item_id": [i["item_id"] for i in items],
        "source_id": [i["source_id"] for i in items],
        "row": [i["row"] for i in items],
        "input": [canonical_json(i["input"]) for i in items],
        "reference": [None if i["reference"] is None else canonical_json(i["reference"]) for i in items],
        "attributes": [canonical_json(i["attributes"]) for i in items],
    }
    return run_from_tables(records, item_cols, store.manifest("r"), run_id="r")


def test_a_run_from_tables_equals_the_stored_run(tmp_path: Path) -> None:
    store = _stored(tmp_path)
    stored, memory = load_run(store, "r"), _in_memory(store)
    try:
        a, b = stored.items, memory.items
        assert a.item_id.tolist() == b.item_id.tolist()
        for name in ("n_samples", "n_scored", "sum_score", "sum_sq", "n_pass", "n_errors"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert {k: v.tolist() for k, v in a.attributes.items()} == {k: v.tolist() for k, v in b.attributes.items()}
        assert (stored.binary, stored.declared) == (memory.binary, memory.declared)
        assert consistency(stored).as_dict() == consistency(memory).as_dict()
        assert [p.as_dict() for p in pass_k_table(stored)] == [p.as_dict() for p in pass_k_table(memory)]
        rob_a, rob_b = robustness(stored), robustness(memory)
        assert rob_a is not None
        assert rob_b is not None
        assert rob_a.as_dict() == rob_b.as_dict()
        assert failure_profile(a, 1.0).as_dict() == failure_profile(b, 1.0).as_dict()
    finally:
        stored.close()
        memory.close()


def test_missing_columns_are_null_and_defaults_fill_the_keys() -> None:
    data = run_from_tables(
        {"item_id": ["a", "a", "b"], "repeat": [0, 1, 0], "score": [1.0, 0.0, 0.5]},
        {"item_id": ["a", "b"]},
    )
    try:
        assert not data.binary
        assert data.items.n_samples.tolist() == [2, 1]
        rows = data.query("SELECT sample_id, variant, latency_ms FROM records ORDER BY sample_id")
        assert rows["sample_id"].tolist() == ["a/original/0", "a/original/1", "b/original/0"]
        assert set(rows["variant"].tolist()) == {"original"}
        assert np.isnan(rows["latency_ms"]).all()
    finally:
        data.close()


def test_an_unknown_column_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown column"):
        run_from_tables({"item_id": ["a"], "scroe": [1.0]}, {"item_id": ["a"]})
