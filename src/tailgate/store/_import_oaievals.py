"""OpenAI evals record logs (``oaieval ... --record_path log.jsonl``) as samples.

The log's first line is ``{"spec": {...}}`` (eval name, completion functions, run id), the last
``{"final_report": {...}}``, and between them one event per line: ``{"run_id", "event_id",
"sample_id", "type", "data", "created_by", "created_at"}``. Mapping (docs/importers.md): each
``match`` event is a sample scored ``data.correct`` (1/0), its output the ``sampled`` text of
the sample's latest ``sampling`` event before it; a sample's n-th match is repeat n - 1; the item
key is the event's ``sample_id`` (``<eval name>.<index>``, the same for every model). Samples
without a match event (other eval kinds) are not imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import InputError
from tailgate.store._import_rows import Place, SampleRows, iter_jsonl, require

__all__ = ["OaiEvalsParsed", "parse_oaievals"]


@dataclass(frozen=True)
class OaiEvalsParsed:
    rows: SampleRows
    scorer: str
    model: str
    source: dict[str, Any]


def parse_oaievals(files: list[str]) -> OaiEvalsParsed:
    rows = SampleRows()
    models: list[str] = []
    specs: list[dict[str, Any]] = []
    for display in files:
        spec, report = _read(rows, Path(display), display)
        models.append("+".join(str(f) for f in spec.get("completion_fns") or []) or "unknown")
        specs.append({"file": display, "spec": spec, "final_report": report})
    if not rows:
        raise InputError("no match events in the log (only match-based evals are imported)", file=files[0])
    model = models[0] if len(set(models)) == 1 else "+".join(sorted(set(models)))
    return OaiEvalsParsed(rows, "correct", f"openai-evals:{model}", {"tool": "openai-evals", "logs": specs})


def _read(rows: SampleRows, path: Path, display: str) -> tuple[dict[str, Any], Any]:
    spec: dict[str, Any] | None = None
    report: Any = None
    sampled: dict[str, tuple[str | None, str | None]] = {}
    seen: dict[str, int] = {}
    add = rows.add
    for line, obj in iter_jsonl(path, display):
        if spec is None or type(obj) is not dict or "final_report" in obj:
            place = Place(display, line)
            if not isinstance(obj, dict):
                raise place.error("expected a JSON object")
            if spec is None:
                spec = require(obj, "spec", dict, place)
                require(spec, "eval_name", str, place.at("spec"))
                continue
            report = obj["final_report"]
            continue
        # the common line checked inline (a large log is mostly this loop); the typed readers
        # run only to say what is wrong
        sample_id = obj.get("sample_id")
        kind = obj.get("type")
        data = obj.get("data")
        if type(sample_id) is not str or type(kind) is not str or type(data) is not dict:
            place = Place(display, line)
            sample_id = require(obj, "sample_id", str, place)
            kind = require(obj, "type", str, place)
            data = require(obj, "data", dict, place)
        if kind == "sampling":
            sampled[sample_id] = (_text(data.get("sampled")), _text(data.get("prompt")))
        elif kind == "match":
            correct = data.get("correct")
            if type(correct) is not bool:
                correct = require(data, "correct", bool, Place(display, line).at("data"))
            output, prompt = sampled.get(sample_id, (None, None))
            repeat = seen.get(sample_id, 0)
            seen[sample_id] = repeat + 1
            picked = _text(data.get("picked"))
            value = 1.0 if correct else 0.0
            expected = orjson.dumps(data.get("expected"), option=orjson.OPT_SORT_KEYS).decode()
            add(
                item=sample_id,
                row=line,
                repeat=repeat,
                score=value,
                # serialised here as SampleRows would (sorted keys: answer, correct's fields)
                scores=f'{{"correct":{{"answer":{orjson.dumps(picked).decode()},"error":null,'
                f'"expected":{expected},"value":{orjson.dumps(value).decode()}}}}}',
                output=output if output is not None else _text(data.get("sampled")),
                answer=picked,
                input=prompt,
            )
    if spec is None:
        raise InputError('empty log: expected a first line {"spec": ...}', file=display)
    return spec, report


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
