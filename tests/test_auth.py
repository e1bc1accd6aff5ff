"""Basic auth and the extra response headers, in process over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from aiohttp import encode_basic_auth

from exporter.addresses import address_key
from exporter.web.keys import ROUTES
from exporter.web.login_gate import Full, LoginGate, Turn, half_the_cpus
from tests.conftest import Exporter, StartExporter

# Cost 4, bcrypt's lowest, keeps the tests fast; the middleware does not care.
USERS = {"alice": "secret", "josé": "pässwörd"}
CHALLENGE = 'Basic realm="smoke-test-exporter"'
HEADERS = {"X-Frame-Options": "deny", "Strict-Transport-Security": "max-age=31536000"}


def basic(user: str, password: str) -> dict[str, str]:
    """Request headers sending a basic credential."""
    return raw(encode_basic_auth(user, password))


def raw(header: str) -> dict[str, str]:
    """Request headers sending this Authorization header."""
    return {"Authorization": header}


ALICE = basic("alice", "secret")


def unauthorized(message: str) -> dict[str, Any]:
    return {"status": 401, "error": "Unauthorized", "message": message}


MISSING = unauthorized("this endpoint requires HTTP basic authentication")
WRONG = unauthorized("wrong user name or password")
MALFORMED = unauthorized("the Authorization header is not valid basic authentication")


def write_config(tmp_path: Path, *, users: bool = True, headers: bool = True) -> Path:
    lines = []
    if users:
        lines.append("basic_auth_users:")
        for user, password in USERS.items():
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
            lines.append(f"  {user}: '{hashed}'")
    if headers:
        lines.append("http_server_config:\n  headers:")
        lines += [f"    {name}: {value}" for name, value in HEADERS.items()]
    path = tmp_path / "web.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
async def guarded(start_exporter: StartExporter, tmp_path: Path) -> Exporter:
    """An exporter with basic auth and extra headers on, and a config file to reload."""
    config = tmp_path / "smoke-test.yml"
    config.write_text("checks:\n  - {name: logging, type: logging}\n")
    return await start_exporter(web_config_file=write_config(tmp_path), config_file=config)


async def get(
    exporter: Exporter,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    data: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body."""
    async with exporter.client.request(method, path, headers=headers, data=data) as response:
        return response.status, dict(response.headers), await response.read()


async def get_json(
    exporter: Exporter, path: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Status and JSON body."""
    async with exporter.client.get(path, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def test_every_endpoint_but_liveness_requires_credentials(guarded: Exporter) -> None:
    routes = [(r.method, r.path) for r in guarded.app[ROUTES] if r.name != "healthy"]
    paths = {path for _, path in routes}
    assert {"/", "/smoke-test", "/smoke-test/history", "/metrics", "/-/ready", "/-/reload"} <= paths
    for method, path in routes:
        async with guarded.client.request(method, path) as response:
            assert (path, response.status) == (path, 401)
            assert response.headers["WWW-Authenticate"] == CHALLENGE
            assert response.content_type == "application/json"
            assert await response.json() == MISSING
        async with guarded.client.request(method, path, headers=ALICE) as response:
            assert (path, response.status) == (path, 200)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_liveness_is_open_without_credentials(guarded: Exporter, method: str) -> None:
    status, headers, body = await get(guarded, "/-/healthy", method=method)
    assert status == 200
    assert body == (b"Healthy\n" if method == "GET" else b"")
    assert "WWW-Authenticate" not in headers


@pytest.mark.parametrize(
    ("auth", "body"),
    [
        (basic("alice", "wrong"), WRONG),
        (basic("alice", ""), WRONG),
        (basic("mallory", "secret"), WRONG),
        (basic("josé", "secret"), WRONG),  # alice's password is not josé's
        (raw("Bearer secret"), MALFORMED),
        (raw("Basic !!!"), MALFORMED),
        (raw("Basic " + base64.b64encode(b"alice").decode()), MALFORMED),  # no colon
        (raw("Basic " + base64.b64encode(b"\xff:secret").decode()), MALFORMED),  # not UTF-8
        # A password is bytes to bcrypt: any bytes are checked, and these are wrong.
        (raw("Basic " + base64.b64encode(b"alice:secret\xff").decode()), WRONG),
        (raw("basic " + base64.b64encode(b"alice:secreT").decode()), WRONG),
    ],
)
async def test_a_wrong_credential_gets_401_with_the_challenge(
    guarded: Exporter, auth: dict[str, str], body: dict[str, Any]
) -> None:
    for _ in range(2):  # refused again: nothing wrong is remembered
        async with guarded.client.get("/smoke-test", headers=auth) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == CHALLENGE
            assert await response.json() == body


async def test_right_credentials_pass_in_utf8_too(guarded: Exporter) -> None:
    for user, password in USERS.items():
        status, body = await get_json(guarded, "/smoke-test", basic(user, password))
        assert (status, body["status"]) == (200, "ok")


async def test_concurrent_first_requests_all_pass(guarded: Exporter) -> None:
    statuses = await asyncio.gather(*(get(guarded, "/metrics", ALICE) for _ in range(20)))
    assert [status for status, _, _ in statuses] == [200] * 20


async def test_a_failing_check_is_never_shown_without_credentials(
    guarded: Exporter, log_path: Path
) -> None:
    log_path.unlink()
    log_path.mkdir()  # the file sink now fails with "Is a directory"
    runs = guarded.sample("smoke_test_runs_total", trigger="http")
    for path in ("/smoke-test", "/health/smoke-test", "/smoke-test/history", "/"):
        for credential in ({}, basic("alice", "wrong")):
            status, _, body = await get(guarded, path, credential)
            assert (path, status) == (path, 401)
            assert b"Is a directory" not in body
            assert b"fail" not in body
    # Nobody unauthenticated started a run either.
    assert guarded.sample("smoke_test_runs_total", trigger="http") == runs
    status, body = await get_json(guarded, "/smoke-test", ALICE)
    assert status == 503
    assert body["checks"]["logging"]["error"] == f"[Errno 21] Is a directory: '{log_path}'"
    assert guarded.sample("smoke_test_runs_total", trigger="http") == runs + 1


async def test_refused_requests_are_counted_by_route(guarded: Exporter) -> None:
    await get(guarded, "/smoke-test")
    await get(guarded, "/smoke-test", basic("alice", "wrong"))
    await get(guarded, "/no-such-page")
    assert (
        guarded.sample(
            "smoke_test_http_requests_total", handler="smoke_test", method="GET", code="401"
        )
        == 2
    )
    assert (
        guarded.sample("smoke_test_http_requests_total", handler="other", method="GET", code="401")
        == 1
    )


async def test_an_unknown_path_is_401_until_authenticated_then_404(guarded: Exporter) -> None:
    assert await get_json(guarded, "/no-such-page") == (401, MISSING)
    status, body = await get_json(guarded, "/no-such-page", ALICE)
    assert (status, body["error"]) == (404, "Not Found")


Request = tuple[str, str, dict[str, str], bytes | None]  # method, path, headers, body


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (("GET", "/smoke-test", ALICE, None), 200),
        (("GET", "/metrics", ALICE, None), 200),
        (("GET", "/-/healthy", {}, None), 200),
        (("GET", "/smoke-test", {}, None), 401),
        (("GET", "/no-such-page", ALICE, None), 404),
        (("POST", "/smoke-test", ALICE, None), 405),
        (("GET", "/smoke-test", ALICE, b"x" * 2000), 413),
    ],
)
async def test_extra_headers_are_on_every_answer(
    guarded: Exporter, request_: Request, status: int
) -> None:
    method, path, credential, data = request_
    got, headers, _ = await get(guarded, path, credential, method=method, data=data)
    assert got == status
    assert {name: headers.get(name) for name in HEADERS} == HEADERS


async def test_headers_alone_leave_the_endpoints_open(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    exporter = await start_exporter(web_config_file=write_config(tmp_path, users=False))
    status, headers, _ = await get(exporter, "/smoke-test")
    assert status == 200
    assert {name: headers.get(name) for name in HEADERS} == HEADERS


async def test_users_alone_add_no_headers(start_exporter: StartExporter, tmp_path: Path) -> None:
    exporter = await start_exporter(web_config_file=write_config(tmp_path, headers=False))
    status, headers, _ = await get(exporter, "/smoke-test", ALICE)
    assert status == 200
    assert [name for name in HEADERS if name in headers] == []


async def hold(turn: Turn, order: list[str], name: str, done: asyncio.Event) -> None:
    """Wait for the turn, note ``name`` in ``order``, keep the turn until ``done`` is set."""
    async with turn:
        order.append(name)
        await done.wait()


async def settle() -> None:
    """Let every task that can run, run (futures resolved now wake their tasks in one step)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_gate_serves_addresses_in_turn_a_newcomer_first_fifo_within_one() -> None:
    gate = LoginGate(concurrency=1, max_waiting=3)
    order: list[str] = []
    ends = {name: asyncio.Event() for name in ("a0", "a1", "a2", "a3", "b1", "b2", "c1")}
    entries = [("a", "a0"), ("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1")]
    entries += [("b", "b2"), ("c", "c1")]
    tasks = [
        asyncio.create_task(hold(gate.enter(address), order, name, ends[name]))
        for address, name in entries
    ]
    await settle()
    assert order == ["a0"]
    assert (gate.running, gate.waiting("a"), gate.waiting("b"), gate.waiting("c")) == (1, 3, 2, 1)
    for name in ("a0", "b1", "c1", "a1", "b2", "a2"):
        ends[name].set()
        await settle()
    ends["a3"].set()
    await asyncio.gather(*tasks)
    # a was served first, so b and c (never served, b came first) go before a's second.
    assert order == ["a0", "b1", "c1", "a1", "b2", "a2", "a3"]
    assert (gate.running, gate.waiting("a"), gate.waiting("b")) == (0, 0, 0)


async def test_the_gate_runs_at_most_its_concurrency_at_once() -> None:
    gate = LoginGate(concurrency=2, max_waiting=4)
    order: list[str] = []
    done = asyncio.Event()
    tasks = [
        asyncio.create_task(hold(gate.enter(f"10.0.0.{n}"), order, str(n), done)) for n in range(5)
    ]
    await settle()
    assert order == ["0", "1"]
    assert gate.running == 2
    assert [gate.waiting(f"10.0.0.{n}") for n in range(5)] == [0, 0, 1, 1, 1]
    done.set()
    await asyncio.gather(*tasks)
    assert order == ["0", "1", "2", "3", "4"]
    assert gate.running == 0


async def test_the_gate_refuses_an_address_with_its_bound_waiting_and_no_other() -> None:
    gate = LoginGate(concurrency=1, max_waiting=2)
    done = asyncio.Event()
    order: list[str] = []
    tasks = [asyncio.create_task(hold(gate.enter("a"), order, f"a{n}", done)) for n in range(3)]
    with pytest.raises(Full):
        gate.enter("a")
    tasks.append(asyncio.create_task(hold(gate.enter("b"), order, "b0", done)))
    await settle()
    assert (gate.running, gate.waiting("a"), gate.waiting("b")) == (1, 2, 1)
    done.set()
    await asyncio.gather(*tasks)
    assert order == ["a0", "b0", "a1", "a2"]


async def test_a_waiter_given_up_on_leaves_its_place() -> None:
    gate = LoginGate(concurrency=1, max_waiting=1)
    order: list[str] = []
    done = asyncio.Event()
    running = asyncio.create_task(hold(gate.enter("a"), order, "a0", done))
    gone = asyncio.create_task(hold(gate.enter("a"), order, "a1", done))
    await settle()
    assert gate.waiting("a") == 1
    gone.cancel()
    await settle()
    assert gate.waiting("a") == 0
    later = asyncio.create_task(hold(gate.enter("a"), order, "a2", done))  # not Full
    done.set()
    await asyncio.gather(running, later)
    assert gone.cancelled()
    assert order == ["a0", "a2"]
    assert gate.running == 0


async def test_a_turn_given_to_a_task_cancelled_before_it_ran_passes_on() -> None:
    gate = LoginGate(concurrency=1, max_waiting=1)
    held = gate.enter("a")
    await held.__aenter__()
    given = asyncio.create_task(gate.enter("b").__aenter__())
    order: list[str] = []
    done = asyncio.Event()
    after = asyncio.create_task(hold(gate.enter("c"), order, "c0", done))
    await settle()
    await held.__aexit__(None, None, None)  # the turn goes to b now...
    assert (gate.running, gate.waiting("b"), gate.waiting("c")) == (1, 0, 1)
    given.cancel()  # ...whose task is cancelled before it wakes: c gets the turn
    done.set()
    await after
    assert given.cancelled()
    assert order == ["c0"]
    assert gate.running == 0


@pytest.mark.parametrize(
    ("remote", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        (None, ""),
        ("not an address", "not an address"),
    ],
)
def test_a_client_draws_on_the_share_of_its_address_or_ipv6_64(
    remote: str | None, key: str
) -> None:
    assert address_key(remote) == key


async def test_checks_beyond_an_address_bound_are_refused_at_once_with_429(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    # Cost 12: the first check runs long enough for all the others to arrive and wait.
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(12)).decode()
    config = tmp_path / "web.yml"
    config.write_text(f"basic_auth_users:\n  alice: '{hashed}'\n", encoding="utf-8")
    exporter = await start_exporter(web_config_file=config)
    guesses = [basic("alice", f"wrong-{n}") for n in range(10)]
    answers = await asyncio.gather(*(get(exporter, "/metrics", guess) for guess in guesses))
    statuses = [status for status, _, _ in answers]
    checked = half_the_cpus() + 4  # running, and the 4 an address may have waiting
    assert sorted(statuses) == [401] * checked + [429] * (10 - checked)
    _, headers, body = next(answer for answer in answers if answer[0] == 429)
    assert headers["Retry-After"] == "1"
    assert "WWW-Authenticate" not in headers
    assert json.loads(body) == {
        "status": 429,
        "error": "Too Many Requests",
        "message": "4 password checks from 127.0.0.1 are waiting already; retry in 1 s",
    }
    # The same wrong password asked for at once is one check: none of it waits to be refused.
    same = await asyncio.gather(*(get(exporter, "/metrics", guesses[0]) for _ in range(10)))
    assert [status for status, _, _ in same] == [401] * 10
