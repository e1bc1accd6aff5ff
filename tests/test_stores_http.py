"""Every HTTP store check (loki, elasticsearch, journal) against its stand-in on loopback (the
journal's real daemons are in tests/integration/test_journal_chain.py): every fault (down, slow,
5xx, 401, garbage, a dropped, duplicated, delayed, foreign or forged canary, a lost one), each
with its reason, its counter deltas, and recovery. The queries loki and elasticsearch are asked
are in tests/test_store_loki.py and tests/test_store_elasticsearch.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from exporter.checks.canaries import Canary
from exporter.checks.stores.check import StoreCheck, StoreReason
from exporter.checks.stores.client import StoreClient
from exporter.session import SharedSession
from exporter.verdict import CheckResult, RunInfo, Status
from tests.standins.balancer import Balancer, Drop
from tests.standins.base import Standin
from tests.support.books import FORGERIES, Books, body, forged, zero
from tests.support.stores_http import KINDS, Kind

# A run's deadline where timing is not what a test is about: 600 runs a round of loopback
# requests must not fail on one stall of a loaded machine.
GENEROUS = 10.0


class Setup:
    """A stand-in, a running shared HTTP client, and a store check over both; asked through
    ``url`` when given (a balancer in front of the stand-in)."""

    def __init__(
        self, kind: Kind, standin: Standin, http: SharedSession, delay: float, url: str = ""
    ) -> None:
        self.kind = kind
        self.standin = standin
        self.books = Books(max_delay=delay)
        options = kind.options(url or standin.url, delay)
        self.store = kind.store(StoreClient(http, options), options)
        self.check = StoreCheck(self.books.book, self.store)

    def write(self) -> Canary:
        (canary,) = self.books.write()
        return canary

    def ship(
        self, canary: Canary, copies: int = 1, after: float = 0.0, instance: str = "host-a"
    ) -> None:
        self.kind.ship(self.standin, body(canary, instance), copies, after)

    def forge(self, canary: Canary, copies: int = 1, **changed: Any) -> None:
        """Lines naming ``canary`` with ``changed`` fields (a signature left out or made up)."""
        self.kind.ship(self.standin, body(canary, **changed), copies, 0.0)

    async def run(self, within: float = 1.0) -> CheckResult:
        loop = asyncio.get_running_loop()
        return await self.check(RunInfo("r" * 32, "http", loop.time() + within, within))

    def counts(self) -> dict[str, float]:
        return self.books.counts()


@pytest.fixture(params=KINDS, ids=lambda k: k.name)
async def setup(request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    kind: Kind = request.param
    standin = kind.standin()
    await standin.start()
    http = SharedSession()
    await http.open()
    try:
        yield Setup(kind, standin, http, 0.3)
    finally:
        await http.close()
        await standin.stop()


@dataclass
class Balanced:
    """A store check asking its stand-in through a load balancer."""

    setup: Setup
    balancer: Balancer

    def unreachable(self, why: str) -> tuple[Status, StoreReason, str]:
        return (
            Status.FAIL,
            StoreReason.UNREACHABLE,
            f"no answer from {self.setup.store.component.id}: {why}",
        )


@pytest.fixture(params=KINDS, ids=lambda k: k.name)
async def balanced(request: pytest.FixtureRequest) -> AsyncIterator[Balanced]:
    kind: Kind = request.param
    standin = kind.standin()
    await standin.start()
    balancer = Balancer(standin.url)
    await balancer.start()
    http = SharedSession()
    await http.open()
    try:
        yield Balanced(Setup(kind, standin, http, 0.3, balancer.url), balancer)
    finally:
        await http.close()
        await balancer.stop()
        await standin.stop()


async def test_a_shipped_canary_is_found(setup: Setup) -> None:
    canary = setup.write()
    setup.ship(canary)
    result = await setup.run()
    assert result.status is Status.OK
    assert setup.counts() == zero(written=1, found=1)
    assert result.detail["newest"]["run_id"] == canary.run_id


async def test_a_store_that_is_down_is_unreachable_then_recovers(setup: Setup) -> None:
    canary = setup.write()
    port = setup.standin.url.rsplit(":", 1)[1]
    await setup.standin.stop()
    result = await setup.run()
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.UNREACHABLE)
    assert result.error == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    await setup.standin.start()
    setup.ship(canary)
    assert (await setup.run()).status is Status.OK
    assert setup.counts() == zero(written=1, found=1)  # still pending while it was down


async def test_a_slow_store_is_unreachable_within_the_timeout(setup: Setup) -> None:
    canary = setup.write()
    setup.ship(canary)
    setup.standin.faults.slow_seconds = 0.5
    result = await setup.run(within=0.2)
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.UNREACHABLE)
    assert result.error == "no answer within 0.2s"
    setup.standin.faults.slow_seconds = 0
    assert (await setup.run()).status is Status.OK
    assert setup.counts() == zero(written=1, found=1)


@pytest.mark.parametrize(
    ("status", "body", "reason", "error"),
    [
        (500, "internal error", StoreReason.QUERY, "status 500: 'internal error'"),
        (
            429,
            "too many outstanding requests",
            StoreReason.QUERY,
            "status 429: 'too many outstanding requests'",
        ),
        (401, "", StoreReason.AUTH, "status 401: (empty body)"),
        (403, "forbidden", StoreReason.AUTH, "status 403: 'forbidden'"),
        (200, "wrong shape", StoreReason.QUERY, None),
        (200, "[" * 100_000, StoreReason.QUERY, "JSON nested too deep to read"),
    ],
)
async def test_a_store_that_answers_wrong_fails_with_the_reason_and_recovers(
    setup: Setup, status: int, body: str, reason: StoreReason, error: str | None
) -> None:
    canary = setup.write()
    setup.ship(canary)
    if body == "wrong shape":
        body = setup.kind.wrong_shape
    setup.standin.faults.status, setup.standin.faults.body = status, body
    result = await setup.run()
    assert (result.status, result.reason) == (Status.FAIL, reason)
    if error is not None:
        assert result.error == error
    else:
        assert result.error is not None
        assert result.error.startswith("not the documented answer: ")
    assert setup.counts() == zero(written=1)
    setup.standin.faults.status = None
    assert (await setup.run()).status is Status.OK
    assert setup.counts() == zero(written=1, found=1)


async def test_garbage_is_a_query_failure(setup: Setup) -> None:
    setup.write()
    setup.standin.faults.garbage = True
    result = await setup.run()
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        StoreReason.QUERY,
        "not JSON: '<html>Bad Gateway</html>'",
    )


async def test_a_dropped_canary_is_missing_after_max_delay(setup: Setup) -> None:
    canary = setup.write()
    result = await setup.run()
    assert (result.status, result.reason) == (Status.WARN, StoreReason.PENDING)
    await asyncio.sleep(0.3)
    result = await setup.run()
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.MISSING)
    assert result.error == f"canary seq 1 of run {canary.run_id} not found within max_delay 0.3s"
    assert setup.counts() == zero(written=1, missing=1)
    newer = setup.write()
    setup.ship(newer)
    assert (await setup.run()).status is Status.OK
    assert setup.counts() == zero(written=2, found=1, missing=1)


async def test_a_duplicated_canary_is_one_found_and_one_duplicate(setup: Setup) -> None:
    setup.ship(setup.write(), copies=2)
    assert (await setup.run()).status is Status.OK
    assert setup.counts() == zero(written=1, found=1, duplicate=1)


async def test_a_canary_delayed_within_max_delay_is_found(setup: Setup) -> None:
    setup.ship(setup.write(), after=0.15)
    assert (await setup.run()).status is Status.WARN
    await asyncio.sleep(0.2)
    assert (await setup.run()).status is Status.OK
    assert setup.counts() == zero(written=1, found=1)


async def test_a_canary_delayed_past_max_delay_is_missing_then_late(setup: Setup) -> None:
    setup.ship(setup.write(), after=0.5)
    await asyncio.sleep(0.3)
    assert (await setup.run()).reason is StoreReason.MISSING
    await asyncio.sleep(0.3)
    await setup.run()
    assert setup.counts() == zero(written=1, missing=1, late=1)


async def test_lines_of_another_instance_are_ignored(setup: Setup) -> None:
    setup.ship(setup.write(), instance="host-b")
    await asyncio.sleep(0.3)
    assert (await setup.run()).reason is StoreReason.MISSING
    assert setup.counts() == zero(written=1, missing=1)


async def test_a_found_canary_the_store_no_longer_has_is_lost(setup: Setup) -> None:
    canary = setup.write()
    setup.ship(canary)
    assert (await setup.run()).status is Status.OK
    setup.standin.delete(canary.run_id)  # type: ignore[attr-defined]
    result = await setup.run()
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.LOST)
    assert setup.counts() == zero(written=1, found=1, lost=1)
    newer = setup.write()
    setup.ship(newer)
    result = await setup.run()  # the lost one is not asked again: nothing to re-check yet
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.LOST)
    assert (await setup.run()).status is Status.OK  # the new one is re-checked, and is there
    assert setup.counts() == zero(written=2, found=2, lost=1)


@pytest.mark.parametrize("how", FORGERIES)
async def test_a_forged_canary_is_not_found_and_is_counted_forged_once(
    setup: Setup, how: str
) -> None:
    canary = setup.write()
    setup.forge(canary, copies=2, **forged(how, setup.books.ledger, canary))
    result = await setup.run()
    assert (result.status, result.reason) == (Status.WARN, StoreReason.PENDING)
    assert setup.counts() == zero(written=1, forged=1)
    await asyncio.sleep(0.3)  # past max_delay: the forged lines, asked again, are not counted again
    result = await setup.run()
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        StoreReason.MISSING,
        f"canary seq 1 of run {canary.run_id} not found within max_delay 0.3s",
    )
    assert result.detail["canaries"] == {"pending": 0, **zero(written=1, missing=1, forged=1)}
    setup.ship(canary)  # the real one, late
    await setup.run()
    assert setup.counts() == zero(written=1, missing=1, late=1, forged=1)


async def test_a_canary_with_forged_copies_beside_is_found_and_counted_forged_once(
    setup: Setup,
) -> None:
    canary = setup.write()
    setup.ship(canary)
    setup.forge(canary, copies=3, signature=None)
    result = await setup.run()
    assert result.status is Status.OK
    assert result.detail["canaries"] == {"pending": 0, **zero(written=1, found=1, forged=1)}


async def test_a_lost_canary_is_not_hidden_by_a_forged_copy(setup: Setup) -> None:
    canary = setup.write()
    setup.ship(canary)
    assert (await setup.run()).status is Status.OK
    setup.standin.delete(canary.run_id)  # type: ignore[attr-defined]
    setup.forge(canary, signature=None)  # put back, unsigned, in the hope of a pass
    result = await setup.run()  # the re-check of the one found canary
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.LOST)
    assert setup.counts() == zero(written=1, found=1, lost=1, forged=1)


async def test_canaries_shipped_out_of_order_are_each_found_once(setup: Setup) -> None:
    first, second = setup.write(), setup.write()
    setup.ship(second)  # a shipper with two workers, the later line first
    setup.ship(first)
    assert (await setup.run()).status is Status.OK
    assert setup.counts() == zero(written=2, found=2)


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
async def test_a_store_that_closes_each_kept_connection_as_a_request_arrives_passes_100_runs(
    balanced: Balanced, reset: bool
) -> None:
    setup, balancer = balanced.setup, balanced.balancer
    balancer.drop, balancer.reset = Drop.KEPT, reset
    results = []
    for _ in range(100):
        setup.ship(setup.write())
        result = await setup.run(within=GENEROUS)
        results.append((result.status, result.reason, result.error))
    assert results == [(Status.OK, None, None)] * 100
    # Every other run finds its kept connection closed under its query and asks again on a
    # new one, not kept: the next run opens a new kept connection. One connection a run.
    assert (balancer.connections, balancer.dropped) == (100, 50)
    assert len(setup.standin.requests) == 100
    assert setup.counts() == zero(written=100, found=100)


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
async def test_a_new_connection_closed_unanswered_is_unreachable_and_not_retried(
    balanced: Balanced, reset: bool
) -> None:
    setup, balancer = balanced.setup, balanced.balancer
    balancer.drop, balancer.reset = Drop.NEW, reset
    setup.ship(setup.write())
    result = await setup.run(within=GENEROUS)
    why = "[Errno 104] Connection reset by peer" if reset else "Server disconnected"
    assert (result.status, result.reason, result.error) == balanced.unreachable(why)
    assert (balancer.connections, balancer.dropped) == (1, 1)
    assert setup.standin.requests == []
    assert setup.counts() == zero(written=1)


async def test_a_kept_connection_closed_within_the_answer_is_unreachable_and_not_retried(
    balanced: Balanced,
) -> None:
    setup, balancer = balanced.setup, balanced.balancer
    setup.ship(setup.write())
    assert (await setup.run(within=GENEROUS)).status is Status.OK
    balancer.drop, balancer.partial = Drop.KEPT, b"HTTP/1.1 200 OK\r\nContent-Type: applic"
    setup.ship(setup.write())
    result = await setup.run(within=GENEROUS)
    why = "Server disconnected within the answer's head"
    assert (result.status, result.reason, result.error) == balanced.unreachable(why)
    assert (balancer.connections, balancer.dropped) == (1, 1)
    assert len(setup.standin.requests) == 1
    assert setup.counts() == zero(written=2, found=1)
