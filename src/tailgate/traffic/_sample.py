"""Production-adjacent test sets: a stratified sample of a traffic window, written as a runnable suite.

The steps (docs/sample.md):

1. **Window.** DuckDB reads the requests with ``since <= timestamp < until`` from the traffic
   table's Parquet parts and keeps one row per distinct input (``input_id``: its latest request,
   with ``freq`` = how many requests of the window sent it); the strata are the distinct values
   of the ``stratify`` columns. The engine does the filtering, grouping and random ordering
   (``md5(input_id || ':' || seed)``), spilling to disk past 1 GB; Python only sees the strata's
   counts and the candidates it is about to keep.
2. **Allocation** (:func:`~tailgate.traffic._allocate.allocate`): proportional to each stratum's
   requests, with ``min_per_slice`` and the ``oversample`` floors.
3. **Candidates** are read in their random order per stratum, PII scrubbed
   (:class:`~tailgate.traffic._scrub.Scrubber`), and kept unless a kept one is a near-duplicate
   (:class:`~tailgate.traffic._dedup.NearDuplicates`); a stratum short of its allocation after
   near-duplicates reads further candidates.
4. **Weights.** Within stratum h, M_h distinct inputs stand for N_h requests and n_h were kept
   uniformly at random, so an item whose input was sent ``freq`` times stands for
   ``freq * M_h / n_h`` requests (the Horvitz-Thompson weight of the request-weighted mean):
   ``sum(w_i y_i) / sum(w_i)`` re-weights any per-item score back to the window's traffic mix.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import UsageError
from tailgate.traffic._allocate import Stratum, allocate, spread_floor
from tailgate.traffic._dedup import DEFAULT_THRESHOLD, NearDuplicates
from tailgate.traffic._schema import DERIVED_COLUMNS
from tailgate.traffic._scrub import KINDS, Scrubber
from tailgate.traffic._table import TrafficTable

__all__ = [
    "SAMPLE_COLUMNS",
    "SampleOptions",
    "SampledStratum",
    "SampledSuite",
    "parse_time",
    "sample_traffic",
]

SAMPLE_COLUMNS = (*DERIVED_COLUMNS, "model", "status", "is_error", "finish_reason")
"""Columns of the traffic table a sample can be stratified on (and ``columns.KEY``)."""
_ALIASES = {"length": "input_tokens", "language": "lang"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NONE = "(none)"


def parse_time(value: str, now: datetime, option: str) -> datetime:
    """``7d``, ``12h``, ``30m``, ``2w``, ``90s`` before ``now``, or an ISO 8601 date or time (naive = UTC)."""
    m = _DURATION.match(value)
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"{option} '{value}': expected a duration back from --until (7d, 12h, 30m, 2w) or an ISO 8601 "
            "time (2024-05-01, 2024-05-01T10:00:00Z)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True)
class SampleOptions:
    """What ``tailgate sample`` is asked for (its options; docs/sample.md)."""

    n: int = 300
    """Items wanted in all."""
    since: str = "7d"
    """Start of the window: a duration back from ``until`` (``7d``) or an ISO 8601 time."""
    until: str | None = None
    """End of the window (exclusive): an ISO 8601 time, or a duration back from now; None = now."""
    stratify: tuple[str, ...] = ("lang", "input_tokens")
    """Columns whose value combinations are the strata (``length`` = ``input_tokens``)."""
    min_per_slice: int = 5
    """Each stratum gets at least this many items (all its inputs if it has fewer)."""
    oversample: Mapping[str, int] = field(default_factory=dict)
    """``"lang=de"`` (or ``"lang=de,input_tokens=<100"``) -> at least this many items in that slice."""
    seed: int = 0
    """Seed of the random order (the same seed and table give the same suite)."""
    dedup_threshold: float = DEFAULT_THRESHOLD
    """Jaccard similarity of character 5-grams from which two inputs are near-duplicates."""
    repeats: int = 3
    """The suite's repeats (for consistency over repeats)."""
    name: str | None = None
    """The suite's name (default ``traffic-<since>-<until>``)."""
    now: datetime | None = None
    """The time durations count back from (default: the clock); for reproducible tests."""


@dataclass(frozen=True)
class SampledStratum:
    """One stratum of the window and what the sample took from it."""

    values: tuple[tuple[str, str], ...]
    """(column, value) pairs."""
    requests: int
    """Requests of the window in the stratum (N_h)."""
    inputs: int
    """Distinct inputs (M_h)."""
    allocated: int
    """Items the allocation gave it."""
    sampled: int
    """Items kept (fewer than allocated when near-duplicates exhausted its inputs)."""
    near_duplicates: int
    """Candidates dropped as near-duplicates of a kept item."""

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "slice": dict(self.values),
            "requests": self.requests,
            "inputs": self.inputs,
            "allocated": self.allocated,
            "sampled": self.sampled,
            "near_duplicates": self.near_duplicates,
        }


@dataclass(frozen=True)
class SampledSuite:
    """A written suite and how it was drawn (``sampling.json`` holds the same)."""

    suite: Path
    items_file: Path
    metadata_file: Path
    since: datetime
    until: datetime
    stratify: tuple[str, ...]
    window_requests: int
    window_inputs: int
    strata: tuple[SampledStratum, ...]
    items: int
    near_duplicates: int
    pii: Mapping[str, int]
    """Replacements per kind, over all items (inputs and logged answers)."""
    items_with_pii: int
    seed: int
    dedup_threshold: float
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": str(self.suite),
            "items_file": str(self.items_file),
            "metadata_file": str(self.metadata_file),
            "window": {"since": _iso(self.since), "until": _iso(self.until)},
            "stratify": list(self.stratify),
            "window_requests": self.window_requests,
            "window_inputs": self.window_inputs,
            "items": self.items,
            "near_duplicates": self.near_duplicates,
            "dedup_threshold": self.dedup_threshold,
            "pii": dict(self.pii),
            "items_with_pii": self.items_with_pii,
            "seed": self.seed,
            "strata": [s.as_dict() for s in self.strata],
            "warnings": list(self.warnings),
        }


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _column_expr(name: str) -> str:
    if name.startswith("columns."):
        key = name.removeprefix("columns.").replace("\\", "\\\\").replace('"', '\\"').replace("'", "''")
        return f"coalesce(json_extract_string(\"columns\", '$.\"{key}\"'), '{_NONE}')"
    return f"coalesce(CAST(\"{name}\" AS VARCHAR), '{_NONE}')"


def _resolve_columns(stratify: Sequence[str]) -> tuple[str, ...]:
    if not stratify:
        raise UsageError("--stratify needs at least one column (e.g. lang,length)")
    out = []
    for raw in stratify:
        name = _ALIASES.get(raw.strip(), raw.strip())
        if name not in SAMPLE_COLUMNS and not (name.startswith("columns.") and len(name) > len("columns.")):
            raise UsageError(
                f"--stratify: unknown column '{raw}'; known: {', '.join(SAMPLE_COLUMNS)}, length (= input_tokens), "
                "or columns.KEY for a column kept at import (--column KEY)"
            )
        if name in out:
            raise UsageError(f"--stratify names '{raw}' twice")
        out.append(name)
    return tuple(out)


class _Window:
    """The DuckDB side: the window's distinct inputs (``pool``) with their strata and random rank."""

    def __init__(self, table: TrafficTable, columns: tuple[str, ...], since: datetime, until: datetime, seed: int):
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET memory_limit = '1GB'")
        spill = str(Path(tempfile.gettempdir()) / "tailgate-duckdb").replace("'", "''")
        self.con.execute(f"SET temp_directory = '{spill}'")
        table.register(self.con)
        self.columns = columns
        self.keys = [f"s{i}" for i in range(len(columns))]
        exprs = ", ".join(f"{_column_expr(c)} AS {k}" for c, k in zip(columns, self.keys, strict=True))
        keys = ", ".join(self.keys)
        self.con.execute(
            f"""
            CREATE TEMP TABLE pool AS
            SELECT request_id, input_id, freq, {keys},
                   row_number() OVER (PARTITION BY {keys} ORDER BY md5(input_id || ':' || $seed), input_id) AS rk
            FROM (
                SELECT request_id, input_id, {exprs},
                       count(*) OVER (PARTITION BY input_id) AS freq,
                       row_number() OVER (PARTITION BY input_id ORDER BY timestamp DESC, request_id) AS latest
                FROM traffic WHERE timestamp >= $since AND timestamp < $until
            ) WHERE latest = 1
            """,
            {"seed": str(seed), "since": since, "until": until},
        )

    def close(self) -> None:
        self.con.close()

    def strata(self) -> list[Stratum]:
        keys = ", ".join(self.keys)
        rows = self.con.execute(
            f"SELECT {keys}, sum(freq)::BIGINT, count(*) FROM pool GROUP BY ALL ORDER BY {keys}"
        ).fetchall()
        k = len(self.keys)
        return [Stratum(tuple(str(v) for v in r[:k]), int(r[k]), int(r[k + 1])) for r in rows]

    def candidates(self, ranges: list[tuple[tuple[str, ...], int, int]]) -> list[dict[str, Any]]:
        """The traffic rows of the inputs ranked ``lo < rk <= hi`` in each stratum, in (stratum, rank) order."""
        import pyarrow as pa

        spec = pa.table(
            {
                **{key: [r[0][i] for r in ranges] for i, key in enumerate(self.keys)},
                "lo": [r[1] for r in ranges],
                "hi": [r[2] for r in ranges],
                "ord": list(range(len(ranges))),
            }
        )
        self.con.register("ranges", spec)
        on = " AND ".join(f"p.{key} = g.{key}" for key in self.keys)
        rows = self.con.sql(
            f"""
            SELECT g.ord, p.rk, p.freq, t.*
            FROM pool p JOIN ranges g ON {on} AND p.rk > g.lo AND p.rk <= g.hi
            JOIN traffic t ON t.request_id = p.request_id
            ORDER BY g.ord, p.rk
            """
        ).to_arrow_table()
        self.con.unregister("ranges")
        return rows.to_pylist()  # type: ignore[no-any-return]

    def table_range(self) -> tuple[int, datetime | None, datetime | None]:
        """Requests in the whole table, and its first and last times."""
        row = self.con.execute(
            "SELECT count(*), epoch_us(min(timestamp)), epoch_us(max(timestamp)) FROM traffic"
        ).fetchone()
        assert row is not None

        def at(us: int | None) -> datetime | None:
            return None if us is None else datetime.fromtimestamp(us / 1e6, UTC)

        return int(row[0]), at(row[1]), at(row[2])

    def user_column_present(self, key: str) -> bool:
        expr = _column_expr(key)
        row = self.con.execute(f"SELECT count(*) FROM traffic WHERE {expr} <> '{_NONE}'").fetchone()
        return bool(row and row[0])


def _oversample_floors(
    oversample: Mapping[str, int], columns: tuple[str, ...], strata: list[Stratum]
) -> dict[int, int]:
    floors: dict[int, int] = {}
    for spec, count in oversample.items():
        wanted: dict[int, str] = {}
        for part in spec.split(","):
            col, sep, value = part.partition("=")
            name = _ALIASES.get(col.strip(), col.strip())
            if not sep or name not in columns:
                raise UsageError(
                    f"--oversample '{spec}={count}': expected COLUMN=VALUE[,COLUMN=VALUE]=N with COLUMN one of the "
                    f"--stratify columns ({', '.join(columns)})"
                )
            wanted[columns.index(name)] = value.strip()
        if count < 1:
            raise UsageError(f"--oversample '{spec}={count}': N must be at least 1")
        matching = [i for i, s in enumerate(strata) if all(s.values[c] == v for c, v in wanted.items())]
        if not matching:
            seen = sorted({s.values[c] for s in strata for c in wanted})
            raise UsageError(
                f"--oversample '{spec}': no request in the window is in that slice (values seen: {', '.join(seen)})"
            )
        for i, share in zip(matching, spread_floor([strata[i] for i in matching], count), strict=True):
            floors[i] = max(floors.get(i, 0), share)
    return floors


@dataclass
class _Progress:
    kept: int = 0
    dups: int = 0
    read: int = 0  # ranks read so far


def _flatten(messages: list[dict[str, str]]) -> tuple[str, bool]:
    """The text sent as the item's one user message: a lone user message as it is, else a transcript."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"], False
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages), True


def _attribute(value: Any) -> Any:
    return value if isinstance(value, (str, bool, int, float)) or value is None else str(value)


class _Builder:
    """Turns candidate rows into items: scrub, near-duplicate check, fields and attributes."""

    def __init__(self, columns: tuple[str, ...], threshold: float) -> None:
        self.columns = columns
        self.scrubber = Scrubber()
        self.index = NearDuplicates(threshold)
        self.pii: dict[str, int] = {}
        self.items_with_pii = 0

    def item(self, row: dict[str, Any], stratum: Stratum) -> dict[str, Any] | None:
        counts: dict[str, int] = {}

        def clean(text: str | None) -> str | None:
            if text is None:
                return None
            out, found = self.scrubber.scrub(text)
            for kind, c in found.items():
                counts[kind] = counts.get(kind, 0) + c
            return out

        if row["messages"] is not None:
            messages = [{**m, "content": clean(m["content"]) or ""} for m in orjson.loads(row["messages"])]
            prompt, flattened = _flatten(messages)
        else:
            prompt, flattened = clean(row["prompt"]) or "", False
        if self.index.add(row["request_id"], prompt) is not None:
            return None
        baseline = clean(row["response"])
        for kind, count in counts.items():
            self.pii[kind] = self.pii.get(kind, 0) + count
        self.items_with_pii += bool(counts)
        user = orjson.loads(row["columns"] or "{}")
        attributes = {c: _attribute(row[c]) for c in DERIVED_COLUMNS}
        for c in self.columns:
            if c.startswith("columns."):
                attributes[c] = _attribute(user.get(c.removeprefix("columns.")))
            elif c not in attributes:
                attributes[c] = _attribute(row[c])
        return {
            "request_id": row["request_id"],
            "timestamp": _iso(row["timestamp"]),
            "prompt": prompt,
            "flattened": flattened,
            "baseline": baseline,
            "model": row["model"],
            "status": row["status"],
            "requests": int(row["freq"]),
            "stratum": ", ".join(f"{c}={v}" for c, v in zip(self.columns, stratum.values, strict=True)),
            "pii": {k: counts[k] for k in KINDS if k in counts},
            **attributes,
        }


def _draw(
    window: _Window, strata: list[Stratum], alloc: list[int], builder: _Builder
) -> tuple[list[list[dict[str, Any]]], list[_Progress]]:
    """Keep up to ``alloc[h]`` items per stratum, reading candidates in rank order, in rounds."""
    kept: list[list[dict[str, Any]]] = [[] for _ in strata]
    progress = [_Progress() for _ in strata]
    while True:
        ranges = []
        for h, (s, want) in enumerate(zip(strata, alloc, strict=True)):
            short = want - progress[h].kept
            if short > 0 and progress[h].read < s.inputs:
                hi = min(s.inputs, progress[h].read + max(short + short // 2 + 5, 2 * short))
                ranges.append((s.values, progress[h].read, hi, h))
        if not ranges:
            return kept, progress
        rows = window.candidates([(v, lo, hi) for v, lo, hi, _ in ranges])
        for _, _, hi, h in ranges:
            progress[h].read = hi
        for row in rows:
            h = ranges[int(row["ord"])][3]
            if progress[h].kept >= alloc[h]:
                continue
            item = builder.item(row, strata[h])
            if item is None:
                progress[h].dups += 1
                continue
            kept[h].append(item)
            progress[h].kept += 1


def _suite_yaml(name: str, description: str, attributes: list[str], repeats: int) -> str:
    import yaml

    body = {
        "name": name,
        "description": description,
        "dataset": {"path": "items.jsonl", "id": "request_id", "attributes": attributes},
        "templates": [
            {"name": "original", "messages": [{"role": "user", "content": "{{ prompt }}"}], "text": "{{ prompt }}"}
        ],
        "repeats": repeats,
        "decoding": {"temperature": 0.7, "top_p": 0.95, "max_tokens": 1024, "seed": 0},
        "scorers": [
            {"name": "agreement", "type": "agreement", "method": "normalized"},
            {"name": "json_valid", "type": "json_valid", "when": {"asks_json": True}},
        ],
    }
    head = (
        "# Written by `tailgate sample` from production traffic (docs/sample.md). Items keep their\n"
        "# traffic id, timestamp and attributes; `baseline` is the logged production answer (PII\n"
        "# scrubbed), which the `agreement` scorer compares with; `sampling_weight` re-weights an item\n"
        "# back to the window's traffic mix (sampling.json has the strata). Edit freely.\n"
    )
    return head + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: exists and is not a folder")
    existing = [p.name for p in (out / "suite.yaml", out / "items.jsonl", out / "sampling.json") if p.exists()]
    if existing and not force:
        raise UsageError(f"-o {out}: already holds {', '.join(existing)}; choose another folder or pass --force")


def _empty_window(window: _Window, since: datetime, until: datetime) -> UsageError:
    total, first, last = window.table_range()
    where = f"between {_iso(since)} and {_iso(until)}"
    if not total:
        return UsageError(
            f"no request {where}: the traffic table is empty (import logs with `tailgate import traffic`)"
        )
    assert first is not None
    assert last is not None
    return UsageError(
        f"no request {where}: the traffic table holds {total} requests from {_iso(first)} to {_iso(last)}; "
        "choose the window with --since and --until"
    )


def sample_traffic(traffic_dir: Path, out: Path, options: SampleOptions, *, force: bool = False) -> SampledSuite:
    """Draw a stratified, de-duplicated, PII-scrubbed sample of a traffic window and write it as a
    suite (``out/suite.yaml``, ``out/items.jsonl``, ``out/sampling.json``); see the module docstring.

    Raises:
        UsageError: an empty window, an unknown stratify column, ``n`` below the strata minimums,
            an oversampled slice with no request, an output folder that already holds a suite.
        MissingDependency: ``datasketch`` or ``presidio-analyzer`` is not installed.
    """
    if options.n < 1:
        raise UsageError(f"--n must be at least 1, got {options.n}")
    columns = _resolve_columns(options.stratify)
    now = options.now or datetime.now(UTC)
    until = parse_time(options.until, now, "--until") if options.until else now
    since = parse_time(options.since, until, "--since")
    if since >= until:
        raise UsageError(f"the window is empty: --since {_iso(since)} is not before --until {_iso(until)}")
    _check_out(out, force)
    strata, alloc, kept, progress, builder = _sample_window(TrafficTable(traffic_dir), columns, since, until, options)
    rows = [
        {**item, "sampling_weight": round(item["requests"] * strata[h].inputs / len(items), 6)}
        for h, items in enumerate(kept)
        for item in items
    ]
    result = SampledSuite(
        suite=out / "suite.yaml",
        items_file=out / "items.jsonl",
        metadata_file=out / "sampling.json",
        since=since,
        until=until,
        stratify=columns,
        window_requests=sum(s.requests for s in strata),
        window_inputs=sum(s.inputs for s in strata),
        strata=tuple(
            SampledStratum(tuple(zip(columns, s.values, strict=True)), s.requests, s.inputs, a, p.kept, p.dups)
            for s, a, p in zip(strata, alloc, progress, strict=True)
        ),
        items=len(rows),
        near_duplicates=sum(p.dups for p in progress),
        pii={k: builder.pii[k] for k in KINDS if k in builder.pii},
        items_with_pii=builder.items_with_pii,
        seed=options.seed,
        dedup_threshold=options.dedup_threshold,
        warnings=tuple(_warnings(strata, alloc, progress, options, columns)),
    )
    _write_suite(result, rows, options)
    return result


def _sample_window(
    table: TrafficTable, columns: tuple[str, ...], since: datetime, until: datetime, options: SampleOptions
) -> tuple[list[Stratum], list[int], list[list[dict[str, Any]]], list[_Progress], _Builder]:
    """Strata, allocation and the kept items of the window (steps 1-3 of the module docstring)."""
    window = _Window(table, columns, since, until, options.seed)
    try:
        for c in columns:
            if c.startswith("columns.") and not window.user_column_present(c):
                raise UsageError(
                    f"--stratify: no request has the column '{c.removeprefix('columns.')}' (--column at import)"
                )
        strata = window.strata()
        if not strata:
            raise _empty_window(window, since, until)
        floors = _oversample_floors(options.oversample, columns, strata)
        alloc = allocate(strata, options.n, options.min_per_slice, floors)
        builder = _Builder(columns, options.dedup_threshold)
        kept, progress = _draw(window, strata, alloc, builder)
    finally:
        window.close()
    return strata, alloc, kept, progress, builder


def _write_suite(result: SampledSuite, rows: list[dict[str, Any]], options: SampleOptions) -> None:
    since, until, columns = result.since, result.until, result.stratify
    name = options.name or f"traffic-{since:%Y%m%d}-{until:%Y%m%d}"
    description = (
        f"{len(rows)} requests sampled from production traffic between {_iso(since)} and {_iso(until)}, "
        f"stratified on {', '.join(columns)}."
    )
    attributes = list(dict.fromkeys([*DERIVED_COLUMNS, *columns]))
    asked = {
        "n": options.n,
        "min_per_slice": options.min_per_slice,
        "oversample": dict(options.oversample),
        "repeats": options.repeats,
    }
    result.suite.parent.mkdir(parents=True, exist_ok=True)
    _write(result.items_file, b"".join(orjson.dumps(r) + b"\n" for r in rows))
    metadata = {**result.as_dict(), "options": asked}
    _write(result.metadata_file, orjson.dumps(metadata, option=orjson.OPT_INDENT_2) + b"\n")
    _write(result.suite, _suite_yaml(name, description, attributes, options.repeats).encode("utf-8"))


def _warnings(
    strata: list[Stratum], alloc: list[int], progress: list[_Progress], options: SampleOptions, columns: tuple[str, ...]
) -> list[str]:
    out = []
    total_inputs = sum(s.inputs for s in strata)
    if total_inputs < options.n:
        out.append(f"the window has only {total_inputs} distinct inputs: all are taken, fewer than --n {options.n}")
    thin = [
        ", ".join(f"{c}={v}" for c, v in zip(columns, s.values, strict=True))
        for s in strata
        if s.inputs < options.min_per_slice
    ]
    if thin:
        shown = "; ".join(thin[:5]) + (f"; and {len(thin) - 5} more" if len(thin) > 5 else "")
        out.append(
            f"{len(thin)} slices have fewer than --min-per-slice {options.min_per_slice} inputs (all taken): {shown}"
        )
    short = sum(a - p.kept for a, p in zip(alloc, progress, strict=True) if p.kept < a)
    if short:
        out.append(f"{short} allocated items could not be filled: the slices ran out of inputs after near-duplicates")
    return out
