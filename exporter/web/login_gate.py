"""The gate password checks pass: a few at once, shared round robin between client addresses."""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict, deque
from types import TracebackType

# Checks one client address may have waiting for a turn; one more is refused at once.
MAX_WAITING = 4
# Addresses whose last turn is remembered: one forgotten counts as new, and goes first.
REMEMBERED = 1024


def half_the_cpus() -> int:
    """Checks at once by default: half the CPUs this process may use, at least one, so a
    flood of wrong passwords leaves the other half to serving (on 2 CPUs, 2 at once made a
    right password wait twice as long as 1 did, for no more checks a second)."""
    return max(1, len(os.sched_getaffinity(0)) // 2)


class Full(Exception):
    """This client address has as many checks waiting as it may."""


class LoginGate:
    """At most ``concurrency`` checks run at once. The others wait in one FIFO queue per
    client address, and a freed turn goes to the address served least recently, one never
    served (or forgotten) first, in the order they came: round robin between the addresses
    waiting, where a newcomer waits for one check to end at most, however long another
    address's flood. An address with ``max_waiting`` checks waiting is refused at once (Full).
    Used from the event loop only."""

    def __init__(self, concurrency: int, max_waiting: int = MAX_WAITING) -> None:
        self.concurrency = concurrency
        self.max_waiting = max_waiting
        self.running = 0
        self._queues: dict[str, deque[asyncio.Future[None]]] = {}  # addresses with waiters
        self._came: dict[str, int] = {}  # when each of them began to wait, by the clock
        self._served: OrderedDict[str, int] = OrderedDict()  # last turn, the oldest first
        self._clock = 0  # counts arrivals and turns

    def waiting(self, address: str) -> int:
        """How many checks from this address wait for a turn."""
        return len(self._queues.get(address, ()))

    def enter(self, address: str) -> Turn:
        """A place for one check from ``address``, taken now, to use as ``async with``;
        raises Full at once when the address has ``max_waiting`` checks waiting."""
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        if self.running < self.concurrency and not self._queues:
            self._give(address, turn)
            return Turn(self, turn)
        queue = self._queues.get(address)
        if queue is None:
            queue = self._queues[address] = deque()
            self._clock += 1
            self._came[address] = self._clock
        elif len(queue) >= self.max_waiting:
            raise Full(address)
        queue.append(turn)
        turn.add_done_callback(lambda done: self._forget(address, done))
        return Turn(self, turn)

    def release(self) -> None:
        """A check has ended: its turn goes to the next address in the round."""
        self.running -= 1
        self._serve()

    def _serve(self) -> None:
        while self.running < self.concurrency and self._queues:
            address = min(self._queues, key=self._order)  # few: one per connection at most
            queue = self._queues[address]
            turn = queue.popleft()
            if not queue:
                self._drop(address)
            if not turn.done():  # else given up on as its turn came
                self._give(address, turn)

    def _give(self, address: str, turn: asyncio.Future[None]) -> None:
        self.running += 1
        turn.set_result(None)
        self._clock += 1
        self._served[address] = self._clock
        self._served.move_to_end(address)
        if len(self._served) > REMEMBERED:
            self._served.popitem(last=False)

    def _order(self, address: str) -> tuple[int, int]:
        return self._served.get(address, 0), self._came[address]

    def _drop(self, address: str) -> None:
        del self._queues[address]
        del self._came[address]

    def _forget(self, address: str, turn: asyncio.Future[None]) -> None:
        """A waiter given up on (its task cancelled) leaves its queue."""
        queue = self._queues.get(address)
        if turn.cancelled() and queue is not None and turn in queue:
            queue.remove(turn)
            if not queue:
                self._drop(address)


class Turn:
    """One check's turn: ``async with`` waits for it and gives it back at the end."""

    __slots__ = ("_gate", "_turn")

    def __init__(self, gate: LoginGate, turn: asyncio.Future[None]) -> None:
        self._gate = gate
        self._turn = turn

    async def __aenter__(self) -> None:
        try:
            await self._turn
        except asyncio.CancelledError:
            # Cancelled after the turn was given but before it was used: pass it on.
            if self._turn.done() and not self._turn.cancelled():
                self._gate.release()
            raise

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._gate.release()
