"""The syslog sink's socket: opened when needed, backed off after a failed connect, and, over
UDP, watched for the refusals that are all a datagram can tell."""

from __future__ import annotations

import errno
import os
import select
import socket
import time
from collections.abc import Callable, Sequence

# After a failed connect, ordinary lines wait this long before the next try, doubling up to the
# most. A batch with a canary never waits: a run must see the server as it is now.
BACKOFF_FIRST = 0.5
BACKOFF_MOST = 30.0
# How long a healthy UDP sink's canary listens for a refusal; nothing but a refusal ends that
# wait early, so every such canary costs it. On loopback the kernel answers within the send
# call itself (SO_ERROR was set right after it for 2 000 sends of 2 000, and 10 000 of 10 000
# beside stress-ng --cpu 2). Across a network the answer takes one round trip to the
# receiver's host, or to the router that answers for it: on a path slower than this, the
# first run after the receiver went away passes, and the next run hears the refusal.
REFUSAL_WAIT = 0.2
# What an ICMP error sets on a connected UDP socket (Linux's icmp_err_convert), which then
# fails the next send instead of sending it: an answer to an earlier datagram.
UNREACHABLE = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH})


class Connection:
    """One socket to the syslog server, opened by ``open_socket`` when first needed.

    After a failed connect, ordinary lines try again only once the backoff is over; a batch
    with a canary tries at once, so its run fails with the cause of now, and the first run
    after the server is back passes. Its failed try still advances the backoff."""

    def __init__(self, address: str, open_socket: Callable[[], socket.socket]) -> None:
        self._address = address
        self._open = open_socket
        self._socket: socket.socket | None = None
        self._retry_at = 0.0  # monotonic
        self._backoff = BACKOFF_FIRST
        self._last_error = ""

    def get(self, *, canary: bool) -> socket.socket:
        """The open socket, or a new one; OSError saying why there is none."""
        sock = self._socket
        if sock is not None and sock.type == socket.SOCK_STREAM and _peer_closed(sock):
            self.close()
        if self._socket is not None:
            return self._socket
        now = time.monotonic()
        if now < self._retry_at and not canary:
            raise OSError(
                f"{self._last_error}; next connect to {self._address} in "
                f"{self._retry_at - now:.1f}s"
            )
        try:
            self._socket = self._open()
        except OSError as error:
            self._last_error = f"cannot connect to {self._address}: {error.strerror or error}"
            self._retry_at = now + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MOST)
            raise OSError(self._last_error) from None
        self._retry_at = 0.0
        self._backoff = BACKOFF_FIRST
        return self._socket

    def close(self) -> None:
        """Close the socket; the next batch opens a new one."""
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()


def _peer_closed(sock: socket.socket) -> bool:
    """True when the server has closed the stream: a write now would seem to succeed, and be
    lost."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class Refusals:
    """Sends datagrams on a connected UDP socket, and judges them by the one thing UDP says.

    UDP never confirms a delivery. A closed port answers with an ICMP "port unreachable",
    which Linux keeps as the socket's one pending error: SO_ERROR reads and clears it, and
    until then the next send raises it instead of sending. So a refusal always answers an
    earlier datagram, and a sink that only looked at its sends failed one run and passed the
    next while nothing received. Instead:

    - a batch first reads the pending error, and sends a datagram again once when a send raised
      only an earlier one's refusal;
    - any refusal makes the sink *failing*; a failing sink's canaries fail at once with the
      last error;
    - a healthy sink's canary waits up to REFUSAL_WAIT after its batch, woken at once by a
      refusal (poll for POLLERR), and passes only if none came;
    - a failing sink is healthy again only when a datagram sent while failing has gone
      REFUSAL_WAIT with no error, as the check at the start of a *later* batch shows. A
      canary's own wait never clears a failure: where refusals come back slower than
      REFUSAL_WAIT, every run would then pass on its own quiet wait while its refusal landed
      in the next run, the flapping this replaces; the next batch hears it in any case.

    The limits: a pass means only that no refusal came back. A receiver that is up but drops,
    a firewall that drops silently, a lost datagram, or a refusal slower than REFUSAL_WAIT for
    the first run after the receiver went away all pass.
    """

    def __init__(self) -> None:
        self._failure: str | None = None  # the last error, until a datagram is confirmed
        self._sent_at: float | None = None  # when the first datagram sent while failing left

    def send(self, sock: socket.socket, frames: Sequence[bytes], *, canary: bool) -> str | None:
        """Send each frame as one datagram; the error the batch fails with, or None."""
        heard = self._earlier(sock)
        for frame in frames:
            try:
                heard = self._send(sock, frame) or heard
            except TimeoutError:
                raise  # the sink's own: reason timeout
            except OSError as error:
                return error.strerror or str(error)
        if canary and self._failure is None:
            self._wait(sock)
        return self._failure if canary else heard

    def _earlier(self, sock: socket.socket) -> str | None:
        """The error pending for an earlier datagram, if any. Without one, a failing sink whose
        first datagram since the failure left REFUSAL_WAIT ago is healthy again."""
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            return self._fail(os.strerror(code))
        if self._sent_at is not None and time.monotonic() - self._sent_at >= REFUSAL_WAIT:
            self._failure = self._sent_at = None
        return None

    def _send(self, sock: socket.socket, frame: bytes) -> str | None:
        """One datagram, sent again once if the send raised an earlier datagram's refusal (it
        did not go then); that refusal, if any. OSError when the datagram cannot go."""
        heard = None
        try:
            sock.send(frame)
        except OSError as error:
            if error.errno not in UNREACHABLE:
                raise
            heard = self._fail(error.strerror or str(error))
            try:
                sock.send(frame)
            except OSError as again:
                if again.errno in UNREACHABLE:
                    self._fail(again.strerror or str(again))
                raise
        if self._failure is not None and self._sent_at is None:
            self._sent_at = time.monotonic()
        return heard

    def _wait(self, sock: socket.socket) -> None:
        """Fail on a refusal that arrives within REFUSAL_WAIT."""
        poller = select.poll()
        poller.register(sock, select.POLLERR)
        poller.poll(REFUSAL_WAIT * 1000)  # ends at once when an error lands
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._fail(os.strerror(code))

    def _fail(self, error: str) -> str:
        """The sink is failing with ``error``; datagrams sent before it prove nothing."""
        self._failure = error
        self._sent_at = None
        return error
