"""What the viewer shows, as JSON-ready data: built once per ``tailgate view`` from the library.

Two runs: :func:`tailgate.compare_runs`'s comparison (its slices with their deltas, intervals and
BH-adjusted p-values), the items tagged by :func:`tailgate.view._table.item_tags`. One run:
:func:`tailgate.report_run`'s report. Every number goes out as an estimate (value, interval, n),
built with the library's own estimators; every string from a run goes out neutralized (control
and bidi characters made visible) and is rendered as text by the page.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tailgate.analysis import Estimate, estimate_from_sums, load_run, reference_text
from tailgate.errors import UsageError
from tailgate.text import neutralize, neutralize_data
from tailgate.view._filter import Filter, parse_filter, quote
from tailgate.view._table import Selection, ViewTable, materialize

if TYPE_CHECKING:
    from tailgate.analysis import Comparison, Report, RunData
    from tailgate.store import Store

__all__ = ["MAX_TEXT", "PAGE", "ViewState", "comparing", "finite", "slice_filter", "write_json"]

PAGE = 100
"""Items per page of a list."""
MAX_TEXT = 200_000
"""Characters of one output (or input) sent to the page; the rest is counted, not sent."""
SNIPPET = 160
WORKER = "tailgate-view-compare"
WARM = "tailgate-view-warm"


def _warm() -> None:
    """Import what the first screen's intervals need (scipy.special, ~0.5 s) while the runs load:
    the import overlaps DuckDB's work, which runs without the GIL (0.1-0.2 s sooner, measured)."""
    import scipy.special  # noqa: F401


def comparing() -> bool:
    """A view's background work (the comparison) is still running in this process: a process that
    exits now should leave with ``os._exit`` (a daemon thread stopped inside DuckDB or an extension
    module's import aborts the interpreter's exit)."""
    return any(t.name in (WORKER, WARM) and t.is_alive() for t in threading.enumerate())


def slice_filter(name: str, kind: str) -> str:
    """The filter that lists the items of a slice of ``tailgate compare`` (``lang=de AND task=qa``)."""
    if kind == "variant":
        return f"variant:{quote(name.removeprefix('variant='))}"
    return " ".join(f"slice:{quote(part)}" for part in name.split(" AND "))


def _report_slice_filter(feature: str, value: str, level: str, table: ViewTable) -> str | None:
    """The filter of a report's slice, None for one of samples the filter cannot select (output JSON)."""
    if feature == "variant":
        return f"variant:{quote(value)}"
    if level == "item" and feature in table.features:
        return f"slice:{quote(f'{feature}={value}')}"
    return None


def _text(value: Any, width: int = MAX_TEXT) -> dict[str, Any] | None:
    """A run's string, neutralized and cut to ``width`` characters (with its full length)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return {"text": neutralize(text[:width]), "length": len(text)}


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, NaN as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def item_estimate(n: int, s: float, q: float, binary: bool, confidence: float) -> Estimate:
    """One item's mean score over its ``n`` scored samples, with an interval over those samples:
    Wilson for 0/1 scores, Student's t otherwise (none for a single sample)."""
    if n <= 0:
        return Estimate.no_interval("no scored sample", confidence=confidence)
    mean = s / n
    if binary:
        return Estimate.wilson(
            s, n, method="Wilson interval over the item's samples", n_items=1, n_samples=n, confidence=confidence
        )
    if n == 1:
        return Estimate.no_interval("one sample: no interval", value=mean, n_items=1, n_samples=1)
    sd = math.sqrt(max(q - n * mean * mean, 0.0) / (n - 1))
    return Estimate.t_interval(
        mean,
        sd / math.sqrt(n),
        n - 1,
        n_items=1,
        n_samples=n,
        method="t interval over the item's samples",
        confidence=confidence,
    )


def share(count: int, total: int, what: str, confidence: float) -> dict[str, Any]:
    """``count`` of ``total`` with the Wilson interval of the share."""
    if total <= 0:
        estimate = Estimate.no_interval(f"no {what}", confidence=confidence)
    else:
        estimate = Estimate.wilson(
            count, total, method=f"Wilson interval of the share of {what}", confidence=confidence
        )
    return {"count": count, "total": total, "share": estimate.as_dict()}


class ViewState:
    """The runs a viewer shows, loaded once; each method returns one API response's data.

    Two runs: the per-item table and the tags are made first (cheap); the comparison (its
    bootstrap and slice tests) is computed in the constructor, or with ``background=True`` in a
    thread, meanwhile :meth:`diff` answers with the tags and levels and ``pending: true``.
    """

    def __init__(
        self,
        store: Store,
        runs: list[str],
        comparison: str | Path | None = None,
        *,
        background: bool = False,
    ) -> None:
        from tailgate._api import report_run
        from tailgate.analysis import CompareOptions, load_comparison

        if not 1 <= len(runs) <= 2:
            raise UsageError("tailgate view takes one run (its report) or two (BASE CAND: their paired diff)")
        self.store = store
        self.run_ids = [store.resolve(r) for r in runs]
        self.mode = "diff" if len(self.run_ids) == 2 else "report"
        self.comparison: Comparison | None = None
        """The comparison of the two runs, once computed (None meanwhile, and with one run)."""
        self.report: Report | None = None
        self._lock = threading.Lock()  # the table's caches: one selection at a time
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._diff: dict[str, Any] | None = None
        self._first: dict[str, Any] | None = None
        saved: Comparison | None = None
        if comparison is not None and len(self.run_ids) != 2:
            raise UsageError("--comparison is the comparison of two runs: give BASE and CAND")
        if comparison is not None:
            # tailgate compare --json FILE's output, checked to be of these runs with the default options
            saved = load_comparison(str(comparison), self.run_ids[0], self.run_ids[1], CompareOptions())
        if self.mode == "diff":
            # compare_runs' defaults (those of a saved comparison too): the run's own pass threshold
            options = saved.options if saved is not None else CompareOptions()
            threshold: float | None = options.pass_threshold
            confidence = options.confidence
        else:
            self.report = report_run(self.run_ids[0], store=store)
            threshold = self.report.overview.pass_threshold
            confidence = self.report.options.confidence
            self._ready.set()
        self.data: list[RunData] = []
        if self.mode == "diff":
            threading.Thread(target=_warm, name=WARM, daemon=True).start()
        try:
            for run_id in self.run_ids:
                self.data.append(load_run(store, run_id, threshold))
            base = self.data[0] if len(self.data) == 2 else None
            self.table = ViewTable(self.data[-1], base, confidence)
        except BaseException:
            self.close()
            raise
        self.confidence = confidence
        self._all = self.table.select(Filter())
        if self.mode != "diff":
            return
        self._first = self._make_first()
        if saved is not None:
            self._finish(saved)
        elif background:
            threading.Thread(target=self._compute, name=WORKER, daemon=True).start()
        else:
            self._compute()
            if self._failure is not None:
                self.close()
                raise self._failure

    def _compute(self) -> None:
        """The comparison (tailgate compare's, on its own connections to the runs), then the diff."""
        from tailgate import _api

        try:
            self._finish(_api.compare_runs(self.run_ids[0], self.run_ids[1], store=self.store))
        except BaseException as exc:  # (kept: the API reports it, wait() raises it)
            self._failure = exc
            self._ready.set()

    def _finish(self, comparison: Comparison) -> None:
        diff = self._make_diff(comparison)
        self._diff = diff
        self.comparison = comparison
        self._ready.set()

    @property
    def ready(self) -> bool:
        """The comparison is computed (or failed): :meth:`diff` has everything."""
        return self._ready.is_set()

    def wait(self, timeout: float | None = None) -> Comparison | None:
        """Wait for the comparison (None with one run).

        Raises:
            TimeoutError: not computed within ``timeout`` seconds.
            Exception: what computing the comparison raised.
        """
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the comparison is not computed after {timeout} s")
        if self._failure is not None:
            raise self._failure
        return self.comparison

    def close(self) -> None:
        for data in self.data:
            data.close()
        self.data = []

    # -- responses ----------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        runs = []
        for data in self.data:
            runs.append({"run_id": neutralize(data.run_id), "model": neutralize(data.manifest.model.spec)})
        return {
            "mode": self.mode,
            "runs": runs,
            "items": self.table.size,
            "page": PAGE,
            "attributes": sorted(neutralize(k) for k in self.table.features),
        }

    def diff(self) -> dict[str, Any]:
        """The paired diff: the comparison (without its plot data), the tag counts, each slice's
        levels (made once: the first screen of every visit), with ``pending: false``. While the
        comparison is computed (``background=True``): the tags and each run's level only, with
        ``pending: true``.

        Raises:
            Exception: what computing the comparison raised.
        """
        if self.mode != "diff":
            raise UsageError("one run: there is no diff (give two runs)")
        if self._failure is not None:
            raise self._failure
        if self._diff is not None:
            return self._diff
        assert self._first is not None
        return self._first

    def _make_first(self) -> dict[str, Any]:
        """What the first screen shows before the comparison: the tags and the overall levels."""
        return {
            "pending": True,
            "tags": self._tag_shares(self._all),
            "n_tagged": int(self._all.rows.size),
            "levels": self._levels(self._all),
            "options": {"confidence": self.confidence},
        }

    def _make_diff(self, comparison: Comparison) -> dict[str, Any]:
        out = comparison.as_dict()
        out.pop("plots", None)
        out["pending"] = False
        out["tags"] = self._tag_shares(self._all)
        out["n_tagged"] = int(self._all.rows.size)
        for row in out["slices"]:
            row["filter"] = slice_filter(row["slice"], row["kind"])
            with self._lock:
                chosen = self.table.select(parse_filter(row["filter"]))
            row["levels"] = self._levels(chosen)
        out["levels"] = self._levels(self._all)
        return dict(neutralize_data(out))

    def report_data(self) -> dict[str, Any]:
        if self.report is None:
            raise UsageError("two runs: the first screen is the diff")
        out = self.report.as_dict()
        out.pop("plots", None)
        for key in ("slices", "worst_slices"):
            for row in out.get(key, []):
                row["filter"] = _report_slice_filter(row["feature"], row["value"], row["level"], self.table)
        for row in out.get("worst_items", []):
            k = self.table.row(str(row["item_id"]))
            row["view"] = None if k is None else self._row(self._all, k)
        return dict(neutralize_data(out))

    def items(self, text: str, offset: int = 0, limit: int = PAGE) -> dict[str, Any]:
        """The items a filter selects, worst first, one page of them."""
        filt = parse_filter(text)
        with self._lock:
            chosen = self.table.select(filt)
        ordered = chosen.ordered()
        page = ordered[max(offset, 0) : max(offset, 0) + max(min(limit, 1000), 1)]
        rows = [self._row(chosen, int(k)) for k in page.tolist()]
        total = self._all.rows.size
        out: dict[str, Any] = {
            "filter": filt.text(),
            "matched": share(int(ordered.size), int(total), "items", self.confidence),
            "offset": int(offset),
            "rows": rows,
        }
        if chosen.tags is not None:
            out["tags"] = self._tag_shares(chosen)
        out["levels"] = self._levels(chosen)
        return out

    def item(self, item_id: str) -> dict[str, Any]:
        """One item: its input, reference, attributes, and each run's samples in answer classes.

        Raises:
            KeyError: no such item in the view.
        """
        row = self.table.row(item_id)
        if row is None:
            raise KeyError(item_id)
        owner = self.table.owner
        for data in self.data:
            materialize(data)
        raw = owner.query("SELECT input, reference FROM view_items WHERE item_id = ?", [item_id])
        fields = json.loads(raw["input"][0]) if raw["input"].size and raw["input"][0] else {}
        if not isinstance(fields, dict):
            fields = {"input": fields}
        roles = ["base", "cand"] if len(self.data) == 2 else ["run"]
        return {
            "item_id": neutralize(item_id),
            "source_id": _plain(self.table.source_ids[row]),
            "input": {neutralize(str(k)): _text(v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items()},
            "reference": _text(reference_text(raw["reference"][0], MAX_TEXT) if raw["reference"].size else None),
            "attributes": {
                neutralize(k): None if v[row] is None else neutralize(str(v[row]))
                for k, v in self.table.features.items()
            },
            **self._row(self._all, row, snippet=False),
            "sides": [self._samples(role, data, item_id) for role, data in zip(roles, self.data, strict=True)],
        }

    # -- parts --------------------------------------------------------------------------------
    def _tag_shares(self, chosen: Selection) -> dict[str, Any]:
        counts = chosen.tag_counts()
        total = sum(counts.values())
        return {tag: share(count, total, "items", self.confidence) for tag, count in counts.items()}

    def _levels(self, chosen: Selection) -> dict[str, Any]:
        """Each run's mean score over the chosen items (the comparison's estimator, on their sums)."""
        rows = chosen.rows
        binary = self.table.binary
        out = {"cand": estimate_from_sums(chosen.cand.n[rows], chosen.cand.s[rows], binary, self.confidence).as_dict()}
        if chosen.base is not None:
            out["base"] = estimate_from_sums(
                chosen.base.n[rows], chosen.base.s[rows], binary, self.confidence
            ).as_dict()
        return out

    def _row(self, chosen: Selection, row: int, snippet: bool = True) -> dict[str, Any]:
        summary = chosen.summary(row)
        out: dict[str, Any] = {
            "item_id": neutralize(str(self.table.item_ids[row])),
            "source_id": None if self.table.source_ids[row] is None else neutralize(str(self.table.source_ids[row])),
        }
        if snippet:
            out["input"] = _text(self.table.texts[row], SNIPPET)
        if "tag" in summary:
            out["tag"] = summary["tag"]
        for role in ("base", "cand"):
            if role not in summary:
                continue
            counts = summary[role]
            estimate = item_estimate(counts["n"], counts["s"], counts["q"], self.table.binary, self.confidence)
            out[role] = {
                "score": estimate.as_dict(),
                "latency_max": counts["latency"],
                "samples": counts["n"],
            }
        return out

    def _samples(self, role: str, data: RunData, item_id: str) -> dict[str, Any]:
        rows = data.query(
            """SELECT variant, "repeat", sample_id, prompt, output, answer, score, latency_ms, error_class, answer_class
               FROM view_records WHERE item_id = ? ORDER BY variant, "repeat", sample_id""",
            [item_id],
        )
        threshold = float(data.pass_threshold)
        samples = []
        classes: dict[tuple[str, str], dict[str, Any]] = {}
        for k in range(rows["sample_id"].size):
            score = _plain(rows["score"][k])
            sample = {
                "variant": neutralize(str(rows["variant"][k])),
                "repeat": int(rows["repeat"][k]),
                "output": _text(rows["output"][k]),
                "answer": _text(rows["answer"][k], 2000),
                "score": score,
                "passed": None if score is None else bool(score >= threshold),
                "latency_ms": _plain(rows["latency_ms"][k]),
                "error": _plain(rows["error_class"][k]),
            }
            samples.append(sample)
            answer = str(rows["answer_class"][k])
            key = (sample["variant"], neutralize(answer if len(answer) <= 500 else answer[:499] + "…"))
            entry = classes.setdefault(
                key,
                {
                    "variant": key[0],
                    "answer": key[1],
                    "count": 0,
                    "passed": 0,
                    "example": sample["output"],
                    "repeats": [],
                    "prompt": _text(rows["prompt"][k], 4000),
                },
            )
            entry["count"] += 1
            entry["passed"] += int(bool(sample["passed"]))
            entry["repeats"].append(sample["repeat"])
        per_variant = Counter(sample["variant"] for sample in samples)
        grouped = sorted(classes.values(), key=lambda c: (c["variant"], -c["count"], c["answer"]))
        for entry in grouped:
            entry["share"] = share(entry["count"], per_variant[entry["variant"]], "samples", self.confidence)
        return {
            "role": role,
            "run_id": neutralize(data.run_id),
            "model": neutralize(data.manifest.model.spec),
            "classes": grouped,
            "samples": samples,
        }


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity as None: JSON has neither (the page's JSON.parse
    would refuse the whole response)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    path.write_text(text, encoding="utf-8")
