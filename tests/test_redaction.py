"""No form of a secret a check sends shows in any output, whatever a server echoes back: the
smoke test's answer (JSON and health+json), the history, the landing page, stdout and the log
file; for a bearer token, basic auth, an API key, and a TLS client key.

An echoing server on 127.0.0.1 answers each request with the credential it was sent (or, sent
none, the request's head) in the forms a server might show it: raw, base64, decoded, inside a
base64'd line, JSON- or repr-escaped, URL-quoted, after padding that puts it across the quote's
200-character cut, in a status line that is not HTTP, in a redirect's URL."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.http_exceptions import BadStatusLine, ContentLengthError, TransferEncodingError

from exporter.checks.secrets import Secrets, unquoted
from exporter.checks.stores.check import StoreError, StoreReason
from exporter.checks.stores.elasticsearch import hits
from exporter.heartbeat.options import PingOptions
from exporter.heartbeat.ping import Ping
from exporter.heartbeat.sender import HeartbeatError, HeartbeatReason
from exporter.run.attempts import PlannedCheck
from exporter.session import SharedSession
from exporter.verdict import CheckResult, RunInfo
from exporter.web.keys import RUNNER
from tests.certs import CA, Pair
from tests.conftest import Exporter, StartExporter, json_lines
from tests.integration.exporter_process import finished_lines as finished
from tests.support.heartbeat import result
from tests.wait import until

TOKEN = "tok\"en\\with'quotes&<é>-" + "0123456789abcdefghijklmnopqrstuvwxyz" * 8
PASSWORD = "hunter2-P@ss\"word\\'quoted"
USERNAME = "alice"
API_KEY = "VnVhQ2ZHY0JDZGJrUW0\"tZTVh'T3g6dWkybHAy\\YXhUTm1zeWFrdzl0dk5udw=="
RUN = 8  # a run of this many characters of a secret's form is a leak
INNER = "X-Echo: "  # 8 bytes: the credential starts mid-group in the line's base64

# What the echo answers with, given the credential it was sent.
FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda v: v,
    "base64": lambda v: base64.b64encode(v.encode()).decode(),
    "decoded": lambda v: _decoded(v),  # noqa: PLW0108  (_decoded is defined below)
    "inner64": lambda v: base64.b64encode(f"{INNER}{v}\r\n".encode()).decode(),
    "json": json.dumps,
    "repr": repr,
    "url": lambda v: quote(v, safe=""),
    "cut": lambda v: "x" * 190 + v,
}
# The store answers that quote a body: status and form, each through one store kind.
STORE_ANSWERS = (("401", "raw"), ("403", "decoded"), ("500", "cut"), ("500", "json"))
STORE_200 = ("200", "repr")  # a 2xx answer that is not JSON


def _decoded(value: str) -> str:
    """The credentials without their scheme; Basic's decoded to ``user:password``."""
    scheme, _, credentials = value.partition(" ")
    if scheme == "Basic":
        return base64.b64decode(credentials).decode()
    return credentials or value


def _answer(path: str, head: str, headers: dict[str, str]) -> bytes:
    """``/<status>/<form>[/json]...``: the credential (else the head) in that form."""
    _, status, form, *rest = path.split("?", 1)[0].split("/")
    value = headers.get("authorization") or headers.get("x-api-key") or head
    if form == "garbage":
        return b"GARBAGE " + value.encode() + b"\r\n\r\n"
    if form == "redirect":
        location = f"/302/redirect/{quote(value, safe='')}?again={quote(value, safe='')}"
        return (
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n"
        ).encode()
    text = FORMS[form](value)
    body = json.dumps({"echo": text}) if rest[:1] == ["json"] else text
    data = body.encode()
    return (
        f"HTTP/1.1 {status} Echo\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode() + data


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        request_line, *lines = head.split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        await reader.readexactly(int(headers.get("content-length", "0")))
        writer.write(_answer(request_line.split(" ")[1], head, headers))
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass  # a client that gave up; the check says so
    finally:
        writer.close()


@asynccontextmanager
async def echo(context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """The echoing server's base URL, for the block."""
    server = await asyncio.start_server(_serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@dataclass(frozen=True)
class Kind:
    """A secret a check sends: how the http checks and the store checks are given it, the
    stores that take it, the secret, and what carries it (base64'd by a server)."""

    name: str
    http: str
    store: str
    stores: tuple[str, ...]
    secret: str
    carriers: tuple[str, ...]
    schemes: tuple[str, str] | None = None  # before the secret in the http and store headers


def kinds(tmp_path: Path, tls: Pair, ca: CA) -> dict[str, Kind]:
    key_text = tls.key.read_text()
    pem_body = "\n".join(line for line in key_text.splitlines() if not line.startswith("-----"))
    basic = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    for name, text in (("bearer", TOKEN), ("basic", PASSWORD), ("api_key", API_KEY)):
        (tmp_path / name).write_text(text + "\n")
    tls_block = f"tls: {{ca_file: '{ca.cert}', cert_file: '{tls.cert}', key_file: '{tls.key}'}}"
    return {
        "bearer": Kind(
            "bearer",
            f"bearer_token_file: '{tmp_path / 'bearer'}'",
            f"bearer_token_file: '{tmp_path / 'bearer'}'",
            ("loki", "journal", "elasticsearch"),
            TOKEN,
            (f"Bearer {TOKEN}",),
            ("Bearer ", "Bearer "),
        ),
        "basic": Kind(
            "basic",
            f"basic_auth: {{username: {USERNAME}, password_file: '{tmp_path / 'basic'}'}}",
            f"basic_auth: {{username: {USERNAME}, password_file: '{tmp_path / 'basic'}'}}",
            ("loki", "journal", "elasticsearch"),
            PASSWORD,
            (f"{USERNAME}:{PASSWORD}", basic),
            ("Basic ", "Basic "),
        ),
        "api_key": Kind(
            "api_key",
            f"headers: {{X-API-Key: {json.dumps(API_KEY)}}}",
            f"api_key_file: '{tmp_path / 'api_key'}'",
            ("elasticsearch",),
            API_KEY,
            (f"ApiKey {API_KEY}",),
            ("", "ApiKey "),  # X-API-Key in the http checks, Authorization: ApiKey in the store
        ),
        "tls_key": Kind(
            "tls_key", tls_block, tls_block, ("loki", "journal", "elasticsearch"), pem_body, ()
        ),
    }


def config(kind: Kind, url: str) -> str:
    """Every http check form, a garbage status line, a redirect loop, and each quoted store
    answer, all against the echo and all given the kind's secret."""
    checks = [
        f"{{name: http-{form}, type: http, url: '{url}/200/{form}/json',"
        f" json_path: echo, json_equals: nothing, {kind.http}}}"
        for form in FORMS
    ]
    checks.append(f"{{name: http-garbage, type: http, url: '{url}/200/garbage', {kind.http}}}")
    checks.append(f"{{name: http-redirect, type: http, url: '{url}/302/redirect', {kind.http}}}")
    store_options = {
        "loki": "selector: '{job=\"x\"}'",
        "elasticsearch": "index: logs",
        "journal": "field: RUN_ID",
    }
    for name, store, status, form in store_checks(kind):
        checks.append(
            f"{{name: {name}, type: {store}, url: '{url}/{status}/{form}',"
            f" {store_options[store]}, {kind.store}}}"
        )
    checks.append("{name: logging, type: logging}")  # the store checks look for its canary
    return "checks:\n" + "".join(f"  - {check}\n" for check in checks)


def store_checks(kind: Kind) -> list[tuple[str, str, str, str]]:
    """Name, store type, status and form of each store check: the kind's stores in turn."""
    answers = (*STORE_ANSWERS, STORE_200)
    stores = [kind.stores[i % len(kind.stores)] for i in range(len(answers))]
    return [
        (f"{store}-{status}-{form}", store, status, form)
        for store, (status, form) in zip(stores, answers, strict=True)
    ]


def _cut(text: str) -> str:
    """As a quote cuts: 200 characters, then "…"."""
    return text if len(text) <= 200 else text[:200] + "…"


def expect_errors(errors: dict[str, str | None], kind: Kind, url: str) -> None:
    """Each check's error: what the echo said, redacted; exact where the echo said only the
    secret. Without a credential the echo says the request's head, which varies."""
    assert (
        errors.pop("http-garbage")
        == f"no answer from {url}/200/garbage: the answer is not valid HTTP"
    )
    expected = "nothing"
    if kind.schemes is None:
        for form in FORMS:
            error = errors.pop(f"http-{form}")
            assert error is not None
            assert error.startswith('echo is "'), error
            assert error.endswith(f', expected "{expected}"'), error
        # Each Location quotes the request before it: the 4th head is over aiohttp's 8190 bytes.
        redirect = f"no answer from {url}/302/redirect: the answer is not valid HTTP"
        assert errors.pop("http-redirect") == redirect
        for name, _, status, _ in store_checks(kind):
            prefix = "not JSON: " if status == "200" else f"status {status}: '"
            error = errors.pop(name)
            assert error is not None
            assert error.startswith(prefix), error
        assert errors == {}
        return
    s, t = kind.schemes
    decoded = f"{USERNAME}:<secret>" if kind.name == "basic" else "<secret>"
    said = {
        "raw": f'"{s}<secret>"',
        "base64": '"<secret>"',
        "decoded": f'"{decoded}"',
        "json": f'"\\"{s}<secret>\\""',
        "repr": f"\"'{s}<secret>'\"",
        "url": f'"{quote(s, safe="")}<secret>"',
        "cut": _cut('"' + "x" * 190 + f'{s}<secret>"'),
    }
    inner = re.escape(base64.b64encode(INNER.encode()).decode()[:10])
    inner64 = rf'echo is "{inner}[A-Za-z0-9+/]{{0,2}}<secret>[A-Za-z0-9+/]{{0,4}}=*", '
    assert re.fullmatch(inner64 + f'expected "{expected}"', errors.pop("http-inner64") or "")
    assert errors.pop("http-redirect") == f"more than 10 redirects, the last to {url}/302/redirect"
    quoted = {
        ("401", "raw"): f"{t}<secret>",
        ("403", "decoded"): decoded,
        ("500", "cut"): _cut("x" * 190 + f"{t}<secret>"),
        ("500", "json"): f'"{t}<secret>"',
        STORE_200: f"'{t}<secret>'",
    }
    want = {f"http-{form}": f'echo is {text}, expected "{expected}"' for form, text in said.items()}
    for name, _, status, form in store_checks(kind):
        text = repr(quoted[status, form])
        want[name] = f"not JSON: {text}" if status == "200" else f"status {status}: {text}"
    assert errors == want


def _base64_forms(data: bytes) -> Iterator[str]:
    """``data`` in base64 alone, and inside a longer text at each alignment (less the
    characters it shares with its neighbours)."""
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            encoded = encode(bytes(offset) + data).decode()
            yield encoded[-(-8 * offset // 6) : 8 * (offset + len(data)) // 6]


def leaks(s: str, carriers: tuple[str, ...] = (), pem: bool = False) -> set[str]:
    """Every run of RUN characters of every form the secret ``s`` can take: raw, escaped,
    quoted, in base64; and what carries it, in base64."""
    forms = {s, json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1], repr(s)[1:-1]}
    forms |= {repr(s.encode())[2:-1], quote(s, safe=""), html.escape(s)}
    forms |= {f for text in (s, *carriers) for f in _base64_forms(text.encode())}
    if pem:  # a PEM body is the key's base64 in lines: joined, and at each alignment
        forms |= {s.replace("\n", ""), *_base64_forms(base64.b64decode(s))}
    return {f[i : i + RUN] for f in forms for i in range(len(f) - RUN + 1)}


def shown(texts: dict[str, list[str]], needles: set[str]) -> set[tuple[str, str]]:
    """Each output and run of a secret found in it."""
    return {
        (output, text[i : i + RUN])
        for output, found in texts.items()
        for text in found
        for i in range(len(text) - RUN + 1)
        if text[i : i + RUN] in needles
    }


def texts(raw: str, parsed: Any = None) -> list[str]:
    """An output as sent, HTML-unescaped, and every string inside it once parsed."""
    found = [raw, html.unescape(raw)]

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for key, inner in value.items():
                walk(key)
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(parsed)
    return found


def failed_runs(path: Path, count: int) -> bool:
    """Whether a sink's file holds ``count`` failed runs' WARNING lines, as far as written."""
    messages: list[str] = [line["message"] for line in finished(path)]
    return sum(message.startswith("Smoke test failed: ") for message in messages) == count


async def outputs(
    exporter: Exporter, failed: int = 3
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A run's answer, and every output once a run was asked for as JSON and one as
    health+json: both answers, the history, the landing page, and each sink's file, once it
    holds the WARNING lines of ``failed`` runs (the start-up run's too, if it failed)."""
    read: dict[str, list[str]] = {}
    async with exporter.client.get("/smoke-test") as response:
        assert response.status == 503
        text = await response.text()
        answer = json.loads(text)
        read["/smoke-test"] = texts(text, answer)
    health = {"Accept": "application/health+json"}
    async with exporter.client.get("/smoke-test", headers=health) as response:
        assert (response.status, response.content_type) == (503, "application/health+json")
        text = await response.text()
        read["health+json"] = texts(text, json.loads(text))
    async with exporter.client.get("/smoke-test/history") as response:
        assert response.status == 200
        text = await response.text()
        read["history"] = texts(text, json.loads(text))
    async with exporter.client.get("/") as response:
        assert response.status == 200
        read["/"] = texts(await response.text())
    # Sink threads write after the answer: each sink is read once the WARNING of each run
    # (the start-up run's, and both asked for) is in.
    for sink, path in (("stdout", exporter.stdout_path), ("file", exporter.log_path)):
        assert path is not None
        await until(partial(failed_runs, path, failed), f"{failed} failed runs in {sink}")
        read[sink] = texts(path.read_text(), json_lines(path))
    return answer, read


def server_context(ca: CA) -> ssl.SSLContext:
    """The echo's TLS: a certificate for 127.0.0.1, and a client certificate required."""
    pair = ca.issue("echo", server=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert, pair.key)
    context.load_verify_locations(ca.cert)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


@pytest.mark.parametrize("name", ["bearer", "basic", "api_key", "tls_key"])
async def test_no_form_of_a_secret_shows_in_any_output_whatever_a_server_echoes(
    start_exporter: StartExporter, tmp_path: Path, name: str
) -> None:
    ca = CA(tmp_path, "ca")
    kind = kinds(tmp_path, ca.issue("client", server=False), ca)[name]
    context = server_context(ca) if name == "tls_key" else None
    async with echo(context) as url:
        path = tmp_path / "smoke-test.yml"
        path.write_text(config(kind, url))
        exporter = await start_exporter(config_file=path, timeout_seconds=10.0)
        answer, read = await outputs(exporter)
    checks = answer["checks"]
    errors = {name: check.get("error") for name, check in checks.items() if name != "logging"}
    expect_errors(dict(errors), kind, url)
    assert shown(read, leaks(kind.secret, kind.carriers, pem=name == "tls_key")) == set()
    # Not vacuous: every output carries what the server echoed, redacted.
    for output, found in read.items():
        assert any(errors["http-raw"] in text for text in found), output


SECRET = 'pa"ss\\word-0123456789'


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (f"said {SECRET}.", "said <secret>."),
        (json.dumps(f"k={SECRET}"), '"k=<secret>"'),
        (repr(f"k={SECRET}"), "'k=<secret>'"),
        (repr(json.dumps(SECRET)), "'\"<secret>\"'"),
        (f"k={quote(SECRET, safe='')}", "k=<secret>"),
        (f"cut at a limit: {SECRET[:9]}", "cut at a limit: <secret>"),
        (f"{SECRET[-9:]}, from a window's start", "<secret>, from a window's start"),
        (base64.b64encode(SECRET.encode()).decode(), "<secret>"),
        (f"{SECRET[:7]} and {SECRET[-7:]}", f"{SECRET[:7]} and {SECRET[-7:]}"),  # under RUN
    ],
)
def test_every_form_of_a_secret_is_redacted(text: str, redacted: str) -> None:
    assert Secrets([SECRET]).redact(text) == redacted


@pytest.mark.parametrize("before", ["", "a", "ab", "abc", "Authorization: "])
def test_a_secret_base64d_inside_a_longer_text_is_redacted_at_any_alignment(
    before: str,
) -> None:
    encoded = base64.b64encode(f"{before}{SECRET}\r\n".encode()).decode()
    redacted = Secrets([SECRET]).redact(encoded)
    head, _, tail = redacted.partition("<secret>")
    # Left: what encodes only the text around it, less the characters it shares.
    assert (encoded.startswith(head), encoded.endswith(tail)) == (True, True)
    assert len(head) >= 4 * len(before) // 3
    assert len(tail) <= 6  # "\r\n" and padding, and the last shared character
    assert shown({"base64": [redacted]}, leaks(SECRET)) == set()


def test_a_short_secret_is_redacted_only_whole() -> None:
    assert Secrets(["abc"]).redact("abcd, ab, bc") == "<secret>d, ab, bc"


def test_a_quote_redacts_before_it_cuts() -> None:
    secrets = Secrets([SECRET])
    assert secrets.quote("x" * 195 + SECRET, 200) == "x" * 195 + "<secr…"
    assert secrets.quote("x" * 1000 + SECRET, 200) == "x" * 200 + "…"
    assert secrets.quote(f"short {SECRET}", 200) == "short <secret>"


def test_basic_auth_hides_its_password_and_user_password_in_base64() -> None:
    header = aiohttp.encode_basic_auth(USERNAME, "hunter2-pass")
    secrets = Secrets(headers={"Authorization": header})
    said = f"{header} {base64.b64encode(b'alice:hunter2-pass').decode()} hunter2-pass"
    assert secrets.redact(said) == "Basic <secret> <secret> <secret>"


def test_credential_headers_are_secrets_and_other_headers_are_not() -> None:
    key = "k3y-abcdefghijklmnop"
    headers = {"X-API-Key": key, "X-Request-Id": "request-12345678", "X-Auth-Mode": "on"}
    secrets = Secrets(headers=headers)
    assert secrets.redact(f"{key} request-12345678 on") == "<secret> request-12345678 on"


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (BadStatusLine("GARBAGE sekrit-token"), "the answer is not valid HTTP"),
        (TransferEncodingError("sekrit-token"), "the answer is not valid HTTP"),
        (
            aiohttp.NonHttpUrlRedirectClientError("ftp://x/sekrit-token"),
            "redirected to a URL that is not http:// or https://",
        ),
        (
            aiohttp.InvalidUrlRedirectClientError("http://[sekrit-token", "not a URL"),
            "redirected to a location that is not a URL",
        ),
    ],
)
def test_an_http_error_quotes_nothing_the_server_sent(error: Exception, said: str) -> None:
    assert unquoted(error) == said


def test_a_body_cut_short_says_how_without_the_body() -> None:
    cause = ContentLengthError("Not enough data: sekrit-token")
    error = aiohttp.ClientPayloadError(f"Response payload is not completed: {cause!r}")
    error.__cause__ = cause  # as aiohttp's set_exception(exc, cause) leaves it
    assert unquoted(error) == "Response payload is not completed (ContentLengthError)"


async def test_a_ping_url_answering_garbage_fails_without_quoting_it() -> None:
    http = SharedSession()
    await http.open()
    try:
        async with echo() as url:
            ping = Ping(PingOptions(success=f"{url}/200/garbage?token=sekrit"), http)
            with pytest.raises(HeartbeatError) as caught:
                await ping.send(result("r1"))
    finally:
        await http.close()
    assert caught.value.reason is HeartbeatReason.CONNECT
    error = f"{url}/200/garbage?token=sekrit: the answer is not valid HTTP"
    assert str(caught.value) == error  # the URL is the config's; the status line not quoted


@pytest.mark.parametrize(
    ("shards", "error"),
    [
        ({"failed": 1, "total": 2}, "1 of 2 shards failed: the answer is partial"),
        (
            {"failed": "Bearer sekrit-token", "total": 2},
            'not the documented answer: "_shards" counts that are not numbers',
        ),
    ],
)
def test_an_elasticsearch_answer_quotes_only_its_shard_counts(
    shards: dict[str, Any], error: str
) -> None:
    with pytest.raises(StoreError) as caught:
        hits({"_shards": shards, "hits": {"hits": []}})
    assert (caught.value.reason, caught.value.error) == (StoreReason.QUERY, error)


# What a tcp check sends, holding a password: an echoing server's answers quote it.
TCP_SEND = f"AUTH {PASSWORD}\r\n"


@asynccontextmanager
async def tcp_echo(form: Callable[[str], str]) -> AsyncIterator[int]:
    """A tcp server answering what it is sent in ``form``, then closing; its port."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sent = await reader.readuntil(b"\r\n")
            writer.write(form(sent.decode()).encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # a client that gave up; the check says so
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_what_a_tcp_check_sends_never_shows_whatever_the_server_echoes(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        ports = {name: await stack.enter_async_context(tcp_echo(f)) for name, f in FORMS.items()}
        checks = "".join(
            f"  - {{name: tcp-{name}, type: tcp, address: '127.0.0.1:{port}',"
            f" send: {json.dumps(TCP_SEND)}, expect_regex: '^[+]OK'}}\n"
            for name, port in ports.items()
        )
        path = tmp_path / "smoke-test.yml"
        path.write_text("checks:\n" + checks + "  - {name: logging, type: logging}\n")
        exporter = await start_exporter(config_file=path, timeout_seconds=10.0)
        answer, read = await outputs(exporter)
    said = {name: FORMS[name](TCP_SEND) for name in FORMS}
    errors = {name: check.get("error") for name, check in answer["checks"].items()}
    assert errors.pop("logging") is None
    redacted = {
        "raw": "<secret>",
        "base64": "<secret>",
        "decoded": "<secret>",
        "inner64": "WC1FY2hvOiB<secret>g0K",  # "X-Echo: ", then the echo's own "\r\n"
        "json": '"<secret>"',
        "repr": "'<secret>'",
        "url": "<secret>",
        "cut": "x" * 64 + "…",
    }
    assert errors == {
        f"tcp-{name}": f"closed after {len(said[name].encode())} bytes with no match for"
        f" '^[+]OK': {shown_text!r}"
        for name, shown_text in redacted.items()
    }
    assert shown(read, leaks(TCP_SEND)) == set()
    for output, found in read.items():  # not vacuous: every output shows the redacted echo
        assert any(errors["tcp-json"] in text for text in found), output


async def test_a_check_that_raises_a_secret_is_named_by_its_type_alone_everywhere(
    start_exporter: StartExporter,
) -> None:
    async def leaky(run: RunInfo) -> CheckResult:
        header, answered = f"Authorization: Bearer {TOKEN}", dict[str, str]()
        try:
            answered[header]
        except KeyError as error:
            raised = ValueError(f"no answer to {header!r}")
            raised.add_note(TOKEN)
            raise raised from error
        raise AssertionError("unreachable")

    exporter = await start_exporter()
    runner = exporter.app[RUNNER]
    async with runner.between_runs():
        runner.set_checks({**runner.checks, "leaky": PlannedCheck(leaky, 5.0)})
    answer, read = await outputs(exporter, failed=2)  # the start-up run passed
    assert answer["checks"]["leaky"]["reason"] == "exception"
    assert answer["checks"]["leaky"]["error"] == "check raised ValueError"
    assert shown(read, leaks(TOKEN, (f"Bearer {TOKEN}",))) == set()
    raised = [
        line for line in exporter.stdout_lines() if line["message"] == "Check raised ValueError"
    ]
    assert [line["level"] for line in raised] == ["ERROR", "ERROR"]
    told = raised[0]["exc_info"].splitlines()
    # The traceback as Python prints it, each exception named by its type and no more.
    assert [line for line in told if line and not line.startswith(" ")] == [
        "Traceback (most recent call last):",
        "KeyError",
        "The above exception was the direct cause of the following exception:",
        "Traceback (most recent call last):",
        "ValueError",
    ]
    frames = [told[i + 1].strip() for i, line in enumerate(told) if line.endswith(", in leaky")]
    assert frames == ["answered[header]", "raise raised from error"]
