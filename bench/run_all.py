"""`make bench`: the runner benchmarks that need nothing beyond this repository.

The peers need their own environments: run `bash bench/peers.sh` after
`bash ../shared/bench-peers/setup.sh`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    for script in ("mock_runner.py", "local_overhead.py"):
        subprocess.run([sys.executable, str(HERE / script)], check=True)
