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
        ("q,ok\n1,1\n2,maybe\n", {}, 3, "ok", "'maybe' is not a finite number"),
        ("q,ok\n1,1\n", {"slices": ["lang"]}, 1, "lang", "no column 'lang'"),
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


# --- issue 10, items 5 and 7 ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400"])
def test_non_finite_scores_are_rejected_in_csv(tmp_path: Path, value: str) -> None:
    """They were imported as scores (NaN and infinity reached the analyses)."""
    f = _csv(tmp_path / "r.csv", f"q,ok,ms\na,1,5\nb,{value},5\n")
    with pytest.raises(InputError) as err:
        import_records(Store(), ImportSpec(file=f, item="q", score="ok", run_id="x"))
    assert (err.value.line, err.value.field) == (3, "ok")
    assert "finite" in err.value.message
    f = _csv(tmp_path / "r.csv", f"q,ok,ms\na,1,5\nb,1,{value}\n")
    with pytest.raises(InputError) as err:
        import_records(Store(), ImportSpec(file=f, item="q", score="ok", latency="ms", run_id="x"))
    assert (err.value.line, err.value.field) == (3, "ms")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_scores_are_rejected_in_jsonl(tmp_path: Path, value: str) -> None:
    f = _csv(tmp_path / "r.jsonl", '{"q": "a", "ok": 1}\n{"q": "b", "ok": ' + value + "}\n")
    with pytest.raises(InputError) as err:
        import_records(Store(), ImportSpec(file=f, item="q", score="ok", run_id="x"))
    assert (err.value.line, err.value.field) == (2, "ok")


def test_non_finite_scores_are_rejected_in_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"q": ["a", "b"], "ok": [1.0, float("nan")]}), tmp_path / "r.parquet")
    with pytest.raises(InputError) as err:
        import_records(Store(), ImportSpec(file=str(tmp_path / "r.parquet"), item="q", score="ok", run_id="x"))
    assert (err.value.line, err.value.field) == (2, "ok")


def test_a_csv_with_a_10_mb_field_imports(tmp_path: Path) -> None:
    """It was rejected as "CSV Error on Line: 1" (DuckDB's 2 MB line limit)."""
    big = "x" * 10_000_000
    f = _csv(tmp_path / "r.csv", f'q,ok,out\na,1,"{big}"\nb,0,short\n')
    assert import_records(Store(), ImportSpec(file=f, item="q", score="ok", output="out", run_id="big"))[1:] == (2, 2)
    outputs = {r["output"] for r in Store().read_records("big").to_pylist()}
    assert outputs == {big, "short"}


@pytest.mark.parametrize("name", ["my results.csv", "bob's run.csv", 'say "hi".csv', "ünïcode.csv", "---.csv"])
def test_run_id_is_derived_for_any_file_name(tmp_path: Path, name: str) -> None:
    """A space or a quote in the file name made an invalid run id."""
    f = _csv(tmp_path / name, "q,ok\na,1\n")
    run_id, _, _ = import_records(Store(), ImportSpec(file=f, item="q", score="ok"))
    assert Store().exists(run_id)
    assert run_id.startswith("import-")
