"""The websocket check against a real aiohttp WebSocket server on loopback: an echo, a refused
upgrade, a server that closes first (at once, after a greeting, on a message), one that never
sends, one that never reads, one that says nothing that matches, TLS with the test's own CA, a
bearer token, and recovery from each fault."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from exporter.checks.base import CheckDeps
from exporter.checks.websocket import TYPE
from exporter.checks.websocket_failure import MAX_MESSAGE_BYTES, WebSocketReason
from exporter.checks.websocket_options import WebSocketOptions
from exporter.options import OptionError, Seconds, load_options
from exporter.verdict import Check, CheckResult, Component, Status
from tests.certs import CA
from tests.support.check_runs import run
from tests.support.http_check import serving
from tests.support.sockets import refused_port
from tests.support.ws_server import (
    BYE_REASON,
    GOING_AWAY_REASON,
    GREETING,
    Mode,
    WsServer,
    hard_hang_up,
    ws_server,
)
from tests.wait import until

ALSO = ("name", "type", "timeout")
TOKEN = "s3cret-token-of-the-probe"


@pytest.fixture
def ca(tmp_path: Path) -> CA:
    return CA(tmp_path, "test-ca")


@pytest.fixture
async def server() -> AsyncIterator[WsServer]:
    async with ws_server() as started:
        yield started


def options(data: dict[str, Any], directory: Path = Path()) -> Any:
    return load_options(TYPE.options, data, "checks[0]", directory, ALSO)


def check(deps: CheckDeps, **data: Any) -> Check:
    """A websocket check built as the exporter builds it, from a config entry's keys."""
    return TYPE.build("ws", options(data), deps)


async def timed(probe: Check, seconds: float) -> tuple[CheckResult, float]:
    """The result of one run, and how long it took."""
    started = time.monotonic()
    result = await probe(run(seconds))
    return result, time.monotonic() - started


def assert_ok(result: CheckResult) -> None:
    assert (result.status, result.reason, result.error) == (Status.OK, None, None)
    assert result.detail == {"http_status": 101}
    assert result.observed is not None
    assert result.observed.unit == "s"
    assert 0 < result.observed.value < 1


async def test_an_echo_matches_and_the_check_closes_with_1000(
    deps: CheckDeps, server: WsServer
) -> None:
    probe = check(deps, url=server.url, send="ping", expect_regex="^ping$")
    result = await probe(run())
    assert_ok(result)
    assert result.component == Component("url", server.url)
    assert result.cert_expiry is None  # no TLS
    assert server.received == ["ping"]
    await until(lambda: server.close_codes == [1000], "the server saw the check's close 1000")


async def test_no_send_and_no_expect_opens_and_closes_cleanly(
    deps: CheckDeps, server: WsServer
) -> None:
    assert_ok(await check(deps, url=server.url)(run()))
    await until(lambda: server.close_codes == [1000], "the server saw the check's close 1000")
    assert server.received == []


async def test_a_403_instead_of_the_upgrade_fails_with_handshake(
    deps: CheckDeps, server: WsServer
) -> None:
    server.mode = Mode.FORBID
    result = await check(deps, url=server.url, send="ping")(run())
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.HANDSHAKE,
        "the server answered 403 Forbidden, not 101 Switching Protocols",
    )
    assert result.detail == {"http_status": 403}
    assert result.observed is not None  # an answer came
    assert server.received == []


async def test_a_server_that_closes_at_once_fails_with_closed(
    deps: CheckDeps, server: WsServer
) -> None:
    server.mode = Mode.GOING_AWAY
    waiting = await check(deps, url=server.url, expect_regex="ready")(run())
    assert (waiting.status, waiting.reason, waiting.error) == (
        Status.FAIL,
        WebSocketReason.CLOSED,
        f"the server closed with 1001 (GOING_AWAY): {GOING_AWAY_REASON!r} before any message",
    )
    assert waiting.detail == {"http_status": 101}
    # Without expect_regex its close frame comes before the pong to the check's ping.
    closing = await check(deps, url=server.url)(run())
    assert (closing.status, closing.reason, closing.error) == (
        Status.FAIL,
        WebSocketReason.CLOSED,
        f"the server closed with 1001 (GOING_AWAY): {GOING_AWAY_REASON!r} before the check's close",
    )
    await until(lambda: server.close_codes == [1000, 1000], "the check answered each with 1000")


@pytest.mark.parametrize("send", [None, "ping"])
@pytest.mark.parametrize("expect_regex", [None, "ready"])
async def test_a_server_that_closes_at_once_with_1000_fails_with_closed(
    deps: CheckDeps, server: WsServer, send: str | None, expect_regex: str | None
) -> None:
    # 1000 is aiohttp's default close code: the server that accepts and hangs up at once.
    server.mode = Mode.HANG_UP
    data = {"send": send, "expect_regex": expect_regex}
    probe = check(deps, url=server.url, **{k: v for k, v in data.items() if v is not None})
    result = await probe(run())
    first = "before any message" if expect_regex else "before the check's close"
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.CLOSED,
        f"the server closed with 1000 (OK) {first}",
    )
    assert result.detail == {"http_status": 101}
    assert result.observed is not None  # it did open
    assert result.observed.unit == "s"
    await until(lambda: server.close_codes == [1000], "the check answered the close with 1000")


@pytest.mark.parametrize("send", [None, "ping"])
async def test_a_server_that_closes_and_drops_the_connection_at_once_fails_with_closed(
    deps: CheckDeps, send: str | None
) -> None:
    async with hard_hang_up() as url:
        result = await check(deps, url=url, **({"send": send} if send else {}))(run())
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.CLOSED,
        "the server closed with 1000 (OK) before the check's close",
    )


async def test_a_server_that_closes_after_a_match_or_on_the_message_fails_with_closed(
    deps: CheckDeps, server: WsServer
) -> None:
    server.mode = Mode.GREET
    greeted = await check(deps, url=server.url, expect_regex=f"^{GREETING}$")(run())
    assert (greeted.status, greeted.reason, greeted.error) == (
        Status.FAIL,
        WebSocketReason.CLOSED,
        "the server closed with 1000 (OK) before the check's close",
    )
    # The close comes after the server read the message, long after the upgrade.
    server.mode = Mode.BYE
    answered = await check(deps, url=server.url, send="ping")(run())
    assert (answered.status, answered.reason, answered.error) == (
        Status.FAIL,
        WebSocketReason.CLOSED,
        f"the server closed with 1000 (OK): {BYE_REASON!r} before the check's close",
    )
    assert server.received == ["ping"]
    await until(lambda: server.close_codes == [1000, 1000], "the check answered each with 1000")


@pytest.mark.parametrize(
    ("send", "expect_regex"), [(None, None), ("ping", None), ("ping", "^ping$")]
)
async def test_a_server_that_answers_the_checks_close_passes_and_sees_1000(
    deps: CheckDeps, server: WsServer, send: str | None, expect_regex: str | None
) -> None:
    data = {"send": send, "expect_regex": expect_regex}
    probe = check(deps, url=server.url, **{k: v for k, v in data.items() if v is not None})
    assert_ok(await probe(run()))
    await until(lambda: server.close_codes == [1000], "the server saw the check's close 1000")
    assert_ok(await probe(run()))  # the same check again: nothing of the first run left over
    await until(lambda: server.close_codes == [1000, 1000], "the server saw 1000 again")
    assert server.received == ([send] * 2 if send else [])


async def test_a_check_without_expect_regex_recovers_once_the_server_stops_hanging_up(
    deps: CheckDeps, server: WsServer
) -> None:
    probe = check(deps, url=server.url, send="ping")
    assert_ok(await probe(run()))
    server.mode = Mode.HANG_UP
    result = await probe(run())
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.CLOSED,
        "the server closed with 1000 (OK) before the check's close",
    )
    server.mode = Mode.ECHO
    assert_ok(await probe(run()))
    await until(lambda: server.close_codes == [1000] * 3, "the server saw 1000 each time")


async def test_a_server_that_never_reads_times_out_waiting_for_the_pong(
    deps: CheckDeps, server: WsServer
) -> None:
    server.mode = Mode.DEAF
    result, elapsed = await timed(check(deps, url=server.url, send="ping"), 0.5)
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.TIMEOUT,
        "no pong to the check's ping within 0.5s",
    )
    assert 0.45 <= elapsed < 0.6
    assert result.observed is not None  # it did open


async def test_a_server_that_never_sends_times_out_within_the_timeout(
    deps: CheckDeps, server: WsServer
) -> None:
    server.mode = Mode.SILENT
    result, elapsed = await timed(check(deps, url=server.url, expect_regex="ready"), 0.5)
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.TIMEOUT,
        "no message within 0.5s",
    )
    assert 0.45 <= elapsed < 0.5
    assert result.observed is not None  # it did open
    # Out of time, the check still sends its close frame, and does not wait for the answer.
    await until(lambda: server.close_codes == [1000], "the server saw the check's close 1000")


async def test_messages_that_do_not_match_fail_with_message(
    deps: CheckDeps, server: WsServer
) -> None:
    server.mode = Mode.CHATTER
    result, elapsed = await timed(check(deps, url=server.url, expect_regex="^pong"), 0.5)
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.MESSAGE,
        "2 text messages and 1 binary message, none matched '^pong' (the last: 'tick 2')"
        " within 0.5s",
    )
    assert elapsed < 0.5


async def test_a_message_over_the_limit_fails_with_message(
    deps: CheckDeps, server: WsServer
) -> None:
    server.mode = Mode.TOO_BIG
    result = await check(deps, url=server.url, expect_regex="^x")(run(2.0))
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.MESSAGE,
        f"the server sent a message over {MAX_MESSAGE_BYTES} bytes",
    )
    await until(lambda: server.close_codes == [1009], "the check closed with MESSAGE_TOO_BIG")


async def test_what_is_sent_is_never_quoted(deps: CheckDeps, server: WsServer) -> None:
    send = 'AUTH hunter2-P@ss"word'
    result = await check(deps, url=server.url, send=send, expect_regex="^OK")(run(0.3))
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.MESSAGE,
        "1 text message, none matched '^OK' (the last: '<secret>') within 0.3s",
    )
    assert server.received == [send]  # the echo was the secret itself
    assert "send" not in repr(options({"url": server.url, "send": send}))


async def test_a_refused_port_fails_with_connect(deps: CheckDeps) -> None:
    port = refused_port()
    result = await check(deps, url=f"ws://127.0.0.1:{port}/")(run())
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.CONNECT,
        f"cannot connect to 127.0.0.1:{port}: Connection refused",
    )
    assert (result.observed, result.detail) == (None, {})


async def test_a_server_that_drops_the_upgrade_unanswered_fails_with_connect(
    deps: CheckDeps,
) -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    dropping = await asyncio.start_server(drop, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{dropping.sockets[0].getsockname()[1]}/"
    try:
        result = await check(deps, url=url)(run())
    finally:
        dropping.close()
        await dropping.wait_closed()
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        WebSocketReason.CONNECT,
        f"no answer from {url}: Server disconnected",
    )


async def test_a_slow_answer_warns_after_warn_after(deps: CheckDeps, server: WsServer) -> None:
    # Any real WebSocket takes longer than a nanosecond to open (no duration in a config file
    # is that short: the options are made here).
    slow = Seconds(1e-9)
    opened = WebSocketOptions(server.url, warn_after=slow)
    matched = WebSocketOptions(server.url, send="ping", expect_regex="ping", warn_after=slow)
    for made, what in ((opened, "opened"), (matched, "matched")):
        result = await TYPE.build("ws", made, deps)(run())
        assert (result.status, result.reason) == (Status.WARN, WebSocketReason.TIMEOUT)
        assert result.error is not None
        assert result.error.startswith(f"{what} in 0.")
        assert result.error.endswith("s, slower than warn_after 1e-09s")
        assert result.observed is not None
        assert result.observed.value > 0
    assert (await check(deps, url=server.url, warn_after="1s")(run())).status is Status.OK


async def test_a_bearer_token_and_headers_are_sent_and_the_token_never_shown(
    deps: CheckDeps, server: WsServer, tmp_path: Path
) -> None:
    server.required = {"Authorization": f"Bearer {TOKEN}", "X-Probe": "yes"}
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    data = {"url": server.url, "bearer_token_file": "token", "headers": {"X-Probe": "yes"}}
    probe = TYPE.build("ws", options(data, tmp_path), deps)
    assert_ok(await probe(run()))
    assert server.upgrades[-1]["Authorization"] == f"Bearer {TOKEN}"
    server.required = {"Authorization": "Bearer another"}
    refused = await probe(run())
    assert (refused.status, refused.reason, refused.error) == (
        Status.FAIL,
        WebSocketReason.HANDSHAKE,
        "the server answered 401 Unauthorized, not 101 Switching Protocols",
    )
    assert TOKEN not in repr(options(data, tmp_path))
    without = await check(deps, url=server.url)(run())
    assert (without.reason, without.detail) == (WebSocketReason.HANDSHAKE, {"http_status": 401})


async def test_wss_with_the_ca_passes_and_sets_the_certificate_expiry(
    deps: CheckDeps, ca: CA
) -> None:
    async with ws_server(serving(ca, datetime.timedelta(days=30))) as server:
        tls = {"ca_file": str(ca.cert)}
        probe = check(deps, url=server.url, tls=tls, send="ping", expect_regex="ping")
        result = await probe(run())
    assert_ok(result)
    assert result.cert_expiry is not None
    assert abs(result.cert_expiry - (time.time() + 30 * 86400)) < 120


async def test_tls_failures_name_tls_and_cert_expiry(deps: CheckDeps, ca: CA) -> None:
    tls = {"ca_file": str(ca.cert)}
    async with ws_server(serving(ca, datetime.timedelta(days=30))) as server:
        port = server.url.split(":")[2].rstrip("/")
        untrusted = await check(deps, url=server.url)(run())  # the system's CAs only
    assert (untrusted.status, untrusted.reason, untrusted.error) == (
        Status.FAIL,
        WebSocketReason.TLS,
        f"127.0.0.1:{port}: certificate unable to get local issuer certificate",
    )
    async with ws_server(serving(ca, datetime.timedelta(days=-2))) as server:
        port = server.url.split(":")[2].rstrip("/")
        expired = await check(deps, url=server.url, tls=tls)(run())
    assert (expired.status, expired.reason, expired.error) == (
        Status.FAIL,
        WebSocketReason.CERT_EXPIRY,
        f"127.0.0.1:{port}: certificate certificate has expired",
    )
    assert server.upgrades == []  # no upgrade was sent over an untrusted connection


async def test_a_certificate_expiring_within_min_cert_days_warns(deps: CheckDeps, ca: CA) -> None:
    tls = {"ca_file": str(ca.cert)}
    async with ws_server(serving(ca, datetime.timedelta(days=3))) as server:
        soon = await check(deps, url=server.url, tls=tls, min_cert_days=14)(run())
        later = await check(deps, url=server.url, tls=tls, min_cert_days=2)(run())
    assert (soon.status, soon.reason) == (Status.WARN, WebSocketReason.CERT_EXPIRY)
    assert soon.error is not None
    assert soon.error.startswith("the certificate expires in 2.9") or soon.error.startswith(
        "the certificate expires in 3.0"
    )
    assert soon.error.endswith(" days, under min_cert_days 14")
    assert soon.cert_expiry is not None
    assert soon.detail == {"http_status": 101}
    assert later.status is Status.OK
    assert later.cert_expiry == soon.cert_expiry


@pytest.mark.parametrize(
    ("mode", "reason", "error"),
    [
        (
            Mode.FORBID,
            WebSocketReason.HANDSHAKE,
            "the server answered 403 Forbidden, not 101 Switching Protocols",
        ),
        (
            Mode.GOING_AWAY,
            WebSocketReason.CLOSED,
            f"the server closed with 1001 (GOING_AWAY): {GOING_AWAY_REASON!r} before any message",
        ),
        (
            Mode.HANG_UP,
            WebSocketReason.CLOSED,
            "the server closed with 1000 (OK) before any message",
        ),
        (Mode.SILENT, WebSocketReason.TIMEOUT, "no message within 0.5s"),
        (Mode.DEAF, WebSocketReason.TIMEOUT, "no message within 0.5s"),
        (
            Mode.CHATTER,
            WebSocketReason.MESSAGE,
            "2 text messages and 1 binary message, none matched '^ping$'"
            " (the last: 'tick 2') within 0.5s",
        ),
    ],
    ids=lambda v: v.value if isinstance(v, Mode) else "",
)
async def test_each_fault_is_found_in_one_run_and_the_same_check_recovers(
    deps: CheckDeps, server: WsServer, mode: Mode, reason: WebSocketReason, error: str
) -> None:
    probe = check(deps, url=server.url, send="ping", expect_regex="^ping$")
    assert_ok(await probe(run(0.5)))
    server.mode = mode
    result = await probe(run(0.5))
    assert (result.status, result.reason, result.error) == (Status.FAIL, reason, error)
    server.mode = Mode.ECHO
    assert_ok(await probe(run(0.5)))


async def test_a_check_on_a_refused_port_recovers_once_a_server_listens(deps: CheckDeps) -> None:
    port = refused_port()
    probe = check(deps, url=f"ws://127.0.0.1:{port}/", send="ping", expect_regex="^ping$")
    assert (await probe(run())).reason is WebSocketReason.CONNECT
    async with ws_server(port=port):
        assert_ok(await probe(run()))
    assert (await probe(run())).reason is WebSocketReason.CONNECT


async def test_a_check_recovers_once_the_server_presents_a_trusted_certificate(
    deps: CheckDeps, ca: CA, tmp_path: Path
) -> None:
    context = serving(CA(tmp_path, "other-ca"), datetime.timedelta(days=30))
    async with ws_server(context) as server:
        probe = check(deps, url=server.url, tls={"ca_file": str(ca.cert)})
        assert (await probe(run())).reason is WebSocketReason.TLS
        trusted = ca.issue("trusted", server=True)
        context.load_cert_chain(trusted.cert, trusted.key)  # new handshakes present it
        assert_ok(await probe(run()))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "checks[0].url: missing: this key is required"),
        (
            {"url": "http://127.0.0.1:1/"},
            "checks[0].url: 'http://127.0.0.1:1/' is not a ws:// or wss:// URL with a host",
        ),
        (
            {"url": "wss://probe:pa55@127.0.0.1:1/"},
            "checks[0].url: carries a user or password: use bearer_token_file or headers",
        ),
        ({"url": "ws://127.0.0.1:1/", "tls": {}}, "checks[0].tls: needs a wss:// URL"),
        (
            {"url": "ws://127.0.0.1:1/", "min_cert_days": 14},
            "checks[0].min_cert_days: needs a wss:// URL",
        ),
        (
            {"url": "wss://127.0.0.1:1/", "min_cert_days": -1},
            "checks[0].min_cert_days: -1 must not be negative",
        ),
        (
            {"url": "ws://127.0.0.1:1/", "expect_regex": "("},
            "checks[0].expect_regex: not a regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            {"url": "ws://127.0.0.1:1/", "headers": {"Connection": "close"}},
            "checks[0].headers: Connection is the WebSocket handshake's own header",
        ),
        (
            {
                "url": "ws://127.0.0.1:1/",
                "headers": {"authorization": "Bearer x"},
                "bearer_token_file": "token",
            },
            "checks[0].headers: an Authorization header, and bearer_token_file",
        ),
        (
            {"url": "ws://127.0.0.1:1/", "bearer_token_file": "missing"},
            "checks[0].bearer_token_file: cannot read {dir}/missing: No such file or directory",
        ),
        (
            {"url": "ws://127.0.0.1:1/", "warn_after": 1},
            "checks[0].warn_after: 1 has no unit: write a duration such as 1s or 500ms",
        ),
        (
            {"url": "ws://127.0.0.1:1/", "method": "POST"},
            "checks[0].method: unknown key (known: name, type, timeout, url, headers, send, "
            "expect_regex, tls, min_cert_days, bearer_token_file, warn_after)",
        ),
    ],
)
def test_bad_websocket_options_name_their_key(
    tmp_path: Path, data: dict[str, Any], problem: str
) -> None:
    (tmp_path / "token").write_text(TOKEN)
    with pytest.raises(OptionError) as caught:
        options(data, tmp_path)
    assert str(caught.value) == problem.format(dir=tmp_path)
