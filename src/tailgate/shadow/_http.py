"""HTTP plumbing of the proxy: which headers a hop forwards, URLs, bodies, the event loop."""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

__all__ = [
    "HOP_BY_HOP",
    "client_secret",
    "default_run_id",
    "join",
    "new_loop",
    "payload",
    "response_headers",
    "safe_url",
]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when installed (a dependency on Linux and macOS), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def default_run_id() -> str:
    return time.strftime("shadow-%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def safe_url(url: str) -> str:
    """A URL without user, password, query or fragment (what may be stored or printed)."""
    try:
        parsed = URL(url)
        return str(parsed.with_user(None).with_query(None).with_fragment(None))
    except (ValueError, TypeError):
        return "<unparsable URL>"


def payload(body: bytes | None) -> Any:
    """A body aiohttp sends with its length: large ones as a file object (aiohttp would warn
    that writing a large ``bytes`` at once can hold the loop; a file object is written in parts)."""
    return io.BytesIO(body) if body is not None and len(body) >= 1 << 20 else body


def join(base: str, raw_path: str) -> URL:
    return URL(base.rstrip("/") + raw_path, encoded=True)


def response_headers(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """The primary's headers the client gets: all but hop-by-hop ones (and those ``Connection``
    names), in order (a copy with those removed: most answers have none or one)."""
    drop = [name for name in HOP_BY_HOP if name in headers]
    for value in headers.getall("Connection", ()):
        drop.extend(t.strip() for t in value.split(",") if t.strip())
    out = CIMultiDict(headers)
    for name in drop:
        out.popall(name, None)
    return out


def client_secret(headers: CIMultiDictProxy[str]) -> str | None:
    auth = headers.get("Authorization") or headers.get("api-key") or headers.get("x-api-key")
    if not auth:
        return None
    scheme, _, token = auth.partition(" ")
    return token.strip() if token and scheme.lower() in ("bearer", "basic", "token") else auth.strip()
