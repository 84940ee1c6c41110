"""``tailgate import traffic`` and the replayable production log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tailgate.store import Store
from tailgate.traffic import TrafficTable, import_traffic
from tests.support.cli import REPO, tailgate

sys.path.insert(0, str(REPO / "bench"))


def _log(path: Path) -> Path:
    path.write_bytes(
        b'{"timestamp": "2024-05-01T10:00:00Z", "ts2": 5, "prompt": "Hi", "meta": {"team": "a"}}\n'
        b"{broken\n"
        b'{"timestamp": "2024-05-01T10:00:01Z", "prompt": "Hello", "latency": 1.5, "meta": {"team": "b"}}\n'
        b'{"timestamp": "\\u001b[31mred", "prompt": "x"}\n'
    )
    return path


def test_import_traffic_command(tmp_path: Path) -> None:
    f = _log(tmp_path / "log.jsonl")
    proc = tailgate("import", "traffic", str(f), "--column", "meta.team", "--latency-unit", "s")
    assert proc.returncode == 0, proc.stderr
    assert f"{f} [openai-jsonl]: 4 lines, 2 requests, 2 new, 0 duplicates, 2 bad" in proc.stdout
    assert "traffic table: 2 requests" in proc.stdout
    assert f"{f}:2: not valid JSON" in proc.stderr
    assert f"{f}:4: field 'timestamp': '" in proc.stderr
    assert "is not an ISO 8601 time" in proc.stderr
    assert "\x1b" not in proc.stderr
    rows = TrafficTable(Store().traffic_dir).read(["prompt", "latency_ms", "columns"]).to_pylist()
    assert rows == [
        {"prompt": "Hi", "latency_ms": None, "columns": '{"meta.team":"a"}'},
        {"prompt": "Hello", "latency_ms": 1500.0, "columns": '{"meta.team":"b"}'},
    ]
    again = tailgate("import", "traffic", str(f), "--json", "--column", "meta.team", "--latency-unit", "s")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert (result["inserted"], result["files"][0]["resumed_at"], result["table_rows"]) == (0, 4, 2)


def test_field_mapping_and_errors(tmp_path: Path) -> None:
    f = _log(tmp_path / "log.jsonl")
    proc = tailgate("import", "traffic", str(f), "--field", "timestamp=ts2", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["inserted"], result["bad"]) == (1, 3)  # (line 1 has ts2)
    assert result["bad_lines"][1] == {
        "file": str(f),
        "line": 3,
        "field": "ts2",
        "message": "no timestamp (looked for timestamp, time, created_at, start_time, created...; "
        "name yours with --field timestamp=KEY)",
    }
    bad = tailgate("import", "traffic", str(f), "--field", "when=ts")
    assert bad.returncode == 2
    assert "--field 'when=ts': expected NAME=KEY with NAME one of timestamp" in bad.stderr


@pytest.mark.parametrize(("content", "message"), [(b"", "(empty)"), (b"{x\n[]\n", "(2 bad lines)")])
def test_nothing_valid_is_exit_2(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "log.jsonl"
    f.write_bytes(content)
    proc = tailgate("import", "traffic", str(f))
    assert proc.returncode == 2
    assert f"tailgate: error: no valid request in {f} {message}" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing = tailgate("import", "traffic", str(tmp_path / "nope.csv"))
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        f"tailgate: error: {tmp_path / 'nope.csv'}: file not found",
    )


def test_the_replayable_log(tmp_path: Path) -> None:
    from replay_log import arrivals, build_log, sharegpt_samples

    samples = sharegpt_samples(history=2)
    assert len(samples) > 50_000
    assert all(s.messages[-1][0] == "user" and s.messages[-1][1] for s in samples[:1000])
    times = [t for t, _, _ in arrivals(30_000)]
    assert times == sorted(times)
    assert times[0].isoformat() == "2023-11-16T18:15:46.680590+00:00"
    out = tmp_path / "replay.jsonl"
    shifted = build_log(out, 400, seed=1, shifts={"json": 0.5, "long": 0.3}, shift_at=0.5, samples=samples[:3000])
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    kinds = [x["metadata"]["shifted"] for x in lines]
    assert set(kinds[:200]) == {None}
    assert shifted == sum(k is not None for k in kinds) > 100
    assert all("JSON" in x["messages"][-1]["content"] for x, k in zip(lines, kinds, strict=True) if k == "json")
    result = import_traffic(tmp_path / "traffic", [str(out)])
    assert (result.inserted, result.bad) == (400, 0)
    rows = TrafficTable(tmp_path / "traffic").read(["asks_json", "source_line"]).to_pylist()
    asks = {r["source_line"]: r["asks_json"] for r in rows}
    assert all(asks[i + 1] for i, k in enumerate(kinds) if k == "json")
