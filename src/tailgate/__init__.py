"""tailgate: production-grade LLM evaluation. Gate model changes on the tails, not the mean.

The library is layered (each layer imports only those below it)::

    cli -> report -> gate -> analysis -> runner -> scorers -> providers | store | dataset
        -> records -> config | errors | registry

Example:
    >>> import tailgate
    >>> options = tailgate.RunOptions(suite="basic", model="local:smollm2-135m", limit=10)
    >>> result = tailgate.run_sync(options)
    >>> store = tailgate.Store()
    >>> print(tailgate.summarize_records(store.read_records(result.run_id)).score)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tailgate._version import __version__

if TYPE_CHECKING:
    from tailgate.analysis import (
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

__all__ = [
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
    "RunResult",
    "RunSummary",
    "Store",
    "StoreError",
    "SuiteConfig",
    "TailgateError",
    "UsageError",
    "Variant",
    "__version__",
    "clustered_mean",
    "export_run",
    "load_suite",
    "lookup",
    "mean_estimate",
    "register",
    "run",
    "run_sync",
    "summarize_records",
    "wilson_interval",
]

# Submodules are imported on first use, so that `tailgate --help` and a run's start-up do not pay
# for numpy, scipy, pyarrow or duckdb when they do not need them.
_LAZY = {
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
