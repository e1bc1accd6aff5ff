"""The syslog sink against real sockets on loopback: exact RFC 5424 and 3164 messages, both
framings, UDP, TCP and Unix sockets, a server that is down, goes away or comes back, and a
canary that tells the truth at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporter.sinks import OK, Batch, Delivery, Line, Reason, SinkOutcome, syslog_socket
from exporter.sinks.series import SinkSeries
from exporter.sinks.syslog import (
    Format,
    Framing,
    SyslogOptions,
    SyslogSink,
    Transport,
    severity,
)
from exporter.sinks.syslog_socket import BACKOFF_FIRST, REFUSAL_WAIT
from tests.support.sockets import refused_port

CREATED = 1796300000.123456  # 2026-12-03T12:13:20.123456Z
TEXT = '{"message": "hello", "run_id": "abc", "seq": 1, "instance": "host-a"}'


def series() -> SinkSeries:
    return SinkSeries(CollectorRegistry())


OPEN: list[SyslogSink] = []


def sink(address: str, **options: object) -> SyslogSink:
    """A syslog sink named central on host web-1, closed after the test."""
    built = SyslogSink("central", SyslogOptions(address, **options), "web-1", series())  # type: ignore[arg-type]
    OPEN.append(built)
    return built


@pytest.fixture(autouse=True)
def close_sinks() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def batch(*texts: str, level: int = logging.INFO) -> Batch:
    return Batch([Line(text, None, level, CREATED) for text in texts])


@pytest.fixture
def canary() -> Iterator[Batch]:
    """A batch of one canary line, as a run's logging check sends it."""
    loop = asyncio.new_event_loop()
    yield Batch([Line("canary", Delivery(loop, []), logging.INFO, CREATED)])
    loop.close()


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(2)
        yield server


class TcpServer:
    """Accepts connections and keeps every byte each one sent."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytearray] = []
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            data = bytearray()
            self.received.append(data)
            threading.Thread(target=self._read, args=(conn, data), daemon=True).start()

    @staticmethod
    def _read(conn: socket.socket, data: bytearray) -> None:
        with contextlib.suppress(OSError):
            while chunk := conn.recv(65536):
                data.extend(chunk)

    def wait_for(self, size: int, timeout: float = 2.0) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = b"".join(self.received)
            if len(got) >= size:
                return got
            time.sleep(0.01)
        raise AssertionError(f"got {b''.join(self.received)!r}, wanted {size} bytes")

    def close(self) -> None:
        self.listener.close()
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


@pytest.fixture
def tcp() -> Iterator[TcpServer]:
    server = TcpServer()
    yield server
    server.close()


def test_rfc5424_message_is_exact(udp: socket.socket) -> None:
    s = sink(f"127.0.0.1:{udp.getsockname()[1]}")
    assert s.deliver(batch(TEXT)).ok
    message = udp.recv(65536).decode()
    pid = s.frame(Line(TEXT, None, logging.INFO, CREATED)).split(b" ")[4].decode()
    # local0 (16) * 8 + informational (6) = 134
    assert (
        message == f"<134>1 2026-12-03T12:13:20.123456Z web-1 smoke-test-exporter {pid} - - {TEXT}"
    )


def test_rfc3164_message_is_exact(udp: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        s = sink(f"127.0.0.1:{udp.getsockname()[1]}", format=Format.RFC3164, facility="daemon")
        assert s.deliver(batch(TEXT, level=logging.WARNING)).ok
        message = udp.recv(65536).decode()
    finally:
        monkeypatch.undo()
        time.tzset()
    pid = message.split("[")[1].split("]")[0]
    # daemon (3) * 8 + warning (4) = 28; the day is padded with a space
    assert message == f"<28>Dec  3 12:13:20 web-1 smoke-test-exporter[{pid}]: {TEXT}"


def test_severity_follows_the_level() -> None:
    levels = [logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG]
    assert [severity(level) for level in levels] == [2, 3, 4, 6, 7]


def test_each_line_is_one_datagram(udp: socket.socket) -> None:
    s = sink(f"127.0.0.1:{udp.getsockname()[1]}")
    assert s.deliver(batch("one", "two", "three")).ok
    assert [udp.recv(65536).decode().rsplit(" ", 1)[1] for _ in range(3)] == ["one", "two", "three"]


def test_tcp_frames_by_octet_counting(tcp: TcpServer) -> None:
    s = sink(f"127.0.0.1:{tcp.port}", protocol=Transport.TCP)
    assert s.deliver(batch("one", "two")).ok
    first = s.frame(Line("one", None, logging.INFO, CREATED))
    second = s.frame(Line("two", None, logging.INFO, CREATED))
    got = tcp.wait_for(len(first) + len(second))
    length, _, rest = got.partition(b" ")
    assert int(length) == len(rest[: int(length)])
    assert rest[: int(length)].endswith(b" - - one")
    assert got == first + second
    assert first == b"%d %s" % (len(first) - len(length) - 1, first[len(length) + 1 :])


def test_tcp_frames_by_line_feed(tcp: TcpServer) -> None:
    s = sink(f"127.0.0.1:{tcp.port}", protocol=Transport.TCP, framing=Framing.LF)
    assert s.deliver(batch("one", "two")).ok
    got = tcp.wait_for(2).decode()
    while got.count("\n") < 2:
        got = tcp.wait_for(len(got) + 1).decode()
    assert [line.rsplit(" ", 1)[1] for line in got.splitlines()] == ["one", "two"]
    assert got.startswith("<134>1 ")


def test_a_server_that_is_down_fails_open_then_backs_off_then_recovers() -> None:
    port = refused_port()
    s = sink(f"127.0.0.1:{port}", protocol=Transport.TCP)
    outcome = s.deliver(batch("one"))
    assert (outcome.ok, outcome.reason) == (False, Reason.OPEN)
    assert outcome.error == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    server = TcpServer(port)
    try:
        outcome = s.deliver(batch("two"))  # within the backoff: not tried
        assert (outcome.ok, outcome.reason) == (False, Reason.OPEN)
        assert outcome.error is not None
        assert outcome.error.startswith(
            f"cannot connect to 127.0.0.1:{port}: Connection refused; next connect to "
        )
        time.sleep(BACKOFF_FIRST + 0.05)
        assert s.deliver(batch("three")).ok
        assert server.wait_for(1).endswith(b" - - three")
    finally:
        server.close()


def test_a_server_that_closed_the_stream_gets_a_new_connection_not_a_lost_line(
    tcp: TcpServer,
) -> None:
    s = sink(f"127.0.0.1:{tcp.port}", protocol=Transport.TCP)
    assert s.deliver(batch("one")).ok
    tcp.wait_for(1)
    tcp.connections[0].shutdown(socket.SHUT_RDWR)  # the server restarts its input, say
    time.sleep(0.05)
    assert s.deliver(batch("two")).ok
    deadline = time.monotonic() + 2
    while len(tcp.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(tcp.received) == 2
    assert bytes(tcp.received[0]).endswith(b" - - one")
    tcp.wait_for(len(tcp.received[0]) + 1)
    assert bytes(tcp.received[1]).endswith(b" - - two")


def test_udp_to_a_closed_port_fails_the_next_send() -> None:
    port = refused_port()
    s = sink(f"127.0.0.1:{port}")
    s.deliver(batch("one"))  # sent; the port-unreachable answer comes back
    time.sleep(0.05)
    outcome = s.deliver(batch("two"))
    assert (outcome.ok, outcome.reason, outcome.error) == (
        False,
        Reason.WRITE,
        "Connection refused",
    )


def test_a_message_too_long_for_a_datagram_fails_the_write(udp: socket.socket) -> None:
    s = sink(f"127.0.0.1:{udp.getsockname()[1]}")
    outcome = s.deliver(batch("x" * 70_000))
    assert (outcome.ok, outcome.reason, outcome.error) == (False, Reason.WRITE, "Message too long")
    assert s.deliver(batch("fits")).ok


def test_unix_datagram_socket(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(2)
        s = sink(str(path), protocol=Transport.UNIX)
        assert s.deliver(batch(TEXT)).ok
        message = server.recv(65536).decode()
    assert message.startswith("<134>1 ")
    assert json.loads(message.split(" - - ", 1)[1])["run_id"] == "abc"


def test_unix_stream_socket_is_framed(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        server.settimeout(2)
        s = sink(str(path), protocol=Transport.UNIX)
        assert s.deliver(batch("one")).ok
        conn, _ = server.accept()
        with conn:
            conn.settimeout(2)
            got = conn.recv(65536)
    length, _, rest = got.partition(b" ")
    assert int(length) == len(rest)
    assert rest.endswith(b" - - one")


def test_a_missing_unix_socket_fails_open(tmp_path: Path) -> None:
    s = sink(str(tmp_path / "none"), protocol=Transport.UNIX)
    outcome = s.deliver(batch("one"))
    assert (outcome.ok, outcome.reason) == (False, Reason.OPEN)
    assert outcome.error == f"cannot connect to {tmp_path / 'none'}: No such file or directory"


def test_a_canary_connects_at_once_while_ordinary_lines_wait_out_the_backoff(
    canary: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first backoff longer than any stall: every ordinary line here falls within it.
    monkeypatch.setattr(syslog_socket, "BACKOFF_FIRST", 60.0)
    port = refused_port()
    s = sink(f"127.0.0.1:{port}", protocol=Transport.TCP)
    cause = f"cannot connect to 127.0.0.1:{port}: Connection refused"
    refused = SinkOutcome(False, Reason.OPEN, cause)
    assert s.deliver(batch("one")) == refused
    assert s.deliver(canary) == refused  # tried again: the cause of now, no stale backoff
    server = TcpServer(port)
    try:
        outcome = s.deliver(batch("two"))
        assert (outcome.ok, outcome.reason) == (False, Reason.OPEN)
        assert outcome.error is not None
        assert outcome.error.startswith(f"{cause}; next connect to 127.0.0.1:{port} in ")
        assert s.deliver(canary) == OK  # the first run after the server is back passes
        assert s.deliver(batch("three")) == OK  # on the canary's connection
        sent = s.frame(canary.lines[0]) + s.frame(Line("three", None, logging.INFO, CREATED))
        assert server.wait_for(len(sent)) == sent
        assert len(server.connections) == 1
    finally:
        server.close()


def test_a_canary_connects_at_once_to_a_unix_stream_socket_that_is_back(
    canary: Batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(syslog_socket, "BACKOFF_FIRST", 60.0)
    path = tmp_path / "log"
    s = sink(str(path), protocol=Transport.UNIX)
    cause = f"cannot connect to {path}: No such file or directory"
    missing = SinkOutcome(False, Reason.OPEN, cause)
    assert s.deliver(batch("one")) == missing
    assert s.deliver(canary) == missing
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        server.settimeout(2)
        outcome = s.deliver(batch("two"))
        assert (outcome.ok, outcome.reason) == (False, Reason.OPEN)
        assert outcome.error is not None
        assert outcome.error.startswith(f"{cause}; next connect to {path} in ")
        assert s.deliver(canary) == OK
        conn, _ = server.accept()
        with conn:
            conn.settimeout(2)
            got = conn.recv(65536)
    assert got == s.frame(canary.lines[0])
    length, _, rest = got.partition(b" ")
    assert int(length) == len(rest)


# Runs further apart than a refusal may take: only a refusal keeps a UDP sink failing.
PACE = REFUSAL_WAIT + 0.1


def test_udp_a_closed_receiver_fails_every_run_until_a_later_send_confirms_one(
    canary: Batch, udp: socket.socket
) -> None:
    address = udp.getsockname()
    s = sink(f"127.0.0.1:{address[1]}")

    def run() -> tuple[SinkOutcome, SinkOutcome]:
        """One run as the exporter makes it: the canary, then the request's access-log line."""
        time.sleep(PACE)
        return s.deliver(canary), s.deliver(batch("access"))

    def received(server: socket.socket) -> list[str]:
        return [server.recv(65536).decode().rsplit(" ", 1)[1] for _ in range(2)]

    refused = SinkOutcome(False, Reason.WRITE, "Connection refused")
    assert run() == (OK, OK)
    assert received(udp) == ["canary", "access"]
    udp.close()
    runs = [run() for _ in range(10)]
    # Every canary fails, the first in its own run. An ordinary line hears the refusal of the
    # datagram before it, so the first run's access line passes.
    assert [line for line, _ in runs] == [refused] * 10
    assert [access for _, access in runs] == [OK] + [refused] * 9
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as back:
        back.bind(address)
        back.settimeout(2)
        # The rule: a failed sink fails with the last error until a datagram sent since has
        # gone a while with no error. This run's datagrams are that proof, for the next run.
        assert run() == (refused, OK)
        assert received(back) == ["canary", "access"]
        assert run() == (OK, OK)
        assert received(back) == ["canary", "access"]
