"""The ``grpc`` check's options: the server, the service asked about, TLS, the metadata sent,
and their validation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from exporter.checks.secrets import read_secret
from exporter.checks.tls import TlsOptions
from exporter.config import parse_listen_address
from exporter.options import Invalid, Seconds

# gRPC's metadata keys (the HTTP/2 spec of gRPC): lower-case letters, digits, _ - and .
METADATA_KEY = re.compile(r"[0-9a-z_.\-]+")
# An ASCII metadata value: printable ASCII and the space, one character at least.
METADATA_VALUE = re.compile(r"[ -~]+")
# Keys the call sets itself, or that HTTP/2 forbids in a request.
RESERVED_KEYS = frozenset(
    {
        "te",
        "content-type",
        "user-agent",
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    }
)


@dataclass(frozen=True)
class GrpcOptions:
    """``type: grpc``: the server, the service to ask about, TLS, what the call carries, and
    when an answer is only a warning."""

    address: str
    service: str = ""
    tls: bool | TlsOptions = False
    min_cert_days: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict, repr=False)  # may carry keys
    bearer_token_file: Path | None = None
    warn_after: Seconds | None = None
    token: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            parsed = parse_listen_address(self.address)
        except ValueError as error:
            raise Invalid("address", str(error)) from None
        if parsed.host is None or parsed.port == 0:
            raise Invalid("address", f"{self.address!r} needs a host and a port, as api:50051")
        if self.min_cert_days is not None and self.min_cert_days < 0:
            raise Invalid("min_cert_days", f"{self.min_cert_days:g} must not be negative")
        if self.min_cert_days is not None and self.tls is False:
            raise Invalid("min_cert_days", "needs tls")
        for key, value in self.metadata.items():
            _check_metadata(key, value)
        token = None
        if self.bearer_token_file is not None:
            if "authorization" in self.metadata:
                raise Invalid("metadata.authorization", "given, and bearer_token_file too")
            token = read_secret(self.bearer_token_file, "bearer_token_file")
        object.__setattr__(self, "token", token)

    @property
    def sent_metadata(self) -> dict[str, str | bytes]:
        """The metadata the call sends: ``metadata``, a ``-bin`` key's value as its UTF-8
        bytes, and the bearer token as ``authorization``."""
        sent: dict[str, str | bytes] = {
            key: value.encode() if key.endswith("-bin") else value
            for key, value in self.metadata.items()
        }
        if self.token is not None:
            sent["authorization"] = f"Bearer {self.token}"
        return sent


def _check_metadata(key: str, value: str) -> None:
    """Invalid naming ``metadata.<key>`` for a key gRPC refuses, or a value it cannot carry;
    the value is never quoted: it may be a secret."""
    where = f"metadata.{key}"
    if not METADATA_KEY.fullmatch(key):
        lower = f": write {key.lower()!r}" if METADATA_KEY.fullmatch(key.lower()) else ""
        raise Invalid(where, f"not a gRPC metadata key (0-9 a-z _ - . only){lower}")
    if key.startswith("grpc-") or key in RESERVED_KEYS:
        raise Invalid(where, "is set by the call itself: not metadata")
    if not key.endswith("-bin") and not METADATA_VALUE.fullmatch(value):
        raise Invalid(where, "must be printable ASCII, one character at least (or use a -bin key)")
