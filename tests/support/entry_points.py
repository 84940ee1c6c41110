"""The built-in components this checkout declares in ``pyproject.toml`` but the installed package's
metadata does not yet (an editable install made before they were added): a stand-in distribution
that declares them, for the subprocesses of CLI tests. With an up-to-date install it declares nothing."""

from __future__ import annotations

import os
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

from tests.support.cli import REPO


def missing_entry_points() -> dict[str, dict[str, str]]:
    """``{group: {name: target}}`` declared by this checkout and absent from the installed metadata."""
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]
    missing: dict[str, dict[str, str]] = {}
    for group, table in declared.items():
        installed = {ep.name for ep in entry_points(group=group)}
        absent = {name: target for name, target in table.items() if name not in installed}
        if absent:
            missing[group] = absent
    return missing


def checkout_env(folder: Path) -> dict[str, str]:
    """``PYTHONPATH`` for a ``tailgate`` subprocess that finds this checkout's components."""
    folder.mkdir(parents=True, exist_ok=True)
    missing = missing_entry_points()
    if missing:
        info = folder / "tailgate_checkout_components-0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: tailgate-checkout-components\nVersion: 0\n", encoding="utf-8"
        )
        lines = []
        for group, table in missing.items():
            lines.append(f"[{group}]")
            lines.extend(f"{name} = {target}" for name, target in table.items())
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), str(folder)])}
