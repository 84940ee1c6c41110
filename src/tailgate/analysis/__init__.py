"""Pure analysis of stored records: estimates with n and uncertainty. Never calls a model."""

from tailgate.analysis._estimate import Estimate, clustered_mean, mean_estimate, wilson_interval
from tailgate.analysis._summary import RunSummary, summarize_records

__all__ = [
    "Estimate",
    "RunSummary",
    "clustered_mean",
    "mean_estimate",
    "summarize_records",
    "wilson_interval",
]
