"""Layers only import downward (DESIGN.md): stored runs can be analysed with no provider code,
and click/rich stay in the CLI and report layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tailgate"

# Lower index = lower layer. A module may import its own layer and those below.
LAYERS: list[set[str]] = [
    {"errors", "registry", "config", "text", "_version"},
    {"records"},
    {"providers", "store", "dataset"},
    {"traffic"},
    {"scorers", "perturb"},
    {"runner"},
    {"analysis"},
    {"gate"},
    {"report"},
    {"cli", "__main__"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}
# Sideways imports that are forbidden even though the level would allow them.
FORBIDDEN = {
    ("analysis", "providers"),
    ("analysis", "runner"),
    ("analysis", "scorers"),
    ("store", "providers"),
    ("providers", "store"),
    ("traffic", "providers"),
    ("gate", "runner"),
    ("gate", "store"),
    ("gate", "providers"),
    ("report", "runner"),
}
UI_LIBRARIES = {"click", "rich"}


def _component(module_path: Path) -> str:
    rel = module_path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _component(p) != "__init__")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_down(path: Path) -> None:
    source = _component(path)
    assert source in LEVEL, f"{source} is not placed in a layer"
    for module, line in _imports(path):
        top = module.split(".")[0]
        if top in UI_LIBRARIES:
            assert source in {"cli", "report"}, f"{path.name}:{line} imports {module} outside cli/report"
        if top != "tailgate" or module == "tailgate":
            continue
        target = module.split(".")[1]
        assert target in LEVEL, f"{path.name}:{line}: unknown component {target}"
        assert LEVEL[target] <= LEVEL[source], f"{path.name}:{line}: {source} imports upward: {module}"
        assert (source, target) not in FORBIDDEN, f"{path.name}:{line}: {source} must not import {target}"


def test_layers_cover_every_component() -> None:
    components = {_component(p) for p in MODULES}
    assert components <= set(LEVEL)
