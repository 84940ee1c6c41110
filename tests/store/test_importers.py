"""tailgate import lm-eval / inspect / promptfoo / openai-evals on files the tools made.

The fixtures (tests/fixtures/importers/README.md) were written by lm-eval 0.4.13, Inspect AI
0.3.285 and promptfoo 0.123.1 against the peers kit's mock server; the OpenAI evals logs are
hand-made. Each round trip checks the counts, and that the imported mean equals the figure the
tool itself reported in its own output (lm-eval's results JSON, Inspect's log results,
promptfoo's stats, evals' final report): an independent number, not one tailgate computed.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tailgate.analysis import build_report, compare_runs
from tailgate.errors import InputError, StoreError, UsageError
from tailgate.store import FormatOptions, Store, import_format
from tests.support.cli import tailgate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"
LMEVAL = FIXTURES / "lm-eval" / "samples_tgfix_2026-12-03T20-10-33.329213.jsonl"
LMEVAL_RESULTS = FIXTURES / "lm-eval" / "results_2026-12-03T20-10-33.329213.json"
INSPECT_EVAL = FIXTURES / "inspect" / "tgfix_epochs2.eval"
INSPECT_JSON = FIXTURES / "inspect" / "tgfix_limit6_epochs2.json"
PROMPTFOO = FIXTURES / "promptfoo" / "promptfoo_tgfix.json"
OAI_A = FIXTURES / "openai-evals" / "tgfix_model_a.jsonl"
OAI_B = FIXTURES / "openai-evals" / "tgfix_model_b.jsonl"


def _import(fmt: str, path: Path, run_id: str, **options: Any) -> list[Any]:
    return import_format(Store(), fmt, [str(path)], FormatOptions(run_id=run_id, **options))


def _mean(run_id: str) -> float:
    value = build_report(Store(), run_id).overview.score.value
    assert value is not None
    return value


def _records(run_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = Store().read_records(run_id).to_pylist()
    return rows


def _repeats(run_id: str) -> set[int]:
    return {r["repeat"] for r in _records(run_id)}


# -- lm-eval ------------------------------------------------------------------------------------


def test_lmeval_roundtrip_matches_lmevals_own_results() -> None:
    (run,) = _import("lm-eval", LMEVAL, "lm")
    results = json.loads(LMEVAL_RESULTS.read_text())
    config = results["configs"]["tgfix"]
    docs = results["n-samples"]["tgfix"]["effective"]
    assert (run.items, run.records) == (docs, docs * config["repeats"])  # 12 documents x 3 repeats
    assert _repeats("lm") == set(range(config["repeats"]))
    assert run.model == "lm-eval:" + results["model_name"]
    assert _mean("lm") == pytest.approx(results["results"]["tgfix"]["exact_match,letter"])
    record = _records("lm")[0]
    assert record["scorer"] == "exact_match,letter"
    scores = json.loads(record["scores"])
    assert set(scores) == {"exact_match,letter", "exact_match,raw"}  # the other filter's metric kept
    assert (record["output"], record["answer"]) == ("The answer is B", "B")
    manifest = Store().manifest("lm")
    assert manifest.imported is not None
    assert manifest.imported.format == "lm-eval"
    assert manifest.extra["import_source"]["tasks"]["tgfix"]["config"]["repeats"] == 3


def test_lmeval_other_filter_matches_its_result() -> None:
    _import("lm-eval", LMEVAL, "raw", filter="raw")
    results = json.loads(LMEVAL_RESULTS.read_text())["results"]["tgfix"]
    assert _mean("raw") == pytest.approx(results["exact_match,raw"])
    assert _records("raw")[0]["answer"] == "The answer is B"


def test_lmeval_unknown_filter_is_named() -> None:
    with pytest.raises(InputError, match="no line for filter 'nope'") as err:
        _import("lm-eval", LMEVAL, "x", filter="nope")
    assert (err.value.line, err.value.field) == (1, "filter")


# -- Inspect ------------------------------------------------------------------------------------


def test_inspect_eval_roundtrip_matches_the_logs_results() -> None:
    from tailgate.store._import_inspect import _open

    header, _ = _open(INSPECT_EVAL, str(INSPECT_EVAL))  # Inspect's own figures, from its header.json
    (run,) = _import("inspect", INSPECT_EVAL, "ie")
    epochs = header["eval"]["config"]["epochs"]
    assert (run.items, run.records) == (header["eval"]["dataset"]["samples"], header["results"]["total_samples"])
    assert _repeats("ie") == set(range(epochs))
    by_name = {s["name"]: s["metrics"]["accuracy"]["value"] for s in header["results"]["scores"]}
    assert _mean("ie") == pytest.approx(by_name["match"])
    record = _records("ie")[0]
    scores = json.loads(record["scores"])
    assert set(scores) == {"match", "includes"}
    assert scores["match"]["explanation"] == "The answer is B"  # explanations kept
    assert record["latency_ms"] is not None
    assert record["latency_ms"] > 0
    _import("inspect", INSPECT_EVAL, "ie2", scorer="includes")
    assert _mean("ie2") == pytest.approx(by_name["includes"])


def test_inspect_json_roundtrip_matches_the_logs_results() -> None:
    log = json.loads(INSPECT_JSON.read_text())
    (run,) = _import("inspect", INSPECT_JSON, "ij")
    assert (run.items, run.records) == (6, log["results"]["total_samples"])
    assert _repeats("ij") == {0, 1}
    assert _mean("ij") == pytest.approx(log["results"]["scores"][0]["metrics"]["accuracy"]["value"])
    assert Store().manifest("ij").declared_attributes == ["task", "topic"]  # sample metadata: slices


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("C", 1.0),
        ("I", 0.0),
        ("P", 0.5),
        ("N", 0.0),
        (True, 1.0),
        (0.25, 0.25),
        ("yes", 1.0),
        ("0.5", 0.5),
        ("?", None),
    ],
)
def test_inspect_values_as_inspect_reads_them(value: object, expected: float | None) -> None:
    from tailgate.store._import_inspect import value_to_float

    assert value_to_float(value) == expected


# -- promptfoo ----------------------------------------------------------------------------------


def test_promptfoo_each_provider_a_run_matching_promptfoos_stats() -> None:
    data = json.loads(PROMPTFOO.read_text())["results"]
    runs = _import("promptfoo", PROMPTFOO, "pf")
    assert [r.run_id for r in runs] == ["pf-mock-a", "pf-mock-b"]
    for run, prompt in zip(runs, data["prompts"], strict=True):
        metrics = prompt["metrics"]
        tests = metrics["testPassCount"] + metrics["testFailCount"] + metrics["testErrorCount"]
        assert (run.items, run.records) == (8, tests)  # 8 tests x --repeat 2
        assert _repeats(run.run_id) == {0, 1}
        assert _mean(run.run_id) == pytest.approx(metrics["testPassCount"] / tests)
        latencies = [r["latency_ms"] for r in _records(run.run_id)]
        assert sum(latencies) == pytest.approx(metrics["totalLatencyMs"])
    stats = data["stats"]
    pooled = [r["score"] for run in runs for r in _records(run.run_id)]
    assert sum(pooled) / len(pooled) == pytest.approx(stats["successes"] / (stats["successes"] + stats["failures"]))
    scores = json.loads(_records("pf-mock-a")[0]["scores"])
    assert {"pass", "score", "assert[0]:contains", "assert[1]:icontains"} <= set(scores)


def test_promptfoo_provider_option_picks_one() -> None:
    (run,) = _import("promptfoo", PROMPTFOO, "one", provider="mock-b")
    assert (run.run_id, run.model) == ("one", "promptfoo:openai:chat:mock-model-b")
    with pytest.raises(UsageError, match="no provider 'zzz'"):
        _import("promptfoo", PROMPTFOO, "two", provider="zzz")


# -- OpenAI evals (hand-made logs) --------------------------------------------------------------


def test_openai_evals_roundtrip_matches_the_final_report() -> None:
    for path, run_id in ((OAI_A, "oa"), (OAI_B, "ob")):
        (run,) = _import("openai-evals", path, run_id)
        report = json.loads(path.read_text().splitlines()[-1])["final_report"]
        assert (run.items, run.records) == (10, 10)
        assert _mean(run_id) == pytest.approx(report["accuracy"])
    assert _records("oa")[0]["output"] == "The answer is B"


# -- pairing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "path", "items"),
    [("lm-eval", LMEVAL, 12), ("inspect", INSPECT_EVAL, 12), ("inspect", INSPECT_JSON, 6), ("openai-evals", OAI_A, 10)],
)
def test_two_imports_pair_on_every_item(fmt: str, path: Path, items: int) -> None:
    _import(fmt, path, "base")
    _import(fmt, path, "cand", model="another-model")
    pairing = compare_runs(Store(), "base", "cand").as_dict()["pairing"]
    assert (pairing["shared_items"], pairing["only_in_base"], pairing["only_in_cand"]) == (items, 0, 0)


def test_promptfoo_providers_pair_and_evals_models_differ() -> None:
    _import("promptfoo", PROMPTFOO, "pf")
    pairing = compare_runs(Store(), "pf-mock-a", "pf-mock-b").as_dict()["pairing"]
    assert (pairing["shared_items"], pairing["only_in_base"]) == (8, 0)
    _import("openai-evals", OAI_A, "a")
    _import("openai-evals", OAI_B, "b")
    comparison = compare_runs(Store(), "a", "b").as_dict()
    assert comparison["pairing"]["shared_items"] == 10
    assert comparison["overall"]["estimate"]["value"] == pytest.approx(0.2)  # 7/10 -> 9/10 in the hand-made logs


def test_existing_run_is_refused_before_anything_is_written() -> None:
    _import("promptfoo", PROMPTFOO, "pf-mock-b", provider="mock-b")
    with pytest.raises(StoreError, match="'pf-mock-b' already exists"):
        _import("promptfoo", PROMPTFOO, "pf")  # pf-mock-a is free, pf-mock-b is not
    assert not Store().exists("pf-mock-a")


# -- malformed files ----------------------------------------------------------------------------


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _lmeval_copy(tmp: Path, edit: Any) -> Path:
    folder = tmp / "lm"
    folder.mkdir()
    shutil.copy(LMEVAL_RESULTS, folder / LMEVAL_RESULTS.name)
    out = folder / LMEVAL.name
    lines = _lines(LMEVAL)
    edit(lines, folder)
    _write_lines(out, lines)
    return out


def _truncate_line_3(lines: list[str], folder: Path) -> None:
    lines[2] = lines[2][: len(lines[2]) // 2]


def _drop_doc_id_line_2(lines: list[str], folder: Path) -> None:
    obj = json.loads(lines[1])
    del obj["doc_id"]
    lines[1] = json.dumps(obj)


def _doc_id_as_text_line_4(lines: list[str], folder: Path) -> None:
    obj = json.loads(lines[3])
    obj["doc_id"] = "three"
    lines[3] = json.dumps(obj)


def _metric_as_text_line_1(lines: list[str], folder: Path) -> None:
    obj = json.loads(lines[0])
    obj["exact_match"] = "yes"
    lines[0] = json.dumps(obj)


def _future_version(lines: list[str], folder: Path) -> None:
    results = folder / LMEVAL_RESULTS.name
    data = json.loads(results.read_text())
    data["lm_eval_version"] = "0.5.0"
    results.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("edit", "line", "field", "message"),
    [
        (_truncate_line_3, 3, None, "not valid JSON"),
        (_drop_doc_id_line_2, 2, "doc_id", "missing field"),
        (_doc_id_as_text_line_4, 4, "doc_id", "expected an integer, found a string"),
        (_metric_as_text_line_1, 1, "exact_match", "expected a number or boolean"),
        (_future_version, None, "lm_eval_version", "unknown lm-eval version '0.5.0'"),
    ],
)
def test_bad_lmeval_files_name_file_line_field(
    tmp_path: Path, edit: Any, line: int | None, field: str | None, message: str
) -> None:
    path = _lmeval_copy(tmp_path, edit)
    with pytest.raises(InputError) as err:
        _import("lm-eval", path, "bad")
    assert message in err.value.message
    assert (err.value.line, err.value.field) == (line, field)
    assert Path(str(err.value.file)).name in (LMEVAL.name, LMEVAL_RESULTS.name)
    assert not Store().exists("bad")


def _inspect_edit(tmp: Path, edit: Any) -> Path:
    log = json.loads(INSPECT_JSON.read_text())
    edit(log)
    out = tmp / "log.json"
    out.write_text(json.dumps(log))
    return out


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (lambda log: log.update(version=9), "version", "unknown Inspect log version 9"),
        (lambda log: log["samples"][3].pop("epoch"), "samples[3].epoch", "missing field"),
        (lambda log: log["samples"][1].update(epoch="1"), "samples[1].epoch", "expected an integer"),
        (
            lambda log: log["samples"][2]["scores"]["match"].update(value="maybe"),
            "samples[2].scores.match.value",
            "cannot read 'maybe'",
        ),
        (lambda log: log["eval"].pop("task"), "eval.task", "missing field"),
    ],
)
def test_bad_inspect_logs_name_the_json_path(tmp_path: Path, edit: Any, field: str, message: str) -> None:
    path = _inspect_edit(tmp_path, edit)
    with pytest.raises(InputError) as err:
        _import("inspect", path, "bad")
    assert message in err.value.message
    assert (err.value.file, err.value.field) == (str(path), field)


def test_bad_promptfoo_files(tmp_path: Path) -> None:
    data = json.loads(PROMPTFOO.read_text())
    data["results"]["version"] = 4
    path = tmp_path / "pf.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="unknown promptfoo results version 4") as err:
        _import("promptfoo", path, "bad")
    assert err.value.field == "results.version"
    data["results"]["version"] = 3
    data["results"]["results"][5]["success"] = "yes"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="expected a boolean, found a string") as err:
        _import("promptfoo", path, "bad")
    assert err.value.field == "results.results[5].success"
    path.write_text(PROMPTFOO.read_text()[:5000])  # truncated
    with pytest.raises(InputError, match="not valid JSON") as err:
        _import("promptfoo", path, "bad")
    assert err.value.line is not None


def test_bad_openai_evals_lines(tmp_path: Path) -> None:
    lines = _lines(OAI_A)
    obj = json.loads(lines[4])
    obj["data"]["correct"] = 1
    lines[4] = json.dumps(obj)
    path = tmp_path / "log.jsonl"
    _write_lines(path, lines)
    with pytest.raises(InputError, match="expected a boolean, found an integer") as err:
        _import("openai-evals", path, "bad")
    assert (err.value.line, err.value.field) == (5, "data.correct")
    _write_lines(path, _lines(OAI_A)[1:])  # no spec line
    with pytest.raises(InputError, match="missing field") as err:
        _import("openai-evals", path, "bad")
    assert (err.value.line, err.value.field) == (1, "spec")


@pytest.mark.parametrize(
    ("fmt", "source"),
    [("lm-eval", LMEVAL), ("openai-evals", OAI_A), ("promptfoo", PROMPTFOO), ("inspect", INSPECT_JSON)],
)
def test_non_utf8_is_a_clear_error(tmp_path: Path, fmt: str, source: Path) -> None:
    raw = source.read_bytes()
    cut = raw.index(b"\n", len(raw) // 3) + 1 if b"\n" in raw[len(raw) // 3 :] else len(raw) // 2
    at = raw.index(b'"', cut) + 1  # inside a string, so that only the encoding is wrong
    path = tmp_path / source.name
    path.write_bytes(raw[:at] + b"\xff\xfe" + raw[at:])
    with pytest.raises(InputError, match="not UTF-8") as err:
        _import(fmt, path, "bad")
    assert err.value.file == str(path)
    assert err.value.line == raw[:at].count(b"\n") + 1


def test_options_of_another_format_are_refused() -> None:
    with pytest.raises(UsageError, match="--filter applies to lm-eval files"):
        _import("inspect", INSPECT_JSON, "x", filter="letter")
    with pytest.raises(UsageError, match="unknown format"):
        import_format(Store(), "csv", [str(LMEVAL)], FormatOptions())


# -- the command --------------------------------------------------------------------------------


def test_cli_imports_and_reports_exit_codes(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    ok = tailgate("import", "lm-eval", str(LMEVAL), "--run-id", "a", "--store", store)
    assert ok.returncode == 0, ok.stderr
    assert "imported 36 records of 12 items as run a (lm-eval:mock-model)" in ok.stdout
    runs = tailgate("import", "promptfoo", str(PROMPTFOO), "--run-id", "p", "--store", store)
    assert runs.returncode == 0, runs.stderr
    assert runs.stdout.count("imported 16 records of 8 items") == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_lines(OAI_A)[0] + "\n{not json\n", encoding="utf-8")
    failed = tailgate("import", "openai-evals", str(bad), "--store", store)
    assert failed.returncode == 2
    assert f"{bad}:2: not valid JSON" in failed.stderr
    again = tailgate("import", "lm-eval", str(LMEVAL), "--run-id", "a", "--store", store)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    foreign = tailgate("import", "inspect", str(INSPECT_JSON), "--filter", "x", "--store", store)
    assert foreign.returncode == 2
    assert "no such option" in foreign.stderr.lower()
    report = tailgate("report", "a", "--store", store)
    assert report.returncode == 0, report.stderr


def test_lmeval_fast_path_and_parser_write_the_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain file goes through DuckDB's JSON reader; the Python parser (used for any other file,
    and to say what is wrong with a bad one) must give the same run."""
    import tailgate.store._import_lmeval as lmeval

    fast = lmeval.fast_path([str(LMEVAL)])
    assert fast is not None  # the fixture is a plain file: the fast path reads it
    _import("lm-eval", LMEVAL, "fast")
    monkeypatch.setattr(lmeval, "fast_path", lambda *a, **k: None)
    _import("lm-eval", LMEVAL, "slow")
    keep = ("item_id", "repeat", "variant", "output", "answer", "score", "scorer", "prompt")

    def rows(run_id: str) -> list[tuple[Any, ...]]:
        out = [(*(r[k] for k in keep), json.loads(r["scores"])) for r in _records(run_id)]
        return sorted(out, key=lambda t: (t[0], t[1]))

    assert rows("fast") == rows("slow")
    assert Store().manifest("fast").extra == Store().manifest("slow").extra


# -- the fast readers ---------------------------------------------------------------------------


def _without_fast_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file read by orjson and zipfile, as before simdjson (the readers' precise path)."""
    import tailgate.store._import_inspect as inspect_
    import tailgate.store._import_promptfoo as promptfoo

    monkeypatch.setattr(inspect_, "_open_lazy", lambda *a: None)
    monkeypatch.setattr(inspect_, "_member_bytes", lambda *a: None)
    monkeypatch.setattr(promptfoo, "_lite", lambda *a: None)


def _stored(run_ids: list[str]) -> list[Any]:
    """Every record (all columns but the run id and the times) and item, and the manifest's
    import facts, of the runs."""
    out: list[Any] = []
    for run_id in run_ids:
        records = [
            {k: v for k, v in r.items() if k not in ("run_id", "started_at", "ended_at")} for r in _records(run_id)
        ]
        items = Store().read_items(run_id)
        manifest = Store().manifest(run_id)
        out.append((records, items, manifest.extra, manifest.plan, manifest.counts, manifest.model))
    return out


@pytest.mark.parametrize(
    ("fmt", "path"), [("inspect", INSPECT_JSON), ("inspect", INSPECT_EVAL), ("promptfoo", PROMPTFOO)]
)
def test_fast_readers_write_the_runs_orjson_and_zipfile_write(
    fmt: str, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """simdjson builds only the fields imported, and .eval members are cut from the archive's
    bytes; the runs must be the ones the full parse writes, column for column."""
    import tailgate.store._import_inspect as inspect_
    import tailgate.store._import_promptfoo as promptfoo

    data = path.read_bytes()
    if path == INSPECT_JSON:
        assert inspect_._open_lazy(data, str(path)) is not None  # the fast reader does read the fixture
    elif path == INSPECT_EVAL:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if i.filename.startswith("samples/")]
            assert members
            for info in members:  # the fixture's members are zstd: the precise path reads them by hand
                assert inspect_._member_bytes(data, info) == inspect_._zstd_member(path, info)
    else:
        assert promptfoo._lite(data) is not None
    fast = [r.run_id for r in _import(fmt, path, "fast")]
    _without_fast_readers(monkeypatch)
    slow = [r.run_id for r in _import(fmt, path, "slow")]
    assert len(fast) == len(slow) >= 1
    assert _stored(fast) == _stored(slow)


def test_eval_members_cut_from_the_bytes_are_zipfiles_members(tmp_path: Path) -> None:
    """The archive reader against zipfile itself (stored and deflated members; the fixture's
    zstd ones are checked against the precise path above)."""
    import tailgate.store._import_inspect as inspect_

    out = tmp_path / "members.zip"
    payloads = {"a.json": b'{"x": 1}' * 100, "b.json": "é\u202e".encode() * 50, "c.json": b""}
    with zipfile.ZipFile(out, "w") as archive:
        for i, (name, payload) in enumerate(payloads.items()):
            archive.writestr(name, payload, compress_type=zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED)
    data = out.read_bytes()
    with zipfile.ZipFile(out) as archive:
        for info in archive.infolist():
            assert inspect_._member_bytes(data, info) == payloads[info.filename]
        broken = bytearray(data)
        info = archive.getinfo("a.json")
        broken[info.header_offset + 30 + len("a.json") + 3] ^= 0xFF  # a byte of the member: its CRC fails
        assert inspect_._member_bytes(bytes(broken), info) is None  # zipfile's read says what is wrong


def test_a_nan_score_is_still_refused_by_the_writer(tmp_path: Path) -> None:
    """Inspect reads "nan" as a number, as its own value_to_float does; the writer must still see
    a NaN (the parsed table goes to DuckDB as numpy columns, where NaN would mean NULL)."""
    path = _inspect_edit(tmp_path, lambda log: log["samples"][2]["scores"]["match"].update(value="nan"))
    with pytest.raises(InputError, match="'nan' is not a finite number") as err:
        _import("inspect", path, "bad")
    assert (err.value.line, err.value.field) == (3, "_score")


def test_the_garbage_collector_is_back_on_after_an_import(tmp_path: Path) -> None:
    """Parsing runs with the cyclic collector off (BENCHMARKS.md); it must be on again after
    an import, a failed one too."""
    import gc

    assert gc.isenabled()
    _import("openai-evals", OAI_A, "ok")
    assert gc.isenabled()
    bad = tmp_path / "log.jsonl"
    _write_lines(bad, _lines(OAI_A)[1:])
    with pytest.raises(InputError):
        _import("openai-evals", bad, "bad")
    assert gc.isenabled()


def test_lmeval_multiple_choice_file_goes_to_the_parser(tmp_path: Path) -> None:
    """A loglikelihood task's lines (one [loglikelihood, is_greedy] list per choice) are what the
    DuckDB fast path does not read: its first line sends the file to the parser, which keeps the
    responses and filtered answers as JSON text, one sample per document."""
    import tailgate.store._import_lmeval as lmeval

    lines = []
    for doc_id in range(3):
        choices = [[f"-{doc_id + c}.5", "False"] for c in range(4)]
        lines.append(
            json.dumps(
                {
                    "doc_id": doc_id,
                    "arguments": {f"gen_args_{c}": {"arg_0": f"Q{doc_id}", "arg_1": f" {c}"} for c in range(4)},
                    "resps": [[c] for c in choices],
                    "filtered_resps": choices,
                    "filter": "none",
                    "metrics": ["acc", "acc_norm"],
                    "acc": float(doc_id != 1),
                    "acc_norm": 1.0,
                }
            )
        )
    path = tmp_path / "samples_mc_2026-01-01T00-00-00.000000.jsonl"
    _write_lines(path, lines)
    assert lmeval.fast_path([str(path)]) is None
    (run,) = _import("lm-eval", path, "mc")
    assert (run.items, run.records) == (3, 3)
    assert _mean("mc") == pytest.approx(2 / 3)
    record = sorted(_records("mc"), key=lambda r: r["prompt"])[0]
    first = json.loads(lines[0])
    compact = (",", ":")
    assert record["output"] == json.dumps(first["resps"], separators=compact)
    assert record["answer"] == json.dumps(first["filtered_resps"], separators=compact)
    assert record["prompt"] == "Q0"
    assert set(json.loads(record["scores"])) == {"acc,none", "acc_norm,none"}
