"""Start-up without the cyclic garbage collector's rescans of what was just imported.

Importing click, pydantic, aiohttp and tailgate's modules creates about 300,000 long-lived
container objects (functions, classes, dicts) and no garbage. Python's collector, triggered by
allocation counts, traverses them again and again while they accumulate: 114 young, 11 middle and
one full collection during ``tailgate run``'s start-up, 50-60 ms of its ~0.4 s of CPU
(BENCHMARKS.md; measured with ``gc.callbacks``). While importing, collection is off; afterwards the
imported objects are moved to the permanent generation (:func:`gc.freeze`), which collections
never traverse, and collection is on again: garbage made later (a run's records, asyncio's
cycles) is collected as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager, suppress

__all__ = ["importing", "preload_run", "preload_show"]


@contextmanager
def importing() -> Iterator[None]:
    """Collection off for the block (imports), then what exists frozen and collection restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def preload_run(model: str) -> None:
    """Import what ``tailgate run --model MODEL`` will import (the runner, the provider's module
    and its HTTP client), collection off: see the module docstring. A model spec the registry
    cannot resolve is left for the run to report."""
    from tailgate.errors import TailgateError

    with importing():
        import tailgate.runner  # noqa: F401
        from tailgate.providers import parse_model_spec
        from tailgate.registry import lookup

        with suppress(TailgateError):
            lookup("providers", parse_model_spec(model).provider)


def preload_show(as_json: bool) -> None:
    """Import what ``tailgate show`` will import (the summary's analysis modules and numpy, and
    for the tables the report's), collection off: see the module docstring."""
    with importing():
        import tailgate._api  # noqa: F401
        from tailgate.analysis import summarize_records  # noqa: F401  (loads the lazy module)

        if not as_json:
            from tailgate.report import render_run_summary  # noqa: F401
