"""--web.max-connections shared fairly, against the console script: while one address holds
every slot with idle or dripping connections, a request from another address is answered
within a second and one of the flooder's connections is closed for it; one address alone
still uses every slot; under the issue's flood of 1 MB heads, a probe from another address
is answered and memory stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from yarl import URL

from tests.integration.conftest import Start
from tests.integration.exporter_process import ExporterProcess
from tests.integration.load import ensure_fd_limit, peak_rss_mib, rss_mib, scrape, value
from tests.support.floods import attack, probe
from tests.support.sockets import Answers, connect, held_connections
from tests.wait import wait_until

CAP = 100  # the default --web.max-connections
FLOODER, NEWCOMER = "127.0.0.1", "127.0.0.2"
PROBE = b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
# A head that never ends: a slowloris client sends this much and then drips, or nothing.
DRIP = b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: "
# The liveness probe's budget: Kubernetes' default timeoutSeconds.
PROBE_SECONDS = 1.0
EVICTED = "smoke_test_http_connections_evicted_total"
HEADS_REFUSED = "smoke_test_http_request_heads_refused_total"
REFUSED = "HTTP/1.1 431 Request Header Fields Too Large"
FLOOD = 1000  # the issue's: 1 000 connections, each sending a 1 MB head
# The issue's bounds on RSS, in MB (10^6 bytes): during the flood, and once it is over.
DURING_MB = 80
AFTER_MB = 50
MIB = 2**20 / 10**6  # MB in a MiB


def closed(sockets: list[socket.socket]) -> list[int]:
    """Which of these connections the server closed: readable, and nothing to read but the end
    (the server sends them nothing else)."""
    readable = set(select.select(sockets, [], [], 0)[0])
    ended = []
    for n, sock in enumerate(sockets):
        if sock in readable:
            with contextlib.suppress(ConnectionResetError):  # closed with our bytes unread
                assert sock.recv(1) == b""
            ended.append(n)
    return ended


@pytest.fixture
def exporter(start: Start) -> ExporterProcess:
    """The exporter with its default cap, its start-up run over."""
    process = start("--smoke-test.interval=0")
    process.wait_ready()
    return process


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    """The test's client sockets, each closed at the end."""
    made: list[socket.socket] = []
    yield made
    for sock in made:
        sock.close()


def held(exporter: ExporterProcess) -> int:
    """The connections the exporter holds."""
    port = URL(exporter.url).port
    assert port is not None
    return held_connections(exporter.process.pid, port)


def hold_every_slot(
    exporter: ExporterProcess, sockets: list[socket.socket], head: bytes, count: int = CAP
) -> list[socket.socket]:
    """``count`` connections from FLOODER, each sent ``head``, all accepted."""
    wait_until(lambda: held(exporter) == 0, "the readiness polls' connections closed")
    flood = [connect(exporter.url, FLOODER) for _ in range(count)]
    sockets.extend(flood)
    for sock in flood:
        sock.sendall(head)
    wait_until(lambda: held(exporter) == count, "every connection accepted", 30)
    return flood


@pytest.mark.parametrize("count", [CAP, FLOOD], ids=["the cap", "the issue's 1000"])
@pytest.mark.parametrize("head", [b"", DRIP], ids=["idle", "slowloris"])
def test_a_newcomer_is_answered_within_a_second_while_one_address_holds_every_slot(
    exporter: ExporterProcess, sockets: list[socket.socket], head: bytes, count: int
) -> None:
    # Beyond the cap, the flood's connections wait accepted, where the newcomer is seen.
    ensure_fd_limit(4 * FLOOD)
    flood = hold_every_slot(exporter, sockets, head, count)

    began = time.monotonic()
    with connect(exporter.url, NEWCOMER) as newcomer:
        newcomer.sendall(PROBE)
        status, fields, body = Answers(newcomer).next()
        took = time.monotonic() - began
        assert (status, body) == ("HTTP/1.1 200 OK", b"Healthy\n")
        # Closed after its answer while the flood's connections beyond the cap wait.
        assert fields.get("connection") == ("close" if count > CAP else None)
        # One of the flooder's connections was closed for it, and only one.
        gone = closed(flood)
        assert len(gone) == 1
        if not head:  # all alike: the oldest (which one, by phase, is tests/test_accept.py's)
            assert gone == [0]
        # The flooder's but one, and the newcomer's unless it was closed.
        wait_until(
            lambda: held(exporter) == count - (count > CAP), "the newcomer closed after its answer"
        )
    kind = "slowloris" if head else "idle"
    print(f"{kind} flood of {count}: the newcomer answered in {took:.3f} s")
    assert took < PROBE_SECONDS

    for sock in flood:
        sock.close()
    wait_until(lambda: held(exporter) == 0, "the flood's connections closed")
    assert value(scrape(exporter), EVICTED) == 1
    assert exporter.stop() == 0
    assert exporter.stderr == ""


def test_one_address_alone_uses_every_slot_and_its_next_connection_waits(
    exporter: ExporterProcess, sockets: list[socket.socket]
) -> None:
    flood = hold_every_slot(exporter, sockets, PROBE)
    for sock in flood:  # every one answered and kept alive: nobody waits
        status, fields, _ = Answers(sock).next()
        assert (status, "connection" in fields) == ("HTTP/1.1 200 OK", False)

    with connect(exporter.url, FLOODER) as last:
        last.sendall(PROBE)
        # Accepted to wait for a slot; its own address's connections are not closed for it.
        wait_until(lambda: held(exporter) == CAP + 1, "the last accepted")
        assert closed(flood) == []
        flood[0].close()  # a slot freed: the last one is served
        status, _, body = Answers(last).next()
        assert (status, body) == ("HTTP/1.1 200 OK", b"Healthy\n")

    for sock in flood[1:]:
        sock.close()
    wait_until(lambda: held(exporter) == 0, "every connection closed")
    assert value(scrape(exporter), EVICTED) == 0
    assert exporter.stop() == 0
    assert exporter.stderr == ""


async def test_the_issues_flood_from_one_address_lets_another_in_with_memory_bounded(
    start: Start,
) -> None:
    ensure_fd_limit(4 * FLOOD)  # this process's 1 000 sockets, and the exporter's
    exporter = start("--smoke-test.interval=0")
    pid = exporter.process.pid
    assert (await asyncio.to_thread(exporter.get, "/-/healthy")).status == 200
    rss_idle = rss_mib(pid)
    where = URL(exporter.url)
    assert where.host is not None
    assert where.port is not None

    done = asyncio.Event()
    # From the other address only: aiohttp retries a GET once on a closed connection, so an
    # eviction of the flooder's own probe would be unseen (tests/integration/
    # test_header_limits.py probes from the flood's address).
    probing = asyncio.create_task(probe(exporter.url, done, NEWCOMER))
    began = time.monotonic()
    outcomes = Counter(
        await asyncio.gather(*(attack(where.host, where.port) for _ in range(FLOOD)))
    )
    took = time.monotonic() - began
    done.set()
    probes = await probing
    peak = peak_rss_mib(pid)
    await asyncio.to_thread(wait_until, lambda: held(exporter) == 0, "the flood closed", 30)
    rss_after = rss_mib(pid)
    samples = await asyncio.to_thread(scrape, exporter)

    waits = sorted(wait for _, wait in probes)
    print(
        f"flood of {FLOOD} heads in {took:.1f} s: {dict(outcomes)}; {len(waits)} probes from "
        f"{NEWCOMER}, median {waits[len(waits) // 2]:.3f} s, longest {waits[-1]:.3f} s; "
        f"RSS idle {rss_idle:.1f}, peak {peak:.1f}, after {rss_after:.1f} MiB"
    )
    assert {status for status, _ in probes} == {200}  # and at least one
    # Each flooding connection got its 431, or was closed for a probe from the other address.
    evicted = value(samples, EVICTED)
    assert outcomes[REFUSED] == value(samples, HEADS_REFUSED) == FLOOD - evicted
    assert set(outcomes) - {REFUSED} <= {"ConnectionResetError", "BrokenPipeError", "closed"}
    assert evicted <= len(probes)  # one at most for each
    assert rss_after * MIB < AFTER_MB
    assert peak * MIB < DURING_MB
    assert await asyncio.to_thread(exporter.stop) == 0
    assert exporter.stderr == ""
