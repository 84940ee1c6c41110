"""How fast does ``tailgate import lm-eval`` read a large ``--log_samples`` file? (issue 15: >= 50k
samples/s)

Synthesises an lm-eval samples JSONL shaped like the real fixture
(tests/fixtures/importers/lm-eval: doc, target, chat-template arguments, resps, filtered_resps,
filter, metrics, hashes, the metric's value), ``--docs`` documents x ``--repeats`` responses
(default 100,000 x 1 = 100,000 samples), then times the whole import into a fresh store (parse,
checks, Parquet files, manifest) and prints samples/s.

    python bench/import_speed.py                  # 100k samples
    python bench/import_speed.py --docs 25000 --repeats 4
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def synthesize(path: Path, docs: int, repeats: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for doc_id in range(docs):
            answer = rng.choice("ABCD")
            question = (
                f"Question {doc_id}: What is {rng.randint(1, 99)} + {rng.randint(1, 99)}?\nA) 1\nB) 2\nC) 3\nD) 4"
            )
            picked = answer if rng.random() < 0.7 else rng.choice("ABCD")
            messages = json.dumps([{"role": "user", "content": question}])
            line = {
                "doc_id": doc_id,
                "doc": {"id": f"q{doc_id}", "question": question, "answer": answer},
                "target": answer,
                "arguments": {
                    "gen_args_0": {
                        "arg_0": [messages],
                        "arg_1": {"until": ["\n\n"], "max_gen_toks": 16, "do_sample": False, "temperature": 0.0},
                    }
                },
                "resps": [[f"The answer is {picked}"] * repeats],
                "filtered_resps": [picked],
                "filter": "letter",
                "metrics": ["exact_match"],
                "doc_hash": f"{rng.getrandbits(256):064x}",
                "prompt_hash": f"{rng.getrandbits(256):064x}",
                "target_hash": f"{rng.getrandbits(256):064x}",
                "exact_match": float(picked == answer),
            }
            out.write(json.dumps(line) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    from tailgate.store import FormatOptions, Store, import_format

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples_synthetic_2026-01-01T00-00-00.000000.jsonl"
        synthesize(path, args.docs, args.repeats)
        size = path.stat().st_size
        load = os.getloadavg()[0]
        start, cpu = time.perf_counter(), time.process_time()
        (run,) = import_format(Store(Path(tmp) / "store"), "lm-eval", [str(path)], FormatOptions(run_id="speed"))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"lm-eval import: {run.records:,} samples ({run.items:,} documents x {args.repeats}), "
        f"{size / 2**20:.1f} MiB, {seconds:.2f} s wall -> {run.records / seconds:,.0f} samples/s; "
        f"{cpu:.2f} s CPU -> {run.records / cpu:,.0f} samples/CPU-s (load {load:.1f} -> {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
