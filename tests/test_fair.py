"""Tests of exporter/fair.py: the pool of connection slots, with fake connections: a freed slot
to the address holding the fewest, a newcomer from a small holder taking an idle connection's
slot from the biggest, never one being answered, and at most size + surplus at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from exporter.fair import Phase, Pool
from exporter.metrics import create_connection_metrics

EVICTED = "smoke_test_http_connections_evicted_total"


@dataclass(eq=False)
class Fake:
    """A connection in a chosen phase, that records its eviction."""

    key: str
    now: Phase = Phase.IDLE
    evicted: bool = False

    def phase(self) -> Phase:
        return self.now

    def evict(self) -> None:
        self.evicted = True


@dataclass
class Pooled:
    pool: Pool
    registry: CollectorRegistry

    def evicted(self) -> float | None:
        return self.registry.get_sample_value(EVICTED)

    async def enter(self, key: str, now: Phase = Phase.IDLE) -> tuple[Fake, asyncio.Future[None]]:
        """A connection from ``key`` accepted: reserved, then admitted."""
        await self.pool.reserve()
        member = Fake(key, now)
        return member, self.pool.admit(member)

    async def fill(self, key: str, count: int, now: Phase = Phase.IDLE) -> list[Fake]:
        members = []
        for _ in range(count):
            member, granted = await self.enter(key, now)
            assert granted.done()
            members.append(member)
        return members


def pooled(size: int, surplus: int = 4) -> Pooled:
    registry = CollectorRegistry()
    return Pooled(Pool(size, create_connection_metrics(registry).evicted, surplus), registry)


async def test_a_newcomer_takes_the_slot_of_the_oldest_idle_one_of_the_biggest_holder() -> None:
    one = pooled(4)
    a1, a2, a3 = await one.fill("a", 3)
    (b1,) = await one.fill("b", 1)
    a1.now = Phase.ANSWER  # the oldest is being answered: never closed
    a2.now = Phase.HEAD  # a head under way: only when no idle one is left
    c1, granted = await one.enter("c")
    assert (a1.evicted, a2.evicted, a3.evicted, b1.evicted) == (False, False, True, False)
    assert (granted.done(), one.pool.waiting, one.evicted()) == (False, 1, 1)

    one.pool.release(a3)  # the evicted connection is gone: its slot is the newcomer's
    assert granted.done()
    assert (one.pool.held("a"), one.pool.held("c"), one.pool.waiting) == ([a1, a2], [c1], 0)


async def test_with_no_idle_connection_the_oldest_with_a_head_under_way_is_closed() -> None:
    one = pooled(3)
    a1, a2, a3 = await one.fill("a", 3, Phase.HEAD)
    await one.enter("b")
    assert (a1.evicted, a2.evicted, a3.evicted, one.evicted()) == (True, False, False, 1)


async def test_a_holder_whose_connections_are_all_being_answered_is_not_evicted() -> None:
    one = pooled(2)
    a1, a2 = await one.fill("a", 2, Phase.ANSWER)
    b1, granted = await one.enter("b")
    assert (a1.evicted, a2.evicted, one.evicted()) == (False, False, 0)
    # Its answer over, a connection closes, as every answer does while one waits.
    assert one.pool.waiting == 1
    one.pool.release(a2)
    assert granted.done()
    assert one.pool.held("b") == [b1]


async def test_one_address_uses_every_slot_and_its_own_waiting_connections_close_none() -> None:
    one = pooled(3)
    held = await one.fill("a", 3)
    waiting = [await one.enter("a") for _ in range(2)]
    assert [member.evicted for member in held] == [False] * 3
    assert (one.evicted(), one.pool.waiting) == (0, 2)
    # Freed slots go to the waiting ones in the order they came.
    one.pool.release(held[0])
    assert [granted.done() for _, granted in waiting] == [True, False]
    one.pool.release(held[1])
    assert [granted.done() for _, granted in waiting] == [True, True]
    assert one.pool.held("a") == [held[2], waiting[0][0], waiting[1][0]]


@pytest.mark.parametrize(("holds", "evicts"), [(0, True), (1, True), (2, False), (3, False)])
async def test_a_newcomer_evicts_only_when_its_address_holds_two_fewer_than_the_biggest(
    holds: int, evicts: bool
) -> None:
    # After the swap it holds no more than the biggest then holds: no two addresses take a
    # slot back and forth.
    one = pooled(holds + 3)
    big = await one.fill("a", 3)
    await one.fill("b", holds)
    await one.enter("b")
    assert (big[0].evicted, one.evicted()) == (evicts, int(evicts))


async def test_the_waiting_connections_of_an_address_count_as_its_own() -> None:
    one = pooled(4)
    a = await one.fill("a", 4)
    await one.enter("b")  # holds 0, and 1 with itself: evicts
    await one.enter("b")  # 2 with the one before, against 3 live: evicts
    await one.enter("b")  # 3 against 2: does not
    assert ([m.evicted for m in a], one.evicted()) == ([True, True, False, False], 2)


async def test_a_freed_slot_goes_to_the_waiting_address_holding_the_fewest() -> None:
    one = pooled(4)
    a = await one.fill("a", 2, Phase.ANSWER)
    await one.fill("b", 2, Phase.ANSWER)
    b3, from_b = await one.enter("b")  # waits first, holding 2
    c1, from_c = await one.enter("c")  # then c, holding none
    one.pool.release(a[0])
    assert (from_b.done(), from_c.done()) == (False, True)
    one.pool.release(a[1])
    assert from_b.done()
    assert (one.pool.held("b")[-1], one.pool.held("c")) == (b3, [c1])


async def test_at_most_size_plus_surplus_connections_are_taken_in() -> None:
    one = pooled(2, surplus=2)
    held = await one.fill("a", 2)
    await one.enter("a")
    await one.enter("a")
    assert not one.pool.has_room()
    blocked = asyncio.create_task(one.pool.reserve())
    await asyncio.sleep(0)  # it runs to its wait
    assert not blocked.done()
    one.pool.release(held[0])  # a slot to the first waiting, a place in the queue for the next
    await asyncio.wait_for(blocked, 10)
    assert not one.pool.has_room()
    one.pool.unreserve()  # the accept failed
    assert one.pool.has_room()


async def test_one_gone_while_it_waits_leaves_the_queue_and_a_cancelled_one_is_passed_over() -> (
    None
):
    one = pooled(1)
    (a1,) = await one.fill("a", 1, Phase.ANSWER)
    b1, _ = await one.enter("b")
    b2, from_b2 = await one.enter("b")
    c1, from_c1 = await one.enter("c")
    one.pool.release(b1)  # gone while it waited: twice is once
    one.pool.release(b1)
    from_b2.cancel()  # a stop under way: its task has not released it yet
    assert one.pool.waiting == 2
    one.pool.release(a1)
    assert (from_c1.done(), one.pool.held("c")) == (True, [c1])
    one.pool.release(b2)
    assert (one.pool.waiting, one.pool.held("b")) == (0, [])
