"""``tailgate shadow report`` through click's CliRunner on the command object (the coordinator
wires it under the ``shadow`` group)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tailgate.cli._shadow_report import report_command
from tailgate.store import Store
from tests.support.shadow import Answer, Request, write_session

HOSTILE = "<script>alert(1)</script>\x1b[31m\u202etxt"


def _session(store: Path, name: str = "sess", *, noise: bool = True) -> None:
    requests = [
        Request(
            f"question {i} {HOSTILE if i == 3 else ''}",
            Answer(f"the answer number {i % 7} is here", 100.0 + i),
            [Answer(HOSTILE if i % 5 == 0 else f"the answer number {i % 7} is there", 120.0 + i)],
            Answer(f"an answer number {i % 7} is here", 101.0 + i) if i % 2 == 0 else None,
            {"lang": "en" if i % 3 else "fr", "asks_json": False},
        )
        for i in range(40)
    ]
    write_session(Store(store), name, requests, noise_run=noise)


def _invoke(store: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(report_command, list(args), obj={"store": str(store)})
    return result.exit_code, result.stdout, result.stderr


def test_json_html_markdown(tmp_path: Path) -> None:
    _session(tmp_path)
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    code, out, err = _invoke(tmp_path, "sess", "--json", "--html", str(html), "--markdown", str(md))
    assert code == 0, err
    data = json.loads(out)
    assert data["session"] == "sess"
    assert data["candidates"][0]["verdict"] in ("differs", "no difference beyond noise")
    page = html.read_text("utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "\x1b" not in page
    assert "\u202e" not in page
    text = md.read_text("utf-8")
    assert "<script>" not in text


def test_terminal_output_is_plain_text(tmp_path: Path) -> None:
    _session(tmp_path)
    code, out, err = _invoke(tmp_path, "sess")
    assert code == 0, err
    assert "shadow session sess: 40 mirrored requests, 20 with a noise re-sample" in out
    assert "\x1b[31m" not in out
    assert "\u202e" not in out
    assert "p50" in out
    assert "chrf" in out


def test_no_noise_run_is_said(tmp_path: Path) -> None:
    _session(tmp_path, noise=False)
    code, out, err = _invoke(tmp_path, "sess")
    assert code == 0
    assert "noise floor missing" in out
    assert "noise floor missing" in err


def test_empty_and_unknown_sessions_exit_2(tmp_path: Path) -> None:
    write_session(Store(tmp_path), "empty", [])
    code, _, err = _invoke(tmp_path, "empty")
    assert code == 2
    assert "has no mirrored requests yet" in err
    assert "Traceback" not in err
    code, _, err = _invoke(tmp_path, "missing")
    assert code == 2
    assert "no shadow session 'missing'" in err


def test_compare_of_a_shadow_pair_adds_the_shadow_statistics(tmp_path: Path) -> None:
    """``tailgate compare RUN-primary RUN-candidate`` = the comparison plus that candidate's
    shadow report; a pair that is not a session's primary and candidate gets no "shadow" key."""
    from tailgate.cli import cli

    _session(tmp_path)
    md = tmp_path / "c.md"
    args = ["--store", str(tmp_path), "compare", "sess-primary", "sess-candidate"]
    result = CliRunner().invoke(cli, [*args, "--json", "-", "--markdown", str(md)])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["shadow"]["session"] == "sess"
    assert [c["label"] for c in data["shadow"]["candidates"]] == ["candidate"]
    alone = CliRunner().invoke(report_command, ["sess", "--json"], obj={"store": str(tmp_path)})
    assert data["shadow"]["candidates"] == json.loads(alone.stdout)["candidates"]
    assert "### tailgate shadow report: sess" in md.read_text("utf-8")
    terminal = CliRunner().invoke(cli, args)
    assert terminal.exit_code == 0, terminal.stderr
    assert "shadow session sess: 40 mirrored requests" in terminal.stdout
    # the noise run against the candidate is a plain comparison
    plain = CliRunner().invoke(
        cli, ["--store", str(tmp_path), "compare", "sess-noise", "sess-candidate", "--json", "-"]
    )
    assert plain.exit_code == 0, plain.stderr
    assert "shadow" not in json.loads(plain.stdout)
