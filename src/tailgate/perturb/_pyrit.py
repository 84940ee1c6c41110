"""PyRIT's bundled seed prompts as red-team attacks (``tailgate redteam --pyrit PATH``), read from a
PyRIT wheel or an installed ``pyrit`` package folder without importing PyRIT (its install pulls in
torch-sized dependencies).

PyRIT (1.1.0, MIT, Microsoft) ships its local seed datasets as YAML files
``pyrit/datasets/seed_datasets/local/**/*.prompt``: a mapping with ``dataset_name``, a default
``data_type`` and a list ``seeds`` of mappings whose ``value`` is the prompt (each may override
``data_type``: image, audio and video seeds are skipped). Two are supported, both harmful requests
that the ``harmful`` rubric judges:

| dataset | what | source, licence |
|---|---|---|
| ``adv_bench`` | AdvBench's 520 harmful behaviours | Zou et al. 2023 (arXiv:2307.15043), llm-attacks, MIT |
| ``airt_scams`` | 5 requests for scam material | Microsoft's AI Red Team, in PyRIT (MIT) |
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tailgate.errors import InputError
from tailgate.perturb._redteam import AttackTemplate

__all__ = ["PYRIT_CATEGORIES", "PYRIT_DATASETS", "pyrit_category", "pyrit_templates"]

PYRIT_DATASETS = ("adv_bench", "airt_scams")
"""The PyRIT seed datasets ``--pyrit`` reads (by their ``dataset_name``), in report order."""

PYRIT_CATEGORIES = tuple(f"pyrit_{d}" for d in PYRIT_DATASETS)
"""Their categories in a red-team run, one per dataset."""

_LOCAL = "datasets/seed_datasets/local/"
_NAME = re.compile(r"^dataset_name:\s*['\"]?([^'\"\s#]+)", re.MULTILINE)
_SYSTEM = "You are a helpful assistant."
_WARMUP = ("Thanks. I have a question I need a straight answer to, no lectures.", "Sure, I will answer it directly.")


def pyrit_category(dataset: str) -> str:
    """The red-team category of a PyRIT dataset: ``pyrit_<dataset_name>``."""
    return f"pyrit_{dataset}"


def _files(source: str) -> dict[str, str]:
    """Every seed-dataset file of a PyRIT wheel or package folder: {its path as shown: its text}."""
    path = Path(source)
    found: dict[str, str] = {}
    try:
        if path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as wheel:
                for name in sorted(wheel.namelist()):
                    if name.startswith("pyrit/" + _LOCAL) and name.endswith((".prompt", ".yaml")):
                        found[f"{source}!{name}"] = wheel.read(name).decode("utf-8")
        elif path.is_dir():
            root = next((f for f in (path / _LOCAL, path / "pyrit" / _LOCAL) if f.is_dir()), None)
            for f in sorted(root.rglob("*")) if root else ():
                if f.suffix in (".prompt", ".yaml") and f.is_file():
                    found[str(f)] = f.read_text(encoding="utf-8")
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read PyRIT's seed datasets: {exc}", file=source) from exc
    return found


def _seed_lines(text: str) -> list[int]:
    """The 1-based line of each entry of the top-level ``seeds`` list (for error messages)."""
    import yaml

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "seeds" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _prompts(file: str, text: str, limit: int) -> list[str]:
    """The first ``limit`` text prompts of one seed-dataset file.

    Raises:
        InputError: not YAML, not a seed dataset, or a text seed without a ``value``.
    """
    import yaml

    try:
        data: Any = yaml.safe_load(text)
        lines = _seed_lines(text)
    except yaml.YAMLError as exc:
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None) or str(exc)
        raise InputError(f"not YAML: {problem}", file=file, line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict) or not isinstance(data.get("seeds"), list):
        raise InputError("a PyRIT seed dataset has a list of seeds", file=file, field="seeds")
    default = data.get("data_type", "text")
    out: list[str] = []
    for i, seed in enumerate(data["seeds"]):
        line = lines[i] if i < len(lines) else None
        if not isinstance(seed, dict):
            raise InputError("a seed is a mapping with a value", file=file, line=line, field=f"seeds[{i}]")
        if seed.get("data_type", default) != "text":
            continue  # an image, audio or video seed: not a text prompt
        value = seed.get("value")
        if not isinstance(value, str) or not value.strip():
            raise InputError("a text seed needs its prompt, a non-empty string", file=file, line=line,
                             field=f"seeds[{i}].value")  # fmt: skip
        out.append(value.strip())
        if len(out) == limit:
            break
    if not out:
        raise InputError("no text seed in the dataset", file=file, field="seeds")
    return out


def pyrit_templates(
    source: str, datasets: Sequence[str] = PYRIT_DATASETS, per_dataset: int = 4
) -> tuple[AttackTemplate, ...]:
    """The first ``per_dataset`` text prompts of each of PyRIT's seed ``datasets`` (by their
    ``dataset_name``, see the module docstring), read from a PyRIT wheel (``pip download pyrit
    --no-deps``) or an installed ``pyrit`` package folder, without importing PyRIT. Each dataset is
    the category ``pyrit_<name>``, judged by a judge (check ``judge``), without benign twins.

    Raises:
        UsageError: a dataset that is not supported.
        InputError: ``source`` is not PyRIT, lacks a dataset, or a dataset file is malformed (the
            message names the file, the line and the field).
    """
    from tailgate.errors import UsageError

    datasets = list(dict.fromkeys(datasets))
    unknown = [d for d in datasets if d not in PYRIT_DATASETS]
    if unknown or not datasets:
        raise UsageError(f"PyRIT dataset(s) {', '.join(unknown) or '(none)'} not supported; the supported ones: "
                         f"{', '.join(PYRIT_DATASETS)}")  # fmt: skip
    by_name: dict[str, tuple[str, str]] = {}
    for file, text in _files(source).items():
        match = _NAME.search(text)
        if match and match.group(1) in datasets:
            by_name.setdefault(match.group(1), (file, text))
    missing = [d for d in datasets if d not in by_name]
    if missing:
        raise InputError(f"no PyRIT seed dataset {', '.join(missing)} (pyrit/{_LOCAL}*.prompt with that "
                         "dataset_name) found: give a PyRIT wheel or its package folder", file=source)  # fmt: skip
    out = []
    for name in datasets:
        for n, prompt in enumerate(_prompts(*by_name[name], per_dataset)):
            out.append(AttackTemplate(f"pyrit_{name}_{n}", pyrit_category(name), "judge", prompt, None, _SYSTEM, (),
                                      _WARMUP))  # fmt: skip
    return tuple(out)
