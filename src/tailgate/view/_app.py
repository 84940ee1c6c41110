"""The viewer's web app (aiohttp), bound to 127.0.0.1: the page, its two assets, and a JSON API.

Routes::

    GET /                     the page (static/index.html)
    GET /static/view.js|.css  its script and style sheet (shipped in the package)
    GET /api/meta             which runs, diff or report mode
    GET /api/diff             the paired diff (two runs); ``pending: true`` (tags and levels
                              only) while the comparison is computed, 500 if that failed
    GET /api/report           the report (one run)
    GET /api/items?filter=F&offset=O   the items a filter selects, a page of them
    GET /api/item/ID          one item with both runs' samples

Every response carries ``Content-Security-Policy: default-src 'self'`` (no inline script or style,
nothing from another origin) and ``X-Content-Type-Options: nosniff``. A request whose Host header
is not the address the app serves is refused (a page elsewhere cannot reach it by DNS rebinding).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from tailgate.view._filter import FilterError
from tailgate.view._state import PAGE, ViewState, finite

__all__ = ["SECURITY_HEADERS", "make_app"]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
ASSETS = {"view.js": "text/javascript", "view.css": "text/css"}
STATE: web.AppKey[ViewState] = web.AppKey("state", ViewState)
HOSTS: web.AppKey[set[str]] = web.AppKey("hosts", set)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def asset(name: str) -> bytes:
    """A file of the page, from the installed package."""
    return resources.files("tailgate.view").joinpath("static", name).read_bytes()


@web.middleware
async def _secure(request: web.Request, handler: Handler) -> web.StreamResponse:
    allowed = request.app[HOSTS]
    if allowed and request.host not in allowed:
        response: web.StreamResponse = _json({"error": "unexpected Host header"}, status=421)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = _json({"error": exc.reason}, status=exc.status)
    response.headers.update(SECURITY_HEADERS)
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


async def _index(request: web.Request) -> web.Response:
    return web.Response(body=asset("index.html"), content_type="text/html", charset="utf-8")


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)  # (the browser asks for one; the page has none)


async def _asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound(reason="no such file")
    return web.Response(body=asset(name), content_type=ASSETS[name], charset="utf-8")


def _json(data: Any, status: int = 200) -> web.Response:
    text = json.dumps(finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return web.Response(text=text, status=status, content_type="application/json")


async def _meta(request: web.Request) -> web.Response:
    return _json(request.app[STATE].meta())


async def _diff(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.mode != "diff":
        return _json({"error": "one run: there is no diff (give two runs)"}, 404)
    try:
        return _json(state.diff())
    except Exception as exc:  # the comparison, computed in the background, failed: say why
        return _json({"error": f"the comparison of the two runs failed: {exc}"}, 500)


async def _report(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.report is None:
        return _json({"error": "two runs: see /api/diff"}, 404)
    return _json(state.report_data())


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(reason=f"{name} must be an integer") from None
    if value < 0:
        raise web.HTTPBadRequest(reason=f"{name} must be 0 or more")
    return value


async def _items(request: web.Request) -> web.Response:
    text = request.query.get("filter", "")
    offset, limit = _int(request, "offset", 0), _int(request, "limit", PAGE)
    try:
        return _json(request.app[STATE].items(text, offset, limit))
    except FilterError as exc:
        return _json({"error": str(exc), "reason": exc.reason, "column": exc.column, "filter": text}, 400)


async def _item(request: web.Request) -> web.Response:
    try:
        return _json(request.app[STATE].item(request.match_info["item_id"]))
    except KeyError:
        return _json({"error": "no such item in these runs"}, 404)


def make_app(state: ViewState, hosts: set[str] | None = None) -> web.Application:
    """The app over ``state``; ``hosts``: the Host headers to accept (None: any, for tests)."""
    app = web.Application(middlewares=[_secure])
    app[STATE] = state
    app[HOSTS] = hosts or set()
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _asset)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_get("/api/meta", _meta)
    app.router.add_get("/api/diff", _diff)
    app.router.add_get("/api/report", _report)
    app.router.add_get("/api/items", _items)
    app.router.add_get("/api/item/{item_id}", _item)
    return app
