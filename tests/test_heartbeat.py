"""The heartbeat: one send in flight and the newest run wins; failures counted by target and
reason, never in the run's verdict; healthchecks.io-style pings against a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from exporter.heartbeat.options import PingOptions
from exporter.heartbeat.ping import Ping
from exporter.heartbeat.sender import (
    Heartbeat,
    HeartbeatError,
    HeartbeatReason,
    HeartbeatSeries,
)
from exporter.run.results import RunResult
from exporter.session import SharedSession
from tests.conftest import StartExporter
from tests.standins.balancer import Balancer, Drop
from tests.support.config_files import refused
from tests.support.heartbeat import failures, result
from tests.support.reload import reload
from tests.support.sockets import refused_port


@dataclass
class Gate:
    """A target that waits for the test to let each send through."""

    name: str = "gate"
    sent: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    fail: HeartbeatError | None = None

    async def send(self, result: RunResult) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            self.sent.append(result.run_id)
            if self.fail is not None:
                raise self.fail
        finally:
            self.in_flight -= 1


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_slow_target_gets_one_send_at_a_time_and_the_newest_run() -> None:
    registry = CollectorRegistry()
    heartbeat = Heartbeat(HeartbeatSeries(registry))
    gate = Gate()
    heartbeat.configure([gate], timeout=5)
    task = asyncio.create_task(heartbeat.serve())
    try:
        heartbeat.notify(result("r1"))
        await settle()
        for run_id in ("r2", "r3", "r4"):  # runs that finish while r1's send hangs
            heartbeat.notify(result(run_id))
            await settle()
        gate.release.set()
        await settle()
        assert gate.sent == ["r1", "r4"]
        assert gate.most_in_flight == 1
    finally:
        task.cancel()


async def test_a_failed_or_slow_send_is_counted_by_reason() -> None:
    registry = CollectorRegistry()
    heartbeat = Heartbeat(HeartbeatSeries(registry))
    gate = Gate(fail=HeartbeatError(HeartbeatReason.STATUS, "status 500"))
    gate.release.set()
    heartbeat.configure([gate], timeout=0.05)
    task = asyncio.create_task(heartbeat.serve())
    try:
        assert [failures(registry, "gate", r.value) for r in HeartbeatReason] == [0, 0, 0]
        heartbeat.notify(result("r1"))
        await settle()
        assert failures(registry, "gate", "status") == 1
        gate.fail, gate.release = None, asyncio.Event()  # now it hangs
        heartbeat.notify(result("r2"))
        await asyncio.sleep(0.1)
        assert failures(registry, "gate", "timeout") == 1
        assert gate.in_flight == 0  # the hung send was cancelled
    finally:
        task.cancel()
    heartbeat.configure([], timeout=1)  # a reload that drops the heartbeat drops its series
    assert failures(registry, "gate", "status") is None


@dataclass
class Pinged:
    """A real server on loopback recording each ping; ``status`` is what it answers."""

    url: str = ""
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
async def pinged() -> AsyncIterator[Pinged]:
    state = Pinged()

    async def handle(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        state.requests.append((request.method, request.path, body))
        return web.Response(status=state.status, text="OK")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield state
    await runner.cleanup()


async def test_a_passing_run_gets_the_success_url_and_a_failing_one_posts_its_answer(
    pinged: Pinged,
) -> None:
    http = SharedSession()
    await http.open()
    try:
        ping = Ping(PingOptions(pinged.url + "/ping/abc", pinged.url + "/ping/abc/fail"), http)
        await ping.send(result("r1"))
        await ping.send(result("r2", ok=False))
        pinged.status = 500
        with pytest.raises(HeartbeatError) as caught:
            await ping.send(result("r3"))
        assert caught.value.reason is HeartbeatReason.STATUS
        assert str(caught.value) == f"GET {pinged.url}/ping/abc: status 500"
    finally:
        await http.close()
    (method, path, body), (method2, path2, body2), _ = pinged.requests
    assert (method, path, body) == ("GET", "/ping/abc", None)
    assert (method2, path2) == ("POST", "/ping/abc/fail")
    assert body2["status"] == "fail"
    assert body2["run_id"] == "r2"
    assert body2["checks"]["logging"]["reason"] == "timeout"


async def test_only_the_urls_given_are_pinged(pinged: Pinged) -> None:
    http = SharedSession()
    await http.open()
    try:
        await Ping(PingOptions(failure=pinged.url + "/fail"), http).send(result("r1"))
    finally:
        await http.close()
    assert pinged.requests == []


@pytest.fixture
async def balancer(pinged: Pinged) -> AsyncIterator[Balancer]:
    front = Balancer(pinged.url)
    await front.start()
    yield front
    await front.stop()


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
async def test_a_failure_ping_on_a_kept_connection_closed_under_it_is_posted_again(
    pinged: Pinged, balancer: Balancer, reset: bool
) -> None:
    balancer.drop, balancer.reset = Drop.KEPT, reset
    http = SharedSession()
    await http.open()
    try:
        ping = Ping(PingOptions(failure=balancer.url + "/fail"), http)
        for n in range(100):
            await ping.send(result(f"r{n}", ok=False))
    finally:
        await http.close()
    assert [(m, p, b["run_id"]) for m, p, b in pinged.requests] == [
        ("POST", "/fail", f"r{n}") for n in range(100)
    ]
    assert (balancer.connections, balancer.dropped) == (100, 50)  # every other one dropped


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
async def test_a_failure_ping_a_new_connection_drops_is_not_posted_again(
    pinged: Pinged, balancer: Balancer, reset: bool
) -> None:
    balancer.drop, balancer.reset = Drop.NEW, reset
    http = SharedSession()
    await http.open()
    try:
        with pytest.raises(HeartbeatError) as caught:
            await Ping(PingOptions(failure=balancer.url + "/fail"), http).send(result("r1", False))
    finally:
        await http.close()
    why = "[Errno 104] Connection reset by peer" if reset else "Server disconnected"
    assert (caught.value.reason, str(caught.value)) == (
        HeartbeatReason.CONNECT,
        f"{balancer.url}/fail: {why}",
    )
    assert (balancer.connections, balancer.dropped) == (1, 1)
    assert pinged.requests == []


async def test_a_heartbeat_that_cannot_be_sent_never_fails_the_run(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    port = refused_port()
    config = tmp_path / "smoke-test.yml"
    config.write_text(
        f"heartbeat:\n  pushgateway: {{url: 'http://127.0.0.1:{port}'}}\n"
        f"  url: {{success: 'http://127.0.0.1:{port}/ok'}}\n"
    )
    exporter = await start_exporter(config_file=config)
    status, _ = await exporter.smoke()
    assert status == 200
    for _ in range(100):
        if (
            exporter.sample("smoke_test_heartbeat_failures_total", target="url", reason="connect")
            >= 1
            and exporter.sample(
                "smoke_test_heartbeat_failures_total", target="pushgateway", reason="connect"
            )
            >= 1
        ):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the heartbeats were never counted as failed")
    assert exporter.sample("smoke_test_success") == 1
    lines = [json.loads(line) for line in exporter.log_path.read_text().splitlines()]
    warned = [line for line in lines if line.get("message") == "Heartbeat not delivered"]
    assert {line["target"] for line in warned} == {"url", "pushgateway"}
    url_line = next(line for line in warned if line["target"] == "url")
    assert url_line["error"] == f"cannot connect to 127.0.0.1:{port}: Connection refused"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("heartbeat: {}\n", "heartbeat: give pushgateway, url or both", id="empty"),
        pytest.param("heartbeat: 3\n", "heartbeat: must be a mapping, not a number", id="number"),
        pytest.param(
            "heartbeat: {pushgateway: {url: 'ftp://pg'}}\n",
            "heartbeat.pushgateway.url: 'ftp://pg' is not an http:// or https:// URL with a host",
            id="pushgateway-url",
        ),
        pytest.param(
            "heartbeat: {pushgateway: {url: 'http://pg:9091', job: 'a/b'}}\n",
            "heartbeat.pushgateway.job: 'a/b' is not a job name (no slash, not empty)",
            id="job-slash",
        ),
        pytest.param(
            "heartbeat: {url: {}}\n",
            "heartbeat.url: give success, failure or both",
            id="url-empty",
        ),
        pytest.param(
            "heartbeat: {url: {success: 'hc-ping.com/a'}}\n",
            "heartbeat.url.success: 'hc-ping.com/a' is not an http:// or https:// URL with a host",
            id="url-no-scheme",
        ),
        pytest.param(
            "heartbeat: {url: {success: 'http://a/'}, timeout: 0s}\n",
            "heartbeat.timeout: '0s' must be more than 0",
            id="timeout-zero",
        ),
    ],
)
def test_a_bad_heartbeat_names_its_key(tmp_path: Path, text: str, problem: str) -> None:
    refused(tmp_path, text, problem)


async def test_a_reload_starts_and_stops_the_heartbeat(
    start_exporter: StartExporter, tmp_path: Path, pinged: Pinged
) -> None:
    config = tmp_path / "smoke-test.yml"
    config.write_text("checks: [{name: logging, type: logging}]\n")
    exporter = await start_exporter(config_file=config)
    with_ping = f"heartbeat: {{url: {{success: '{pinged.url}/ok'}}}}\n"
    config.write_text("checks: [{name: logging, type: logging}]\n" + with_ping)
    assert (await reload(exporter))[0] == 200
    await exporter.smoke()
    for _ in range(100):
        if pinged.requests:
            break
        await asyncio.sleep(0.02)
    assert pinged.requests == [("GET", "/ok", None)]
    assert (
        exporter.sample("smoke_test_heartbeat_failures_total", target="url", reason="status") == 0
    )
    config.write_text("checks: [{name: logging, type: logging}]\n")
    assert (await reload(exporter))[0] == 200
    await exporter.smoke()
    await asyncio.sleep(0.1)
    assert pinged.requests == [("GET", "/ok", None)]  # no heartbeat any more
    assert (
        exporter.registry.get_sample_value(
            "smoke_test_heartbeat_failures_total", {"target": "url", "reason": "status"}
        )
        is None
    )
