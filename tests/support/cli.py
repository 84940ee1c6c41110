"""Running the real ``tailgate`` command in a subprocess (real exit codes, real stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tailgate(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # this checkout's sources first, not whatever tailgate the virtualenv has installed
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tailgate", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


def tailgate_ok(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the CLI, assert it exited 0 (showing its stderr if not), return its stdout."""
    proc = tailgate(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
