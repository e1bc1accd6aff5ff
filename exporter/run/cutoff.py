"""A check's timeout that tells a hung check from an event loop running late."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")
# A timer that fires this much after its time means the loop was busy (a burst of connections,
# say), not that the check hung: work that finished in time may still be queued behind it.
LATE_SECONDS = 0.1


class CutOff(Exception):
    """The check had no result by its deadline."""


async def within(check: Awaitable[T], deadline: float) -> T:
    """``check``'s result, or CutOff once the loop's clock passes ``deadline``.

    The check runs as a task and is waited for, not cancelled from inside, so a result it had
    in time is never lost to the cancellation. When the deadline is seen late by more than
    LATE_SECONDS, the loop itself was behind: the check gets as long again as the loop was
    late, once. A check that raises, even TimeoutError, raises here as it is.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(check)
    extended = False
    try:
        while True:
            await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
            if task.done():
                return task.result()
            late = loop.time() - deadline
            if extended or late <= LATE_SECONDS:
                raise CutOff
            deadline, extended = loop.time() + late, True
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
