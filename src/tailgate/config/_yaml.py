"""YAML loading that remembers where every key came from, for errors that name the line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tailgate.errors import InputError

__all__ = ["SourceMap", "load_yaml"]

Loc = Sequence[str | int]


@dataclass(frozen=True)
class SourceMap:
    """Maps a path of keys and indices inside a YAML document to its 1-based line."""

    file: str
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """The line of the deepest known prefix of ``loc`` (pydantic locations may add tags)."""
        best: int | None = self.lines.get(())
        path: tuple[str | int, ...] = ()
        for part in loc:
            candidate = (*path, part)
            if candidate in self.lines:
                path = candidate
                best = self.lines[candidate]
        return best

    def error(self, loc: Loc, message: str) -> InputError:
        """An :class:`InputError` pointing at ``loc``."""
        dotted = ".".join(str(p) for p in loc) or None
        return InputError(message, file=self.file, line=self.line_of(loc), field=dotted)


def load_yaml(path: Path, display: str | None = None) -> tuple[Any, SourceMap]:
    """Parse a YAML file into plain Python data and a :class:`SourceMap`.

    Raises:
        InputError: the file is missing, not UTF-8, not YAML, or repeats a key.
    """
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", file=name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 (byte {exc.start})", file=name, line=line) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"invalid YAML: {problem}", file=name, line=where) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file=name) from None
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _walk(node, (), lines, name)
    return data, SourceMap(name, lines)


def _walk(node: yaml.Node, path: tuple[str | int, ...], out: dict[tuple[str | int, ...], int], name: str) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                dotted = ".".join(str(p) for p in (*path, key))
                raise InputError("key appears twice", file=name, line=line, field=dotted)
            seen.add(key)
            out[(*path, key)] = line
            _walk(value_node, (*path, key), out, name)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _walk(child, (*path, index), out, name)
