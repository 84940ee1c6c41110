"""promptfoo result files (``promptfoo eval -o out.json``, results version 3) as samples.

Mapping (docs/importers.md): each provider is its own run (``--provider`` picks one); each test
is an item whose key is a hash of its description and vars, so the same test pairs across
providers and files; a test seen again (``--repeat``) is the next repeat; several prompts are
variants (named by their label). The headline score is the test's pass (1/0), as promptfoo's
own pass rate counts it; promptfoo's weighted ``score``, each assertion (pass, score, reason) and
each named score are kept in ``scores``; ``latencyMs`` is the latency; an errored test keeps its
error and no score.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import InputError, UsageError
from tailgate.store._import_rows import (
    Place,
    SampleRows,
    as_python,
    lazy_json,
    load_json,
    number,
    read_file,
    require,
)

__all__ = ["PromptfooParsed", "parse_promptfoo"]

SUPPORTED_VERSIONS = (3,)
_ERROR = 2  # promptfoo's ResultFailureReason.ERROR


@dataclass
class PromptfooParsed:
    provider: str
    model: str
    rows: SampleRows = field(default_factory=SampleRows)
    scorer: str = "pass"
    source: dict[str, Any] = field(default_factory=dict)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)


def parse_promptfoo(files: list[str], *, provider: str | None = None) -> list[PromptfooParsed]:
    """One entry per provider (in the order the files list them)."""
    runs: dict[str, PromptfooParsed] = {}
    for display in files:
        place = Place(display)
        raw = read_file(Path(display), display)
        data = _lite(raw)
        if data is None:
            data = load_json(raw, display)
        results = require(data, "results", dict, place)
        version = require(results, "version", int, place.at("results"))
        if version not in SUPPORTED_VERSIONS:
            raise place.error(
                f"unknown promptfoo results version {version}: this importer reads version 3", "results.version"
            )
        entries = require(results, "results", list, place.at("results"))
        prompts = _prompt_names(results.get("prompts"))
        for i, entry in enumerate(entries):
            _add(runs, Place(display, path=f"results.results[{i}]"), entry, prompts, data)
    if provider is not None:
        chosen = [r for key, r in runs.items() if provider in (key, r.model.removeprefix("promptfoo:"))]
        if not chosen:
            raise UsageError(f"no provider '{provider}' in the file (it has: {', '.join(runs)})")
        return chosen
    if not runs:
        raise InputError("no results in the file", file=files[0])
    return list(runs.values())


_ENTRY_FIELDS = (
    "provider",
    "success",
    "promptId",
    "failureReason",
    "error",
    "latencyMs",
    "score",
    "namedScores",
    "vars",
)
"""The fields of a result entry read whole (:func:`_add`, :func:`_item_key`, :func:`_scores`);
of ``testCase``, ``response``, ``prompt`` and ``gradingResult`` only :data:`_PARTS`."""
_PARTS = {
    "testCase": ("description", "vars"),
    "response": ("error", "output"),
    "prompt": ("raw",),
    "gradingResult": ("componentResults",),
}


def _lite(raw: bytes) -> dict[str, Any] | None:
    """The document with only what the importer reads, as the Python objects orjson would make
    of it (None: simdjson refuses the bytes)."""
    parsed = lazy_json(raw)
    if parsed is None:
        return None
    doc, obj, arr = parsed
    if type(doc) is not obj:
        return None
    out: dict[str, Any] = {k: as_python(doc[k]) for k in ("evalId",) if k in doc}
    results = doc.get("results", _MISSING)
    if type(results) is not obj:
        return out if results is _MISSING else out | {"results": as_python(results)}
    head: dict[str, Any] = {k: as_python(results[k]) for k in ("version", "prompts") if k in results}
    entries = results.get("results", _MISSING)
    if type(entries) is arr:
        head["results"] = [_lite_entry(e, obj) for e in entries]
    elif entries is not _MISSING:
        head["results"] = as_python(entries)
    return out | {"results": head}


def _lite_entry(entry: Any, obj: Any) -> Any:
    if type(entry) is not obj:
        return as_python(entry)
    out: dict[str, Any] = {}
    for key in _ENTRY_FIELDS:
        value = entry.get(key, _MISSING)
        if value is not _MISSING:
            out[key] = as_python(value)
    for key, wanted in _PARTS.items():
        value = entry.get(key, _MISSING)
        if value is _MISSING:
            continue
        out[key] = {k: as_python(value[k]) for k in wanted if k in value} if type(value) is obj else as_python(value)
    return out


_MISSING = object()


def _prompt_names(prompts: Any) -> dict[str, str]:
    """promptId -> a variant name (only when the file has several distinct prompts)."""
    if not isinstance(prompts, list):
        return {}
    labels: dict[str, str] = {}
    for p in prompts:
        if isinstance(p, dict) and isinstance(p.get("id"), str):
            labels[p["id"]] = str(p.get("label") or p.get("raw") or p["id"])[:80]
    return labels if len(labels) > 1 else {}


def _add(
    runs: dict[str, PromptfooParsed], place: Place, entry: Any, prompts: dict[str, str], data: dict[str, Any]
) -> None:
    who = require(entry, "provider", (dict, str), place)
    if isinstance(who, str):
        provider_id, label = who, who
    else:
        provider_id = str(require(who, "id", str, place.at("provider")))
        label = str(who.get("label") or provider_id)
    run = runs.get(label)
    if run is None:
        run = runs[label] = PromptfooParsed(provider=label, model=f"promptfoo:{provider_id}")
        run.source = {"tool": "promptfoo", "evalId": data.get("evalId"), "provider": who, "stats": None}
    success = require(entry, "success", bool, place)
    key = _item_key(entry, place)
    variant = prompts.get(str(entry.get("promptId")), "original") if prompts else "original"
    repeat = run.seen.get((key, variant), 0)
    run.seen[(key, variant)] = repeat + 1
    response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
    # a failed assertion also fills ``error``: only failureReason ERROR (or the provider's own
    # error) means the test has no output to score
    error = response.get("error")
    if entry.get("failureReason") == _ERROR:
        error = error or entry.get("error") or "promptfoo reported an error for this test"
    output = response.get("output")
    latency = number(entry.get("latencyMs"))
    prompt = entry.get("prompt") if isinstance(entry.get("prompt"), dict) else {}
    run.rows.add(
        item=key,
        row=len(run.rows) + 1,
        repeat=repeat,
        variant=variant,
        score=None if error else float(success),
        scores=_scores(entry, success, place),
        output=None if error else (output if isinstance(output, str) else orjson.dumps(output).decode()),
        answer=None,
        latency=latency,
        input=prompt.get("raw") if isinstance(prompt.get("raw"), str) else None,
        error=str(error)[:2000] if error else None,
    )


def _item_key(entry: dict[str, Any], place: Place) -> str:
    """``promptfoo:`` + a hash of the test's description and vars (stable across runs)."""
    test: dict[str, Any] = entry["testCase"] if isinstance(entry.get("testCase"), dict) else {}
    variables = test.get("vars", entry.get("vars"))
    if variables is None:
        raise place.error("missing field (the test has no vars)", "vars")
    ident = {"description": test.get("description"), "vars": variables}
    digest = hashlib.sha256(orjson.dumps(ident, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    return f"promptfoo:{digest}"


def _scores(entry: dict[str, Any], success: bool, place: Place) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"pass": {"value": float(success), "answer": None, "error": None}}
    score = number(entry.get("score"))
    if score is not None:
        out["score"] = {"value": score, "answer": None, "error": None}
    grading = entry.get("gradingResult")
    if isinstance(grading, dict):
        for i, part in enumerate(grading.get("componentResults") or []):
            if not isinstance(part, dict):
                continue
            assertion: dict[str, Any] = part["assertion"] if isinstance(part.get("assertion"), dict) else {}
            label = f"assert[{i}]:{assertion.get('type', 'assertion')}"
            out[label] = {
                "value": number(part.get("score")),
                "pass": part.get("pass"),
                "reason": part.get("reason"),
                "answer": None,
                "error": None,
            }
    named = entry.get("namedScores")
    if isinstance(named, dict):
        for name, value in named.items():
            out[f"named:{name}"] = {"value": number(value), "answer": None, "error": None}
    return out
