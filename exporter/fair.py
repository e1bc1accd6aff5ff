"""The connection slots of --web.max-connections, shared fairly between client addresses: a
connection from an address holding few takes the slot of an idle one of the address holding
the most."""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from typing import Protocol

from aiohttp import hdrs, web
from prometheus_client import Counter

# Connections accepted beyond the cap, each waiting for a slot: as many as the listen backlog
# holds (exporter.server.BACKLOG), so a newcomer from another address is seen, not left behind
# a flood in the kernel's queue, which is first come first served. Each costs a descriptor and
# about 1.5 KB (1 000 idle ones: 1.4 MB of RSS).
SURPLUS = 1024


class Phase(enum.IntEnum):
    """Where a connection is, in the order the pool chooses one to close."""

    IDLE = 0  # before its first request, or between requests
    HEAD = 1  # a TLS handshake, or a request head (or body) under way
    ANSWER = 2  # a request being answered (a 431 too): never closed for a newcomer


class Member(Protocol):
    """A connection as the pool sees it."""

    @property
    def key(self) -> str:
        """Its share: the address (IPv6: the /64) it came from, as exporter.web.login_gate."""

    def phase(self) -> Phase:
        """Where it is now."""

    def evict(self) -> None:
        """Close it at once; the pool is told when it is gone, through release()."""


class Pool:
    """``size`` slots shared by every listening socket, and up to ``surplus`` connections more
    waiting for one: at most size + surplus connections (and descriptors) at once. A freed slot
    goes to the waiting connection whose address holds the fewest, the oldest first. A
    connection that waits for a slot while its address holds at least two fewer than the
    address holding the most closes one of the latter's: the oldest idle between requests, else
    the oldest in a handshake or a head; never one being answered (that one's answer closes its
    connection, as every answer does while a connection waits). A single address can take every
    slot, and its own waiting connections never close its others. Used from the event loop."""

    def __init__(self, size: int, evicted: Counter, surplus: int = SURPLUS) -> None:
        self.size = size
        self.surplus = surplus
        self.watching = 0  # accept loops that see a connection in their backlog and no room
        self._evicted = evicted
        self._held: dict[str, dict[Member, None]] = {}  # by address, the oldest first
        self._live: dict[str, int] = {}  # of those, the ones not being evicted
        self._evicting: set[Member] = set()
        self._slots = 0  # held, evicted ones included
        # Waiting, by address (the address waiting longest first), each the oldest first.
        self._queues: dict[str, deque[tuple[Member, asyncio.Future[None]]]] = {}
        self._queued = 0
        self._reserved = 0  # accept loops about to accept
        self._room = asyncio.Event()
        self._room.set()

    @property
    def waiting(self) -> int:
        """Connections waiting for a slot, accepted or (as far as the accept loops saw) not."""
        return self._queued + self.watching

    def held(self, key: str) -> list[Member]:
        """The connections of ``key`` holding a slot, the oldest first."""
        return list(self._held.get(key, ()))

    def has_room(self) -> bool:
        """A slot or a place to wait is free."""
        return self._slots + self._queued + self._reserved < self.size + self.surplus

    async def reserve(self) -> None:
        """Until there is room for one more connection; then take it, for admit()."""
        while not self.has_room():
            self._room.clear()
            await self._room.wait()
        self._reserved += 1

    def unreserve(self) -> None:
        """Give back a reserve() no connection came of."""
        self._reserved -= 1
        self._changed()

    def admit(self, member: Member) -> asyncio.Future[None]:
        """Place a connection accepted after reserve(): done when it holds a slot."""
        self._reserved -= 1
        granted = asyncio.get_running_loop().create_future()
        if self._slots < self.size:  # nobody waits, or they would hold this slot
            self._hold(member, granted)
        else:
            self._queues.setdefault(member.key, deque()).append((member, granted))
            self._queued += 1
            self._evict_for(member.key)
        return granted

    def release(self, member: Member) -> None:
        """A connection is gone: its slot (or its place in the queue) is free. Once or more."""
        key = member.key
        held = self._held.get(key)
        if held is not None and member in held:
            del held[member]
            if member in self._evicting:
                self._evicting.discard(member)
            else:
                self._live[key] -= 1
            if not held:
                del self._held[key]
                del self._live[key]
            self._slots -= 1
            self._grant()
        else:
            queue = self._queues.get(key, deque())
            place = next((entry for entry in queue if entry[0] is member), None)
            if place is None:
                return
            queue.remove(place)
            self._queued -= 1
            if not queue:
                del self._queues[key]
        self._changed()

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """An app's on_response_prepare signal: while a connection waits, no keep-alive."""
        if self.waiting:
            response.force_close()
            # aiohttp has prepared its headers (keep-alive) by now: tell the client too.
            response.headers[hdrs.CONNECTION] = "close"

    def _hold(self, member: Member, granted: asyncio.Future[None]) -> None:
        self._held.setdefault(member.key, {})[member] = None
        self._live[member.key] = self._live.get(member.key, 0) + 1
        self._slots += 1
        granted.set_result(None)

    def _grant(self) -> None:
        """The free slot to the oldest waiting connection of the address holding the fewest
        (of equal ones, the address waiting longest); one cancelled is passed over, and is
        released by its own task."""
        for key in sorted(self._queues, key=lambda k: self._live.get(k, 0)):  # a stable sort
            for member, granted in self._queues[key]:
                if not granted.done():
                    self._queues[key].remove((member, granted))
                    self._queued -= 1
                    if not self._queues[key]:
                        del self._queues[key]
                    self._hold(member, granted)
                    return

    def _evict_for(self, key: str) -> None:
        """Close a connection of the address holding the most, when ``key`` holds (with its
        waiting connections) fewer than it: after the swap it holds no more than that one."""
        mine = self._live.get(key, 0) + len(self._queues[key])
        biggest = max((k for k in self._live if k != key), key=self._live.__getitem__, default="")
        if not biggest or mine >= self._live[biggest]:
            return
        victim = min(
            (m for m in self._held[biggest] if m not in self._evicting),
            key=lambda m: m.phase(),  # min() keeps the first, the oldest, of equal phases
        )
        if victim.phase() == Phase.ANSWER:
            return
        self._evicting.add(victim)
        self._live[biggest] -= 1
        self._evicted.inc()
        victim.evict()

    def _changed(self) -> None:
        if self.has_room():
            self._room.set()
