"""How an http check reads what went wrong: a request cut short, or an answer not as expected."""

from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from exporter.checks.secrets import Secrets, unquoted
from exporter.checks.tls import verify_failure
from exporter.session import connect_failure
from exporter.verdict import RunInfo

# The most of a body the check reads, for body_regex and json_path.
MAX_BODY_BYTES = 1024 * 1024
MAX_REDIRECTS = 10
# How much of a value at json_path the error quotes.
QUOTED_CHARS = 200
TOO_DEEP = "the body is JSON nested too deep to read"


class HttpReason(enum.Enum):
    """Why an http check is not ok."""

    CONNECT = "connect"  # no connection, or it closed before the answer
    TLS = "tls"  # the handshake failed, or the certificate was not trusted
    TIMEOUT = "timeout"  # no answer in time; or, as a warning, an answer slower than warn_after
    STATUS = "status"  # a status not in expect_status, or too many redirects
    BODY = "body"  # the body did not match body_regex, or broke off
    JSON = "json"  # the body is not JSON, or json_path is missing or has another value
    CERT_EXPIRY = "cert_expiry"  # the certificate has expired, or (warn) does within min_cert_days


@dataclass
class Step:
    """How far a request got, for the error when it is cut short."""

    at: str = "connect"
    headers_seconds: float | None = None


@dataclass(frozen=True)
class Answer:
    """What the server said: status, the body read (if needed), its certificate's expiry."""

    status: int
    body: bytes
    truncated: bool
    seconds: float
    expires: float | None


def failure(
    error: aiohttp.ClientError | HttpProcessingError, step: Step, url: str
) -> tuple[HttpReason, str]:
    """The reason and the error for a request that got no whole answer; what the server sent
    is not quoted (unquoted)."""
    if isinstance(error, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
        return _tls_failure(error, url)
    if isinstance(error, aiohttp.TooManyRedirects):
        last = error.request_info.real_url
        return HttpReason.STATUS, f"more than {MAX_REDIRECTS} redirects, the last to {last}"
    if isinstance(error, aiohttp.ClientConnectorError):
        return HttpReason.CONNECT, connect_failure(error)
    if step.at == "body":
        return HttpReason.BODY, f"the body broke off: {unquoted(error)}"
    return HttpReason.CONNECT, f"no answer from {url}: {unquoted(error)}"


def _tls_failure(
    error: aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError, url: str
) -> tuple[HttpReason, str]:
    """A failed handshake: an expired certificate, or any other TLS failure."""
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        expired, why = verify_failure(error.certificate_error)
        reason = HttpReason.CERT_EXPIRY if expired else HttpReason.TLS
        return reason, f"{error.host}:{error.port}: {why}"
    if isinstance(error, aiohttp.ClientConnectorSSLError):
        return HttpReason.TLS, f"TLS with {error.host}:{error.port}: {_os(error)}"
    return HttpReason.TLS, f"TLS with {url}: {unquoted(error)}"


def matches(status: int, wanted: int | str) -> bool:
    if isinstance(wanted, int):
        return status == wanted
    return str(status // 100) == wanted[0]


def json_problem(answer: Answer, path: str, wanted: Any, secrets: Secrets) -> str | None:
    """Why the body's value at ``path`` is not ``wanted``, or None when it is; the value is
    quoted with ``secrets`` redacted before it is cut."""
    if answer.truncated:
        return f"the body is over {MAX_BODY_BYTES} bytes: not parsed as JSON"
    try:
        value = json.loads(answer.body)
    except ValueError as error:
        return f"the body is not JSON: {error}"
    except RecursionError:  # json's C scanner stops at the interpreter's recursion limit
        return TOO_DEEP
    try:
        return _value_problem(value, path, wanted, secrets)
    except RecursionError:  # a value parsed just within the limit, quoted from deeper down
        return TOO_DEEP


def _value_problem(value: Any, path: str, wanted: Any, secrets: Secrets) -> str | None:
    walked = []
    for key in path.split("."):
        walked.append(key)
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdecimal() and int(key) < len(value):
            value = value[int(key)]
        else:
            return f"{'.'.join(walked)} is not in the body"
    if not same_json(value, wanted):
        found = secrets.quote(json.dumps(value), QUOTED_CHARS)
        return f"{path} is {found}, expected {json.dumps(wanted)[:QUOTED_CHARS]}"
    return None


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: true is not 1, 1 is 1.0, lists and objects compared inside."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_json, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def late(step: Step, run: RunInfo) -> str:
    if step.headers_seconds is None:
        return f"no answer within {run.timeout_seconds:g}s"
    within = f"{run.timeout_seconds:g}s"
    return f"headers in {step.headers_seconds:.3f}s, then no whole body within {within}"


def _os(error: aiohttp.ClientError) -> str:
    """An aiohttp error's cause, without its repetition of the address."""
    cause = getattr(error, "os_error", None)
    if isinstance(cause, OSError):
        return os.strerror(cause.errno) if cause.errno else str(cause.strerror or cause)
    return unquoted(error)
