"""What the format importers share: a columnar builder of parsed samples, typed field readers
whose errors name the file, line (or JSON path) and field, and JSON reading with those errors."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import InputError

__all__ = [
    "ROW_COLUMNS",
    "Place",
    "SampleRows",
    "as_python",
    "iter_jsonl",
    "lazy_json",
    "load_json",
    "number",
    "read_file",
    "require",
]

ROW_COLUMNS = (
    "_item",
    "__row",
    "_repeat",
    "_variant",
    "_output",
    "_answer",
    "_score",
    "_scores",
    "_latency",
    "_input",
    "_error",
)
"""The fixed columns of a parsed table (slice attributes are the other columns)."""


@dataclass(frozen=True)
class Place:
    """Where a value is: a file and a line (JSONL) or a JSON path (one JSON document)."""

    file: str
    line: int | None = None
    path: str = ""

    def at(self, key: str | int) -> Place:
        step = f"[{key}]" if isinstance(key, int) else (f".{key}" if self.path else str(key))
        return Place(self.file, self.line, self.path + step)

    def error(self, message: str, key: str | int | None = None) -> InputError:
        where = self.at(key).path if key is not None else self.path
        return InputError(message, file=self.file, line=self.line, field=where or None)


def require(obj: Any, key: str, kind: type | tuple[type, ...], place: Place) -> Any:
    """``obj[key]``, which must exist and be of ``kind`` (bool is not a number here)."""
    if not isinstance(obj, dict):
        raise place.error(f"expected a JSON object, found {_name(obj)}")
    if key not in obj:
        raise place.error("missing field", key)
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        wanted = " or ".join(_name_of(k) for k in kinds)
        raise place.error(f"expected {wanted}, found {_name(value)}", key)
    return value


def number(value: Any) -> float | None:
    """A finite JSON number or boolean as a float; None for anything else."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


_KIND_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "an object",
}


def _name_of(kind: type) -> str:
    return _KIND_NAMES.get(kind, kind.__name__)


def _name(value: Any) -> str:
    if value is None:
        return "null"
    return _name_of(type(value))


def iter_jsonl(path: Path, display: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) for every non-blank line; a broken line or bytes that are not
    UTF-8 raise an :class:`InputError` naming the line."""
    data = _read(path, display)
    for number_, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            yield number_, orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _decode_error(exc, display, number_) from None


def load_json(data: bytes, display: str) -> Any:
    """One JSON document (the whole file); errors name the line."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        pos = exc.pos
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:  # orjson checks the encoding first and reports no place
            pos = bad.start
        line = data.count(b"\n", 0, pos) + 1 if pos is not None else None
        raise _decode_error(exc, display, line) from None


def lazy_json(data: bytes, parser: Any = None) -> tuple[Any, Any, Any] | None:
    """One JSON document parsed by simdjson, whose values stay in its buffer until read (a
    large log's fields that are not imported never become Python objects): (the root value,
    simdjson's Object and Array proxy types), or None when simdjson refuses the bytes (then
    :func:`load_json` reads them and names what is wrong). ``parser`` reuses a
    ``simdjson.Parser`` (its earlier document's proxies must be gone)."""
    import simdjson

    try:
        root = (parser or simdjson.Parser()).parse(data)
    except (ValueError, RuntimeError):  # malformed, not UTF-8 (a ValueError), beyond 64-bit numbers
        return None
    return root, simdjson.Object, simdjson.Array


def as_python(value: Any) -> Any:
    """A simdjson value as the Python object orjson would have made of it."""
    convert = getattr(value, "as_dict", None) or getattr(value, "as_list", None)
    return value if convert is None else convert()


def read_file(path: Path, display: str) -> bytes:
    return _read(path, display)


def _read(path: Path, display: str) -> bytes:
    if not path.is_file():
        raise InputError("file not found", file=display)
    return path.read_bytes()


def _decode_error(exc: orjson.JSONDecodeError, display: str, line: int | None) -> InputError:
    if "utf-8" in str(exc).lower():
        return InputError("not UTF-8 text (save the file as UTF-8)", file=display, line=line)
    return InputError(f"not valid JSON ({str(exc).split(':')[0]})", file=display, line=line)


@dataclass
class SampleRows:
    """Parsed samples, column by column (one entry per sample), ready for :func:`import_table`.

    ``attributes`` are per-sample slice values (an item's value must not change across its
    samples: the writer checks); ``scores`` may be given already serialised (canonical JSON)."""

    item: list[str] = field(default_factory=list)
    row: list[int] = field(default_factory=list)
    repeat: list[int] = field(default_factory=list)
    variant: list[str] = field(default_factory=list)
    output: list[str | None] = field(default_factory=list)
    answer: list[str | None] = field(default_factory=list)
    score: list[float | None] = field(default_factory=list)
    scores: list[str] = field(default_factory=list)
    latency: list[float | None] = field(default_factory=list)
    input: list[str | None] = field(default_factory=list)
    error: list[str | None] = field(default_factory=list)
    attributes: dict[str, list[Any]] = field(default_factory=dict)

    def add(
        self,
        *,
        item: str,
        row: int,
        repeat: int,
        score: float | None,
        scores: dict[str, dict[str, Any]] | str,
        variant: str = "original",
        output: str | None = None,
        answer: str | None = None,
        latency: float | None = None,
        input: str | None = None,
        error: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        self.item.append(item)
        self.row.append(row)
        self.repeat.append(repeat)
        self.variant.append(variant)
        self.output.append(output)
        self.answer.append(answer)
        self.score.append(score)
        self.scores.append(
            scores if type(scores) is str else orjson.dumps(scores, option=orjson.OPT_SORT_KEYS).decode()
        )
        self.latency.append(latency)
        self.input.append(input)
        self.error.append(error)
        if attributes:
            self._attributes(attributes)

    def _attributes(self, attributes: dict[str, Any]) -> None:
        n = len(self.item)  # this sample's entry is the n-th
        columns = self.attributes
        for key, value in attributes.items():
            if key.startswith("_"):
                continue
            column = columns.get(key)
            if column is None:
                column = columns[key] = []
            if len(column) < n - 1:  # a key the samples before this one did not have
                column.extend([None] * (n - 1 - len(column)))
            if len(column) == n - 1:  # (a key given twice keeps its first value, as before)
                column.append(None if value is None else str(value))

    def __len__(self) -> int:
        return len(self.item)

    def table(self) -> dict[str, Any]:
        """The samples as columns (numpy arrays, which DuckDB scans without pandas or pyarrow:
        building a pyarrow array imports pandas, 0.2-0.7 s) with the names :data:`ROW_COLUMNS`
        and the attributes; :func:`tailgate.store._import.import_table` gives them their SQL
        types."""
        import numpy as np

        n = len(self.item)

        def text(values: list[Any]) -> Any:
            out = np.empty(n, dtype=object)
            out[: len(values)] = values
            return out  # short attribute columns are padded with None

        columns: dict[str, Any] = {
            "_item": text(self.item),
            "__row": np.array(self.row, dtype=np.int64),
            "_repeat": np.array(self.repeat, dtype=np.int32),
            "_variant": text(self.variant),
            "_output": text(self.output),
            "_answer": text(self.answer),
            "_score": _floats(self.score),
            "_scores": text(self.scores),
            "_latency": _floats(self.latency),
            "_input": text(self.input),
            "_error": text(self.error),
        }
        for key, values in self.attributes.items():
            columns[key] = text(values)
        return columns


def _floats(values: list[float | None]) -> Any:
    """A float column: float64 with NaN for None (DuckDB reads a numpy NaN as NULL); a column
    that holds a real NaN (an Inspect score of "nan") goes as text instead, so that the writer's
    finite-number check still sees it and names its line."""
    import numpy as np

    out = np.array(values, dtype=np.float64)
    if int(np.isnan(out).sum()) == values.count(None):
        return out
    text = np.empty(len(values), dtype=object)
    text[:] = [None if v is None else str(v) for v in values]
    return text
