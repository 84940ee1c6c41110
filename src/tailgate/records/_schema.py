"""The records schema (version 1): one record per sample, one row per item.

``RECORD_COLUMNS`` and ``ITEM_COLUMNS`` are the single source of truth: the store writes them,
``docs/records.md`` documents them (a test checks the two agree), exports carry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXPORT_EXTRA_COLUMNS",
    "ITEM_COLUMNS",
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "WITHHELD_ERROR_CLASSES",
    "Column",
    "item_arrow_schema",
    "record_arrow_schema",
]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Column:
    """A documented column: name, logical type, nullability, meaning."""

    name: str
    type: str
    nullable: bool
    doc: str


RECORD_COLUMNS: tuple[Column, ...] = (
    Column("schema_version", "int32", False, "Records schema version (1)."),
    Column("run_id", "string", False, "The run this sample belongs to."),
    Column("sample_id", "string", False, "`item_id/variant/repeat`: unique within a run."),
    Column("item_id", "string", False, "Content hash of the item's input and reference."),
    Column("variant", "string", False, "Variant name (template, later with transforms)."),
    Column("repeat", "int32", False, "Repeat index, 0-based."),
    Column("model", "string", False, "Model spec as given, e.g. `local:smollm2-135m`."),
    Column("mode", "string", False, "`chat` or `completion`."),
    Column(
        "params",
        "string",
        False,
        "Canonical JSON of the decoding parameters sent, including the effective seed (base seed + repeat).",
    ),
    Column(
        "prompt",
        "string",
        False,
        "Rendered prompt: the text, or canonical JSON of the chat messages.",
    ),
    Column("output", "string", True, "Raw model output; null when the sample failed."),
    Column("answer", "string", True, "Answer extracted by the headline scorer."),
    Column(
        "score",
        "float64",
        True,
        "Headline score (first applicable scorer); null = unscored "
        "(endpoint fault or scorer error), never a wrong answer.",
    ),
    Column("scorer", "string", True, "Label of the scorer behind `score`."),
    Column(
        "scores",
        "string",
        False,
        "JSON object: scorer label -> {value, answer, error} for every applicable scorer.",
    ),
    Column(
        "latency_ms",
        "float64",
        True,
        "Wall time of the successful call in milliseconds (for a cached sample: the original call's).",
    ),
    Column("tokens_in", "int64", True, "Prompt tokens, as reported by the provider."),
    Column("tokens_out", "int64", True, "Completion tokens, as reported by the provider."),
    Column("finish_reason", "string", True, "`stop`, `length`, ... as reported by the provider."),
    Column(
        "error_class",
        "string",
        True,
        "Why the sample has no output: `rate_limit`, "
        "`server_error`, `timeout`, `connection`, `malformed_response`, `client_error`, "
        "`provider_error`; null on success.",
    ),
    Column("error_message", "string", True, "The last error's message (secrets redacted)."),
    Column("attempts", "int32", False, "Calls made for this sample (1 = no retry; 0 = cached)."),
    Column(
        "attempt_errors",
        "string",
        False,
        "JSON list of the faults that were retried: {class, status, message, wait_s}.",
    ),
    Column("started_at", "timestamp", False, "UTC time the first attempt started (ISO 8601 in JSONL)."),
    Column("ended_at", "timestamp", False, "UTC time the record was written."),
    Column("cached", "bool", False, "True when the output was replayed from the response cache."),
    Column("cache_key", "string", False, "Hash of provider, model, mode, params, prompt and repeat."),
)

ITEM_COLUMNS: tuple[Column, ...] = (
    Column("item_id", "string", False, "Content hash of input and reference."),
    Column("source_id", "string", True, "The dataset's own id, when the suite names an id column."),
    Column("row", "int64", False, "1-based line (JSONL, CSV) or row (Parquet) in the dataset."),
    Column("input", "string", False, "Canonical JSON of the fields offered to templates."),
    Column("reference", "string", True, "Canonical JSON of the reference answer."),
    Column("attributes", "string", False, "Canonical JSON object of the slice attributes."),
)

EXPORT_EXTRA_COLUMNS: tuple[Column, ...] = (
    Column(
        "reference",
        "string",
        True,
        "Canonical JSON of the item's reference (from the items table).",
    ),
    Column("attr_<name>", "string", True, "One column per item attribute (from the items table)."),
)


def record_arrow_schema() -> Any:
    """The Parquet/Arrow schema of records (imports pyarrow lazily)."""
    import pyarrow as pa

    types = {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    return pa.schema(
        [pa.field(c.name, types[c.type], nullable=c.nullable) for c in RECORD_COLUMNS],
        metadata={"tailgate.schema_version": str(SCHEMA_VERSION)},
    )


def item_arrow_schema() -> Any:
    """The Parquet/Arrow schema of the items table."""
    import pyarrow as pa

    types = {"string": pa.string(), "int64": pa.int64()}
    return pa.schema([pa.field(c.name, types[c.type], nullable=c.nullable) for c in ITEM_COLUMNS])


WITHHELD_ERROR_CLASSES = frozenset({"content_filter", "refusal"})
"""``error_class`` values of outputs the endpoint withheld (its content filter, a refusal): their
own outcome, counted apart from faults and unscored unless the suite's ``run.filtered`` is
``fail``."""
