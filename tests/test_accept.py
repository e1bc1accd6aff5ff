"""Tests of exporter/accept.py: at most N connections open at once, the rest wait in the
backlog, and while one waits no answer keeps its connection alive; a failed, silent or stopped
TLS handshake gives its slot back. And of exporter/headers.py, the cap on a request's head that
every connection of both sites has."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from exporter.accept import LimitedSite, Pool
from exporter.headers import MAX_HEAD_BYTES, HeadLimit, HeadLimitedSite, refusal
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


# A request's head of an exact size, padded with header fields each within aiohttp's limit on one
# field (8 190 bytes).
HEAD_START = b"GET / HTTP/1.1\r\nHost: x\r\n"
PAD_FIELD = 4000
SMALLEST_FIELD = len(b"X-P: p\r\n")


def head(size: int) -> bytes:
    """A request head of exactly ``size`` bytes, its blank line included."""
    pad = size - len(HEAD_START) - len(b"\r\n")
    fields = b""
    while pad:
        assert pad >= SMALLEST_FIELD, f"{size} bytes cannot be padded"
        length = min(pad, PAD_FIELD)
        if 0 < pad - length < SMALLEST_FIELD:
            length -= SMALLEST_FIELD  # room for a last field
        fields += b"X-P: " + b"p" * (length - SMALLEST_FIELD + 1) + b"\r\n"
        pad -= length
    return HEAD_START + fields + b"\r\n"


class FakeTransport(asyncio.Transport):
    """What HeadLimit does to its connection: the bytes it writes, reading paused, closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.reading = True
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def pause_reading(self) -> None:
        self.reading = False

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


@dataclass
class Recorder(asyncio.Protocol):
    """aiohttp's protocol as HeadLimit sees it: the bytes passed on to it."""

    received: bytes = b""
    lost: list[Exception | None] = field(default_factory=list)

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)


def limited(linger: float = 60.0) -> tuple[HeadLimit, Recorder, FakeTransport]:
    recorder, transport = Recorder(), FakeTransport()
    protocol = HeadLimit(recorder, linger=linger)
    protocol.connection_made(transport)
    return protocol, recorder, transport


def test_the_padded_heads_have_the_sizes_asked_for() -> None:
    for size in (100, MAX_HEAD_BYTES - 1, MAX_HEAD_BYTES, MAX_HEAD_BYTES + 1, 3 * PAD_FIELD + 33):
        assert len(head(size)) == size
        assert head(size).endswith(b"\r\n\r\n")
        assert head(size).count(b"\r\n\r\n") == 1


async def test_pipelined_heads_within_the_cap_are_passed_on_unchanged() -> None:
    protocol, recorder, transport = limited()
    data = head(MAX_HEAD_BYTES) + head(100) + head(MAX_HEAD_BYTES)
    protocol.data_received(data)
    assert (recorder.received, transport.written, transport.reading) == (data, b"", True)


@pytest.mark.parametrize("cut", range(-6, 1))
async def test_a_head_is_counted_across_reads_however_its_blank_line_is_cut(cut: int) -> None:
    at_cap = head(MAX_HEAD_BYTES) + head(MAX_HEAD_BYTES)
    protocol, recorder, transport = limited()
    for piece in (at_cap[: MAX_HEAD_BYTES + cut], at_cap[MAX_HEAD_BYTES + cut :]):
        protocol.data_received(piece)
    assert (recorder.received, transport.written) == (at_cap, b"")

    over = head(MAX_HEAD_BYTES + 1)
    protocol, recorder, transport = limited()
    protocol.data_received(over[: len(over) + cut - 1])
    protocol.data_received(over[len(over) + cut - 1 :])
    assert transport.written == refusal()
    assert recorder.received == over[: len(over) + cut - 1]  # not the read over the cap


async def test_a_first_head_over_the_cap_gets_431_and_the_rest_is_dropped_until_it_closes() -> None:
    protocol, recorder, transport = limited(linger=0.01)
    first = head(MAX_HEAD_BYTES)[:-2]  # all of its bytes but the blank line's
    protocol.data_received(first)
    protocol.data_received(b"X: y\r\n\r\n" + head(100))
    protocol.data_received(head(100))
    assert recorder.received == first
    assert transport.written == refusal()
    assert transport.reading  # read and dropped, so that closing does not reset it
    await until(lambda: transport.closed, "closed after the linger")
    protocol.connection_lost(None)
    assert recorder.lost == [None]


async def test_a_head_over_the_cap_after_a_whole_request_gets_no_answer_and_is_read_no_more() -> (
    None
):
    protocol, recorder, transport = limited()
    protocol.data_received(head(100))
    protocol.data_received(head(MAX_HEAD_BYTES + 1))
    assert (recorder.received, transport.written) == (head(100), b"")
    assert (transport.reading, transport.closed) == (False, False)  # aiohttp closes it


async def test_the_whole_requests_read_with_a_head_over_the_cap_are_passed_on() -> None:
    protocol, recorder, transport = limited()
    protocol.data_received(head(100) + head(200) + head(MAX_HEAD_BYTES + 1) + head(100))
    assert (recorder.received, transport.written) == (head(100) + head(200), b"")
    assert not transport.reading


@pytest.fixture(params=["LimitedSite", "HeadLimitedSite"])
async def either_site(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    """An app served by either site on 127.0.0.1; its port."""
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site: web.BaseSite = (
        LimitedSite(runner, sock, Pool(2))
        if request.param == "LimitedSite"
        else HeadLimitedSite(runner, sock)
    )
    await site.start()
    yield sock.getsockname()[1]
    await runner.cleanup()


async def test_a_head_of_16_kib_is_served_and_one_byte_more_gets_431_with_a_json_reason(
    either_site: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", either_site)
    writer.write(head(MAX_HEAD_BYTES))
    assert (await answer(reader))[0] == ANSWER
    writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", either_site)
    writer.write(head(MAX_HEAD_BYTES + 1))
    whole = await asyncio.wait_for(reader.read(), 10)  # until the server closes
    writer.close()
    head_of_answer, body = whole.split(b"\r\n\r\n", 1)
    status, *fields = head_of_answer.split(b"\r\n")
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert sorted(fields) == [
        b"Connection: close",
        b"Content-Length: %d" % len(body),
        b"Content-Type: application/json; charset=utf-8",
    ]
    assert json.loads(body) == {
        "status": 431,
        "error": "Request Header Fields Too Large",
        "message": "request head over 16384 bytes refused: its request line and header fields "
        "may take at most 16384 bytes",
    }
