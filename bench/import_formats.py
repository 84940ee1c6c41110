"""How fast do the Inspect, promptfoo and OpenAI-evals importers read large files? (issue 15:
importers at >= 50k samples/s; ``bench/import_speed.py`` times lm-eval's)

Each real fixture in tests/fixtures/importers (made by the tools themselves, see its README) is
scaled up by copying its samples under new ids (``--samples`` in all, default 100,000; Inspect's
samples carry their full event transcripts, ~8 KB each, as the real log does), then the whole
``tailgate import FORMAT`` into a fresh store (parse, checks, Parquet, manifest) is timed.

    python bench/import_formats.py                       # every format, 100k samples
    python bench/import_formats.py --formats inspect-json --samples 20000
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "importers"
sys.path.insert(0, str(ROOT / "src"))

FORMATS = ("inspect-json", "inspect-eval", "promptfoo", "openai-evals")


def _inspect_samples(total: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    log = json.loads((FIXTURES / "inspect" / "tgfix_limit6_epochs2.json").read_text())
    by_item: dict[str, dict[int, dict[str, Any]]] = {}
    for sample in log["samples"]:
        by_item.setdefault(str(sample["id"]), {})[sample["epoch"]] = sample
    items = list(by_item.values())
    out = []
    for i in range(total):
        s = copy.copy(items[(i // 2) % len(items)][i % 2 + 1])
        s["id"] = f"s{i // 2}"
        s["epoch"] = i % 2 + 1
        out.append(s)
    return log, out


def make_inspect_json(path: Path, total: int) -> None:
    log, samples = _inspect_samples(total)
    log["samples"] = samples
    log.pop("reductions", None)
    path.write_text(json.dumps(log))


class _ZstdCompressor:
    """zipfile's compressor interface over pyarrow's zstd (zipfile writes zstd only from Python
    3.14); one frame per member, as Inspect writes them."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def compress(self, data: bytes) -> bytes:
        self.parts.append(bytes(data))
        return b""

    def flush(self) -> bytes:
        import pyarrow as pa

        out: bytes = pa.Codec("zstd").compress(b"".join(self.parts), asbytes=True)
        return out


def _zstd_zipfile(path: Path) -> zipfile.ZipFile:
    """A zip writer whose members are zstd-compressed (method 93), like the .eval files Inspect
    writes (the fixture's members are), by zipfile's own writer with its compressor swapped."""
    original_check, original_get = zipfile._check_compression, zipfile._get_compressor  # type: ignore[attr-defined]

    def check(method: int) -> None:
        if method != ZSTD:
            original_check(method)

    def get(method: int, level: int | None = None) -> Any:
        return _ZstdCompressor() if method == ZSTD else original_get(method, level)

    zipfile._check_compression = check  # type: ignore[attr-defined]
    zipfile._get_compressor = get  # type: ignore[attr-defined]
    return zipfile.ZipFile(path, "w", ZSTD)


ZSTD = 93


def make_inspect_eval(path: Path, total: int) -> None:
    from tailgate.store._import_inspect import _member_json

    _log, samples = _inspect_samples(total)
    fixture = FIXTURES / "inspect" / "tgfix_epochs2.eval"
    with zipfile.ZipFile(fixture) as src, _zstd_zipfile(path) as dst:
        for name in src.namelist():  # (zipfile reads zstd only from 3.14: tailgate's reader reads them)
            if not name.startswith("samples/") and name != "reductions.json":
                dst.writestr(name, json.dumps(_member_json(src, fixture, str(fixture), name)))
        for s in samples:
            dst.writestr(f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s))


def make_promptfoo(path: Path, total: int) -> None:
    doc = json.loads((FIXTURES / "promptfoo" / "promptfoo_tgfix.json").read_text())
    base = doc["results"]["results"]
    rows = []
    for i in range(total):
        r = copy.deepcopy(base[i % len(base)])
        r["id"] = f"r{i}"
        r["testIdx"] = i // 2
        vars_ = dict(r.get("vars") or {})
        vars_["question"] = f"Question {i // 2}"
        r["vars"] = vars_
        if isinstance(r.get("testCase"), dict):
            r["testCase"]["vars"] = vars_
        rows.append(r)
    doc["results"]["results"] = rows
    path.write_text(json.dumps(doc))


def make_openai_evals(path: Path, total: int) -> None:
    lines = (FIXTURES / "openai-evals" / "tgfix_model_a.jsonl").read_text().splitlines()
    head = [ln for ln in lines if '"spec"' in ln or '"final_report"' in ln]
    events = [json.loads(ln) for ln in lines if '"sample_id"' in ln]
    by_sample: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_sample.setdefault(e["sample_id"], []).append(e)
    groups = list(by_sample.values())
    buf = io.StringIO()
    for ln in head:
        buf.write(ln + "\n")
    event_id = 0
    for i in range(total):
        for event in groups[i % len(groups)]:
            buf.write(json.dumps(dict(event, sample_id=f"tgfix-match.dev.v0.{i}", event_id=event_id)) + "\n")
            event_id += 1
    path.write_text(buf.getvalue())


MAKERS = {
    "inspect-json": ("inspect", "log.json", make_inspect_json),
    "inspect-eval": ("inspect", "log.eval", make_inspect_eval),
    "promptfoo": ("promptfoo", "promptfoo.json", make_promptfoo),
    "openai-evals": ("openai-evals", "events.jsonl", make_openai_evals),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=FORMATS)
    args = parser.parse_args()
    from tailgate.store import FormatOptions, Store, import_format

    for name in args.formats:
        fmt, filename, make = MAKERS[name]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / filename
            make(path, args.samples)
            size = path.stat().st_size
            load = os.getloadavg()[0]
            start, cpu = time.perf_counter(), time.process_time()
            runs = import_format(Store(Path(tmp) / "store"), fmt, [str(path)], FormatOptions(run_id="speed"))
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        records = sum(r.records for r in runs)
        # CPU seconds (every thread of the process, DuckDB's too) say what a machine that is not
        # shared would take; the wall time on a loaded one is a multiple of it
        print(
            f"{name}: {records:,} samples in {len(runs)} run(s), {size / 2**20:.1f} MiB, {seconds:.2f} s wall"
            f" -> {records / seconds:,.0f} samples/s; {cpu:.2f} s CPU -> {records / cpu:,.0f} samples/CPU-s"
            f" (load {load:.1f} -> {os.getloadavg()[0]:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
