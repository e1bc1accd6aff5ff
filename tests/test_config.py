"""Tests of exporter/config.py: Settings defaults and the parsing of every setting's text."""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from exporter.config import (
    DEFAULT_MESSAGE,
    CanaryKey,
    ListenAddress,
    LogLevel,
    Settings,
    parse_canary_key_file,
    parse_listen_address,
    parse_log_level,
    parse_message,
    parse_path,
    parse_seconds,
    parse_telemetry_path,
)
from exporter.web.routes import route_table


def exactly(message: str) -> str:
    """A ``match`` pattern that accepts this message and nothing longer or shorter."""
    return rf"\A{re.escape(message)}\Z"


# --- parse_listen_address -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9100", ListenAddress("127.0.0.1", 9100)),
        ("0.0.0.0:9707", ListenAddress("0.0.0.0", 9707)),
        (":9707", ListenAddress(None, 9707)),
        (":0", ListenAddress(None, 0)),
        (":65535", ListenAddress(None, 65535)),
        ("[::1]:9707", ListenAddress("::1", 9707)),
        ("[::]:80", ListenAddress("::", 80)),
        ("[2001:db8::7]:443", ListenAddress("2001:db8::7", 443)),
        ("localhost:8080", ListenAddress("localhost", 8080)),
        ("exporter.example.com:9707", ListenAddress("exporter.example.com", 9707)),
    ],
)
def test_listen_address_parses_host_and_port(text: str, expected: ListenAddress) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("localhost", "'localhost' has no port: use host:port, :port or [v6]:port"),
        ("9707", "'9707' has no port: use host:port, :port or [v6]:port"),
        ("", "'' has no port: use host:port, :port or [v6]:port"),
        ("localhost:", "'localhost:': port '' is not a number"),
        ("localhost:http", "'localhost:http': port 'http' is not a number"),
        ("localhost:-1", "'localhost:-1': port '-1' is not a number"),
        ("localhost:80.5", "'localhost:80.5': port '80.5' is not a number"),
        (":65536", "':65536': port 65536 is out of range 0-65535"),
        ("localhost:99999", "'localhost:99999': port 99999 is out of range 0-65535"),
        ("::1:9707", "'::1:9707': write an IPv6 host in brackets, as [::1]:9707"),
        ("2001:db8::7:443", "'2001:db8::7:443': write an IPv6 host in brackets, as [::1]:9707"),
        ("[::g]:9707", "'[::g]:9707': '::g' is not an IPv6 address"),
        ("[127.0.0.1]:80", "'[127.0.0.1]:80': '127.0.0.1' is not an IPv6 address"),
        ("[localhost]:80", "'[localhost]:80': 'localhost' is not an IPv6 address"),
        ("[]:9707", "'[]:9707': '' is not an IPv6 address"),
        ("[::1]", "'[::1]' has no port: use host:port, :port or [v6]:port"),
        ("a b:80", "'a b:80': 'a b' is not a host name or IPv4 address"),
        ("[foo:80", "'[foo:80': '[foo' is not a host name or IPv4 address"),
        ("foo]:80", "'foo]:80': 'foo]' is not a host name or IPv4 address"),
    ],
)
def test_listen_address_rejects_bad_text_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=exactly(message)):
        parse_listen_address(text)


@pytest.mark.parametrize("port", ["٩٧", "²"])
def test_listen_address_rejects_non_ascii_digits_as_port(port: str) -> None:
    with pytest.raises(
        ValueError, match=exactly(f"'localhost:{port}': port {port!r} is not a number")
    ):
        parse_listen_address(f"localhost:{port}")


@pytest.mark.parametrize(
    "text",
    [":9707", ":0", "127.0.0.1:9100", "localhost:8080", "[::1]:9707", "[2001:db8::7]:443"],
)
def test_listen_address_str_round_trips_through_parsing(text: str) -> None:
    address = parse_listen_address(text)
    assert str(address) == text
    assert parse_listen_address(str(address)) == address


@pytest.mark.parametrize(
    ("address", "text"),
    [
        (ListenAddress(None, 9707), ":9707"),
        (ListenAddress("0.0.0.0", 9707), "0.0.0.0:9707"),
        (ListenAddress("::1", 9707), "[::1]:9707"),
        (ListenAddress("example.com", 80), "example.com:80"),
    ],
)
def test_listen_address_str_brackets_only_ipv6_hosts(address: ListenAddress, text: str) -> None:
    assert str(address) == text


# --- parse_log_level ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("debug", LogLevel.DEBUG),
        ("info", LogLevel.INFO),
        ("warning", LogLevel.WARNING),
        ("error", LogLevel.ERROR),
        ("DEBUG", LogLevel.DEBUG),
        ("Info", LogLevel.INFO),
        ("WaRnInG", LogLevel.WARNING),
        (" error\n", LogLevel.ERROR),
    ],
)
def test_log_level_is_parsed_case_insensitively_ignoring_outer_space(
    text: str, expected: LogLevel
) -> None:
    assert parse_log_level(text) is expected


@pytest.mark.parametrize("text", ["verbose", "warn", "critical", "", "20"])
def test_unknown_log_level_lists_the_accepted_ones(text: str) -> None:
    with pytest.raises(
        ValueError,
        match=exactly(f"{text!r} is not a level: use one of debug, info, warning, error"),
    ):
        parse_log_level(text)


@pytest.mark.parametrize(
    ("level", "number"),
    [
        (LogLevel.DEBUG, logging.DEBUG),
        (LogLevel.INFO, logging.INFO),
        (LogLevel.WARNING, logging.WARNING),
        (LogLevel.ERROR, logging.ERROR),
    ],
)
def test_log_level_number_is_the_logging_modules_number(level: LogLevel, number: int) -> None:
    assert level.number == number


# --- parse_seconds --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.5", 0.5), ("2", 2.0), ("30", 30.0), ("1e3", 1000.0), (" 7 ", 7.0), ("0.001", 0.001)],
)
@pytest.mark.parametrize("allow_zero", [True, False])
def test_seconds_parses_positive_numbers(text: str, expected: float, allow_zero: bool) -> None:
    assert parse_seconds(text, allow_zero=allow_zero) == expected


@pytest.mark.parametrize("text", ["0", "0.0", "0e5"])
def test_seconds_accepts_zero_when_allowed(text: str) -> None:
    assert parse_seconds(text, allow_zero=True) == 0.0


@pytest.mark.parametrize("text", ["0", "0.0", "0e5"])
def test_seconds_rejects_zero_when_not_allowed(text: str) -> None:
    with pytest.raises(ValueError, match=exactly(f"{text!r} must be more than 0 seconds")):
        parse_seconds(text, allow_zero=False)


@pytest.mark.parametrize("text", ["-1", "-0.5", "-inf", "nan", "NaN", "inf", "+inf", "1e400"])
@pytest.mark.parametrize("allow_zero", [True, False])
def test_seconds_rejects_negative_and_non_finite_numbers(text: str, allow_zero: bool) -> None:
    with pytest.raises(
        ValueError, match=exactly(f"{text!r} must be a finite number of seconds, not negative")
    ):
        parse_seconds(text, allow_zero=allow_zero)


@pytest.mark.parametrize(
    ("text", "expected"), [("5s", 5.0), ("500ms", 0.5), ("1m", 60.0), ("1h30m", 5400.0)]
)
@pytest.mark.parametrize("allow_zero", [True, False])
def test_seconds_parses_prometheus_durations(text: str, expected: float, allow_zero: bool) -> None:
    assert parse_seconds(text, allow_zero=allow_zero) == expected


def test_seconds_rejects_a_zero_duration_when_not_allowed() -> None:
    assert parse_seconds("0s", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=exactly("'0s' must be more than 0 seconds")):
        parse_seconds("0s", allow_zero=False)


@pytest.mark.parametrize("text", ["", "soon", "5 s", "1.5s", "1,5", "0x10", "-5s"])
@pytest.mark.parametrize("allow_zero", [True, False])
def test_seconds_rejects_text_that_is_neither(text: str, allow_zero: bool) -> None:
    message = (
        f"{text!r} is not a duration: write it as 500ms, 2s, 1m or 1h30m, or a number of seconds"
    )
    with pytest.raises(ValueError, match=exactly(message)):
        parse_seconds(text, allow_zero=allow_zero)


# --- parse_telemetry_path -------------------------------------------------------------------


@pytest.mark.parametrize("text", ["/metrics", "/probe/metrics", "/metrics/", "/-/metrics"])
def test_telemetry_path_accepts_absolute_paths(text: str) -> None:
    assert parse_telemetry_path(text) == text


@pytest.mark.parametrize(
    "text",
    ["metrics", "", "http://host/metrics", "/met rics", "/metrics?x=1", "/metrics#top", "/{x}"],
)
def test_telemetry_path_must_be_an_absolute_url_path(text: str) -> None:
    with pytest.raises(
        ValueError, match=exactly(f"{text!r} must be an absolute URL path such as /metrics")
    ):
        parse_telemetry_path(text)


@pytest.mark.parametrize(
    "text",
    [
        "/",
        "/smoke-test",
        "/health/smoke-test",
        "/smoke-test/history",
        "/-/healthy",
        "/-/ready",
        "/-/reload",
        "/openapi.json",
    ],
)
def test_telemetry_path_rejects_the_exporters_own_endpoints(text: str) -> None:
    with pytest.raises(
        ValueError, match=exactly(f"{text!r} is already one of the exporter's own endpoints")
    ):
        parse_telemetry_path(text)


def test_every_route_but_metrics_is_refused_as_the_telemetry_path() -> None:
    for route in route_table("/metrics"):
        if route.name != "metrics":
            with pytest.raises(ValueError, match="already one of the exporter's own endpoints"):
                parse_telemetry_path(route.path)


# --- Settings -------------------------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = Settings()
    assert settings.listen_address == ListenAddress(None, 9707)
    assert str(settings.listen_address) == ":9707"
    assert settings.telemetry_path == "/metrics"
    assert settings.log_level is LogLevel.INFO
    assert settings.log_file is None
    assert settings.interval_seconds == 30.0
    assert settings.timeout_seconds == 2.0
    assert settings.message == "PetSage systems are purring perfectly!"
    assert DEFAULT_MESSAGE == "PetSage systems are purring perfectly!"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'message'"):
        settings.message = "changed"  # type: ignore[misc]
    assert settings.message == DEFAULT_MESSAGE


def test_path_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match=exactly("the path is empty")):
        parse_path("")
    assert parse_path("/var/log/x.log") == Path("/var/log/x.log")


@pytest.mark.parametrize("text", ["", "   "])
def test_message_must_not_be_blank(text: str) -> None:
    with pytest.raises(ValueError, match=exactly("the message is empty")):
        parse_message(text)


# --- parse_canary_key_file ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (b"k" * 16, b"k" * 16),
        (b"k" * 16 + b"\n", b"k" * 16),  # echo's newline
        (b"k" * 16 + b"\n\n", b"k" * 16 + b"\n"),  # one newline only
        (b" \x00\xff" * 6, b" \x00\xff" * 6),  # any bytes: openssl rand 32 > key
        (b"k" * 4096 + b"\n", b"k" * 4096),
    ],
    ids=["16-bytes", "a-newline", "two-newlines", "binary", "4096-bytes"],
)
def test_a_canary_key_file_is_its_bytes_less_one_trailing_newline(
    tmp_path: Path, content: bytes, key: bytes
) -> None:
    path = tmp_path / "canary.key"
    path.write_bytes(content)
    assert parse_canary_key_file(str(path)) == CanaryKey(path, key)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "is empty"),
        (b"\n", "is empty"),
        (b"k" * 15 + b"\n", "holds 15 bytes: a key is 16 at least"),
        (b"k" * 4097, "holds over 4096 bytes: not a key file"),
        (b"k" * 100_000, "holds over 4096 bytes: not a key file"),
    ],
    ids=["empty", "a-newline", "15-bytes", "4097-bytes", "100-kB"],
)
def test_a_canary_key_file_too_short_or_too_long_is_refused(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "canary.key"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=exactly(f"{str(path)!r} {why}")):
        parse_canary_key_file(str(path))


def test_a_canary_key_path_with_no_regular_file_is_refused_unopened(tmp_path: Path) -> None:
    fifo, sock = tmp_path / "fifo", tmp_path / "sock"
    os.mkfifo(fifo)  # opened to read, it would wait for a writer
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
        for path in (fifo, sock, tmp_path, Path("/dev/zero")):
            with pytest.raises(ValueError, match=exactly(f"{str(path)!r} is not a regular file")):
                parse_canary_key_file(str(path))
    missing = tmp_path / "missing.key"
    with pytest.raises(
        ValueError, match=exactly(f"cannot read {str(missing)!r}: No such file or directory")
    ):
        parse_canary_key_file(str(missing))
    with pytest.raises(ValueError, match=exactly("'/etc/\\x00key' holds a NUL byte")):
        parse_canary_key_file("/etc/\0key")
    with pytest.raises(ValueError, match=exactly("the path is empty")):
        parse_canary_key_file("")


def test_a_canary_key_file_that_cannot_be_read_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "secrets").write_bytes(b"k" * 32)
    path = tmp_path / "secrets" / "canary.key"  # a file where a directory should be
    with pytest.raises(ValueError, match=exactly(f"cannot read {str(path)!r}: Not a directory")):
        parse_canary_key_file(str(path))
