"""Tests of exporter/headers.py: the cap on a request's head, counted in its counter, and the
site without a cap on connections that every connection of which has it (LimitedSite too)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from exporter.accept import LimitedSite
from exporter.fair import Pool
from exporter.headers import MAX_HEAD_BYTES, HeadLimit, HeadLimitedSite, refusal
from exporter.metrics import create_connection_metrics
from tests.support.sockets import PAD_FIELD, padded_head
from tests.wait import until

ANSWER = b"HTTP/1.1 200 OK"
REFUSED = "smoke_test_http_request_heads_refused_total"


def head(size: int) -> bytes:
    return padded_head(size)


class FakeTransport(asyncio.Transport):
    """What HeadLimit does to its connection: the bytes it writes, reading paused, closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.reading = True
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def pause_reading(self) -> None:
        self.reading = False

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


@dataclass
class Recorder(asyncio.Protocol):
    """aiohttp's protocol as HeadLimit sees it: the bytes passed on to it."""

    received: bytes = b""
    lost: list[Exception | None] = field(default_factory=list)

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)


@dataclass
class Limited:
    """A HeadLimit around a Recorder, on a FakeTransport, counting on its own registry."""

    protocol: HeadLimit
    recorder: Recorder
    transport: FakeTransport
    registry: CollectorRegistry

    def counted(self) -> float | None:
        return self.registry.get_sample_value(REFUSED)


def limited(linger: float = 60.0) -> Limited:
    registry = CollectorRegistry()
    recorder, transport = Recorder(), FakeTransport()
    protocol = HeadLimit(recorder, create_connection_metrics(registry).heads_refused, linger)
    protocol.connection_made(transport)
    return Limited(protocol, recorder, transport, registry)


def test_the_padded_heads_have_the_sizes_asked_for() -> None:
    for size in (100, MAX_HEAD_BYTES - 1, MAX_HEAD_BYTES, MAX_HEAD_BYTES + 1, 3 * PAD_FIELD + 33):
        assert len(head(size)) == size
        assert head(size).endswith(b"\r\n\r\n")
        assert head(size).count(b"\r\n\r\n") == 1


async def test_pipelined_heads_within_the_cap_are_passed_on_unchanged() -> None:
    one = limited()
    data = head(MAX_HEAD_BYTES) + head(100) + head(MAX_HEAD_BYTES)
    one.protocol.data_received(data)
    assert (one.recorder.received, one.transport.written) == (data, b"")
    assert one.transport.reading
    assert (one.counted(), one.protocol.refused, one.protocol.reading()) == (0, False, False)


@pytest.mark.parametrize("cut", range(-6, 1))
async def test_a_head_is_counted_across_reads_however_its_blank_line_is_cut(cut: int) -> None:
    at_cap = head(MAX_HEAD_BYTES) + head(MAX_HEAD_BYTES)
    one = limited()
    for piece in (at_cap[: MAX_HEAD_BYTES + cut], at_cap[MAX_HEAD_BYTES + cut :]):
        one.protocol.data_received(piece)
    assert (one.recorder.received, one.transport.written, one.counted()) == (at_cap, b"", 0)

    over = head(MAX_HEAD_BYTES + 1)
    one = limited()
    one.protocol.data_received(over[: len(over) + cut - 1])
    one.protocol.data_received(over[len(over) + cut - 1 :])
    assert one.transport.written == refusal()
    assert one.recorder.received == over[: len(over) + cut - 1]  # not the read over the cap
    assert one.counted() == 1


async def test_a_head_under_way_is_reading_until_its_blank_line() -> None:
    one = limited()
    assert not one.protocol.reading()  # nothing came yet
    one.protocol.data_received(head(100)[:50])
    assert one.protocol.reading()
    one.protocol.data_received(head(100)[50:])
    assert not one.protocol.reading()  # between requests


async def test_a_first_head_over_the_cap_gets_431_and_the_rest_is_dropped_until_it_closes() -> None:
    one = limited(linger=0.01)
    first = head(MAX_HEAD_BYTES)[:-2]  # all of its bytes but the blank line's
    one.protocol.data_received(first)
    one.protocol.data_received(b"X: y\r\n\r\n" + head(100))
    one.protocol.data_received(head(100))
    assert one.recorder.received == first
    assert one.transport.written == refusal()
    assert one.transport.reading  # read and dropped, so that closing does not reset it
    assert (one.counted(), one.protocol.refused, one.protocol.reading()) == (1, True, False)
    await until(lambda: one.transport.closed, "closed after the linger")
    one.protocol.connection_lost(None)
    assert one.recorder.lost == [None]


async def test_a_head_over_the_cap_after_a_whole_request_gets_no_answer_and_is_read_no_more() -> (
    None
):
    one = limited()
    one.protocol.data_received(head(100))
    one.protocol.data_received(head(MAX_HEAD_BYTES + 1))
    assert (one.recorder.received, one.transport.written) == (head(100), b"")
    assert (one.transport.reading, one.transport.closed) == (False, False)  # aiohttp closes it
    assert one.counted() == 1


async def test_the_whole_requests_read_with_a_head_over_the_cap_are_passed_on() -> None:
    one = limited()
    one.protocol.data_received(head(100) + head(200) + head(MAX_HEAD_BYTES + 1) + head(100))
    assert (one.recorder.received, one.transport.written) == (head(100) + head(200), b"")
    assert not one.transport.reading
    assert one.counted() == 1


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


@dataclass
class Site:
    port: int
    registry: CollectorRegistry


@pytest.fixture(params=["LimitedSite", "HeadLimitedSite"])
async def either_site(request: pytest.FixtureRequest) -> AsyncIterator[Site]:
    """An app served by either site on 127.0.0.1, with the counters it counts in."""
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    registry = CollectorRegistry()
    counted = create_connection_metrics(registry)
    site = (
        LimitedSite(runner, sock, Pool(2, counted.evicted), counted.heads_refused)
        if request.param == "LimitedSite"
        else HeadLimitedSite(runner, sock, counted.heads_refused)
    )
    await site.start()
    yield Site(sock.getsockname()[1], registry)
    await runner.cleanup()


async def test_a_head_of_16_kib_is_served_and_one_byte_more_gets_431_with_a_json_reason(
    either_site: Site,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", either_site.port)
    writer.write(head(MAX_HEAD_BYTES))
    status = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
    assert status.rstrip() == ANSWER
    writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", either_site.port)
    writer.write(head(MAX_HEAD_BYTES + 1))
    whole = await asyncio.wait_for(reader.read(), 10)  # until the server closes
    writer.close()
    head_of_answer, body = whole.split(b"\r\n\r\n", 1)
    status, *fields = head_of_answer.split(b"\r\n")
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert sorted(fields) == [
        b"Connection: close",
        b"Content-Length: %d" % len(body),
        b"Content-Type: application/json; charset=utf-8",
    ]
    assert json.loads(body) == {
        "status": 431,
        "error": "Request Header Fields Too Large",
        "message": "request head over 16384 bytes refused: its request line and header fields "
        "may take at most 16384 bytes",
    }
    assert either_site.registry.get_sample_value(REFUSED) == 1
