"""The public API is curated: sorted ``__all__``, every name importable, nothing private leaks."""

from __future__ import annotations

import importlib

import pytest

import tailgate

PUBLIC_PACKAGES = [
    "tailgate",
    "tailgate.analysis",
    "tailgate.config",
    "tailgate.providers",
    "tailgate.records",
    "tailgate.runner",
    "tailgate.scorers",
    "tailgate.store",
    "tailgate.report",
    "tailgate.traffic",
]


def _isort_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", PUBLIC_PACKAGES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    names = module.__all__
    assert names == sorted(names, key=_isort_key)  # the order ruff's RUF022 keeps
    for member in names:
        assert not member.startswith("_") or member == "__version__"
        assert getattr(module, member) is not None


def test_top_level_is_lazy() -> None:
    """``import tailgate`` must not pull in numpy, pyarrow or duckdb (CLI start-up time)."""
    import subprocess
    import sys

    heavy = "('numpy', 'pyarrow', 'duckdb', 'aiohttp')"
    code = f"import sys, tailgate; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert tailgate.__version__
    assert callable(tailgate.run_sync)
