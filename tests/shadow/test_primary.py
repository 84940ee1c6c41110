"""The proxy's own client for the primary, on the wire: the exact request bytes the primary gets,
the exact answer bytes the client gets, keep-alive reuse, the connection limit, informational
answers skipped, garbage and cut connections as a 502, and the idempotent retry.

The expected bytes are what the proxy sent and relayed through ``aiohttp.ClientSession`` before
(captured from main at 927e5ed with the same requests), but for one fix: two client header lines
whose names differ only in case both reach the primary (the session kept the last one only)."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tailgate.shadow import ShadowConfig
from tailgate.shadow._primary import PrimaryPool
from tests.shadow._servers import ProxyThread, Upstream

OK = b"HTTP/1.1 200 OK\r\nDate: Fri, 04 Dec 2026 00:00:00 GMT\r\nServer: raw\r\nContent-Type: application/json\r\n"
SIZED = (
    OK
    + b"X-A: 1\r\nConnection: keep-alive, X-Drop\r\nX-Drop: y\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n{}"
)
CHUNKED = OK + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
EARLY = b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + OK + b"Content-Length: 2\r\n\r\nok"
CLOSE = OK + b"Connection: close\r\nContent-Length: 2\r\n\r\nok"
RELAYED = OK + b"X-A: 1\r\nContent-Length: 2\r\n\r\n{}"


class RawPrimary:
    """A primary on a raw socket: records each request's bytes and the connections it accepted;
    the path picks the answer (``/chunked``, ``/early``, ``/close``, ``/garbage``, ``/slow``,
    ``/drop-once``: the first such request's connection is closed unanswered)."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.dropped = False
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread: threading.Thread | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                self.seen.append(head + await reader.readexactly(length))
                path = head.split(b" ")[1]
                if path == b"/drop-once" and not self.dropped:
                    self.dropped = True
                    return
                if path == b"/slow":
                    await asyncio.sleep(0.2)
                answer = {b"/chunked": CHUNKED, b"/early": EARLY, b"/close": CLOSE}.get(path, SIZED)
                writer.write(b"NOT HTTP AT ALL\r\n\r\n" if path == b"/garbage" else answer)
                await writer.drain()
                if path in (b"/close", b"/garbage"):
                    return
        finally:
            self.open -= 1
            writer.close()

    def __enter__(self) -> RawPrimary:
        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            loop.run_forever()
            server.close()
            for writer in self._writers:
                writer.close()
            loop.run_until_complete(server.wait_closed())
            loop.run_until_complete(asyncio.sleep(0.05))
            loop.close()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


@contextmanager
def _proxied(tmp_path: Path) -> Iterator[tuple[RawPrimary, int]]:
    with RawPrimary() as primary, Upstream("candidate") as cand:
        config = ShadowConfig(f"http://127.0.0.1:{primary.port}", (cand.url,), port=0, store=tmp_path, grace=2.0)
        with ProxyThread(config) as proxy:
            yield primary, proxy.proxy.port


def _exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes on one connection; read until a whole answer arrived (or the proxy closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        out = b""
        deadline = time.monotonic() + 10
        while not _complete(out) and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


def _complete(out: bytes) -> bool:
    head, sep, body = out.rpartition(b"\r\n\r\n")
    if not sep:
        return False
    length = [int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length:")]
    return len(body) >= length[-1] if length else out.endswith(b"0\r\n\r\n")


REQUESTS = [
    (
        b"POST /v1/chat/completions?x=1&y=%20 HTTP/1.1\r\nHost: proxy\r\nX-Foo: a\r\nx-foo: b\r\n"
        b"Content-Type: application/json\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nTE: trailers\r\n"
        b"Authorization: Bearer k\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /v1/chat/completions?x=1&y=%20 HTTP/1.1\r\nHost: H\r\nX-Foo: a\r\nx-foo: b\r\n"
        b"Content-Type: application/json\r\nAuthorization: Bearer k\r\nContent-Length: 2\r\n\r\n{}",
    ),
    (
        b"POST /v1/completions HTTP/1.1\r\nHost: proxy\r\n\r\n",
        b"POST /v1/completions HTTP/1.1\r\nHost: H\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        b"GET /v1/models HTTP/1.1\r\nHost: proxy\r\nUser-Agent: me\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nHost: H\r\nUser-Agent: me\r\n\r\n",
    ),
    (
        b"GET /v1/models HTTP/1.1\r\nHost: proxy\r\nContent-Length: 0\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nHost: H\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        b"POST /other HTTP/1.1\r\nHost: proxy\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"POST /other HTTP/1.1\r\nHost: H\r\nContent-Length: 3\r\n\r\nabc",
    ),
    (
        b"PUT /other HTTP/1.1\r\nHost: proxy\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
        b"PUT /other HTTP/1.1\r\nHost: H\r\nContent-Length: 3\r\n\r\nabc",
    ),
    (
        b"DELETE /x HTTP/1.0\r\nHost: proxy\r\n\r\n",
        b"DELETE /x HTTP/1.1\r\nHost: H\r\nContent-Length: 0\r\n\r\n",
    ),
]


def test_the_primary_gets_the_same_bytes_and_the_client_the_same_answer(tmp_path: Path) -> None:
    with _proxied(tmp_path) as (primary, port):
        for sent, _ in REQUESTS:
            got = _exchange(port, sent)
            if b"Expect: 100-continue" in sent:
                assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
                got = got.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")
            status = b"HTTP/1.0" if b"HTTP/1.0\r\n" in sent else b"HTTP/1.1"
            assert got == status + RELAYED[len(b"HTTP/1.1") :]  # hop-by-hop and what Connection names: gone
        host = f"127.0.0.1:{primary.port}".encode()
        assert primary.seen == [want.replace(b"Host: H", b"Host: " + host) for _, want in REQUESTS]


def test_a_compressed_request_body_is_forwarded_compressed(tmp_path: Path) -> None:
    """aiohttp's server inflates a gzip request body by default: the primary got the inflated
    bytes under ``Content-Encoding: gzip`` (main at 927e5ed did); now the bytes as sent."""
    body = gzip.compress(b'{"model": "m", "prompt": "hi"}')
    head = b"POST /v1/completions HTTP/1.1\r\nHost: p\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
    with _proxied(tmp_path) as (primary, port):
        assert _exchange(port, head % len(body) + body).endswith(b"{}")
        assert primary.seen[-1].endswith(b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


@pytest.mark.parametrize(
    ("path", "want"),
    [
        # chunked upstream, relayed chunked (the framing is the proxy's own; the bytes are the same)
        (b"/chunked", OK + b"Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n"),
        (b"/early", OK + b"Content-Length: 2\r\n\r\nok"),  # a 103 before the answer is not relayed
        (b"/close", OK + b"Content-Length: 2\r\n\r\nok"),
    ],
)
def test_answers_are_relayed_as_the_session_relayed_them(tmp_path: Path, path: bytes, want: bytes) -> None:
    with _proxied(tmp_path) as (_primary, port):
        assert _exchange(port, b"GET " + path + b" HTTP/1.1\r\nHost: p\r\n\r\n") == want


def test_connections_are_kept_alive_and_closed_when_asked(tmp_path: Path) -> None:
    with _proxied(tmp_path) as (primary, port):
        for _ in range(5):
            assert _exchange(port, b"GET /a HTTP/1.1\r\nHost: p\r\n\r\n").endswith(b"{}")
        assert primary.connections == 1  # one connection reused by all five
        _exchange(port, b"GET /close HTTP/1.1\r\nHost: p\r\n\r\n")
        _exchange(port, b"GET /a HTTP/1.1\r\nHost: p\r\n\r\n")
        assert primary.connections == 2  # the primary's "Connection: close" was honoured


def test_garbage_from_the_primary_is_a_502_and_the_next_request_works(tmp_path: Path) -> None:
    with _proxied(tmp_path) as (_primary, port):
        got = _exchange(port, b"GET /garbage HTTP/1.1\r\nHost: p\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
        assert b"the primary could not be reached (HttpProcessingError)" in got
        assert _exchange(port, b"GET /a HTTP/1.1\r\nHost: p\r\n\r\n").endswith(b"{}")


def test_a_cut_connection_is_retried_for_idempotent_methods_only(tmp_path: Path) -> None:
    with _proxied(tmp_path) as (primary, port):
        assert _exchange(port, b"GET /drop-once HTTP/1.1\r\nHost: p\r\n\r\n").endswith(b"{}")
        assert len(primary.seen) == 2  # cut once, sent again on a new connection
        primary.dropped = False
        got = _exchange(port, b"POST /drop-once HTTP/1.1\r\nHost: p\r\nContent-Length: 1\r\n\r\nx")
        assert got.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")  # a POST is never sent twice
        assert b"ServerDisconnectedError" in got
        assert len(primary.seen) == 3


def test_the_pool_keeps_to_its_connection_limit() -> None:
    async def main(port: int) -> list[int]:
        pool = PrimaryPool(f"http://127.0.0.1:{port}", limit=2)

        async def one() -> int:
            answer = await pool.send("GET", "/slow", b"", None)
            try:
                await answer.content.read()
                return answer.status
            finally:
                answer.release()

        try:
            return list(await asyncio.gather(*(one() for _ in range(6))))
        finally:
            await pool.close()

    with RawPrimary() as primary:
        assert asyncio.run(main(primary.port)) == [200] * 6
        assert primary.most_open <= 2
        assert primary.connections == 2  # the two connections served all six, in turn


def test_a_cancelled_waiter_passes_its_turn_on() -> None:
    async def main(port: int) -> int:
        pool = PrimaryPool(f"http://127.0.0.1:{port}", limit=1)
        first = await pool.send("GET", "/slow", b"", None)
        waiting = asyncio.ensure_future(pool.send("GET", "/a", b"", None))
        await asyncio.sleep(0.05)
        waiting.cancel()
        after = asyncio.ensure_future(pool.send("GET", "/a", b"", None))
        await first.content.read()
        first.release()
        answer = await asyncio.wait_for(after, 5)
        await answer.content.read()
        answer.release()
        await pool.close()
        return answer.status

    with RawPrimary() as primary:
        assert asyncio.run(main(primary.port)) == 200


def test_not_an_http_url_is_refused() -> None:
    with pytest.raises(ValueError, match="not an http"):
        PrimaryPool("ftp://example.com", limit=1)
