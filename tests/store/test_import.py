"""tailgate import records: other tools' results become runs; bad files get clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tailgate.analysis import build_report
from tailgate.errors import InputError, StoreError
from tailgate.store import ImportSpec, Store, import_records
from tests.support.cli import tailgate

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _csv(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_csv_import_roundtrip(tmp_path: Path) -> None:
    f = _csv(tmp_path / "r.csv", "q,ok,try,cat,ms,out\n1,1,0,x,10,A\n1,0,1,x,12,B\n2,1,0,y,9,A\n2,1,1,y,30,A\n")
    run_id, n, items = import_records(
        Store(),
        ImportSpec(
            file=f, item="q", score="ok", repeat="try", slices=["cat"], latency="ms", output="out", run_id="imp"
        ),
    )
    assert (run_id, n, items) == ("imp", 4, 2)
    rows = Store().read_records("imp").to_pylist()
    assert {(r["repeat"], r["score"], r["latency_ms"]) for r in rows} == {
        (0, 1.0, 10.0),
        (1, 0.0, 12.0),
        (0, 1.0, 9.0),
        (1, 1.0, 30.0),
    }
    report = build_report(Store(), "imp").as_dict()
    assert report["overview"]["score"]["value"] == 0.75
    assert report["overview"]["attributes"]["declared"] == ["cat"]
    assert {s["value"] for s in report["slices"] if s["feature"] == "cat"} == {"x", "y"}


def test_same_item_keys_pair_across_files(tmp_path: Path) -> None:
    a = _csv(tmp_path / "a.csv", "q,ok\nx,1\ny,0\n")
    b = _csv(tmp_path / "b.csv", "q,ok\ny,1\nx,1\n")
    import_records(Store(), ImportSpec(file=a, item="q", score="ok", run_id="a"))
    import_records(Store(), ImportSpec(file=b, item="q", score="ok", run_id="b"))
    ids_a = {r["source_id"]: r["item_id"] for r in Store().read_items("a")}
    ids_b = {r["source_id"]: r["item_id"] for r in Store().read_items("b")}
    assert ids_a == ids_b


@pytest.mark.parametrize(
    ("text", "kwargs", "line", "field", "message"),
    [
        ("q,ok\n1,1\n2,maybe\n", {}, 3, "ok", "'maybe' is not a number"),
        ("q,ok\n1,1\n", {"slices": ["lang"]}, None, "lang", "no column 'lang'"),
        ("q,ok,t\n1,1,0\n1,0,0\n", {"repeat": "t"}, 3, "t", "appear twice"),
        ("q,ok,cat\n1,1,a\n1,0,b\n", {"slices": ["cat"]}, 2, "cat", "one value per item"),
        ("q,ok\n,1\n", {}, 2, "q", "missing item key"),
        ("q,ok\n", {}, None, None, "no rows"),
    ],
)
def test_bad_files(
    tmp_path: Path, text: str, kwargs: dict[str, object], line: int | None, field: str | None, message: str
) -> None:
    f = _csv(tmp_path / "bad.csv", text)
    with pytest.raises(InputError) as err:
        import_records(Store(), ImportSpec(file=f, item="q", score="ok", **kwargs))  # type: ignore[arg-type]
    assert message in err.value.message
    assert (err.value.line, err.value.field) == (line, field)
    assert err.value.file == f


def test_existing_run_id_is_refused(tmp_path: Path) -> None:
    f = _csv(tmp_path / "r.csv", "q,ok\n1,1\n")
    import_records(Store(), ImportSpec(file=f, item="q", score="ok", run_id="x"))
    with pytest.raises(StoreError, match="already exists"):
        import_records(Store(), ImportSpec(file=f, item="q", score="ok", run_id="x"))


def test_jsonl_gz_and_cli(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        for i in range(20):
            fh.write(json.dumps({"id": i, "correct": i % 3 != 0, "lang": "fr" if i < 10 else "en"}) + "\n")
    proc = tailgate(
        "import", "records", str(path), "--item", "id", "--score", "correct", "--slice", "lang", "--run-id", "j"
    )
    assert proc.returncode == 0, proc.stderr
    assert "imported 20 records of 20 items as run j" in proc.stdout
    bad = tailgate("import", "records", str(path), "--item", "nope", "--score", "correct")
    assert bad.returncode == 2
    assert "no column 'nope'" in bad.stderr


def test_mmlu_pro_import_and_report() -> None:
    """347,215 per-item results of 29 models on MMLU-Pro (variant = model)."""
    run_id, n, items = import_records(
        Store(),
        ImportSpec(
            file=str(DATA / "mmlu-pro" / "responses.csv.gz"),
            item="question_id",
            score="correct",
            variant="model",
            output="pred",
            slices=["category"],
            run_id="mmlu",
        ),
    )
    assert (n, items) == (347215, 12032)
    report = build_report(Store(), run_id).as_dict()
    assert report["overview"]["score"]["value"] == pytest.approx(0.4024, abs=5e-4)
    found = {s["label"] for s in report["discovery"]["slices"]}
    assert {"category=law", "category=engineering", "category=chemistry"} <= found
    variants = {s["value"]: s["estimate"]["value"] for s in report["slices"] if s["feature"] == "variant"}
    assert len(variants) == 29


def test_columns_named_like_internal_ones(tmp_path: Path) -> None:
    f = _csv(tmp_path / "r.csv", "item_id,score,__key,source_id\na,1,x,y\nb,0,x,y\n")
    import_records(
        Store(), ImportSpec(file=f, item="item_id", score="score", slices=["__key", "source_id"], run_id="odd")
    )
    items = {r["source_id"]: r["attributes"] for r in Store().read_items("odd")}
    assert items == {"a": {"__key": "x", "source_id": "y"}, "b": {"__key": "x", "source_id": "y"}}
