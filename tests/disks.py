"""A disk that really fills up: a 64 KiB tmpfs, mounted for a test (it needs root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tiny_filesystem(where: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a disk that really fills up, and frees space when a file goes."""
    where.mkdir()
    mount = shutil.which("mount")
    problem = "mount is not installed"
    if mount is not None:
        mounted = subprocess.run(
            [mount, "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            check=False,
        )
        problem = mounted.stderr.strip() if mounted.returncode else ""
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs in CI: {problem}")
        pytest.skip(f"SKIPPED LOUDLY: cannot mount a tmpfs here (it needs root): {problem}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)
