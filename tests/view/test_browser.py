"""The viewer in a real headless browser: Debian's chromium driven by Playwright (no browser
download: ``executable_path``). The server is the real command, ``tailgate view --port 0 --no-open``,
in its own process.

1. the diff screen shows the hand-counted tags of the known pair;
2. a filter survives reload and back/forward;
3. 300 hostile outputs and inputs: no script runs, no CSP violation, no request leaves 127.0.0.1;
4. a DOM scan: every number on the page has its n and its interval.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tailgate.store import Store
from tests.support.view_runs import EXPECTED_TAGS, HOSTILE_MARK

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make sysdeps installs it)"
)

SCAN = """() => {
  const loose = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!/\\d/.test(node.data) || node.parentElement.closest("[hidden]")) continue;
    // numbers are .num; digits elsewhere are names (.label), a run's text (.text) or prose (.warning)
    if (!node.parentElement.closest(".num, .label, .text, .warning")) loose.push(node.data);
  }
  const nums = [...document.querySelectorAll(".num")];
  const bad = nums.filter((e) => !e.dataset.n || !e.dataset.ci ||
    (e.dataset.kind !== "count" && !(/n=\\d/.test(e.textContent) && /\\[/.test(e.textContent))));
  return { loose: loose, bad: bad.map((e) => e.outerHTML.slice(0, 300)), count: nums.length };
}"""


class Server:
    def __init__(self, store: Store, runs: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        command = [
            sys.executable,
            "-m",
            "tailgate",
            "--store",
            str(store.root),
            "view",
            *runs,
            "--port",
            "0",
            "--no-open",
        ]
        self.proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert match, line + self.proc.stderr.read()
        self.url = match.group(1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # (a dev dependency: missing, this fails rather than skips)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def pair_server(known_pair: tuple[Store, str, str]) -> Iterator[Server]:
    store, base, cand = known_pair
    server = Server(store, [base, cand])
    yield server
    server.stop()


class Watch:
    """What a page did: console messages, requests, and whether a payload ran."""

    def __init__(self, page: Any, origin: str) -> None:
        self.console: list[str] = []
        self.requests: list[str] = []
        self.origin = origin
        page.on("console", lambda m: self.console.append(m.text))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", lambda d: (self.console.append("dialog: " + d.message), d.dismiss()))

    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.origin)]


def _tags(page: Any) -> dict[str, int]:
    page.wait_for_selector("#tag-flaky")
    out = {}
    for tag in EXPECTED_TAGS:
        text = page.inner_text(f"#tag-{tag} .v")
        out[tag] = int(text.split(" of ")[0])
        assert text.endswith(" of 12")
    return out


def test_the_diff_screen_shows_the_hand_counted_tags(pair_server: Server, browser: Any) -> None:
    page = browser.new_page()
    page.goto(pair_server.url)
    assert _tags(page) == EXPECTED_TAGS
    page.wait_for_selector("#slices tbody tr")
    page.click("#tag-regressed")
    page.wait_for_selector("#items tbody tr")
    assert page.locator("#items tbody tr").count() == 4
    assert "filter=tag%3Aregressed" in page.url
    page.close()


def test_a_filter_survives_reload_and_back_forward(browser: Any, pair_server: Server) -> None:
    page = browser.new_page()
    page.goto(pair_server.url)
    _tags(page)
    page.fill("#filter", "slice:lang=en  tag:regressed")
    page.press("#filter", "Enter")
    page.wait_for_url(re.compile(r"filter=slice"))

    def listed() -> list[str]:
        page.wait_for_selector("#items tbody tr")
        return sorted(page.locator("#items tbody tr td:first-child").all_inner_texts())

    assert listed() == ["v1", "v3"]
    page.reload()
    assert listed() == ["v1", "v3"]
    assert page.input_value("#filter") == "slice:lang=en  tag:regressed"
    page.click("#items tbody tr td:first-child a")
    page.wait_for_selector(".sides")
    assert "item=" in page.url
    page.go_back()
    assert listed() == ["v1", "v3"]
    page.go_back()
    assert _tags(page) == EXPECTED_TAGS
    assert page.input_value("#filter") == ""
    page.go_forward()
    assert listed() == ["v1", "v3"]
    assert page.input_value("#filter") == "slice:lang=en  tag:regressed"
    page.fill("#filter", "scor<1")  # a bad filter: its error, with the column, and no list
    page.press("#filter", "Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert "column 1" in page.inner_text("#error")
    page.close()


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    # made in its own process: the runner's event loop cannot start inside Playwright's
    folder = tmp_path_factory.mktemp("view-hostile")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    code = (
        "import sys, pathlib; from tests.support.view_runs import make_hostile; make_hostile(pathlib.Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True, env=env, cwd=ROOT, timeout=300)
    return Store(folder / "store")


@pytest.mark.slow
def test_hostile_outputs_run_nothing_and_fetch_nothing(hostile_store: Store, browser: Any) -> None:
    server = Server(hostile_store, ["polite", "hostile"])
    try:
        page = browser.new_page()
        watch = Watch(page, server.url.rstrip("/"))
        page.goto(server.url)
        page.wait_for_selector("#tag-flaky")
        page.wait_for_selector("#slices tbody tr")  # (once the comparison is computed)
        slices = page.locator("#slices tbody tr td:first-child").all_inner_texts()
        assert any("<img src=x onerror=" in name for name in slices)  # a hostile slice name, as text
        ids: list[str] = []
        for offset in range(0, 300, 100):
            page.goto(f"{server.url}?filter=&offset={offset}")
            page.wait_for_selector("#items tbody tr")
            ids += page.eval_on_selector_all(
                "#items tbody tr td:first-child a", "links => links.map(a => new URL(a.href).searchParams.get('item'))"
            )
        assert len(set(ids)) == 300
        for item_id in ids:  # every item's page: its input and both runs' outputs
            page.goto(f"{server.url}?item={item_id}")
            page.wait_for_selector(".sides .output")
        page.wait_for_timeout(500)  # (an onerror handler would run once the bad image fails)
        assert page.evaluate("window.__pwned") is None
        assert not [m for m in watch.console if HOSTILE_MARK in m or "Content Security Policy" in m]
        assert watch.outside() == []
        assert len(watch.requests) > 300
        text = page.inner_text(".sides")
        assert "<script>" in text  # shown, as text
        assert "\u202e" not in page.content()
        assert "\x1b" not in page.content()
        page.close()
    finally:
        server.stop()


def test_every_number_has_its_n_and_interval(browser: Any, pair_server: Server) -> None:
    page = browser.new_page()
    page.goto(pair_server.url)
    _tags(page)
    page.wait_for_selector("#slices tbody tr")  # (the comparison computed: the whole diff screen)
    screens = {"diff": page.evaluate(SCAN)}
    page.goto(pair_server.url + "?filter=")
    page.wait_for_selector("#items tbody tr")
    screens["items"] = page.evaluate(SCAN)
    page.click("#items tbody tr td:first-child a")
    page.wait_for_selector(".sides")
    page.click(".side details summary")
    screens["item"] = page.evaluate(SCAN)
    for name, scan in screens.items():
        assert scan["count"] > 10, name
        assert scan["loose"] == [], name
        assert scan["bad"] == [], name
    page.close()


def test_the_report_screen_of_one_run(browser: Any, known_pair: tuple[Store, str, str]) -> None:
    store, _, cand = known_pair
    server = Server(store, [cand])
    try:
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_selector(".report table")
        scan = page.evaluate(SCAN)
        assert scan["loose"] == []
        assert scan["bad"] == []
        assert scan["count"] > 5
        page.click("text=browse every item and sample")
        page.wait_for_selector("#items tbody tr")
        assert page.locator("#items tbody tr").count() == 12
        page.close()
    finally:
        server.stop()


def test_the_static_export_shows_the_diff(
    known_pair: tuple[Store, str, str], tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> None:
    from tailgate.view import export_view

    store, base, cand = known_pair
    site = tmp_path_factory.mktemp("view-export") / "site"
    export_view([base, cand], site, store=store)
    command = [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(site), "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        port = re.search(r"port (\d+)", proc.stdout.readline())
        assert port
        url = f"http://127.0.0.1:{port.group(1)}/"
        page = browser.new_page()
        watch = Watch(page, url.rstrip("/"))
        page.goto(url)
        assert _tags(page) == EXPECTED_TAGS
        page.click("#tag-regressed")
        page.wait_for_selector("#items tbody tr")
        assert page.locator("#items tbody tr").count() == 4
        page.click("#items tbody tr td:first-child a")
        page.wait_for_selector(".sides .output")
        page.go_back()
        page.wait_for_selector("#items tbody tr")
        scan = page.evaluate(SCAN)
        assert scan["loose"] == []
        assert scan["bad"] == []
        assert watch.outside() == []
        assert not [m for m in watch.console if "Content Security Policy" in m]
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()


def test_unscored_samples_leave_no_bare_number(tmp_path: Path, browser: Any) -> None:
    from tailgate.store import ImportSpec, import_records

    rows = [
        {"item": f"i{k}", "r": r, "score": None if (k + r) % 3 == 0 else 1.0, "out": None if (k + r) % 3 == 0 else "x"}
        for k in range(6)
        for r in range(2)
    ]
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store = Store(tmp_path / "store")
    import_records(
        store, ImportSpec(file=str(path), item="item", score="score", repeat="r", output="out", run_id="imp")
    )
    server = Server(store, ["imp"])
    try:
        page = browser.new_page()
        page.goto(server.url + "?filter=")
        page.wait_for_selector("#items tbody tr")
        scans = [page.evaluate(SCAN)]
        ids = page.eval_on_selector_all(
            "#items tbody tr td:first-child a", "links => links.map(a => new URL(a.href).searchParams.get('item'))"
        )
        for item_id in ids:
            page.goto(f"{server.url}?item={item_id}")
            page.wait_for_selector(".sides")
            page.click(".side details summary")
            scans.append(page.evaluate(SCAN))
        assert len(ids) == 6
        assert [s["loose"] for s in scans] == [[]] * 7
        assert [s["bad"] for s in scans] == [[]] * 7
        page.close()
    finally:
        server.stop()


class ThreadServer:
    """The app over an in-process state, served from a thread (its own event loop)."""

    def __init__(self, state: Any) -> None:
        import asyncio
        import threading

        from aiohttp import web

        from tailgate.view import make_app

        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(make_app(state), access_log=None)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.runner.setup())
            self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", 0).start())
            started.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self.runner.cleanup())
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(30)
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def test_the_tags_show_while_the_comparison_is_computed(
    known_pair: tuple[Store, str, str], browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tailgate.view import ViewState
    from tests.view.test_state import Gate

    store, base, cand = known_pair
    gate = Gate(monkeypatch)
    state = ViewState(store, [base, cand], background=True)
    server = ThreadServer(state)
    try:
        page = browser.new_page()
        page.goto(server.url)
        assert _tags(page) == EXPECTED_TAGS  # the first screen, the comparison held
        page.wait_for_selector("#slices-pending")
        assert "computing" in page.inner_text("#slices-pending")
        assert page.locator("#slices").count() == 0
        assert page.evaluate("document.body.dataset.pending") == "1"
        scan = page.evaluate(SCAN)
        assert scan["loose"] == []
        assert scan["bad"] == []
        assert scan["count"] >= 6  # the two levels and the four tags
        gate.open()
        page.wait_for_selector("#slices tbody tr", timeout=30_000)  # the page asked again, by itself
        assert page.locator("#slices-pending").count() == 0
        assert page.evaluate("document.body.dataset.pending") is None
        assert _tags(page) == EXPECTED_TAGS
        scan = page.evaluate(SCAN)
        assert scan["loose"] == []
        assert scan["bad"] == []
        page.close()
    finally:
        gate.open()
        server.stop()
        state.close()
