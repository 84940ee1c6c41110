"""The proxy's HTTP/1.1 client for the primary: pooled keep-alive connections, aiohttp's protocol.

Each connection runs aiohttp's own client protocol (``ResponseHandler``: its C response parser,
payload stream, flow control and keep-alive bookkeeping), exactly as ``aiohttp.ClientSession``
does; what this module leaves out is the session's per-request machinery (``ClientRequest``,
header merging, cookies, tracing, redirects, a ``StreamWriter`` per call), which cost the primary
path about a third of the proxy's CPU. The request is written in one ``write``: its head, built
from the client's raw header lines, and its body.

What the primary receives is what the session sent before, for the same client request: the
request line with the client's path and query (joined to the primary's base URL), ``Host`` of the
primary first, then the client's header lines in order and byte for byte (minus the hop-by-hop
ones, ``Host``, ``Content-Length`` and ``Expect``: ``forward_head``), then ``Content-Length`` for
the body (``0`` for a method that carries one, none for a bodiless GET, HEAD, OPTIONS or TRACE).
One difference, a fix: the session merged two header lines whose names differ only in case
(``X-Foo: a`` and ``x-foo: b`` reached the primary as ``x-foo: b``); both are forwarded now.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Iterable

from aiohttp import ServerDisconnectedError
from aiohttp.client_exceptions import ClientOSError
from aiohttp.client_proto import ResponseHandler
from aiohttp.http import RawResponseMessage
from aiohttp.streams import StreamReader
from yarl import URL

from tailgate.shadow._http import HOP_BY_HOP

__all__ = ["PrimaryPool", "PrimaryResponse", "forward_head"]

_DROP = HOP_BY_HOP | {"host", "content-length", "expect"}
_DROP_BYTES = frozenset(name.encode("ascii") for name in _DROP)
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Methods that get no ``Content-Length: 0`` when the client sent no body (aiohttp's GET_METHODS)."""
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
"""Methods retried once on a fresh connection when the first one is cut before any answer (as the
session did, RFC 9112 section 9.3.1.1)."""
KEEPALIVE = 15.0
"""Seconds an idle connection is kept (aiohttp's ``TCPConnector`` default)."""
_LARGE = 1 << 20
_TARGETS = 256


def forward_head(raw_headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The client's header lines a hop forwards, as received: all but the hop-by-hop ones (and
    those ``Connection`` names), ``Host``, ``Content-Length`` and ``Expect``."""
    parts = []
    for name, value in raw_headers:
        kind = _KINDS.get(name)
        if kind is None:
            kind = _kind(name)
        if kind is _KEEP:
            parts.append(name + b": " + value + b"\r\n")
        elif kind is _CONNECTION:  # (rare: it may name more headers to drop)
            return _forward_named(raw_headers)
    return b"".join(parts)


_KEEP, _DROPPED, _CONNECTION = "keep", "drop", "connection"
_KINDS: dict[bytes, str] = {}
"""Header name (as sent) -> what a hop does with it: a name's class computed once, not per request."""


def _kind(name: bytes) -> str:
    lower = name.lower()
    kind = _CONNECTION if lower == b"connection" else _DROPPED if lower in _DROP_BYTES else _KEEP
    if len(_KINDS) < 4096:
        _KINDS[name] = kind
    return kind


def _forward_named(raw_headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    lines = list(raw_headers)
    named = {t.strip().lower() for n, v in lines if n.lower() == b"connection" for t in v.split(b",")}
    drop = _DROP_BYTES | named
    return b"".join(n + b": " + v + b"\r\n" for n, v in lines if n.lower() not in drop)


class PrimaryResponse:
    """One answer of the primary: status, reason, headers, and its body as a stream (``content``).
    :meth:`release` (always, when done) gives the connection back, or closes it when the body was
    not read to its end or the primary asked to close."""

    __slots__ = ("_pool", "_proto", "content", "headers", "reason", "status")

    def __init__(self, pool: PrimaryPool, proto: ResponseHandler, message: RawResponseMessage, content: StreamReader):
        self._pool = pool
        self._proto: ResponseHandler | None = proto
        self.status = message.code
        self.reason = message.reason
        self.headers = message.headers
        self.content = content

    def release(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None:
            self._pool.release(proto, reuse=self.content.is_eof() and not proto.should_close)


class PrimaryPool:
    """Keep-alive connections to one primary, at most ``limit`` open (waiters are served in order).

    Example:
        >>> pool = PrimaryPool("http://127.0.0.1:8001", limit=64)
        >>> async def main() -> None:  # doctest: +SKIP
        ...     answer = await pool.send("POST", "/v1/completions", b"Content-Type: application/json\\r\\n", b"{}")
        ...     try:
        ...         print(answer.status, await answer.content.read())
        ...     finally:
        ...         answer.release()
        ...     await pool.close()
    """

    def __init__(self, base: str, *, limit: int, connect_timeout: float = 30.0) -> None:
        url = URL(base)
        if url.scheme not in ("http", "https") or not url.raw_host or url.port is None:
            raise ValueError(f"not an http(s) URL: {base!r}")
        self._base = base.rstrip("/")
        self._host = url.raw_host
        self._port = url.port
        self._ssl: ssl.SSLContext | None = None
        if url.scheme == "https":  # (as aiohttp's verified default context)
            self._ssl = ssl.create_default_context()
            self._ssl.set_alpn_protocols(("http/1.1",))
        self._host_line = b"Host: " + str(url.host_port_subcomponent).encode("ascii") + b"\r\n"
        self._limit = limit
        self._connect_timeout = connect_timeout
        self._idle: deque[tuple[ResponseHandler, float]] = deque()
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._targets: dict[str, bytes] = {}
        self._closed = False

    def _target(self, raw_path: str) -> bytes:
        """The request target for the client's path (and query) under the primary's base URL."""
        target = self._targets.get(raw_path)
        if target is None:
            target = URL(self._base + raw_path, encoded=True).raw_path_qs.encode("ascii")
            if len(self._targets) < _TARGETS:
                self._targets[raw_path] = target
        return target

    async def send(self, method: str, raw_path: str, head: bytes, body: bytes | None) -> PrimaryResponse:
        """Send one request (``head``: the header lines to forward; ``body``: None for none) and
        return once the primary's status and headers arrived."""
        if body is None:
            length = b"" if method in _BODILESS else b"Content-Length: 0\r\n"
        else:
            length = b"Content-Length: " + str(len(body)).encode("ascii") + b"\r\n"
        start = method.encode("ascii") + b" " + self._target(raw_path) + b" HTTP/1.1\r\n" + self._host_line
        request = start + head + length + b"\r\n"
        retry = method in _IDEMPOTENT
        while True:
            proto = await self._acquire()
            try:
                return await self._exchange(proto, method, request, body)
            except (ClientOSError, ServerDisconnectedError):
                self.release(proto, reuse=False)
                if not retry:
                    raise
                retry = False
            except BaseException:
                self.release(proto, reuse=False)
                raise

    async def _exchange(
        self, proto: ResponseHandler, method: str, request: bytes, body: bytes | None
    ) -> PrimaryResponse:
        transport = proto.transport
        if transport is None or transport.is_closing():
            raise ServerDisconnectedError()
        proto.set_response_params(skip_payload=method == "HEAD", read_until_eof=True, auto_decompress=False)
        if body is not None and len(body) >= _LARGE:
            transport.write(request)
            transport.write(body)  # (not joined: an 8 MiB body is not copied once more)
        else:
            transport.write(request + body if body else request)
        if proto.writing_paused:
            await proto._drain_helper()
        while True:
            message, content = await proto.read()
            if not 100 <= message.code <= 199 or message.code == 101:
                return PrimaryResponse(self, proto, message, content)
            # an informational answer (100 Continue, 103 Early Hints): the real one follows

    async def _acquire(self) -> ResponseHandler:
        while True:
            now = time.monotonic()
            while self._idle:
                proto, since = self._idle.pop()  # (the most recently used: the least likely stale)
                if proto.is_connected() and now - since < KEEPALIVE:
                    return proto
                self._drop(proto)
            if self._open < self._limit:
                break
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # (the turn handed to this waiter goes to the next one)
                raise
        self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._open -= 1
            self._wake()
            raise

    async def _connect(self) -> ResponseHandler:
        loop = asyncio.get_running_loop()
        connect = loop.create_connection(
            lambda: ResponseHandler(loop),
            self._host,
            self._port,
            ssl=self._ssl,
            server_hostname=self._host if self._ssl is not None else None,
        )
        _transport, proto = await asyncio.wait_for(connect, self._connect_timeout)
        return proto

    def release(self, proto: ResponseHandler, *, reuse: bool) -> None:
        """Give a connection back (kept when ``reuse`` and still open), or close it."""
        if reuse and not self._closed and proto.is_connected():
            self._idle.append((proto, time.monotonic()))
        else:
            self._drop(proto)
        self._wake()

    def _drop(self, proto: ResponseHandler) -> None:
        proto.close()
        self._open -= 1

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close the idle connections (those in use close when released)."""
        self._closed = True
        while self._idle:
            self._drop(self._idle.pop()[0])
        await asyncio.sleep(0)
