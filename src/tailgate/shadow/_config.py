"""The shadow proxy's settings (``tailgate shadow``'s options), shared by both of its processes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from yarl import URL

from tailgate.errors import UsageError
from tailgate.shadow._http import safe_url

__all__ = ["ShadowConfig"]


@dataclass(frozen=True)
class ShadowConfig:
    """What ``tailgate shadow`` serves (the CLI options; see docs/shadow.md).

    Attributes:
        primary: base URL of the primary (the client's path, e.g. ``/v1/chat/completions``, is appended).
        candidates: base URLs of the candidates (one run each: ``candidate``, ``candidate-2``, ...).
        host: address to listen on.
        port: port to listen on (0: any free port; see :attr:`ShadowProxy.port`).
        sample: share of mirrorable requests mirrored (by the request key's hash).
        noise: share of mirrored requests also re-sent to the primary (by an independent hash).
        run_id: the session id (runs ``RUN-primary``, ``RUN-candidate``, ``RUN-noise``); the same id appends.
        store: the records store (default: ``TAILGATE_STORE`` or ``./.tailgate``).
        queue: mirrors waiting for a worker, at most (past it a mirror is dropped and counted).
        mirror_concurrency: mirrors in flight at once.
        mirror_timeout: seconds a mirror call may take, in all.
        mirror_tools: mirror requests with tools / functions / tool_choice too.
        candidate_key_env: environment variable holding the candidates' API key (may be unset).
        candidate_model: the ``model`` the candidates are asked for (None: the client's).
        grace: seconds in-flight primaries (and then in-flight mirrors) get at shutdown.
        max_body: largest request body accepted, in bytes.
        primary_connections: connections to the primary, at most.
        traffic_rows: which proxied requests get a traffic-table row: ``all`` mirrorable ones,
            only the ``mirrored`` ones, or ``none``.
        intake: requests the mirror worker may fall behind by before they are dropped (``intake_full``).
        max_answer: bytes of a mirror answer read at most (past it: a ``malformed_response``, so a
            candidate that streams without end cannot fill the worker's memory).
    """

    primary: str
    candidates: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8080
    sample: float = 0.05
    noise: float = 0.0
    run_id: str | None = None
    store: str | Path | None = None
    queue: int = 1000
    mirror_concurrency: int = 16
    mirror_timeout: float = 30.0
    mirror_tools: bool = False
    candidate_key_env: str = "TAILGATE_CANDIDATE_API_KEY"
    candidate_model: str | None = None
    grace: float = 10.0
    max_body: int = 64 << 20
    primary_connections: int = 1024
    traffic_rows: str = "all"
    intake: int = field(default=10_000)
    max_answer: int = 64 << 20

    def check(self) -> None:
        if not self.candidates:
            raise UsageError("shadow needs at least one --candidate URL")
        for name, value in (("sample", self.sample), ("noise", self.noise)):
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"--{name} must be between 0 and 1, got {value}")
        for url in (self.primary, *self.candidates):
            parsed = URL(url)
            if parsed.scheme not in ("http", "https") or not parsed.host:
                raise UsageError(f"'{safe_url(url)}' is not an http(s) base URL")
        if self.traffic_rows not in ("all", "mirrored", "none"):
            raise UsageError(f"--traffic-rows must be all, mirrored or none, got {self.traffic_rows!r}")
        if self.queue < 1 or self.mirror_concurrency < 1 or self.mirror_timeout <= 0:
            raise UsageError("--queue, --mirror-concurrency and --mirror-timeout must be positive")
