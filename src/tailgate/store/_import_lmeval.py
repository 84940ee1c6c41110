"""lm-evaluation-harness ``--log_samples`` files (``samples_<task>_<date>.jsonl``) as samples.

One line per (document, filter). Mapping (docs/importers.md):

- item key ``<task>/<doc_id>``: two imports of the same task pair, whatever the model;
- one filter is the run's answer (``--filter``, default the first filter in the file); every
  filter's per-document metric values are kept in ``scores`` under lm-eval's own labels
  (``exact_match,letter``), the headline being ``<metric>,<filter>`` (``--metric``, default the
  line's first metric);
- ``repeats: K`` in the task config: each document's K responses become repeats 0..K-1. lm-eval
  scores a document once, after its filter has reduced the K responses, so every repeat carries
  that document-level score (the mean is lm-eval's; repeats show the outputs' spread, not a
  per-repeat score);
- the sibling ``results_<date>.json``, when there, gives the model name, the lm-eval version
  (0.4.x is read; another is refused) and the task config (kept in the manifest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import InputError
from tailgate.store._import_rows import Place, SampleRows, iter_jsonl, load_json, number, read_file, require

__all__ = ["LmEvalFast", "LmEvalParsed", "fast_path", "parse_lmeval"]

_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-:]+)\.jsonl$")
SUPPORTED_VERSION = "0.4."
_LINE_FIELDS: tuple[tuple[str, type], ...] = (
    ("doc_id", int),
    ("filter", str),
    ("metrics", list),
    ("resps", list),
    ("filtered_resps", list),
)


@dataclass(frozen=True)
class LmEvalParsed:
    rows: SampleRows
    scorer: str
    model: str | None
    source: dict[str, Any]


def parse_lmeval(files: list[str], *, filter_name: str | None = None, metric: str | None = None) -> LmEvalParsed:
    """Every file's samples in one table (item keys carry the task, so tasks do not collide)."""
    rows = SampleRows()
    model: str | None = None
    tasks: dict[str, Any] = {}
    scorer = ""
    for display in files:
        task, results = _task_and_results(Path(display), display)
        if results is not None:
            model = model or results.get("model_name")
            tasks[task] = {
                "lm_eval_version": results.get("lm_eval_version"),
                "config": (results.get("configs") or {}).get(task),
                "results": (results.get("results") or {}).get(task),
            }
        else:
            tasks[task] = {}
        scorer = _read_samples(rows, Path(display), display, task, filter_name, metric) or scorer
    return LmEvalParsed(rows, scorer, model, {"tool": "lm-eval", "tasks": tasks})


def _task_and_results(path: Path, display: str) -> tuple[str, dict[str, Any] | None]:
    match = _NAME.match(path.name)
    if not match:
        return path.name.split(".")[0], None
    results_path = path.with_name(f"results_{match['date']}.json")
    if not results_path.is_file():
        return match["task"], None
    shown = str(Path(display).with_name(results_path.name))
    results = load_json(read_file(results_path, shown), shown)
    if not isinstance(results, dict):
        raise InputError("expected a JSON object (lm-eval's results file)", file=shown)
    version = results.get("lm_eval_version")
    if version is not None and not (isinstance(version, str) and version.startswith(SUPPORTED_VERSION)):
        raise InputError(
            f"unknown lm-eval version {version!r}: this importer reads lm-eval {SUPPORTED_VERSION}x",
            file=shown,
            field="lm_eval_version",
        )
    return match["task"], results


def _read_samples(
    rows: SampleRows, path: Path, display: str, task: str, filter_name: str | None, metric: str | None
) -> str:
    """Add one file's samples; returns the headline scorer label."""
    docs: dict[int, dict[str, tuple[int, dict[str, Any]]]] = {}
    order: list[int] = []
    first_filter = filter_name
    for line, obj in iter_jsonl(path, display):
        # the common case checked inline (a large file is mostly this loop); the typed readers
        # run only to say what is wrong
        doc_id: Any = obj.get("doc_id") if type(obj) is dict else None
        name: Any = obj.get("filter") if type(obj) is dict else None
        if not (
            type(doc_id) is int
            and type(name) is str
            and type(obj.get("metrics")) is list
            and type(obj.get("resps")) is list
            and type(obj.get("filtered_resps")) is list
        ):
            place = Place(display, line)
            for key, kind in _LINE_FIELDS:
                require(obj, key, kind, place)
        first_filter = first_filter or name
        by_filter = docs.get(doc_id)
        if by_filter is None:
            by_filter = docs[doc_id] = {}
            order.append(doc_id)
        if name in by_filter:
            raise Place(display, line).error(f"document {doc_id} appears twice under filter '{name}'", "doc_id")
        by_filter[name] = (line, obj)
    if not docs:
        raise InputError("the file has no samples", file=display)
    label = ""
    for doc_id in order:
        by_filter = docs[doc_id]
        if first_filter not in by_filter:
            line = min(entry[0] for entry in by_filter.values())
            raise InputError(
                f"document {doc_id} has no line for filter '{first_filter}' (it has: {', '.join(by_filter)})",
                file=display,
                line=line,
                field="filter",
            )
        line, obj = by_filter[first_filter]
        label = _add_doc(rows, Place(display, line), obj, task, first_filter or "", by_filter, metric)
    return label


def _metric_scores(obj: dict[str, Any], name: str, place: Place) -> dict[str, dict[str, Any]]:
    """``metric,filter`` -> {value, answer, error} for the line's per-sample metric values."""
    answer = _answer(obj["filtered_resps"])
    out: dict[str, dict[str, Any]] = {}
    for metric in obj["metrics"]:
        if not isinstance(metric, str):
            raise place.error("expected a list of metric names", "metrics")
        if metric not in obj:
            raise place.error("missing field (the line lists it in 'metrics')", metric)
        value = number(obj[metric])
        if value is not None:  # corpus-level metrics (bleu's [ref, pred]) have no per-sample value
            out[f"{metric},{name}"] = {"value": value, "answer": answer, "error": None}
    return out


def _add_doc(
    rows: SampleRows,
    place: Place,
    obj: dict[str, Any],
    task: str,
    name: str,
    by_filter: dict[str, tuple[int, dict[str, Any]]],
    metric: str | None,
) -> str:
    metrics: list[str] = obj["metrics"]
    headline = metric or (metrics[0] if metrics else None)
    if headline is None:
        raise place.error("no metric on this line", "metrics")
    if headline not in obj:
        raise place.error(f"missing field (metrics: {', '.join(map(str, metrics))})", headline)
    score = number(obj[headline])
    if score is None:
        raise place.error(f"expected a number or boolean, found {type(obj[headline]).__name__}", headline)
    scores: dict[str, dict[str, Any]] = {}
    for other, (other_line, other_obj) in by_filter.items():
        scores |= _metric_scores(other_obj, other, Place(place.file, other_line))
    outputs, answers = _outputs(obj)
    prompt = _prompt(obj.get("arguments"))
    item = f"{task}/{obj['doc_id']}"
    serialized = orjson.dumps(scores, option=orjson.OPT_SORT_KEYS).decode()  # once for all repeats
    for repeat, output in enumerate(outputs):
        rows.add(
            item=item,
            row=place.line or 0,
            repeat=repeat,
            score=score,
            scores=serialized,
            output=output,
            answer=answers[repeat] if len(answers) == len(outputs) else answers[0],
            input=prompt,
            attributes={"task": task},
        )
    return f"{headline},{name}"


def _outputs(obj: dict[str, Any]) -> tuple[list[str | None], list[str | None]]:
    """The raw responses (one per repeat) and the filtered answers."""
    resps = obj["resps"]
    filtered = obj["filtered_resps"]
    if len(resps) == 1 and isinstance(resps[0], list) and all(isinstance(r, str) for r in resps[0]) and resps[0]:
        answers = [_answer([f]) for f in filtered] or [None]
        return list(resps[0]), answers  # generate_until: one request, K responses
    # loglikelihood / multiple choice: one request per choice; the document is one sample
    return [orjson.dumps(resps).decode()], [_answer(filtered)]


def _answer(filtered: list[Any]) -> str | None:
    if not filtered:
        return None
    if len(filtered) == 1 and isinstance(filtered[0], str):
        return filtered[0]
    return orjson.dumps(filtered[0] if len(filtered) == 1 else filtered).decode()


def _prompt(arguments: Any) -> str | None:
    if not isinstance(arguments, dict):
        return None
    first = arguments.get("gen_args_0")
    context = first.get("arg_0") if isinstance(first, dict) else None
    if isinstance(context, list) and len(context) == 1:  # chat models: the rendered messages, as one string
        context = context[0]
    return context if isinstance(context, str) else None


# -- the fast path: DuckDB parses the file ------------------------------------------------------


@dataclass(frozen=True)
class LmEvalFast:
    """What the fast path needs besides the file: the build of ``src`` and the run's facts."""

    build: Any  # Callable[[duckdb connection], bool]
    scorer: str
    model: str | None
    source: dict[str, Any]


def fast_path(files: list[str], *, filter_name: str | None = None, metric: str | None = None) -> LmEvalFast | None:
    """The DuckDB reading of one generate_until samples file whose every line has one filtered
    answer (``take_first``) and numeric metrics; None when the file is not plainly so (then the
    Python parser reads it, and says what is wrong if anything is). Same table as the parser's."""
    if len(files) != 1:
        return None
    display = files[0]
    path = Path(display)
    task, results = _task_and_results(path, display)  # an unknown version is an error here too
    first = _first_line(path)
    if first is None:
        return None
    metrics = first.get("metrics")
    name = filter_name or first.get("filter")
    if not (
        isinstance(metrics, list) and metrics and all(isinstance(m, str) for m in metrics) and isinstance(name, str)
    ):
        return None
    headline = metric or metrics[0]
    if headline not in metrics or not _plain_responses(first):
        return None  # (a loglikelihood task's first line already says: DuckDB need not read the file)
    source: dict[str, Any] = {"tool": "lm-eval", "tasks": {task: {}}}
    if results is not None:
        source["tasks"][task] = {
            "lm_eval_version": results.get("lm_eval_version"),
            "config": (results.get("configs") or {}).get(task),
            "results": (results.get("results") or {}).get(task),
        }

    def build(con: Any) -> bool:
        return _build(con, path, task, name, headline, metrics)

    model = results.get("model_name") if results is not None else None
    return LmEvalFast(build, f"{headline},{name}", model, source)


def _plain_responses(line: dict[str, Any]) -> bool:
    """The line is a generate_until one with one filtered answer, as the fast path's own check
    (in SQL, over every line) wants: ``resps`` one list of strings, ``filtered_resps`` one entry."""
    resps, filtered = line.get("resps"), line.get("filtered_resps")
    return (
        isinstance(resps, list)
        and len(resps) == 1
        and isinstance(resps[0], list)
        and bool(resps[0])
        and isinstance(resps[0][0], str)
        and isinstance(filtered, list)
        and len(filtered) == 1
    )


def _first_line(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            for raw in handle:
                if raw.strip():
                    obj = orjson.loads(raw)
                    return obj if isinstance(obj, dict) else None
    except (OSError, orjson.JSONDecodeError):
        return None
    return None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _num(column: str) -> str:
    return (
        f"CASE json_type({column}) WHEN 'BOOLEAN' THEN CAST(CAST({column} AS BOOLEAN) AS DOUBLE) "
        f"ELSE CAST({column} AS DOUBLE) END"
    )


def _build(con: Any, path: Path, task: str, name: str, headline: str, metrics: list[str]) -> bool:
    from tailgate.store._import import MAX_OBJECT_BYTES
    from tailgate.store._sql import sql_string

    fixed = {"doc_id": "BIGINT", "filter": "VARCHAR", "metrics": "VARCHAR[]", "resps": "JSON"}
    fixed |= {"filtered_resps": "JSON", "arguments": "JSON"}
    columns = fixed | {m: "JSON" for m in metrics if m not in fixed}
    spec = "{" + ", ".join(f"{sql_string(k)}: '{v}'" for k, v in columns.items()) + "}"
    con.execute(
        f"CREATE TEMP TABLE lines AS SELECT *, row_number() OVER () AS __line FROM read_json({sql_string(path)}, "
        f"format='newline_delimited', columns={spec}, maximum_object_size={MAX_OBJECT_BYTES})"
    )
    numeric = " OR ".join(
        f"{_q(m)} IS NULL OR json_type({_q(m)}) NOT IN ('DOUBLE', 'UBIGINT', 'BIGINT', 'BOOLEAN')" for m in metrics
    )
    plain = con.execute(
        f"""SELECT count(*) = 0 FROM lines WHERE doc_id IS NULL OR filter IS NULL OR metrics IS NULL
            OR metrics <> ? OR resps IS NULL OR filtered_resps IS NULL
            OR json_array_length(filtered_resps) <> 1 OR json_array_length(resps) <> 1
            OR json_type(resps -> 0) <> 'ARRAY' OR json_array_length(resps -> 0) = 0
            OR json_type(resps -> '$[0][0]') <> 'VARCHAR' OR {numeric}""",
        [metrics],
    ).fetchone()[0]
    counts = con.execute(
        "SELECT count(*), count(DISTINCT (doc_id, filter)), count(DISTINCT doc_id), "
        "count(*) FILTER (WHERE filter = ?) FROM lines",
        [name],
    ).fetchone()
    lines, distinct, docs, chosen = (int(x) for x in counts)
    if not plain or lines == 0 or distinct != lines or chosen != docs:
        return False
    pairs = ", ".join(f"{{'k': {sql_string(m + ',')} || filter, 'v': {_num(_q(m))}}}" for m in metrics)
    context = "arguments -> '$.gen_args_0.arg_0'"
    prompt = (
        f"CASE WHEN json_type({context}) = 'ARRAY' AND json_array_length({context}) = 1 "
        f"THEN arguments ->> '$.gen_args_0.arg_0[0]' WHEN json_type({context}) = 'VARCHAR' "
        "THEN arguments ->> '$.gen_args_0.arg_0' END"
    )
    con.execute(
        f"""CREATE TEMP TABLE src AS
        WITH ans AS (
            SELECT *, CASE WHEN json_type(filtered_resps -> 0) = 'VARCHAR' THEN filtered_resps ->> 0
                ELSE CAST(filtered_resps -> 0 AS VARCHAR) END AS a
            FROM lines),
        sc AS (
            SELECT doc_id, CAST(json_group_object(k, json_object('answer', a, 'error', NULL, 'value', v)) AS VARCHAR)
                AS scores
            FROM (SELECT doc_id, a, unnest([{pairs}], recursive := true) FROM ans) GROUP BY doc_id),
        head AS (
            SELECT *, unnest(range(CAST(json_array_length(resps -> 0) AS BIGINT))) AS r FROM ans WHERE filter = ?)
        SELECT ? || '/' || CAST(h.doc_id AS VARCHAR) AS _item, h.__line AS __row, CAST(h.r AS INTEGER) AS _repeat,
            'original' AS _variant, json_extract_string(h.resps, '$[0][' || h.r || ']') AS _output,
            h.a AS _answer, {_num("h." + _q(headline))} AS _score, sc.scores AS _scores,
            CAST(NULL AS DOUBLE) AS _latency, {prompt.replace("arguments", "h.arguments")} AS _input,
            CAST(NULL AS VARCHAR) AS _error, ? AS task
        FROM head h JOIN sc USING (doc_id)
        ORDER BY h.__line, h.r""",
        [name, task, task],
    )
    con.execute("DROP TABLE lines")
    return True
