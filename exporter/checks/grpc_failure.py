"""How a grpc check reads what went wrong: no connection, no TLS, no answer in time, a gRPC
status, or a health reply that is not SERVING."""

from __future__ import annotations

import enum
import os
import socket
import ssl
from dataclasses import dataclass

from exporter.checks.tls import verify_failure


class GrpcReason(enum.Enum):
    """Why a grpc check is not ok."""

    CONNECT = "connect"  # no connection, or it closed before the answer
    TLS = "tls"  # the handshake failed, or the certificate was not trusted
    TIMEOUT = "timeout"  # no answer in time; or, as a warning, an answer slower than warn_after
    NOT_SERVING = "not_serving"  # the reply is NOT_SERVING or SERVICE_UNKNOWN (or UNKNOWN)
    UNKNOWN_SERVICE = "unknown_service"  # gRPC status NOT_FOUND: the service is not known
    UNIMPLEMENTED = "unimplemented"  # gRPC status UNIMPLEMENTED: the server has no health service
    STATUS = "status"  # any other gRPC status, named in the error
    CERT_EXPIRY = "cert_expiry"  # the certificate has expired, or (warn) does within min_cert_days


# The health reply that passes.
SERVING = "SERVING"


@dataclass
class Step:
    """How far a call got, for the error when it is cut short."""

    at: str = "connect"  # then "answer", once the request is sent


class Refused(Exception):
    """The server answered the call with a gRPC status other than OK."""

    def __init__(self, name: str, code: int) -> None:
        super().__init__(name, code)
        self.name = name  # the status's name, as NOT_FOUND: one of gRPC's fixed set
        self.code = code


class Lost(Exception):
    """The connection or the call's stream ended before the answer; ``why`` is the client
    library's own words ("Connection lost"), never the server's."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def status_failure(refused: Refused, service: str) -> tuple[GrpcReason, str]:
    """The reason and the error for a gRPC status; its message, the server's text (which may
    echo the metadata it was sent), is not quoted."""
    said = f"gRPC status {refused.name} ({refused.code})"
    if refused.name == "NOT_FOUND":
        return GrpcReason.UNKNOWN_SERVICE, f"the server does not know {_service(service)}: {said}"
    if refused.name == "UNIMPLEMENTED":
        return GrpcReason.UNIMPLEMENTED, f"the server has no health service: {said}"
    if refused.name == "OK":
        return GrpcReason.STATUS, f"{said} with no health reply"
    return GrpcReason.STATUS, said


def serving_failure(serving: str, service: str) -> str | None:
    """Why the health reply ``serving`` fails, or None when it is SERVING."""
    if serving == SERVING:
        return None
    return f"{_service(service)} is {serving}"


def _service(service: str) -> str:
    return f"service {service!r}" if service else "the server (service '')"


def connection_failure(error: OSError, address: str, host: str) -> tuple[GrpcReason, str]:
    """A connection that could not be made, or was not trusted: its reason and its error,
    in words of a fixed set (strerror, OpenSSL's verify message)."""
    if isinstance(error, ssl.SSLCertVerificationError):
        expired, why = verify_failure(error)
        return (GrpcReason.CERT_EXPIRY if expired else GrpcReason.TLS), why
    if isinstance(error, ssl.SSLError):
        return GrpcReason.TLS, f"TLS handshake failed: {error.reason or type(error).__name__}"
    if isinstance(error, socket.gaierror):
        return GrpcReason.CONNECT, f"cannot resolve {host}: {error.strerror}"
    why = os.strerror(error.errno) if error.errno else str(error) or type(error).__name__
    return GrpcReason.CONNECT, f"cannot connect to {address}: {why}"


def lost(error: Lost) -> tuple[GrpcReason, str]:
    return GrpcReason.CONNECT, f"the connection closed before the answer: {error.why}"


def late(step: Step, seconds: float, tls: bool) -> str:
    """The error of a call cut short by the deadline, naming the step it was at."""
    if step.at == "connect":
        return f"no {'TLS ' if tls else ''}connection within {seconds:g}s"
    return f"no answer within {seconds:g}s"
