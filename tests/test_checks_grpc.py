"""The grpc check against a real grpcio server on loopback, with grpcio-health-checking's
HealthServicer: each serving status, a named service, no health service, a refused port, a
server that never answers, TLS with the test's own CA, metadata and a bearer token checked by
the server, and recovery from each fault without a new check."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.checks.base import CheckDeps
from exporter.checks.grpc import TYPE
from exporter.checks.grpc_failure import GrpcReason
from exporter.checks.grpc_options import GrpcOptions
from exporter.options import OptionError, Seconds, load_options
from exporter.verdict import Check, CheckResult, Component, Status
from tests.certs import CA
from tests.support.check_runs import run
from tests.support.grpc_server import (
    NOT_SERVING,
    SERVICE_UNKNOWN,
    SERVING,
    Requires,
    Seen,
    Server,
    credentials,
    grpc_server,
)
from tests.support.sockets import refused_port

ALSO = ("name", "type", "timeout")
TOKEN = "s3cret-token-of-the-probe"
OK_DETAIL = {"grpc_status": "OK", "serving_status": "SERVING"}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server() -> Iterator[Server]:
    with grpc_server() as started:
        yield started


@pytest.fixture
def ca(tmp_path: Path) -> CA:
    return CA(tmp_path, "test-ca")


def options(data: dict[str, Any], directory: Path = Path()) -> Any:
    return load_options(TYPE.options, data, "checks[0]", directory, ALSO)


def check(deps: CheckDeps, **data: Any) -> Check:
    """A grpc check built as the exporter builds it, from a config entry's keys."""
    return TYPE.build("api", options(data), deps)


def assert_fails(result: CheckResult, reason: GrpcReason, error: str) -> None:
    assert (result.status, result.reason, result.error) == (Status.FAIL, reason, error)


async def test_serving_is_ok_with_its_latency_and_statuses(deps: CheckDeps, server: Server) -> None:
    result = await check(deps, address=server.address)(run())
    assert (result.status, result.reason, result.error) == (Status.OK, None, None)
    assert result.component == Component("address", server.address)
    assert result.observed is not None
    assert result.observed.unit == "s"
    assert 0 < result.observed.value < 1
    assert result.detail == OK_DETAIL
    assert result.cert_expiry is None  # no TLS


async def test_not_serving_and_service_unknown_fail_with_not_serving(
    deps: CheckDeps, server: Server
) -> None:
    server.set("", NOT_SERVING)
    server.set("petsage.Api", SERVICE_UNKNOWN)
    whole = await check(deps, address=server.address)(run())
    assert_fails(whole, GrpcReason.NOT_SERVING, "the server (service '') is NOT_SERVING")
    assert whole.detail == {"grpc_status": "OK", "serving_status": "NOT_SERVING"}
    assert whole.observed is not None  # it answered
    named = await check(deps, address=server.address, service="petsage.Api")(run())
    assert_fails(named, GrpcReason.NOT_SERVING, "service 'petsage.Api' is SERVICE_UNKNOWN")


async def test_a_named_service_is_the_one_asked_about(deps: CheckDeps, server: Server) -> None:
    server.set("", NOT_SERVING)
    server.set("petsage.Api", SERVING)
    named = await check(deps, address=server.address, service="petsage.Api")(run())
    assert (named.status, named.detail) == (Status.OK, OK_DETAIL)
    whole = await check(deps, address=server.address)(run())
    assert whole.reason is GrpcReason.NOT_SERVING


async def test_a_service_the_server_does_not_know_fails_with_unknown_service(
    deps: CheckDeps, server: Server
) -> None:
    result = await check(deps, address=server.address, service="nope.Api")(run())
    assert_fails(
        result,
        GrpcReason.UNKNOWN_SERVICE,
        "the server does not know service 'nope.Api': gRPC status NOT_FOUND (5)",
    )
    assert result.detail == {"grpc_status": "NOT_FOUND"}
    assert result.observed is not None


async def test_a_server_without_the_health_service_fails_with_unimplemented(
    deps: CheckDeps,
) -> None:
    with grpc_server(with_health=False) as bare:
        result = await check(deps, address=bare.address)(run())
    assert_fails(
        result,
        GrpcReason.UNIMPLEMENTED,
        "the server has no health service: gRPC status UNIMPLEMENTED (12)",
    )
    assert result.detail == {"grpc_status": "UNIMPLEMENTED"}


async def test_a_refused_port_fails_with_connect_and_recovers_once_served(
    deps: CheckDeps,
) -> None:
    port = refused_port()
    probe = check(deps, address=f"127.0.0.1:{port}")
    refused = await probe(run())
    assert_fails(
        refused, GrpcReason.CONNECT, f"cannot connect to 127.0.0.1:{port}: Connection refused"
    )
    assert (refused.observed, refused.detail) == (None, {})
    with grpc_server(port=port):
        assert (await probe(run())).status is Status.OK
    again = await probe(run())  # stopped: refused again, from the same check
    assert again.reason is GrpcReason.CONNECT


@contextlib.asynccontextmanager
async def raw_server(close_at_once: bool) -> AsyncIterator[int]:
    """A TCP server on loopback that reads what it is sent and never answers: it waits for
    the client to go, or (``close_at_once``) closes after the first read. Its port."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await (reader.read(1) if close_at_once else reader.read())
        writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield listening.sockets[0].getsockname()[1]
    finally:
        listening.close()
        await listening.wait_closed()


@pytest.mark.parametrize(
    ("tls", "error"), [(False, "no answer within 0.5s"), (True, "no TLS connection within 0.5s")]
)
async def test_a_server_that_never_answers_times_out_within_the_timeout(
    deps: CheckDeps, tls: bool, error: str
) -> None:
    async with raw_server(close_at_once=False) as port:
        probe = check(deps, address=f"127.0.0.1:{port}", tls=tls)
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await probe(run(0.5))
        elapsed = loop.time() - started
    assert_fails(result, GrpcReason.TIMEOUT, error)
    assert 0.4 <= elapsed < 0.5
    assert result.observed is None


async def test_a_server_that_closes_at_once_fails_with_connect(deps: CheckDeps) -> None:
    async with raw_server(close_at_once=True) as port:
        result = await check(deps, address=f"127.0.0.1:{port}")(run())
    assert_fails(
        result, GrpcReason.CONNECT, "the connection closed before the answer: Connection lost"
    )
    # grpclib cancels the task waiting on a lost call: the check's own task is left clean.
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_recovers_from_not_serving_without_a_new_check(
    deps: CheckDeps, server: Server
) -> None:
    probe = check(deps, address=server.address)
    server.set("", NOT_SERVING)
    assert (await probe(run())).reason is GrpcReason.NOT_SERVING
    server.set("", SERVING)
    result = await probe(run())
    assert (result.status, result.detail) == (Status.OK, OK_DETAIL)


async def test_a_slow_answer_warns_after_warn_after(deps: CheckDeps, server: Server) -> None:
    # Any real call takes longer than a nanosecond (a duration the config file cannot write).
    slow = GrpcOptions(server.address, warn_after=Seconds(1e-9))
    result = await TYPE.build("api", slow, deps)(run())
    assert (result.status, result.reason) == (Status.WARN, GrpcReason.TIMEOUT)
    assert result.error is not None
    assert result.error.startswith("answered in ")
    assert result.error.endswith("s, slower than warn_after 1e-09s")
    assert result.observed is not None
    assert result.observed.value > 0
    assert result.detail == OK_DETAIL


def tls_server(ca: CA, days: float, client_ca: CA | None = None) -> Any:
    """A grpcio TLS server whose certificate, of ``ca``, expires in ``days``."""
    pair = ca.issue(f"server-{days}", server=True, expires_in=datetime.timedelta(days=days))
    return grpc_server(tls=credentials(ca, pair, client_ca))


async def test_tls_with_the_ca_passes_and_sets_the_certificate_expiry(
    deps: CheckDeps, ca: CA
) -> None:
    with tls_server(ca, 30) as tls:
        result = await check(deps, address=tls.address, tls={"ca_file": str(ca.cert)})(run())
        by_name = check(
            deps, address=tls.address, tls={"ca_file": str(ca.cert), "server_name": "localhost"}
        )
        named = await by_name(run())
        wrong = check(deps, address=tls.address, tls={"ca_file": str(ca.cert), "server_name": "db"})
        mismatch = await wrong(run())
    assert (result.status, result.error, result.detail) == (Status.OK, None, OK_DETAIL)
    assert result.cert_expiry is not None
    assert abs(result.cert_expiry - (time.time() + 30 * 86400)) < 120
    assert named.status is Status.OK
    assert_fails(
        mismatch,
        GrpcReason.TLS,
        "certificate Hostname mismatch, certificate is not valid for 'db'.",
    )


async def test_an_untrusted_certificate_fails_with_tls(deps: CheckDeps, ca: CA) -> None:
    with tls_server(ca, 30) as tls:
        result = await check(deps, address=tls.address, tls=True)(run())
    assert_fails(result, GrpcReason.TLS, "certificate unable to get local issuer certificate")
    assert result.cert_expiry is None


async def test_an_expired_certificate_fails_and_an_expiring_one_warns(
    deps: CheckDeps, ca: CA
) -> None:
    trusted = {"ca_file": str(ca.cert)}
    with tls_server(ca, -2) as tls:
        expired = await check(deps, address=tls.address, tls=trusted)(run())
        skipped = {"ca_file": str(ca.cert), "insecure_skip_verify": True}
        unverified = await check(deps, address=tls.address, tls=skipped)(run())
    assert_fails(expired, GrpcReason.CERT_EXPIRY, "certificate certificate has expired")
    assert_fails(unverified, GrpcReason.CERT_EXPIRY, "the certificate expired 2.0 days ago")
    assert unverified.cert_expiry is not None
    assert abs(unverified.cert_expiry - (time.time() - 2 * 86400)) < 120
    with tls_server(ca, 3) as tls:
        soon = await check(deps, address=tls.address, tls=trusted, min_cert_days=14)(run())
        later = await check(deps, address=tls.address, tls=trusted, min_cert_days=2)(run())
    assert (soon.status, soon.reason, soon.error) == (
        Status.WARN,
        GrpcReason.CERT_EXPIRY,
        "the certificate expires in 3.0 days, under min_cert_days 14",
    )
    assert soon.detail == OK_DETAIL
    assert later.status is Status.OK


async def test_a_client_certificate_is_presented(deps: CheckDeps, ca: CA) -> None:
    client = ca.issue("client", server=False)
    with tls_server(ca, 30, client_ca=ca) as tls:
        trusted = {"ca_file": str(ca.cert)}
        without = await check(deps, address=tls.address, tls=trusted)(run())
        presented = {**trusted, "cert_file": str(client.cert), "key_file": str(client.key)}
        with_cert = await check(deps, address=tls.address, tls=presented)(run())
    assert_fails(
        without, GrpcReason.CONNECT, "the connection closed before the answer: Connection lost"
    )
    assert with_cert.status is Status.OK


async def test_metadata_and_a_bearer_token_are_sent_and_never_shown(
    deps: CheckDeps, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text(f"{TOKEN}\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("another-s3cret-token\n")
    seen = Seen()
    wanted = {"x-tenant": "blue", "authorization": f"Bearer {TOKEN}"}
    with grpc_server(interceptors=(Requires(wanted, seen),)) as guarded:
        address = guarded.address
        tenant = {"x-tenant": "blue"}
        ok = await check(deps, address=address, metadata=tenant, bearer_token_file=str(token))(
            run()
        )
        no_token = await check(deps, address=address, metadata=tenant)(run())
        bad_token = await check(
            deps, address=address, metadata=tenant, bearer_token_file=str(wrong)
        )(run())
        no_tenant = await check(deps, address=address, bearer_token_file=str(token))(run())
    assert (ok.status, ok.detail) == (Status.OK, OK_DETAIL)
    for refused in (no_token, bad_token, no_tenant):
        assert_fails(refused, GrpcReason.STATUS, "gRPC status UNAUTHENTICATED (16)")
        assert refused.detail == {"grpc_status": "UNAUTHENTICATED"}
    sent = seen.calls[0]
    assert (sent["x-tenant"], sent["authorization"]) == ("blue", f"Bearer {TOKEN}")
    assert "authorization" not in seen.calls[1]
    assert seen.calls[2]["authorization"] == "Bearer another-s3cret-token"
    assert seen.calls[3]["authorization"] == f"Bearer {TOKEN}"
    assert "x-tenant" not in seen.calls[3]
    assert TOKEN not in repr(options({"address": address, "bearer_token_file": str(token)}))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "checks[0].address: missing: this key is required"),
        (
            {"address": "api"},
            "checks[0].address: 'api' has no port: use host:port, :port or [v6]:port",
        ),
        (
            {"address": ":50051"},
            "checks[0].address: ':50051' needs a host and a port, as api:50051",
        ),
        ({"address": "api:1", "min_cert_days": 14}, "checks[0].min_cert_days: needs tls"),
        (
            {"address": "api:1", "tls": True, "min_cert_days": -1},
            "checks[0].min_cert_days: -1 must not be negative",
        ),
        (
            {"address": "api:1", "tls": "true"},
            "checks[0].tls: must be true or false; or must be a mapping (not a string)",
        ),
        (
            {"address": "api:1", "tls": {"cert_file": "c.pem"}},
            "checks[0].tls.key_file: give cert_file and key_file together",
        ),
        (
            {"address": "api:1", "warn_after": 1},
            "checks[0].warn_after: 1 has no unit: write a duration such as 1s or 500ms",
        ),
        (
            {"address": "api:1", "metadata": ["x"]},
            "checks[0].metadata: must be a mapping, not a list",
        ),
        (
            {"address": "api:1", "metadata": {"X-Tenant": "blue"}},
            "checks[0].metadata.X-Tenant: not a gRPC metadata key (0-9 a-z _ - . only): "
            "write 'x-tenant'",
        ),
        (
            {"address": "api:1", "metadata": {"x tenant": "blue"}},
            "checks[0].metadata.x tenant: not a gRPC metadata key (0-9 a-z _ - . only)",
        ),
        (
            {"address": "api:1", "metadata": {"grpc-timeout": "1S"}},
            "checks[0].metadata.grpc-timeout: is set by the call itself: not metadata",
        ),
        (
            {"address": "api:1", "metadata": {"te": "trailers"}},
            "checks[0].metadata.te: is set by the call itself: not metadata",
        ),
        (
            {"address": "api:1", "metadata": {"x-key": "s3cret\nline"}},
            "checks[0].metadata.x-key: must be printable ASCII, one character at least "
            "(or use a -bin key)",
        ),
        (
            {"address": "api:1", "metadata": {"x-key": ""}},
            "checks[0].metadata.x-key: must be printable ASCII, one character at least "
            "(or use a -bin key)",
        ),
        (
            {"address": "api:1", "metadata": {"x-n": 1}},
            "checks[0].metadata.x-n: must be a string, not a number",
        ),
        (
            {"address": "api:1", "metadata": {"authorization": "x"}, "bearer_token_file": "t"},
            "checks[0].metadata.authorization: given, and bearer_token_file too",
        ),
        ({"address": "api:1", "service": 1}, "checks[0].service: must be a string, not a number"),
        (
            {"address": "api:1", "retries": 1},
            "checks[0].retries: unknown key (known: name, type, timeout, address, service, tls, "
            "min_cert_days, metadata, bearer_token_file, warn_after)",
        ),
    ],
)
def test_bad_grpc_options_name_their_key(
    tmp_path: Path, data: dict[str, Any], problem: str
) -> None:
    with pytest.raises(OptionError) as caught:
        options(data, tmp_path)
    assert str(caught.value) == problem


def test_an_unreadable_token_file_names_its_key_and_a_secret_value_is_never_quoted(
    tmp_path: Path,
) -> None:
    with pytest.raises(OptionError) as caught:
        options({"address": "api:1", "bearer_token_file": "missing"}, tmp_path)
    assert str(caught.value) == (
        f"checks[0].bearer_token_file: cannot read {tmp_path / 'missing'}: "
        "No such file or directory"
    )
    with pytest.raises(OptionError) as caught:
        options({"address": "api:1", "metadata": {"x-key": "s3cret\u00e9"}}, tmp_path)
    assert "s3cret" not in str(caught.value)
    loaded = options({"address": "api:1", "metadata": {"x-key": "s3cret", "x-raw-bin": "\u00e9"}})
    assert "s3cret" not in repr(loaded)
    assert loaded.sent_metadata == {"x-key": "s3cret", "x-raw-bin": b"\xc3\xa9"}


def test_the_grpc_libraries_load_only_when_a_grpc_check_is_built() -> None:
    script = (
        "import sys\n"
        "from exporter.checks import CHECK_TYPES\n"
        "from exporter.checks.grpc import TYPE\n"
        "from exporter.options import load_options\n"
        "from pathlib import Path\n"
        "libraries = ('grpclib', 'grpc_health', 'google.protobuf', 'h2', 'grpc')\n"
        "print(sorted(name for name in libraries if name in sys.modules))\n"
        "options = load_options(TYPE.options, {'address': 'api:1'}, 'c', Path())\n"
        "TYPE.build('api', options, None)\n"
        "print(sorted(name for name in libraries if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.splitlines() == [
        "[]",
        "['google.protobuf', 'grpc_health', 'grpclib', 'h2']",  # and never grpcio's own 'grpc'
    ]
