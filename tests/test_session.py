"""The kept HTTP client: a request it may repeat survives a kept connection closed under it,
once and on a new connection; a new connection's failure, or one after part of the answer, is
never retried (the connections the balancer saw are counted)."""

from __future__ import annotations

import asyncio
import gc
import socket
import struct
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from exporter.session import KeptSession, SharedSession, plain, read_body, unanswered
from tests.standins.balancer import Balancer, Drop
from tests.support.http_check import BAD_CHUNKS, CHUNKED_HEAD, split_answer
from tests.wait import until

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n"


class Upstream:
    """A server on loopback answering every request ``ok``, recording what it was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, await request.read()))
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def balancer(upstream: Upstream) -> AsyncIterator[Balancer]:
    front = Balancer(upstream.url)
    await front.start()
    yield front
    await front.stop()


@pytest.fixture
async def kept() -> AsyncIterator[KeptSession]:
    session = KeptSession(limit=10, keep_seconds=60)
    yield session
    await session.close()


async def ask(kept: KeptSession, url: str, method: str = "POST", repeatable: bool = True) -> str:
    async with kept.request(method, url, repeatable=repeatable, data=b'{"q": 1}') as response:
        assert response.status == 200
        return await response.text()


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_kept_connection_closed_under_a_request_is_asked_again_on_a_new_one(
    upstream: Upstream, balancer: Balancer, kept: KeptSession, method: str, reset: bool
) -> None:
    balancer.drop, balancer.reset = Drop.KEPT, reset
    assert await ask(kept, balancer.url, method) == "ok"
    assert await ask(kept, balancer.url, method) == "ok"  # dropped on the kept one, then again
    assert (balancer.connections, balancer.dropped) == (2, 1)
    assert upstream.requests == [(method, b'{"q": 1}')] * 2
    assert await ask(kept, balancer.url, method) == "ok"  # the retry's connection was not kept
    assert (balancer.connections, balancer.dropped) == (3, 1)


async def test_a_request_that_may_not_be_repeated_is_asked_once(
    upstream: Upstream, balancer: Balancer, kept: KeptSession
) -> None:
    balancer.drop = Drop.KEPT
    await ask(kept, balancer.url, repeatable=False)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await ask(kept, balancer.url, repeatable=False)
    assert (balancer.connections, balancer.dropped) == (1, 1)
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_new_connection_closed_under_a_request_is_not_retried(
    upstream: Upstream, balancer: Balancer, kept: KeptSession, method: str, reset: bool
) -> None:
    balancer.drop, balancer.reset = Drop.NEW, reset
    with pytest.raises(aiohttp.ClientOSError if reset else aiohttp.ServerDisconnectedError) as e:
        await ask(kept, balancer.url, method)
    assert plain(e.value) == (
        "[Errno 104] Connection reset by peer" if reset else "Server disconnected"
    )
    assert (balancer.connections, balancer.dropped) == (1, 1)  # aiohttp's own retry is off too
    assert upstream.requests == []


async def test_a_close_after_part_of_the_head_is_not_retried(
    upstream: Upstream, balancer: Balancer, kept: KeptSession
) -> None:
    await ask(kept, balancer.url)
    balancer.drop, balancer.partial = Drop.KEPT, b"HTTP/1.1 200 OK\r\nContent-Ty"
    with pytest.raises(aiohttp.ServerDisconnectedError) as caught:
        await ask(kept, balancer.url)
    assert plain(caught.value) == "Server disconnected within the answer's head"
    assert (balancer.connections, balancer.dropped) == (1, 1)


async def test_a_close_within_the_body_is_not_retried(
    upstream: Upstream, balancer: Balancer, kept: KeptSession
) -> None:
    await ask(kept, balancer.url)
    balancer.drop, balancer.partial = Drop.KEPT, HEAD + b"ok, but"
    with pytest.raises(aiohttp.ClientPayloadError):
        await ask(kept, balancer.url)
    assert (balancer.connections, balancer.dropped) == (1, 1)


@pytest.mark.parametrize(
    ("error", "closed_under"),
    [
        (aiohttp.ServerDisconnectedError(), True),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), True),
        (aiohttp.ClientConnectionResetError("Cannot write to closing transport"), True),
        (aiohttp.ClientPayloadError("Response payload is not completed"), False),
        (aiohttp.ClientConnectionError("Connection lost"), False),
    ],
)
def test_only_a_connection_closed_before_the_answer_counts_as_unanswered(
    error: aiohttp.ClientError, closed_under: bool
) -> None:
    assert unanswered(error) is closed_under


async def head_read_client(head_read: asyncio.Event) -> aiohttp.ClientSession:
    """A client that keeps its connections, as the store checks' does, and sets ``head_read``
    once it has read an answer's head."""

    async def ended(*_: object) -> None:
        head_read.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(ended)
    return aiohttp.ClientSession(trace_configs=[trace])


async def test_a_body_that_can_never_end_raises_at_once_on_a_kept_connection(
    upstream: Upstream,
) -> None:
    head_read = asyncio.Event()
    client = await head_read_client(head_read)
    rest = BAD_CHUNKS["not hex"]
    try:
        async with split_answer(CHUNKED_HEAD, rest, head_read, close=False) as url:
            t0 = time.monotonic()
            async with client.get(url) as response:
                with pytest.raises(HttpProcessingError):
                    await asyncio.wait_for(read_body(response, 1024), 10)
            elapsed = time.monotonic() - t0
        async with client.get(upstream.url) as response:  # the client is none the worse
            assert await read_body(response, 1024) == (b"ok", False)
    finally:
        await client.close()
    assert elapsed < 2.0  # a measurement: at once, not at the 10 s bound


async def test_a_kept_connection_reset_after_its_answer_leaves_no_unretrieved_error() -> None:
    """read_body asks for the connection's ``closed`` future; a reset sets an error on it, which
    nobody else may ever retrieve (the pool drops a lost connection at the next request)."""
    head_read, reset = asyncio.Event(), asyncio.Event()
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        if connections > 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        await head_read.wait()  # the body apart: read_body watches the connection
        writer.write(b"ok")
        await writer.drain()
        await reset.wait()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # a reset, not a FIN: the connection is lost with an error

    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    client = await head_read_client(head_read)
    try:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        async with client.get(url) as response:
            assert response.connection is not None
            kept = response.connection.protocol
            assert await read_body(response, 1024) == (b"ok", False)
        assert kept is not None
        reset.set()
        await until(lambda: kept is None or kept.transport is None, "the connection reset")
        assert kept.closed is not None  # read_body's: none is made after the loss
        async with client.get(url) as response:  # the pool drops the lost connection
            assert await read_body(response, 1024) == (b"ok", False)
        assert connections == 2
        del response
        kept = None  # nothing of ours holds the lost connection's future
        gc.collect()
    finally:
        await client.close()
        server.close()
        await server.wait_closed()
        loop.set_exception_handler(None)
    assert reported == []


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
async def test_the_checks_session_asks_once_when_a_connection_is_dropped(
    upstream: Upstream, balancer: Balancer, reset: bool
) -> None:
    shared = SharedSession()
    await shared.open()
    balancer.drop, balancer.reset = Drop.NEW, reset
    try:
        with pytest.raises(aiohttp.ClientOSError if reset else aiohttp.ServerDisconnectedError):
            async with shared.session.get(balancer.url):
                pass
    finally:
        await shared.close()
    # aiohttp's own retry would have asked again on a second connection, and passed.
    assert (balancer.connections, balancer.dropped) == (1, 1)
    assert upstream.requests == []


async def test_an_open_while_the_sessions_close_keeps_its_new_ones() -> None:
    shared = SharedSession()
    await shared.open()
    old = shared.session
    closing = asyncio.create_task(shared.close())
    await asyncio.sleep(0)  # the close is under way, awaiting the old sessions
    await shared.open()
    new = shared.session
    await closing
    assert (old.closed, new.closed, shared.session is new) == (True, False, True)
    await shared.close()
