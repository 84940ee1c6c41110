"""Model outputs, dataset ids and attribute values are hostile input (issue 10, items 10 and 11).

Every output kind is rendered with control, bidi and markup payloads: the terminal (under a real
pty, so rich believes it is a terminal), Markdown, JUnit XML and HTML (loaded in headless
Chromium, where a script that ran would leave a mark in the DOM). Nothing may execute or reach
the terminal raw, and the text must still be readable. Exports keep the raw bytes.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tailgate.text import neutralize
from tests.support.cli import REPO, tailgate
from tests.support.suites import make_suite

# What an attacker would put in a model output, an id or an attribute value.
OSC_TITLE = "\x1b]0;PWNED\x07"  # sets the terminal's title
CLEAR = "\x1b[2J"  # clears the screen
COLOUR = "\x1b[31;1m"
RLO = "\u202e"  # right-to-left override: "42 \u202eLTR" displays as "42 RTL"
SCRIPT = "<script>document.body.setAttribute('data-pwned','yes')</script>"
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">"
PAYLOAD = f"{OSC_TITLE}{CLEAR}{COLOUR}red\x00nul 42 {RLO}edirrevo LTR{SCRIPT}{IMG} | a | ]]> **bold**"
RAW = ("\x1b]", "\x1b[2J", "\x1b[31;1m", "\x00", RLO, "\x07")


def hostile(prompt: Any, params: dict[str, Any]) -> str:
    """The model under test: answers with the payload (and a wrong answer)."""
    return PAYLOAD


def polite(prompt: Any, params: dict[str, Any]) -> str:
    text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
    return "4" if "2+2" in text else "8" if "3+5" in text else "Paris" if "France" in text else "Lima"


def test_neutralize_makes_every_control_visible() -> None:
    out = neutralize(PAYLOAD + "\x9b1m\ud800\u2066x\u2069\ttab\nline")
    assert not any(ch in out for ch in RAW)
    assert "\x9b" not in out
    assert "\ud800" not in out
    assert "␛]0;PWNED␇" in out  # readable: ESC and BEL as control pictures
    assert "<U+202E>edirrevo LTR" in out
    assert "\ttab\nline" in out  # tab and newline stay
    assert neutralize("plain Français 東京") == "plain Français 東京"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("hostile")
    items = [
        {"id": f"{CLEAR}id{i}{RLO}", "question": q, "answer": a, "task": f"{OSC_TITLE}math{SCRIPT}"}
        for i, (q, a) in enumerate([("What is 2+2?", "4"), ("What is 3+5?", "8"), ("Capital of France?", "Paris")])
    ]
    suite = make_suite(folder / "suite", items, scorers=[{"type": "exact"}], repeats=2)
    env = {"TAILGATE_STORE": str(folder / "store")}
    for name in ("polite", "hostile"):
        model = f"python:tests.report.test_hostile_output:{name}"
        proc = tailgate("run", str(suite), "--model", model, "--run-id", name, "-q", "--no-cache", env=env)
        assert proc.returncode == 0, proc.stderr
    policy = folder / "policy.yaml"
    policy.write_text("name: hostile\nrules:\n  - overall_delta: {min_lower_bound: 0.0}\n", encoding="utf-8")
    return {"folder": folder, "env": env, "policy": policy}


def _in_pty(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI with its stdout and stderr on a pseudo-terminal; return what it wrote."""
    master, slave = pty.openpty()
    full_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]), "COLUMNS": "100"}
    full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tailgate", *args], stdin=slave, stdout=slave, stderr=slave, env=full_env
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError("the command hung")
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize(
    "args",
    [["report", "hostile"], ["compare", "polite", "hostile"], ["show", "hostile"], ["runs"]],
    ids=["report", "compare", "show", "runs"],
)
def test_terminal_output_is_neutralised(runs: dict[str, Any], args: list[str]) -> None:
    out = _in_pty(args, runs["env"])
    assert "\x1b[" in out, "the pty must really be a terminal (rich styles it)"
    for raw in RAW:
        if raw == "\x1b[31;1m":
            continue  # rich may emit this very style itself; the payload's copy is checked below
        assert raw not in out, f"{raw!r} reached the terminal"
    if args[0] in ("report", "compare"):
        assert "␛]0;PWNED␇" in out  # the payload's escapes are shown, not obeyed


def test_markdown_and_junit_are_neutralised(runs: dict[str, Any]) -> None:
    folder = runs["folder"]
    md, junit = folder / "gate.md", folder / "gate.xml"
    proc = tailgate(
        "gate", "polite", "hostile", "--policy", str(runs["policy"]), "--markdown", str(md), "--junit", str(junit),
        env=runs["env"],
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # the hostile model is worse: the gate fails
    for text in (md.read_text(encoding="utf-8"), junit.read_text(encoding="utf-8"), proc.stdout, proc.stderr):
        assert not any(raw in text for raw in RAW)
        assert "<script>" not in text
    markdown = md.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in markdown  # escaped, still readable
    ET.fromstring(junit.read_text(encoding="utf-8"))  # well-formed XML (raw controls would not be)


def test_exports_keep_the_raw_bytes(runs: dict[str, Any]) -> None:
    rows = [json.loads(line) for line in tailgate("export", "hostile", env=runs["env"]).stdout.splitlines()]
    assert rows
    assert rows[0]["output"] == PAYLOAD


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (.ci/run installs it)")
@pytest.mark.parametrize("kind", ["report", "compare"])
def test_html_in_headless_chromium_runs_nothing(runs: dict[str, Any], kind: str) -> None:
    folder = runs["folder"]
    page = folder / f"{kind}.html"
    args = ["report", "hostile", "--html", str(page)] if kind == "report" else ["compare", "polite", "hostile"]
    if kind == "compare":
        args += ["--html", str(page)]
    proc = tailgate(*args, env=runs["env"])
    assert proc.returncode == 0, proc.stderr
    html = page.read_text(encoding="utf-8")
    assert "<script>" not in html
    assert RLO not in html
    assert "\x1b" not in html
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "data-pwned" in dom.stdout, "the payload is shown as text"
    body = dom.stdout[dom.stdout.index("<body") :].split(">", 1)[0]
    assert "data-pwned" not in body, "a script from the payload ran"
    assert "edirrevo LTR" in dom.stdout  # readable, with the override shown as <U+202E>
