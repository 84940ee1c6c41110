"""Shared parts of the shadow proxy's benchmarks: services, the load generator, summaries.

Used by ``bench/shadow_latency.py`` and ``bench/shadow_chaos.py``; not a benchmark by itself.

* ``Services`` starts and stops the processes of one benchmark: mocks (``bench/shadow_mock.py``),
  ``tailgate shadow`` proxies (from ``--proxy-src``, default this checkout's ``src``), and a
  private nginx instance (``/usr/sbin/nginx -p DIR``, never the system service) whose ``mirror``
  module copies every request to a second mock.
* The load generator is a separate process (``python bench/shadow_harness.py load ...``, uvloop and
  one aiohttp session) so that its CPU is not the proxy's: it sends ``n`` requests at a fixed
  concurrency and writes, per request, the status, time to first body byte, total time, the
  sha256 of the body bytes and whether an SSE body ended with ``data: [DONE]``.

Request ``i`` is a pure function of ``i`` (chat for three in four, completions for the rest), so
the same ``i`` sent direct, through tailgate and through nginx must give the same bytes back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NGINX = "/usr/sbin/nginx"
CLIENT_KEY = "sk-client-canary-7f3a9c1e5b"  # sent by the load generator; must never reach a candidate
CANDIDATE_KEY = "sk-candidate-canary-2d8e4b6a0f"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STREAM_OFFSET = 1_000_000


def request_body(i: int, stream: bool, pad: int = 0) -> tuple[str, bytes]:
    """The path and body bytes of request ``i`` (``pad`` extra bytes of user text).

    A streamed request ``i`` asks about ``STREAM_OFFSET + i``: the proxy keys a request without its
    ``stream`` flag, so the same text streamed would be a repeat (recorded once, not mirrored again).
    """
    if stream:
        i += STREAM_OFFSET
    text = f"request {i}: summarise the numbers {i * 7919 % 10007} and {i * 104729 % 65521}." + "x" * pad
    if i % 4 == 3:
        path, body = "/v1/completions", {"model": "mock", "prompt": text, "max_tokens": 64, "temperature": 0.0}
    else:
        body = {"model": "mock", "messages": [{"role": "user", "content": text}], "max_tokens": 64, "temperature": 0.0}
        path = "/v1/chat/completions"
    if stream:
        body["stream"] = True
    return path, json.dumps(body, separators=(",", ":")).encode()


def get_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def get_text(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return str(resp.read().decode())


def wait_http(url: str, proc: subprocess.Popen[bytes] | None, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError as exc:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode} before answering {url}") from exc
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f} s") from exc
            time.sleep(0.1)


@dataclass
class Services:
    """The processes of one benchmark, stopped (in reverse order) on exit."""

    workdir: Path
    proxy_src: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        self.procs.append((name, proc))
        return proc

    def mock(self, name: str, *extra: str) -> str:
        port = free_port()
        cmd = [sys.executable, str(HERE / "shadow_mock.py"), "--port", str(port), "--label", name, *extra]
        proc = self._spawn(name, cmd)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/stats", proc, name)
        return base

    def proxy(self, name: str, primary: str, candidate: str, *extra: str, prelude: str = "") -> str:
        """Start ``tailgate shadow``; ``prelude``: Python run before the CLI (diagnostics only)."""
        port = free_port()
        store = self.workdir / f"{name}-store"
        launcher = ["-c", f"{prelude}\nfrom tailgate.cli import main\nmain()"] if prelude else ["-m", "tailgate"]
        cmd = [sys.executable, *launcher, "shadow", "--primary", primary, "--candidate"]
        cmd += [candidate, "--listen", f"127.0.0.1:{port}", "--run-id", name, "--quiet", *extra]
        env = {
            "PYTHONPATH": str(self.proxy_src),
            "TAILGATE_STORE": str(store),
            "TAILGATE_CANDIDATE_API_KEY": CANDIDATE_KEY,
        }
        proc = self._spawn(name, cmd, env)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", proc, f"tailgate shadow ({name})")
        return base

    def nginx(self, name: str, primary: str, mirror: str) -> str:
        if not Path(NGINX).is_file():
            raise SystemExit(f"{NGINX} not found: apt-get install nginx-light (or leave nginx out of --targets)")
        port = free_port()
        prefix = self.workdir / name
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, primary=primary[7:], mirror=mirror[7:]))
        proc = self._spawn(name, [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs/error.log")])
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/__nginx_ok", proc, "nginx")
        return base

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()

    def pids(self, name: str) -> list[int]:
        """The process ``name`` started here and its children (nginx's workers)."""
        roots = [proc.pid for n, proc in self.procs if n == name]
        out = list(roots)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid in roots:
                out.append(int(stat.parent.name))
        return out

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def services(proxy_src: Path, keep: bool = False) -> Iterator[Services]:
    workdir = Path(tempfile.mkdtemp(prefix="shadowbench-"))
    svc = Services(workdir, proxy_src)
    try:
        yield svc
    finally:
        svc.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


# nginx: one worker (tailgate shadow is one process), keep-alive to both upstreams, no buffering of
# the response (SSE passes through as it comes), the request body buffered in memory (the mirror
# subrequest needs it), every temp path inside the private prefix.
NGINX_CONF = """
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 64m;
    client_body_buffer_size 16m;
    keepalive_requests 1000000;
    upstream primary {{ server {primary}; keepalive 64; }}
    upstream mirror {{ server {mirror}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location = /__nginx_ok {{ return 200 "ok"; }}
        location / {{
            mirror /__mirror;
            mirror_request_body on;
            proxy_pass http://primary;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
        location = /__mirror {{
            internal;
            proxy_pass http://mirror$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


# -- load generator (runs in its own process) --------------------------------------------------


@dataclass
class Phase:
    """What one load-generator process measured."""

    target: str
    stream: bool
    start: int
    status: list[int]
    ttfb_ms: list[float]
    total_ms: list[float]
    server_ms: list[float]  # the mock's own time (X-Mock-Elapsed-Us), -1 when not sent
    sha: list[str]
    done: list[bool]
    wall_s: float
    cpu_s: float
    server_cpu_s: float = 0.0  # CPU of the target's own process(es) during the phase (not the mock's)
    # the first of them alone (tailgate: the proxy's process, without its mirror worker)
    server_main_cpu_s: float = 0.0

    @property
    def n(self) -> int:
        return len(self.status)


def run_load(
    url: str,
    target: str,
    start: int,
    n: int,
    concurrency: int,
    stream: bool,
    workdir: Path,
    pad: int = 0,
    pids: list[int] | None = None,
    settle: Any = None,
) -> Phase:
    """Send requests ``start .. start+n-1`` in a load-generator process; ``pids``: whose CPU to count;
    ``settle``: called after the load and before the CPU is read again (a proxy's ``drain``, so
    that the work its mirror worker does after the last answer is the phase's too)."""
    out = workdir / f"load-{target}-{start}-{int(stream)}.json"
    main0 = cpu_seconds((pids or [])[:1])
    cpu0 = cpu_seconds(pids or [])
    cmd = [sys.executable, str(HERE / "shadow_harness.py"), "load", url, str(start), str(n), str(concurrency)]
    cmd += ["--out", str(out), "--pad", str(pad)] + (["--stream"] if stream else [])
    subprocess.run(cmd, check=True)
    if settle is not None:
        settle()
    server_cpu = cpu_seconds(pids or []) - cpu0
    server_main = cpu_seconds((pids or [])[:1]) - main0
    data = json.loads(out.read_text())
    out.unlink()
    return Phase(
        target=target, stream=stream, start=start, server_cpu_s=server_cpu, server_main_cpu_s=server_main, **data
    )


async def _load(url: str, start: int, n: int, concurrency: int, stream: bool, pad: int) -> dict[str, Any]:
    import aiohttp

    status = [0] * n
    ttfb = [0.0] * n
    total = [0.0] * n
    sha = [""] * n
    done = [False] * n
    server = [-1.0] * n
    next_index = iter(range(n))
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {CLIENT_KEY}"}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:

        async def worker() -> None:
            for k in next_index:
                path, body = request_body(start + k, stream, pad)
                h = hashlib.sha256()
                first = 0.0
                tail = b""
                t0 = time.perf_counter()
                try:
                    async with session.post(url + path, data=body, headers=headers) as resp:
                        async for chunk in resp.content.iter_any():
                            if not first:
                                first = time.perf_counter()
                            h.update(chunk)
                            tail = (tail + chunk)[-16:]
                        status[k] = resp.status
                        server[k] = float(resp.headers.get("X-Mock-Elapsed-Us", -1000)) / 1000
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status[k] = -1
                    h.update(type(exc).__name__.encode())
                end = time.perf_counter()
                ttfb[k] = ((first or end) - t0) * 1000
                total[k] = (end - t0) * 1000
                sha[k] = h.hexdigest()[:32]
                done[k] = tail.endswith(b"data: [DONE]\n\n")

        t0 = time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - t0
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "status": status,
        "ttfb_ms": ttfb,
        "total_ms": total,
        "server_ms": server,
        "sha": sha,
        "done": done,
        "wall_s": wall,
        "cpu_s": cpu,
    }


def _load_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="shadow_harness.py load")
    parser.add_argument("url")
    parser.add_argument("start", type=int)
    parser.add_argument("n", type=int)
    parser.add_argument("concurrency", type=int)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--pad", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    result = asyncio.run(_load(args.url, args.start, args.n, args.concurrency, args.stream, args.pad))
    Path(args.out).write_text(json.dumps(result))


# -- summaries ---------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    """The q-quantile, linear interpolation between order statistics (numpy's default, type 7)."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def percentiles(values: list[float]) -> dict[str, float]:
    return {f"p{int(q * 100)}": round(quantile(values, q), 3) for q in (0.5, 0.95, 0.99)}


def spread(values: list[float]) -> dict[str, float | int]:
    """Median over rounds, with the smallest and largest round (the rounds' own spread)."""
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "rounds": len(values),
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (all their threads), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def prom_counters(text: str) -> dict[str, float]:
    """Every sample of a Prometheus text exposition, keyed ``name{label="v",...}``."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = float(sample.value)
    return out


# -- the proxy's accounting (its /metrics and its store) -------------------------------------


@dataclass(frozen=True)
class Accounting:
    """The proxy's request and mirror counters at one moment (its ``/metrics`` and ``/healthz``).

    Every mirrorable request ends in exactly one of: not sampled, skipped (by reason: a repeat,
    tools, ...), dropped (queue or intake full), mirrored; a mirrored request's candidate call then
    succeeds or fails (``failed`` counts the failures among ``calls``, the finished candidate calls).
    """

    requests: float
    not_sampled: float
    skipped: float
    dropped: float
    mirrored: float
    calls: float
    failed: float
    pending: float

    def minus(self, other: Accounting) -> Accounting:
        fields = ("requests", "not_sampled", "skipped", "dropped", "mirrored", "calls", "failed")
        return Accounting(**{f: getattr(self, f) - getattr(other, f) for f in fields}, pending=self.pending)

    @property
    def balanced(self) -> bool:
        """Nothing pending, every request accounted for once, every mirror's call finished."""
        ends = self.not_sampled + self.skipped + self.dropped + self.mirrored
        return self.pending == 0 and ends == self.requests and self.calls == self.mirrored

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def read_accounting(base: str) -> Accounting:
    samples = prom_counters(get_text(f"{base}/metrics"))
    health = get_json(f"{base}/healthz")

    def total(name: str, **labels: str) -> float:
        want = [f'{k}="{v}"' for k, v in labels.items()]
        return sum(
            v for k, v in samples.items() if (k == name or k.startswith(name + "{")) and all(w in k for w in want)
        )

    counts = health.get("counts", {})
    # not_sampled: /metrics has no counter for it (reported to the proxy helper); /healthz has it
    not_sampled = total("tailgate_shadow_not_sampled_total") or float(counts.get("not_sampled", 0))
    return Accounting(
        requests=total("tailgate_shadow_requests_total", kind="mirrorable"),
        not_sampled=not_sampled,
        skipped=total("tailgate_shadow_skipped_total"),
        dropped=total("tailgate_shadow_dropped_total"),
        mirrored=total("tailgate_shadow_mirrored_total"),
        calls=total("tailgate_shadow_mirror_calls_total", target="candidate"),
        failed=total("tailgate_shadow_failed_total", target="candidate"),
        # mirrors queued or in flight, requests handed to the mirror worker and not yet taken, and
        # what its writer still holds (records, traffic rows)
        pending=float(health.get("queue", 0))
        + float(health.get("in_flight_mirrors", 0))
        + float(health.get("worker", {}).get("intake", 0))
        + float(health.get("writer_backlog", 0)),
    )


def failures_by_class(base: str) -> dict[str, float]:
    """The candidate's failed mirror calls by error class (``tailgate_shadow_failed_total``)."""
    out: dict[str, float] = {}
    for key, value in prom_counters(get_text(f"{base}/metrics")).items():
        if key.startswith("tailgate_shadow_failed_total{") and 'target="candidate"' in key:
            cls = key.split('error_class="', 1)[1].split('"', 1)[0]
            out[cls] = out.get(cls, 0.0) + value
    return out


def decided(base: str, timeout: float = 30.0) -> None:
    """Wait until the proxy's mirror worker has taken every request handed to it (its counters
    then include every decision, even while mirrors stay queued, as behind a hanging candidate)."""
    deadline = time.monotonic() + timeout
    while get_json(f"{base}/healthz").get("worker", {}).get("intake", 0) and time.monotonic() < deadline:
        time.sleep(0.05)


def drain(base: str, timeout: float = 30.0) -> Accounting:
    """Wait until the proxy has no mirror queued or in flight (or ``timeout``); the counters then."""
    deadline = time.monotonic() + timeout
    while True:
        acc = read_accounting(base)
        if acc.pending == 0 or time.monotonic() > deadline:
            return acc
        time.sleep(0.05)


def records_by_key(store_root: Path, run_id: str) -> dict[str, Any]:
    """How many records each run of a shadow session holds, and whether primary and candidate pair."""
    from tailgate.store import Store

    store = Store(store_root)
    out: dict[str, Any] = {}
    keys: dict[str, set[str]] = {}
    for role in ("primary", "candidate", "noise"):
        try:
            rows = store.read_records(f"{run_id}-{role}").to_pylist()
        except Exception as exc:  # a run that does not exist is reported, not raised
            out[role] = f"unreadable: {type(exc).__name__}"
            continue
        out[role] = len(rows)
        keys[role] = {str(r["sample_id"]).split("/")[0] for r in rows}
    out["consistent"] = bool(keys.get("primary")) and keys.get("primary") == keys.get("candidate")
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"]:
        _load_main(sys.argv[2:])
    else:
        sys.exit(__doc__)
