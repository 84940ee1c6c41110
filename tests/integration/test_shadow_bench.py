"""The shadow benchmarks run, at a tiny scale, in the test suite (so they do not rot).

``bench/shadow_latency.py`` at 64 requests per target and mode: its correctness checks (byte
identity against a direct call, streamed and not; 8 MiB bodies; every mirror accounted for in
``/metrics``, at the candidate and in the store; the client's key never at a candidate) must hold.
Its latency targets are not asserted here: they need a quiet machine (BENCHMARKS.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import REPO

pytestmark = pytest.mark.slow

NGINX = Path("/usr/sbin/nginx")


def _run(script: str, tmp_path: Path, *args: str) -> dict[str, object]:
    out = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "bench")])}
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--out", str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_latency_bench_correctness_checks_hold(tmp_path: Path) -> None:
    targets = "shadow,shadow-default" + (",nginx" if NGINX.is_file() else "")
    result = _run(
        "shadow_latency.py", tmp_path, "--requests", "64", "--rounds", "1", "--warmup", "16", "--targets", targets
    )
    checks = result["checks"]
    assert isinstance(checks, dict)
    correctness = {k: v for k, v in checks.items() if "added p" not in k}
    assert correctness, checks
    assert all(correctness.values()), {k: v for k, v in correctness.items() if not v}
    identity = result["byte_identity"]
    assert isinstance(identity, dict)
    assert identity["shadow"]["per_mode"] == {"plain": 64, "stream": 64}


def test_chaos_bench_keeps_the_primary_whole(tmp_path: Path) -> None:
    result = _run(
        "shadow_chaos.py",
        tmp_path,
        "--requests",
        "48",
        "--rounds",
        "1",
        "--warmup",
        "16",
        "--modes",
        "refuse,error500,reset",
    )
    checks = result["checks"]
    assert isinstance(checks, dict)
    correctness = {k: v for k, v in checks.items() if "p99 within" not in k}
    assert len(correctness) >= 9, checks
    assert all(correctness.values()), {k: v for k, v in correctness.items() if not v}
