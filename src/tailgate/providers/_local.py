"""``local:<alias or path.gguf>``: a GGUF model run in process by llama-cpp-python.

llama.cpp contexts are not safe to call from two threads at once, so the provider says
``max_concurrency = 1`` and also serialises calls behind a lock; calls run in a worker thread so
the event loop (progress bar, Ctrl-C) stays responsive. A per-call deadline and the run's
cancellation are checked between generated tokens.

Models load without llama.cpp's extra weight buffers (the repacked CPU layouts, AMX among them):
on a Xeon with AMX, llama-cpp-python 0.3.36 crashes (SIGSEGV) in the first multi-token decode
with them, and plain buffers answer the same. ``TAILGATE_LLAMA_EXTRA_BUFFERS=1`` turns them back on.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tailgate.errors import MissingDependency
from tailgate.providers._base import BaseProvider, ClientFault, ProviderOptions, Request, Response, TimeoutFault
from tailgate.providers._models import LocalModel, model_sha256, resolve_local_model
from tailgate.records import Mode

__all__ = ["LocalProvider", "without_extra_buffers"]

DEFAULT_CONTEXT = 4096


class LocalProvider(BaseProvider):
    """A llama.cpp model in this process."""

    max_concurrency: int | None = 1

    def __init__(self, name: str, options: ProviderOptions) -> None:
        self.name = f"local:{name}"
        self.model: LocalModel = resolve_local_model(name)
        self.options = options
        self.n_ctx = options.context_length or DEFAULT_CONTEXT
        self._llama: Any = None
        self._sha256: str | None = None
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tailgate-llama")
        _require_llama_cpp()

    def default_mode(self) -> Mode:
        return self.model.mode

    def identity(self) -> dict[str, Any]:
        st = self.model.path.stat()
        if self._sha256 is None:
            # what answers is the file's content, not its name: hashed once per (path, size, mtime)
            self._sha256 = self.model.sha256 or model_sha256(self.model.path)
        return {
            "provider": "local",
            "model": self.model.alias or self.model.path.name,
            "file": self.model.path.name,
            "size": st.st_size,
            "sha256": self._sha256,
            "n_ctx": self.n_ctx,
        }

    def describe(self) -> dict[str, Any]:
        """Manifest details: the resolved file and the llama-cpp-python version."""
        import llama_cpp

        return {
            **self.identity(),
            "path": str(self.model.path),
            "description": self.model.description,
            "llama_cpp_python": getattr(llama_cpp, "__version__", None),
        }

    async def generate(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._generate_sync, request)

    async def aclose(self) -> None:
        self._cancelled.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    def cancel(self) -> None:
        """Stop the call in progress at its next token (used on Ctrl-C)."""
        self._cancelled.set()

    def _load(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            without_extra_buffers()

            self._llama = Llama(
                model_path=str(self.model.path),
                n_ctx=self.n_ctx,
                n_threads=os.cpu_count() or 1,
                n_threads_batch=os.cpu_count() or 1,
                n_batch=min(2048, self.n_ctx),
                flash_attn=True,  # measured here: 25% faster prompt processing on 2 cores
                verbose=False,
                seed=0,
            )
        return self._llama

    def _generate_sync(self, request: Request) -> Response:
        from llama_cpp import LogitsProcessorList

        deadline = time.monotonic() + request.timeout_s
        timed_out = False
        with self._lock:
            llama = self._load()
            eos = llama.token_eos()

            def stop_at_deadline(_ids: Any, scores: Any) -> Any:
                # llama-cpp-python has no stopping hook for chat, so end the answer by forcing
                # end-of-sequence once the deadline passes or the run is cancelled.
                nonlocal timed_out
                if time.monotonic() > deadline:
                    timed_out = True
                if timed_out or self._cancelled.is_set():
                    scores[:] = -float("inf")
                    scores[eos] = 0.0
                return scores

            kwargs: dict[str, Any] = {
                "temperature": request.temperature,
                "top_p": request.top_p,
                "max_tokens": request.max_tokens,
                "stop": list(request.stop) or None,
                "seed": request.seed,
                "logits_processor": LogitsProcessorList([stop_at_deadline]),
            }
            try:
                if request.prompt.mode == "chat":
                    out = llama.create_chat_completion(messages=list(request.prompt.messages), **kwargs)
                    text = out["choices"][0]["message"]["content"] or ""
                else:
                    out = llama.create_completion(prompt=request.prompt.text, **kwargs)
                    text = out["choices"][0]["text"]
            except ValueError as exc:  # e.g. "Requested tokens (5000) exceed context window of 4096"
                raise ClientFault(str(exc)) from None
        if timed_out:
            raise TimeoutFault(f"no answer within {request.timeout_s:g} s")
        if self._cancelled.is_set():
            raise asyncio.CancelledError
        usage = out.get("usage") or {}
        return Response(
            text=text,
            tokens_in=usage.get("prompt_tokens"),
            tokens_out=usage.get("completion_tokens"),
            finish_reason=out["choices"][0].get("finish_reason"),
        )


def without_extra_buffers() -> None:
    """Make every later ``llama_cpp.Llama(...)`` in this process load without extra (repacked)
    weight buffers, unless ``TAILGATE_LLAMA_EXTRA_BUFFERS=1``. Idempotent; also used to start
    ``llama_cpp.server`` in the tests (see the module docstring for why)."""
    if os.environ.get("TAILGATE_LLAMA_EXTRA_BUFFERS") == "1":
        return
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params
    if getattr(original, "_tailgate", False):
        return

    def defaults() -> Any:
        params = original()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    defaults._tailgate = True  # type: ignore[attr-defined]
    lib.llama_model_default_params = defaults


def _require_llama_cpp() -> None:
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        raise MissingDependency(
            "local models need llama-cpp-python: pip install 'tailgate[local,models]' "
            "(it builds from source in a few minutes the first time)"
        )
