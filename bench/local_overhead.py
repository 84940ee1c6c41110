"""tailgate's overhead over raw llama-cpp-python calls on the local model.

The same work both ways: the first N items of the bundled suite, template ``original`` (the
question as the user message), R repeats with seeds 0..R-1, the suite's decoding parameters,
the same llama.cpp settings. The raw side is a plain loop of ``create_chat_completion`` calls;
the tailgate side is the ``tailgate run`` command (process start-up, planning, scoring, the
records store and the manifest included). Outputs are compared to check the work was identical.

    python bench/local_overhead.py [--items 40] [--repeats 2] [--runs 3]
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = r"""
import json, os, sys, time
from llama_cpp import Llama
from tailgate.providers import resolve_local_model
items_path, n, repeats, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
items = [json.loads(line) for line in open(items_path, encoding="utf-8")][:n]
llm = Llama(model_path=str(resolve_local_model("smollm2-135m").path), n_ctx=4096,
            n_threads=os.cpu_count(), n_threads_batch=os.cpu_count(), n_batch=2048,
            flash_attn=True, verbose=False, seed=0)
outputs = {}
for item in items:
    for r in range(repeats):
        res = llm.create_chat_completion(
            messages=[{"role": "user", "content": item["question"]}], temperature=0.7, top_p=0.95,
            max_tokens=48, stop=["\n\n"], seed=r)
        outputs[f"{item['id']}/{r}"] = res["choices"][0]["message"]["content"]
json.dump(outputs, open(out, "w"))
"""


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "local_overhead.json"))
    args = parser.parse_args()
    from tailgate.config import load_suite

    items_path = load_suite("basic").dataset_path()
    raw_walls, tg_walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            raw_out = f"{tmp}/raw{i}.json"
            raw_walls.append(
                timed(
                    [
                        sys.executable,
                        "-c",
                        RAW,
                        str(items_path),
                        str(args.items),
                        str(args.repeats),
                        raw_out,
                    ]
                )
            )
            store = f"{tmp}/store{i}"
            tg_walls.append(
                timed(
                    [
                        sys.executable,
                        "-m",
                        "tailgate",
                        "--store",
                        store,
                        "run",
                        "basic",
                        "--model",
                        "local:smollm2-135m",
                        "--limit",
                        str(args.items),
                        "--repeats",
                        str(args.repeats),
                        "--variants",
                        "original",
                        "--no-cache",
                        "-q",
                        "--json",
                    ]
                )
            )
            export = subprocess.run(
                [sys.executable, "-m", "tailgate", "--store", store, "export", "latest"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            ours = {f"{r['source_id']}/{r['repeat']}": r["output"] for r in map(json.loads, export.splitlines())}
            raw = json.loads(Path(raw_out).read_text())
            same = sum(ours[k] == v for k, v in raw.items())
            print(
                f"run {i}: raw {raw_walls[-1]:.2f} s, tailgate {tg_walls[-1]:.2f} s, "
                f"identical outputs {same}/{len(raw)}"
            )
    result = {
        "samples": args.items * args.repeats,
        "raw_median_s": statistics.median(raw_walls),
        "tailgate_median_s": statistics.median(tg_walls),
        "raw_s": raw_walls,
        "tailgate_s": tg_walls,
    }
    result["overhead"] = result["tailgate_median_s"] / result["raw_median_s"] - 1
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(
        f"median: raw {result['raw_median_s']:.2f} s, "
        f"tailgate {result['tailgate_median_s']:.2f} s, "
        f"overhead {100 * result['overhead']:+.1f}%"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
