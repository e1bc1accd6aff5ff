"""Frozen settings and the parsing of their values (listen addresses, levels, durations)."""

from __future__ import annotations

import enum
import ipaddress
import logging
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from exporter.durations import parse_flag_seconds
from exporter.paths import OWN_PATHS, TELEMETRY

DEFAULT_MESSAGE = "PetSage systems are purring perfectly!"
HOST_NAME = re.compile(r"[A-Za-z0-9._-]*")
# A canary key file's key, after one trailing newline: 128 bits at least, and no more than a
# key file holds (HMAC hashes a longer key down anyway).
MIN_KEY_BYTES = 16
MAX_KEY_BYTES = 4096


class LogLevel(enum.Enum):
    """The levels ``--log.level`` accepts."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def number(self) -> int:
        """The ``logging`` module's number for this level."""
        return int(logging.getLevelName(self.name))


@dataclass(frozen=True)
class ListenAddress:
    """Where the HTTP server binds; ``host`` is None for all interfaces."""

    host: str | None
    port: int

    def __str__(self) -> str:
        if self.host is None:
            return f":{self.port}"
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class CanaryKey:
    """The key canaries are signed with, and the file it was read from; the key is never
    shown."""

    path: Path
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class Settings:
    """Everything the exporter is configured with, read once at start-up."""

    listen_address: ListenAddress = ListenAddress(None, 9707)
    telemetry_path: str = TELEMETRY
    log_level: LogLevel = LogLevel.INFO
    log_file: Path | None = None
    interval_seconds: float = 30.0
    timeout_seconds: float = 2.0
    message: str = DEFAULT_MESSAGE
    min_interval_seconds: float = 1.0
    access_log: bool = True
    access_log_per_second: float = 1000.0
    access_log_probes: bool = False  # log successful scrapes and probes too
    access_log_bytes_per_second: float = 200_000.0  # lines clients make; bursts of a fifth
    web_config_file: Path | None = None
    config_file: Path | None = None
    instance: str | None = None  # None: the host name
    canary_key: CanaryKey | None = None  # None: a key made at start-up
    max_requests: int = 40  # requests in flight at once; 0: no limit
    max_connections: int = 100  # connections open at once; 0: no limit
    openmetrics: bool = False  # answer OpenMetrics when a scrape asks for it
    slo_window_seconds: float = 30 * 86400.0  # the error budget's window, for the SLO rules


def parse_listen_address(text: str) -> ListenAddress:
    """Parse ``host:port``, ``:port`` or ``[v6]:port``; raise ValueError with the reason."""
    host, sep, port_text = text.rpartition(":")
    if not sep or text.endswith("]"):
        raise ValueError(f"{text!r} has no port: use host:port, :port or [v6]:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 host in brackets, as [::1]:9707")
    elif not HOST_NAME.fullmatch(host):
        raise ValueError(f"{text!r}: {host!r} is not a host name or IPv4 address")
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"{text!r}: port {port_text!r} is not a number")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"{text!r}: port {port} is out of range 0-65535")
    return ListenAddress(host or None, port)


def parse_path(text: str) -> Path:
    """A non-empty file path."""
    if not text:
        raise ValueError("the path is empty")
    return Path(text)


def parse_message(text: str) -> str:
    """A non-empty message."""
    if not text.strip():
        raise ValueError("the message is empty")
    return text


def parse_instance(text: str) -> str:
    """The instance a canary names: printable, with no spaces, at most 253 characters."""
    if not text or len(text) > 253 or not text.isprintable() or any(c.isspace() for c in text):
        raise ValueError(
            f"{text!r} is not an instance name: 1 to 253 printable characters, no spaces"
        )
    return text


def parse_canary_key_file(text: str) -> CanaryKey:
    """The key in a file: its bytes, one trailing newline dropped, 16 to 4096 of them. A path
    that holds no regular file is refused unopened (a fifo's open waits for a writer)."""
    path = parse_path(text)
    if "\0" in text:
        raise ValueError(f"{text!r} holds a NUL byte")
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ValueError(f"{text!r} is not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the stat
                raise ValueError(f"{text!r} is not a regular file")
            data = b""
            while len(data) <= MAX_KEY_BYTES and (chunk := os.read(fd, MAX_KEY_BYTES + 2)):
                data += chunk
        finally:
            os.close(fd)
    except OSError as error:
        raise ValueError(f"cannot read {text!r}: {error.strerror or error}") from None
    key = data.removesuffix(b"\n")
    if not key:
        raise ValueError(f"{text!r} is empty")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{text!r} holds {len(key)} bytes: a key is {MIN_KEY_BYTES} at least")
    if len(key) > MAX_KEY_BYTES:
        raise ValueError(f"{text!r} holds over {MAX_KEY_BYTES} bytes: not a key file")
    return CanaryKey(path, key)


def parse_bool(text: str) -> bool:
    """true/false, on/off, yes/no, 1/0."""
    value = text.strip().lower()
    if value in {"true", "on", "yes", "1"}:
        return True
    if value in {"false", "off", "no", "0"}:
        return False
    raise ValueError(f"{text!r} is not true or false")


def parse_count(text: str) -> int:
    """A whole number, 0 or more."""
    value = text.strip()
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"{text!r} is not a whole number, 0 or more")
    return int(value)


def parse_rate(text: str) -> float:
    """A finite number above 0: so many a second."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text!r} must be a finite number above 0")
    return value


def parse_log_level(text: str) -> LogLevel:
    """Parse a level name, case-insensitively."""
    try:
        return LogLevel(text.strip().lower())
    except ValueError:
        names = ", ".join(level.value for level in LogLevel)
        raise ValueError(f"{text!r} is not a level: use one of {names}") from None


def parse_seconds(text: str, *, allow_zero: bool) -> float:
    """A flag's length of time: a Prometheus duration (``30s``, ``500ms``) or a bare number of
    seconds, not negative (above 0 unless ``allow_zero``)."""
    value = parse_flag_seconds(text)
    if value == 0 and not allow_zero:
        raise ValueError(f"{text!r} must be more than 0 seconds")
    return value


def parse_telemetry_path(text: str) -> str:
    """Accept an absolute URL path that does not shadow the exporter's own routes."""
    if not text.startswith("/") or any(c in text for c in "?#{} \t\r\n"):
        raise ValueError(f"{text!r} must be an absolute URL path such as /metrics")
    if text in OWN_PATHS:
        raise ValueError(f"{text!r} is already one of the exporter's own endpoints")
    return text
