"""A window of the traffic table: the requests of a time range, or the last N, as attribute arrays.

The analyses of traffic (drift, quality under drift) take one array per attribute, one value per
request; this is where a window of the table becomes those arrays. DuckDB filters, orders and
reads only the named columns from the Parquet parts, so a window costs what its columns weigh.

Bounds: ``since`` is inclusive, ``until`` exclusive, both UTC (a naive datetime or ISO 8601 text
without an offset is UTC). ``since`` may be a :class:`~datetime.timedelta`: that long before
``until``, or before the newest request of the table when there is no ``until`` (not before the
clock: a replayed or late-imported log has its own time). ``last=N`` keeps the N newest requests
inside the bounds. Requests are ordered by (timestamp, request_id), so a window is reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tailgate.errors import UsageError
from tailgate.traffic._schema import DERIVED_COLUMNS, TRAFFIC_COLUMNS
from tailgate.traffic._table import TrafficTable

if TYPE_CHECKING:
    import numpy as np

__all__ = ["TrafficWindow", "read_window"]

_TABLE_COLUMNS = frozenset(c.name for c in TRAFFIC_COLUMNS)


@dataclass(frozen=True)
class TrafficWindow:
    """The requests of one window, one array per attribute (aligned, in time order).

    Attributes:
        attributes: name -> one value per request (table columns keep their type; a user-declared
            column, read from ``columns``, is its JSON value as text, None where a request lacks it).
        n: requests in the window.
        first: timestamp of its first request (None when empty).
        last: timestamp of its last request (None when empty).
        since: the inclusive lower bound applied (UTC), if any.
        until: the exclusive upper bound applied (UTC), if any.
        limit: ``last=N`` when the window is the N newest requests.
    """

    attributes: Mapping[str, np.ndarray]
    n: int
    first: datetime | None
    last: datetime | None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def describe(self) -> str:
        """``"1,000 requests, 2023-11-16 00:00:03 to 2023-11-16 00:59:58 UTC"``."""
        if self.n == 0 or self.first is None or self.last is None:
            return "0 requests"
        fmt = "%Y-%m-%d %H:%M:%S"
        return f"{self.n:,} requests, {self.first.strftime(fmt)} to {self.last.strftime(fmt)} UTC"


def _utc(value: datetime | str, what: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{what}: {value!r} is not an ISO 8601 time (e.g. 2026-11-01T00:00:00Z)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _column_sql(name: str) -> str:
    if name in _TABLE_COLUMNS:
        return f'"{name}"'
    path = '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "json_extract_string(columns, '" + path.replace("'", "''") + "')"


def _numpy(raw: Any) -> np.ndarray:
    """A fetched column as numpy: NULL becomes None (text) or NaN (numbers)."""
    import numpy as np

    if isinstance(raw, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(raw)
        if not mask.any():
            return np.asarray(raw.data)
        column = np.array(raw.data, dtype=float if raw.dtype.kind in "iuf" else object)
        column[mask] = np.nan if column.dtype.kind == "f" else None
        return column
    return np.asarray(raw)


def read_window(
    table: TrafficTable,
    *,
    since: datetime | str | timedelta | None = None,
    until: datetime | str | None = None,
    last: int | None = None,
    columns: Sequence[str] = DERIVED_COLUMNS,
    include_errors: bool = True,
) -> TrafficWindow:
    """The requests of a window of ``table`` (see the module docstring) as attribute arrays.

    Args:
        table: the traffic table (``TrafficTable(store.traffic_dir)``).
        since: inclusive lower bound, or a duration before ``until`` / the newest request.
        until: exclusive upper bound.
        last: keep only the ``last`` newest requests within the bounds.
        columns: table columns (default: the derived attributes) or user-declared columns
            (``--column`` at import, read from the ``columns`` JSON).
        include_errors: False drops requests that failed (``is_error``).

    Raises:
        UsageError: a bound is not a time, ``last`` is not positive, or a column is neither a
            table column nor a user column of any request in the window.

    Example:
        >>> window = read_window(TrafficTable(store.traffic_dir), last=1000)  # doctest: +SKIP
        >>> window.n, sorted(window.attributes)[:2]
        (1000, ['asks_json', 'has_code'])
    """
    import duckdb

    if last is not None and last < 1:
        raise UsageError(f"last={last}: a window needs at least one request")
    upper = _utc(until, "until") if until is not None else None
    con = duckdb.connect()
    try:
        table.register(con)
        con.execute("SET TimeZone = 'UTC'")
        lower = _lower_bound(con, since, upper)
        where, params = _where(lower, upper, include_errors)
        selected = ", ".join(f"{_column_sql(name)} AS c{k}" for k, name in enumerate(columns))
        order = "timestamp DESC, request_id DESC" if last is not None else "timestamp, request_id"
        limit = f" LIMIT {int(last)}" if last is not None else ""
        inner = f"SELECT timestamp, request_id, columns{', ' if selected else ''}{selected} FROM traffic{where}"
        con.execute(f"CREATE TEMP TABLE w AS SELECT * FROM ({inner}) ORDER BY {order}{limit}", params)
        _check_columns(con, columns)
        fetched = {}
        if columns:
            rel = con.sql("SELECT * EXCLUDE (timestamp, columns, request_id) FROM w ORDER BY timestamp, request_id")
            fetched = {key: _numpy(raw) for key, raw in rel.fetchnumpy().items()}
        stamps = con.execute("SELECT epoch_us(min(timestamp)), epoch_us(max(timestamp)), count(*) FROM w").fetchall()[0]
    finally:
        con.close()
    attributes = {name: fetched[f"c{k}"] for k, name in enumerate(columns)}
    first, newest, n = stamps
    return TrafficWindow(attributes, int(n), _as_utc(first), _as_utc(newest), lower, upper, last)


def _as_utc(micros: Any) -> datetime | None:
    """A time from microseconds since the epoch (what DuckDB's epoch_us gives: no tz library needed)."""
    return None if micros is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))


def _lower_bound(con: Any, since: datetime | str | timedelta | None, upper: datetime | None) -> datetime | None:
    if since is None:
        return None
    if not isinstance(since, timedelta):
        return _utc(since, "since")
    if upper is None:
        (newest,) = con.execute("SELECT epoch_us(max(timestamp)) FROM traffic").fetchall()[0]
        last = _as_utc(newest)
        if last is None:
            return None
        # just past the newest request, so that a window of one day ends with it (and includes it)
        return last + timedelta(microseconds=1) - since
    return upper - since


def _where(lower: datetime | None, upper: datetime | None, include_errors: bool) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if lower is not None:
        clauses.append("timestamp >= ?")
        params.append(lower)
    if upper is not None:
        clauses.append("timestamp < ?")
        params.append(upper)
    if not include_errors:
        clauses.append("NOT is_error")
    return ((" WHERE " + " AND ".join(clauses)) if clauses else ""), params


def _check_columns(con: Any, columns: Sequence[str]) -> None:
    user = [(k, name) for k, name in enumerate(columns) if name not in _TABLE_COLUMNS]
    if not user:
        return
    (rows,) = con.execute("SELECT count(*) FROM w").fetchall()[0]
    for k, name in user:
        (present,) = con.execute(f"SELECT count(c{k}) FROM w").fetchall()[0]
        if rows and not present:
            keys = con.execute("SELECT DISTINCT unnest(json_keys(columns)) AS k FROM w ORDER BY k LIMIT 50")
            seen = [r[0] for r in keys.fetchall()]
            users = ", ".join(seen) if seen else "none (see --column at import)"
            raise UsageError(
                f"no request in the window has an attribute {name!r}; the derived attributes are "
                f"{', '.join(DERIVED_COLUMNS)}; user columns: {users}"
            )
