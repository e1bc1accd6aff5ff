"""The ``syslog`` sink: each line as one syslog message (RFC 5424 or 3164) over UDP, TCP or a
Unix socket; its socket, backoff and UDP refusals are in ``syslog_socket``."""

from __future__ import annotations

import enum
import errno
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from exporter.config import parse_listen_address
from exporter.options import Invalid
from exporter.sinks.base import (
    OK,
    Batch,
    Line,
    Reason,
    Sink,
    SinkDeps,
    SinkOutcome,
    SinkType,
    timed_out,
)
from exporter.sinks.series import SinkSeries
from exporter.sinks.syslog_socket import Connection, Refusals

CONNECT_TIMEOUT = 2.0
SEND_TIMEOUT = 5.0
# RFC 5424 section 6.2.5: APP-NAME is 1 to 48 printable US-ASCII characters.
APP_NAME_MOST = 48
# RFC 5424 section 6.2.1: codes 0 to 11, then local0 to local7 (16 to 23).
CODED: tuple[str, ...] = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news")
CODED += ("uucp", "cron", "authpriv", "ftp")
FACILITIES = {name: number for number, name in enumerate(CODED)} | {
    f"local{i}": 16 + i for i in range(8)
}


class Transport(enum.Enum):
    """How messages travel."""

    UDP = "udp"
    TCP = "tcp"
    UNIX = "unix"  # a datagram socket such as /dev/log, or a stream socket


class Format(enum.Enum):
    """The header each message gets."""

    RFC5424 = "rfc5424"
    RFC3164 = "rfc3164"


class Framing(enum.Enum):
    """How messages are told apart on a stream (RFC 6587)."""

    OCTET_COUNTING = "octet-counting"
    LF = "lf"


@dataclass(frozen=True)
class SyslogOptions:
    """``type: syslog``: where to send, how, and the header's facility and app name."""

    address: str
    protocol: Transport = Transport.UDP
    format: Format = Format.RFC5424
    framing: Framing = Framing.OCTET_COUNTING
    facility: str = "local0"
    app_name: str = "smoke-test-exporter"

    def __post_init__(self) -> None:
        if self.protocol is Transport.UNIX:
            if not os.path.isabs(self.address):
                raise Invalid("address", f"{self.address!r} is not an absolute socket path")
        else:
            try:
                where = parse_listen_address(self.address)
            except ValueError as error:
                raise Invalid("address", str(error)) from None
            if where.host is None or where.port == 0:
                raise Invalid("address", f"{self.address!r} needs a host and a port")
        if self.facility not in FACILITIES:
            raise Invalid("facility", f"{self.facility!r} is not one of {', '.join(FACILITIES)}")
        name = self.app_name
        if not 1 <= len(name) <= APP_NAME_MOST or not all(33 <= ord(c) <= 126 for c in name):
            raise Invalid("app_name", f"{name!r} is not 1 to 48 printable ASCII characters")


def severity(level: int) -> int:
    """The syslog severity of a logging level: critical 2 ... debug 7."""
    if level >= logging.CRITICAL:
        return 2
    if level >= logging.ERROR:
        return 3
    if level >= logging.WARNING:
        return 4
    if level >= logging.INFO:
        return 6
    return 7


class SyslogSink(Sink):
    """Sends each batch's lines as syslog messages. A stream write finished, or a datagram
    sent with no refusal heard (see ``Refusals``: UDP proves no delivery), confirms a canary;
    a canary always tries a closed connection again. Nothing is sent twice, so a reconnect
    makes no duplicate."""

    def __init__(self, name: str, options: SyslogOptions, host: str, series: SinkSeries) -> None:
        super().__init__(name, series)
        self._o = options
        self._host = host or "-"
        self._pid = os.getpid()
        self._facility = FACILITIES[options.facility]
        self._stream = options.protocol is Transport.TCP  # a unix socket's kind is known later
        self._connection = Connection(options.address, self._connect)
        self._refusals = Refusals()

    def frame(self, line: Line) -> bytes:
        """One line as the bytes sent: header, message, and framing on a stream."""
        pri = self._facility * 8 + severity(line.level)
        if self._o.format is Format.RFC5424:
            stamp = datetime.fromtimestamp(line.created, UTC).isoformat(timespec="microseconds")
            header = f"<{pri}>1 {stamp.replace('+00:00', 'Z')} {self._host} "
            header += f"{self._o.app_name} {self._pid} - - "
        else:
            local = time.localtime(line.created)
            day = f"{local.tm_mday:2d}"  # RFC 3164: "Dec  3", the day padded with a space
            stamp = time.strftime(f"%b {day} %H:%M:%S", local)
            header = f"<{pri}>{stamp} {self._host} {self._o.app_name}[{self._pid}]: "
        message = (header + line.text).encode("utf-8", "backslashreplace")
        if not self._stream:
            return message
        if self._o.framing is Framing.LF:
            return message + b"\n"
        return b"%d %s" % (len(message), message)

    def deliver(self, batch: Batch) -> SinkOutcome:
        canary = any(line.delivery is not None for line in batch.lines)
        try:
            sock = self._connection.get(canary=canary)
        except OSError as error:
            return SinkOutcome(False, Reason.OPEN, error.strerror or str(error))
        self._stream = sock.type == socket.SOCK_STREAM
        frames = [self.frame(line) for line in batch.lines]
        try:
            if self._o.protocol is Transport.UDP:
                refused = self._refusals.send(sock, frames, canary=canary)
                return OK if refused is None else SinkOutcome(False, Reason.WRITE, refused)
            if self._stream:
                sock.sendall(b"".join(frames))
            else:
                for frame in frames:
                    sock.send(frame)
        except TimeoutError:
            self.close()  # part of a message may be out: the stream is no longer framed
            return timed_out(f"send took over {SEND_TIMEOUT:g}s")
        except OSError as error:
            self.close()  # a unix datagram socket whose server went away must connect anew
            return SinkOutcome(False, Reason.WRITE, error.strerror or str(error))
        return OK

    def _connect(self) -> socket.socket:
        o = self._o
        if o.protocol is Transport.UNIX:
            return self._connect_unix()
        where = parse_listen_address(o.address)
        kind = socket.SOCK_STREAM if o.protocol is Transport.TCP else socket.SOCK_DGRAM
        info = socket.getaddrinfo(where.host, where.port, type=kind)[0]
        sock = socket.socket(info[0], kind)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(info[4])
            sock.settimeout(SEND_TIMEOUT)
        except OSError:
            sock.close()
            raise
        return sock

    def _connect_unix(self) -> socket.socket:
        """A datagram socket (as /dev/log is), else a stream one (as logging's SysLogHandler
        tries them)."""
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            sock = socket.socket(socket.AF_UNIX, kind)
            try:
                sock.settimeout(SEND_TIMEOUT)
                sock.connect(self._o.address)
            except OSError as error:
                sock.close()
                if error.errno == errno.EPROTOTYPE and kind is socket.SOCK_DGRAM:
                    continue
                raise
            return sock
        raise OSError(f"{self._o.address} takes neither datagrams nor a stream")

    def close(self) -> None:
        self._connection.close()


def build(name: str, options: SyslogOptions, deps: SinkDeps) -> Sink:
    """A syslog sink; its header names this host."""
    return SyslogSink(name, options, socket.gethostname(), deps.series)


TYPE = SinkType(
    SyslogOptions,
    build,
    "a syslog server over udp, tcp or a unix socket, RFC 5424 or 3164",
)
