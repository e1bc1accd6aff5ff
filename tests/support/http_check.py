"""The http check tests' shared parts: a loopback server with the answers they need, a CA of
their own, and the check run against them."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from exporter.checks.http import HttpCheck
from exporter.checks.http_options import HttpOptions
from exporter.session import SharedSession
from tests.certs import CA
from tests.support.check_runs import run

HEALTH = {"status": "up", "checks": {"db": "ok", "replicas": [1, 2]}, "ready": True, "load": 1}


async def health(request: web.Request) -> web.Response:
    return web.json_response(HEALTH)


async def error(request: web.Request) -> web.Response:
    return web.json_response({"status": "down"}, status=500)


async def hang(request: web.Request) -> web.StreamResponse:
    """Headers, then nothing."""
    response = web.StreamResponse()
    await response.prepare(request)
    await asyncio.sleep(30)
    return response


async def big(request: web.Request) -> web.StreamResponse:
    """10 MB of body, the word 'needle' only at its end."""
    response = web.StreamResponse()
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError):  # the check stops reading at 1 MiB
        for _ in range(10):
            await response.write(b"x" * 1_000_000)
        await response.write(b"needle")
    return response


async def loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def moved(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/health")


async def text(request: web.Request) -> web.Response:
    return web.Response(text="<html>not json</html>")


async def deep(request: web.Request) -> web.Response:
    """100 000 nested arrays: past any recursion limit. ``?depth=N``: N nested arrays, closed,
    under the key ``deep``."""
    depth = request.query.get("depth")
    if depth is None:
        return web.Response(text="[" * 100_000, content_type="application/json")
    n = int(depth)
    return web.Response(text='{"deep": ' + "[" * n + "]" * n + "}", content_type="application/json")


async def echo(request: web.Request) -> web.Response:
    """What the request was: method, body and the headers a check sets."""
    return web.json_response(
        {
            "method": request.method,
            "body": await request.text(),
            "authorization": request.headers.get("Authorization"),
            "x-probe": request.headers.get("X-Probe"),
        }
    )


def app() -> web.Application:
    application = web.Application()
    application.router.add_get("/health", health)
    application.router.add_get("/error", error)
    application.router.add_get("/hang", hang)
    application.router.add_get("/big", big)
    application.router.add_get("/loop", loop)
    application.router.add_get("/moved", moved)
    application.router.add_get("/text", text)
    application.router.add_get("/deep", deep)
    application.router.add_route("*", "/echo", echo)
    return application


@contextlib.asynccontextmanager
async def server(ssl_context: ssl.SSLContext | None = None, port: int = 0) -> AsyncIterator[str]:
    """The test app on a loopback port (any free one by default); its base URL."""
    runner = web.AppRunner(app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# An answer's head announcing a chunked body, and chunk-size lines that are not hex, negative,
# past any size, or carry a control character.
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
BAD_CHUNKS = {
    "not hex": b"zz\r\nhello\r\n0\r\n\r\n",
    "negative": b"-5\r\nhello\r\n0\r\n\r\n",
    "past any size": b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "after a good chunk": b"5\r\nhello\r\nzz\r\nhello\r\n0\r\n\r\n",
}


@contextlib.asynccontextmanager
async def split_answer(
    head: bytes, rest: bytes, head_read: asyncio.Event, *, close: bool
) -> AsyncIterator[str]:
    """A raw loopback server answering each request with ``head``, then, once the client has
    read it (``head_read``), with ``rest`` in a read of its own; then it closes, or (``close``
    false) waits for the client to. Its base URL."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(head)
            await writer.drain()
            await head_read.wait()
            writer.write(rest)
            await writer.drain()
            if not close:
                await reader.read()  # until the client closes
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up first: the test says whether it should have
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


class HeadsRead(SharedSession):
    """The shared HTTP client whose http-check session sets ``head_read`` once it has read an
    answer's head (aiohttp's on_request_end), so a server can send the body apart from it."""

    def __init__(self) -> None:
        super().__init__()
        self.head_read = asyncio.Event()
        self._traced: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._traced is not None, "open() first"
        return self._traced

    async def open(self) -> None:
        await super().open()
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._ended)
        connector = aiohttp.TCPConnector(force_close=True)  # as the shared one
        self._traced = aiohttp.ClientSession(connector=connector, trace_configs=[trace])

    async def close(self) -> None:
        if self._traced is not None:
            await self._traced.close()
        await super().close()

    async def _ended(self, *_: object) -> None:
        self.head_read.set()


@pytest.fixture
async def http() -> AsyncIterator[SharedSession]:
    shared = SharedSession()
    await shared.open()
    yield shared
    await shared.close()


@pytest.fixture
async def base() -> AsyncIterator[str]:
    async with server() as url:
        yield url


async def check(http: SharedSession, url: str, seconds: float = 1.0, **options: Any) -> Any:
    return await HttpCheck(HttpOptions(url, **options), http)(run(seconds))


@pytest.fixture
def ca(tmp_path: Path) -> CA:
    return CA(tmp_path, "test-ca")


def serving(ca: CA, expires_in: datetime.timedelta) -> ssl.SSLContext:
    pair = ca.issue(f"server-{expires_in.days}", server=True, expires_in=expires_in)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pair.cert, pair.key)
    return context
