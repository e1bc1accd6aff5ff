"""Tests of exporter/run/cutoff.py: hung checks are cut off; a late loop is not a hung check."""

from __future__ import annotations

import asyncio
import time

import pytest

from exporter.run.cutoff import LATE_SECONDS, CutOff, within


async def test_a_result_in_time_is_returned() -> None:
    async def quick() -> str:
        await asyncio.sleep(0.01)
        return "done"

    loop = asyncio.get_running_loop()
    assert await within(quick(), loop.time() + 1) == "done"


async def test_a_hung_check_is_cut_off_at_its_deadline_and_cancelled() -> None:
    cancelled = asyncio.Event()

    async def hung() -> str:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return "never"

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(CutOff):
        await within(hung(), started + 0.2)
    assert 0.2 <= loop.time() - started < 0.2 + LATE_SECONDS
    assert cancelled.is_set()


async def test_what_the_check_raises_is_raised_as_it_is() -> None:
    async def own_timeout() -> str:
        raise TimeoutError("upstream")

    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError, match=r"^upstream$"):
        await within(own_timeout(), loop.time() + 1)


async def test_a_result_held_up_by_a_busy_loop_is_not_a_timeout() -> None:
    async def quick() -> str:
        await asyncio.sleep(0.05)
        for _ in range(5):  # a few more trips through the loop's queue, as real checks take
            await asyncio.sleep(0)
        return "done"

    loop = asyncio.get_running_loop()
    # The loop is blocked from 10 ms to 510 ms: both the check's wake-up and its deadline
    # (200 ms) come due while it is, though the check would have been done in 50 ms.
    loop.call_later(0.01, time.sleep, 0.5)
    assert await within(quick(), loop.time() + 0.2) == "done"


async def test_a_hung_check_in_a_busy_loop_is_cut_off_after_one_extension() -> None:
    async def hung() -> str:
        await asyncio.Event().wait()
        return "never"

    loop = asyncio.get_running_loop()
    started = loop.time()
    loop.call_later(0.01, time.sleep, 0.5)
    with pytest.raises(CutOff):
        await within(hung(), started + 0.2)
    # Seen 0.31 s late at 0.51 s, extended by as much once: cut off at about 0.82 s.
    assert 0.8 <= loop.time() - started < 1.0
