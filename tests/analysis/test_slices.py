"""Slice masks compare attribute values exactly (issue 10, item 4).

numpy turns a Python string into ``str_`` when it is compared with an object array, and ``str_``
drops trailing NULs, so ``labels == "bad\\0"`` matched nothing: a slice of 20 items at 0.0
vanished from compare and ``gate`` passed, while the same data without the NUL failed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tailgate.analysis import CompareOptions, compare_runs
from tailgate.analysis._data import load_run
from tailgate.analysis._slices import equal_mask, item_features, slice_estimates
from tailgate.gate import decide, load_policy
from tailgate.store import ImportSpec, Store, import_records


def test_equal_mask_keeps_trailing_nul() -> None:
    labels = np.array(["bad\0", "bad", None, "bad\0\0", "x"], dtype=object)
    assert equal_mask(labels, "bad\0").tolist() == [True, False, False, False, False]
    assert equal_mask(labels, "bad").tolist() == [False, True, False, False, False]
    # what went wrong before: numpy's comparison drops the NUL and matches "bad" instead
    assert (labels == "bad\0").tolist() == [False, True, False, False, False]


def _import(store: Store, folder: Path, name: str, bad: str, cand: bool) -> str:
    path = folder / f"{name}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["item", "score", "grp"])
        for i in range(100):
            in_bad = i < 20
            writer.writerow([f"i{i}", 0 if (cand and in_bad) else 1, bad if in_bad else f"g{i % 3}"])
    return import_records(store, ImportSpec(file=str(path), item="item", score="score", slices=["grp"], run_id=name))[0]


@pytest.mark.parametrize("bad", ["bad\0", "bad", "\0", "bad\0\0"])
def test_a_slice_whose_value_ends_in_nul_is_reported_and_gated(tmp_path: Path, bad: str) -> None:
    store = Store(tmp_path / "store")
    base = _import(store, tmp_path, "base", bad, cand=False)
    cand = _import(store, tmp_path, "cand", bad, cand=True)
    data = load_run(store, cand)
    try:
        labels = item_features(data)["grp"]
        assert int(equal_mask(labels, bad).sum()) == 20
        by_label = {(s.feature, s.value): s.estimate for s in slice_estimates(data)}
        assert by_label[("grp", bad)].value == 0.0
        assert by_label[("grp", bad)].n_items == 20
    finally:
        data.close()
    result = compare_runs(store, base, cand, CompareOptions())
    slices = {row["slice"]: row for row in result.as_dict()["slices"]}
    assert slices[f"grp={bad}"]["n_items"] == 20
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - no_slice_regression: {margin: 0.05}\n", encoding="utf-8")
    decision = decide(compare_runs(store, base, cand, CompareOptions()), load_policy(str(policy)))
    assert decision.exit_code == 1
