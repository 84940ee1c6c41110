"""Read a shadow session's runs from the store and report on them (:func:`shadow_report`).

The runs follow docs/shadow.md's storage contract: ``SESSION-primary``, ``SESSION-candidate``
(``-candidate-2``, ...) and ``SESSION-noise``, one record per mirrored request key
(``item_id``); the items (from the primary run) carry the request's traffic attributes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from tailgate.analysis._shadow import CandidateReport, ShadowOptions, ShadowReport, ShadowSide, candidate_report
from tailgate.errors import RunNotFound, StoreError
from tailgate.store import Store

__all__ = ["shadow_pair", "shadow_report"]

_COLUMNS = ["item_id", "output", "latency_ms", "error_class"]


def shadow_report(store: Store, session: str, options: ShadowOptions | None = None) -> ShadowReport:
    """The statistics of a shadow session: each candidate's agreement with the primary against
    the primary's own noise floor, per slice, with latency, error, refusal, JSON and length deltas.

    Raises:
        RunNotFound: no ``SESSION-primary`` run.
        StoreError: the session has no mirrored request, or no candidate run.

    Example:
        >>> report = shadow_report(Store(), "shadow-20261203-080000-ab12")  # doctest: +SKIP
        >>> report.candidates[0].verdict  # doctest: +SKIP
        'no difference beyond noise'
    """
    opt = options or ShadowOptions()
    primary_id = f"{session}-primary"
    if not store.exists(primary_id):
        raise RunNotFound(f"no shadow session '{session}': the store at {store.root} has no run '{primary_id}'")
    items = store.read_items(primary_id)
    ids = [str(it["item_id"]) for it in items]
    primary = _side(store, primary_id, ids)
    if not ids or not primary.present.any():
        raise StoreError(f"shadow session '{session}' has no mirrored requests yet: nothing to report")
    candidates = _candidate_runs(store, session)
    if not candidates:
        raise StoreError(f"shadow session '{session}' has no candidate run ('{session}-candidate')")
    noise_id = f"{session}-noise"
    noise = _side(store, noise_id, ids) if store.exists(noise_id) else None
    inputs = [_text(it.get("input")) for it in items]
    attributes = [it.get("attributes") or {} for it in items]
    reports: list[CandidateReport] = []
    for label, run_id in candidates:
        cand = _side(store, run_id, ids)
        reports.append(candidate_report(ids, inputs, attributes, primary, cand, noise, opt, label=label, run_id=run_id))
    return ShadowReport(
        session=session,
        n_items=int(primary.present.sum()),
        n_noise_items=int(noise.present.sum()) if noise is not None else 0,
        noise_run=noise_id if noise is not None else None,
        candidates=tuple(reports),
        options=opt.as_dict(),
    )


def shadow_pair(store: Store, base_id: str, cand_id: str) -> tuple[str, str] | None:
    """``(session, candidate label)`` when ``base_id`` and ``cand_id`` are one shadow session's
    primary and candidate runs (``SESSION-primary`` and ``SESSION-candidate[-k]``, both with the
    suite ``shadow``), else None: what lets ``tailgate compare`` add the shadow statistics."""
    if not base_id.endswith("-primary"):
        return None
    session = base_id[: -len("-primary")]
    m = re.fullmatch(rf"{re.escape(session)}-(candidate(?:-\d+)?)", cand_id)
    if m is None:
        return None
    if any(store.manifest(run).suite.name != "shadow" for run in (base_id, cand_id)):
        return None
    return session, m.group(1)


def _candidate_runs(store: Store, session: str) -> list[tuple[str, str]]:
    pattern = re.compile(rf"^{re.escape(session)}-(candidate(?:-\d+)?)$")
    found = []
    for info in store.list_runs():
        m = pattern.match(info.run_id)
        if m:
            found.append((m.group(1), info.run_id))
    return sorted(found, key=lambda t: (len(t[0]), t[0]))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _side(store: Store, run_id: str, ids: list[str]) -> ShadowSide:
    """One run's records aligned on ``ids`` (a request key seen twice keeps its last record)."""
    cols = store.read_columns(run_id, _COLUMNS)
    pos = {item: i for i, item in enumerate(ids)}
    side = ShadowSide.empty(len(ids))
    for item, output, latency, error in zip(*(cols[c] for c in _COLUMNS), strict=True):
        i = pos.get(str(item))
        if i is None:
            continue
        side.present[i] = True
        side.failed[i] = error is not None
        side.outputs[i] = output if error is None and isinstance(output, str) else None
        side.latency_ms[i] = float(latency) if error is None and latency is not None else np.nan
    return side
