"""The QueueListeners a canary was queued for, awaited together until the check's deadline:
a queue passes when one of its listeners delivered it, and what that listener's handlers did
is listed after the queue."""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import replace

from exporter.inside.follow import Handled, HostReason, State
from exporter.inside.queues import running
from exporter.inside.trail import Trail, Wait


async def delivered(trail: Trail, deadline: float, timeout_seconds: float) -> None:
    """Wait until every queue the canary went on has a listener that delivered it, or the
    deadline; then list each listener's handlers after its queue, or fail the queue."""
    loop = asyncio.get_running_loop()
    waits = [w for w in trail.waits if trail.handled[w.index].state is State.OK]
    for wait in trail.waits:
        if wait not in waits:
            wait.delivered.cancel()  # the queue refused it: nothing to wait for
    pending = {asyncio.wrap_future(w.delivered, loop=loop): w for w in waits}
    while pending and not _all_delivered(waits):
        left = deadline - loop.time()
        if left <= 0:
            break
        done, _ = await asyncio.wait(pending, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        for future in done:
            del pending[future]
    for future in pending:
        future.cancel()
    added: dict[int, list[Handled]] = {}
    for index in sorted({w.index for w in waits} | trail.unread):
        entry = trail.handled[index]
        if entry.state is not State.OK:
            continue  # the queue refused it (full): that failure stands
        mine = [w for w in waits if w.index == index]
        got = [w.delivered.result() for w in mine if _delivered(w.delivered)]
        if got:
            added[index] = got[0]
            trail.followed.add(entry.name)
            continue
        if index in trail.unread:
            why = "no QueueListener in this process reads its queue, so nothing delivers it"
        else:
            stopped = (
                "" if any(running(w.listener) for w in mine) else " (its thread is not running)"
            )
            why = (
                f"its QueueListener did not deliver the canary within {timeout_seconds:g}s{stopped}"
            )
        trail.handled[index] = replace(
            entry, state=State.FAIL, reason=HostReason.TIMEOUT, error=f"{entry.name}: {why}"
        )
    for index in sorted(added, reverse=True):
        trail.handled[index + 1 : index + 1] = added[index]


def _delivered(future: concurrent.futures.Future[list[Handled]]) -> bool:
    return future.done() and not future.cancelled()


def _all_delivered(waits: list[Wait]) -> bool:
    """Whether every queue has a listener that delivered the canary."""
    return all(
        any(_delivered(w.delivered) for w in waits if w.index == index)
        for index in {w.index for w in waits}
    )
