"""A real ``python -m llama_cpp.server`` (llama-cpp-python's OpenAI-compatible server) for tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tailgate.providers import resolve_local_model


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_server(alias: str, model_alias: str, *extra: str, n_ctx: int = 4096) -> Iterator[str]:
    """Serve a local model alias (``smollm2-135m``, ``gemma3-270m``); yields the ``.../v1`` base URL.

    The server runs with the local provider's safe loading (no extra weight buffers: they crash
    llama.cpp on AMX CPUs); its log is kept in ``$TMPDIR/llama-server-PORT.log``.
    """
    port = free_port()
    model = resolve_local_model(alias).path
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-server-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import runpy; from tailgate.providers._local import without_extra_buffers; "
                "without_extra_buffers(); runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                str(n_ctx),
                "--model_alias",
                model_alias,
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except urllib.error.HTTPError:
                break  # it answers (401: started with --api_key)
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama_cpp.server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)
