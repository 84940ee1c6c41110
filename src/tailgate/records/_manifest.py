"""The run manifest as a typed model: what produced a run, and what it holds.

``manifest.json`` is written by :meth:`Manifest.as_dict` and read by :meth:`Manifest.from_dict`,
for runs (``tailgate run``) and imports (``tailgate import records``) alike. The JSON is the
contract documented in ``docs/records.md``; this module is its one reader and writer.

Keys come out in a fixed order (the order tailgate has always written). Keys that only one kind
of run has (a run's ``decoding``, an import's ``import``) are left out when the model holds
``None`` for them; keys this version does not know are kept, in their order, after the known
ones, so an older or newer manifest survives a read and a rewrite.

Example:
    >>> m = Manifest.from_dict({"run_id": "r1", "suite": {"name": "s", "path": "s.yaml", "config": None},
    ...                         "model": {"spec": "fake:echo"}, "plan": {"samples": 4}})
    >>> m.run_id, m.model.spec, m.plan.samples, m.is_import
    ('r1', 'fake:echo', 4, False)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tailgate.records._schema import SCHEMA_VERSION

__all__ = ["Counts", "DatasetInfo", "ImportInfo", "Manifest", "ModelInfo", "Plan", "RunProvenance", "SuiteInfo"]

_JSON = Mapping[str, Any]


def _extra(data: _JSON, known: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in known}


def _some(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The pairs whose value is not None (keys a manifest leaves out when absent)."""
    return {k: v for k, v in pairs if v is not None}


@dataclass(frozen=True)
class SuiteInfo:
    """The suite a run came from.

    Attributes:
        name: the suite's name (``import:<file name>`` for an import).
        path: where the suite (or the imported file) was.
        config: the validated suite config as JSON (keys by alias); None for an import.
        sha256: SHA-256 of the suite's YAML text (runs only).
        text: the suite's YAML text (runs only).
        extra: keys this version does not know, kept as read.
    """

    name: str
    path: str = ""
    config: _JSON | None = None
    sha256: str | None = None
    text: str | None = None
    extra: _JSON = field(default_factory=dict)

    _KEYS = ("name", "path", "sha256", "config", "text")

    @classmethod
    def from_dict(cls, data: _JSON) -> SuiteInfo:
        return cls(
            name=str(data.get("name", "")),
            path=str(data.get("path") or ""),
            config=data.get("config"),
            sha256=data.get("sha256"),
            text=data.get("text"),
            extra=_extra(data, cls._KEYS),
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "path": self.path}
        out |= _some([("sha256", self.sha256)])
        out["config"] = self.config
        return out | _some([("text", self.text)]) | dict(self.extra)


@dataclass(frozen=True)
class DatasetInfo:
    """The data the items came from.

    Attributes:
        path: the dataset file (or the imported file).
        sha256: SHA-256 of that file.
        rows_read: rows (runs) or records (imports) read from it.
        items: distinct items.
        duplicates_skipped: rows dropped as duplicates of an earlier item (runs only; with
            ``limit``, written for every run and never for an import).
        limit: ``--limit`` (None: every item).
        extra: keys this version does not know, kept as read.
    """

    path: str = ""
    sha256: str | None = None
    rows_read: int = 0
    items: int = 0
    duplicates_skipped: int | None = None
    limit: int | None = None
    extra: _JSON = field(default_factory=dict)

    _KEYS = ("path", "sha256", "rows_read", "items", "duplicates_skipped", "limit")

    @classmethod
    def from_dict(cls, data: _JSON) -> DatasetInfo:
        return cls(
            path=str(data.get("path") or ""),
            sha256=data.get("sha256"),
            rows_read=int(data.get("rows_read", 0)),
            items=int(data.get("items", 0)),
            duplicates_skipped=data.get("duplicates_skipped"),
            limit=data.get("limit"),
            extra=_extra(data, cls._KEYS),
        )

    def as_dict(self) -> dict[str, Any]:
        out = {"path": self.path, "sha256": self.sha256, "rows_read": self.rows_read, "items": self.items}
        if self.duplicates_skipped is not None:  # a run's: limit goes with it, even when null
            out |= {"duplicates_skipped": self.duplicates_skipped, "limit": self.limit}
        return out | dict(self.extra)


@dataclass(frozen=True)
class ModelInfo:
    """The model under test.

    Attributes:
        spec: the ``--model`` value as given (``import:<file>`` or ``--model`` for an import).
        details: what the provider says it resolved to (its ``describe()``: local file, size,
            checksum; base URL and the *name* of the key variable, never the key).
    """

    spec: str
    details: _JSON = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: _JSON) -> ModelInfo:
        return cls(spec=str(data.get("spec", "")), details=_extra(data, ("spec",)))

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, **self.details}


@dataclass(frozen=True)
class Plan:
    """items x variants x repeats = samples.

    Attributes:
        items: items planned.
        variants: variants per item.
        repeats: repeats per (item, variant).
        samples: samples planned (the product, unless a variant does not apply to every item).
    """

    items: int = 0
    variants: int = 0
    repeats: int = 0
    samples: int = 0

    @classmethod
    def from_dict(cls, data: _JSON) -> Plan:
        return cls(**{k: int(data.get(k, 0)) for k in ("items", "variants", "repeats", "samples")})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Counts:
    """Final counts of a finished session (None in the manifest while the first one runs).

    Attributes:
        planned: samples planned.
        done: samples with a record.
        errors: samples whose newest record is a failure.
    """

    planned: int = 0
    done: int = 0
    errors: int = 0

    @classmethod
    def from_dict(cls, data: _JSON) -> Counts:
        return cls(**{k: int(data.get(k, 0)) for k in ("planned", "done", "errors")})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ImportInfo:
    """Which columns of an imported file meant what (the ``tailgate import records`` options).

    Attributes:
        file: the imported file (absolute path).
        item: the item-key column; item ids are ``sha256("import:" + key)[:16]``.
        score: the score column.
        repeat, variant, output, answer, latency, input: the optional columns (None: not given).
        slices: the slice columns (item attributes).
        format: the importer (``lm-eval``, ``inspect``, ``promptfoo``, ``openai-evals``); None
            for ``tailgate import records`` (then not written).
    """

    file: str
    item: str
    score: str
    repeat: str | None = None
    variant: str | None = None
    output: str | None = None
    answer: str | None = None
    latency: str | None = None
    input: str | None = None
    slices: tuple[str, ...] = ()
    format: str | None = None

    @classmethod
    def from_dict(cls, data: _JSON) -> ImportInfo:
        names = ("repeat", "variant", "output", "answer", "latency", "input", "format")
        return cls(
            file=str(data.get("file", "")),
            item=str(data.get("item", "")),
            score=str(data.get("score", "")),
            **{k: data.get(k) for k in names},
            slices=tuple(data.get("slices") or ()),
        )

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self) | {"slices": list(self.slices)}
        if self.format is None:
            del out["format"]
        return out


@dataclass(frozen=True)
class RunProvenance:
    """What only ``tailgate run`` records: how the samples were made, by what code, where.

    A key is left out of the JSON when its value here is None (a manifest from an older version
    may lack it), except ``git``, which is null outside a repository.

    Attributes:
        variant_descriptions: variant name -> what it is, for a person.
        decoding: the suite's decoding section (temperature, top_p, max_tokens, seed, stop).
        scorers: each scorer's label, type, extractor, ``when`` and parameters.
        execution: concurrency, rps, timeout, retry policy, cache and refresh.
        fingerprint: what a resume must match (hashes of items, templates, decoding, scorers,
            model; mode, repeats, variants).
        cli: the command line (``argv``, secrets redacted).
        python: the Python version.
        packages: versions of the packages that shape results.
        git: commit and dirty flag of the suite's repository (None: not in one).
        host: hostname, platform, CPUs.
    """

    variant_descriptions: Mapping[str, str] | None = None
    decoding: _JSON | None = None
    scorers: tuple[_JSON, ...] | None = None
    execution: _JSON | None = None
    fingerprint: _JSON | None = None
    cli: _JSON | None = None
    python: str | None = None
    packages: Mapping[str, str] | None = None
    git: _JSON | None = None
    host: _JSON | None = None

    @classmethod
    def from_dict(cls, data: _JSON) -> RunProvenance:
        fields = {f.name: data.get(f.name) for f in dataclasses.fields(cls)}
        scorers = fields.pop("scorers")
        return cls(**fields, scorers=None if scorers is None else tuple(scorers))

    def head(self) -> dict[str, Any]:
        """The keys written between ``variants`` and ``plan``."""
        scorers = None if self.scorers is None else list(self.scorers)
        pairs = [("decoding", self.decoding), ("scorers", scorers), ("execution", self.execution)]
        return _some([("variant_descriptions", self.variant_descriptions), *pairs])

    def middle(self) -> dict[str, Any]:
        """The keys written between ``plan`` and ``tailgate_version``."""
        return _some([("fingerprint", self.fingerprint), ("cli", self.cli)])

    def tail(self) -> dict[str, Any]:
        """The keys written after ``tailgate_version``."""
        return (
            _some([("python", self.python), ("packages", self.packages)])
            | {"git": self.git}
            | _some([("host", self.host)])
        )


_RUN_ONLY = tuple(f.name for f in dataclasses.fields(RunProvenance))
_TOP = (
    "schema_version",
    "run_id",
    "status",
    "suite",
    "dataset",
    "model",
    "mode",
    "repeats",
    "variants",
    "import",
    "plan",
    "tailgate_version",
    "started_at",
    "ended_at",
    "sessions",
    "counts",
    "error",
    "until_decided",
    *_RUN_ONLY,
)


@dataclass(frozen=True)
class Manifest:
    """A run's ``manifest.json``: what produced it, what it planned, how its sessions went.

    Attributes:
        run_id: the run's id.
        suite: the suite (or, for an import, the file).
        dataset: the data the items came from.
        model: the model under test.
        status: ``running``, ``completed``, ``interrupted``, ``failed`` (see
            :meth:`tailgate.store.Store.effective_status` for a killed run).
        schema_version: the records schema version.
        mode: ``chat``, ``completion`` or ``imported`` (None: not recorded).
        repeats: repeats per (item, variant) (None: not recorded).
        variants: the variants' names, in plan order (None: not recorded).
        plan: items x variants x repeats = samples.
        tailgate_version: the tailgate that wrote the run.
        started_at: UTC time the run was created (ISO 8601).
        ended_at: UTC time its last session ended (None while the first one runs).
        sessions: one object per writer session (start, end, status, calls issued, retries,
            cached, errors, scored, ``latency_note``, ``cache_not_replayed``): the runner's.
        counts: the final counts (None while the first session runs).
        provenance: what only ``tailgate run`` records (None for an import).
        imported: the import's column options (None for a run).
        error: why the run failed, when it did.
        until_decided: for a run made with ``tailgate run --until-decided``: the baseline, seed,
            policy and order it ran under, and its last look (``n_done`` items of ``n_order``,
            ``stopped_early``, ``look``: the sequential decision then); None for any other run.
        extra: top-level keys this version does not know, kept as read.
    """

    run_id: str
    suite: SuiteInfo
    dataset: DatasetInfo
    model: ModelInfo
    status: str = "unknown"
    schema_version: int = SCHEMA_VERSION
    mode: str | None = None
    repeats: int | None = None
    variants: tuple[str, ...] | None = None
    plan: Plan = field(default_factory=Plan)
    tailgate_version: str | None = None
    started_at: str = ""
    ended_at: str | None = None
    sessions: tuple[_JSON, ...] = ()
    counts: Counts | None = None
    provenance: RunProvenance | None = None
    imported: ImportInfo | None = None
    error: str | None = None
    until_decided: _JSON | None = None
    extra: _JSON = field(default_factory=dict)

    # -- the JSON edge ----------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: _JSON) -> Manifest:
        """Read a manifest as stored; missing keys take their defaults (an older version's or an
        in-memory run's manifest opens too)."""
        variants = data.get("variants")
        counts = data.get("counts")
        imported = data.get("import")
        run_only = any(k in data for k in _RUN_ONLY)
        return cls(
            run_id=str(data.get("run_id", "")),
            suite=SuiteInfo.from_dict(data.get("suite") or {}),
            dataset=DatasetInfo.from_dict(data.get("dataset") or {}),
            model=ModelInfo.from_dict(data.get("model") or {}),
            status=str(data.get("status", "unknown")),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
            mode=data.get("mode"),
            repeats=data.get("repeats"),
            variants=None if variants is None else tuple(variants),
            plan=Plan.from_dict(data.get("plan") or {}),
            tailgate_version=data.get("tailgate_version"),
            started_at=str(data.get("started_at", "")),
            ended_at=data.get("ended_at"),
            sessions=tuple(data.get("sessions") or ()),
            counts=None if counts is None else Counts.from_dict(counts),
            provenance=RunProvenance.from_dict(data) if run_only else None,
            imported=None if imported is None else ImportInfo.from_dict(imported),
            error=data.get("error"),
            until_decided=data.get("until_decided"),
            extra=_extra(data, _TOP),
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON object ``manifest.json`` holds (keys in the order tailgate writes them)."""
        run = self.provenance or RunProvenance()
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "status": self.status,
            "suite": self.suite.as_dict(),
            "dataset": self.dataset.as_dict(),
            "model": self.model.as_dict(),
            "mode": self.mode,
            "repeats": self.repeats,
            "variants": None if self.variants is None else list(self.variants),
            **run.head(),
        }
        if self.imported is not None:
            out["import"] = self.imported.as_dict()
        out |= {"plan": self.plan.as_dict(), **run.middle(), "tailgate_version": self.tailgate_version}
        if self.provenance is not None:
            out |= run.tail()
        out |= {
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "sessions": [dict(s) for s in self.sessions],
            "counts": None if self.counts is None else self.counts.as_dict(),
        }
        return out | _some([("error", self.error), ("until_decided", self.until_decided)]) | dict(self.extra)

    def updated(self, **changes: Any) -> Manifest:
        """A copy with ``changes`` (field names; ``counts`` and ``sessions`` may be given as JSON)."""
        if isinstance(changes.get("counts"), Mapping):
            changes["counts"] = Counts.from_dict(changes["counts"])
        if "sessions" in changes:
            changes["sessions"] = tuple(changes["sessions"])
        return dataclasses.replace(self, **changes)

    # -- what readers ask -------------------------------------------------------------------------

    @property
    def is_import(self) -> bool:
        """True for a run made by ``tailgate import records``."""
        return self.imported is not None

    @property
    def suite_config(self) -> _JSON:
        """The validated suite config (empty for an import)."""
        return self.suite.config or {}

    @property
    def templates(self) -> dict[str, _JSON]:
        """The suite's templates by name (a template without a name is ``original``)."""
        return {str(t.get("name", "original")): t for t in self.suite_config.get("templates") or []}

    @property
    def generated_variants(self) -> list[Any]:
        """The suite's ``variants:`` entries (formats, perturbations, paraphrases), as configured."""
        return list(self.suite_config.get("variants") or [])

    @property
    def declared_attributes(self) -> list[str]:
        """Slice attributes the suite declares (``dataset.attributes``), or an import's slice columns."""
        declared = (self.suite_config.get("dataset") or {}).get("attributes")
        if declared is None:
            declared = self.imported.slices if self.imported is not None else []
        return list(declared)

    @property
    def report_section(self) -> _JSON:
        """The suite's ``report`` section (empty when it has none)."""
        return self.suite_config.get("report") or {}

    @property
    def temperature(self) -> float | None:
        """The decoding temperature, when the manifest records one."""
        decoding = self.provenance.decoding if self.provenance is not None else None
        value: float | None = (decoding or {}).get("temperature")
        return value

    @property
    def variant_descriptions(self) -> Mapping[str, str]:
        """Variant name -> what it is, for a person (empty when not recorded)."""
        run = self.provenance
        return (run.variant_descriptions if run is not None else None) or {}

    @property
    def fingerprint(self) -> _JSON:
        """What a resume must match (empty for an import)."""
        run = self.provenance
        return (run.fingerprint if run is not None else None) or {}

    @property
    def latency_notes(self) -> list[str]:
        """Each session's queueing hint (latency measured under load), in session order."""
        return [str(s["latency_note"]) for s in self.sessions if s.get("latency_note")]
