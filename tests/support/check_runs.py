"""A run for a check under test: its id, trigger and deadline, as the runner gives them."""

from __future__ import annotations

import asyncio

from exporter.verdict import RunInfo


def run(timeout: float = 1.0) -> RunInfo:
    """A run whose deadline is ``timeout`` seconds from now on the running loop."""
    loop = asyncio.get_running_loop()
    return RunInfo("r" * 32, "http", loop.time() + timeout, timeout)
