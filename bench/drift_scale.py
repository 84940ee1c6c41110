"""Drift of two 1M-request windows: attributes and the domain classifier (issue 12: < 60 s, 2 cores).

    python bench/drift_scale.py [--n 1000000] [--skip-classifier]

Two windows of ``n`` requests each, drawn with replacement from the bench pool
(bench/drift_pool.py: real ShareGPT prompts and their attributes), the current one with 10% of its
requests from non-English prompts (so there is something to find). Times, wall and CPU of this
process (the machine is shared, so CPU time is the figure that does not depend on other jobs):

* ``window_drift`` over the attributes (``lang``, ``length``, ``asks_json``, ``has_code``
  categorical; ``chars``, ``turns`` numeric, Anderson-Darling with its permutation null);
* ``domain_classifier`` on the two windows' texts (its defaults).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (ROOT / "src", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench import drift_pool  # noqa: E402

from tailgate.analysis._drift import window_drift  # noqa: E402
from tailgate.analysis._drift_text import domain_classifier  # noqa: E402


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def main(n: int, classifier: bool) -> dict[str, Any]:
    pool = drift_pool.load()
    rng = np.random.default_rng(0)
    size = len(pool.texts)
    ref_idx = rng.choice(size, n)
    other = np.flatnonzero(pool.attrs["lang"] != "en")
    cur_idx = np.r_[rng.choice(size, n - n // 10), rng.choice(other, n // 10)]
    ref, cur = pool.window(ref_idx), pool.window(cur_idx)
    w, wall, cpu = _timed(lambda: window_drift(ref, cur))
    out: dict[str, Any] = {
        "n": n,
        "attributes": {"wall_s": wall, "cpu_s": cpu, "drifted": list(w.drifted)},
        "tests": {a.name: [a.test.method, a.test.p_value, a.test.note] for a in w.attributes},
    }
    print(f"attributes: {wall:.1f} s wall, {cpu:.1f} s CPU; drifted {w.drifted}", flush=True)
    if classifier:
        texts = pool.texts
        r_t, c_t = [texts[i] for i in ref_idx], [texts[i] for i in cur_idx]
        dc, wall, cpu = _timed(lambda: domain_classifier(r_t, c_t))
        out["classifier"] = {"wall_s": wall, "cpu_s": cpu, "method": dc.test.method, "p": dc.test.p_value}
        print(f"classifier: {wall:.1f} s wall, {cpu:.1f} s CPU; {dc.test.method} p={dc.test.p_value:.3g}", flush=True)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--skip-classifier", action="store_true")
    args = ap.parse_args()
    res = main(args.n, not args.skip_classifier)
    (HERE / "results" / "drift_scale.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
