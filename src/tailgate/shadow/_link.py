"""The proxy's end of its mirror worker (``_worker.py``): the process, its socket, its counters.

:meth:`WorkerLink.offer` is what the primary path calls: it writes one captured request to the
socket's transport and returns at once (a full intake is a drop, never a wait). A task reads
what the worker sends back: counter snapshots (kept as bytes, decoded only when ``/healthz``,
``/metrics`` or the status line asks), log records (logged here) and, at the end, the exact
counts. A worker that dies is noticed at its socket's end: logged as an error, ``/healthz`` says
``degraded``, and the primary path goes on (later requests are counted as ``dropped.worker_down``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from tailgate.errors import StoreError, TailgateError
from tailgate.shadow._wire import (
    CONFIG,
    FAILED,
    FINAL,
    HEADER,
    LOG,
    READ_LIMIT,
    READY,
    SNAPSHOT,
    STOP,
    TAKEN,
    json_frame,
)

__all__ = ["WorkerLink", "worker_env"]

log = logging.getLogger("tailgate.shadow")

MAX_BUFFER = 256 << 20
"""Bytes the proxy may hold for a worker that reads too slowly; past it a capture is dropped
(``intake_full``), as past ``intake`` requests."""
START_TIMEOUT = 120.0
CLOSE_TIMEOUT = 300.0
"""Seconds the worker may take, past the grace, to write what it holds and close the runs."""


class WorkerLink:
    """The mirror worker process seen from the proxy (one per :class:`ShadowProxy`)."""

    def __init__(self, spec: dict[str, Any], env: dict[str, str], *, intake: int) -> None:
        self.spec = spec
        self.env = env
        self.intake = intake
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.sent = 0
        self.taken = 0
        self.alive = False
        self.lost = False
        self._transport: asyncio.WriteTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._raw: bytes | None = None
        self._decoded: dict[str, Any] | None = None
        self._final: asyncio.Future[dict[str, Any] | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- start ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker and wait until it holds the runs; its start-up error is raised here."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tailgate.shadow._worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                env=self.env,
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        self.pid = self.proc.pid
        self._reader, self._writer = await asyncio.open_unix_connection(sock=mine, limit=READ_LIMIT)
        self._transport = self._writer.transport
        self._writer.write(json_frame(CONFIG, self.spec))
        try:
            await asyncio.wait_for(self._until_ready(), START_TIMEOUT)
        except BaseException:
            await self._reap(kill=True)
            raise
        self.alive = True
        self._final = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._listen())

    async def _until_ready(self) -> None:
        while True:
            got = await self._read()
            if got is None:
                code = await self._reap()
                raise StoreError(f"the shadow proxy's mirror worker exited ({_exit(code)}) before it was ready")
            kind, payload = got
            if kind == READY:
                return
            if kind == LOG:
                _relog(payload)
            elif kind == FAILED:
                await self._reap()
                raise _rebuild(orjson.loads(payload))

    # -- the primary path -------------------------------------------------------------------------

    def refusal(self) -> str | None:
        """Why a capture cannot be handed over now (``worker_down``, ``intake_full``), or None."""
        transport = self._transport
        if not self.alive or transport is None or transport.is_closing():
            return "worker_down"
        if self.sent - self.taken >= self.intake or transport.get_write_buffer_size() > MAX_BUFFER:
            return "intake_full"
        return None

    def hand(self, buffers: list[bytes]) -> None:
        """Write one frame's buffers (after :meth:`refusal` said None); never waits."""
        assert self._transport is not None
        self._transport.writelines(buffers)
        self.sent += 1

    # -- what the worker says -----------------------------------------------------------------------

    async def _read(self) -> tuple[int, bytes] | None:
        assert self._reader is not None
        try:
            length, kind = HEADER.unpack(await self._reader.readexactly(HEADER.size))
            return kind, await self._reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def _listen(self) -> None:
        assert self._final is not None
        while True:
            got = await self._read()
            if got is None:
                break
            kind, payload = got
            if kind in (SNAPSHOT, FINAL):
                (self.taken,) = TAKEN.unpack_from(payload)
                self._raw, self._decoded = payload, None
                if kind == FINAL and not self._final.done():
                    self._final.set_result(self.latest())
            elif kind == LOG:
                _relog(payload)
        self.alive = False
        if not self._final.done():
            self.lost = True
            code = await asyncio.to_thread(self._poll, 2.0)
            log.error(
                "shadow: the mirror worker (pid %s) exited unexpectedly (%s): mirroring and recording"
                " stopped; the primary path goes on (requests from now on: dropped.worker_down)",
                self.pid,
                _exit(code),
            )
            self._final.set_result(None)

    def latest(self) -> dict[str, Any] | None:
        """The worker's newest snapshot (decoded once per snapshot), or None before the first."""
        if self._decoded is None and self._raw is not None:
            self._decoded = orjson.loads(memoryview(self._raw)[TAKEN.size :])
        return self._decoded

    def metrics(self) -> dict[str, Any] | None:
        latest = self.latest()
        return None if latest is None else latest["metrics"]

    # -- stop -------------------------------------------------------------------------------------

    async def stop(self, counts: dict[str, int], status: str, grace: float) -> dict[str, Any] | None:
        """Tell the worker to finish (the proxy's own ``counts`` go into the manifests) and wait
        for it; returns its exact final counts, or None when it was lost."""
        self._stopping = True
        if self.alive and self._writer is not None and not self._writer.is_closing():
            self._writer.write(json_frame(STOP, {"counts": counts, "status": status}))
        final = None
        if self._final is not None:
            try:
                final = await asyncio.wait_for(asyncio.shield(self._final), grace + CLOSE_TIMEOUT)
            except TimeoutError:
                log.error("shadow: the mirror worker did not finish in %.0f s: stopped", grace + CLOSE_TIMEOUT)
        await self._reap(kill=final is None)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return final

    def _poll(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    async def _reap(self, *, kill: bool = False) -> int | None:
        """Close the socket and wait for the process (killed if ``kill`` or if it lingers)."""
        if self._writer is not None:
            self._writer.close()
        if self.proc is None:
            return None
        proc = self.proc
        if kill and proc.poll() is None:
            proc.kill()
        code = await asyncio.to_thread(self._poll, 30.0)
        if code is None:
            proc.kill()
            code = await asyncio.to_thread(proc.wait)
        return code


def worker_env(candidate_key_env: str, candidate_key: str | None) -> dict[str, str]:
    """The worker's environment: this one, the candidate key as read at construction, and the
    path of this very tailgate package first (the worker runs the same code as the proxy)."""
    env = dict(os.environ)
    root = Path(__file__).resolve().parents[2]  # (the folder holding this tailgate package)
    if root.name not in ("site-packages", "dist-packages"):  # (an installed one is found as here)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    if candidate_key:
        env[candidate_key_env] = candidate_key
    else:
        env.pop(candidate_key_env, None)
    return env


def _relog(payload: bytes) -> None:
    record = orjson.loads(payload)
    logging.getLogger(record["name"]).log(record["level"], "%s", record["message"])


def _exit(code: int | None) -> str:
    if code is None:
        return "still running"
    return f"signal {-code}" if code < 0 else f"exit code {code}"


def _rebuild(error: dict[str, Any]) -> Exception:
    """The worker's start-up error as the proxy raises it: tailgate's own errors keep their class
    (a locked run is :class:`~tailgate.errors.RunLocked`); others become a StoreError naming them."""
    if error["module"] == "tailgate.errors":
        cls = getattr(importlib.import_module("tailgate.errors"), error["type"], None)
        if isinstance(cls, type) and issubclass(cls, TailgateError):
            with contextlib.suppress(Exception):
                return cls(error["message"])
    return StoreError(f"the shadow session could not be opened ({error['type']}: {error['message']})")
