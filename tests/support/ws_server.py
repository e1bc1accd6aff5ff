"""An aiohttp WebSocket server on loopback for the websocket check's tests: it echoes, refuses
the upgrade with 403, closes first (at once, after a greeting, or on a message), never sends,
never reads, or sends what matches nothing; plain or over TLS; it may require a bearer token and
a header; and it records what its clients sent."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import hashlib
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

# What the chattering server sends as soon as a WebSocket opens: matching nothing a test asks.
CHATTER = ("tick 1", b"\x00binary", "tick 2")
# The reason the server that closes at once gives in its close frame.
GOING_AWAY_REASON = "shutting down"
# What the greeting server sends before it closes.
GREETING = "ready"
# The reason the server that closes on a message gives in its close frame.
BYE_REASON = "bye"
# RFC 6455's key suffix, for the raw server's Sec-WebSocket-Accept.
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A close frame, unmasked as a server's: FIN and opcode 8, two bytes of payload, the code 1000.
CLOSE_1000 = b"\x88\x02\x03\xe8"
# A text message just over the check's limit (exporter/checks/websocket_failure.py).
TOO_BIG = "x" * (1024 * 1024 + 1)


class Mode(enum.Enum):
    """How the server answers an upgrade."""

    ECHO = "echo"  # opens; answers each text message with itself
    FORBID = "forbid"  # answers 403 Forbidden instead of the upgrade
    GOING_AWAY = "going away"  # opens, then closes at once with 1001 and GOING_AWAY_REASON
    HANG_UP = "hang up"  # opens, then closes at once with 1000 (aiohttp's default), no reason
    GREET = "greet"  # opens, sends GREETING, then closes at once with 1000
    BYE = "bye"  # reads; closes with 1000 and BYE_REASON on the first text message
    DEAF = "deaf"  # opens and never reads: answers no ping and no close, until the server stops
    SILENT = "silent"  # opens and never sends; reads until the client closes
    CHATTER = "chatter"  # opens, sends CHATTER, then reads until the client closes
    TOO_BIG = "too big"  # opens, sends TOO_BIG, then reads until the client closes


@dataclass
class WsServer:
    """The server's settings, changed by a test between runs, and what it saw."""

    url: str = ""
    mode: Mode = Mode.ECHO
    # Headers an upgrade must carry, else 401 Unauthorized: Authorization, say.
    required: Mapping[str, str] = field(default_factory=dict)
    upgrades: list[dict[str, str]] = field(default_factory=list)  # each upgrade's headers
    received: list[str] = field(default_factory=list)  # text messages, every client's
    # Each WebSocket's end: the code of the client's close frame, None if it sent none.
    close_codes: list[int | None] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)  # ends DEAF's wait

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.upgrades.append(dict(request.headers))
        for name, value in self.required.items():
            if request.headers.get(name) != value:
                raise web.HTTPUnauthorized(text="missing or wrong " + name)
        if self.mode is Mode.FORBID:
            raise web.HTTPForbidden(text="no WebSockets for you")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if self.mode is Mode.GREET:
            await ws.send_str(GREETING)
        if self.mode is Mode.GOING_AWAY:
            await ws.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY_REASON.encode())
        elif self.mode in (Mode.HANG_UP, Mode.GREET):
            await ws.close()
        if ws.closed:  # the code of the client's answer to the server's close
            self.close_codes.append(ws.close_code)
            return ws
        if self.mode is Mode.DEAF:
            await self.stopping.wait()
            return ws
        if self.mode is Mode.CHATTER:
            for said in CHATTER:
                await (ws.send_str(said) if isinstance(said, str) else ws.send_bytes(said))
        if self.mode is Mode.TOO_BIG:
            await ws.send_str(TOO_BIG)
        await self._read(ws)
        return ws

    async def _read(self, ws: web.WebSocketResponse) -> None:
        """Read until the WebSocket ends, echoing in ECHO mode; note the client's close code
        (aiohttp's own close_code says 1000 for a connection dropped without one)."""
        while True:
            message = await ws.receive()
            if message.type is WSMsgType.TEXT:
                self.received.append(message.data)
                if self.mode is Mode.ECHO:
                    await ws.send_str(message.data)
                if self.mode is Mode.BYE:
                    await ws.close(message=BYE_REASON.encode())
                    self.close_codes.append(ws.close_code)
                    return
            elif message.type is WSMsgType.CLOSE:
                self.close_codes.append(message.data)
                return
            elif message.type is not WSMsgType.BINARY:  # CLOSED, CLOSING, ERROR
                self.close_codes.append(None)
                return


@contextlib.asynccontextmanager
async def ws_server(
    ssl_context: ssl.SSLContext | None = None, port: int = 0
) -> AsyncIterator[WsServer]:
    """The server on a loopback port (any free one by default), its URL set: ws://, or wss://
    with ``ssl_context``."""
    server = WsServer()
    app = web.Application()
    app.router.add_get("/", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context, reuse_address=True)
    await site.start()
    server.url = f"{'wss' if ssl_context else 'ws'}://127.0.0.1:{runner.addresses[0][1]}/"
    try:
        yield server
    finally:
        server.stopping.set()
        await runner.cleanup()


@contextlib.asynccontextmanager
async def hard_hang_up() -> AsyncIterator[str]:
    """A raw server on a loopback port, its ws:// URL yielded: it accepts each upgrade, sends
    a close frame with 1000 and drops the connection, all in one write, waiting for nothing."""

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        digest = hashlib.sha1(
            key + WS_GUID, usedforsecurity=False
        ).digest()  # RFC 6455 section 4.2.2
        accepted = base64.b64encode(digest)
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accepted + b"\r\n\r\n" + CLOSE_1000
        )
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    finally:
        server.close()
        await server.wait_closed()
