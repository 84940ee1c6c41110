"""``tailgate run --until-decided`` with the real local models: a SmolLM2 baseline of 6 items of
the bundled suite, then Gemma 3 run against it in a random order until decided (or the items run out)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailgate.store import Store
from tests.support.cli import tailgate

pytestmark = pytest.mark.model

LIMIT = 6


def test_gemma_until_decided_against_a_smollm2_baseline(tmp_path: Path) -> None:
    common = ["--limit", str(LIMIT), "--repeats", "1", "--variants", "original", "--no-cache", "-q"]
    proc = tailgate("run", "basic", "--model", "local:smollm2-135m", *common, "--run-id", "smol", timeout=900)
    assert proc.returncode == 0, proc.stderr
    policy = tmp_path / "seq.yaml"
    policy.write_text("name: seq\nrules:\n  - overall_delta: {min_lower_bound: -0.5}\n", encoding="utf-8")
    proc = tailgate(
        "run", "basic", "--model", "local:gemma3-270m", "--variants", "original", "--repeats", "1", "--no-cache",
        "--until-decided", str(policy), "--baseline", "smol", "--batch", "3", "--run-id", "gemma", "--json",
        timeout=900,
    )  # fmt: skip
    data = json.loads(proc.stdout)
    verdict = data["decision"]["decision"]
    assert proc.returncode == {"better": 0, "equivalent": 0, "worse": 1, "inconclusive": 3}[verdict], proc.stderr
    # the baseline's --limit is the default: the order is its 8 items, looked at every 3
    assert data["n_order"] == LIMIT
    assert data["samples_order"] == LIMIT
    assert [look["n_done"] for look in data["looks"]] == list(range(3, data["n_done"] + 1, 3))
    assert data["run"]["issued"] == data["n_done"] == data["samples_done"]
    assert data["stopped_early"] is (data["n_done"] < LIMIT)
    lines = [x for x in proc.stderr.splitlines() if "until-decided:" in x]
    assert len(lines) == len(data["looks"])
    manifest = Store().manifest("gemma")
    assert manifest.status == ("stopped_early" if data["stopped_early"] else "completed")
    assert manifest.until_decided is not None
    assert manifest.until_decided["look"]["decision"] == verdict
    assert tailgate("compare", "smol", "gemma", "--json", "-").returncode == 0
