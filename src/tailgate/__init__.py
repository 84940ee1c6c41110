"""tailgate: production-grade LLM evaluation. Gate model changes on the tails, not the mean.

The names here are the library's front door (docs/api.md): one function per command, returning
result objects. The layers below them are drawn in docs/design.md.

Example:
    >>> import tailgate
    >>> result = tailgate.run_sync(tailgate.RunOptions(suite="basic", model="local:smollm2-135m", limit=10))
    >>> print(tailgate.show_run(result.run_id).summary.score)
    >>> report = tailgate.report_run(result.run_id, slo_ms=800)
    >>> decision = tailgate.gate_runs("base-run", result.run_id, policy="gate.yaml")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tailgate._version import __version__

if TYPE_CHECKING:
    from tailgate._api import (
        DecisionLook,
        RunOverview,
        SampleOutcome,
        UntilDecided,
        compare_runs,
        drift,
        gate_drift,
        gate_runs,
        gate_sequential,
        judge_attack,
        judge_run,
        quality_under_drift,
        redteam,
        report_run,
        rescore_run,
        run_until_decided,
        sample_suite,
        shadow_pair_report,
        shadow_report,
        show_run,
    )
    from tailgate.analysis import (
        DriftReport,
        Estimate,
        RunSummary,
        clustered_mean,
        mean_estimate,
        summarize_records,
        wilson_interval,
    )
    from tailgate.config import LoadedSuite, SuiteConfig, load_suite
    from tailgate.errors import (
        InputError,
        Interrupted,
        MissingDependency,
        ProviderError,
        RunLocked,
        RunMismatch,
        RunNotFound,
        StoreError,
        TailgateError,
        UsageError,
    )
    from tailgate.records import Item, Prompt, Variant
    from tailgate.registry import lookup, register
    from tailgate.runner import RunOptions, RunResult, run, run_sync
    from tailgate.store import Store, export_run
    from tailgate.traffic import SampleOptions

__all__ = [
    "DecisionLook",
    "DriftReport",
    "Estimate",
    "InputError",
    "Interrupted",
    "Item",
    "LoadedSuite",
    "MissingDependency",
    "Prompt",
    "ProviderError",
    "RunLocked",
    "RunMismatch",
    "RunNotFound",
    "RunOptions",
    "RunOverview",
    "RunResult",
    "RunSummary",
    "SampleOptions",
    "SampleOutcome",
    "Store",
    "StoreError",
    "SuiteConfig",
    "TailgateError",
    "UntilDecided",
    "UsageError",
    "Variant",
    "__version__",
    "clustered_mean",
    "compare_runs",
    "drift",
    "export_run",
    "gate_drift",
    "gate_runs",
    "gate_sequential",
    "judge_attack",
    "judge_run",
    "load_suite",
    "lookup",
    "mean_estimate",
    "quality_under_drift",
    "redteam",
    "register",
    "report_run",
    "rescore_run",
    "run",
    "run_sync",
    "run_until_decided",
    "sample_suite",
    "shadow_pair_report",
    "shadow_report",
    "show_run",
    "summarize_records",
    "wilson_interval",
]

# Submodules are imported on first use, so that `tailgate --help` and a run's start-up do not pay
# for numpy, scipy, pyarrow or duckdb when they do not need them.
_LAZY = {
    "DecisionLook": "_api",
    "UntilDecided": "_api",
    "run_until_decided": "_api",
    "RunOverview": "_api",
    "compare_runs": "_api",
    "drift": "_api",
    "gate_drift": "_api",
    "gate_runs": "_api",
    "gate_sequential": "_api",
    "quality_under_drift": "_api",
    "report_run": "_api",
    "judge_run": "_api",
    "judge_attack": "_api",
    "redteam": "_api",
    "rescore_run": "_api",
    "show_run": "_api",
    "SampleOutcome": "_api",
    "sample_suite": "_api",
    "shadow_pair_report": "_api",
    "shadow_report": "_api",
    "DriftReport": "analysis",
    "Estimate": "analysis",
    "RunSummary": "analysis",
    "clustered_mean": "analysis",
    "mean_estimate": "analysis",
    "summarize_records": "analysis",
    "wilson_interval": "analysis",
    "LoadedSuite": "config",
    "SuiteConfig": "config",
    "load_suite": "config",
    "InputError": "errors",
    "Interrupted": "errors",
    "MissingDependency": "errors",
    "ProviderError": "errors",
    "RunLocked": "errors",
    "RunMismatch": "errors",
    "RunNotFound": "errors",
    "StoreError": "errors",
    "TailgateError": "errors",
    "UsageError": "errors",
    "Item": "records",
    "Prompt": "records",
    "Variant": "records",
    "lookup": "registry",
    "register": "registry",
    "RunOptions": "runner",
    "RunResult": "runner",
    "run": "runner",
    "run_sync": "runner",
    "Store": "store",
    "export_run": "store",
    "SampleOptions": "traffic",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tailgate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tailgate.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
