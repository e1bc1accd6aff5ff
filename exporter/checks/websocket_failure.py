"""How a websocket check reads what went wrong: an upgrade that failed or was refused, a close,
a message it could not read or none that matched, a step the deadline cut short."""

from __future__ import annotations

import enum
import http
from dataclasses import dataclass

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from exporter.checks.http_failure import HttpReason, Step, failure
from exporter.checks.secrets import Secrets

# How much of a message that did not match, or of a close's reason, an error quotes.
QUOTED_CHARS = 64
# The largest message the check reads; a larger one is a failure (MESSAGE_TOO_BIG).
MAX_MESSAGE_BYTES = 1024 * 1024
# The answers to the check's close that are clean: 1000 echoed, or a close frame with no code
# (aiohttp reads it as 0; RFC 6455 section 7.1.5 calls it 1005).
CLEAN_CODES = frozenset({aiohttp.WSCloseCode.OK, 0})


# What each step waits for, named when the time runs out in it.
AWAITED = {
    "send": "message not sent",
    "message": "no message",
    "ping": "no pong to the check's ping",
    "close": "no close frame back",
}


class WebSocketReason(enum.Enum):
    """Why a websocket check is not ok."""

    CONNECT = "connect"  # no connection, or it was lost before the answer to the upgrade
    TLS = "tls"  # the TLS handshake failed, or the certificate was not trusted
    HANDSHAKE = "handshake"  # the answer to the upgrade was not 101 (named), or not an upgrade
    TIMEOUT = (
        "timeout"  # not open, no message, pong or close in time; or (warn) slower than warn_after
    )
    MESSAGE = "message"  # messages came and none matched expect_regex, or one could not be read
    CLOSED = "closed"  # the server closed first (any code), or answered the close not with 1000
    CERT_EXPIRY = "cert_expiry"  # the certificate has expired, or (warn) does within min_cert_days


Problem = tuple[WebSocketReason, str]


@dataclass
class Progress:
    """How far one run got, for its verdict and the error when it is cut short."""

    started: float
    step: str = "open"
    seconds: float | None = None  # the latency: to open; with expect_regex, to the match
    http_status: int | None = None
    texts: int = 0
    binaries: int = 0
    last: str = ""  # the last text message


# A connection that failed before the upgrade's answer, as the http check reads it.
FROM_HTTP = {
    HttpReason.TLS: WebSocketReason.TLS,
    HttpReason.CERT_EXPIRY: WebSocketReason.CERT_EXPIRY,
    HttpReason.STATUS: WebSocketReason.HANDSHAKE,  # too many redirects
}


def unopened(
    error: aiohttp.ClientError | HttpProcessingError, url: str
) -> tuple[WebSocketReason, str]:
    """The reason and the error for an upgrade that got no answer; what the server sent is not
    quoted. A refused upgrade (WSServerHandshakeError) is ``refused``."""
    reason, text = failure(error, Step(), url)
    return FROM_HTTP.get(reason, WebSocketReason.CONNECT), text


def refused(error: aiohttp.WSServerHandshakeError) -> str:
    """An answer to the upgrade that is not one: its status named, the server's text not."""
    if error.status != http.HTTPStatus.SWITCHING_PROTOCOLS:
        try:
            said = f"{error.status} {http.HTTPStatus(error.status).phrase}"
        except ValueError:
            said = str(error.status)
        return f"the server answered {said}, not 101 Switching Protocols"
    # aiohttp's message is one of a fixed few: "Invalid upgrade header", ...
    return f"the server's 101 is not a WebSocket upgrade: {error.message}"


def close_problem(code: int | None) -> str | None:
    """What is wrong with how the server answered the check's close, or None."""
    if code == aiohttp.WSCloseCode.ABNORMAL_CLOSURE:  # aiohttp's own, for a lost connection
        return "the connection was lost before the server's close"
    if code not in CLEAN_CODES:
        return f"the server closed with {close_code(code)}"
    return None


def ended(message: aiohttp.WSMessage, secrets: Secrets) -> str:
    """How the server ended the WebSocket: its close code, and its reason quoted redacted."""
    if message.type is not aiohttp.WSMsgType.CLOSE:
        return "the connection was lost without a close frame"
    said = secrets.quote(str(message.extra or ""), QUOTED_CHARS)
    return f"the server closed with {close_code(message.data)}" + (f": {said!r}" if said else "")


def unmatched(seen: Progress, pattern: str | None, secrets: Secrets) -> str:
    """The messages that came, and the last text one, none matching."""
    last = f" (the last: {secrets.quote(seen.last, QUOTED_CHARS)!r})" if seen.texts else ""
    return f"{counted(seen.texts, seen.binaries)}, none matched {pattern!r}{last}"


def late(seen: Progress, seconds: float, pattern: str | None, secrets: Secrets) -> Problem:
    """A run whose time ran out: what its step waited for; messages that did not match."""
    within = f"within {seconds:g}s"
    if seen.step == "message" and (seen.texts or seen.binaries):
        return WebSocketReason.MESSAGE, f"{unmatched(seen, pattern, secrets)} {within}"
    return WebSocketReason.TIMEOUT, f"{AWAITED[seen.step]} {within}"


def close_code(code: int | None) -> str:
    """A close code, and its name when it has one: 1001 (GOING_AWAY)."""
    if not code:
        return "no code"
    try:
        return f"{code} ({aiohttp.WSCloseCode(code).name})"
    except ValueError:
        return str(code)


def unreadable(error: object) -> str:
    """A message the client could not read: the kind of fault, not the frame (aiohttp's text
    may quote the frame's bytes)."""
    code = getattr(error, "code", None)
    if code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
        return f"the server sent a message over {MAX_MESSAGE_BYTES} bytes"
    return f"the server sent a frame the client cannot read: {close_code(code)}"


def counted(texts: int, binaries: int) -> str:
    """The messages that came: 2 text messages and 1 binary message."""
    parts = [_count(n, kind) for n, kind in ((texts, "text"), (binaries, "binary")) if n]
    return " and ".join(parts)


def _count(n: int, kind: str) -> str:
    return f"{n} {kind} message{'' if n == 1 else 's'}"
