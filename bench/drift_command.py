"""Speed of ``tailgate drift``: two windows of 1M requests each (attributes and domain classifier).

    python bench/drift_command.py [--requests 2000000] [--keep DIR]

Builds the store directly: a replayable log of 100,000 requests (bench/replay_log.py: ShareGPT
prompts on the Azure trace's arrival times, ``--shift json:0.1`` from the middle on) is imported
with ``tailgate import traffic`` (so every attribute is the import's own), then its older half is
replicated into the first half of the table and its newer half into the second, each copy with
new request ids and timestamps one after the other, as Parquet parts of the traffic table. Then
times ``tailgate drift`` (the default split: the older half against the newer) as its own process
under /usr/bin/time (wall, CPU, peak RSS), with and without the text tests. Writes
``bench/results/drift_command.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from replay_log import build_log  # noqa: E402
from traffic_import import timed  # noqa: E402

BASE = 100_000


def build_store(store: Path, requests: int, work: Path) -> dict[str, float]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from tailgate.traffic import TrafficTable, traffic_arrow_schema

    started = time.perf_counter()
    log = work / "base.jsonl"
    build_log(log, BASE, seed=1, shifts={"json": 0.1}, shift_at=0.5)
    env = {**os.environ, "TAILGATE_STORE": str(store)}
    subprocess.run([sys.executable, "-m", "tailgate", "import", "traffic", str(log)], env=env, check=True)
    folder = TrafficTable(store / "traffic").folder
    base = TrafficTable(folder).read().sort_by([("timestamp", "ascending"), ("request_id", "ascending")])
    for part in TrafficTable(folder).parts():
        part.unlink()
    halves = base.slice(0, BASE // 2), base.slice(BASE // 2)
    per_half = requests // 2
    start_us = int(pc.min(base["timestamp"]).cast(pa.int64()).as_py())
    written = 0
    for half in halves:
        copies = -(-per_half // half.num_rows)
        for k in range(copies):
            rows = half.slice(0, min(half.num_rows, per_half - k * half.num_rows))
            n = rows.num_rows
            ids = pa.array([f"bench-{written + i:012d}" for i in range(n)])
            stamps = pa.array(range(start_us + written * 1000, start_us + (written + n) * 1000, 1000), pa.int64())
            rows = rows.set_column(rows.schema.get_field_index("request_id"), "request_id", ids)
            rows = rows.set_column(
                rows.schema.get_field_index("timestamp"), "timestamp", stamps.cast(pa.timestamp("us", tz="UTC"))
            )
            part = folder / f"part-{time.time_ns():020d}-{os.getpid()}.parquet"
            pq.write_table(rows.cast(traffic_arrow_schema()), part)
            written += n
    return {"requests": written, "build_s": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2_000_000)
    parser.add_argument("--keep", type=Path, help="Keep the store in this folder.")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "drift_command.json")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="drift-bench-"))
    store = args.keep or work / "store"
    try:
        built = build_store(store, args.requests, work)
        report = work / "drift.json"
        runs = {}
        for name, extra in (("attributes_and_classifier", []), ("attributes_only", ["--no-text"])):
            runs[name] = timed(["--store", str(store), "drift", "-q", "--json", str(report), *extra], str(work))
            result = json.loads(report.read_text(encoding="utf-8"))
            runs[name].pop("summary", None)
            runs[name]["verdict"] = result["verdict"]
            runs[name]["windows"] = [w["n"] for w in result["windows"]]
            print(name, runs[name], file=sys.stderr)
        out = {
            "requests": built["requests"],
            "build_store_s": built["build_s"],
            "cpus": os.cpu_count(),
            "load_before": os.getloadavg()[0],
            "runs": runs,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(out, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
