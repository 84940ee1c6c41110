"""``tailgate view`` at scale: two runs of 100k samples each, time to the first diff table and
a filter's round trip, in headless chromium (Debian's, driven by Playwright).

    python bench/view_speed.py [--items 25000] [--repeats 4]

Two synthetic runs over the same items (``bench/compare_scale.py``'s data: four declared
attributes, log-normal latencies, the candidate worse on one planted slice), imported with
``tailgate.store.import_records``. Measured:

* ``server_ready_s``: from starting ``tailgate view BASE CAND --port 0 --no-open`` (a new process)
  to its URL on stderr: imports, loading the two runs, the per-item table and its tags. The
  comparison (``tailgate compare``'s, with its bootstrap) is computed after that, in a thread.
* ``server_cpu_at_url_s``: the CPU time the server process used until then (what a quiet
  machine would take, roughly).
* ``first_json_from_start_s``: process start -> the first ``/api/diff`` answer (the tags and
  each run's level, ``pending: true`` while the comparison runs).
* ``first_table_from_start_s``: process start -> the tag table in the DOM (the browser is
  already open): the first diff table a user sees.
* ``comparison_ready_from_start_s``: process start -> the server's "comparison ready" line;
  ``slices_from_start_s``: -> the slice table in the DOM (the page asks again every 0.7 s).
* ``state_open_s`` / ``state_open_cpu_s`` (in process): the state with the comparison computed up
  front (as ``--export`` does), wall and CPU time; ``first_screen_s`` / ``first_screen_cpu_s``:
  the state with ``background=True`` to its first ``diff()`` (the comparison not included).
* ``browser_saved_comparison``: the same with ``--comparison FILE`` (the comparison saved by
  ``tailgate compare --json FILE``, read instead of computed).
* ``filter_in_page_ms``: from the filter form's submit event to the new items table in the DOM, as
  the page measures it (``performance.now()``): request, server parse + numpy selection + JSON,
  and the render of its 100 rows; ``filter_playwright_ms``: the same seen from Playwright (press
  Enter, wait for the table: adds the driver's round trips); ``api_items_ms``: the server's part
  alone (in process).
Targets (issue 15): first diff table < 2 s, a filter < 300 ms, on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from compare_scale import synthetic  # noqa: E402

FILTERS = [
    "tag:regressed",
    "slice:lang=de slice:length=long",
    "score<0.5 latency>400",
    "delta<=-0.5 -tag:flaky",
    "variant:original tag:improved,flaky",
    "slice:task=arith cand.score=0",
]


def _import(folder: Path, records: int, items: int) -> str:
    from tailgate.store import ImportSpec, Store, import_records

    store = Store(folder / "store")
    for name in ("base", "cand"):
        path = folder / f"{name}.parquet"
        synthetic(path, records, items, candidate=name == "cand")
        spec = ImportSpec(
            file=str(path),
            item="item",
            score="correct",
            repeat="r",
            latency="ms",
            slices=["task", "lang", "length", "format"],
            run_id=name,
        )
        import_records(store, spec)
    return str(store.root)


def _in_process(store: str) -> dict[str, float]:
    from tailgate.store import Store
    from tailgate.view import ViewState

    start, cpu = time.perf_counter(), time.process_time()
    early = ViewState(Store(store), ["base", "cand"], background=True)
    json.dumps(early.diff())
    first, first_cpu = time.perf_counter() - start, time.process_time() - cpu
    early.wait()
    background = time.perf_counter() - start
    early.close()
    start, cpu = time.perf_counter(), time.process_time()
    state = ViewState(Store(store), ["base", "cand"])
    opened, opened_cpu = time.perf_counter() - start, time.process_time() - cpu
    try:
        start = time.perf_counter()
        json.dumps(state.diff())
        diff = time.perf_counter() - start
        times = []
        for text in FILTERS:
            start = time.perf_counter()
            json.dumps(state.items(text))
            times.append(1000 * (time.perf_counter() - start))
        tags = {k: v["count"] for k, v in state.diff()["tags"].items()}
    finally:
        state.close()
    return {
        "first_screen_s": round(first, 3),
        "first_screen_cpu_s": round(first_cpu, 3),
        "background_comparison_ready_s": round(background, 3),
        "state_open_s": round(opened, 3),
        "state_open_cpu_s": round(opened_cpu, 3),
        "api_diff_s": round(diff, 3),
        "api_items_ms": [round(t, 1) for t in times],
        "api_items_median_ms": round(statistics.median(times), 1),
        "tags": tags,
    }


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux: /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def _browser(store: str, extra: list[str]) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        start = time.perf_counter()
        command = [
            sys.executable,
            "-m",
            "tailgate",
            "--store",
            store,
            "view",
            "base",
            "cand",
            "--port",
            "0",
            "--no-open",
            *extra,
        ]
        proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        lines: list[tuple[float, str]] = []
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            ready = time.perf_counter()
            cpu_at_url = _cpu(proc.pid)
            match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            assert match, line
            stderr = proc.stderr
            reader = threading.Thread(
                target=lambda: lines.extend((time.perf_counter(), text) for text in stderr), daemon=True
            )
            reader.start()
            with urllib.request.urlopen(match.group(1) + "api/diff", timeout=60) as response:
                pending = json.loads(response.read())["pending"]
            first_json = time.perf_counter()
            page.goto(match.group(1))
            page.wait_for_selector("#tag-flaky", timeout=60_000)
            first_tags = time.perf_counter()
            page.wait_for_selector("#slices tbody tr", timeout=300_000)
            shown = time.perf_counter()
            rows = page.locator("#slices tbody tr").count()
            trips: list[float] = []
            in_page: list[float] = []
            for text in FILTERS:
                if page.locator("#items").count():
                    page.evaluate("document.getElementById('items').dataset.old = '1'")
                page.fill("#filter", text)
                begin = time.perf_counter()
                page.press("#filter", "Enter")
                page.wait_for_selector("#items:not([data-old])", timeout=60_000)
                trips.append(1000 * (time.perf_counter() - begin))
                in_page.append(float(page.evaluate("document.body.dataset.roundTripMs")))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        browser.close()
    done = [t for t, text in lines if "comparison ready" in text]
    return {
        "server_ready_s": round(ready - start, 2),
        "server_cpu_at_url_s": cpu_at_url,
        "first_json_from_start_s": round(first_json - start, 2),
        "first_json_pending": pending,
        "first_table_from_start_s": round(first_tags - start, 2),
        "first_table_s": round(first_tags - ready, 3),
        "comparison_ready_from_start_s": round(done[0] - start, 2) if done else None,
        "slices_from_start_s": round(shown - start, 2),
        "slice_rows": rows,
        "filter_in_page_ms": in_page,
        "filter_in_page_median_ms": round(statistics.median(in_page), 1),
        "filter_in_page_max_ms": round(max(in_page), 1),
        "filter_playwright_ms": [round(t, 1) for t in trips],
        "filter_playwright_median_ms": round(statistics.median(trips), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=25_000)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--out", default=str(HERE / "results" / "view_speed.json"))
    args = parser.parse_args()
    records = args.items * args.repeats
    results: dict[str, object] = {"samples_per_run": records, "items": args.items, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        store = _import(Path(tmp), records, args.items)
        results["in_process"] = _in_process(store)
        results["browser"] = _browser(store, [])
        import tailgate

        saved = Path(tmp) / "cmp.json"
        saved.write_text(json.dumps(tailgate.compare_runs("base", "cand", store=store).as_dict(), default=str))
        results["browser_saved_comparison"] = _browser(store, ["--comparison", str(saved)])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
