"""Production traffic: logs in (OpenAI-style JSONL, OTel GenAI spans, CSV/Parquet), one
append-only table of requests with content ids and derived attributes (docs/traffic.md)."""

from tailgate.traffic._allocate import Stratum, allocate
from tailgate.traffic._attributes import LanguageDetector, derive_text_attributes, has_code
from tailgate.traffic._dedup import NearDuplicates
from tailgate.traffic._fields import FieldError
from tailgate.traffic._import import MAX_BAD_LINES_KEPT, BadLine, FileImport, TrafficImport, import_traffic
from tailgate.traffic._openai import FIELD_NAMES, ReadOptions, request_from_mapping
from tailgate.traffic._otel import requests_from_otlp
from tailgate.traffic._sample import (
    SAMPLE_COLUMNS,
    SampledStratum,
    SampledSuite,
    SampleOptions,
    parse_time,
    sample_traffic,
)
from tailgate.traffic._schema import (
    DERIVED_COLUMNS,
    TRAFFIC_COLUMNS,
    TRAFFIC_SCHEMA_VERSION,
    Request,
    input_id,
    traffic_arrow_schema,
)
from tailgate.traffic._scrub import Scrubber
from tailgate.traffic._sources import FORMATS, detect_format
from tailgate.traffic._table import TrafficTable, TrafficWriter
from tailgate.traffic._window import TrafficWindow, read_window
from tailgate.traffic._windows import (
    COMPUTED_COLUMNS,
    DRIFT_ATTRIBUTES,
    MONITOR_ATTRIBUTES,
    OUTPUT_ATTRIBUTES,
    Every,
    Span,
    TableOrder,
    WindowSpec,
    parse_every,
    parse_window,
    read_spans,
    read_texts,
    resolve_pair,
    split_every,
    table_order,
)

__all__ = [
    "COMPUTED_COLUMNS",
    "DERIVED_COLUMNS",
    "DRIFT_ATTRIBUTES",
    "FIELD_NAMES",
    "FORMATS",
    "MAX_BAD_LINES_KEPT",
    "MONITOR_ATTRIBUTES",
    "OUTPUT_ATTRIBUTES",
    "SAMPLE_COLUMNS",
    "TRAFFIC_COLUMNS",
    "TRAFFIC_SCHEMA_VERSION",
    "BadLine",
    "Every",
    "FieldError",
    "FileImport",
    "LanguageDetector",
    "NearDuplicates",
    "ReadOptions",
    "Request",
    "SampleOptions",
    "SampledStratum",
    "SampledSuite",
    "Scrubber",
    "Span",
    "Stratum",
    "TableOrder",
    "TrafficImport",
    "TrafficTable",
    "TrafficWindow",
    "TrafficWriter",
    "WindowSpec",
    "allocate",
    "derive_text_attributes",
    "detect_format",
    "has_code",
    "import_traffic",
    "input_id",
    "parse_every",
    "parse_time",
    "parse_window",
    "read_spans",
    "read_texts",
    "read_window",
    "request_from_mapping",
    "requests_from_otlp",
    "resolve_pair",
    "sample_traffic",
    "split_every",
    "table_order",
    "traffic_arrow_schema",
]
