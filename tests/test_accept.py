"""Tests of exporter/accept.py: at most N connections open at once, the rest wait in the
backlog, and while one waits no answer keeps its connection alive; a failed, silent or stopped
TLS handshake gives its slot back."""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from exporter.accept import LimitedSite, Pool
from tests.certs import CA
from tests.wait import until

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
ANSWER = b"HTTP/1.1 200 OK"


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


@dataclass
class Served:
    """An app served by LimitedSite on one socket of 127.0.0.1."""

    runner: web.AppRunner
    pool: Pool
    site: LimitedSite
    listening: socket.socket
    port: int
    client_ssl: ssl.SSLContext | None

    def open_connections(self) -> int:
        assert self.runner.server is not None
        return len(self.runner.server.connections)

    def backlog_waiting(self) -> bool:
        """A connection waits in the listen backlog: the socket is readable."""
        return bool(select.select([self.listening], [], [], 0)[0])

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port, ssl=self.client_ssl)


async def serve(
    cap: int, server_ssl: ssl.SSLContext | None = None, handshake_timeout: float = 60.0
) -> Served:
    app = web.Application()
    app.router.add_get("/", hello)
    pool = Pool(cap)
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
        ssl_context=server_ssl,
        handshake_timeout=handshake_timeout,
    )
    await site.start()
    return Served(runner, pool, site, sock, sock.getsockname()[1], None)


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


async def test_beyond_the_cap_a_connection_waits_until_a_kept_one_is_answered_and_closed(
    plain: Served,
) -> None:
    first, second = await plain.connect(), await plain.connect()
    for reader, writer in (first, second):
        writer.write(REQUEST)
        await writer.drain()
        assert b"Connection: close" not in await answer(reader)  # kept alive: none waits
    assert plain.open_connections() == 2

    third_reader, third_writer = await plain.connect()  # the kernel's handshake: in the backlog
    third_writer.write(REQUEST)
    await third_writer.drain()
    await until(lambda: plain.pool.waiting == 1, "the accept loop saw the third connection")
    assert plain.backlog_waiting()
    assert plain.open_connections() == 2

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
    for writer in (first[1], second[1], third_writer):
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
