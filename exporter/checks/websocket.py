"""The ``websocket`` check: a URL opens a WebSocket, answers a message if asked, and closes
cleanly with code 1000, in time."""

from __future__ import annotations

import asyncio
import contextlib
import http
import os
import re
import time
from typing import Any

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from exporter.checks.base import CheckDeps, CheckType
from exporter.checks.secrets import Secrets
from exporter.checks.tls import client_context, expiry_problem, watching_handshakes
from exporter.checks.websocket_failure import (
    MAX_MESSAGE_BYTES,
    Problem,
    Progress,
    WebSocketReason,
    close_problem,
    ended,
    late,
    refused,
    unmatched,
    unopened,
    unreadable,
)
from exporter.checks.websocket_options import WebSocketOptions
from exporter.session import SharedSession
from exporter.verdict import Check, CheckResult, Component, Observed, RunInfo, Status

# aiohttp's own waits are off: the run's deadline bounds every step, the close included.
NO_TIMEOUT = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=None)
# A close frame the server sent before the check's own close: the server closed first.
FIRST = "before the check's close"
# What the check reads past while it waits for its pong: not its business then.
DATA = frozenset({aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.PONG})


def build(name: str, options: WebSocketOptions, deps: CheckDeps) -> Check:
    """A check of one WebSocket URL, through the app's shared HTTP client: it takes each
    request's TLS context, so one session serves checks with different ``tls`` blocks."""
    return WebSocketCheck(options, deps.http)


class WebSocketCheck:
    """Opens the WebSocket, sends and waits as configured, closes; all within the deadline."""

    def __init__(self, options: WebSocketOptions, shared: SharedSession) -> None:
        self._options = options
        self._http = shared
        self._component = Component("url", options.url)
        self._expect = re.compile(options.expect_regex) if options.expect_regex else None
        secure = options.url.startswith("wss:")
        self._ssl = client_context(options.tls) if secure else True
        self._headers = dict(options.headers)
        if options.token is not None:
            self._headers["Authorization"] = f"Bearer {options.token}"
        self._secrets = Secrets((options.token, options.send), self._headers)

    def _result(self, status: Status, problem: Problem, seen: Progress, **more: Any) -> CheckResult:
        observed = None if seen.seconds is None else Observed(seen.seconds, "s")
        detail = {} if seen.http_status is None else {"http_status": seen.http_status}
        return CheckResult(status, *problem, self._component, observed, detail=detail, **more)

    async def __call__(self, run: RunInfo) -> CheckResult:
        seen = Progress(time.perf_counter())
        with watching_handshakes() as handshake:
            try:
                async with asyncio.timeout_at(run.own_deadline):
                    ws = await self._open()
            except TimeoutError:
                late = f"not open within {run.timeout_seconds:g}s"
                return self._result(Status.FAIL, (WebSocketReason.TIMEOUT, late), seen)
            except aiohttp.WSServerHandshakeError as error:
                seen.seconds = time.perf_counter() - seen.started
                seen.http_status = error.status
                problem = WebSocketReason.HANDSHAKE, refused(error)
                return self._result(Status.FAIL, problem, seen, cert_expiry=handshake.not_after)
            except (aiohttp.ClientError, HttpProcessingError) as error:
                # aiohttp's pure-Python parser raises HttpProcessingError: not a ClientError
                return self._result(Status.FAIL, unopened(error, self._options.url), seen)
        seen.seconds = time.perf_counter() - seen.started
        seen.http_status = http.HTTPStatus.SWITCHING_PROTOCOLS.value
        try:
            found = await self._talk(ws, seen, run)
        finally:
            await _abandon(ws)
        if found is not None:
            return self._result(Status.FAIL, found, seen, cert_expiry=handshake.not_after)
        return self._verdict(seen, handshake.not_after)

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        o = self._options
        return await self._http.session.ws_connect(
            o.url,
            headers=self._headers,
            ssl=self._ssl,
            server_hostname=o.tls.server_name if o.tls else None,
            timeout=NO_TIMEOUT,
            max_msg_size=MAX_MESSAGE_BYTES,
            autoping=False,  # the check reads the pong to its own ping: _still_open
        )

    async def _talk(
        self, ws: aiohttp.ClientWebSocketResponse, seen: Progress, run: RunInfo
    ) -> Problem | None:
        """Send, wait for a match, see the server has not closed, close with 1000; what went
        wrong, or None."""
        try:
            async with asyncio.timeout_at(run.own_deadline):
                return await self._exchange(ws, seen)
        except TimeoutError:
            o = self._options
            return late(seen, run.timeout_seconds, o.expect_regex, self._secrets)

    async def _exchange(
        self, ws: aiohttp.ClientWebSocketResponse, seen: Progress
    ) -> Problem | None:
        """The steps after the open, in order; a write that fails reads what the server sent."""
        try:
            if self._options.send is not None:
                seen.step = "send"
                await ws.send_str(self._options.send)
            found = await self._expected(ws, seen)
            if found is None:
                found = await self._still_open(ws, seen)
        except (aiohttp.ClientError, OSError) as error:  # a write, on a connection gone
            found = await self._lost(ws, error)
        if found is not None:
            return found
        seen.step = "close"
        await ws.close(code=aiohttp.WSCloseCode.OK)  # never raises: a lost connection is 1006
        wrong = close_problem(ws.close_code)
        return None if wrong is None else (WebSocketReason.CLOSED, wrong)

    async def _expected(
        self, ws: aiohttp.ClientWebSocketResponse, seen: Progress
    ) -> Problem | None:
        """Read messages until a text message matches expect_regex; why none did, or None."""
        if self._expect is None:
            return None
        seen.step = "message"
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                seen.texts, seen.last = seen.texts + 1, message.data
                if self._expect.search(message.data):
                    seen.seconds = time.perf_counter() - seen.started
                    return None
            elif message.type is aiohttp.WSMsgType.BINARY:
                seen.binaries += 1
            elif message.type is aiohttp.WSMsgType.PING:
                await ws.pong(message.data)
            elif message.type is aiohttp.WSMsgType.ERROR:
                return WebSocketReason.MESSAGE, unreadable(message.data)
            elif message.type is not aiohttp.WSMsgType.PONG:  # CLOSE; or CLOSED, the end
                end = ended(message, self._secrets)
                if seen.texts or seen.binaries:
                    o = self._options
                    said = unmatched(seen, o.expect_regex, self._secrets)
                    return WebSocketReason.MESSAGE, f"{said}, then {end}"
                return WebSocketReason.CLOSED, f"{end} before any message"

    async def _still_open(
        self, ws: aiohttp.ClientWebSocketResponse, seen: Progress
    ) -> Problem | None:
        """Ping, and read to the pong: frames come in the order the server sent them, and a
        server that has closed answers no ping, so a close frame it sent first, even an instant
        after the upgrade, comes before the pong: the server closed first."""
        seen.step = "ping"
        payload = os.urandom(8)  # the check's own ping: not a pong the server sent unasked
        await ws.ping(payload)
        while True:
            message = await ws.receive()  # messages after the match (or without one) don't count
            if message.type is aiohttp.WSMsgType.PONG and message.data == payload:
                return None
            if message.type is aiohttp.WSMsgType.PING:
                await ws.pong(message.data)
            elif message.type is aiohttp.WSMsgType.ERROR:
                return WebSocketReason.MESSAGE, unreadable(message.data)
            elif message.type not in DATA:  # CLOSE; or CLOSED, the connection lost
                return WebSocketReason.CLOSED, f"{ended(message, self._secrets)} {FIRST}"

    async def _lost(self, ws: aiohttp.ClientWebSocketResponse, error: Exception) -> Problem:
        """A write that failed, the connection going: the server's close frame, if it sent one
        first (its frames are read to the end), else the error's type."""
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.CLOSE:
                return WebSocketReason.CLOSED, f"{ended(message, self._secrets)} {FIRST}"
            if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return WebSocketReason.CLOSED, f"the connection was lost: {type(error).__name__}"

    def _verdict(self, seen: Progress, expires: float | None) -> CheckResult:
        """What a WebSocket that opened, matched if asked, and closed cleanly says."""
        o = self._options
        seconds = seen.seconds or 0.0
        expiry = None if expires is None else expiry_problem(expires, o.min_cert_days)
        if expiry is not None:
            status, error = expiry
            problem = WebSocketReason.CERT_EXPIRY, error
            return self._result(status, problem, seen, cert_expiry=expires)
        if o.warn_after is not None and seconds > o.warn_after:
            what = "matched" if self._expect is not None else "opened"
            slow = f"{what} in {seconds:.3f}s, slower than warn_after {o.warn_after:g}s"
            problem = WebSocketReason.TIMEOUT, slow
            return self._result(Status.WARN, problem, seen, cert_expiry=expires)
        return CheckResult(
            Status.OK,
            component=self._component,
            observed=Observed(seconds, "s"),
            detail={"http_status": seen.http_status},
            cert_expiry=expires,
        )


async def _abandon(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Close a WebSocket the run left open, its time up: aiohttp's close() sends the close
    frame, 1000, before it first waits; that wait, cut at once, drops the connection rather
    than wait for the server's close frame."""
    if ws.closed:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0):
            await ws.close(code=aiohttp.WSCloseCode.OK)


TYPE = CheckType(
    WebSocketOptions,
    build,
    WebSocketReason,
    "a URL opens a WebSocket, answers a message, and closes cleanly, in time",
    detail_schema={
        "http_status": {
            "type": "integer",
            "description": "The status of the answer to the upgrade: 101 once open.",
        }
    },
    unit="s",
)
