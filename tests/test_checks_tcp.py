"""The tcp check against real listeners on loopback: open, refused, a banner, a full backlog."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from exporter.checks.tcp import TcpCheck, TcpOptions, TcpReason
from exporter.checks.tls import TlsOptions
from exporter.options import Seconds
from exporter.verdict import Component, Status
from tests.certs import CA
from tests.conftest import StartExporter
from tests.support.check_runs import run
from tests.support.config_files import refused
from tests.support.sockets import refused_port


@contextlib.asynccontextmanager
async def listener(
    banner: bytes = b"", answer: dict[bytes, bytes] | None = None
) -> AsyncIterator[int]:
    """A real server on loopback: sends ``banner``, then answers what it reads from ``answer``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(banner)
        if answer:
            got = await reader.read(1024)
            writer.write(answer.get(got, b"?\r\n"))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A listening socket nobody accepts from, its backlog full: the next SYN goes unanswered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    clients = []
    try:
        for _ in range(4):  # fills the accept queue and the SYN queue beyond listen(0)
            c = socket.socket()
            c.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                c.connect(("127.0.0.1", port))
            clients.append(c)
        yield port
    finally:
        for c in clients:
            c.close()
        server.close()


async def test_an_open_port_is_ok_with_its_connect_time_observed() -> None:
    async with listener() as port:
        result = await TcpCheck(TcpOptions(f"127.0.0.1:{port}"))(run())
    assert (result.status, result.reason, result.error) == (Status.OK, None, None)
    assert result.observed is not None
    assert result.observed.unit == "s"
    assert 0 < result.observed.value < 1


async def test_a_refused_port_fails_with_connect() -> None:
    port = refused_port()
    result = await TcpCheck(TcpOptions(f"127.0.0.1:{port}"))(run())
    assert (result.status, result.reason, result.component) == (
        Status.FAIL,
        TcpReason.CONNECT,
        Component("address", f"127.0.0.1:{port}"),
    )
    assert result.error == (f"cannot connect to 127.0.0.1:{port}: Connection refused")


async def test_a_name_that_does_not_resolve_fails_with_resolve() -> None:
    result = await TcpCheck(TcpOptions("no-such-host.invalid:5432"))(run(2.0))
    assert (result.status, result.reason) == (Status.FAIL, TcpReason.RESOLVE)
    assert result.error is not None
    assert result.error.startswith("cannot resolve no-such-host.invalid: ")


async def test_a_banner_that_matches_passes_and_one_that_does_not_fails() -> None:
    async with listener(banner=b"220 smtp ready\r\n") as port:
        good = TcpOptions(f"127.0.0.1:{port}", expect_regex=r"^220 ")
        assert (await TcpCheck(good)(run())).status is Status.OK
        bad = TcpOptions(f"127.0.0.1:{port}", expect_regex=r"^554 ")
        result = await TcpCheck(bad)(run())
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        TcpReason.BANNER,
        "closed after 16 bytes with no match for '^554 ': '220 smtp ready\\r\\n'",
    )
    assert result.observed is not None  # it did connect


SEND = "AUTH hunter2-P@ss\"word\\'quoted\r\n"


@pytest.mark.parametrize(
    ("answer", "quoted"),
    [
        # what was sent, echoed: redacted
        (
            b"-ERR unknown command 'AUTH hunter2-P@ss\"word\\'quoted'\r\n",
            "-ERR unknown command '<secret>'\r\n",
        ),
        (repr(SEND).encode(), "'<secret>'"),
        # control characters escaped, and at most 64 characters of a long banner
        (b"\x1b[2J\x00" + b"A" * 100, "\x1b[2J\x00" + "A" * 59 + "…"),
        ("caf\u00e9 \u202e".encode() + b"\xff\r\n", "café \u202e\ufffd\r\n"),
        (b"", ""),
    ],
    ids=["echo", "echo repr'd", "long, with controls", "not UTF-8", "nothing"],
)
async def test_a_banner_that_does_not_match_is_quoted_short_escaped_and_redacted(
    answer: bytes, quoted: str
) -> None:
    async with listener(answer={SEND.encode(): answer}) as port:
        options = TcpOptions(f"127.0.0.1:{port}", send=SEND, expect_regex=r"^\+OK")
        result = await TcpCheck(options)(run())
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        TcpReason.BANNER,
        f"closed after {len(answer)} bytes with no match for '^\\\\+OK': {quoted!r}",
    )


async def test_send_then_expect_is_an_exchange() -> None:
    async with listener(answer={b"PING\r\n": b"+PONG\r\n"}) as port:
        options = TcpOptions(f"127.0.0.1:{port}", send="PING\r\n", expect_regex=r"\+PONG")
        assert (await TcpCheck(options)(run())).status is Status.OK


async def test_a_full_backlog_times_out_inside_the_checks_timeout() -> None:
    with full_backlog() as port:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await TcpCheck(TcpOptions(f"127.0.0.1:{port}"))(run(0.5))
        elapsed = loop.time() - started
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        TcpReason.TIMEOUT,
        "no connection within 0.5s",
    )
    assert 0.4 <= elapsed < 0.5


async def test_a_banner_that_never_comes_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client goes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        options = TcpOptions(f"127.0.0.1:{port}", expect_regex="ready")
        result = await TcpCheck(options)(run(0.3))
    finally:
        server.close()
        await server.wait_closed()
    assert (result.reason, result.error) == (TcpReason.TIMEOUT, "no banner within 0.3s")


async def test_a_slow_connect_warns_after_warn_after() -> None:
    async with listener() as port:
        # Any real connect takes longer than a nanosecond.
        options = TcpOptions(f"127.0.0.1:{port}", warn_after=Seconds(1e-9))
        result = await TcpCheck(options)(run())
    assert (result.status, result.reason) == (Status.WARN, TcpReason.TIMEOUT)
    assert result.error is not None
    assert result.error.endswith("slower than warn_after 1e-09s")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            "{name: t, type: tcp, address: db}",
            "checks[0].address: 'db' has no port: use host:port, :port or [v6]:port",
        ),
        (
            "{name: t, type: tcp, address: ':5432'}",
            "checks[0].address: ':5432' needs a host and a port, as db:5432",
        ),
        (
            "{name: t, type: tcp, address: 'db:1', expect_regex: '('}",
            "checks[0].expect_regex: not a regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            "{name: t, type: tcp, address: 'db:1', warn_after: 1}",
            "checks[0].warn_after: 1 has no unit: write a duration such as 1s or 500ms",
        ),
    ],
)
def test_bad_tcp_options_name_their_key(tmp_path: Path, entry: str, problem: str) -> None:
    refused(tmp_path, f"checks: [{entry}]\n", problem)


async def test_a_tcp_check_in_the_config_file_fails_the_run_and_recovers(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    async with listener() as port:
        config = tmp_path / "smoke-test.yml"
        config.write_text(f"checks: [{{name: db, type: tcp, address: '127.0.0.1:{port}'}}]\n")
        exporter = await start_exporter(config_file=config)
        status, body = await exporter.smoke()
        assert (status, body["checks"]["db"]["status"]) == (200, "ok")
        assert body["checks"]["db"]["observed_unit"] == "s"
    status, body = await exporter.smoke()  # the listener is gone
    assert status == 503
    assert body["checks"]["db"]["reason"] == "connect"
    assert body["message"].startswith(
        f"Smoke test failed: check db failed on address 127.0.0.1:{port}: "
    )
    assert exporter.sample("smoke_test_check_failures_total", check="db", reason="connect") == 1
    assert exporter.sample("smoke_test_check_failures_total", check="db", reason="banner") == 0


@contextlib.asynccontextmanager
async def tls_listener(context: ssl.SSLContext, banner: bytes = b"") -> AsyncIterator[int]:
    """A real TLS server on loopback that sends ``banner`` after the handshake."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            writer.write(banner)
            await writer.drain()
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def tls_server(ca: CA, expires_in: datetime.timedelta) -> ssl.SSLContext:
    pair = ca.issue("tcp-server", server=True, expires_in=expires_in)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pair.cert, pair.key)
    return context


async def test_tls_with_the_ca_passes_reads_the_banner_and_the_expiry(tmp_path: Path) -> None:
    ca = CA(tmp_path, "ca")
    async with tls_listener(tls_server(ca, datetime.timedelta(days=30)), b"+OK ready\r\n") as port:
        options = TcpOptions(
            f"127.0.0.1:{port}", tls=TlsOptions(ca_file=ca.cert), expect_regex=r"^\+OK"
        )
        result = await TcpCheck(options)(run())
    assert (result.status, result.error) == (Status.OK, None)
    assert result.cert_expiry is not None
    assert abs(result.cert_expiry - (time.time() + 30 * 86400)) < 120


async def test_tls_failures_name_tls_and_cert_expiry(tmp_path: Path) -> None:
    ca = CA(tmp_path, "ca")
    async with tls_listener(tls_server(ca, datetime.timedelta(days=30))) as port:
        untrusted = await TcpCheck(TcpOptions(f"127.0.0.1:{port}", tls=True))(run())
    assert (untrusted.status, untrusted.reason) == (Status.FAIL, TcpReason.TLS)
    assert untrusted.error == "certificate unable to get local issuer certificate"
    assert untrusted.observed is not None  # it did connect
    async with tls_listener(tls_server(ca, datetime.timedelta(days=-2))) as port:
        expired = await TcpCheck(TcpOptions(f"127.0.0.1:{port}", tls=TlsOptions(ca_file=ca.cert)))(
            run()
        )
    assert (expired.status, expired.reason) == (Status.FAIL, TcpReason.CERT_EXPIRY)
    assert expired.error == "certificate certificate has expired"
    async with tls_listener(tls_server(ca, datetime.timedelta(days=3))) as port:
        tls = TlsOptions(ca_file=ca.cert)
        soon = await TcpCheck(TcpOptions(f"127.0.0.1:{port}", tls=tls, min_cert_days=14))(run())
    assert (soon.status, soon.reason) == (Status.WARN, TcpReason.CERT_EXPIRY)
    assert soon.error is not None
    assert soon.error.endswith(" days, under min_cert_days 14")


async def test_tls_against_a_plain_server_fails_with_tls() -> None:
    async with listener(banner=b"plain text, no TLS\r\n" * 10) as port:
        result = await TcpCheck(TcpOptions(f"127.0.0.1:{port}", tls=True))(run())
    assert (result.status, result.reason) == (Status.FAIL, TcpReason.TLS)
    assert result.error is not None
    assert result.error.startswith("TLS handshake failed: ") or result.error.startswith(
        "connection lost in the TLS handshake: "
    )


def test_min_cert_days_needs_tls(tmp_path: Path) -> None:
    refused(
        tmp_path,
        "checks: [{name: t, type: tcp, address: 'db:1', min_cert_days: 14}]\n",
        "checks[0].min_cert_days: needs tls",
    )
    refused(
        tmp_path,
        "checks: [{name: t, type: tcp, address: 'db:1', tls: 'true'}]\n",
        "checks[0].tls: must be true or false; or must be a mapping (not a string)",
    )


def logging_and_a_refused_db(tmp_path: Path, more: str = "") -> Path:
    """A config file: the logging check, a tcp check ``db`` on a refused port, and ``more``."""
    config = tmp_path / "smoke-test.yml"
    config.write_text(
        "checks:\n  - {name: logging, type: logging}\n"
        f"  - {{name: db, type: tcp, address: '127.0.0.1:{refused_port()}'}}\n{more}"
    )
    return config


async def test_an_excluded_check_runs_and_shows_but_does_not_decide(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    exporter = await start_exporter(config_file=logging_and_a_refused_db(tmp_path))
    status, body = await exporter.smoke()
    assert (status, body["status"]) == (503, "fail")
    assert "excluded" not in body["checks"]["db"]
    status, body = await exporter.smoke("/smoke-test?exclude=db")
    assert (status, body["status"], body["message"]) == (
        200,
        "ok",
        "PetSage systems are purring perfectly!",
    )
    assert body["checks"]["db"]["status"] == "fail"
    assert body["checks"]["db"]["reason"] == "connect"
    assert body["checks"]["db"]["excluded"] is True
    assert "excluded" not in body["checks"]["logging"]
    # The metrics keep the truth: the run failed, and so did db.
    assert exporter.sample("smoke_test_check_success", check="db") == 0
    assert exporter.sample("smoke_test_success") == 0
    async with exporter.client.get(
        "/smoke-test?exclude=db", headers={"Accept": "application/health+json"}
    ) as response:
        assert response.status == 200
        health = await response.json(content_type="application/health+json")
    assert health["status"] == "pass"
    for path in ("/smoke-test?exclude=nope&exclude=db", "/smoke-test?exclude="):
        async with exporter.client.get(path) as response:
            assert response.status == 400
            error = await response.json()
        assert error["message"].startswith("exclude: no check named ")
        assert error["message"].endswith(" (checks: logging, db)")
    runs = exporter.sample("smoke_test_runs_total", trigger="http")
    async with exporter.client.get("/smoke-test?exclude=nope") as response:
        assert response.status == 400
    assert exporter.sample("smoke_test_runs_total", trigger="http") == runs  # nothing ran


async def test_ready_verbose_lists_each_check_of_the_last_run(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    disk = f"  - {{name: disk, type: disk, path: '{tmp_path}', min_free_bytes: 0,"
    disk += " warn_free_ratio: 1.0}\n"
    exporter = await start_exporter(config_file=logging_and_a_refused_db(tmp_path, disk))
    await exporter.smoke()
    async with exporter.client.get("/-/ready?verbose") as response:
        assert response.status == 200
        text = await response.text()
    assert text == ("[+]logging ok\n[-]db failed: connect\n[+]disk warn: free_space\nReady\n")
    async with exporter.client.get("/-/ready") as response:
        assert await response.text() == "Ready\n"


async def test_history_and_the_status_page_show_each_checks_status_reason_and_error(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    exporter = await start_exporter(config_file=logging_and_a_refused_db(tmp_path))
    _, body = await exporter.smoke()
    error = body["checks"]["db"]["error"]
    assert error.startswith("cannot connect to 127.0.0.1:")
    async with exporter.client.get("/smoke-test/history") as response:
        history = await response.json()
    [failure, *_] = history["failures"]
    assert failure["checks"] == {
        "logging": {"status": "ok"},
        "db": {"status": "fail", "reason": "connect", "error": error},
    }
    async with exporter.client.get("/") as response:
        page = await response.text()
    assert '<li class="check" data-check="logging" data-status="ok">' in page
    assert '<li class="check" data-check="db" data-status="fail">' in page
    assert f'<span class="reason">connect</span>\n<span class="error">{error}</span>' in page
