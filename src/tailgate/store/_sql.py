"""SQL literals for DuckDB: file paths and strings quoted the one safe way."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["sql_list", "sql_string"]


def sql_string(value: object) -> str:
    """A SQL string literal (``'it''s'``)."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(paths: Iterable[object]) -> str:
    """A DuckDB list literal of file paths."""
    return "[" + ", ".join(sql_string(p) for p in paths) + "]"
