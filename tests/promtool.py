"""Finding a tool the tests run (promtool, rsyslogd, journal daemons): a missing tool skips
loudly, and fails under CI=true."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def require(tool: str, package: str = "prometheus") -> str:
    """The tool's path (a name on PATH, or an absolute path); skip (or fail in CI) when it is
    not installed."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (Debian package {package}; `make test` installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    return path


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a Prometheus tool (promtool, amtool) from the repository root."""
    return subprocess.run(
        [require(name), *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
