"""The cap on a request's head: its request line and header fields take at most 16 KiB, or the
exporter reads no more of the connection, answers 431 with a JSON reason when it can, and
closes it. aiohttp's own limits bound one line (8 190 bytes) and the number of fields (128),
about 1 MB a request, which it parses before any handler or auth runs."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Callable

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.log import server_logger
from prometheus_client import Counter

from exporter.web.middleware import error_response

# A scrape or a probe sends a few hundred bytes; a bearer token or a cookie a few KB more.
MAX_HEAD_BYTES = 16 * 1024
REASON = "Request Header Fields Too Large"
MESSAGE = (
    f"request head over {MAX_HEAD_BYTES} bytes refused: its request line and header fields "
    f"may take at most {MAX_HEAD_BYTES} bytes"
)
# After its answer, a refused connection is read and dropped until the client closes it, for
# at most this long: closing a socket with unread bytes resets it, and the reset can destroy
# the answer before the client reads it.
LINGER_SECONDS = 2.0
# The blank line that ends a head. aiohttp's parser (llhttp, lenient) also takes a bare LF
# for a line's end; a match it would not make resets the count early, never late for it.
BLANK_LINE = re.compile(rb"\n\r?\n")
# The most bytes of a blank line one read can end with before the next read finishes it.
CARRY = 2


def refusal() -> bytes:
    """The whole answer to a head over the cap: 431, the exporter's JSON error body, and the
    connection closed."""
    response = error_response(431, REASON, MESSAGE)
    body = response.body
    assert isinstance(body, bytes)  # a JSON body is encoded when the response is made
    head = (
        f"HTTP/1.1 431 {REASON}\r\n"
        f"{hdrs.CONTENT_TYPE}: {response.content_type}; charset={response.charset}\r\n"
        f"{hdrs.CONTENT_LENGTH}: {len(body)}\r\n"
        f"{hdrs.CONNECTION}: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class HeadLimit(asyncio.Protocol):
    """The app's protocol for one connection, which counts the bytes of each request head on
    their way in, and refuses the connection when one passes MAX_HEAD_BYTES.

    A head is counted from the end of the one before (or the connection's start) to its blank
    line, so a body sent with a request counts towards the next head: no endpoint takes more
    than 1 KiB of body. The bytes of a head over the cap never reach aiohttp. When no whole
    request came before on the connection, aiohttp owes it no answer, and the 431 goes out at
    once. Otherwise it may still owe answers to the requests before, and nothing may come
    before those: the connection is read no more and aiohttp closes it, after its answers, at
    its keep-alive timeout. Each refused head counts in ``refused``."""

    __slots__ = (
        "_carry",
        "_closing",
        "_counted",
        "_inner",
        "_linger",
        "_refused",
        "_requests",
        "_size",
        "_transport",
    )

    def __init__(
        self, inner: asyncio.Protocol, refused: Counter, linger: float = LINGER_SECONDS
    ) -> None:
        self._inner = inner
        self._counted = refused
        self._linger = linger
        self._transport: asyncio.Transport | None = None
        self._size = 0  # bytes of the head being received, self._carry included
        self._carry = b""  # the last bytes read, in case they start a blank line
        self._requests = 0  # whole heads passed on to aiohttp
        self._refused = False
        self._closing: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a stream socket's, plain or TLS
        self._transport = transport
        self._inner.connection_made(transport)

    @property
    def refused(self) -> bool:
        """A head over the cap came: its 431 is on its way, or aiohttp closes the connection."""
        return self._refused

    def reading(self) -> bool:
        """Bytes of a request have come since the last whole head, and the connection is not
        refused: a head (or a body) is under way."""
        return self._size > 0 and not self._refused

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped
        joined = self._carry + data
        # The size of the head under way at index i of `joined` is before + i.
        before = self._size - len(self._carry)
        passed = 0  # the bytes of `data` up to the end of its last whole head
        for match in BLANK_LINE.finditer(joined):
            end = match.end()
            if before + end > MAX_HEAD_BYTES:
                self._refuse(data[:passed])
                return
            passed = end - len(self._carry)
            before = -end
            self._requests += 1
        size = before + len(joined)
        if size > MAX_HEAD_BYTES:
            self._refuse(data[:passed])
            return
        self._size = size
        self._carry = joined[max(len(joined) - CARRY, len(joined) - size) :]
        self._inner.data_received(data)

    def _refuse(self, whole: bytes) -> None:
        """Pass on ``whole`` (the requests that came whole before the head over the cap), and
        read nothing more."""
        if whole:
            self._inner.data_received(whole)
        self._refused = True
        self._carry = b""
        self._counted.inc()
        transport = self._transport
        assert transport is not None  # bytes come after the connection is made
        peer = transport.get_extra_info("peername")
        remote = peer[0] if isinstance(peer, tuple) else peer
        # aiohttp's record for a request its parser rejects, which the log pipeline makes one
        # short line, at a bounded rate (exporter.logs.access_log.CompactBadRequests).
        error = HttpProcessingError(code=431, message=MESSAGE)
        server_logger.error("Error handling request from %s", remote, exc_info=error)
        if self._requests:
            transport.pause_reading()
            return
        transport.write(refusal())
        self._closing = asyncio.get_running_loop().call_later(self._linger, transport.close)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closing is not None:
            self._closing.cancel()
        self._inner.connection_lost(exc)


def site_name(sock: socket.socket, ssl_context: ssl.SSLContext | None) -> str:
    """A site's URL, as aiohttp's SockSite names it."""
    scheme = "https" if ssl_context else "http"
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class HeadLimitedSite(web.BaseSite):
    """aiohttp's SockSite, each of whose connections is a HeadLimit counting its refusals in
    ``refused``: for the sockets served without a cap on connections, and the base of
    exporter.accept.LimitedSite, which serves them through its own accept loop."""

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        refused: Counter,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        handshake_timeout: float = 60.0,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._sock = sock
        self._refused = refused
        self._handshake_timeout = handshake_timeout
        self._name = site_name(sock, ssl_context)

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None  # the runner is set up before a site is made
        self._server = await self._serve(server)

    async def _serve(self, factory: Callable[[], asyncio.Protocol]) -> asyncio.AbstractServer:
        """Serve the socket, each connection with a HeadLimit around ``factory()``."""
        return await asyncio.get_running_loop().create_server(
            lambda: HeadLimit(factory(), self._refused),
            sock=self._sock,
            backlog=self._backlog,
            ssl=self._ssl_context,
            ssl_handshake_timeout=self._handshake_timeout if self._ssl_context else None,
        )
