"""A heartbeat that never dies: a Pushgateway or ping URL that answers garbage, or closes with
no answer, is a counted and logged failure, and the next run sends again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from exporter.heartbeat.options import PingOptions, PushgatewayOptions
from exporter.heartbeat.ping import Ping
from exporter.heartbeat.pushgateway import Pushgateway
from exporter.heartbeat.sender import Heartbeat, HeartbeatSeries
from exporter.metrics import create_metrics
from exporter.session import SharedSession
from tests.support.heartbeat import failures, result
from tests.wait import until

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
ANSWERS = {
    "garbage": b"GARBAGE\r\n\r\n",  # a status line that is not HTTP
    "close": b"",  # the connection closed with no answer
    "ok": OK,
}


@dataclass
class Peer:
    """A server on 127.0.0.1 that reads each request whole and gives the answer of the moment."""

    answer: str = "ok"
    requests: list[bytes] = field(default_factory=list)
    port: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)  # answers wait for it when set up
    held: bool = False
    in_flight: int = 0
    most_in_flight: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        self.requests.append(head + await reader.readexactly(length))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.held:
            await self.gate.wait()
        self.in_flight -= 1
        writer.write(ANSWERS[self.answer])
        await writer.drain()
        writer.close()


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    peer = Peer()
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    peer.port = server.sockets[0].getsockname()[1]
    async with server:
        yield peer


async def test_a_pushgateway_answering_garbage_or_closing_is_a_failure_and_the_next_run_pushes(
    peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    create_metrics(registry, triggers=["http"], handlers=["smoke_test"], interval_seconds=30)
    heartbeat = Heartbeat(HeartbeatSeries(registry))
    url = f"http://127.0.0.1:{peer.port}"
    target = Pushgateway(PushgatewayOptions(url), registry, "web-1", timeout=5)
    heartbeat.configure([target], timeout=5)
    task = asyncio.create_task(heartbeat.serve())
    try:
        expected = {"status": 0, "connect": 0, "timeout": 0}
        for n, (answer, reason) in enumerate((("garbage", "status"), ("close", "connect"))):
            peer.answer = answer
            heartbeat.notify(result(f"r{n}"))
            expected[reason] += 1
            await until(
                lambda: {r: failures(registry, "pushgateway", r) for r in expected} == expected,
                f"the {answer} answer counted as {reason}",
            )
        peer.answer = "ok"
        heartbeat.notify(result("r2"))
        await until(lambda: len(peer.requests) == 3, "the next run pushed")
        assert peer.requests[2].startswith(b"PUT /metrics/job/smoke-test-heartbeat/instance/web-1 ")
        assert b"smoke_test_runs_total" in peer.requests[2]
        assert {r: failures(registry, "pushgateway", r) for r in expected} == expected
        assert not task.done()
    finally:
        task.cancel()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [(r.getMessage(), r.__dict__["reason"]) for r in warnings] == [
        ("Heartbeat not delivered", "status"),
        ("Heartbeat not delivered", "connect"),
    ]
    assert warnings[0].__dict__["error"] == f"{url}: no HTTP answer (BadStatusLine)"
    assert warnings[1].__dict__["error"] == f"{url}: closed with no answer"


async def test_a_ping_url_answering_garbage_or_closing_is_a_failure_and_the_next_run_pings(
    peer: Peer,
) -> None:
    registry = CollectorRegistry()
    heartbeat = Heartbeat(HeartbeatSeries(registry))
    http = SharedSession()
    await http.open()
    url = f"http://127.0.0.1:{peer.port}/ping"
    heartbeat.configure([Ping(PingOptions(success=url), http)], timeout=5)
    task = asyncio.create_task(heartbeat.serve())
    try:
        peer.answer = "garbage"
        heartbeat.notify(result("r0"))
        await until(lambda: failures(registry, "url", "connect") == 1, "the garbage counted")
        peer.answer = "close"
        heartbeat.notify(result("r1"))
        await until(lambda: failures(registry, "url", "connect") == 2, "the close counted")
        peer.answer = "ok"
        before = len(peer.requests)
        heartbeat.notify(result("r2"))
        await until(lambda: len(peer.requests) == before + 1, "the next run pinged")
        assert peer.requests[-1].startswith(b"GET /ping ")
        assert not task.done()
    finally:
        task.cancel()
        await http.close()


async def test_a_push_the_timeout_gave_up_on_ends_before_the_next_one_starts(peer: Peer) -> None:
    registry = CollectorRegistry()
    create_metrics(registry, triggers=["http"], handlers=["smoke_test"], interval_seconds=30)
    heartbeat = Heartbeat(HeartbeatSeries(registry))
    # The heartbeat gives up after 0.2 s; the push's own socket waits up to 10 s.
    target = Pushgateway(PushgatewayOptions(f"http://127.0.0.1:{peer.port}"), registry, "w", 10)
    heartbeat.configure([target], timeout=0.2)
    task = asyncio.create_task(heartbeat.serve())
    try:
        peer.held = True
        heartbeat.notify(result("r0"))
        await until(lambda: failures(registry, "pushgateway", "timeout") == 1, "r0 given up")
        heartbeat.notify(result("r1"))  # r0's push still waits for its answer
        await until(lambda: failures(registry, "pushgateway", "timeout") == 2, "r1 given up")
        assert len(peer.requests) == 1  # r1 did not push beside r0's
        peer.gate.set()
        await until(lambda: peer.in_flight == 0, "r0's push answered")
        heartbeat.notify(result("r2"))
        await until(lambda: len(peer.requests) == 2, "r2 pushed")
        assert peer.most_in_flight == 1
    finally:
        task.cancel()
