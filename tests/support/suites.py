"""Writing small suites and datasets for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

DEFAULT_ITEMS = [
    {"id": "a", "question": "What is 2+2?", "answer": 4, "task": "math"},
    {"id": "b", "question": "What is 3+5?", "answer": 8, "task": "math"},
    {"id": "c", "question": "Capital of France?", "answer": ["Paris"], "task": "geo"},
    {"id": "d", "question": "Capital of Peru?", "answer": ["Lima"], "task": "geo"},
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def make_suite(
    folder: Path,
    items: list[dict[str, Any]] | None = None,
    *,
    name: str = "t",
    repeats: int = 1,
    templates: list[dict[str, Any]] | None = None,
    scorers: list[Any] | None = None,
    extra: dict[str, Any] | None = None,
    dataset_file: str = "items.jsonl",
) -> Path:
    """A suite YAML (and its JSONL dataset) in ``folder``; returns the suite path."""
    folder.mkdir(parents=True, exist_ok=True)
    if items is not None or not (folder / dataset_file).exists():
        write_jsonl(folder / dataset_file, items if items is not None else DEFAULT_ITEMS)
    suite: dict[str, Any] = {
        "name": name,
        "dataset": {
            "path": dataset_file,
            "id": "id",
            "reference": "answer",
            "attributes": ["task"],
        },
        "templates": templates
        or [
            {
                "name": "original",
                "messages": [{"role": "user", "content": "{{ question }}"}],
                "text": "Q: {{ question }}\nA:",
            }
        ],
        "repeats": repeats,
        "scorers": scorers
        or [
            {"type": "numeric", "when": {"task": "math"}},
            {"type": "contains", "when": {"task": "geo"}},
        ],
    }
    suite.update(extra or {})
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
