"""The syslog sink's socket on loopback: a canary connects at once while ordinary lines back
off, counted at a bare listener; UDP refusals keep a failing sink failing, however late they
come back, and a stale refusal loses no datagram."""

from __future__ import annotations

import re
import select
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from exporter.sinks import syslog_socket
from exporter.sinks.syslog_socket import BACKOFF_FIRST, REFUSAL_WAIT, Connection, Refusals
from tests.support.sockets import refused_port

# Runs further apart than a refusal may take: only a refusal keeps a UDP sink failing.
PACE = REFUSAL_WAIT + 0.1
# <linux/in.h>; Python 3.11's socket module does not name it.
IP_RECVERR = 11


class Attempts:
    """Connects to a port on loopback as the sink does, counting every try."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.count = 0

    def __call__(self) -> socket.socket:
        self.count += 1
        return socket.create_connection(("127.0.0.1", self.port), timeout=2)


@pytest.fixture
def connections() -> Iterator[list[Connection]]:
    """Connections closed after the test."""
    opened: list[Connection] = []
    yield opened
    for connection in opened:
        connection.close()


def error_of(connection: Connection, *, canary: bool) -> str:
    """Why ``connection`` has no socket for this batch."""
    with pytest.raises(OSError, match=r"^cannot connect to ") as raised:
        connection.get(canary=canary)
    return str(raised.value)


def next_connect_in(error: str, cause: str, port: int) -> float:
    """The seconds an ordinary line's error says the backoff has left."""
    found = re.fullmatch(
        rf"{re.escape(cause)}; next connect to 127\.0\.0\.1:{port} in (.+)s", error
    )
    assert found is not None, error
    return float(found[1])


def test_a_canary_tries_at_once_and_ordinary_lines_wait_out_the_backoff(
    monkeypatch: pytest.MonkeyPatch, connections: list[Connection]
) -> None:
    # A first backoff longer than any stall: every ordinary line here falls within it.
    monkeypatch.setattr(syslog_socket, "BACKOFF_FIRST", 60.0)
    monkeypatch.setattr(syslog_socket, "BACKOFF_MOST", 600.0)
    port = refused_port()
    attempts = Attempts(port)
    connection = Connection(f"127.0.0.1:{port}", attempts)
    connections.append(connection)
    cause = f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert error_of(connection, canary=False) == cause
    waits = [next_connect_in(error_of(connection, canary=False), cause, port) for _ in range(3)]
    assert attempts.count == 1
    assert all(0 < wait <= 60 for wait in waits)
    assert error_of(connection, canary=True) == cause  # the server is down: the cause of now
    assert attempts.count == 2
    with socket.create_server(("127.0.0.1", port)) as listener:  # bare: only the test accepts
        listener.settimeout(5)
        # The canary's try counted for the backoff, doubled to 120 s: ordinary lines wait on.
        waits = [next_connect_in(error_of(connection, canary=False), cause, port) for _ in range(3)]
        assert attempts.count == 2
        assert all(60 < wait <= 120 for wait in waits)
        sock = connection.get(canary=True)  # back: the canary connects at once
        assert attempts.count == 3
        accepted, peer = listener.accept()
        with accepted:
            assert peer == sock.getsockname()
            assert connection.get(canary=False) is sock
            assert attempts.count == 3
            listener.setblocking(False)
            with pytest.raises(BlockingIOError):
                listener.accept()  # the canary's was the only connection


def test_ordinary_lines_try_again_once_the_backoff_is_over(connections: list[Connection]) -> None:
    port = refused_port()
    attempts = Attempts(port)
    connection = Connection(f"127.0.0.1:{port}", attempts)
    connections.append(connection)
    assert error_of(connection, canary=False) == (
        f"cannot connect to 127.0.0.1:{port}: Connection refused"
    )
    over = time.monotonic() + BACKOFF_FIRST
    with socket.create_server(("127.0.0.1", port)) as listener:
        listener.settimeout(5)
        time.sleep(max(0.0, over - time.monotonic()))  # to a time, not a guess: the rule's own
        sock = connection.get(canary=False)
        assert attempts.count == 2
        accepted, peer = listener.accept()
        accepted.close()
        assert peer == sock.getsockname()


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def port_unreachable(sender: tuple[str, int], receiver: tuple[str, int], payload: bytes) -> bytes:
    """The ICMP message a host sends back for a datagram to a closed port: type 3 code 3, then
    the datagram's IP header and UDP header."""
    length = 20 + 8 + len(payload)
    header = struct.pack("!BBHHHBBH", 0x45, 0, length, 0, 0, 64, socket.IPPROTO_UDP, 0)
    addresses = socket.inet_aton(sender[0]) + socket.inet_aton(receiver[0])
    quoted = header + addresses + struct.pack("!HHHH", sender[1], receiver[1], 8 + len(payload), 0)
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    return icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]


class SlowNetwork:
    """A closed port across a network slower than REFUSAL_WAIT: each datagram is received, and
    refused only when the test says so, once the sink's own wait is long over."""

    def __init__(self) -> None:
        try:
            self.icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except PermissionError:
            pytest.skip("sending ICMP takes CAP_NET_RAW (root)")
        self.receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.receiver.bind(("127.0.0.1", 0))
        self.receiver.settimeout(5)
        self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the sink's
        self.sender.connect(self.receiver.getsockname())

    def received(self) -> bytes:
        """The next datagram the receiver got."""
        return self.receiver.recv(65536)

    def refuse_last(self) -> None:
        """Refuse the next datagram received, then wait until the sender's socket holds the
        refusal (polled, not read: the sink reads it)."""
        payload, sender = self.receiver.recvfrom(65536)
        message = port_unreachable(sender, self.receiver.getsockname(), payload)
        self.icmp.sendto(message, ("127.0.0.1", 0))
        poller = select.poll()
        poller.register(self.sender, select.POLLERR)
        assert poller.poll(5000), "the refusal never reached the sender"

    def close(self) -> None:
        for sock in (self.icmp, self.receiver, self.sender):
            sock.close()


@pytest.fixture
def slow() -> Iterator[SlowNetwork]:
    network = SlowNetwork()
    yield network
    network.close()


def test_refusals_slower_than_the_wait_fail_every_run_after_the_first(slow: SlowNetwork) -> None:
    refusals = Refusals()
    # UDP's limit: the first run after the receiver went away passes, its refusal still on
    # its way when the wait ends.
    assert refusals.send(slow.sender, [b"run 0"], canary=True) is None
    slow.refuse_last()
    results = []
    for n in range(1, 11):
        time.sleep(PACE)
        results.append(refusals.send(slow.sender, [b"run %d" % n], canary=True))
        slow.refuse_last()  # after the run's own wait ended without it
    # Not one run passes on its own quiet wait: each hears the refusal of the one before.
    assert results == ["Connection refused"] * 10
    # The receiver is back: nothing is refused any more.
    time.sleep(PACE)
    assert refusals.send(slow.sender, [b"run 11"], canary=True) == "Connection refused"
    assert slow.received() == b"run 11"
    time.sleep(PACE)
    assert refusals.send(slow.sender, [b"run 12"], canary=True) is None  # run 11's went quiet
    assert slow.received() == b"run 12"


def test_a_healthy_canary_passes_only_once_the_wait_went_quiet(slow: SlowNetwork) -> None:
    refusals = Refusals()
    started = time.monotonic()
    assert refusals.send(slow.sender, [b"line", b"canary"], canary=True) is None
    assert time.monotonic() - started >= REFUSAL_WAIT
    assert [slow.received(), slow.received()] == [b"line", b"canary"]


def test_a_send_that_raised_an_earlier_refusal_is_sent_again() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # Each refusal also queued with the datagram it answers, to see what went out.
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        sock.connect(("127.0.0.1", refused_port()))
        # On loopback each datagram is refused within its send, so each next send raises.
        error = Refusals().send(sock, [b"one", b"two", b"three"], canary=False)
        assert error == "Connection refused"
        refused = []
        while True:
            try:
                payload, *_ = sock.recvmsg(65536, 1024, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            refused.append(payload)
    assert refused == [b"one", b"two", b"three"]
