"""--web.config.file on the real process: TLS, mutual TLS, basic auth and headers, real clients."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import bcrypt
import pytest

from tests.certs import CA, Pair
from tests.conftest import CANARY
from tests.integration.conftest import Start
from tests.integration.exporter_process import (
    PROBES_LOGGED,
    SCRIPT,
    ExporterProcess,
    Response,
    finished_lines,
    lines,
)
from tests.wait import wait_until

TIMEOUT = 10.0
CHALLENGE = 'Basic realm="smoke-test-exporter"'
HEADERS = {"X-Frame-Options": "deny", "Strict-Transport-Security": "max-age=31536000"}
HEALTHY = b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class Pki:
    """A server certificate, a CA for clients with one client, and a rogue CA's client."""

    conf: Path
    server_ca: Path
    server: Pair
    client_ca: Path
    client: Pair
    rogue_client: Pair

    def config(self, text: str) -> Path:
        path = self.conf / "web.yml"
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    conf = tmp_path / "conf"
    conf.mkdir()
    server_ca = CA(conf, "server-ca")
    client_ca = CA(conf, "client-ca")
    return Pki(
        conf,
        server_ca.cert,
        server_ca.issue("server", server=True),
        client_ca.cert,
        client_ca.issue("prometheus", server=False),
        CA(conf, "rogue-ca").issue("mallory", server=False),
    )


TLS = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
MTLS = TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.crt\n"


def client_context(
    pki: Pki, cert: Pair | None = None, max_version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    """A client that trusts the server's CA, showing ``cert`` when given."""
    context = ssl.create_default_context(cafile=pki.server_ca)
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    if max_version is not None:
        context.maximum_version = max_version
    return context


def fetch(
    exporter: ExporterProcess,
    path: str,
    context: ssl.SSLContext,
    headers: dict[str, str] | None = None,
) -> Response:
    """GET over HTTPS with urllib: status, headers and body, errors included."""
    request = urllib.request.Request(exporter.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as response:
            return Response(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read())


def handshake(exporter: ExporterProcess, context: ssl.SSLContext) -> ssl.SSLSocket:
    """A TLS connection to the exporter, its handshake done (as far as the client can tell)."""
    port = urlsplit(exporter.url).port
    assert port is not None
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        return context.wrap_socket(raw, server_hostname="127.0.0.1")
    except BaseException:
        raw.close()
        raise


def healthy_over(connection: ssl.SSLSocket) -> bytes:
    """Everything the server sends back for one GET /-/healthy."""
    with connection:
        connection.sendall(HEALTHY)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
        return data


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_https_is_served_and_announced_with_the_right_ca(start: Start, pki: Pki) -> None:
    exporter = start(f"--web.config.file={pki.config(TLS)}")
    assert exporter.url.startswith("https://127.0.0.1:")
    response = fetch(exporter, "/smoke-test", client_context(pki))
    assert response.status == 200
    assert response.json()["status"] == "ok"
    # A client that trusts another CA refuses the server.
    stranger = ssl.create_default_context(cafile=pki.client_ca)
    with pytest.raises(urllib.error.URLError) as refused:
        fetch(exporter, "/smoke-test", stranger)
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    assert refused.value.reason.verify_message == "unable to get local issuer certificate"


def test_plain_http_to_the_tls_port_gets_no_answer(start: Start, pki: Pki) -> None:
    exporter = start(f"--web.config.file={pki.config(TLS)}")
    plain = "http://" + exporter.url.removeprefix("https://")
    with pytest.raises(http.client.RemoteDisconnected):
        urllib.request.urlopen(plain + "/-/healthy", timeout=TIMEOUT)
    assert fetch(exporter, "/-/healthy", client_context(pki)).status == 200


def test_mutual_tls_lets_in_only_clients_of_the_client_ca(start: Start, pki: Pki) -> None:
    exporter = start(f"--web.config.file={pki.config(MTLS)}")
    # TLS 1.2: the server's refusal ends the client's own handshake.
    tls12 = ssl.TLSVersion.TLSv1_2
    for refused in (None, pki.rogue_client):
        with pytest.raises(ssl.SSLEOFError):
            handshake(exporter, client_context(pki, refused, tls12))
    # TLS 1.3: the client finishes first and the server checks after, then hangs up unanswered.
    for refused in (None, pki.rogue_client):
        assert healthy_over(handshake(exporter, client_context(pki, refused))) == b""
    answer = healthy_over(handshake(exporter, client_context(pki, pki.client)))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"\r\n\r\nHealthy\n")
    answer = healthy_over(handshake(exporter, client_context(pki, pki.client, tls12)))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    response = fetch(exporter, "/smoke-test", client_context(pki, pki.client))
    assert (response.status, response.json()["status"]) == (200, "ok")


def test_min_version_tls13_refuses_a_tls12_only_client(start: Start, pki: Pki) -> None:
    config = pki.config(TLS + "  min_version: TLS13\n")
    exporter = start(f"--web.config.file={config}")
    with pytest.raises(ssl.SSLEOFError):
        handshake(exporter, client_context(pki, max_version=ssl.TLSVersion.TLSv1_2))
    connection = handshake(exporter, client_context(pki))
    assert connection.version() == "TLSv1.3"
    assert healthy_over(connection).startswith(b"HTTP/1.1 200 OK\r\n")


def test_basic_auth_over_tls_hides_the_failure_from_strangers(
    start: Start, pki: Pki, tmp_path: Path
) -> None:
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
    headers = "".join(f"    {name}: {value}\n" for name, value in HEADERS.items())
    config = pki.config(
        TLS + f"basic_auth_users:\n  prometheus: '{hashed}'\n"
        "http_server_config:\n  headers:\n" + headers
    )
    (tmp_path / "taken").mkdir()  # the log file's place is taken: every run fails
    exporter = start(f"--web.config.file={config}", f"--log.file={tmp_path / 'taken'}")
    context = client_context(pki)
    cause = f"[Errno 21] Is a directory: '{tmp_path / 'taken'}'"
    for credential, message in (
        ({}, "this endpoint requires HTTP basic authentication"),
        (basic("prometheus", "guess"), "wrong user name or password"),
    ):
        for path in ("/smoke-test", "/smoke-test/history", "/", "/metrics"):
            response = fetch(exporter, path, context, credential)
            assert (path, response.status) == (path, 401)
            assert response.headers["WWW-Authenticate"] == CHALLENGE
            assert {name: response.headers.get(name) for name in HEADERS} == HEADERS
            assert response.json() == {"status": 401, "error": "Unauthorized", "message": message}
            assert b"Errno" not in response.body
    healthy = fetch(exporter, "/-/healthy", context)
    assert (healthy.status, healthy.body) == (200, b"Healthy\n")
    assert {name: healthy.headers.get(name) for name in HEADERS} == HEADERS
    response = fetch(exporter, "/smoke-test", context, basic("prometheus", "s3cret"))
    assert response.status == 503
    assert response.json()["checks"]["logging"]["error"] == cause
    assert {name: response.headers.get(name) for name in HEADERS} == HEADERS
    metrics = fetch(exporter, "/metrics", context, basic("prometheus", "s3cret"))
    assert metrics.status == 200
    assert (
        'smoke_test_http_requests_total{code="401",handler="smoke_test",method="GET"} 2.0'
        in metrics.body.decode().splitlines()
    )


def _bad_configs(pki: Pki) -> dict[str, tuple[str, str]]:
    """A file text for each fault, and the reason the exporter gives."""
    mismatched = CA(pki.conf, "other").issue("other", server=True)
    return {
        "unknown key": (
            "tls_server_config: {}\nbasic_auth: {}\n",
            "unknown key 'basic_auth'; "
            "the top level takes tls_server_config, http_server_config, "
            "basic_auth_users",
        ),
        "not YAML": (
            "basic_auth_users: [\n",
            "{file} is not valid YAML: expected the node "
            "content, but found '<stream end>' (line 2, column 1)",
        ),
        "bad hash": (
            "basic_auth_users:\n  prometheus: s3cret\n",
            "basic_auth_users: the password of 'prometheus' is not a bcrypt hash ($2y$, $2b$ or "
            "$2a$, a cost of 04 to 31, then 53 characters)",
        ),
        "mismatched key": (
            f"tls_server_config:\n  cert_file: server.crt\n  key_file: {mismatched.key}\n",
            f"tls_server_config: cert_file {pki.server.cert} and key_file {mismatched.key} "
            "cannot be used: they do not match",
        ),
        "unreadable cert": (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
            f"tls_server_config.cert_file: cannot read {pki.conf / 'missing.crt'}: No such file "
            "or directory",
        ),
        "verification without a CA": (
            TLS + "  client_auth_type: RequireAndVerifyClientCert\n",
            "tls_server_config: client_auth_type RequireAndVerifyClientCert needs client_ca_file",
        ),
    }


@pytest.mark.parametrize(
    "fault",
    [
        "unknown key",
        "not YAML",
        "bad hash",
        "mismatched key",
        "unreadable cert",
        "verification without a CA",
    ],
)
def test_a_bad_web_config_exits_2_with_one_line(pki: Pki, fault: str) -> None:
    text, reason = _bad_configs(pki)[fault]
    path = pki.config(text)
    result = subprocess.run(
        [SCRIPT, "--web.listen-address=127.0.0.1:0", f"--web.config.file={path}"],
        capture_output=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    expected = f"smoke-test-exporter: error: --web.config.file: {reason.format(file=path)}\n"
    assert result.stderr.decode() == expected
    assert result.stdout == b""  # nothing logged: it never started


def test_a_missing_web_config_from_the_environment_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "web.yml"
    result = subprocess.run(
        [SCRIPT, "--web.listen-address=127.0.0.1:0"],
        capture_output=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "SMOKE_TEST_EXPORTER_WEB_CONFIG_FILE": str(missing)},
    )
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"smoke-test-exporter: error: --web.config.file: cannot read {missing}: "
        "No such file or directory\n"
    )


def test_refused_handshakes_write_no_log_lines(start: Start, pki: Pki, tmp_path: Path) -> None:
    exporter = start(
        f"--web.config.file={pki.config(MTLS)}", "--smoke-test.interval=0", PROBES_LOGGED
    )
    for _ in range(3):
        assert healthy_over(handshake(exporter, client_context(pki))) == b""
    with pytest.raises(http.client.RemoteDisconnected):
        urllib.request.urlopen(
            "http://" + exporter.url.removeprefix("https://") + "/-/healthy", timeout=TIMEOUT
        )
    assert fetch(exporter, "/-/healthy", client_context(pki, pki.client)).status == 200
    stdout = tmp_path / "stdout.log"
    wait_until(  # the access line is written after the answer
        lambda: any(r["logger"] == "aiohttp.access" for r in finished_lines(stdout)),
        "the access line of the request that got through",
    )
    # Every line is JSON (lines() parses each): no traceback for a refused handshake. The
    # start-up run and the announcement go their own ways: either may be written first.
    records = [(r["logger"], r["message"]) for r in lines(stdout)]
    assert sorted(records[:2]) == [("exporter", "Listening"), ("exporter.canary", CANARY)]
    assert records[2:] == [("aiohttp.access", "GET /-/healthy 200")]
    assert exporter.stderr == ""
