"""Bad input gets a clear error naming file, line and field (and, through the CLI, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tailgate.config import load_suite
from tailgate.dataset import load_dataset
from tailgate.errors import InputError
from tailgate.records import item_id
from tests.support.suites import make_suite


def _load(suite_path: Path, limit: int | None = None):  # type: ignore[no-untyped-def]
    return load_dataset(load_suite(str(suite_path)), limit)


def test_items_are_content_addressed(tmp_path: Path) -> None:
    ds = _load(make_suite(tmp_path))
    assert len(ds.items) == 4
    first = ds.items[0]
    assert first.item_id == item_id({"question": "What is 2+2?"}, 4)
    assert first.source_id == "a"
    assert first.attributes == {"task": "math"}
    assert first.row == 1


def test_same_content_same_id_across_files(tmp_path: Path) -> None:
    a = _load(make_suite(tmp_path / "a"))
    rows = [
        {"id": f"x{i}", "question": q, "answer": r, "task": "other"} for i, (q, r) in enumerate([("What is 2+2?", 4)])
    ]
    b = _load(make_suite(tmp_path / "b", rows))
    assert a.items[0].item_id == b.items[0].item_id


def test_duplicates_are_skipped_with_a_warning(tmp_path: Path) -> None:
    rows = [
        {"id": "1", "question": "q", "answer": 1, "task": "t"},
        {"id": "2", "question": "q", "answer": 1, "task": "t"},
    ]
    ds = _load(make_suite(tmp_path, rows))
    assert len(ds.items) == 1
    assert ds.duplicates == 1
    assert "duplicate" in ds.warnings[0]


def test_limit(tmp_path: Path) -> None:
    assert len(_load(make_suite(tmp_path), limit=2).items) == 2


def _suite_with_raw(tmp_path: Path, raw: bytes, name: str = "items.jsonl") -> Path:
    suite = make_suite(tmp_path, dataset_file=name)
    (tmp_path / name).write_bytes(raw)
    return suite


def _error(suite: Path) -> InputError:
    with pytest.raises(InputError) as err:
        _load(suite)
    return err.value


def test_malformed_jsonl_names_line(tmp_path: Path) -> None:
    good = json.dumps({"id": "a", "question": "q", "answer": 1, "task": "t"}).encode()
    err = _error(_suite_with_raw(tmp_path, good + b"\n" + b'{"id": "b", "question": \n'))
    assert err.file == "items.jsonl"
    assert err.line == 2
    assert "invalid JSON" in err.message


def test_jsonl_line_not_an_object(tmp_path: Path) -> None:
    err = _error(_suite_with_raw(tmp_path, b"[1, 2]\n"))
    assert (err.line, "JSON object" in err.message) == (1, True)


def test_missing_field(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "question": "q", "answer": 1, "task": "t"},
        {"id": "b", "question": "q2", "task": "t"},
    ]
    err = _error(make_suite(tmp_path, rows))
    assert (err.line, err.field) == (2, "answer")
    assert "missing field" in err.message


def test_attribute_of_wrong_type(tmp_path: Path) -> None:
    rows = [{"id": "a", "question": "q", "answer": 1, "task": ["x", "y"]}]
    err = _error(make_suite(tmp_path, rows))
    assert (err.line, err.field) == (1, "task")
    assert "scalar" in err.message


def test_id_of_wrong_type(tmp_path: Path) -> None:
    rows = [{"id": {"x": 1}, "question": "q", "answer": 1, "task": "t"}]
    err = _error(make_suite(tmp_path, rows))
    assert (err.line, err.field) == (1, "id")


def test_same_id_for_different_items(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "question": "q", "answer": 1, "task": "t"},
        {"id": "a", "question": "other", "answer": 1, "task": "t"},
    ]
    err = _error(make_suite(tmp_path, rows))
    assert (err.line, err.field) == (2, "id")


def test_empty_dataset(tmp_path: Path) -> None:
    err = _error(_suite_with_raw(tmp_path, b""))
    assert "no items" in err.message
    assert err.file == "items.jsonl"


def test_non_utf8_jsonl(tmp_path: Path) -> None:
    good = json.dumps({"id": "a", "question": "q", "answer": 1, "task": "t"}).encode()
    err = _error(_suite_with_raw(tmp_path, good + b'\n{"id": "b", "question": "caf\xe9", "answer": 1, "task": "t"}\n'))
    assert err.line == 2
    assert "UTF-8" in err.message


def test_huge_item(tmp_path: Path) -> None:
    big = "x" * (10 * 1024 * 1024)
    rows = [
        {"id": "a", "question": "q", "answer": 1, "task": "t"},
        {"id": "b", "question": big, "answer": 1, "task": "t"},
    ]
    err = _error(make_suite(tmp_path, rows))
    assert (err.line, err.field) == (2, "question")
    assert "10,485,760 bytes" in err.message
    assert "max_field_bytes" in err.message


def test_nan_is_rejected(tmp_path: Path) -> None:
    err = _error(_suite_with_raw(tmp_path, b'{"id": "a", "question": "q", "answer": NaN, "task": "t"}\n'))
    assert err.line == 1


def test_csv_dataset(tmp_path: Path) -> None:
    suite = _suite_with_raw(
        tmp_path,
        b'id,question,answer,task\na,What is 2+2?,4,math\nb,"Quoted, comma",x,geo\n',
        "items.csv",
    )
    ds = _load(suite)
    assert [i.input["question"] for i in ds.items] == ["What is 2+2?", "Quoted, comma"]
    assert ds.items[1].row == 3


def test_csv_ragged_row(tmp_path: Path) -> None:
    err = _error(_suite_with_raw(tmp_path, b"id,question,answer,task\na,q,1,t\nb,q,1\n", "items.csv"))
    assert err.line == 3
    assert "cells" in err.message


def test_csv_unterminated_quote(tmp_path: Path) -> None:
    err = _error(_suite_with_raw(tmp_path, b'id,question,answer,task\na,"q,1,t\n', "items.csv"))
    assert err.file == "items.csv"
    assert "CSV" in err.message


def test_csv_non_utf8(tmp_path: Path) -> None:
    err = _error(_suite_with_raw(tmp_path, b"id,question,answer,task\na,q,1,t\nb,caf\xe9,1,t\n", "items.csv"))
    assert err.line == 3


def test_csv_missing_column(tmp_path: Path) -> None:
    err = _error(_suite_with_raw(tmp_path, b"id,question,task\na,q,t\n", "items.csv"))
    assert (err.line, err.field) == (2, "answer")


def test_parquet_dataset(tmp_path: Path) -> None:
    suite = make_suite(tmp_path, dataset_file="items.parquet", items=[])
    pq.write_table(
        pa.table({"id": ["a", "b"], "question": ["q1", "q2"], "answer": [1, 2], "task": ["x", "y"]}),
        tmp_path / "items.parquet",
    )
    ds = _load(suite)
    assert [(i.row, i.reference) for i in ds.items] == [(1, 1), (2, 2)]


def test_not_a_parquet_file(tmp_path: Path) -> None:
    err = _error(_suite_with_raw(tmp_path, b"not parquet", "items.parquet"))
    assert "Parquet" in err.message


def test_unknown_extension(tmp_path: Path) -> None:
    err = _error(_suite_with_raw(tmp_path, b"x", "items.txt"))
    assert "extension" in err.message


def test_missing_dataset_file(tmp_path: Path) -> None:
    suite = make_suite(tmp_path)
    (tmp_path / "items.jsonl").unlink()
    err = _error(suite)
    assert "file not found" in err.message


# --- one rule for every format (issue 10, items 5 and 6) --------------------------------------

_ROW = b'{"id": "a", "question": "q", "answer": 1, "task": %s}\n'


@pytest.mark.parametrize(
    ("value", "field"),
    [(b"1e400", "task"), (b"-1e400", "task"), (b"Infinity", "task"), (b"NaN", "task"), (b'"\\ud800"', "task")],
)
def test_jsonl_non_finite_numbers_and_surrogates_name_the_field(tmp_path: Path, value: bytes, field: str) -> None:
    """1e400 parsed to inf and a lone surrogate reached the hash as an unencodable string."""
    err = _error(_suite_with_raw(tmp_path, _ROW % value))
    assert (err.file, err.line, err.field) == ("items.jsonl", 1, field)


def test_jsonl_deep_nesting_is_an_error_not_a_recursion_error(tmp_path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    err = _error(_suite_with_raw(tmp_path, b'{"id": "a", "question": ' + deep + b', "answer": 1, "task": "t"}\n'))
    assert err.line == 1
    moderately = b"[" * 70 + b"1" + b"]" * 70
    err = _error(_suite_with_raw(tmp_path, b'{"id": "a", "question": ' + moderately + b', "answer": 1, "task": "t"}\n'))
    assert (err.line, err.field) == (1, "question")
    assert "nested" in err.message


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_parquet_non_finite_numbers_are_rejected_like_jsonl(tmp_path: Path, bad: float) -> None:
    """Parquet NaN/inf silently became null while JSONL rejected them."""
    suite = make_suite(tmp_path, dataset_file="items.parquet", items=[])
    table = pa.table({"id": ["a", "b"], "question": ["q1", "q2"], "answer": [1.0, bad], "task": ["x", "y"]})
    pq.write_table(table, tmp_path / "items.parquet")
    err = _error(suite)
    assert (err.file, err.line, err.field) == ("items.parquet", 2, "answer")
    assert "finite" in err.message


def _dataset_path_error(tmp_path: Path) -> InputError:
    err = _error(tmp_path / "suite.yaml")
    assert str(err.file).endswith("suite.yaml")
    assert (err.line, err.field) == (3, "dataset.path")
    return err


def test_dataset_path_that_is_a_directory(tmp_path: Path) -> None:
    make_suite(tmp_path)
    (tmp_path / "items.jsonl").unlink()
    (tmp_path / "items.jsonl").mkdir()
    assert "directory" in _dataset_path_error(tmp_path).message


def test_dataset_path_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    import os

    make_suite(tmp_path)
    (tmp_path / "items.jsonl").unlink()
    os.mkfifo(tmp_path / "items.jsonl")
    assert "regular file" in _dataset_path_error(tmp_path).message


def test_dataset_path_that_is_a_symlink_loop(tmp_path: Path) -> None:
    make_suite(tmp_path)
    (tmp_path / "items.jsonl").unlink()
    (tmp_path / "items.jsonl").symlink_to(tmp_path / "items.jsonl")
    assert "symbolic links" in _dataset_path_error(tmp_path).message


def test_empty_dataset_path_names_the_suite_field(tmp_path: Path) -> None:
    """It named '.' (the suite's folder) instead of the suite file and field."""
    suite = make_suite(tmp_path)
    suite.write_text(suite.read_text(encoding="utf-8").replace("path: items.jsonl", "path: ''"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_suite(str(suite))
    assert (err.value.file, err.value.line, err.value.field) == (str(suite), 3, "dataset.path")
    assert "empty" in err.value.message
