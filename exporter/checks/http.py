"""The ``http`` check: a URL answers with an expected status, body and certificate, in time."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from exporter.checks.base import CheckDeps, CheckType
from exporter.checks.http_failure import (
    MAX_BODY_BYTES,
    MAX_REDIRECTS,
    Answer,
    HttpReason,
    Step,
    failure,
    json_problem,
    late,
    matches,
)
from exporter.checks.http_options import HttpOptions
from exporter.checks.secrets import Secrets
from exporter.checks.tls import client_context, expiry_problem, watching_handshakes
from exporter.session import SharedSession, read_body
from exporter.verdict import Check, CheckResult, Component, Observed, RunInfo, Status

# The shared session's default timeouts are off: the run's deadline bounds the request.
NO_TIMEOUT = aiohttp.ClientTimeout(total=None)


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
        self._headers = dict(options.headers)
        if options.token is not None:
            self._headers["Authorization"] = f"Bearer {options.token}"
        if options.basic_auth is not None:
            auth = options.basic_auth
            self._headers["Authorization"] = auth.header
        password = options.basic_auth.password if options.basic_auth else None
        self._secrets = Secrets((options.token, password), self._headers)

    def _result(
        self,
        status: Status,
        reason: HttpReason,
        error: str,
        answer: Answer | None = None,
    ) -> CheckResult:
        return CheckResult(
            status,
            reason,
            self._secrets.redact(error),
            self._component,
            None if answer is None else Observed(answer.seconds, "s"),
            detail={} if answer is None else {"http_status": answer.status},
            cert_expiry=None if answer is None else answer.expires,
        )

    async def __call__(self, run: RunInfo) -> CheckResult:
        step = Step()
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(run.own_deadline):
                answer = await self._ask(step, started)
        except TimeoutError:
            return self._result(Status.FAIL, HttpReason.TIMEOUT, late(step, run))
        except (aiohttp.ClientError, HttpProcessingError) as error:
            # aiohttp's pure-Python parser raises HttpProcessingError itself: not a ClientError
            return self._result(Status.FAIL, *failure(error, step, self._options.url))
        return self._verdict(answer)

    async def _ask(self, step: Step, started: float) -> Answer:
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
        return Answer(response.status, body, truncated, seconds, handshake.not_after)

    def _verdict(self, answer: Answer) -> CheckResult:
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

    def _problem(self, answer: Answer) -> tuple[Status, HttpReason, str] | None:
        """The first thing wrong with the answer, in order: status, body, JSON, certificate,
        speed; or None."""
        o = self._options
        if not any(matches(answer.status, wanted) for wanted in o.expect_status):
            wanted = ", ".join(map(str, o.expect_status))
            return Status.FAIL, HttpReason.STATUS, f"status {answer.status}, expected {wanted}"
        if self._body_regex is not None and not self._body_regex.search(answer.body):
            size = len(answer.body)
            where = f"the first {size} bytes" if answer.truncated else f"{size} bytes"
            return Status.FAIL, HttpReason.BODY, f"no match for {o.body_regex!r} in {where}"
        if o.json_path is not None:
            wrong = json_problem(answer, o.json_path, o.json_equals, self._secrets)
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
