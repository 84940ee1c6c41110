"""Reading back a result saved with ``--json FILE`` (``tailgate gate --comparison / --drift /
--judge-attack / --redteam FILE``): one way to read the file and to say what is wrong with it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tailgate.errors import InputError

__all__ = ["load_saved"]

T = TypeVar("T")


def load_saved(
    path: str,
    parse: Callable[[dict[str, Any]], T],
    *,
    command: str,
    what: str,
    required: tuple[str, ...] = (),
    check: Callable[[dict[str, Any]], str | None] | None = None,
) -> T:
    """``parse`` of the JSON object in ``path``, saved by ``tailgate COMMAND --json``.

    ``required`` keys must be there; ``check`` may name another reason the file is not such a
    result (a schema version). Every failure is an :class:`InputError` naming the file: it cannot
    be read (``what`` says what it should hold), it is not JSON, or ``parse`` refuses it.

    Example:
        >>> load_saved("/no/such.json", dict, command="drift", what="drift report")
        Traceback (most recent call last):
        ...
        tailgate.errors.InputError: /no/such.json: cannot read the drift report: No such file or directory
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise InputError(f"not the JSON of tailgate {command} (not an object)", file=path)
        missing = [key for key in required if key not in data]
        if missing:
            raise InputError(f"not the JSON of tailgate {command} (no {', '.join(map(repr, missing))})", file=path)
        reason = check(data) if check is not None else None
        if reason is not None:
            raise InputError(f"not the JSON of tailgate {command} ({reason})", file=path)
        return parse(data)
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror or exc}", file=path) from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"not the JSON of tailgate {command}: {exc}", file=path) from exc
