"""The stored rows do not change when the import is made faster.

``EXPECTED`` is the digest of the rows that the import wrote before its speed-ups (computed with
the code of commit 57feb3a on this very log), so any change to a stored value, by the serial
reader or by the worker processes, fails here; ``imported_at`` and ``source`` (a temporary path)
are left out.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from tailgate.traffic import TRAFFIC_COLUMNS, ReadOptions, TrafficTable, import_traffic

EXPECTED = "ee4a47f74726032af9a778c3a129b7ca494087639f1d1da5b6a6a84a2ea9e889"

TEXTS = [
    "What is the capital of France? Answer in one word.",
    "Écris une fonction Python qui trie une liste.\n```python\ndef f(x):\n    return sorted(x)\n```",
    "Gib mir bitte die Antwort als JSON: Wie viele Einwohner hat München?",
    "¿Cuál es la diferencia entre Juan Pérez y María García en la novela?",
    "日本語で説明してください。東京タワーの高さは何メートルですか？",
    "Объясни, пожалуйста, как работает сортировка слиянием.",
    'int main() {\n  printf("hi");\n  return 0;\n}\nWhy does this not compile?',
    "SELECT name FROM users;\nCREATE TABLE t (x int);\nfor (i = 0; i < 3; i++) {\n}",
    "Tell me about James Smith and Dorothy Walker, 42 years, in 1999.",
    "   \n\t",
    "12345 67890",
    "مرحبا، كيف حالك اليوم؟ أريد أن أتعلم البرمجة.",
    "Zażółć gęślą jaźń — what language is this, and is it a pangram?",
    "Return the result as a JSON object with keys a and b. " * 40,
]


def _line(i: int, rng: random.Random) -> str:
    text = rng.choice(TEXTS)
    shape = i % 5
    stamp: Any = f"2024-05-01T10:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}Z" if i % 3 else 1714557600.25 + i
    if shape == 0:
        obj: dict[str, Any] = {"timestamp": stamp, "prompt": text, "response": f"answer {i}", "latency": i * 0.37}
    elif shape == 1:
        history = [{"role": "user", "content": rng.choice(TEXTS)}, {"role": "assistant", "content": "ok"}]
        obj = {
            "id": f"req-{i}",
            "timestamp": stamp,
            "model": "m1",
            "messages": [*history[: i % 3], {"role": "user", "content": text}],
            "response": "x" * (i % 7),
            "status": 200 if i % 11 else 500,
            "latency_ms": [12.5, 1e16, 0.1, 420][i % 4],
            "usage": {"prompt_tokens": i * 13, "completion_tokens": i % 9},
            "team": ["search", "ads", None][i % 3],
            "meta": {"tier": i % 4, "w": i / 7},
        }
    elif shape == 2:
        obj = {
            "created_at": stamp,
            "request": {"model": "m2", "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]},
            "response": {
                "id": f"chatcmpl-{i}",
                "choices": [{"message": {"role": "assistant", "content": text[:10]}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3},
            },
            "error": None if i % 13 else {"message": "boom"},
        }
    elif shape == 3:
        obj = {"ts": stamp, "messages": [{"role": "system", "content": text}], "duration_ms": i, "team": "ads"}
    else:
        obj = {"timestamp": stamp, "messages": [{"role": "user", "content": text}], "response": None}
    return json.dumps(obj, ensure_ascii=bool(i % 2))


def write_log(path: Path, n: int = 400) -> Path:
    rng = random.Random(12)
    lines = [_line(i, rng) for i in range(n)]
    lines[17] = "{broken"
    lines[90] = lines[89]  # a duplicate
    lines[200] = ""
    lines[333] = json.dumps({"timestamp": "later", "prompt": "x"})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def digest(folder: Path) -> str:
    names = [c.name for c in TRAFFIC_COLUMNS if c.name not in ("imported_at", "source")]
    rows = TrafficTable(folder).read(names).to_pylist()
    rows.sort(key=lambda r: r["source_line"])
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()


OPTIONS = ReadOptions(columns=("team", "meta.tier", "meta.w"))


def test_the_serial_import_stores_the_same_rows_as_before(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl")
    result = import_traffic(tmp_path / "traffic", [str(log)], options=OPTIONS, batch_size=64)
    assert (result.requests, result.inserted, result.bad) == (397, 396, 2)
    assert digest(tmp_path / "traffic") == EXPECTED


def test_worker_processes_store_the_same_rows_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tailgate.traffic import _import

    log = write_log(tmp_path / "log.jsonl")
    monkeypatch.setattr(_import, "_PARSE_FROM", 1)
    monkeypatch.setattr(_import, "_RANGE_BYTES", 8192)
    result = import_traffic(tmp_path / "traffic", [str(log)], options=OPTIONS, jobs=2)
    assert (result.requests, result.inserted, result.bad) == (397, 396, 2)
    assert digest(tmp_path / "traffic") == EXPECTED
    assert not list((tmp_path / "traffic").glob(".staged-*")), "a staged part was left behind"
