"""Report time and peak memory at scale: MMLU-Pro (347,215 rows) and a synthetic 10M-record run.

    python bench/report_scale.py [--records 10000000] [--items 500000]

Each step is a separate `tailgate` process timed with /usr/bin/time (wall, peak RSS). The
synthetic run: items x repeats records, four declared attributes (task 6 values, lang 4,
length 3, format 2), latencies log-normal, and a failing slice planted (lang=de AND
length=long fails 60% of the time, the rest 10%, plus a per-item effect).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"


def timed(args: list[str], cwd: str, ok: tuple[int, ...] = (0,)) -> dict[str, float]:
    proc = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "tailgate", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    if proc.returncode not in ok:
        raise RuntimeError(proc.stderr[-3000:])
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    parts = [float(x) for x in wall.group(1).split(":")] if wall else [0.0]
    seconds = sum(v * 60**i for i, v in enumerate(reversed(parts)))
    return {"wall_s": round(seconds, 2), "peak_rss_mb": round(int(rss.group(1)) / 1024, 1) if rss else 0.0}


def synthetic(path: Path, records: int, items: int, failure: str | None = None, seed: float | None = None) -> None:
    """``items`` x ``records // items`` records to Parquet. An item's attributes and its difficulty
    ``u`` depend on its index only, so two calls describe the same items (pairable runs);
    ``failure`` is the SQL for a sample's failure probability (default: the planted slice)."""
    import duckdb

    repeats = records // items
    failure = failure or "CASE WHEN lang = 'de' AND length = 'long' THEN 0.6 ELSE 0.1 END + 0.2 * (u - 0.5)"
    con = duckdb.connect()
    if seed is not None:
        con.execute(f"SELECT setseed({seed})")
    con.execute(f"""
        COPY (
        WITH it AS (
            SELECT i AS item,
                   ['arith','capitals','facts','units','extract','choice'][1 + CAST(hash(i) % 6 AS BIGINT)] AS task,
                   ['en','fr','es','de'][1 + CAST(hash(i * 7) % 4 AS BIGINT)] AS lang,
                   ['short','medium','long'][1 + CAST(hash(i * 13) % 3 AS BIGINT)] AS length,
                   ['text','json'][1 + CAST(hash(i * 17) % 2 AS BIGINT)] AS format,
                   (hash(i * 31) % 1000000) / 1000000.0 AS u
            FROM range({items}) t(i)
        )
        SELECT item, r, task, lang, length, format,
               CAST(random() >= {failure} AS INTEGER) AS correct,
               round(exp(5.5 + 0.4 * (length = 'long')::INTEGER + 0.5 * sqrt(-2 * ln(random())) *
                     cos(2 * pi() * random())), 1) AS ms
        FROM it, range({repeats}) s(r)
        ) TO '{path}' (FORMAT PARQUET)
    """)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--items", type=int, default=500_000)
    parser.add_argument("--out", default=str(HERE / "results" / "report_scale.json"))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["mmlu_import"] = timed(
            [
                "--store",
                "s",
                "import",
                "records",
                str(DATA / "mmlu-pro" / "responses.csv.gz"),
                "--item",
                "question_id",
                "--score",
                "correct",
                "--variant",
                "model",
                "--output",
                "pred",
                "--slice",
                "category",
                "--run-id",
                "mmlu",
            ],
            tmp,
        )
        results["mmlu_report"] = timed(["--store", "s", "report", "mmlu", "--json", "mmlu.json"], tmp)
        big = Path(tmp) / "big.parquet"
        synthetic(big, args.records, args.items)
        results["synthetic_import"] = timed(
            [
                "--store",
                "s",
                "import",
                "records",
                str(big),
                "--item",
                "item",
                "--score",
                "correct",
                "--repeat",
                "r",
                "--latency",
                "ms",
                "--slice",
                "task",
                "--slice",
                "lang",
                "--slice",
                "length",
                "--slice",
                "format",
                "--run-id",
                "big",
            ],
            tmp,
        )
        results["synthetic_report_depth2"] = timed(
            ["--store", "s", "report", "big", "--max-depth", "2", "--json", "big.json"], tmp
        )
        report = json.loads((Path(tmp) / "big.json").read_text())
        results["synthetic_found"] = [s["label"] for s in report["discovery"]["slices"]][:3]
        results["synthetic_n"] = report["overview"]["n_samples"]
        results["synthetic_score"] = report["overview"]["score"]
    results["records"], results["items"] = args.records, args.items
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
