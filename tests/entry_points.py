"""The exporter's real entry points, run as subprocesses with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ENTRY_POINTS = {
    "python-m-exporter": [sys.executable, "-m", "exporter"],
    "console-script": [str(Path(sys.executable).parent / "smoke-test-exporter")],
}


def run_entry_point(command: Sequence[str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run with none of the exporter's own variables, so the host environment cannot leak in."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SMOKE_TEST_")}
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, timeout=30, check=False
    )
