"""``tailgate view``: serve the viewer on 127.0.0.1, or write it as static files (``--export``)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailgate.errors import UsageError
from tailgate.view._app import ASSETS, asset, make_app
from tailgate.view._filter import TAGS
from tailgate.view._state import ViewState, write_json

if TYPE_CHECKING:
    from tailgate.store import Store

__all__ = ["ExportResult", "export_view", "open_state", "serve_view"]

HOST = "127.0.0.1"
STATIC_MARK = '<meta name="tailgate-data" content="api">'


def open_state(
    runs: list[str],
    store: Store | str | Path | None = None,
    comparison: str | Path | None = None,
    *,
    background: bool = False,
) -> ViewState:
    """The runs' view data (the comparison or the report, and the per-item table), loaded once;
    ``comparison``: a ``tailgate compare --json FILE`` of the two runs, read instead of computed;
    ``background``: compute the comparison in a thread (the state is usable meanwhile)."""
    from tailgate.store import Store

    opened = store if isinstance(store, Store) else Store(store)
    return ViewState(opened, runs, comparison, background=background)


def serve_view(
    runs: list[str],
    *,
    store: Store | str | Path | None = None,
    port: int = 8765,
    open_browser: bool = True,
    announce: Callable[[str], None] = print,
    comparison: str | Path | None = None,
    notify: Callable[[str], None] | None = None,
) -> None:
    """Serve the viewer of ``runs`` (one: its report; two: BASE CAND, their paired diff) on
    http://127.0.0.1:PORT until interrupted (Ctrl-C raises KeyboardInterrupt). It serves once
    the runs are loaded and their items tagged; the comparison is computed meanwhile (the page
    shows "computing…" where it goes), and ``notify`` (default: stderr) is told when it is ready or why it failed.

    Example:
        >>> tailgate.view.serve_view(["base", "cand"], store=".tailgate", port=8765)  # doctest: +SKIP
    """
    state = open_state(runs, store, comparison, background=True)
    try:
        asyncio.run(_serve(state, port, open_browser, announce, notify or _stderr))
    finally:
        state.close()


def _stderr(message: str) -> None:
    print(f"tailgate view: {message}", file=sys.stderr, flush=True)


async def _serve(
    state: ViewState,
    port: int,
    open_browser: bool,
    announce: Callable[[str], None],
    notify: Callable[[str], None],
) -> None:
    from aiohttp import web

    # the Host header must name this server (no DNS rebinding); the port is known once bound
    hosts: set[str] = set()
    runner = web.AppRunner(make_app(state, hosts), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UsageError(
            f"cannot listen on {HOST}:{port}: {exc.strerror or exc} (try --port 0 for any free port)"
        ) from exc
    bound = _bound_port(runner) or port
    hosts.update({f"{HOST}:{bound}", f"localhost:{bound}"})
    url = f"http://{HOST}:{bound}/"
    announce(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    watch = asyncio.create_task(_watch(state, notify)) if state.mode == "diff" else None
    try:
        await asyncio.Event().wait()
    finally:
        if watch is not None:
            watch.cancel()
        await runner.cleanup()


async def _watch(state: ViewState, notify: Callable[[str], None]) -> None:
    """Say when the background comparison is ready, or why it failed (the page says so too)."""
    start, computed = time.perf_counter(), not state.ready
    while not state.ready:  # (polled: a thread blocked in wait() would hold up Ctrl-C's shutdown)
        await asyncio.sleep(0.05)
    try:
        state.wait()
    except Exception as exc:
        notify(f"the comparison failed: {exc}")
    else:
        if computed:
            notify(f"comparison ready ({time.perf_counter() - start:.1f} s after the server started)")


def _bound_port(runner: Any) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None


class ExportResult:
    """What ``export_view`` wrote."""

    def __init__(self, folder: Path, filters: int, items: int) -> None:
        self.folder = folder
        self.filters = filters
        """Filters whose first page of items was written (all items, each tag, each slice)."""
        self.items = items
        """Items whose detail page was written."""


def _file_key(text: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        return text
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def export_view(
    runs: list[str],
    folder: str | Path,
    *,
    store: Store | str | Path | None = None,
    comparison: str | Path | None = None,
) -> ExportResult:
    """Write the viewer of ``runs`` as static files in ``folder``: the same page and script,
    reading precomputed JSON (the diff or report, the first page of items of every tag and every
    slice, and every item listed there) instead of the API. Serve the folder with any static
    server (``python -m http.server -d FOLDER --bind 127.0.0.1``): the page fetches its data.

    Example:
        >>> tailgate.view.export_view(["base", "cand"], "diff-site", store=".tailgate")  # doctest: +SKIP
    """
    out = Path(folder)
    state = open_state(runs, store, comparison)
    try:
        (out / "static").mkdir(parents=True, exist_ok=True)
        index = asset("index.html").decode("utf-8")
        (out / "index.html").write_text(index.replace(STATIC_MARK, STATIC_MARK.replace("api", "static")), "utf-8")
        for name in ASSETS:
            (out / "static" / name).write_bytes(asset(name))
        data = out / "data"
        write_json(data / "meta.json", {**state.meta(), "static": True})
        filters = [""]
        if state.mode == "diff":
            state.wait()  # (a background comparison: the export has everything)
            diff = state.diff()
            write_json(data / "diff.json", diff)
            filters += [f"tag:{t}" for t in TAGS] + [row["filter"] for row in diff["slices"]]
        else:
            report = state.report_data()
            write_json(data / "report.json", report)
            filters += [row["filter"] for row in report.get("slices", []) if row.get("filter")]
        table: dict[str, str] = {}
        listed: set[str] = set()
        for text in dict.fromkeys(filters):
            page = state.items(text)
            name = f"items/{_file_key(page['filter'] or 'all')}.json"
            write_json(data / name, page)
            table[page["filter"]] = table[text] = name  # (the page looks a filter up as its links spell it)
            listed.update(row["item_id"] for row in page["rows"])
        write_json(data / "filters.json", table)
        items: dict[str, str] = {}
        for item_id in sorted(listed):
            name = f"item/{_file_key(item_id)}.json"
            write_json(data / name, state.item(item_id))
            items[item_id] = name
        write_json(data / "item-files.json", items)
        return ExportResult(out, len(set(table.values())), len(items))
    finally:
        state.close()
