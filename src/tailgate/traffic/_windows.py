"""Window specs for ``tailgate drift``: parse ``--ref`` / ``--cur`` / ``--every`` and split the table.

A window is a run of consecutive requests of the table in (timestamp, request_id) order, so it is
resolved to a range of row numbers ``[lo, hi)`` over that order (:class:`Span`). Specs
(docs/drift.md, "Window specs"):

* ``START..END``: ISO 8601 times or dates (naive = UTC), start inclusive, end exclusive; either
  side may be empty (open) or a duration counted back from the newest request (``14d..7d``);
* a duration alone, ``7d`` / ``12h`` / ``30m`` / ``2w`` / ``90s``: that long, ending with the
  newest request (the same as ``7d..``);
* ``last:N`` / ``first:N``: the N newest / oldest requests.

A duration counts back from just past the newest request (as :func:`read_window` does), so
``1d`` ends with, and includes, the newest request: a replayed log has its own clock.

Defaults: no window given splits the table's requests in two halves by count (older half the
reference, newer half current; with an odd count the current half has one more). Only ``--cur``:
the reference is every request before it. Only ``--ref``: current is every request after it.

``--every 1d|6h|30m|10000``: consecutive windows over the whole table, by time (aligned to
multiples of the step since the Unix epoch, so ``1d`` windows are UTC days; windows with no
request are skipped) or by count (the last may be shorter). Window 0 is the reference.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from tailgate.errors import UsageError
from tailgate.traffic._schema import DERIVED_COLUMNS, TRAFFIC_COLUMNS
from tailgate.traffic._table import TrafficTable
from tailgate.traffic._window import _column_sql

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "COMPUTED_COLUMNS",
    "DRIFT_ATTRIBUTES",
    "MONITOR_ATTRIBUTES",
    "OUTPUT_ATTRIBUTES",
    "Every",
    "Span",
    "TableOrder",
    "WindowSpec",
    "parse_every",
    "parse_window",
    "read_spans",
    "read_texts",
    "resolve_pair",
    "split_every",
    "table_order",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_COUNT = re.compile(r"^\s*(last|first)\s*:\s*(\d+)\s*$")

COMPUTED_COLUMNS = {
    "chars": "length(input_text)",
    "response_chars": "length(response)",
}
"""Attributes computed from the table's columns: the request's and the logged answer's characters."""

DRIFT_ATTRIBUTES = (*DERIVED_COLUMNS, "chars")
"""The request attributes ``tailgate drift`` tests by default."""

MONITOR_ATTRIBUTES = ("lang", "input_tokens", "asks_json", "has_code", "chars", "turns")
"""The attributes the monitor watches by default: those of its calibration (docs/drift.md). Its
permutation draws cost in proportion to the joint cells of the attributes it watches."""

OUTPUT_ATTRIBUTES = ("response_chars", "latency_ms", "completion_tokens", "is_error")
"""Attributes of the logged outcome, tested by default where the log has them."""

_EXAMPLES = "e.g. 2026-11-01..2026-11-08, 7d, 14d..7d, last:10000, first:5000"


@dataclass(frozen=True)
class WindowSpec:
    """A parsed window spec.

    Attributes:
        text: the spec as given.
        kind: ``"range"`` (bounds in time) or ``"last"`` / ``"first"`` (a count).
        start: inclusive lower bound: an absolute time, a duration before the newest request, or None.
        end: exclusive upper bound, the same way.
        count: N of ``last:N`` / ``first:N``.
    """

    text: str
    kind: Literal["range", "last", "first"]
    start: datetime | timedelta | None = None
    end: datetime | timedelta | None = None
    count: int | None = None


@dataclass(frozen=True)
class Every:
    """``--every``: a step in time or a number of requests per window."""

    text: str
    step: timedelta | None = None
    count: int | None = None


@dataclass(frozen=True)
class Span:
    """A window resolved to rows ``[lo, hi)`` of the table in (timestamp, request_id) order.

    Attributes:
        name: ``ref``, ``cur`` or ``window K``.
        spec: the spec it came from (``"first half"`` for the default split).
        lo: its first row.
        hi: one past its last row.
        first: its first request's time (None when empty).
        last: its last request's time (None when empty).
    """

    name: str
    spec: str
    lo: int
    hi: int
    first: datetime | None
    last: datetime | None

    @property
    def n(self) -> int:
        return self.hi - self.lo

    def describe(self) -> str:
        """``"ref (first half): 1,000 requests, 2023-11-16 00:00:03 to 2023-11-16 00:59:58 UTC"``."""
        head = f"{self.name} ({self.spec})"
        if self.n == 0 or self.first is None or self.last is None:
            return f"{head}: 0 requests"
        fmt = "%Y-%m-%d %H:%M:%S"
        return f"{head}: {self.n:,} requests, {self.first.strftime(fmt)} to {self.last.strftime(fmt)} UTC"


def _bound(text: str, option: str, spec: str) -> datetime | timedelta | None:
    text = text.strip()
    if not text:
        return None
    m = _DURATION.match(text)
    if m:
        return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} '{spec}': '{text}' is neither an ISO 8601 time nor a duration (7d, 12h, 30m); {_EXAMPLES}"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_window(text: str, option: str = "--cur") -> WindowSpec:
    """Parse a window spec (module docstring); a bad spec is a :class:`UsageError` naming ``option``.

    Example:
        >>> parse_window("14d..7d").start
        datetime.timedelta(days=14)
        >>> parse_window("last:500").count
        500
    """
    m = _COUNT.match(text)
    if m:
        count = int(m.group(2))
        if count < 1:
            raise UsageError(f"{option} '{text}': a window needs at least one request")
        return WindowSpec(text, "last" if m.group(1) == "last" else "first", count=count)
    if ".." in text:
        left, _, right = text.partition("..")
        if ".." in right:
            raise UsageError(f"{option} '{text}': expected START..END; {_EXAMPLES}")
        start, end = _bound(left, option, text), _bound(right, option, text)
        if start is None and end is None:
            raise UsageError(f"{option} '{text}': give a start, an end or both; {_EXAMPLES}")
    else:
        start, end = _bound(text, option, text), None
        if start is None:
            raise UsageError(f"{option} '': empty window spec; {_EXAMPLES}")
        if isinstance(start, datetime):
            raise UsageError(
                f"{option} '{text}': a time alone is not a window; give START..END (or START..) or a duration"
            )
    if isinstance(start, datetime) and isinstance(end, datetime) and end <= start:
        raise UsageError(f"{option} '{text}': the end is not after the start")
    if isinstance(start, timedelta) and isinstance(end, timedelta) and end >= start:
        raise UsageError(f"{option} '{text}': {right.strip()} before the newest is not after {left.strip()} before it")
    return WindowSpec(text, "range", start=start, end=end)


def parse_every(text: str) -> Every:
    """``--every``: a duration (``1d``, ``6h``, ``30m``) or a count of requests (``10000``).

    Example:
        >>> parse_every("6h").step, parse_every("10000").count
        (datetime.timedelta(seconds=21600), 10000)
    """
    stripped = text.strip().replace("_", "").replace(",", "")
    if stripped.isdigit():
        if int(stripped) < 2:
            raise UsageError(f"--every '{text}': a window needs at least two requests")
        return Every(text, count=int(stripped))
    m = _DURATION.match(stripped)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"--every '{text}': expected a duration (1d, 6h, 30m) or a number of requests (10000)")
    return Every(text, step=timedelta(**{_UNITS[m.group(2)]: float(m.group(1))}))


# --- the table in time order ---------------------------------------------------------------------


def _micros(t: datetime) -> int:
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _time(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))


@dataclass(frozen=True)
class TableOrder:
    """The table's timestamps in (timestamp, request_id) order: what windows resolve against."""

    table: TrafficTable
    micros: np.ndarray
    """Microseconds since the epoch of every request, sorted."""

    @property
    def n(self) -> int:
        return int(self.micros.size)

    def span(self, name: str, spec: str, lo: int, hi: int) -> Span:
        lo, hi = max(0, min(lo, self.n)), max(0, min(hi, self.n))
        hi = max(lo, hi)
        if hi == lo:
            return Span(name, spec, lo, hi, None, None)
        return Span(name, spec, lo, hi, _time(int(self.micros[lo])), _time(int(self.micros[hi - 1])))

    def row(self, bound: datetime | timedelta | None, default: int) -> int:
        """The first row at or after a bound (a duration counts back from just past the newest)."""
        import numpy as np

        if bound is None:
            return default
        if isinstance(bound, timedelta):
            us = int(self.micros[-1]) + 1 - int(bound / timedelta(microseconds=1))
        else:
            us = _micros(bound)
        return int(np.searchsorted(self.micros, us, side="left"))

    def resolve(self, spec: WindowSpec, name: str) -> Span:
        if spec.kind == "last":
            return self.span(name, spec.text, self.n - (spec.count or 0), self.n)
        if spec.kind == "first":
            return self.span(name, spec.text, 0, spec.count or 0)
        return self.span(name, spec.text, self.row(spec.start, 0), self.row(spec.end, self.n))


def table_order(table: TrafficTable) -> TableOrder:
    """Read the table's timestamps in order (one int64 per request; DuckDB sorts)."""
    import duckdb
    import numpy as np

    con = duckdb.connect()
    try:
        table.register(con)
        rel = con.sql("SELECT epoch_us(timestamp) AS t FROM traffic ORDER BY timestamp, request_id")
        micros = np.asarray(rel.fetchnumpy()["t"], dtype=np.int64)
    finally:
        con.close()
    return TableOrder(table, micros)


def _iso(micros: int) -> str:
    return _time(micros).strftime("%Y-%m-%dT%H:%M:%SZ")


def _empty(order: TableOrder, span: Span, what: str) -> UsageError:
    where = f"{order.table.folder}"
    if order.n == 0:
        return UsageError(
            f"the traffic table in {where} holds no request; import logs with: tailgate import traffic FILE"
        )
    held = f"the table holds {order.n:,} requests, {_iso(int(order.micros[0]))} to {_iso(int(order.micros[-1]))}"
    return UsageError(f"window {what} ({span.spec}): {span.n} requests; {held}")


def resolve_pair(order: TableOrder, ref: WindowSpec | None, cur: WindowSpec | None) -> tuple[Span, Span]:
    """The (reference, current) windows of the specs, with the defaults of the module docstring.

    Raises:
        UsageError: a window holds fewer than two requests, or the two windows share requests.
    """
    if order.n == 0:
        raise _empty(order, order.span("ref", "", 0, 0), "ref")
    if ref is None and cur is None:
        half = order.n // 2
        pair = order.span("ref", "first half", 0, half), order.span("cur", "second half", half, order.n)
    elif ref is None:
        c = order.resolve(cur, "cur")  # type: ignore[arg-type]
        pair = order.span("ref", f"before {cur.text}", 0, c.lo), c  # type: ignore[union-attr]
    elif cur is None:
        r = order.resolve(ref, "ref")
        pair = r, order.span("cur", f"after {ref.text}", r.hi, order.n)
    else:
        pair = order.resolve(ref, "ref"), order.resolve(cur, "cur")
    for span in reversed(pair):  # the current window first: the one asked for most often
        if span.n < 2:
            raise _empty(order, span, span.name)
    r, c = pair
    shared = min(r.hi, c.hi) - max(r.lo, c.lo)
    if shared > 0:
        raise UsageError(
            f"the windows overlap: {shared:,} requests are in both ref ({r.spec}) and cur ({c.spec}); "
            "the tests compare two disjoint sets of requests"
        )
    return pair


def split_every(order: TableOrder, every: Every) -> list[Span]:
    """Consecutive windows over the whole table (module docstring); window 0 is the reference.

    Raises:
        UsageError: fewer than two windows.
    """
    import numpy as np

    if order.n == 0:
        raise _empty(order, order.span("window 0", every.text, 0, 0), "window 0")
    spans: list[Span] = []
    if every.count is not None:
        for k, lo in enumerate(range(0, order.n, every.count)):
            spans.append(
                order.span(f"window {k}", f"requests {lo + 1}-{min(lo + every.count, order.n)}", lo, lo + every.count)
            )
    else:
        step = int((every.step or timedelta(days=1)) / timedelta(microseconds=1))
        cells = order.micros // step
        starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
        ends = np.r_[starts[1:], order.n]
        for k, (lo, hi) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            begin = _time(int(cells[lo]) * step)
            spans.append(order.span(f"window {k}", f"{begin.isoformat().replace('+00:00', 'Z')} +{every.text}", lo, hi))
    if len(spans) < 2:
        raise UsageError(
            f"--every {every.text}: the table's {order.n:,} requests make {len(spans)} window; monitoring needs "
            "at least two (window 0 is the reference)"
        )
    return spans


# --- reading windows -----------------------------------------------------------------------------

_TABLE = {c.name: c for c in TRAFFIC_COLUMNS}
_NUMERIC_TYPES = ("int32", "int64", "double")


def _select(name: str) -> str:
    """SQL of an attribute; a user column is named as kept at import, or ``columns.KEY``."""
    if name not in _TABLE and name.startswith("columns."):
        name = name.removeprefix("columns.")
    return COMPUTED_COLUMNS.get(name) or _column_sql(name)


def _numpy(column: Any) -> np.ndarray:
    """An Arrow column as numpy: text dictionary-encoded to a fixed-width array (nulls ``(none)``),
    booleans as bool (nulls ``(none)`` as text), numbers as float (nulls NaN)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=float)
    if pa.types.is_boolean(col.type) and col.null_count == 0:
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_boolean(col.type):
        col = pc.cast(col, pa.string())
    encoded = pc.dictionary_encode(pc.fill_null(pc.cast(col, pa.string()), "(none)"))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    labels = np.array([str(x) for x in encoded.dictionary.to_pylist()] or [""], dtype=str)
    return labels[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]


def read_spans(order: TableOrder, spans: Sequence[Span], columns: Sequence[str]) -> list[dict[str, np.ndarray]]:
    """The attribute arrays of each span (one value per request, in time order).

    A name is a table column, a computed attribute (``chars``, ``response_chars``) or a user column
    (``--column`` at import). DuckDB reads only those columns of the rows the spans cover.

    Raises:
        UsageError: a name is none of these, or no request of the spans has it.
    """
    import duckdb

    if not spans:
        return []
    lo, hi = min(s.lo for s in spans), max(s.hi for s in spans)
    selected = ", ".join(f"{_select(name)} AS c{k}" for k, name in enumerate(columns)) or "1 AS c_"
    con = duckdb.connect()
    try:
        order.table.register(con)
        con.execute("SET TimeZone = 'UTC'")
        where, params = _key_range(con, order, Span("", "", lo, hi, None, None))
        inner = f"SELECT timestamp, request_id, columns, {selected} FROM traffic{where}"
        query = f"SELECT * EXCLUDE (timestamp, request_id, columns) FROM ({inner}) ORDER BY timestamp, request_id"
        arrow = con.sql(query, params=params).to_arrow_table()
        _check_user_columns(con, arrow, columns)
    finally:
        con.close()
    arrays = {name: _numpy(arrow.column(f"c{k}")) for k, name in enumerate(columns)}
    return [{name: a[s.lo - lo : s.hi - lo] for name, a in arrays.items()} for s in spans]


def _check_user_columns(con: Any, arrow: Any, columns: Sequence[str]) -> None:
    for k, name in enumerate(columns):
        if name in _TABLE or name in COMPUTED_COLUMNS:
            continue
        column = arrow.column(f"c{k}")
        if len(column) and column.null_count == len(column):
            keys = con.sql("SELECT DISTINCT unnest(json_keys(columns)) AS k FROM traffic ORDER BY k LIMIT 50")
            seen = [r[0] for r in keys.fetchall()]
            known = [*DERIVED_COLUMNS, *COMPUTED_COLUMNS, *OUTPUT_ATTRIBUTES[1:], "model", "status", "finish_reason"]
            raise UsageError(
                f"--attribute {name!r}: no request in the windows has it; attributes: {', '.join(known)}; "
                f"user columns: {', '.join(seen) if seen else 'none (see --column at import)'}"
            )


def _key_range(con: Any, order: TableOrder, span: Span) -> tuple[str, list[Any]]:
    """A WHERE clause selecting the span's rows by their (timestamp, request_id) keys, so that a
    query over the span needs no sort of the wide columns."""
    keys = "SELECT timestamp, request_id FROM traffic ORDER BY timestamp, request_id LIMIT 1 OFFSET ?"
    clauses, params = [], []
    if span.lo > 0:
        ts, rid = con.execute(keys, [span.lo]).fetchall()[0]
        clauses.append("(timestamp > ? OR (timestamp = ? AND request_id >= ?))")
        params += [ts, ts, rid]
    if span.hi < order.n:
        ts, rid = con.execute(keys, [span.hi]).fetchall()[0]
        clauses.append("(timestamp < ? OR (timestamp = ? AND request_id < ?))")
        params += [ts, ts, rid]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def read_texts(order: TableOrder, span: Span, limit: int, seed: int, max_chars: int = 2000) -> tuple[list[str], int]:
    """A uniformly random sample of at most ``limit`` input texts of a span (seeded, chosen by a hash
    of the request id: which texts are kept does not depend on what they say), each cut at
    ``max_chars`` characters; and how many requests the span has."""
    import duckdb

    con = duckdb.connect()
    try:
        order.table.register(con)
        where, params = _key_range(con, order, span)
        query = (
            f"SELECT left(input_text, {int(max_chars)}) FROM traffic{where} "
            f"ORDER BY hash(request_id || ':' || {int(seed)}), request_id LIMIT {int(limit)}"
        )
        texts = [str(r[0] or "") for r in con.execute(query, params).fetchall()]
    finally:
        con.close()
    return texts, span.n
