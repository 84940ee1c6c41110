"""Shadow sessions written with the store's own API, as the proxy writes them (docs/shadow.md's
storage contract): ``SESSION-primary``, ``SESSION-candidate[-k]``, ``SESSION-noise``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tailgate.records import DatasetInfo, Item, Manifest, ModelInfo, Plan, SuiteInfo
from tailgate.store import Store, utc_now


@dataclass(frozen=True)
class Answer:
    """One role's answer to a request: text, or a fault."""

    output: str | None
    latency_ms: float = 100.0
    error: str | None = None


@dataclass(frozen=True)
class Request:
    """A mirrored request with each role's answer (``noise`` None: not noise-sampled)."""

    prompt: str
    primary: Answer
    candidates: Sequence[Answer]
    noise: Answer | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(prompt: str) -> str:
    body = {"messages": [{"content": prompt, "role": "user"}], "model": "m", "temperature": 0.7}
    return hashlib.sha256(canonical({"path": "/v1/chat/completions", "body": body}).encode()).hexdigest()


def _record(run_id: str, label: str, item_id: str, prompt: str, answer: Answer) -> dict[str, Any]:
    ok = answer.error is None
    usable = ok and bool(answer.output)
    return {
        "schema_version": 1,
        "run_id": run_id,
        "sample_id": f"{item_id}/shadow/0",
        "item_id": item_id,
        "variant": "shadow",
        "repeat": 0,
        "model": label,
        "mode": "chat",
        "params": canonical({"temperature": 0.7}),
        "prompt": canonical([{"role": "user", "content": prompt}]),
        "output": answer.output if ok else None,
        "answer": None,
        "score": (1.0 if usable else 0.0) if ok else None,
        "scorer": "usable",
        "scores": canonical({"usable": {"value": 1.0 if usable else 0.0}}) if ok else "{}",
        "latency_ms": answer.latency_ms,
        "tokens_in": 5,
        "tokens_out": 5,
        "finish_reason": "stop" if ok else None,
        "error_class": answer.error,
        "error_message": answer.error,
        "attempts": 1,
        "attempt_errors": "[]",
        "started_at": utc_now(),
        "ended_at": utc_now(),
        "cached": False,
        "cache_key": None,
    }


def _manifest(run_id: str, label: str, n: int) -> Manifest:
    return Manifest(
        run_id=run_id,
        status="completed",
        suite=SuiteInfo("shadow"),
        dataset=DatasetInfo(),
        model=ModelInfo(label),
        plan=Plan(samples=n),
        started_at=utc_now(),
    )


def write_session(store: Store, session: str, requests: Sequence[Request], *, noise_run: bool = True) -> None:
    """Write the session's runs; ``noise_run`` False leaves out ``SESSION-noise`` entirely. A
    request whose key was seen before is not recorded again (the contract: the first one is)."""
    seen: set[str] = set()
    unique = []
    for r in requests:
        if request_key(r.prompt) not in seen:
            seen.add(request_key(r.prompt))
            unique.append(r)
    requests = unique
    items = [
        Item(
            request_key(r.prompt),
            {"path": "/v1/chat/completions", "messages": [{"role": "user", "content": r.prompt}]},
            None,
            dict(r.attributes),
        )
        for r in requests
    ]
    roles: list[tuple[str, list[tuple[int, Answer]]]] = [("primary", [(i, r.primary) for i, r in enumerate(requests)])]
    n_cand = max((len(r.candidates) for r in requests), default=1)
    for k in range(n_cand):
        label = "candidate" if k == 0 else f"candidate-{k + 1}"
        roles.append((label, [(i, r.candidates[k]) for i, r in enumerate(requests) if k < len(r.candidates)]))
    if noise_run:
        roles.append(("noise", [(i, r.noise) for i, r in enumerate(requests) if r.noise is not None]))
    for label, answers in roles:
        run_id = f"{session}-{label}"
        with store.create_run(run_id, _manifest(run_id, label, len(answers)), items) as writer:
            for i, answer in answers:
                writer.append(_record(run_id, label, items[i].item_id, requests[i].prompt, answer))
