"""How the http check reads what went wrong, against real servers on loopback: refusals,
hangs, redirect loops, JSON that is not the wanted value, and failed TLS handshakes."""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

import pytest

from exporter.checks.http_failure import HttpReason
from exporter.checks.tls import TlsOptions
from exporter.session import SharedSession
from exporter.verdict import Status
from tests.certs import CA
from tests.support import http_check as support
from tests.support.http_check import (
    BAD_CHUNKS,
    CHUNKED_HEAD,
    HeadsRead,
    check,
    server,
    serving,
    split_answer,
)
from tests.support.sockets import refused_port

# The fixtures these tests share, by the names the tests ask for.
http = support.http
base = support.base
ca = support.ca


async def test_a_refused_port_fails_with_connect(http: SharedSession) -> None:
    port = refused_port()
    result = await check(http, f"http://127.0.0.1:{port}/health")
    assert (result.status, result.reason) == (Status.FAIL, HttpReason.CONNECT)
    assert result.error == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert result.observed is None


async def test_a_server_that_hangs_after_the_headers_times_out_within_the_timeout(
    http: SharedSession, base: str
) -> None:
    t0 = time.monotonic()
    result = await check(http, f"{base}/hang", seconds=0.5, body_regex="up")
    elapsed = time.monotonic() - t0
    assert (result.status, result.reason) == (Status.FAIL, HttpReason.TIMEOUT)
    assert result.error.startswith("headers in ")
    assert result.error.endswith("s, then no whole body within 0.5s")
    assert elapsed < 5  # bounded by the timeout, not by the server's 30 s


async def test_a_hang_before_the_headers_says_no_answer(http: SharedSession) -> None:
    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        result = await check(http, f"http://127.0.0.1:{port}/", seconds=0.3)
    finally:
        done.set()
        listener.close()
        await listener.wait_closed()
    assert (result.status, result.reason) == (Status.FAIL, HttpReason.TIMEOUT)
    assert result.error == "no answer within 0.3s"


async def test_a_redirect_loop_fails_with_status(http: SharedSession, base: str) -> None:
    result = await check(http, f"{base}/loop")
    assert (result.status, result.reason) == (Status.FAIL, HttpReason.STATUS)
    assert result.error == f"more than 10 redirects, the last to {base}/loop"


@pytest.mark.parametrize(
    ("path", "equals", "problem"),
    [
        ("status", "up", None),
        ("checks.db", "ok", None),
        ("checks.replicas.1", 2, None),
        ("checks.replicas", [1, 2], None),
        ("ready", True, None),
        ("load", 1.0, None),  # one number
        ("load", True, "load is 1, expected true"),  # true is not 1
        ("ready", 1, "ready is true, expected 1"),
        ("status", "down", 'status is "up", expected "down"'),
        ("checks.cache", "ok", "checks.cache is not in the body"),
        ("checks.replicas.5", 1, "checks.replicas.5 is not in the body"),
        ("status.inner", "up", "status.inner is not in the body"),
        ("load", None, "load is 1, expected null"),
    ],
)
async def test_json_path_and_json_equals(
    http: SharedSession, base: str, path: str, equals: Any, problem: str | None
) -> None:
    result = await check(http, f"{base}/health", json_path=path, json_equals=equals)
    if problem is None:
        assert (result.status, result.error) == (Status.OK, None)
    else:
        assert (result.status, result.reason, result.error) == (
            Status.FAIL,
            HttpReason.JSON,
            problem,
        )


async def test_a_body_that_is_not_json_fails_with_json(http: SharedSession, base: str) -> None:
    result = await check(http, f"{base}/text", json_path="status", json_equals="up")
    assert (result.status, result.reason) == (Status.FAIL, HttpReason.JSON)
    assert result.error == "the body is not JSON: Expecting value: line 1 column 1 (char 0)"


async def test_tls_without_the_ca_fails_with_tls(http: SharedSession, ca: CA) -> None:
    async with server(serving(ca, datetime.timedelta(days=30))) as url:
        result = await check(http, f"{url}/health")
    assert (result.status, result.reason) == (Status.FAIL, HttpReason.TLS)
    assert result.error.startswith("127.0.0.1:")
    assert result.error.endswith(": certificate unable to get local issuer certificate")


async def test_a_wrong_server_name_fails_with_tls(http: SharedSession, ca: CA) -> None:
    async with server(serving(ca, datetime.timedelta(days=30))) as url:
        tls = TlsOptions(ca_file=ca.cert, server_name="db.example")
        result = await check(http, f"{url}/health", tls=tls)
    assert (result.status, result.reason) == (Status.FAIL, HttpReason.TLS)
    assert "Hostname mismatch" in result.error


async def test_an_expired_certificate_fails_with_cert_expiry(http: SharedSession, ca: CA) -> None:
    async with server(serving(ca, datetime.timedelta(days=-2))) as url:
        verified = await check(http, f"{url}/health", tls=TlsOptions(ca_file=ca.cert))
        skipped = await check(http, f"{url}/health", tls=TlsOptions(insecure_skip_verify=True))
    assert (verified.status, verified.reason) == (Status.FAIL, HttpReason.CERT_EXPIRY)
    assert verified.error.endswith(": certificate certificate has expired")
    # Without verification the handshake succeeds; the check still reads the date.
    assert (skipped.status, skipped.reason) == (Status.FAIL, HttpReason.CERT_EXPIRY)
    assert skipped.error == "the certificate expired 2.0 days ago"
    assert abs(skipped.cert_expiry - (time.time() - 2 * 86400)) < 120


async def test_json_nested_past_the_recursion_limit_fails_with_json_and_breaks_nothing(
    http: SharedSession, base: str
) -> None:
    result = await check(http, f"{base}/deep", json_path="deep", json_equals=1)
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        HttpReason.JSON,
        "the body is JSON nested too deep to read",
    )
    within = await check(http, f"{base}/deep?depth=300", json_path="deep", json_equals=[])
    assert (within.status, within.reason, within.error) == (
        Status.FAIL,
        HttpReason.JSON,
        "deep is " + "[" * 200 + "…, expected []",
    )
    after = await check(http, f"{base}/health", json_path="status", json_equals="up")
    assert (after.status, after.error) == (Status.OK, None)


@pytest.mark.parametrize("close", [True, False], ids=["then closed", "kept open"])
@pytest.mark.parametrize("bad", BAD_CHUNKS, ids=str)
async def test_a_bad_chunk_size_line_fails_with_body_at_once(bad: str, close: bool) -> None:
    # aiohttp's C parser drops such a body with neither an end nor an error: the check once
    # waited for its whole timeout (exporter.session._lost).
    http = HeadsRead()
    await http.open()
    try:
        async with split_answer(CHUNKED_HEAD, BAD_CHUNKS[bad], http.head_read, close=close) as url:
            t0 = time.monotonic()
            result = await check(http, f"{url}/", seconds=10.0, body_regex="hello")
            elapsed = time.monotonic() - t0
    finally:
        await http.close()
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        HttpReason.BODY,
        "the body broke off: the answer is not valid HTTP",
    )
    assert elapsed < 2.0  # a measurement: at once, not at the 10 s timeout


async def test_a_chunked_body_sent_apart_from_its_head_is_read_whole() -> None:
    http = HeadsRead()
    await http.open()
    try:
        rest = b"5\r\nhello\r\n0\r\n\r\n"
        async with split_answer(CHUNKED_HEAD, rest, http.head_read, close=False) as url:
            result = await check(http, f"{url}/", seconds=10.0, body_regex="hello")
    finally:
        await http.close()
    assert (result.status, result.error) == (Status.OK, None)
