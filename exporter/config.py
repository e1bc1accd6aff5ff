"""Frozen settings and the parsing of their values (listen addresses, levels, durations)."""

from __future__ import annotations

import enum
import ipaddress
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

from exporter.paths import OWN_PATHS, TELEMETRY

DEFAULT_MESSAGE = "PetSage systems are purring perfectly!"
HOST_NAME = re.compile(r"[A-Za-z0-9._-]*")


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
    max_requests: int = 40  # requests in flight at once; 0: no limit
    max_connections: int = 100  # connections open at once; 0: no limit
    openmetrics: bool = False  # answer OpenMetrics when a scrape asks for it


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
    """Parse a finite, non-negative number of seconds (positive unless ``allow_zero``)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} must be a finite number of seconds, not negative")
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
