"""Pure analysis of stored records: estimates with n and uncertainty. Never calls a model."""

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
from tailgate.analysis._summary import RunSummary, summarize_records

__all__ = [
    "REPORT_SCHEMA_VERSION",
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
