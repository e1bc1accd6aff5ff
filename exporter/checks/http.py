"""The ``http`` check: a URL answers with an expected status, body and certificate, in time."""

from __future__ import annotations

import asyncio
import enum
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from exporter.checks.base import (
    Check,
    CheckDeps,
    CheckResult,
    CheckType,
    Component,
    Observed,
    RunInfo,
    SharedSession,
    Status,
    connect_failure,
    read_body,
)
from exporter.checks.secrets import BasicAuth, read_secret, redact
from exporter.checks.tls import (
    TlsOptions,
    client_context,
    expiry_problem,
    verify_failure,
    watching_handshakes,
)
from exporter.options import Invalid, Seconds

# The most of a body the check reads, for body_regex and json_path.
MAX_BODY_BYTES = 1024 * 1024
MAX_REDIRECTS = 10
STATUS_CLASS = re.compile(r"[1-5]xx")
# The shared session's default timeouts are off: the run's deadline bounds the request.
NO_TIMEOUT = aiohttp.ClientTimeout(total=None)


class HttpReason(enum.Enum):
    """Why an http check is not ok."""

    CONNECT = "connect"  # no connection, or it closed before the answer
    TLS = "tls"  # the handshake failed, or the certificate was not trusted
    TIMEOUT = "timeout"  # no answer in time; or, as a warning, an answer slower than warn_after
    STATUS = "status"  # a status not in expect_status, or too many redirects
    BODY = "body"  # the body did not match body_regex, or broke off
    JSON = "json"  # the body is not JSON, or json_path is missing or has another value
    CERT_EXPIRY = "cert_expiry"  # the certificate has expired, or (warn) does within min_cert_days


class Method(enum.Enum):
    """The request methods a check may send."""

    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"


class _Unset(enum.Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET


@dataclass(frozen=True)
class HttpOptions:
    """``type: http``: the request, what the answer must be, and when it is only a warning."""

    url: str
    method: Method = Method.GET
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    expect_status: tuple[int | str, ...] = ("2xx",)
    body_regex: str | None = None
    json_path: str | None = None
    json_equals: Any = UNSET
    warn_after: Seconds | None = None
    follow_redirects: bool = True
    tls: TlsOptions | None = None
    min_cert_days: float | None = None
    bearer_token_file: Path | None = None
    basic_auth: BasicAuth | None = None
    token: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        url = URL(self.url)
        if url.scheme not in ("http", "https") or not url.host:
            raise Invalid("url", f"{self.url!r} is not an http:// or https:// URL with a host")
        if url.user is not None or url.password is not None:
            raise Invalid("url", "carries a user or password: use basic_auth with password_file")
        if self.body is not None and self.method is not Method.POST:
            raise Invalid("body", f"is sent with POST only, not {self.method.value}")
        if not self.expect_status:
            raise Invalid("expect_status", "must list at least one status or class, as 2xx")
        for i, wanted in enumerate(self.expect_status):
            _check_status(wanted, f"expect_status[{i}]")
        if self.body_regex is not None:
            try:
                re.compile(self.body_regex.encode())
            except re.error as error:
                raise Invalid("body_regex", f"not a regular expression: {error}") from None
        if (self.json_path is None) != (self.json_equals is UNSET):
            raise Invalid(
                "json_path" if self.json_path is None else "json_equals",
                "give json_path and json_equals together",
            )
        if self.json_path is not None and not all(self.json_path.split(".")):
            raise Invalid("json_path", f"{self.json_path!r} is not a dotted path, as checks.db")
        if self.min_cert_days is not None and self.min_cert_days < 0:
            raise Invalid("min_cert_days", f"{self.min_cert_days:g} must not be negative")
        object.__setattr__(self, "token", _token(self))


def _token(o: HttpOptions) -> str | None:
    """The bearer token, checking that one way of authenticating is given at most."""
    secrets = [o.bearer_token_file is not None, o.basic_auth is not None]
    if sum(secrets) > 1:
        raise Invalid("basic_auth", "give bearer_token_file or basic_auth, not both")
    if any(secrets) and any(name.lower() == "authorization" for name in o.headers):
        raise Invalid("headers", "an Authorization header, and bearer_token_file or basic_auth")
    if o.bearer_token_file is None:
        return None
    return read_secret(o.bearer_token_file, "bearer_token_file")


def _check_status(wanted: int | str, key: str) -> None:
    if isinstance(wanted, int):
        if not 100 <= wanted <= 599:
            raise Invalid(key, f"{wanted} is not an HTTP status (100 to 599)")
    elif not STATUS_CLASS.fullmatch(wanted):
        raise Invalid(key, f"{wanted!r} is neither a status nor a class such as 2xx")


@dataclass
class _Step:
    """How far a request got, for the error when it is cut short."""

    at: str = "connect"
    headers_seconds: float | None = None


@dataclass(frozen=True)
class _Answer:
    """What the server said: status, the body read (if needed), its certificate's expiry."""

    status: int
    body: bytes
    truncated: bool
    seconds: float
    expires: float | None


def build(name: str, options: HttpOptions, deps: CheckDeps) -> Check:
    """A check of one URL, through the app's shared HTTP client."""
    return HttpCheck(options, deps.http)


class HttpCheck:
    """Sends the request and judges the answer; every step within the run's deadline."""

    def __init__(self, options: HttpOptions, http: SharedSession) -> None:
        self._options = options
        self._http = http
        self._component = Component("url", options.url)
        self._body_regex = re.compile(options.body_regex.encode()) if options.body_regex else None
        self._needs_body = options.body_regex is not None or options.json_path is not None
        self._ssl = client_context(options.tls)
        self._secrets = [
            secret
            for secret in (options.token, options.basic_auth and options.basic_auth.password)
            if secret
        ]
        self._headers = dict(options.headers)
        if options.token is not None:
            self._headers["Authorization"] = f"Bearer {options.token}"
        if options.basic_auth is not None:
            auth = options.basic_auth
            self._headers["Authorization"] = auth.header

    def _result(
        self,
        status: Status,
        reason: HttpReason,
        error: str,
        answer: _Answer | None = None,
    ) -> CheckResult:
        return CheckResult(
            status,
            reason,
            self._redact(error),
            self._component,
            None if answer is None else Observed(answer.seconds, "s"),
            detail={} if answer is None else {"http_status": answer.status},
            cert_expiry=None if answer is None else answer.expires,
        )

    def _redact(self, error: str) -> str:
        """The error without the check's secrets, should a server have echoed one back."""
        return redact(error, self._secrets)

    async def __call__(self, run: RunInfo) -> CheckResult:
        step = _Step()
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(run.own_deadline):
                answer = await self._ask(step, started)
        except TimeoutError:
            return self._result(Status.FAIL, HttpReason.TIMEOUT, _late(step, run))
        except aiohttp.ClientError as error:
            return self._result(Status.FAIL, *_failure(error, step, self._options.url))
        return self._verdict(answer)

    async def _ask(self, step: _Step, started: float) -> _Answer:
        """Send the request; the answer, with as much of the body as the check needs."""
        o = self._options
        with watching_handshakes() as handshake:
            async with self._http.session.request(
                o.method.value,
                o.url,
                headers=self._headers,
                data=o.body,
                allow_redirects=o.follow_redirects,
                max_redirects=MAX_REDIRECTS,
                ssl=self._ssl,
                server_hostname=o.tls.server_name if o.tls else None,
                timeout=NO_TIMEOUT,
            ) as response:
                step.at, step.headers_seconds = "body", time.perf_counter() - started
                body, truncated = (
                    await read_body(response, MAX_BODY_BYTES) if self._needs_body else (b"", False)
                )
        seconds = time.perf_counter() - started
        return _Answer(response.status, body, truncated, seconds, handshake.not_after)

    def _verdict(self, answer: _Answer) -> CheckResult:
        """What an answer that arrived whole says."""
        problem = self._problem(answer)
        if problem is not None:
            return self._result(*problem, answer)
        return CheckResult(
            Status.OK,
            component=self._component,
            observed=Observed(answer.seconds, "s"),
            detail={"http_status": answer.status},
            cert_expiry=answer.expires,
        )

    def _problem(self, answer: _Answer) -> tuple[Status, HttpReason, str] | None:
        """The first thing wrong with the answer, in order: status, body, JSON, certificate,
        speed; or None."""
        o = self._options
        if not any(_matches(answer.status, wanted) for wanted in o.expect_status):
            wanted = ", ".join(map(str, o.expect_status))
            return Status.FAIL, HttpReason.STATUS, f"status {answer.status}, expected {wanted}"
        if self._body_regex is not None and not self._body_regex.search(answer.body):
            size = len(answer.body)
            where = f"the first {size} bytes" if answer.truncated else f"{size} bytes"
            return Status.FAIL, HttpReason.BODY, f"no match for {o.body_regex!r} in {where}"
        if o.json_path is not None:
            wrong = _json_problem(answer, o.json_path, o.json_equals)
            if wrong is not None:
                return Status.FAIL, HttpReason.JSON, wrong
        if answer.expires is not None:
            expiry = expiry_problem(answer.expires, o.min_cert_days)
            if expiry is not None:
                return expiry[0], HttpReason.CERT_EXPIRY, expiry[1]
        if o.warn_after is not None and answer.seconds > o.warn_after:
            slow = f"answered in {answer.seconds:.3f}s, slower than warn_after {o.warn_after:g}s"
            return Status.WARN, HttpReason.TIMEOUT, slow
        return None


def _failure(error: aiohttp.ClientError, step: _Step, url: str) -> tuple[HttpReason, str]:
    """The reason and the error for a request that got no whole answer."""
    if isinstance(error, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
        return _tls_failure(error, url)
    if isinstance(error, aiohttp.TooManyRedirects):
        last = error.request_info.real_url
        return HttpReason.STATUS, f"more than {MAX_REDIRECTS} redirects, the last to {last}"
    if isinstance(error, aiohttp.ClientConnectorError):
        return HttpReason.CONNECT, connect_failure(error)
    if step.at == "body":
        return HttpReason.BODY, f"the body broke off: {_plain(error)}"
    return HttpReason.CONNECT, f"no answer from {url}: {_plain(error)}"


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
    return HttpReason.TLS, f"TLS with {url}: {_plain(error)}"


def _matches(status: int, wanted: int | str) -> bool:
    if isinstance(wanted, int):
        return status == wanted
    return str(status // 100) == wanted[0]


def _json_problem(answer: _Answer, path: str, wanted: Any) -> str | None:
    """Why the body's value at ``path`` is not ``wanted``, or None when it is."""
    if answer.truncated:
        return f"the body is over {MAX_BODY_BYTES} bytes: not parsed as JSON"
    try:
        value = json.loads(answer.body)
    except ValueError as error:
        return f"the body is not JSON: {error}"
    walked = []
    for key in path.split("."):
        walked.append(key)
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return f"{'.'.join(walked)} is not in the body"
    if not same_json(value, wanted):
        return f"{path} is {json.dumps(value)[:200]}, expected {json.dumps(wanted)[:200]}"
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


def _late(step: _Step, run: RunInfo) -> str:
    if step.headers_seconds is None:
        return f"no answer within {run.timeout_seconds:g}s"
    within = f"{run.timeout_seconds:g}s"
    return f"headers in {step.headers_seconds:.3f}s, then no whole body within {within}"


def _os(error: aiohttp.ClientError) -> str:
    """An aiohttp error's cause, without its repetition of the address."""
    cause = getattr(error, "os_error", None)
    if isinstance(cause, OSError):
        return os.strerror(cause.errno) if cause.errno else str(cause.strerror or cause)
    return _plain(error)


def _plain(error: BaseException) -> str:
    return str(error) or type(error).__name__


TYPE = CheckType(
    HttpOptions,
    build,
    HttpReason,
    "a URL answers with an expected status, body and certificate, in time",
    detail_schema={
        "http_status": {"type": "integer", "description": "The status of the last answer."}
    },
    unit="s",
)
