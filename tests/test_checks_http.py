"""The http check against real aiohttp servers on loopback: statuses, bodies, JSON, redirects,
hangs, TLS with a CA of the test's own and certificates that expire."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import json
import os
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from exporter.checks import CheckResult, Component, RunInfo, SharedSession, Status
from exporter.checks.http import (
    MAX_BODY_BYTES,
    HttpCheck,
    HttpOptions,
    HttpReason,
    Method,
)
from exporter.checks.secrets import BasicAuth
from exporter.checks.tls import TlsOptions
from exporter.options import Seconds
from exporter.run.check_series import CheckSeries, Shape
from tests.certs import CA
from tests.conftest import StartExporter
from tests.test_checks_tcp import refused_port
from tests.test_config_file import refused

HEALTH = {"status": "up", "checks": {"db": "ok", "replicas": [1, 2]}, "ready": True, "load": 1}


def run(timeout: float = 1.0) -> RunInfo:
    loop = asyncio.get_running_loop()
    return RunInfo("r" * 32, "http", loop.time() + timeout, timeout)


async def health(request: web.Request) -> web.Response:
    return web.json_response(HEALTH)


async def error(request: web.Request) -> web.Response:
    return web.json_response({"status": "down"}, status=500)


async def hang(request: web.Request) -> web.StreamResponse:
    """Headers, then nothing."""
    response = web.StreamResponse()
    await response.prepare(request)
    await asyncio.sleep(30)
    return response


async def big(request: web.Request) -> web.StreamResponse:
    """10 MB of body, the word 'needle' only at its end."""
    response = web.StreamResponse()
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError):  # the check stops reading at 1 MiB
        for _ in range(10):
            await response.write(b"x" * 1_000_000)
        await response.write(b"needle")
    return response


async def loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def moved(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/health")


async def text(request: web.Request) -> web.Response:
    return web.Response(text="<html>not json</html>")


async def echo(request: web.Request) -> web.Response:
    """What the request was: method, body and the headers a check sets."""
    return web.json_response(
        {
            "method": request.method,
            "body": await request.text(),
            "authorization": request.headers.get("Authorization"),
            "x-probe": request.headers.get("X-Probe"),
        }
    )


def app() -> web.Application:
    application = web.Application()
    application.router.add_get("/health", health)
    application.router.add_get("/error", error)
    application.router.add_get("/hang", hang)
    application.router.add_get("/big", big)
    application.router.add_get("/loop", loop)
    application.router.add_get("/moved", moved)
    application.router.add_get("/text", text)
    application.router.add_route("*", "/echo", echo)
    return application


@contextlib.asynccontextmanager
async def server(ssl_context: ssl.SSLContext | None = None, port: int = 0) -> AsyncIterator[str]:
    """The test app on a loopback port (any free one by default); its base URL."""
    runner = web.AppRunner(app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[SharedSession]:
    shared = SharedSession()
    await shared.open()
    yield shared
    await shared.close()


@pytest.fixture
async def base() -> AsyncIterator[str]:
    async with server() as url:
        yield url


async def check(http: SharedSession, url: str, seconds: float = 1.0, **options: Any) -> Any:
    return await HttpCheck(HttpOptions(url, **options), http)(run(seconds))


async def test_a_healthy_url_is_ok_with_its_latency_and_status(
    http: SharedSession, base: str
) -> None:
    result = await check(http, f"{base}/health")
    assert (result.status, result.reason, result.error) == (Status.OK, None, None)
    assert result.observed.unit == "s"
    assert 0 < result.observed.value < 1
    assert result.detail == {"http_status": 200}
    assert result.cert_expiry is None  # no TLS


async def test_a_500_fails_with_status(http: SharedSession, base: str) -> None:
    result = await check(http, f"{base}/error")
    assert (result.status, result.reason) == (Status.FAIL, HttpReason.STATUS)
    assert result.error == "status 500, expected 2xx"
    assert result.component == Component("url", f"{base}/error")
    assert result.detail == {"http_status": 500}


async def test_expect_status_takes_codes_and_classes(http: SharedSession, base: str) -> None:
    assert (await check(http, f"{base}/error", expect_status=(500,))).status is Status.OK
    assert (await check(http, f"{base}/error", expect_status=(200, "5xx"))).status is Status.OK
    result = await check(http, f"{base}/health", expect_status=(204, "3xx"))
    assert result.error == "status 200, expected 204, 3xx"


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


async def test_a_10_mb_body_is_read_to_1_mib_only(http: SharedSession, base: str) -> None:
    found = await check(http, f"{base}/big", seconds=5, body_regex="x{1000}")
    assert found.status is Status.OK
    # 'needle' is past the first MiB: the check does not read that far.
    missed = await check(http, f"{base}/big", seconds=5, body_regex="needle")
    assert (missed.status, missed.reason) == (Status.FAIL, HttpReason.BODY)
    assert missed.error == f"no match for 'needle' in the first {MAX_BODY_BYTES} bytes"
    as_json = await check(http, f"{base}/big", seconds=5, json_path="a", json_equals=1)
    assert (as_json.reason, as_json.error) == (
        HttpReason.JSON,
        f"the body is over {MAX_BODY_BYTES} bytes: not parsed as JSON",
    )


async def test_body_regex_matches_or_fails_with_body(http: SharedSession, base: str) -> None:
    assert (await check(http, f"{base}/health", body_regex='"status": "up"')).status is Status.OK
    result = await check(http, f"{base}/health", body_regex="down")
    assert (result.status, result.reason) == (Status.FAIL, HttpReason.BODY)
    size = len(json.dumps(HEALTH))
    assert result.error == f"no match for 'down' in {size} bytes"


async def test_a_redirect_loop_fails_with_status(http: SharedSession, base: str) -> None:
    result = await check(http, f"{base}/loop")
    assert (result.status, result.reason) == (Status.FAIL, HttpReason.STATUS)
    assert result.error == f"more than 10 redirects, the last to {base}/loop"


async def test_redirects_are_followed_unless_told_not_to(http: SharedSession, base: str) -> None:
    followed = await check(http, f"{base}/moved", json_path="status", json_equals="up")
    assert (followed.status, followed.detail) == (Status.OK, {"http_status": 200})
    kept = await check(http, f"{base}/moved", follow_redirects=False)
    assert (kept.reason, kept.error) == (HttpReason.STATUS, "status 301, expected 2xx")
    wanted = await check(http, f"{base}/moved", follow_redirects=False, expect_status=(301,))
    assert wanted.status is Status.OK


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


async def test_post_sends_the_body_and_the_headers(http: SharedSession, base: str) -> None:
    result = await check(
        http,
        f"{base}/echo",
        method=Method.POST,
        body="ping",
        headers={"X-Probe": "yes"},
        json_path="body",
        json_equals="ping",
    )
    assert result.status is Status.OK
    header = await check(http, f"{base}/echo", headers={"X-Probe": "yes"}, body_regex='"yes"')
    assert header.status is Status.OK
    head = await check(http, f"{base}/health", method=Method.HEAD)
    assert (head.status, head.detail) == (Status.OK, {"http_status": 200})


async def test_secrets_come_from_files_and_are_sent_not_shown(
    http: SharedSession, base: str, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    bearer = await check(
        http,
        f"{base}/echo",
        bearer_token_file=token,
        json_path="authorization",
        json_equals="Bearer s3cret-token",
    )
    assert bearer.status is Status.OK
    password = tmp_path / "password"
    password.write_text("pa55")
    options = HttpOptions(
        f"{base}/echo",
        basic_auth=BasicAuth("probe", password),
        json_path="authorization",
        json_equals="Basic " + base64.b64encode(b"probe:pa55").decode(),
    )
    assert (await HttpCheck(options, http)(run())).status is Status.OK
    assert "pa55" not in repr(options)
    assert "s3cret" not in repr(HttpOptions(f"{base}/echo", bearer_token_file=token))
    wrong = await check(
        http, f"{base}/echo", bearer_token_file=token, json_path="authorization", json_equals="x"
    )
    assert wrong.error is not None
    assert "s3cret" not in wrong.error  # the failed comparison never shows the secret


async def test_a_slow_answer_warns_after_warn_after(http: SharedSession, base: str) -> None:
    result = await check(http, f"{base}/health", warn_after=Seconds(1e-9))
    assert (result.status, result.reason) == (Status.WARN, HttpReason.TIMEOUT)
    assert result.error.endswith("slower than warn_after 1e-09s")
    assert result.observed.value > 0


@pytest.fixture
def ca(tmp_path: Path) -> CA:
    return CA(tmp_path, "test-ca")


def serving(ca: CA, expires_in: datetime.timedelta) -> ssl.SSLContext:
    pair = ca.issue(f"server-{expires_in.days}", server=True, expires_in=expires_in)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pair.cert, pair.key)
    return context


async def test_tls_with_the_ca_passes_and_sets_the_certificate_expiry(
    http: SharedSession, ca: CA
) -> None:
    async with server(serving(ca, datetime.timedelta(days=30))) as url:
        result = await check(http, f"{url}/health", tls=TlsOptions(ca_file=ca.cert))
    assert (result.status, result.error) == (Status.OK, None)
    expected = time.time() + 30 * 86400
    assert abs(result.cert_expiry - expected) < 120


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


async def test_a_certificate_expiring_within_min_cert_days_warns(
    http: SharedSession, ca: CA
) -> None:
    async with server(serving(ca, datetime.timedelta(days=3))) as url:
        tls = TlsOptions(ca_file=ca.cert)
        soon = await check(http, f"{url}/health", tls=tls, min_cert_days=14)
        later = await check(http, f"{url}/health", tls=tls, min_cert_days=2)
    assert (soon.status, soon.reason) == (Status.WARN, HttpReason.CERT_EXPIRY)
    assert soon.error.startswith("the certificate expires in 2.9") or soon.error.startswith(
        "the certificate expires in 3.0"
    )
    assert soon.error.endswith(" days, under min_cert_days 14")
    assert later.status is Status.OK


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


async def test_a_client_certificate_is_presented(
    http: SharedSession, ca: CA, tmp_path: Path
) -> None:
    context = serving(ca, datetime.timedelta(days=30))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(ca.cert)
    client = ca.issue("client", server=False)
    async with server(context) as url:
        without = await check(http, f"{url}/health", tls=TlsOptions(ca_file=ca.cert))
        tls = TlsOptions(ca_file=ca.cert, cert_file=client.cert, key_file=client.key)
        with_cert = await check(http, f"{url}/health", tls=tls)
    assert (without.status, without.reason) == (Status.FAIL, HttpReason.CONNECT)
    assert with_cert.status is Status.OK


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            "url: 'ftp://x/'",
            "url: 'ftp://x/' is not an http:// or https:// URL with a host",
        ),
        (
            "url: 'http://u:p@x/'",
            "url: carries a user or password: use basic_auth with password_file",
        ),
        (
            "url: 'http://x/', body: a",
            "body: is sent with POST only, not GET",
        ),
        (
            "url: 'http://x/', method: PUT",
            "method: 'PUT' is not one of GET, HEAD, POST",
        ),
        (
            "url: 'http://x/', expect_status: [600]",
            "expect_status[0]: 600 is not an HTTP status (100 to 599)",
        ),
        (
            "url: 'http://x/', expect_status: [2xy]",
            "expect_status[0]: '2xy' is neither a status nor a class such as 2xx",
        ),
        (
            "url: 'http://x/', expect_status: [true]",
            "expect_status[0]: must be a whole number; or must be a string (not true/false)",
        ),
        (
            "url: 'http://x/', expect_status: []",
            "expect_status: must list at least one status or class, as 2xx",
        ),
        (
            "url: 'http://x/', json_path: status",
            "json_equals: give json_path and json_equals together",
        ),
        (
            "url: 'http://x/', json_equals: up",
            "json_path: give json_path and json_equals together",
        ),
        (
            "url: 'http://x/', json_path: 'a..b', json_equals: 1",
            "json_path: 'a..b' is not a dotted path, as checks.db",
        ),
        (
            "url: 'http://x/', body_regex: '('",
            "body_regex: not a regular expression:"
            " missing ), unterminated subpattern at position 0",
        ),
        (
            "url: 'http://x/', bearer_token_file: nowhere",
            "bearer_token_file: cannot read {dir}/nowhere: No such file or directory",
        ),
        (
            "url: 'http://x/', basic_auth: {username: u, password_file: nowhere}",
            "basic_auth.password_file: cannot read {dir}/nowhere: No such file or directory",
        ),
        (
            "url: 'http://x/', tls: {ca_file: nowhere}",
            "tls.ca_file: cannot load {dir}/nowhere: No such file or directory",
        ),
        (
            "url: 'http://x/', tls: {cert_file: c.pem}",
            "tls.key_file: give cert_file and key_file together",
        ),
        (
            "url: 'http://x/', min_cert_days: -1",
            "min_cert_days: -1 must not be negative",
        ),
    ],
)
def test_bad_http_options_name_their_key(tmp_path: Path, entry: str, problem: str) -> None:
    text = f"checks: [{{name: web, type: http, {entry}}}]\n"
    refused(tmp_path, text, "checks[0]." + problem.format(dir=tmp_path))


def test_both_ways_of_authenticating_are_refused(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("t")
    refused(
        tmp_path,
        "checks: [{name: web, type: http, url: 'http://x/', bearer_token_file: t,"
        " basic_auth: {username: u, password_file: t}}]\n",
        "checks[0].basic_auth: give bearer_token_file or basic_auth, not both",
    )
    refused(
        tmp_path,
        "checks: [{name: web, type: http, url: 'http://x/', bearer_token_file: t,"
        " headers: {authorization: x}}]\n",
        "checks[0].headers: an Authorization header, and bearer_token_file or basic_auth",
    )


async def test_an_http_check_in_the_config_file_fails_the_run_and_recovers(
    start_exporter: StartExporter, tmp_path: Path, ca: CA
) -> None:
    context = serving(ca, datetime.timedelta(days=30))
    async with server(context) as url:
        config = tmp_path / "smoke-test.yml"
        config.write_text(
            "checks:\n"
            f"  - {{name: web, type: http, url: '{url}/health', tls: {{ca_file: {ca.cert}}},"
            " json_path: status, json_equals: up}\n"
        )
        exporter = await start_exporter(config_file=config)
        status, body = await exporter.smoke()
        assert (status, body["checks"]["web"]["status"]) == (200, "ok")
        assert body["checks"]["web"]["http_status"] == 200
        assert body["checks"]["web"]["observed_unit"] == "s"
        expiry = exporter.sample("smoke_test_check_cert_expiry_timestamp_seconds", check="web")
        assert abs(expiry - (time.time() + 30 * 86400)) < 120
    status, body = await exporter.smoke()  # the server is gone
    assert status == 503
    assert body["checks"]["web"]["reason"] == "connect"
    assert body["message"].startswith(f"Smoke test failed: check web failed on url {url}/health: ")
    assert exporter.sample("smoke_test_check_failures_total", check="web", reason="connect") == 1
    assert exporter.sample("smoke_test_check_failures_total", check="web", reason="json") == 0
    port = int(url.rsplit(":", 1)[1])
    async with server(context, port):  # back on the same port: the next run passes
        status, body = await exporter.smoke()
    assert (status, body["checks"]["web"]["status"]) == (200, "ok")


async def test_the_health_json_answer_carries_the_observed_latency_on_the_url(
    start_exporter: StartExporter, tmp_path: Path, base: str
) -> None:
    config = tmp_path / "smoke-test.yml"
    config.write_text(
        f"checks:\n  - {{name: web, type: http, url: '{base}/error'}}\n"
        f"  - {{name: disk, type: disk, path: '{tmp_path}', min_free_bytes: 0}}\n"
    )
    exporter = await start_exporter(config_file=config)
    async with exporter.client.get(
        "/smoke-test", headers={"Accept": "application/health+json"}
    ) as response:
        assert response.status == 503
        body = await response.json(content_type="application/health+json")
    assert set(body["checks"]) == {
        "web:duration",
        "web:responseTime",
        "disk:duration",
        "disk:freeSpace",
    }
    [latency] = body["checks"]["web:responseTime"]
    assert {k: v for k, v in latency.items() if k not in ("observedValue", "time")} == {
        "componentId": f"{base}/error",
        "componentType": "url",
        "observedUnit": "s",
        "status": "fail",
        "output": "status 500, expected 2xx",
    }
    assert latency["observedValue"] > 0
    [free] = body["checks"]["disk:freeSpace"]
    assert (free["componentType"], free["observedUnit"], free["status"]) == (
        "path",
        "bytes",
        "pass",
    )
    assert free["observedValue"] == pytest.approx(
        os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize, rel=0.01
    )


def test_the_certificate_series_comes_with_a_handshake_and_goes_with_the_check() -> None:
    registry = CollectorRegistry()
    series = CheckSeries(registry)
    series.add("web", Shape(("connect",), observes=True))
    name = "smoke_test_check_cert_expiry_timestamp_seconds"
    assert registry.get_sample_value(name, {"check": "web"}) is None  # no handshake yet
    series.record("web", CheckResult(Status.OK, cert_expiry=1_900_000_000.0), 0.1)
    assert registry.get_sample_value(name, {"check": "web"}) == 1_900_000_000.0
    series.remove("web")
    assert registry.get_sample_value(name, {"check": "web"}) is None
    assert registry.get_sample_value("smoke_test_check_success", {"check": "web"}) is None
