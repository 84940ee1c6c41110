"""``tailgate import FORMAT FILE...``: other tools' result files become ordinary runs.

Each format's parser (``_import_<format>.py``) turns the files into a table of samples; the
table goes through the same checks and the same writer as ``tailgate import records``
(:func:`tailgate.store._import.import_table`). The mapping of each format is in
docs/importers.md.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailgate.errors import StoreError, UsageError
from tailgate.store._import import ImportSpec, derive_run_id, import_query, import_table
from tailgate.store._import_rows import SampleRows
from tailgate.store._store import Store, utc_now

__all__ = ["IMPORT_FORMATS", "FormatOptions", "ImportedRun", "import_format"]

IMPORT_FORMATS = ("lm-eval", "inspect", "promptfoo", "openai-evals")
"""The formats ``tailgate import FORMAT`` reads."""


@dataclass(frozen=True)
class FormatOptions:
    """Choices an import can make (each applies to one format; None: the format's default).

    Attributes:
        run_id: the new run's id (promptfoo with several providers: ``<run_id>-<provider>``).
        model: the model name to record (default: what the file says).
        filter: lm-eval: the filter whose answer the run keeps (default: the file's first).
        metric: lm-eval: the headline metric (default: each line's first).
        scorer: Inspect: the headline scorer (default: the log's first).
        provider: promptfoo: import only this provider (id or label); default: each its own run.
    """

    run_id: str | None = None
    model: str | None = None
    filter: str | None = None
    metric: str | None = None
    scorer: str | None = None
    provider: str | None = None


@dataclass(frozen=True)
class ImportedRun:
    """One run an import made."""

    run_id: str
    model: str
    records: int
    items: int


@dataclass(frozen=True)
class _Parsed:
    name: str  # what tells several runs of one import apart ("" for one run)
    rows: SampleRows
    scorer: str
    model: str
    source: dict[str, Any]


def import_format(store: Store, fmt: str, files: list[str], options: FormatOptions) -> list[ImportedRun]:
    """Parse ``files`` in format ``fmt`` and write one run (promptfoo: one per provider).

    Raises:
        UsageError: an unknown format, or an option the format does not take.
        InputError: a file is malformed (names file, line or JSON path, and field).
        StoreError: a run id already exists.
    """
    if fmt not in IMPORT_FORMATS:
        raise UsageError(f"unknown format '{fmt}': use one of {', '.join(IMPORT_FORMATS)}")
    if not files:
        raise UsageError("give at least one FILE")
    with _no_cycle_collection():
        return _import_format(store, fmt, files, options)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector off while a file's samples become objects: the parsed
    samples are millions of acyclic objects (freed by reference counting), and each collection
    walks every one still alive, which doubled to tripled the parse (an lm-eval file of 20k
    multiple-choice lines: 1.12 CPU-s with it, 0.54 without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import_format(store: Store, fmt: str, files: list[str], options: FormatOptions) -> list[ImportedRun]:
    base = options.run_id or derive_run_id(Path(files[0]), utc_now())
    if fmt == "lm-eval":
        fast = _lmeval_fast(store, files, options, base)
        if fast is not None:
            return [fast]
    parsed = _parse(fmt, files, options)
    ids = [base if len(parsed) == 1 else f"{base}-{_slug(p.name)}" for p in parsed]
    for run_id in ids:
        if store.exists(run_id):
            raise StoreError(f"run '{run_id}' already exists; choose another --run-id")
    done = []
    for run_id, part in zip(ids, parsed, strict=True):
        model = options.model or part.model
        spec = _spec(fmt, files, run_id, model, part.scorer, part.source, list(part.rows.attributes))
        new_id, records, items = import_table(store, part.rows.table(), spec)
        done.append(ImportedRun(new_id, model, records, items))
    return done


def _lmeval_fast(store: Store, files: list[str], options: FormatOptions, run_id: str) -> ImportedRun | None:
    """lm-eval through DuckDB's JSON reader (the common, plain file); None: use the parser."""
    from tailgate.store._import_lmeval import fast_path

    _refuse_foreign_options("lm-eval", options)
    fast = fast_path(files, filter_name=options.filter, metric=options.metric)
    if fast is None:
        return None
    if store.exists(run_id):
        raise StoreError(f"run '{run_id}' already exists; choose another --run-id")
    model = options.model or f"lm-eval:{fast.model or Path(files[0]).parent.name}"
    spec = _spec("lm-eval", files, run_id, model, fast.scorer, fast.source, ["task"])
    result = import_query(store, fast.build, spec)
    return None if result is None else ImportedRun(result[0], model, result[1], result[2])


def _spec(
    fmt: str, files: list[str], run_id: str, model: str, scorer: str, source: dict[str, Any], slices: list[str]
) -> ImportSpec:
    """The parsed table's columns (tailgate.store._import_rows.ROW_COLUMNS) for the writer."""
    return ImportSpec(
        file=files[0],
        item="_item",
        score="_score",
        repeat="_repeat",
        variant="_variant",
        output="_output",
        answer="_answer",
        latency="_latency",
        input="_input",
        slices=slices,
        run_id=run_id,
        model=model,
        scores="_scores",
        scorer=scorer,
        error="_error",
        format=fmt,
        files=tuple(files),
        source=source,
    )


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:48] or "run"


def _parse(fmt: str, files: list[str], options: FormatOptions) -> list[_Parsed]:
    _refuse_foreign_options(fmt, options)
    if fmt == "lm-eval":
        from tailgate.store._import_lmeval import parse_lmeval

        lm = parse_lmeval(files, filter_name=options.filter, metric=options.metric)
        return [_Parsed("", lm.rows, lm.scorer, f"lm-eval:{lm.model or Path(files[0]).parent.name}", lm.source)]
    if fmt == "inspect":
        from tailgate.store._import_inspect import parse_inspect

        ins = parse_inspect(files, scorer=options.scorer)
        return [_Parsed("", ins.rows, ins.scorer, ins.model, ins.source)]
    if fmt == "promptfoo":
        from tailgate.store._import_promptfoo import parse_promptfoo

        runs = parse_promptfoo(files, provider=options.provider)
        return [_Parsed(r.provider, r.rows, r.scorer, r.model, r.source) for r in runs]
    from tailgate.store._import_oaievals import parse_oaievals

    oa = parse_oaievals(files)
    return [_Parsed("", oa.rows, oa.scorer, oa.model, oa.source)]


_OPTION_FORMAT = {"filter": "lm-eval", "metric": "lm-eval", "scorer": "inspect", "provider": "promptfoo"}


def _refuse_foreign_options(fmt: str, options: FormatOptions) -> None:
    for option, owner in _OPTION_FORMAT.items():
        if getattr(options, option) is not None and owner != fmt:
            raise UsageError(f"--{option} applies to {owner} files, not {fmt}")
