"""Pure analysis of stored records: estimates with n and uncertainty. Never calls a model."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tailgate.analysis._compare import (
        CompareOptions,
        Comparison,
        compare_runs,
        format_p,
        mcnemar,
        paired_delta,
        power_for,
    )
    from tailgate.analysis._consistency import Consistency, PassK, consistency, pass_k_table
    from tailgate.analysis._contamination import Contamination, contamination, ngram_tokens
    from tailgate.analysis._data import RunData, load_run
    from tailgate.analysis._derive import derive_item_features
    from tailgate.analysis._discovery import build_cells, enumerate_slices, significance, sliceline_topk
    from tailgate.analysis._estimate import Estimate, clustered_mean, format_estimate, mean_estimate, wilson_interval
    from tailgate.analysis._profile import (
        FailureProfile,
        failure_profile,
        gini_weighted,
        variance_components,
    )
    from tailgate.analysis._report import REPORT_SCHEMA_VERSION, Report, ReportOptions, build_report, report_options
    from tailgate.analysis._robustness import (
        Robustness,
        format_spread,
        parser_sensitivity,
        robustness,
        template_spread,
    )
    from tailgate.analysis._slices import SliceEstimate, slice_estimates, worst_slices
    from tailgate.analysis._stats import (
        Percentile,
        adjust_bh,
        adjust_by,
        bootstrap_percentiles,
        estimate_from_sums,
        gini,
        pass_at_k,
        pass_hat_k,
    )
    from tailgate.analysis._summary import SUMMARY_COLUMNS, RunSummary, summarize_records

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "SUMMARY_COLUMNS",
    "CompareOptions",
    "Comparison",
    "Consistency",
    "Contamination",
    "Estimate",
    "FailureProfile",
    "PassK",
    "Percentile",
    "Report",
    "ReportOptions",
    "Robustness",
    "RunData",
    "RunSummary",
    "SliceEstimate",
    "adjust_bh",
    "adjust_by",
    "bootstrap_percentiles",
    "build_cells",
    "build_report",
    "clustered_mean",
    "compare_runs",
    "consistency",
    "contamination",
    "derive_item_features",
    "enumerate_slices",
    "estimate_from_sums",
    "failure_profile",
    "format_estimate",
    "format_p",
    "format_spread",
    "gini",
    "gini_weighted",
    "load_run",
    "mcnemar",
    "mean_estimate",
    "ngram_tokens",
    "paired_delta",
    "parser_sensitivity",
    "pass_at_k",
    "pass_hat_k",
    "pass_k_table",
    "power_for",
    "report_options",
    "robustness",
    "significance",
    "slice_estimates",
    "sliceline_topk",
    "summarize_records",
    "template_spread",
    "variance_components",
    "wilson_interval",
    "worst_slices",
]

# Submodules are imported on first use: `tailgate show` needs the summary only, not the report,
# compare and discovery modules (and scipy, duckdb) that importing all of them would load.
_LAZY = {
    "CompareOptions": "tailgate.analysis._compare",
    "Comparison": "tailgate.analysis._compare",
    "compare_runs": "tailgate.analysis._compare",
    "format_p": "tailgate.analysis._compare",
    "mcnemar": "tailgate.analysis._compare",
    "paired_delta": "tailgate.analysis._compare",
    "power_for": "tailgate.analysis._compare",
    "Consistency": "tailgate.analysis._consistency",
    "PassK": "tailgate.analysis._consistency",
    "consistency": "tailgate.analysis._consistency",
    "pass_k_table": "tailgate.analysis._consistency",
    "Contamination": "tailgate.analysis._contamination",
    "contamination": "tailgate.analysis._contamination",
    "ngram_tokens": "tailgate.analysis._contamination",
    "RunData": "tailgate.analysis._data",
    "load_run": "tailgate.analysis._data",
    "derive_item_features": "tailgate.analysis._derive",
    "build_cells": "tailgate.analysis._discovery",
    "enumerate_slices": "tailgate.analysis._discovery",
    "significance": "tailgate.analysis._discovery",
    "sliceline_topk": "tailgate.analysis._discovery",
    "Estimate": "tailgate.analysis._estimate",
    "clustered_mean": "tailgate.analysis._estimate",
    "format_estimate": "tailgate.analysis._estimate",
    "mean_estimate": "tailgate.analysis._estimate",
    "wilson_interval": "tailgate.analysis._estimate",
    "FailureProfile": "tailgate.analysis._profile",
    "failure_profile": "tailgate.analysis._profile",
    "gini_weighted": "tailgate.analysis._profile",
    "variance_components": "tailgate.analysis._profile",
    "REPORT_SCHEMA_VERSION": "tailgate.analysis._report",
    "Report": "tailgate.analysis._report",
    "ReportOptions": "tailgate.analysis._report",
    "build_report": "tailgate.analysis._report",
    "report_options": "tailgate.analysis._report",
    "Robustness": "tailgate.analysis._robustness",
    "format_spread": "tailgate.analysis._robustness",
    "parser_sensitivity": "tailgate.analysis._robustness",
    "robustness": "tailgate.analysis._robustness",
    "template_spread": "tailgate.analysis._robustness",
    "SliceEstimate": "tailgate.analysis._slices",
    "slice_estimates": "tailgate.analysis._slices",
    "worst_slices": "tailgate.analysis._slices",
    "Percentile": "tailgate.analysis._stats",
    "adjust_bh": "tailgate.analysis._stats",
    "adjust_by": "tailgate.analysis._stats",
    "bootstrap_percentiles": "tailgate.analysis._stats",
    "estimate_from_sums": "tailgate.analysis._stats",
    "gini": "tailgate.analysis._stats",
    "pass_at_k": "tailgate.analysis._stats",
    "pass_hat_k": "tailgate.analysis._stats",
    "SUMMARY_COLUMNS": "tailgate.analysis._summary",
    "RunSummary": "tailgate.analysis._summary",
    "summarize_records": "tailgate.analysis._summary",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
