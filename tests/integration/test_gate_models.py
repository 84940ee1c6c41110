"""Compare and gate two real local models on the bundled suite with the example policy, as CI would."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.cli import REPO, tailgate

pytestmark = pytest.mark.model


def _run(model: str, run_id: str) -> None:
    proc = tailgate(
        "run", "basic", "--model", model, "--limit", "24", "--repeats", "2", "--variants", "original",
        "--run-id", run_id, "-q", timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_smollm2_vs_gemma3_gated_by_the_example_policy(tmp_path: Path) -> None:
    _run("local:smollm2-135m", "smol")
    _run("local:gemma3-270m", "gemma")
    proc = tailgate(
        "gate", "smol", "gemma", "--policy", str(REPO / "examples" / "gate.yaml"),
        "--markdown", "gate.md", "--junit", "gate.xml", "--json", "gate.json", "--html", "gate.html",
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr  # a verdict, not an error
    decision = json.loads((tmp_path / "gate.json").read_text())
    assert decision["passed"] is (proc.returncode == 0)
    assert len(decision["rules"]) == 7
    comparison = decision["comparison"]
    assert comparison["pairing"]["shared_items"] == 24
    assert comparison["base"]["model"] == "local:smollm2-135m"
    assert comparison["cand"]["model"] == "local:gemma3-270m"
    assert comparison["base"]["mode"] == "chat"
    assert comparison["cand"]["mode"] == "completion"
    beyond = comparison["beyond_accuracy"]
    # repeats, JSON-format items and real latencies: every rule of the example policy applies
    assert {"consistency", "json_validity", "never_pass", "pass_hat_2", "latency_p95_ms"} <= set(beyond)
    assert beyond["latency_p95_ms"]["cand"] > 0
    suite = ET.parse(tmp_path / "gate.xml").getroot()
    assert int(suite.get("tests", "0")) == 7
    assert int(suite.get("failures", "0")) == sum(not r["passed"] for r in decision["rules"])
    md = (tmp_path / "gate.md").read_text()
    assert "`local:gemma3-270m` vs base `local:smollm2-135m`" in md
    assert ("PASS" if decision["passed"] else "FAIL") in md.splitlines()[0]
    html = (tmp_path / "gate.html").read_text()
    assert "<script" not in html.lower()
