"""Waiting on a condition, never on a fixed sleep: a generous deadline, a short poll."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

DEADLINE = 10.0
POLL = 0.005


async def until(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Return once ``condition()`` holds; fail naming ``what`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline:g}s: {what}")
        await asyncio.sleep(POLL)


def wait_until(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """``until`` for a test without an event loop: the same deadline, a blocking poll."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline:g}s: {what}")
        time.sleep(POLL)
