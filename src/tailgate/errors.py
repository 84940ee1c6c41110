"""The errors tailgate raises, and what each one means for a user.

Every error a user can cause or fix is a :class:`TailgateError`; the CLI prints its message
without a traceback and exits with its ``exit_code``. Anything else is a bug.

```
TailgateError                      exit 2 unless stated
├── UsageError                     a command-line option is wrong
├── InputError                     a file the user gave is wrong: names file, line, field
├── MissingDependency              an optional package or model is missing: says what to install
├── StoreError                     the records store cannot do what was asked
│   ├── RunNotFound                no run with that id
│   ├── RunLocked                  another process is writing that run
│   └── RunMismatch                resuming with a different suite, model or decoding
├── ProviderError                  an endpoint refuses the whole configuration (auth, unknown model)
├── RunFailed                      the run measured nothing: every call failed, or no sample could be
│                                  scored, or a persistent failure stopped it early (exit 3)
└── Interrupted                    the user pressed Ctrl-C; the run can be resumed (exit 130)
```

Per-sample faults from endpoints (429, 5xx, timeouts, resets, malformed JSON) are not errors of
this tree: they are :class:`tailgate.providers.Fault` values, retried by the runner and recorded
on the sample, never raised to the user.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "Interrupted",
    "MissingDependency",
    "ProviderError",
    "RunFailed",
    "RunLocked",
    "RunMismatch",
    "RunNotFound",
    "StoreError",
    "TailgateError",
    "UsageError",
]


class TailgateError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    exit_code = 2


class UsageError(TailgateError):
    """A command-line option or argument is wrong."""


class InputError(TailgateError):
    """A file the user gave is malformed, with the place where it is wrong.

    Args:
        message: what is wrong and, where possible, how to fix it.
        file: the file's path as the user wrote it.
        line: 1-based line (or row) number, when known.
        field: the field or key concerned, when known (dotted path for nested keys).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"field '{self.field}': " if self.field else ""
        return f"{where}{field}{self.message}"


class MissingDependency(TailgateError):
    """An optional dependency or model package is missing; the message says what to install."""


class StoreError(TailgateError):
    """The records store cannot do what was asked."""


class RunNotFound(StoreError):
    """No run with the given id exists in the store."""


class RunLocked(StoreError):
    """Another live process holds the run's write lock."""


class RunMismatch(StoreError):
    """An existing run cannot be resumed with a different configuration."""


class ProviderError(TailgateError):
    """The endpoint refuses the configuration itself (bad key, unknown model, bad URL)."""


class RunFailed(TailgateError):
    """A run that measured nothing: it is stored (and resumable), but it must not pass as a
    completed evaluation. The message names the cause."""

    exit_code = 3

    def __init__(self, message: str, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class Interrupted(TailgateError):
    """The user interrupted a run; everything completed so far is stored and resumable."""

    exit_code = 130
