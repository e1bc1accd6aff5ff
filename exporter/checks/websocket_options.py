"""The ``websocket`` check's options: the URL and what is sent with the upgrade, the message
exchange, and their validation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from yarl import URL

from exporter.checks.secrets import read_secret
from exporter.checks.tls import TlsOptions
from exporter.options import Invalid, Seconds

# Headers of the upgrade itself, which aiohttp writes: a check's own would break the handshake
# (Connection: close), or announce an extension the client cannot read (permessage-deflate).
HANDSHAKE_HEADERS = frozenset(
    {
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
    }
)


@dataclass(frozen=True)
class WebSocketOptions:
    """``type: websocket``: the URL, the upgrade's headers and TLS, a message to send, what a
    message must match, and when the answer is only a warning."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    send: str | None = field(default=None, repr=False)  # may carry a secret
    expect_regex: str | None = None
    tls: TlsOptions | None = None
    min_cert_days: float | None = None
    bearer_token_file: Path | None = None
    warn_after: Seconds | None = None
    token: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        url = URL(self.url)
        if url.scheme not in ("ws", "wss") or not url.host:
            raise Invalid("url", f"{self.url!r} is not a ws:// or wss:// URL with a host")
        if url.user is not None or url.password is not None:
            raise Invalid("url", "carries a user or password: use bearer_token_file or headers")
        if url.scheme == "ws":
            for key in ("tls", "min_cert_days"):
                if getattr(self, key) is not None:
                    raise Invalid(key, "needs a wss:// URL")
        if self.min_cert_days is not None and self.min_cert_days < 0:
            raise Invalid("min_cert_days", f"{self.min_cert_days:g} must not be negative")
        for name in self.headers:
            if name.lower() in HANDSHAKE_HEADERS:
                raise Invalid("headers", f"{name} is the WebSocket handshake's own header")
        if self.expect_regex is not None:
            try:
                re.compile(self.expect_regex)
            except re.error as error:
                raise Invalid("expect_regex", f"not a regular expression: {error}") from None
        object.__setattr__(self, "token", _token(self))


def _token(o: WebSocketOptions) -> str | None:
    """The bearer token, if a file is given; and no Authorization header beside it."""
    if o.bearer_token_file is None:
        return None
    if any(name.lower() == "authorization" for name in o.headers):
        raise Invalid("headers", "an Authorization header, and bearer_token_file")
    return read_secret(o.bearer_token_file, "bearer_token_file")
