"""Calibration and power of the drift tests (issue 12, "Must hold"), on real ShareGPT prompts.

    python bench/drift_calibration.py [--quick] [--only aa,monitor,delay,power] [--reps R]
                                      [--workers 2] [--peers PYTHON]

* ``aa``: A/A splits of one pool (bench/drift_pool.py: 17,063 real prompts): two disjoint windows
  of n requests drawn without replacement, every test run on them, the share with p <= 0.05;
  target [0.035, 0.065] for each test and size. "window: any (BH)" is the share of splits where
  the window reports any drifted attribute after Benjamini-Hochberg over all its tests.
* ``monitor``: sequences of 100 windows of 500 requests drawn with replacement from the pool (no
  drift), monitored by ``tailgate.analysis._monitor.monitor`` over the categorical attributes;
  P(any false alarm) <= 0.05. Beside it, the naive "chi-square at 5% on every window against the
  reference" for the first sequences.
* ``delay``: the same with an injected shift from window 50 on (windows 50, 51, ... shifted);
  delay = alarm window - 49 (1 = alarm on the first shifted window); median <= 3.
* ``power``: a reference window of 500 and a current window of 500 of which 10% (50 requests)
  come from a shifted population: ``lang`` (non-English prompts), ``code`` (prompts with code),
  ``json`` (prompts that mention JSON), ``length3x`` (the prompt repeated three times); the share
  of replications each test rejects at 0.05; target >= 0.8.

``--peers`` names the python of an environment with Evidently and alibi-detect (they are dev
tools, never dependencies of tailgate): ``bench/drift_peers.py`` runs them there on the very same
splits (fewer replications: they are slower; ``--peer-reps``, ``--peer-power-reps``; with
``--only none`` only the peers run, merged into the saved results). The full run writes
``bench/results/drift_calibration.json`` and the tables of ``docs/drift.md`` between the
generated markers; ``--quick`` runs a small subset and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (ROOT / "src", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench import drift_pool  # noqa: E402

from tailgate.analysis._drift import categorical_test, numeric_test, psi  # noqa: E402
from tailgate.analysis._drift_text import classifier_test, mmd_test  # noqa: E402
from tailgate.analysis._monitor import monitor  # noqa: E402
from tailgate.analysis._stats import adjust_bh  # noqa: E402

ALPHA = 0.05
SIZES = (50, 500, 5000)
SHIFTS = ("lang", "code", "json", "length3x")
MMD_PERMUTATIONS = 199  # exact for any B; fewer draws keep 1,000 splits of 5,000 affordable
DC_PERMUTATIONS = 99
# the exact categorical test's draws: the product uses 9,999; with ties broken at random the size
# is exactly 0.05 for any B with 0.05 (B + 1) whole, so the bench affords 1,000 splits with 999
CAT_PERMUTATIONS = 999
MONITOR_WINDOWS, MONITOR_SIZE, SHIFT_AT = 100, 500, 50
# "minilm" (all-MiniLM-L6-v2, the product's default) or "lsa" (when the model is too slow here)
EMBEDDING = os.environ.get("TAILGATE_BENCH_EMBEDDING", "minilm")
DOC = ROOT / "docs" / "drift.md"
RESULTS = HERE / "results" / "drift_calibration.json"

_STATE: dict[str, Any] = {}


def _state() -> dict[str, Any]:
    """The pool and its shifted sub-populations, loaded once per worker process."""
    if not _STATE:
        pool = drift_pool.load()
        _STATE.update(
            pool=pool,
            sub={
                "length3x": drift_pool.tripled_subset(pool),
                "lang": np.flatnonzero(pool.attrs["lang"] != "en"),
                "code": np.flatnonzero(pool.attrs["has_code"]),
                "json": np.flatnonzero(pool.attrs["asks_json"]),
            },
        )
    return _STATE


def _features() -> dict[str, Any]:
    """The pool's TF-IDF rows (fitted on the whole pool: label-free) and embeddings, once."""
    st = _state()
    if "tfidf" not in st:
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer

        pool = st["pool"]
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=50_000, sublinear_tf=True, dtype=np.float32)
        st["tfidf"] = sparse.csr_matrix(vec.fit_transform(pool.texts))
        st["tfidf3"] = sparse.csr_matrix(vec.transform([" ".join([t] * 3) for t in pool.texts]))
        if EMBEDDING == "minilm":
            st["emb"] = drift_pool.embeddings(pool)
            st["emb3"] = drift_pool.embeddings(pool, tripled=True)
        else:  # LSA: 64 SVD components of the TF-IDF rows, unit length (no model needed)
            st["emb"], st["emb3"] = _lsa(st["tfidf"], st["tfidf3"])
    return st


def _lsa(x: Any, x3: Any) -> tuple[np.ndarray, np.ndarray]:
    path = drift_pool.CACHE / f"sharegpt-lsa64-{x.shape[0]}.npz"
    if not path.exists():
        from sklearn.decomposition import TruncatedSVD

        svd = TruncatedSVD(64, random_state=0).fit(x)
        e, e3 = svd.transform(x), svd.transform(x3)
        e /= np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
        e3 /= np.maximum(np.linalg.norm(e3, axis=1, keepdims=True), 1e-12)
        np.savez(path, emb=e.astype(np.float32), emb3=e3.astype(np.float32))
    with np.load(path) as z:
        return z["emb"], z["emb3"]


def embedding_files() -> tuple[str, str]:
    """Where the embeddings the tests used are, for the peers."""
    st = _features()
    path = drift_pool.CACHE / f"peer-embeddings-{EMBEDDING}.npz"
    np.savez(path, emb=st["emb"], emb3=st["emb3"])
    return str(path), EMBEDDING


def _tripled_attrs(attrs: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    from tailgate.analysis._derive import token_bucket

    out = {k: v[idx].copy() for k, v in attrs.items()}
    out["chars"] = out["chars"] * 3 + 2
    out["length"] = np.array([token_bucket(int(c) // 4) for c in out["chars"]])
    return out


def window_pair(kind: str, n: int, seed: int) -> dict[str, Any]:
    """Indices (and the tripled mask) of one (reference, current) pair: ``aa`` or a shift."""
    st = _state()
    rng = np.random.default_rng(seed)
    size = len(st["pool"].texts)
    if kind == "aa":
        idx = rng.choice(size, 2 * n, replace=False)
        return {"ref": idx[:n], "cur": idx[n:], "tripled": np.zeros(n, dtype=bool)}
    k = n // 10
    idx = rng.choice(size, 2 * n - k, replace=False)
    ref, cur = idx[:n], idx[n:]
    tripled = np.zeros(n, dtype=bool)
    cur = np.r_[cur, rng.choice(st["sub"][kind], k, replace=False)]
    tripled[n - k :] = kind == "length3x"
    return {"ref": ref, "cur": cur, "tripled": tripled}


def _cur_parts(pair: dict[str, Any]) -> tuple[dict[str, np.ndarray], Any, np.ndarray]:
    from scipy import sparse

    st = _features()
    attrs = st["pool"].attrs
    cur, tri = pair["cur"], pair["tripled"]
    a = {k: v[cur].copy() for k, v in attrs.items()}
    if tri.any():
        t3 = _tripled_attrs(attrs, cur[tri])
        for k, column in a.items():
            column[tri] = t3[k]
    x = sparse.vstack([st["tfidf"][cur[~tri]], st["tfidf3"][cur[tri]]]).tocsr()
    e = np.vstack([st["emb"][cur[~tri]], st["emb3"][cur[tri]]])
    return a, x, e


def run_tests(pair: dict[str, Any], seed: int, dc_null: str = "split") -> dict[str, float]:
    """Every test of one window pair: p-values by name, plus the window's BH verdict."""
    from scipy import sparse

    st = _features()
    attrs = st["pool"].attrs
    ref = {k: v[pair["ref"]] for k, v in attrs.items()}
    cur, x_cur, e_cur = _cur_parts(pair)
    p: dict[str, float] = {}
    variants: dict[str, float] = {}
    for name in drift_pool.CATEGORICAL:
        rules: dict[str, float] = {}
        p[f"chi-square/exact: {name}"] = categorical_test(
            ref[name], cur[name], seed=seed, permutations=CAT_PERMUTATIONS, _all_ties=rules
        ).p_value
        variants.update({f"exact, {t} ties: {name}": rules[t] for t in ("conservative", "mid-p")})
    for name in drift_pool.NUMERIC:
        p[f"Anderson-Darling: {name}"] = numeric_test(ref[name], cur[name], seed=seed).p_value
    x = sparse.vstack([st["tfidf"][pair["ref"]], x_cur]).tocsr()
    dc = classifier_test(x, len(pair["ref"]), null=dc_null, permutations=DC_PERMUTATIONS, seed=seed)  # type: ignore[arg-type]
    p[f"domain classifier ({dc_null})"] = dc.test.p_value
    p[f"MMD ({EMBEDDING})"] = mmd_test(st["emb"][pair["ref"]], e_cur, permutations=MMD_PERMUTATIONS, seed=seed).p_value
    window = list(p.values())
    p["window: any (BH)"] = float(adjust_bh(np.array(window)).min())
    p["KS (option): chars"] = numeric_test(ref["chars"], cur["chars"], method="ks").p_value
    # the variants the defaults replaced (docs/drift.md says why), on the same splits and draws
    p.update(variants)
    for name in drift_pool.NUMERIC:
        p[f"Anderson-Darling, scipy table: {name}"] = numeric_test(ref[name], cur[name], null="table").p_value
    p["_psi_lang"] = psi(*_counts(ref["lang"], cur["lang"]))
    return p


def _counts(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.unique(np.r_[r, c])
    return np.array([(r == v).sum() for v in labels]), np.array([(c == v).sum() for v in labels])


def _aa_job(args: tuple[str, int, int, str]) -> dict[str, float]:
    kind, n, rep, dc_null = args
    seed = 1_000_003 * n + rep + (0 if kind == "aa" else 7_919 * (1 + SHIFTS.index(kind)))
    return run_tests(window_pair(kind, n, seed), seed, dc_null)


def _windows_seq(seed: int, shift: str | None) -> list[dict[str, np.ndarray]]:
    st = _state()
    rng = np.random.default_rng(seed)
    attrs = st["pool"].attrs
    size = len(st["pool"].texts)
    out = []
    for t in range(MONITOR_WINDOWS):
        idx = rng.choice(size, MONITOR_SIZE)
        w = {k: attrs[k][idx] for k in drift_pool.CATEGORICAL}
        if shift and t >= SHIFT_AT:
            k = MONITOR_SIZE // 10
            extra = rng.choice(st["sub"][shift], k)
            new = _tripled_attrs(attrs, extra) if shift == "length3x" else {n: attrs[n][extra] for n in w}
            w = {name: np.r_[v[:-k], new[name]] for name, v in w.items()}
        out.append(w)
    return out


def _monitor_job(args: tuple[int, str | None, bool]) -> dict[str, Any]:
    seed, shift, naive = args
    windows = _windows_seq(seed, shift)
    res = monitor(windows, alpha=ALPHA, seed=seed, stop_at_alarm=True)
    out: dict[str, Any] = {"alarm_at": res.alarm_at}
    if naive:
        ref = windows[0]
        out["naive_any"] = any(
            min(categorical_test(ref[k], w[k], seed=t).p_value for k in ref) <= ALPHA for t, w in enumerate(windows[1:])
        )
    return out


def _map(fn: Callable[[Any], Any], jobs: list[Any], workers: int) -> list[Any]:
    if workers <= 1:
        return [fn(j) for j in jobs]
    with ProcessPoolExecutor(workers) as ex:
        return list(ex.map(fn, jobs, chunksize=max(1, len(jobs) // (8 * workers))))


def _rate(hits: int, n: int) -> dict[str, float]:
    r = hits / n if n else float("nan")
    return {"rate": r, "n": n, "mc_se": math.sqrt(max(r * (1 - r), 1e-12) / n) if n else float("nan")}


def study(parts: list[str], reps: int, workers: int, quick: bool, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sizes = (50, 500) if quick else sizes
    if "aa" in parts:
        for n in sizes:
            t0 = time.time()
            rows = _map(_aa_job, [("aa", n, r, "split") for r in range(reps)], workers)
            tests = [k for k in rows[0] if not k.startswith("_")]
            out[f"aa/{n}"] = {k: _rate(sum(r[k] <= ALPHA for r in rows), len(rows)) for k in tests}
            out[f"aa/{n}"]["_mean_psi_lang"] = float(np.mean([r["_psi_lang"] for r in rows]))
            print(f"aa n={n}: {time.time() - t0:.0f} s", flush=True)
        perm_reps = max(20, reps // 10)
        rows = (
            [] if 50 not in sizes else _map(_aa_job, [("aa", 50, r, "permutation") for r in range(perm_reps)], workers)
        )
        if rows:
            out["aa/50"]["domain classifier (permutation)"] = _rate(
                sum(r["domain classifier (permutation)"] <= ALPHA for r in rows), len(rows)
            )
    if "power" in parts:
        for shift in SHIFTS:
            rows = _map(_aa_job, [(shift, 500, r, "split") for r in range(max(20, reps))], workers)
            tests = [k for k in rows[0] if not k.startswith("_")]
            out[f"power/{shift}"] = {k: _rate(sum(r[k] <= ALPHA for r in rows), len(rows)) for k in tests}
            print(f"power {shift} done", flush=True)
    if "monitor" in parts:
        seqs = 40 if quick else reps
        rows = _map(_monitor_job, [(s, None, s < max(20, seqs // 5)) for s in range(seqs)], workers)
        naive = [r["naive_any"] for r in rows if "naive_any" in r]
        out["monitor"] = {
            "any false alarm (e-process)": _rate(sum(r["alarm_at"] is not None for r in rows), len(rows)),
            "any false alarm (naive 5% per window)": _rate(sum(naive), len(naive)),
        }
        print("monitor done", flush=True)
    if "delay" in parts:
        seqs = 10 if quick else max(10, reps // 20)
        for shift in SHIFTS:
            rows = _map(_monitor_job, [(10_000 + s, shift, False) for s in range(seqs)], workers)
            delays = [r["alarm_at"] - SHIFT_AT + 1 for r in rows if r["alarm_at"] is not None]
            early = sum(1 for d in delays if d <= 0)
            out[f"delay/{shift}"] = {
                "median delay": float(np.median([d for d in delays if d > 0])) if delays else float("nan"),
                "detected": len([d for d in delays if d > 0]),
                "alarm before the shift": early,
                "sequences": seqs,
            }
            print(f"delay {shift}: {out[f'delay/{shift}']}", flush=True)
    return out


def _peers(python: str, reps: int, quick: bool, power_reps: int | None = None) -> dict[str, Any]:
    """Evidently and alibi-detect on the same splits (the first ``reps`` of ours; a quarter of
    them at n = 5,000; ``power_reps`` per shift), in their own environment."""
    sizes = (50, 500) if quick else SIZES
    jobs = [("aa", n, r) for n in sizes for r in range(reps if n < 5000 else max(10, reps // 4))]
    jobs += [(s, 500, r) for s in SHIFTS for r in range(reps if power_reps is None else power_reps)]
    spec = []
    for kind, n, r in jobs:
        seed = 1_000_003 * n + r + (0 if kind == "aa" else 7_919 * (1 + SHIFTS.index(kind)))
        pair = window_pair(kind, n, seed)
        spec.append({"kind": kind, "n": n, **{k: v.tolist() for k, v in pair.items()}})
    emb_path, emb_name = embedding_files()
    path = RESULTS.parent / "drift_peer_splits.json"
    path.write_text(json.dumps({"embeddings": emb_path, "embedding": emb_name, "jobs": spec}), encoding="utf-8")
    try:
        done = subprocess.run(
            [python, str(HERE / "drift_peers.py"), str(path)], capture_output=True, text=True, check=True
        )
    finally:
        path.unlink()
    return dict(json.loads(done.stdout))


def render(res: dict[str, Any]) -> str:
    lines: list[str] = []
    sizes = [k.split("/")[1] for k in res if k.startswith("aa/")]
    tests = [k for k in res[f"aa/{sizes[0]}"] if not k.startswith("_")] if sizes else []
    if sizes:
        lines += ["### A/A false-alarm rate at alpha = 0.05 (target [0.035, 0.065])", ""]
    if sizes:
        lines.append("| test | " + " | ".join(f"n = {s}" for s in sizes) + " |")
        lines.append("|---|" + "---|" * len(sizes))
    for t in tests:
        cells = []
        for s in sizes:
            c = res[f"aa/{s}"].get(t)
            cells.append(f"{c['rate']:.3f} ± {c['mc_se']:.3f} ({c['n']})" if c else "")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    peers = res.get("peers", {})
    for tool_test, by in peers.items() if sizes else ():
        cells = [
            f"{by[f'aa/{s}']['rate']:.3f} ± {by[f'aa/{s}']['mc_se']:.3f} ({by[f'aa/{s}']['n']})"
            if f"aa/{s}" in by
            else ""
            for s in sizes
        ]
        lines.append(f"| *{tool_test}* | " + " | ".join(cells) + " |")
    if sizes:
        lines.append("")
        lines.append(
            "Mean PSI of `lang` between two A/A windows: "
            + ", ".join(f"{res[f'aa/{s}']['_mean_psi_lang']:.3f} at n = {s}" for s in sizes)
            + ": the upward bias of a plug-in PSI with no drift, which a fixed PSI cut-off ignores."
        )
    shifts = [k.split("/")[1] for k in res if k.startswith("power/")]
    if shifts:
        reps = next(iter(res[f"power/{shifts[0]}"].values()))["n"]
        lines += [
            "",
            f"### Power at 500 requests per window, 10% of the current window shifted (target >= 0.8; {reps} each)",
            "",
        ]
        lines.append("| test | " + " | ".join(shifts) + " |")
        lines.append("|---|" + "---|" * len(shifts))
        for t in res[f"power/{shifts[0]}"]:
            cells = (res[f"power/{s}"][t] for s in shifts)
            lines.append(f"| {t} | " + " | ".join(f"{c['rate']:.3f} ± {c['mc_se']:.3f}" for c in cells) + " |")
        for tool_test, by in peers.items():
            lines.append(
                f"| *{tool_test}* | "
                + " | ".join(
                    f"{by[f'power/{s}']['rate']:.3f} ± {by[f'power/{s}']['mc_se']:.3f} ({by[f'power/{s}']['n']})"
                    if f"power/{s}" in by
                    else ""
                    for s in shifts
                )
                + " |"
            )
    if "monitor" in res:
        lines += ["", f"### Monitoring: {MONITOR_WINDOWS} windows of {MONITOR_SIZE} requests", ""]
        lines.append("| measure | value |")
        lines.append("|---|---|")
        for k, v in res["monitor"].items():
            lines.append(f"| P({k}) | {v['rate']:.3f} ± {v['mc_se']:.3f} ({v['n']} sequences) |")
        for k, v in res.items():
            if k.startswith("delay/"):
                lines.append(
                    f"| shift `{k.split('/')[1]}` from window {SHIFT_AT}: median delay | {v['median delay']:g} windows "
                    f"({v['detected']}/{v['sequences']} detected, {v['alarm before the shift']} alarms before it) |"
                )
    return "\n".join(lines) + "\n"


def _write_doc(table: str) -> None:
    start, end = "<!-- drift-calibration:start -->", "<!-- drift-calibration:end -->"
    text = DOC.read_text(encoding="utf-8")
    a, b = text.index(start) + len(start), text.index(end)
    DOC.write_text(text[:a] + "\n" + table + text[b:], encoding="utf-8")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="aa,power,monitor,delay")
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--peers", default=None, help="python of an environment with evidently and alibi-detect")
    ap.add_argument("--peer-reps", type=int, default=200)
    ap.add_argument("--peer-power-reps", type=int, default=None, help="per shift (default: --peer-reps)")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="A/A window sizes")
    args = ap.parse_args()
    reps = 40 if args.quick and args.reps == 1000 else args.reps
    t0 = time.time()
    res = study(args.only.split(","), reps, args.workers, args.quick, tuple(int(x) for x in args.sizes.split(",")))
    if args.peers:
        res["peers"] = _peers(args.peers, 10 if args.quick else args.peer_reps, args.quick, args.peer_power_reps)
    res["_seconds"] = time.time() - t0
    table = render(res)
    print(table)
    if not args.quick:
        old = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
        old = (
            json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
        )  # re-read: parts run in parallel
        old.update(res)
        RESULTS.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        _write_doc(render(old))
