"""``tailgate view``: a local web viewer over stored runs whose first screen is a paired diff.

Two runs: the comparison's slice table (deltas, intervals, BH marks) and every item tagged
regressed / improved / unchanged / flaky; one run: its report, down to every sample. One filter
language (:func:`parse_filter`) selects items; the page keeps it in the URL. The app binds to
127.0.0.1 only, ships its own script and style sheet, and sends a strict Content Security Policy
(docs/view.md).
"""

from __future__ import annotations

from tailgate.view._app import SECURITY_HEADERS, make_app
from tailgate.view._filter import TAGS, Filter, FilterError, Term, parse_filter
from tailgate.view._serve import ExportResult, export_view, open_state, serve_view
from tailgate.view._state import ViewState, comparing, slice_filter
from tailgate.view._table import ViewTable, item_tags

__all__ = [
    "SECURITY_HEADERS",
    "TAGS",
    "ExportResult",
    "Filter",
    "FilterError",
    "Term",
    "ViewState",
    "ViewTable",
    "comparing",
    "export_view",
    "item_tags",
    "make_app",
    "open_state",
    "parse_filter",
    "serve_view",
    "slice_filter",
]
