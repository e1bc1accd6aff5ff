"""The shared HTTP client helpers: a client that keeps its connections, and asks once more, on
a new connection, when a kept one was closed under a request before any byte of the answer."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp.http import RawResponseMessage

# Connections the shared HTTP client keeps open at once, over every check.
HTTP_CONNECTIONS = 100
# How long a store's connection is kept idle: past the default 30 s interval, within the idle
# timeouts stores and their proxies keep (Loki 120 s, nginx 75 s).
KEEP_SECONDS = 60.0
# The failures of a connection closed under a request: the server's FIN (ServerDisconnected),
# its reset or a broken pipe (ClientOSError), or a transport already closing when the request
# is written (ClientConnectionReset). A failure to connect is a ClientOSError too, but a
# ClientConnectorError, and never on a kept connection.
CLOSED_UNDER = (
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientOSError,
    aiohttp.ClientConnectionResetError,
)


class _Attempt:
    """Whether the connection a request last took came from the pool, as aiohttp's own trace
    signals say (connector.py ``_get`` sends ``reuseconn`` as it hands out a pooled one)."""

    def __init__(self) -> None:
        self.reused = False


async def _new_connection(
    _session: aiohttp.ClientSession, context: SimpleNamespace, _params: object
) -> None:
    if isinstance(context.trace_request_ctx, _Attempt):
        context.trace_request_ctx.reused = False


async def _pooled_connection(
    _session: aiohttp.ClientSession, context: SimpleNamespace, _params: object
) -> None:
    if isinstance(context.trace_request_ctx, _Attempt):
        context.trace_request_ctx.reused = True


def _no_blind_retry(session: aiohttp.ClientSession) -> aiohttp.ClientSession:
    """Turn off aiohttp's own retry. It repeats a GET or PUT (never a POST) once after any
    ClientOSError or ServerDisconnectedError, on a new connection or a kept one alike
    (client.py ``retry_persistent_connection``, aio-libs/aiohttp#7363), so a new connection's
    failure would be hidden and an Elasticsearch search never retried. aiohttp has no public
    switch (aio-libs/aiohttp#10790); its own TestClient sets this attribute (test_utils.py)."""
    session._retry_connection = False
    return session


def unanswered(error: aiohttp.ClientError) -> bool:
    """Whether ``error`` closed a connection under a request before any byte of the answer.
    On a FIN, aiohttp hands what it had parsed of a head as ServerDisconnectedError's
    ``message`` (client_proto.py ``connection_lost``). On a reset it keeps nothing, so a reset
    within the head reads as unanswered. A failure in the body never gets here: ``request()``
    had returned."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return False
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return not isinstance(error.message, RawResponseMessage)
    return isinstance(error, CLOSED_UNDER)


def plain(error: aiohttp.ClientError) -> str:
    """An aiohttp error in words: a head cut short is not quoted as the object parsed of it."""
    if isinstance(error, aiohttp.ServerDisconnectedError) and not unanswered(error):
        return "Server disconnected within the answer's head"
    return str(error) or type(error).__name__


class KeptSession:
    """An aiohttp client that keeps connections between requests, with a second one that
    keeps none, for asking again once a kept connection was closed under a request."""

    def __init__(self, limit: int, keep_seconds: float) -> None:
        trace = aiohttp.TraceConfig()
        trace.on_connection_create_start.append(_new_connection)
        trace.on_connection_reuseconn.append(_pooled_connection)
        kept = aiohttp.TCPConnector(limit=limit, keepalive_timeout=keep_seconds)
        self._kept = _no_blind_retry(aiohttp.ClientSession(connector=kept, trace_configs=[trace]))
        fresh = aiohttp.TCPConnector(limit=limit, force_close=True)
        self._fresh = _no_blind_retry(aiohttp.ClientSession(connector=fresh))

    @asynccontextmanager
    async def request(
        self, method: str, url: Any, *, repeatable: bool, **kwargs: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The answer to ``session.request(method, url, **kwargs)``, its head read. A request
        that is ``repeatable`` (its effect the same done twice: a search, a ping) and failed
        on a reused connection before any byte of the answer is sent once more, at once, on
        a new connection: a store, or a load balancer at its idle timeout, may close a kept
        connection just as a request arrives (RFC 9112 section 9.3.1, "Retrying Requests").
        A failure on a new connection, or after part of the answer, is the caller's."""
        attempt = _Attempt()
        try:
            response = await self._kept.request(method, url, trace_request_ctx=attempt, **kwargs)
        except CLOSED_UNDER as error:
            if not (repeatable and attempt.reused and unanswered(error)):
                raise
            response = await self._fresh.request(method, url, **kwargs)
        async with response:
            yield response

    async def close(self) -> None:
        """Close both clients and their connections."""
        await self._kept.close()
        await self._fresh.close()


class SharedSession:
    """The app's aiohttp client sessions, opened and closed by a cleanup_ctx: one that keeps no
    connection (the http checks'), one that keeps them (the store checks')."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._kept: KeptSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session that opens a new connection for every request; a check reaches it at
        run time, once the app has started."""
        if self._session is None:
            raise RuntimeError("the shared HTTP client is not open: the app has not started")
        return self._session

    @property
    def kept(self) -> KeptSession:
        """The session that keeps connections between runs, for asking a store: a query a run
        then costs no new connection (a third of a store check's CPU, measured). A request it
        may repeat survives a kept connection closed under it (exporter/session.py)."""
        if self._kept is None:
            raise RuntimeError("the shared HTTP client is not open: the app has not started")
        return self._kept

    async def open(self) -> None:
        """Open both, each with one connection limit. The first keeps no connection for the
        next run: each run proves that the service takes a connection and a TLS handshake, and
        reads the certificate it presents now."""
        connector = aiohttp.TCPConnector(limit=HTTP_CONNECTIONS, force_close=True)
        # A dropped connection fails the check: aiohttp's own retry would hide it.
        self._session = _no_blind_retry(aiohttp.ClientSession(connector=connector))
        self._kept = KeptSession(HTTP_CONNECTIONS, KEEP_SECONDS)

    async def close(self) -> None:
        """Close the sessions and their connections. They are let go of first: an ``open``
        while they close makes new ones, which this close leaves alone."""
        session, kept = self._session, self._kept
        self._session, self._kept = None, None
        if session is not None:
            await session.close()
        if kept is not None:
            await kept.close()


async def read_body(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether there was more; the error a body that
    can never end raises when its connection is lost (_lost)."""
    reading = asyncio.ensure_future(_read_body(response.content, limit))
    lost = _lost(response)
    try:
        if lost is not None:
            await asyncio.wait((reading, lost), return_when=asyncio.FIRST_COMPLETED)
            content = response.content
            if not reading.done() and not content.is_eof() and content.exception() is None:
                # the body can never end: say what the connection was lost to
                raise _broken(response)
        return await reading
    finally:
        reading.cancel()


async def _read_body(content: aiohttp.StreamReader, limit: int) -> tuple[bytes, bool]:
    """It reads until the body ends: ``content.read(n)`` alone returns the first chunk that
    arrived."""
    data = bytearray()
    while len(data) < limit:
        chunk = await content.read(limit - len(data))
        if not chunk:
            return bytes(data), False
        data += chunk
    return bytes(data), bool(await content.read(1))


def _lost(response: aiohttp.ClientResponse) -> asyncio.Future[None] | None:
    """Done once the answer's connection is lost; None when the response holds none (its body
    is whole, or has its error). aiohttp's C parser, on a body it cannot parse (a chunk-size
    line that is not hex), sets the error on the connection, closes it and drops the body
    with neither an end nor an error (_http_parser.pyx ``feed_data``, client_proto.py
    ``data_received``; aiohttp 3.14.5, no aiohttp issue found for it): a read would wait
    until the deadline. The pure-Python parser sets the error on the body."""
    connection = response.connection
    protocol = None if connection is None else connection.protocol
    if protocol is None:
        return None
    closed = protocol.closed
    if closed is None:  # lost already, before anyone asked
        closed = asyncio.get_running_loop().create_future()
        closed.set_result(None)
    # Once, however many answers a kept connection carries: a loss's error is retrieved, so
    # the future that asking created is never reported as "exception was never retrieved".
    closed.remove_done_callback(_retrieve)
    closed.add_done_callback(_retrieve)
    return closed


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _broken(response: aiohttp.ClientResponse) -> Exception:
    """What the connection under a body that can never end was lost to: the parser's error."""
    connection = response.connection
    protocol = None if connection is None else connection.protocol
    error = None if protocol is None else protocol.exception()
    if isinstance(error, Exception):
        return error
    return aiohttp.ClientPayloadError("Response payload is not completed")


def connect_failure(error: aiohttp.ClientConnectorError) -> str:
    """Why a connection failed, as the errno says it: asyncio's own text repeats the address
    ("Connect call failed ('127.0.0.1', 9)")."""
    cause = error.os_error
    why = os.strerror(cause.errno) if cause.errno else str(cause.strerror or cause)
    return f"cannot connect to {error.host}:{error.port}: {why}"
