"""Inspect AI logs (``.json``, and ``.eval``: a zip of JSON files) as samples, read with zipfile
and json alone (inspect_ai is not imported).

Mapping (docs/importers.md): item key ``<task>/<sample id>``; epoch ``e`` is repeat ``e - 1``;
every scorer's value is kept in ``scores`` with its answer and explanation, the headline being
``--scorer`` (default: the log's first scorer). Values become numbers as Inspect's own
``value_to_float`` does: ``C`` 1, ``I`` 0, ``P`` 0.5, ``N`` 0, booleans, numbers, numeric strings,
yes/no/true/false; a dict value (one scorer, several metrics) gives one score per key
(``scorer/key``). The latency is the model call's (``output.time``).

Speed: a sample carries its whole event transcript (~8 KB), of which a few fields are read, so
the log is parsed by simdjson, whose lazy proxies build only the fields :data:`SAMPLE_FIELDS`
as Python objects (orjson would build every object of the transcript); ``.eval`` members are
read straight from the archive's bytes. Anything simdjson refuses (a malformed file, a number
beyond 64 bits) is read again by orjson, whose errors name the line.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import InputError
from tailgate.store._import_rows import Place, SampleRows, load_json, read_file, require

__all__ = ["SAMPLE_FIELDS", "InspectParsed", "parse_inspect", "value_to_float"]

SAMPLE_FIELDS = ("id", "epoch", "scores", "error", "output", "input", "metadata")
"""The fields of a sample that the importer reads (:func:`_add`); the rest is never built."""
_HEADER_FIELDS = ("version", "eval", "status", "results")
_MISSING = object()
_Object: Any = None  # simdjson's proxy types, set on first use (simdjson is imported only here)
_Array: Any = None

SUPPORTED_VERSIONS = (2,)
_LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
_WORDS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
_ZSTD = 93  # the zip compression method newer Inspect versions write


@dataclass(frozen=True)
class InspectParsed:
    rows: SampleRows
    scorer: str
    model: str
    source: dict[str, Any]


def value_to_float(value: Any) -> float | None:
    """A scorer's value as a number (None: the value is not one)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value in _LETTERS:
            return _LETTERS[value]
        if value.lower() in _WORDS:
            return _WORDS[value.lower()]
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_inspect(files: list[str], *, scorer: str | None = None) -> InspectParsed:
    rows = SampleRows()
    models: list[str] = []
    logs: list[dict[str, Any]] = []
    headline = scorer
    for display in files:
        header, samples = _open(Path(display), display)
        place = Place(display)
        version = require(header, "version", int, place)
        if version not in SUPPORTED_VERSIONS:
            raise place.error(f"unknown Inspect log version {version}: this importer reads version 2", "version")
        evaluation = require(header, "eval", dict, place)
        task = require(evaluation, "task", str, place.at("eval"))
        models.append(str(require(evaluation, "model", str, place.at("eval"))))
        headline = headline or _first_scorer(header)
        logs.append(
            {
                "file": display,
                "task": task,
                "status": header.get("status"),
                "packages": evaluation.get("packages"),
                "results": header.get("results"),
            }
        )
        for sample_place, sample in samples:
            _add(rows, sample_place, sample, task, headline)
    if not rows:
        raise InputError("no samples in the log (was it written with --no-log-samples?)", file=files[0])
    model = models[0] if len(set(models)) == 1 else "+".join(sorted(set(models)))
    return InspectParsed(rows, headline or "", f"inspect:{model}", {"tool": "inspect", "logs": logs})


def _first_scorer(header: dict[str, Any]) -> str | None:
    results = header.get("results")
    scores = results.get("scores") if isinstance(results, dict) else None
    if isinstance(scores, list) and scores and isinstance(scores[0], dict):
        name = scores[0].get("name")
        return name if isinstance(name, str) else None
    return None


def _open(path: Path, display: str) -> tuple[dict[str, Any], Iterator[tuple[Place, Any]]]:
    """The log's header and its samples (with where each is)."""
    data = read_file(path, display)
    if data[:2] == b"PK":
        return _open_eval(path, display, data)
    fast = _open_lazy(data, display)
    if fast is not None:
        return fast
    log = load_json(data, display)
    if not isinstance(log, dict):
        raise InputError("expected a JSON object (an Inspect log)", file=display)
    samples = log.get("samples")
    if samples is None:
        return log, iter(())
    if not isinstance(samples, list):
        raise Place(display).error("expected a list", "samples")
    return log, ((Place(display, path=f"samples[{i}]"), s) for i, s in enumerate(samples))


def _parser() -> Any:
    global _Object, _Array
    import simdjson

    _Object, _Array = simdjson.Object, simdjson.Array
    return simdjson.Parser()


def _open_lazy(data: bytes, display: str) -> tuple[dict[str, Any], Iterator[tuple[Place, Any]]] | None:
    """The log through simdjson: the header's fields and, per sample, only :data:`SAMPLE_FIELDS`
    as Python objects (the same values orjson gives for them); None when simdjson cannot read
    the file (then orjson reads it and names what is wrong)."""
    parser = _parser()
    try:
        doc = parser.parse(data)
    except (ValueError, RuntimeError):  # (UnicodeDecodeError is a ValueError)
        return None
    if type(doc) is not _Object:
        return None
    header = {key: _python(doc[key]) for key in _HEADER_FIELDS if key in doc}
    samples = doc.get("samples")
    if samples is None:
        return header, iter(())
    if type(samples) is not _Array:
        raise Place(display).error("expected a list", "samples")

    def lazy() -> Iterator[tuple[Place, Any]]:
        for i, sample in enumerate(samples):
            yield Place(display, path=f"samples[{i}]"), _fields(sample)

    return header, lazy()


def _python(value: Any) -> Any:
    """A simdjson value as the Python object orjson would have made of it."""
    kind = type(value)
    if kind is _Object:
        return value.as_dict()
    if kind is _Array:
        return value.as_list()
    return value


def _fields(sample: Any) -> Any:
    """A sample reduced to what :func:`_add` reads (:data:`SAMPLE_FIELDS`; of ``output`` its
    ``completion`` and ``time``, of each score its ``value``, ``answer`` and ``explanation``),
    as the Python objects orjson would have made; a non-object sample as it is, for :func:`_add`
    to refuse."""
    if type(sample) is not _Object:
        return _python(sample)
    out: dict[str, Any] = {}
    for key in SAMPLE_FIELDS:
        value = sample.get(key, _MISSING)
        if value is _MISSING:
            continue
        kind = type(value)
        if kind is _Object and key == "output":
            value = {k: _python(value[k]) for k in ("completion", "time") if k in value}
        elif kind is _Object and key == "scores":
            value = {name: _score_fields(score) for name, score in value.items()}
        elif kind is _Object or kind is _Array:
            value = _python(value)
        out[key] = value
    return out


def _score_fields(score: Any) -> Any:
    if type(score) is not _Object:
        return _python(score)
    return {k: _python(score[k]) for k in ("value", "answer", "explanation") if k in score}


def _open_eval(path: Path, display: str, data: bytes) -> tuple[dict[str, Any], Iterator[tuple[Place, Any]]]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError(f"not a readable .eval archive ({exc})", file=display) from None
    names = archive.namelist()
    if "header.json" not in names:
        raise InputError("no header.json in the archive: the eval did not finish writing its log", file=display)
    header = _member_json(archive, path, display, "header.json")
    if not isinstance(header, dict):
        raise InputError("header.json: expected a JSON object", file=display)
    sample_names = sorted((n for n in names if n.startswith("samples/") and n.endswith(".json")), key=_sample_order)

    def samples() -> Iterator[tuple[Place, Any]]:
        parser = _parser()
        for start in range(0, len(sample_names), _BATCH):
            names = sample_names[start : start + _BATCH]
            yield from _batch(archive, path, display, data, names, parser)

    return header, samples()


_BATCH = 512
"""Members decompressed at once: zstd frames one after another are one zstd input, and one
decompression call instead of one per member saves its setup (~25 us a member)."""


def _batch(
    archive: zipfile.ZipFile, path: Path, display: str, data: bytes, names: list[str], parser: Any
) -> Iterator[tuple[Place, Any]]:
    infos = [archive.getinfo(name) for name in names]
    for name, raw in zip(names, _members_bytes(data, infos), strict=True):
        sample: Any = None
        if raw is not None:
            try:
                sample = _fields(parser.parse(raw))
            except (ValueError, RuntimeError):
                sample = None
        if sample is None:  # the precise reading, which says what is wrong
            sample = _member_json(archive, path, display, name)
        yield Place(f"{display}!{name}"), sample


def _sample_order(name: str) -> tuple[int, str]:
    stem = name.removeprefix("samples/").removesuffix(".json")
    sample, _, epoch = stem.rpartition("_epoch_")
    return (int(epoch) if epoch.isdigit() else 0, sample)


def _member_json(archive: zipfile.ZipFile, path: Path, display: str, name: str) -> Any:
    info = archive.getinfo(name)
    shown = f"{display}!{name}"
    if info.compress_type == _ZSTD:
        data = _zstd_member(path, info)
    else:
        try:
            data = archive.read(name)
        except (NotImplementedError, zipfile.BadZipFile) as exc:
            raise InputError(f"cannot read this member ({exc})", file=shown) from None
    return load_json(data, shown)


_zstd_codec: Any = None


def _members_bytes(data: bytes, infos: list[zipfile.ZipInfo]) -> list[bytes | None]:
    """Members' uncompressed bytes (:func:`_member_bytes`), zstd ones decompressed in one call
    when they all are zstd (each still checked against its own size)."""
    raws = [_member_raw(data, info) for info in infos]
    if len(infos) > 1 and all(i.compress_type == _ZSTD for i in infos) and all(r is not None for r in raws):
        sizes = [i.file_size for i in infos]
        try:
            joined = _zstd().decompress(b"".join(r for r in raws if r is not None), decompressed_size=sum(sizes))
        except (OSError, ValueError):
            joined = None
        if joined is not None and joined.size == sum(sizes):
            view = memoryview(joined)
            out: list[bytes | None] = []
            at = 0
            for size in sizes:
                out.append(bytes(view[at : at + size]))
                at += size
            return out
    return [_member_bytes(data, info) for info in infos]


def _zstd() -> Any:
    global _zstd_codec
    if _zstd_codec is None:
        import pyarrow as pa

        _zstd_codec = pa.Codec("zstd")
    return _zstd_codec


def _member_raw(data: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """A member's compressed bytes cut from the archive's bytes; None unless its local header
    checks out and it is not encrypted."""
    start = info.header_offset
    local = data[start : start + 30]
    if len(local) < 30 or local[:4] != b"PK\x03\x04" or info.flag_bits & 1:  # (bit 0: encrypted)
        return None
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    begin = start + 30 + name_len + extra_len
    raw = data[begin : begin + info.compress_size]
    return raw if len(raw) == info.compress_size else None


def _member_bytes(data: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """A member's uncompressed bytes cut straight from the archive's bytes (zipfile's own read
    costs ~0.2 ms a member: a 100k-sample log is 100k members); None for anything but a plain
    stored, deflated or zstd member whose local header and CRC check out (then zipfile reads it
    and says what is wrong)."""
    raw = _member_raw(data, info)
    if raw is None:
        return None
    try:
        if info.compress_type == zipfile.ZIP_STORED:
            out = raw
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            out = zlib.decompress(raw, -15)
        elif info.compress_type == _ZSTD:
            out = _zstd().decompress(raw, decompressed_size=info.file_size, asbytes=True)
            return out if len(out) == info.file_size else None  # (zipfile's zstd path has no CRC check)
        else:
            return None
    except (zlib.error, OSError, ValueError):
        return None
    return out if len(out) == info.file_size and zlib.crc32(out) == info.CRC else None


def _zstd_member(path: Path, info: zipfile.ZipInfo) -> bytes:
    """A zstd-compressed member (zipfile reads zstd only from Python 3.14): its raw bytes sit
    after the local header, and pyarrow (a dependency already) decompresses them."""
    import pyarrow as pa

    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        handle.seek(info.header_offset + 30 + name_len + extra_len)
        raw = handle.read(info.compress_size)
    out: bytes = pa.Codec("zstd").decompress(raw, decompressed_size=info.file_size, asbytes=True)
    return out


def _add(rows: SampleRows, place: Place, sample: Any, task: str, headline: str | None) -> None:
    # the common sample checked inline (a large log is mostly this function); the typed readers
    # run only to say what is wrong
    plain = type(sample) is dict
    sample_id = sample.get("id") if plain else None
    epoch = sample.get("epoch") if plain else None
    if not ((type(sample_id) is str or type(sample_id) is int) and type(epoch) is int):
        sample_id = require(sample, "id", (str, int), place)
        epoch = require(sample, "epoch", int, place)
    if epoch < 1:
        raise place.error("expected an epoch from 1", "epoch")
    scores = _scores(sample.get("scores"), place)
    error = sample.get("error")
    message = None
    if error is not None:
        message = str(error.get("message")) if isinstance(error, dict) else str(error)
    label = headline if headline in scores else (headline or next(iter(scores), None))
    if message is None and (label is None or label not in scores):
        raise place.error(f"no score '{label}' (this sample has: {', '.join(scores) or 'none'})", "scores")
    chosen = scores.get(label) if label is not None else None
    output = sample.get("output")
    if type(output) is not dict:
        output = {}
    completion = output.get("completion")
    time = output.get("time")
    metadata = sample.get("metadata")
    rows.add(
        item=f"{task}/{sample_id}",
        row=len(rows) + 1,
        repeat=epoch - 1,
        score=None if message is not None or chosen is None else chosen["value"],
        scores=scores,
        output=completion if type(completion) is str and message is None else None,
        answer=None if chosen is None else chosen["answer"],
        latency=float(time) * 1000 if isinstance(time, int | float) and not isinstance(time, bool) else None,
        input=_text(sample.get("input")),
        error=message,
        attributes={"task": task, **_metadata(metadata)} if metadata else {"task": task},
    )


def _scores(raw: Any, sample: Place) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise sample.at("scores").error("expected an object of scorer -> score")
    out: dict[str, dict[str, Any]] = {}
    for name, score in raw.items():
        if type(score) is dict and "value" in score:  # (every JSON value is of require's kinds)
            value = score["value"]
        else:
            value = require(
                score, "value", (str, int, float, bool, dict, list, type(None)), sample.at("scores").at(name)
            )
        answer = score.get("answer")
        entry = {"answer": None if answer is None else str(answer), "error": None}
        entry["explanation"] = score.get("explanation")
        values = value.items() if isinstance(value, dict) else [("", value)]
        for key, one in values:
            number = value_to_float(one)
            if number is None and one is not None:
                where = sample.at("scores").at(name)
                raise where.error(f"cannot read {one!r} as a score (C, I, P, N, a number)", "value")
            out[f"{name}/{key}" if key else name] = entry | {"value": number}
    return out


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()  # chat messages


def _metadata(metadata: Any) -> dict[str, Any]:
    """A sample's short scalar metadata, as slice attributes."""
    if not isinstance(metadata, dict):
        return {}
    return {
        str(k): v
        for k, v in metadata.items()
        if k != "task" and isinstance(v, str | int | float | bool) and len(str(v)) <= 100
    }
