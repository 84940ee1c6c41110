"""The red-team section of ``tailgate report --html`` and ``--markdown``: a heat map of attack
success by category x mutator (inline SVG, each cell's rate, n and, in its tooltip, interval), the
tables with every number's n and interval, and hostile model specs, outputs and category names
escaped (in headless Chromium: nothing runs)."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import tailgate
from tailgate.analysis import Estimate, RedTeamReport
from tailgate.report import _svg, render_html, report_markdown
from tailgate.report._redteam import redteam_html, redteam_markdown
from tailgate.report._svg import heat_colour
from tests.support.cli import tailgate as run_cli

PWN = "document.body.setAttribute('data-pwned','{}')"
HOSTILE = (f"<script>{PWN.format('script')}</script>\"onload=\"{PWN.format('attr')}\" '><img src=x "
           f"onerror=\"{PWN.format('img')}\"> I can't help.")  # fmt: skip
LEAKY = "python:tests.support.redteam_models:leaky"
ESTIMATE = re.compile(r"^-?\d+\.\d{3}( \[-?\d+\.\d{3}, -?\d+\.\d{3}\])?$|^n/a \(")


class _Tables(HTMLParser):
    """The tables (rows of cell texts) and heat-map cells (their texts and tooltip) after the
    ``Red team`` heading."""

    def __init__(self) -> None:
        super().__init__()
        self.on = False
        self.tables: list[list[list[str]]] = []
        self.cells: list[dict[str, Any]] = []
        self._text: list[str] | None = None
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self._text = []
        if not self.on:
            return
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._text = []
        elif tag == "g" and ("class", "cell") in attrs:
            self.cells.append({"title": "", "texts": []})
            self._in_cell = True
        elif tag in ("title", "text") and self._in_cell:
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "g":
            self._in_cell = False
        if self._text is None or tag not in ("h2", "td", "th", "title", "text"):
            return
        text, self._text = "".join(self._text).strip(), None
        if tag == "h2":
            self.on = text == "Red team"
        elif tag in ("td", "th"):
            self.tables[-1][-1].append(text)
        elif tag == "title":
            self.cells[-1]["title"] = text
        else:
            self.cells[-1]["texts"].append(text)


def _scan(html: str) -> _Tables:
    parsed = _Tables()
    parsed.feed(html)
    return parsed


def _check_every_number_has_its_n(parsed: _Tables) -> int:
    """Every estimate in the red-team tables is "value [low, high]" (or n/a with its reason) in a
    row whose n column holds samples and items; every heat-map cell says its n and its interval."""
    checked = 0
    for header, *rows in parsed.tables:
        n_column = next(i for i, h in enumerate(header) if h in ("n samples", "attacks"))
        for row in rows:
            assert re.fullmatch(r"\d+( \(\d+ items\))?", row[n_column]), (header, row)
            for name, cell in zip(header, row, strict=True):
                if name in ("attack success", "refused", "change", "baseline", "candidate") or "resists" in name:
                    assert ESTIMATE.match(cell), (name, cell)
                    checked += 1
    for cell in parsed.cells:
        value, n, items = cell["texts"]
        assert re.fullmatch(r"\d\.\d{3}|n/a", value), cell
        assert re.fullmatch(r"n=\d+", n), cell
        assert re.fullmatch(r"1 attack|\d+ attacks", items), cell
        assert re.search(r": (\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]|n/a \(.+\)).* n=\d+ samples \(\d+ attacks?\)",
                         cell["title"]), cell  # fmt: skip
    return checked


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store = tmp_path_factory.mktemp("redteam-html")
    hostile = tailgate.redteam(f"fake:constant={HOSTILE}", categories=["secret_leak", "tool_misuse"],
                               mutators=["plain", "base64"], repeats=2, store=store)  # fmt: skip
    leaky = tailgate.redteam(LEAKY, categories=["secret_leak", "forbidden_output"], mutators=["plain", "leetspeak"],
                             repeats=2, store=store)  # fmt: skip
    return {"store": store, "hostile": hostile.run_id, "leaky": leaky.run_id}


def test_the_html_report_of_a_red_team_run_has_a_heat_map_and_the_tables(runs: dict[str, Any]) -> None:
    report = tailgate.report_run(runs["leaky"], store=runs["store"])
    assert report.redteam is not None
    html = render_html(report)
    parsed = _scan(html)
    slices = [row[0] for table in parsed.tables[:2] for row in table[1:]]
    assert slices == ["all", "category=secret_leak", "category=forbidden_output", "mutator=plain",
                      "mutator=leetspeak", "all", "category=secret_leak", "category=forbidden_output"]  # fmt: skip
    assert len(parsed.cells) == len(report.redteam.cells) == 4  # 2 categories x 2 mutators
    assert _check_every_number_has_its_n(parsed) >= 2 * 5 + 3 + 4 * 2
    leak = report.redteam.rate("category=secret_leak,mutator=plain")
    assert leak.success.value == 1.0  # the leaky model leaks every code
    tip = next(c["title"] for c in parsed.cells if c["title"].startswith("secret_leak, plain:"))
    e = leak.success
    assert tip == (f"secret_leak, plain: 1.000 [{e.low:.3f}, {e.high:.3f}], n={e.n_samples} samples "
                   f"({e.n_items} attacks)")  # fmt: skip
    assert f"fill='{heat_colour(1.0)}'" in html
    cells_table = parsed.tables[-1]
    assert cells_table[0][:3] == ["category", "mutator", "attack success"]
    assert cells_table[1][:2] == ["secret_leak", "plain"]


def test_the_heat_map_colours_by_rate_and_greys_a_cell_with_nothing_scored() -> None:
    assert (heat_colour(0.0), heat_colour(1.0), heat_colour(0.5)) == ("#ffffff", "#b91c1c", "#dc8e8e")
    rate = _rate("category=a,mutator=m", Estimate.no_interval("no scored attack sample", n_items=2))
    html = redteam_html(_report(cells=(rate,)))
    cell = _scan(html).cells[0]
    assert cell["texts"] == ["n/a", "n=0", "2 attacks"]
    assert cell["title"] == "a, m: n/a (no scored attack sample); n=0 samples (2 attacks)"
    assert "fill='#e5e7eb'" in html
    one = _svg.heatmap([_svg.HeatCell("r", "c", 0.5, 0.1, 0.9, 2, 1)], ["r"], ["c"], "t", unit="attack")
    assert "(1 attack)</title>" in one
    assert ">1 attack</text>" in one


def _rate(slice_: str, e: Estimate) -> Any:
    from tailgate.analysis import AttackRate

    return AttackRate(slice_, e, e, 1, e.n_items, 0)


def _report(**changes: Any) -> RedTeamReport:
    e = Estimate.wilson(1, 4, method="Wilson")
    overall = _rate("all", e)
    base = RedTeamReport("run", "fake:echo", 1, 4, 0, overall, (), (), ())
    return dataclasses.replace(base, **changes)


def test_hostile_category_and_mutator_names_are_escaped_in_the_svg_and_the_markdown() -> None:
    bad = "x'><script>alert(1)</script>|\x1b[31m\u202e"
    e = Estimate.wilson(2, 4, method="Wilson")
    cells = (_rate(f"category={bad},mutator={bad}", e),)
    report = _report(cells=cells, categories=(_rate(f"category={bad}", e),), mutators=(_rate(f"mutator={bad}", e),),
                     model=bad, warnings=(bad,))  # fmt: skip
    html = redteam_html(report)
    assert "<script" not in html
    assert "x&#x27;&gt;&lt;script&gt;" in html  # shown, as text
    assert "\x1b" not in html
    assert "\u202e" not in html
    markdown = redteam_markdown(report)
    assert "<script" not in markdown
    assert "\x1b" not in markdown
    assert "x&#x27;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\\|" in markdown  # the pipe cannot split a cell
    tables: list[list[str]] = [[]]
    for line in markdown.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    for table in filter(None, tables):  # every row has as many cells as its header: no pipe got through
        assert len({len(re.findall(r"(?<!\\)\|", line)) for line in table}) == 1, table


def test_markdown_has_the_red_team_tables(runs: dict[str, Any]) -> None:
    report = tailgate.report_run(runs["hostile"], store=runs["store"])
    md = report_markdown(report)
    assert "### red team: fake:constant=&lt;script&gt;" in md
    assert "<script" not in md
    assert "<img" not in md
    assert "| slice | attack success | n samples | resists 2x in a row | unscored |" in md
    assert "**over-refusal of the benign twins**" in md
    assert "| secret_leak | base64 |" in md  # the category x mutator table
    assert report.redteam is not None
    e = report.redteam.overall.success
    assert f"| all | {e:.3f} | {e.n_samples} ({e.n_items} items) |" in md


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (make sysdeps installs it)")
def test_the_html_in_headless_chromium_runs_nothing_and_every_number_has_its_n(runs: dict[str, Any],
                                                                                tmp_path: Path) -> None:  # fmt: skip
    page, md = tmp_path / "report.html", tmp_path / "report.md"
    env = {"TAILGATE_STORE": str(runs["store"])}
    proc = run_cli("report", runs["hostile"], "--html", str(page), "--markdown", str(md), env=env)
    assert proc.returncode == 0, proc.stderr
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "<h2 id='redteam'>Red team</h2>" in html
    assert "red team:" in md.read_text(encoding="utf-8")
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "data-pwned" in dom.stdout, "the payload is shown as text"
    body = dom.stdout[dom.stdout.index("<body") :].split(">", 1)[0]
    assert "data-pwned" not in body, "a script or an attribute from the payload ran"
    assert "<img" not in dom.stdout
    parsed = _scan(dom.stdout)
    assert len(parsed.cells) == 4
    assert _check_every_number_has_its_n(parsed) >= 2 * 5 + 3 + 4 * 2
