"""Runner throughput against the peers' mock OpenAI-compatible server (50 ms per request).

Workload (the peers' kit, ../shared/bench-peers): 500 multiple-choice prompts x 4 repeats =
2,000 requests, caching off. Each scenario runs the whole command as a user would (process
start-up included) several times, alternating with the bare-aiohttp floor script, and reports
medians. The physical limit at concurrency C is 2000 x 0.05 / C seconds.

    python bench/mock_runner.py [--runs 5] [--out bench/results/mock_runner.json]

Scenarios: clean at concurrency 64 and 256; 10% of requests answering 429 (with and without
Retry-After) and 10% answering 500, at concurrency 64; start-up (one item).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS = HERE.parent.parent / "shared" / "bench-peers"
SUITE = HERE / "suites" / "mock" / "suite.yaml"
SUITE_ONE = HERE / "suites" / "mock" / "suite_one.yaml"
TAILGATE = [sys.executable, "-m", "tailgate"]


@contextmanager
def mock_server(port: int, *extra: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(PEERS / "mock_server.py"),
            "--port",
            str(port),
            "--delay",
            "0.05",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/stats", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def stats(base: str) -> dict[str, Any]:
    return json.loads(urllib.request.urlopen(f"{base}/stats", timeout=5).read())  # type: ignore[no-any-return]


def reset(base: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{base}/stats/reset", method="POST"), timeout=5).read()


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall and user+sys CPU seconds of a command, and its stdout."""
    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    wall = time.perf_counter() - t0
    after = os.times()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {proc.stderr[-2000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, proc.stdout


def tailgate_cmd(base: str, concurrency: int, repeats: int, suite: Path, store: str) -> list[str]:
    return [
        *TAILGATE,
        "--store",
        store,
        "run",
        str(suite),
        "--model",
        "openai:mock-model",
        "--base-url",
        f"{base}/v1",
        "--repeats",
        str(repeats),
        "--concurrency",
        str(concurrency),
        "--no-cache",
        "-q",
        "--json",
    ]


def floor_cmd(base: str, n: int, concurrency: int) -> list[str]:
    port = base.rsplit(":", 1)[1]
    return [
        sys.executable,
        str(PEERS / "bench_client.py"),
        "--n",
        str(n),
        "--c",
        str(concurrency),
        "--port",
        port,
    ]


def scenario(
    name: str, base: str, runs: int, concurrency: int, repeats: int, suite: Path, floor: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "scenario": name,
        "concurrency": concurrency,
        "requests": 0,
        "tailgate": [],
        "floor": [],
        "server": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            if floor:
                reset(base)
                wall, cpu, _ = timed(floor_cmd(base, 500 * repeats, concurrency))
                out["floor"].append({"wall_s": wall, "cpu_s": cpu})
            reset(base)
            wall, cpu, stdout = timed(tailgate_cmd(base, concurrency, repeats, suite, f"{tmp}/s{i}"))
            result = json.loads(stdout)
            server = stats(base)
            out["tailgate"].append(
                {
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "load_1min": os.getloadavg()[0],  # a shared machine: other work slows every figure
                    "done": result["done"],
                    "retries": result["retries"],
                    "errors": result["errors"],
                }
            )
            out["server"].append(server)
            out["requests"] = result["planned"]
    out["median_wall_s"] = statistics.median(r["wall_s"] for r in out["tailgate"])
    out["max_wall_s"] = max(r["wall_s"] for r in out["tailgate"])
    out["median_cpu_s"] = statistics.median(r["cpu_s"] for r in out["tailgate"])
    out["median_span_s"] = statistics.median(s["span_s"] for s in out["server"])
    if floor:
        out["floor_median_wall_s"] = statistics.median(r["wall_s"] for r in out["floor"])
        out["ratio_to_floor"] = out["median_wall_s"] / out["floor_median_wall_s"]
    out["physical_limit_s"] = out["requests"] * 0.05 / concurrency
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results" / "mock_runner.json"))
    args = parser.parse_args()
    results = []
    with mock_server(18765) as clean:
        results.append(scenario("clean c=64", clean, args.runs, 64, 4, SUITE, floor=True))
        results.append(scenario("clean c=256", clean, args.runs, 256, 4, SUITE, floor=True))
        results.append(scenario("start-up (1 item)", clean, args.runs, 64, 1, SUITE_ONE, floor=False))
    with mock_server(18766, "--fail-rate", "0.1", "--fail-code", "429") as f429:
        results.append(scenario("10% 429, no Retry-After", f429, args.runs, 64, 4, SUITE, floor=False))
    with mock_server(18767, "--fail-rate", "0.1", "--fail-code", "429", "--retry-after", "1") as f429ra:
        results.append(scenario("10% 429, Retry-After 1 s", f429ra, args.runs, 64, 4, SUITE, floor=False))
    with mock_server(18768, "--fail-rate", "0.1", "--fail-code", "500") as f500:
        results.append(scenario("10% 500", f500, args.runs, 64, 4, SUITE, floor=False))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    for r in results:
        floor = (
            f"floor {r['floor_median_wall_s']:.2f} s, x{r['ratio_to_floor']:.2f}" if "floor_median_wall_s" in r else ""
        )
        done = min(x["done"] for x in r["tailgate"])
        print(
            f"{r['scenario']:<26} wall {r['median_wall_s']:.2f} s (max {r['max_wall_s']:.2f})  "
            f"cpu {r['median_cpu_s']:.2f} s  "
            f"request span {r['median_span_s']:.2f} s  limit {r['physical_limit_s']:.2f} s  "
            f"done {done}/{r['requests']}  {floor}"
        )


if __name__ == "__main__":
    main()
