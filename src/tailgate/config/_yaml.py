"""YAML loading that remembers where every key came from, for errors that name the line."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tailgate.errors import InputError

__all__ = ["SourceMap", "file_problem", "load_yaml"]

Loc = Sequence[str | int]

MAX_DEPTH = 64
"""Deepest nesting accepted in a suite or policy file (a suite needs about six levels)."""
MAX_NODES = 100_000
"""Most values a file may hold once its aliases are expanded."""


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
    problem = file_problem(path)
    if problem is not None:
        raise InputError(problem, file=name)
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
        lines: dict[tuple[str | int, ...], int] = {}
        if node is not None:
            _walk(node, lines, name)
        data = yaml.safe_load(text)
    except RecursionError:
        raise InputError(f"nested more than {MAX_DEPTH} levels deep", file=name, line=_deep_line(text)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"invalid YAML: {_one_line(problem)}", file=name, line=where) from None
    except yaml.reader.ReaderError as exc:  # a control character such as NUL
        where = text[: exc.position].count("\n") + 1
        raise InputError(
            f"invalid YAML: character {exc.character!r} is not allowed in YAML", file=name, line=where
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {_one_line(str(exc))}", file=name) from None
    except ValueError as exc:  # a scalar the constructor cannot build
        raise InputError(f"invalid YAML: {_one_line(str(exc))}", file=name) from None
    return data, SourceMap(name, lines)


def _deep_line(text: str) -> int | None:
    """The line where flow brackets first nest past :data:`MAX_DEPTH` (quotes ignored: a hint)."""
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        for ch in line:
            depth += 1 if ch in "[{" else -1 if ch in "]}" else 0
            if depth > MAX_DEPTH:
                return number
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a data file, or None. Checked before opening, since
    opening a FIFO blocks until a writer appears (forever, for a dataset)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "file not found"
    except OSError as exc:  # a symlink loop, a name too long, no permission on a folder
        return f"cannot open it: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return "is a directory, not a data file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, socket or device)"
    return None


def _check_scalar(node: yaml.ScalarNode, name: str, line: int, dotted: str | None) -> None:
    """The rules datasets follow: valid Unicode (a ``"\\ud800"`` escape is not), and integers a
    ``str`` can hold (Python refuses more than 4,300 digits)."""
    value = str(node.value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            "text contains a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode",
            file=name,
            line=line,
            field=dotted,
        ) from None
    if node.tag == "tag:yaml.org,2002:int" and len(value) > 1000:
        raise InputError(f"an integer of {len(value):,} digits is too large", file=name, line=line, field=dotted)


def _walk(root: yaml.Node, out: dict[tuple[str | int, ...], int], name: str) -> None:
    """Record the line of every key; reject repeated keys, recursive aliases (``&a [*a]``),
    nesting deeper than :data:`MAX_DEPTH` and aliases that expand past :data:`MAX_NODES` nodes
    (a "billion laughs"), each naming its line. Iterative, so depth cannot overflow the stack."""
    stack: list[tuple[yaml.Node, tuple[str | int, ...], tuple[int, ...]]] = [(root, (), ())]
    visited = 0
    while stack:
        node, path, ancestors = stack.pop()
        line = node.start_mark.line + 1
        dotted = ".".join(str(p) for p in path) or None
        if id(node) in ancestors:
            raise InputError(
                "an alias refers to a node that contains it (recursive)", file=name, line=line, field=dotted
            )
        if len(path) > MAX_DEPTH:
            raise InputError(f"nested more than {MAX_DEPTH} levels deep", file=name, line=line, field=dotted)
        visited += 1
        if visited > MAX_NODES:
            raise InputError(f"more than {MAX_NODES:,} values once aliases are expanded", file=name, line=line)
        out.setdefault(path, line)
        if isinstance(node, yaml.ScalarNode):
            _check_scalar(node, name, line, dotted)
        inner = (*ancestors, id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                key_line = key_node.start_mark.line + 1
                if key in seen:
                    dotted = ".".join(str(p) for p in (*path, key))
                    raise InputError("key appears twice", file=name, line=key_line, field=dotted)
                seen.add(key)
                out.setdefault((*path, key), key_line)
                stack.append((value_node, (*path, key), inner))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, (*path, index), inner) for index, child in enumerate(node.value))
