"""The mirror worker: the shadow proxy's second process (``python -m tailgate.shadow._worker FD``).

The proxy's process serves, forwards to the primary, relays, and writes each finished mirrorable
request to this process's end of a Unix socketpair (``_wire.py`` frames), never waiting. Here runs
everything else, off the primary path's interpreter: parsing the body, the key, the sampling
decision, the candidate and noise calls (:class:`~tailgate.shadow._mirror.MirrorSide`, on this
process's event loop), the records and the traffic rows (the
:class:`~tailgate.shadow._recorder.Recorder`'s thread). It runs at the lowest CPU priority (nice
:data:`NICE`), so that on a busy machine the primary path gets the CPU first and the worker
catches up when there is CPU to spare (or, past its intake, requests are dropped and counted).

Lifecycle:

* start: the proxy sends ``CONFIG``; the worker opens the runs (taking their locks) and answers
  ``READY``, or ``FAILED`` with the error (a run locked by another proxy...) and exits 1;
* running: ``CAPTURED`` frames in; a ``SNAPSHOT`` of the counters out every
  :data:`SNAPSHOT_EVERY` seconds when something changed; log records of level the proxy asked for
  go out as ``LOG`` frames (the proxy logs them);
* ``STOP`` (the proxy's own counters and the status): queued mirrors are dropped (``shutdown``),
  in-flight ones get the grace, the runs are closed (manifests written with both sides' counters),
  then ``FINAL`` (the exact counts) and exit 0;
* the socket's end without ``STOP`` (the proxy was killed): in-flight mirrors are cut, what the
  writer holds is written (at most :data:`ABANDON_S` seconds), the runs are released without a
  manifest update (they read ``interrupted``, as after a kill -9) and the process exits.

SIGINT and SIGTERM are ignored here: a Ctrl-C reaches the whole process group, and the proxy
decides when its worker stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter
from typing import Any

import orjson

from tailgate.shadow._config import ShadowConfig
from tailgate.shadow._http import new_loop, safe_url
from tailgate.shadow._metrics import Metrics
from tailgate.shadow._mirror import MirrorSide
from tailgate.shadow._recorder import Recorder, RunTarget
from tailgate.shadow._wire import (
    CAPTURED,
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
    frame,
    json_frame,
    read_captured,
)

__all__ = ["ABANDON_S", "NICE", "SNAPSHOT_EVERY", "Worker", "main"]

NICE = 19
SNAPSHOT_EVERY = 0.05
HEARTBEAT_EVERY = 1.0
ABANDON_S = 5.0

log = logging.getLogger("tailgate.shadow")


class _Forward(logging.Handler):
    """Log records of this process, sent to the proxy's (which logs them as its own)."""

    def __init__(self, worker: Worker, level: int) -> None:
        super().__init__(level)
        self.worker = worker

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            self.worker.send_threadsafe(LOG, {"name": record.name, "level": record.levelno, "message": message})
        except Exception:  # a closed socket at exit: nothing to tell it to
            self.handleError(record)


class Worker:
    """One worker process's state: its socket, the mirror side, the recorder, the counters."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self.metrics = Metrics()
        self.taken = 0
        self.mirror: MirrorSide | None = None
        self.recorder: Recorder | None = None
        self._last: tuple[Any, ...] = ()
        self._last_at = 0.0
        self._thread = threading.get_ident()

    def send(self, kind: int, value: Any) -> None:
        if not self.writer.is_closing():
            self.writer.write(json_frame(kind, value))

    def send_threadsafe(self, kind: int, value: Any) -> None:
        if threading.get_ident() == self._thread:
            self.send(kind, value)
        else:
            self.loop.call_soon_threadsafe(self.send, kind, value)

    async def read(self) -> tuple[int, bytes] | None:
        try:
            length, kind = HEADER.unpack(await self.reader.readexactly(HEADER.size))
            return kind, await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def run(self) -> int:
        first = await self.read()
        if first is None or first[0] != CONFIG:
            return 2
        spec = orjson.loads(first[1])
        self._forward_logs(int(spec.get("log_level", logging.WARNING)))
        try:
            config, seen = self._open(spec)
        except Exception as exc:
            self.send(FAILED, {"module": type(exc).__module__, "type": type(exc).__name__, "message": str(exc)})
            await self.writer.drain()
            return 1
        assert self.recorder is not None
        self.mirror = MirrorSide(
            config,
            self.metrics,
            self.recorder,
            run_id=spec["run_id"],
            labels=spec["labels"],
            candidate_key=os.environ.get(config.candidate_key_env) or None,
            seen=seen,
            taken=self._took,
        )
        await self.mirror.start()
        self.send(READY, {"pid": os.getpid()})
        ticker = asyncio.create_task(self._tick())
        try:
            stop = await self._serve()
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if stop is None:
            return await self._abandon()
        await self.mirror.shutdown(config.grace)
        counts = Counter(stop["counts"])
        counts.update(self.metrics.own())
        await asyncio.to_thread(self.recorder.close, dict(sorted(counts.items())), stop["status"])
        self.writer.write(frame(FINAL, self._snapshot()))
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()
        self.writer.close()
        return 0

    def _forward_logs(self, level: int) -> None:
        """tailgate's records from ``level`` (the proxy's level), other libraries' from WARNING."""
        ours = logging.getLogger("tailgate")
        ours.setLevel(level)
        ours.propagate = False
        ours.addHandler(_Forward(self, level))
        logging.getLogger().addHandler(_Forward(self, logging.WARNING))

    def _open(self, spec: dict[str, Any]) -> tuple[ShadowConfig, set[str]]:
        from tailgate.store import Store

        config = ShadowConfig(**{**spec["config"], "candidates": tuple(spec["config"]["candidates"])})
        key = os.environ.get(config.candidate_key_env) or None
        if key:
            from tailgate.providers import register_secret

            register_secret(key)
        labels: list[str] = spec["labels"]
        targets = [RunTarget("primary", "primary", safe_url(config.primary))]
        targets += [RunTarget(label, label, safe_url(u)) for label, u in zip(labels, config.candidates, strict=True)]
        targets.append(RunTarget("noise", "primary", safe_url(config.primary)))
        recorder = Recorder(Store(config.store), spec["run_id"], targets, spec["settings"])
        recorder.on_error = lambda _: self.metrics.write_errors.inc()
        self.metrics.traffic_dropped.set_function(lambda: recorder.traffic_dropped)
        seen = recorder.open()  # (a run locked by another proxy raises here, nothing left open)
        self.recorder = recorder
        return config, seen

    def _took(self) -> None:
        self.taken += 1

    async def _serve(self) -> dict[str, Any] | None:
        """Take frames until ``STOP`` (returned) or the socket's end (None: the proxy is gone)."""
        assert self.mirror is not None
        while True:
            got = await self.read()
            if got is None:
                return None
            kind, payload = got
            if kind == CAPTURED:
                mode, captured = read_captured(payload)
                try:
                    self.mirror.intake(mode, captured)
                except Exception as exc:  # a bug here must not stop the intake: counted and said
                    log.error("shadow: a request could not be taken (%s)", type(exc).__name__)
                    self.metrics.dropped.labels("intake_error").inc()
                    self.metrics.count("dropped.intake_error")
            elif kind == STOP:
                stop: dict[str, Any] = orjson.loads(payload)
                return stop

    async def _abandon(self) -> int:
        assert self.mirror is not None
        assert self.recorder is not None
        await self.mirror.abandon()
        if not await asyncio.to_thread(self.recorder.abandon, ABANDON_S):
            os._exit(0)  # the writer is still busy: the kernel releases the locks
        return 0

    def _snapshot(self) -> bytes:
        mirror, recorder = self.mirror, self.recorder
        assert mirror is not None
        assert recorder is not None
        body = {
            "metrics": self.metrics.export(),
            "queue": mirror.queue.qsize(),
            "in_flight": mirror.in_flight,
            "records": dict(recorder.records),
            "write_errors": recorder.write_errors,
            "traffic_dropped": recorder.traffic_dropped,
            "traffic_rows": recorder.traffic_rows,
            "writer_backlog": recorder.pending(),
        }
        return TAKEN.pack(self.taken) + orjson.dumps(body)

    def _state(self) -> tuple[Any, ...]:
        mirror, recorder = self.mirror, self.recorder
        assert mirror is not None
        assert recorder is not None
        return (
            self.taken,
            self.metrics.version,
            mirror.queue.qsize(),
            mirror.in_flight,
            sum(recorder.records.values()),
            recorder.write_errors,
            recorder.traffic_dropped,
            recorder.traffic_rows,
            recorder.pending(),
        )

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_EVERY)
            state, now = self._state(), time.monotonic()
            if state != self._last or now - self._last_at > HEARTBEAT_EVERY:
                self._last, self._last_at = state, now
                self.writer.write(frame(SNAPSHOT, self._snapshot()))


async def _main(fd: int) -> int:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=READ_LIMIT)
    return await Worker(reader, writer).run()


def main(argv: list[str] | None = None) -> int:
    """The worker's entry point: ``FD`` is its end of the socketpair the proxy made."""
    args = sys.argv[1:] if argv is None else argv
    fd = int(args[0])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(NICE)
    loop = new_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_main(fd))
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
