"""Window specs of ``tailgate drift`` (traffic/_windows.py): parsing, resolution, reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tailgate.errors import UsageError
from tailgate.store import Store
from tailgate.traffic import (
    ReadOptions,
    TableOrder,
    TrafficTable,
    import_traffic,
    parse_every,
    parse_window,
    read_spans,
    read_texts,
    resolve_pair,
    split_every,
    table_order,
)
from tests.traffic.test_import import jsonl


def _row(minute: int, text: str = "", **extra: Any) -> dict[str, Any]:
    t = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(minutes=minute)
    content = text or f"question {minute}: what is {minute} + 1?"
    return {"timestamp": t.isoformat(), "messages": [{"role": "user", "content": content}], **extra}


def _order(tmp_path: Path, minutes: list[int], **extra: Any) -> TableOrder:
    folder = Store().traffic_dir
    rows = [_row(m, **extra) for m in minutes]
    import_traffic(folder, [str(jsonl(tmp_path / "log.jsonl", rows))], options=ReadOptions(columns=tuple(extra)))
    return table_order(TrafficTable(folder))


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "count"),
    [
        ("2024-05-01..2024-05-02", "range", datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC), None),
        ("2024-05-01T10:00:00+02:00..", "range", datetime(2024, 5, 1, 8, tzinfo=UTC), None, None),
        ("..2024-05-01T10:00Z", "range", None, datetime(2024, 5, 1, 10, tzinfo=UTC), None),
        ("7d", "range", timedelta(days=7), None, None),
        ("12h", "range", timedelta(hours=12), None, None),
        ("30m", "range", timedelta(minutes=30), None, None),
        ("14d..7d", "range", timedelta(days=14), timedelta(days=7), None),
        ("7d..2024-05-03", "range", timedelta(days=7), datetime(2024, 5, 3, tzinfo=UTC), None),
        ("last:500", "last", None, None, 500),
        ("first: 20", "first", None, None, 20),
    ],
)
def test_window_specs(text: str, kind: str, start: Any, end: Any, count: int | None) -> None:
    spec = parse_window(text)
    assert (spec.kind, spec.start, spec.end, spec.count) == (kind, start, end, count)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "--cur 'yesterday': 'yesterday' is neither an ISO 8601 time nor a duration"),
        ("2024-05-02..2024-05-01", "--cur '2024-05-02..2024-05-01': the end is not after the start"),
        ("7d..14d", "--cur '7d..14d': 14d before the newest is not after 7d before it"),
        ("2024-05-01", "--cur '2024-05-01': a time alone is not a window"),
        ("..", "--cur '..': give a start, an end or both"),
        ("last:0", "--cur 'last:0': a window needs at least one request"),
        ("", "--cur '': empty window spec"),
        ("1d..2d..3d", "--cur '1d..2d..3d': expected START..END"),
    ],
)
def test_bad_window_specs_name_the_option(text: str, message: str) -> None:
    with pytest.raises(UsageError, match="^" + message.replace("(", r"\(").replace(".", r"\.")):
        parse_window(text, "--cur")


def test_every_specs() -> None:
    assert parse_every("1d").step == timedelta(days=1)
    assert parse_every("6h").step == timedelta(hours=6)
    assert parse_every("10000").count == parse_every("10_000").count == 10_000
    for bad in ("1", "0d", "daily", "-5"):
        with pytest.raises(UsageError, match="--every"):
            parse_every(bad)


def test_default_halves_one_side_and_both(tmp_path: Path) -> None:
    order = _order(tmp_path, list(range(0, 11 * 60, 60)))  # 11 requests, one an hour from midnight
    ref, cur = resolve_pair(order, None, None)
    assert (ref.lo, ref.hi, cur.lo, cur.hi) == (0, 5, 5, 11)  # the newer half has the odd one
    assert ref.spec == "first half"
    assert cur.n == 6
    ref, cur = resolve_pair(order, None, parse_window("3h"))
    # 3h before just past the newest (10:00): 07:00:00.000001 onwards, so 08:00, 09:00, 10:00
    assert (cur.lo, cur.hi, ref.lo, ref.hi) == (8, 11, 0, 8)
    assert ref.spec == "before 3h"
    ref, cur = resolve_pair(order, parse_window("first:4"), None)
    assert (ref.hi, cur.lo, cur.hi, cur.spec) == (4, 4, 11, "after first:4")
    ref, cur = resolve_pair(order, parse_window("6h..4h"), parse_window("last:2"))
    assert (ref.lo, ref.hi, cur.lo, cur.hi) == (5, 7, 9, 11)  # 05:00 and 06:00 (end exclusive)
    ref, cur = resolve_pair(order, parse_window("2024-05-01T01:00Z..2024-05-01T03:00Z"), parse_window("last:3"))
    assert (ref.lo, ref.hi, cur.lo) == (1, 3, 8)
    cur = order.resolve(parse_window("last:1000"), "cur")
    assert (cur.lo, cur.hi) == (0, 11)  # last:N past the table's size is the whole table
    assert cur.first == datetime(2024, 5, 1, tzinfo=UTC)
    assert cur.last == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_overlap_and_empty_windows_are_usage_errors(tmp_path: Path) -> None:
    order = _order(tmp_path, list(range(0, 11 * 60, 60)))
    with pytest.raises(UsageError, match="the windows overlap: 2 requests are in both ref"):
        resolve_pair(order, parse_window("first:6"), parse_window("last:7"))
    with pytest.raises(UsageError) as caught:
        resolve_pair(order, parse_window("first:5"), parse_window("2020-01-01..2020-01-02"))
    assert str(caught.value) == (
        "window cur (2020-01-01..2020-01-02): 0 requests; the table holds 11 requests, "
        "2024-05-01T00:00:00Z to 2024-05-01T10:00:00Z"
    )
    with pytest.raises(UsageError, match=r"window ref \(first:1\): 1 requests"):
        resolve_pair(order, parse_window("first:1"), None)


def test_an_empty_table_says_how_to_fill_it(tmp_path: Path) -> None:
    order = table_order(TrafficTable(Store().traffic_dir))
    with pytest.raises(UsageError, match="holds no request; import logs with: tailgate import traffic FILE"):
        resolve_pair(order, None, None)


def test_every_by_time_and_by_count(tmp_path: Path) -> None:
    minutes = [0, 10, 20, 60 + 5, 3 * 60, 3 * 60 + 1, 3 * 60 + 59]  # hour 2 has no request
    order = _order(tmp_path, minutes)
    spans = split_every(order, parse_every("1h"))
    assert [(s.lo, s.hi) for s in spans] == [(0, 3), (3, 4), (4, 7)]  # the empty hour is skipped
    assert [s.name for s in spans] == ["window 0", "window 1", "window 2"]
    assert spans[2].spec == "2024-05-01T03:00:00Z +1h"  # aligned to the hour (UTC)
    spans = split_every(order, parse_every("3"))
    assert [(s.lo, s.hi) for s in spans] == [(0, 3), (3, 6), (6, 7)]  # the last one shorter
    with pytest.raises(UsageError, match="make 1 window; monitoring needs at least two"):
        split_every(order, parse_every("1d"))


def test_reading_spans_computed_and_user_columns(tmp_path: Path) -> None:
    order = _order(tmp_path, list(range(6)), team="red")
    ref, cur = resolve_pair(order, None, None)
    a, b = read_spans(order, [ref, cur], ["chars", "lang", "has_code", "columns.team", "team", "latency_ms"])
    assert a["chars"].tolist() == [len(f"question {m}: what is {m} + 1?") for m in range(3)]
    assert b["lang"].tolist() == ["en"] * 3
    assert b["has_code"].dtype == np.bool_
    assert a["team"].tolist() == ["red"] * 3  # a user column (--column at import), as its JSON text
    assert np.isnan(a["latency_ms"]).all()  # not logged: NaN
    with pytest.raises(UsageError, match="--attribute 'colour': no request in the windows has it"):
        read_spans(order, [ref, cur], ["colour"])
    texts, n = read_texts(order, cur, 2, seed=0)
    assert n == 3
    assert len(texts) == 2
    assert all(t.startswith("question ") for t in texts)
    assert set(texts) <= {f"question {m}: what is {m} + 1?" for m in range(3, 6)}
    assert read_texts(order, cur, 2, seed=0)[0] == texts  # seeded
