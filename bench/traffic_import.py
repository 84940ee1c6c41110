"""Import speed of ``tailgate import traffic``: 1M lines of the replayable production log.

    python bench/traffic_import.py [--lines 1000000] [--keep DIR]

Builds the log with ``bench/replay_log.py`` (ShareGPT prompts with two turns of history and the
answers that followed, on the Azure trace's arrival times; about 3.3 KB a line), then times, each
as its own ``tailgate`` process under /usr/bin/time (wall, CPU, peak RSS): the first import into
an empty store, a re-import of the same file (idempotent: nothing new, resumed at its end), and
an import of the same requests from a copy at another path (every line read again, all of them
duplicates). Writes ``bench/results/traffic_import.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from replay_log import build_log  # noqa: E402


def timed(args: list[str], cwd: str) -> dict[str, float]:
    proc = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "tailgate", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    found = {
        key: re.search(pattern, proc.stderr)
        for key, pattern in {
            "wall": r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)",
            "user": r"User time \(seconds\): (\S+)",
            "system": r"System time \(seconds\): (\S+)",
            "rss": r"Maximum resident set size \(kbytes\): (\d+)",
        }.items()
    }
    wall = found["wall"]
    parts = [float(x) for x in wall.group(1).split(":")] if wall else [0.0]
    cpu = sum(float(m.group(1)) for m in (found["user"], found["system"]) if m)
    rss = found["rss"]
    return {
        "wall_s": round(sum(v * 60**i for i, v in enumerate(reversed(parts))), 1),
        "cpu_s": round(cpu, 1),
        "peak_rss_mb": round(int(rss.group(1)) / 1024) if rss else 0,
        "summary": proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="Build (or reuse) the log in DIR instead of a temporary folder.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tailgate-traffic-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"replay-{args.lines}.jsonl"
    if not log.is_file():
        build_log(log, args.lines, seed=0)
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    results: dict[str, object] = {
        "lines": args.lines,
        "file_mb": round(log.stat().st_size / 1e6),
        "cores": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 1),
    }
    results["first_import"] = timed(["--store", str(store), "import", "traffic", str(log)], str(work))
    results["re_import_same_file"] = timed(["--store", str(store), "import", "traffic", str(log)], str(work))
    copy = work / "copy-of-the-log.jsonl"
    shutil.copyfile(log, copy)
    results["re_import_all_duplicates"] = timed(["--store", str(store), "import", "traffic", str(copy)], str(work))
    copy.unlink()
    results["load_average_at_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(results, indent=2))
    (HERE / "results" / "traffic_import.json").write_text(json.dumps(results, indent=2) + "\n")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
