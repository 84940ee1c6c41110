"""Append-only records, run manifests and the response cache, in open formats."""

from tailgate.store._cache import CacheStats, ResponseCache
from tailgate.store._export import FORMATS, export_run
from tailgate.store._import import ImportSpec, import_records
from tailgate.store._importers import IMPORT_FORMATS, FormatOptions, ImportedRun, import_format
from tailgate.store._journal import read_journal, records_to_table, scan_run_files
from tailgate.store._store import RunInfo, RunWriter, Store, default_store_path, utc_now

__all__ = [
    "FORMATS",
    "IMPORT_FORMATS",
    "CacheStats",
    "FormatOptions",
    "ImportSpec",
    "ImportedRun",
    "ResponseCache",
    "RunInfo",
    "RunWriter",
    "Store",
    "default_store_path",
    "export_run",
    "import_format",
    "import_records",
    "read_journal",
    "records_to_table",
    "scan_run_files",
    "utc_now",
]
