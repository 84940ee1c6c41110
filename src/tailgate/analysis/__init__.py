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
from tailgate.analysis._drift import (
    AttributeDrift,
    DriftTest,
    WindowDrift,
    attribute_drift,
    categorical_test,
    jensen_shannon,
    numeric_test,
    psi,
    window_drift,
)
from tailgate.analysis._drift_text import (
    DomainClassifier,
    classifier_test,
    domain_classifier,
    embedding_drift,
    mmd_test,
)
from tailgate.analysis._estimate import Estimate, clustered_mean, format_estimate, mean_estimate, wilson_interval
from tailgate.analysis._monitor import DriftMonitor, MonitorResult, MonitorStep, monitor
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
    "AttributeDrift",
    "CompareOptions",
    "Comparison",
    "Consistency",
    "Contamination",
    "DomainClassifier",
    "DriftMonitor",
    "DriftTest",
    "Estimate",
    "FailureProfile",
    "MonitorResult",
    "MonitorStep",
    "PassK",
    "Percentile",
    "Report",
    "ReportOptions",
    "Robustness",
    "RunData",
    "RunSummary",
    "SliceEstimate",
    "WindowDrift",
    "adjust_bh",
    "adjust_by",
    "attribute_drift",
    "bootstrap_percentiles",
    "build_cells",
    "build_report",
    "categorical_test",
    "classifier_test",
    "clustered_mean",
    "compare_runs",
    "consistency",
    "contamination",
    "derive_item_features",
    "domain_classifier",
    "embedding_drift",
    "enumerate_slices",
    "estimate_from_sums",
    "failure_profile",
    "format_estimate",
    "format_p",
    "format_spread",
    "gini",
    "gini_weighted",
    "jensen_shannon",
    "load_run",
    "mcnemar",
    "mean_estimate",
    "mmd_test",
    "monitor",
    "ngram_tokens",
    "numeric_test",
    "paired_delta",
    "parser_sensitivity",
    "pass_at_k",
    "pass_hat_k",
    "pass_k_table",
    "power_for",
    "psi",
    "report_options",
    "robustness",
    "significance",
    "slice_estimates",
    "sliceline_topk",
    "summarize_records",
    "template_spread",
    "variance_components",
    "wilson_interval",
    "window_drift",
    "worst_slices",
]
