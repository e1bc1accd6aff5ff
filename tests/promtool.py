"""Finding a tool the tests run (promtool, rsyslogd, journal daemons): a missing tool skips
loudly, and fails under CI=true."""

from __future__ import annotations

import os
import shutil

import pytest


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
