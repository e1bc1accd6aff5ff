"""The http check against real aiohttp servers on loopback: statuses, bodies, redirects, the
request it sends, and TLS with a CA of the test's own."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import time
from pathlib import Path

from exporter.checks.http import HttpCheck
from exporter.checks.http_failure import MAX_BODY_BYTES, HttpReason
from exporter.checks.http_options import HttpOptions, Method
from exporter.checks.secrets import BasicAuth
from exporter.checks.tls import TlsOptions
from exporter.options import Seconds
from exporter.session import SharedSession
from exporter.verdict import Component, Status
from tests.certs import CA
from tests.support import http_check as support
from tests.support.check_runs import run
from tests.support.http_check import HEALTH, check, server, serving

# The fixtures these tests share, by the names the tests ask for.
http = support.http
base = support.base
ca = support.ca


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


async def test_redirects_are_followed_unless_told_not_to(http: SharedSession, base: str) -> None:
    followed = await check(http, f"{base}/moved", json_path="status", json_equals="up")
    assert (followed.status, followed.detail) == (Status.OK, {"http_status": 200})
    kept = await check(http, f"{base}/moved", follow_redirects=False)
    assert (kept.reason, kept.error) == (HttpReason.STATUS, "status 301, expected 2xx")
    wanted = await check(http, f"{base}/moved", follow_redirects=False, expect_status=(301,))
    assert wanted.status is Status.OK


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


async def test_tls_with_the_ca_passes_and_sets_the_certificate_expiry(
    http: SharedSession, ca: CA
) -> None:
    async with server(serving(ca, datetime.timedelta(days=30))) as url:
        result = await check(http, f"{url}/health", tls=TlsOptions(ca_file=ca.cert))
    assert (result.status, result.error) == (Status.OK, None)
    expected = time.time() + 30 * 86400
    assert abs(result.cert_expiry - expected) < 120


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
