"""Tests of exporter/accept.py and exporter/connection.py: at most N connections served at
once, more accepted to wait up to a surplus and the rest in the backlog, and while one waits
no answer keeps its connection alive; a newcomer from another address takes the slot of the
biggest holder's idle or dripping connection, never one being answered; a failed, silent or
stopped TLS handshake gives its slot back; the descriptor limit is raised to hold the slots
and the waiting."""

from __future__ import annotations

import asyncio
import resource
import select
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from exporter.accept import FD_RESERVE, LimitedSite, fd_room
from exporter.fair import SURPLUS, Phase, Pool
from exporter.headers import MAX_HEAD_BYTES
from exporter.metrics import create_connection_metrics
from tests.certs import CA
from tests.support.sockets import padded_head
from tests.wait import until

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
SLOW = b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
ANSWER = b"HTTP/1.1 200 OK"
FLOODER, NEWCOMER = "127.0.0.1", "127.0.0.2"
EVICTED = "smoke_test_http_connections_evicted_total"
RELEASE = web.AppKey("release", asyncio.Event)


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


async def slow(request: web.Request) -> web.Response:
    """Answered once the test says so: a connection being answered meanwhile."""
    await request.app[RELEASE].wait()
    return web.Response(text="hello")


@dataclass
class Served:
    """An app served by LimitedSite on one socket of 127.0.0.1."""

    runner: web.AppRunner
    pool: Pool
    registry: CollectorRegistry
    listening: socket.socket
    port: int
    client_ssl: ssl.SSLContext | None
    release: asyncio.Event

    def open_connections(self) -> int:
        assert self.runner.server is not None
        return len(self.runner.server.connections)

    def backlog_waiting(self) -> bool:
        """A connection waits in the listen backlog: the socket is readable."""
        return bool(select.select([self.listening], [], [], 0)[0])

    def evicted(self) -> float | None:
        return self.registry.get_sample_value(EVICTED)

    def phases(self, address: str) -> list[Phase]:
        """Where each connection from ``address`` holding a slot is, the oldest first."""
        return [member.phase() for member in self.pool.held(address)]

    async def connect(
        self, source: str = FLOODER
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=self.client_ssl, local_addr=(source, 0)
        )


async def serve(
    cap: int,
    server_ssl: ssl.SSLContext | None = None,
    handshake_timeout: float = 60.0,
    surplus: int = 16,
) -> Served:
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/slow", slow)
    release = app[RELEASE] = asyncio.Event()
    registry = CollectorRegistry()
    counted = create_connection_metrics(registry)
    pool = Pool(cap, counted.evicted, surplus)
    app.on_response_prepare.append(pool.on_response_prepare)
    # Kept connections stay open for the whole test (the exporter closes them after 5 s).
    runner = web.AppRunner(app, keepalive_timeout=600)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = LimitedSite(
        runner,
        sock,
        pool,
        counted.heads_refused,
        ssl_context=server_ssl,
        handshake_timeout=handshake_timeout,
    )
    await site.start()
    return Served(runner, pool, registry, sock, sock.getsockname()[1], None, release)


@pytest.fixture
async def plain() -> AsyncIterator[Served]:
    served = await serve(2)
    yield served
    await served.runner.cleanup()


async def answer(reader: asyncio.StreamReader) -> list[bytes]:
    """The head of an answer, line by line, its body read."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    await asyncio.wait_for(reader.readexactly(len(b"hello")), 10)
    return head.split(b"\r\n")


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """One request on a kept connection; the status line of its answer."""
    writer.write(REQUEST)
    await writer.drain()
    return (await answer(reader))[0]


async def test_beyond_the_cap_a_connection_of_the_same_address_waits_for_a_kept_one_to_close(
    plain: Served,
) -> None:
    first, second = await plain.connect(), await plain.connect()
    for reader, writer in (first, second):
        writer.write(REQUEST)
        await writer.drain()
        assert b"Connection: close" not in await answer(reader)  # kept alive: none waits
    assert plain.open_connections() == 2

    third_reader, third_writer = await plain.connect()
    third_writer.write(REQUEST)
    await third_writer.drain()
    await until(lambda: plain.pool.waiting == 1, "the third connection accepted, to wait")
    assert not plain.backlog_waiting()
    assert plain.open_connections() == 2
    assert plain.phases(FLOODER) == [Phase.IDLE, Phase.IDLE]  # its own address: none closed

    # While the third waits, the next answer on a kept connection closes that connection...
    first[1].write(REQUEST)
    await first[1].drain()
    head = await answer(first[0])
    assert (head[0], b"Connection: close" in head) == (ANSWER, True)
    assert await asyncio.wait_for(first[0].read(), 10) == b""
    # ...and the third is served in its place.
    assert (await answer(third_reader))[0] == ANSWER
    await until(lambda: plain.pool.waiting == 0, "no connection waits")
    assert not plain.backlog_waiting()
    assert plain.open_connections() == 2  # the second and the third
    assert plain.evicted() == 0
    for writer in (first[1], second[1], third_writer):
        writer.close()


async def test_beyond_the_cap_and_its_surplus_a_connection_waits_in_the_backlog() -> None:
    served = await serve(1, surplus=1)
    try:
        first = await served.connect()
        assert await ask(*first) == ANSWER
        second = await served.connect()
        await until(lambda: served.pool.waiting == 1, "the second accepted, to wait")
        third = await served.connect()  # the kernel's handshake: in the backlog
        await until(lambda: served.pool.waiting == 2, "the accept loop saw the third")
        assert served.backlog_waiting()

        # The first's next answer closes it: the second takes the slot, the third its place.
        first[1].write(REQUEST)
        assert (await answer(first[0]))[0] == ANSWER
        await until(lambda: not served.backlog_waiting(), "the third accepted")
        assert served.pool.waiting == 1
        assert await ask(*second) == ANSWER
        assert await ask(*third) == ANSWER
        assert served.evicted() == 0
        for _, writer in (first, second, third):
            writer.close()
    finally:
        await served.runner.cleanup()


async def test_a_newcomer_from_another_address_takes_the_slot_of_the_oldest_idle_one(
    plain: Served,
) -> None:
    first, second = await plain.connect(), await plain.connect()  # idle, never asked
    await until(lambda: plain.phases(FLOODER) == [Phase.IDLE] * 2, "both held")

    newcomer = await plain.connect(NEWCOMER)
    assert await ask(*newcomer) == ANSWER
    assert await asyncio.wait_for(first[0].read(), 10) == b""  # the oldest, closed
    assert plain.evicted() == 1
    assert plain.phases(FLOODER) == [Phase.IDLE]
    assert await ask(*second) == ANSWER  # the other kept
    for _, writer in (first, second, newcomer):
        writer.close()


async def test_an_idle_connection_is_closed_before_an_older_one_with_a_head_under_way(
    plain: Served,
) -> None:
    dripping = await plain.connect()
    dripping[1].write(REQUEST[:10])
    idle = await plain.connect()
    await until(lambda: plain.phases(FLOODER) == [Phase.HEAD, Phase.IDLE], "a head under way")

    newcomer = await plain.connect(NEWCOMER)
    assert await ask(*newcomer) == ANSWER
    assert await asyncio.wait_for(idle[0].read(), 10) == b""
    assert plain.evicted() == 1
    dripping[1].write(REQUEST[10:])  # the dripping one is still served
    assert (await answer(dripping[0]))[0] == ANSWER
    for _, writer in (dripping, idle, newcomer):
        writer.close()


async def test_a_refused_connection_delivering_its_431_is_not_closed_for_a_newcomer(
    plain: Served,
) -> None:
    refused = await plain.connect()
    refused[1].write(padded_head(MAX_HEAD_BYTES + 1))
    status = await asyncio.wait_for(refused[0].readuntil(b"\r\n"), 10)
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    idle = await plain.connect()  # newer, and idle
    # The refused one lingers (2 s at most) until its client closes: its answer is delivered.
    await until(lambda: plain.phases(FLOODER) == [Phase.ANSWER, Phase.IDLE], "one refused")

    newcomer = await plain.connect(NEWCOMER)
    assert await ask(*newcomer) == ANSWER
    assert await asyncio.wait_for(idle[0].read(), 10) == b""
    assert plain.evicted() == 1
    for _, writer in (refused, idle, newcomer):
        writer.close()


async def test_with_heads_under_way_on_every_connection_the_oldest_is_closed(
    plain: Served,
) -> None:
    older, newer = await plain.connect(), await plain.connect()
    for _, writer in (older, newer):
        writer.write(REQUEST[:10])
    await until(lambda: plain.phases(FLOODER) == [Phase.HEAD] * 2, "two heads under way")

    newcomer = await plain.connect(NEWCOMER)
    assert await ask(*newcomer) == ANSWER
    assert await asyncio.wait_for(older[0].read(), 10) == b""
    assert plain.evicted() == 1
    for _, writer in (older, newer, newcomer):
        writer.close()


async def test_a_connection_being_answered_is_never_closed_for_a_newcomer(plain: Served) -> None:
    busy = [await plain.connect(), await plain.connect()]
    for _, writer in busy:
        writer.write(SLOW)
    await until(lambda: plain.phases(FLOODER) == [Phase.ANSWER] * 2, "both being answered")

    newcomer = await plain.connect(NEWCOMER)
    newcomer[1].write(REQUEST)
    await until(lambda: plain.pool.waiting == 1, "the newcomer accepted, to wait")
    assert plain.evicted() == 0
    # Their answers come whole, and close their connections: the newcomer waits.
    plain.release.set()
    for reader, _ in busy:
        head = await answer(reader)
        assert (head[0], b"Connection: close" in head) == (ANSWER, True)
    assert (await answer(newcomer[0]))[0] == ANSWER
    assert plain.evicted() == 0
    for _, writer in (*busy, newcomer):
        writer.close()


async def test_a_connection_closed_by_the_server_gives_its_slot_back(plain: Served) -> None:
    for _ in range(5):  # more than the cap, one after the other
        reader, writer = await plain.connect()
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        assert (await asyncio.wait_for(reader.read(), 10)).startswith(ANSWER)
        writer.close()
    await until(lambda: plain.open_connections() == 0, "every connection closed")


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = CA(tmp_path, "ca")
    pair = ca.issue("server", server=True)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(pair.cert, pair.key)
    client = ssl.create_default_context(cafile=ca.cert)
    return server, client


async def test_failed_tls_handshakes_give_their_slots_back(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    served = await serve(1, server_ssl=tls[0])
    try:
        for _ in range(3):  # plain HTTP to a TLS port: each handshake fails
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            writer.write(REQUEST)
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed on us
            writer.close()
        served.client_ssl = tls[1]
        reader, writer = await served.connect()
        assert await ask(reader, writer) == ANSWER
        writer.close()
    finally:
        await served.runner.cleanup()


async def test_a_client_silent_in_its_tls_handshake_holds_its_slot_only_until_the_timeout(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    served = await serve(1, server_ssl=tls[0], handshake_timeout=0.5)
    try:
        silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", served.port)
        served.client_ssl = tls[1]
        # The TLS client waits behind the silent one, in the backlog, until its handshake
        # times out; then it is served.
        reader, writer = await asyncio.wait_for(served.connect(), 10)
        assert await ask(reader, writer) == ANSWER
        writer.close()
        assert await asyncio.wait_for(silent_reader.read(), 10) == b""  # closed on it
        silent_writer.close()
    finally:
        await served.runner.cleanup()


async def test_stopping_drops_a_handshake_under_way_and_closes_the_port(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    served = await serve(1, server_ssl=tls[0])
    silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", served.port)
    # The silent client is accepted: its handshake is under way and holds the only slot.
    await until(lambda: not served.backlog_waiting(), "the silent client accepted")
    assert served.runner.addresses == [("127.0.0.1", served.port)]
    await asyncio.wait_for(served.runner.cleanup(), 10)
    assert served.runner.addresses == []
    assert served.listening.fileno() == -1  # closed
    assert await asyncio.wait_for(silent_reader.read(), 10) == b""
    silent_writer.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", served.port)


@pytest.fixture
def fd_limits() -> Iterator[tuple[int, int]]:
    """This process's descriptor limits, put back after the test."""
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield limits
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def test_the_soft_descriptor_limit_is_raised_to_hold_the_slots_and_the_waiting(
    fd_limits: tuple[int, int],
) -> None:
    _, hard = fd_limits
    assert hard >= 100 + 1024 + FD_RESERVE  # room to raise it: this test's premise
    resource.setrlimit(resource.RLIMIT_NOFILE, (500, hard))
    assert fd_room(100) == SURPLUS == 1024
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (100 + 1024 + FD_RESERVE, hard)
    # A limit already high enough is left as it is.
    assert fd_room(10) == 1024
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (100 + 1024 + FD_RESERVE, hard)


def test_under_a_low_hard_descriptor_limit_fewer_connections_wait_accepted() -> None:
    # The hard limit cannot be raised again: a process of its own.
    script = (
        "import resource\n"
        "from exporter.accept import fd_room\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (400, 500))\n"
        "print(fd_room(100), resource.getrlimit(resource.RLIMIT_NOFILE))\n"
        "print(fd_room(300))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    )
    # 500 - 100 - FD_RESERVE, the soft limit raised to the hard one; and none at all.
    assert done.stdout == f"{500 - 100 - FD_RESERVE} (500, 500)\n0\n"
