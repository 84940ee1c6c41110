"""Windows of the traffic table (traffic/_window.py): time ranges, the last N, user columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tailgate.errors import UsageError
from tailgate.store import Store
from tailgate.traffic import DERIVED_COLUMNS, ReadOptions, TrafficTable, import_traffic, read_window
from tests.traffic.test_import import jsonl, line


def _table(tmp_path: Path, n: int = 10) -> TrafficTable:
    rows = [line(i, team="a" if i % 2 else "b") for i in range(n)]
    rows[3]["messages"] = [{"role": "user", "content": "Wie viele Tage hat eine Woche? Antworte mit einer Zahl."}]
    rows[4]["status"] = 500
    folder = Store().traffic_dir
    import_traffic(folder, [str(jsonl(tmp_path / "log.jsonl", rows))], options=ReadOptions(columns=("team",)))
    return TrafficTable(folder)


def test_the_whole_table_in_time_order(tmp_path: Path) -> None:
    window = read_window(_table(tmp_path))
    assert window.n == 10
    assert sorted(window.attributes) == sorted(DERIVED_COLUMNS)
    assert window.first == datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    assert window.last == datetime(2024, 5, 1, 10, 0, 9, tzinfo=UTC)
    assert window.attributes["lang"].tolist()[3] == "de"
    assert window.attributes["has_numbers"].dtype == np.bool_
    assert window.describe() == "10 requests, 2024-05-01 10:00:00 to 2024-05-01 10:00:09 UTC"


def test_time_bounds_the_last_n_and_errors(tmp_path: Path) -> None:
    table = _table(tmp_path)
    window = read_window(table, since="2024-05-01T10:00:02Z", until=datetime(2024, 5, 1, 10, 0, 6), columns=["turns"])
    assert window.n == 4  # seconds 2, 3, 4, 5: since inclusive, until exclusive, naive = UTC
    assert read_window(table, last=3, columns=["turns"]).first == datetime(2024, 5, 1, 10, 0, 7, tzinfo=UTC)
    assert read_window(table, since=timedelta(seconds=3), columns=["turns"]).n == 3  # 7, 8, 9: before the newest
    assert read_window(table, include_errors=False, columns=["turns"]).n == 9
    assert read_window(table, since="2030-01-01", columns=["turns"]).n == 0


def test_user_columns_and_unknown_names(tmp_path: Path) -> None:
    table = _table(tmp_path)
    window = read_window(table, columns=["team", "lang"])
    assert window.attributes["team"].tolist()[:3] == ["b", "a", "b"]
    with pytest.raises(UsageError, match=r"no request in the window has an attribute 'nope'.*user columns: team"):
        read_window(table, columns=["nope"])
    with pytest.raises(UsageError, match="is not an ISO 8601 time"):
        read_window(table, since="last tuesday")
    with pytest.raises(UsageError, match="at least one request"):
        read_window(table, last=0)


def test_an_empty_table(tmp_path: Path) -> None:
    window = read_window(TrafficTable(tmp_path / "none"), since=timedelta(days=1))
    assert (window.n, window.first, window.describe()) == (0, None, "0 requests")
