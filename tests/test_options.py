"""Tests of exporter/options.py: each option type read from YAML values, and each refusal."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.durations import parse_duration
from exporter.options import OptionError, Seconds, load_options


class Method(enum.Enum):
    GET = "GET"
    HEAD = "HEAD"


@dataclass(frozen=True)
class Tls:
    ca_file: Path | None = None
    insecure: bool = False


@dataclass(frozen=True)
class Every:
    url: str
    retries: int = 3
    ratio: float = 0.5
    method: Method = Method.GET
    warn_after: Seconds | None = None
    codes: tuple[int, ...] = (200,)
    headers: dict[str, str] = field(default_factory=dict)
    tls: Tls = Tls()
    file: Path | None = None


def load(data: dict[str, Any], directory: Path = Path("/etc/st")) -> Every:
    return load_options(Every, data, "checks[0]", directory, ("name", "type"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("1m", 60.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1y", 31536000.0),
        ("1m1ms", 60.001),
        ("0s", 0.0),
    ],
)
def test_durations_are_prometheus_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "2", "1.5s", "s", "2S", "-1s", "1s1m", "2 s", "1h 30m"])
def test_other_texts_are_not_durations(text: str) -> None:
    message = f"{text!r} is not a duration: write it as 500ms, 2s, 1m or 1h30m"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_duration(text)


def test_defaults_fill_what_is_not_given() -> None:
    assert load({"url": "http://x/"}) == Every("http://x/")


def test_every_type_is_read() -> None:
    every = load(
        {
            "url": "http://x/",
            "retries": 5,
            "ratio": 1,
            "method": "HEAD",
            "warn_after": "250ms",
            "codes": [200, 204],
            "headers": {"X-A": "b"},
            "tls": {"ca_file": "ca.pem", "insecure": True},
            "file": "/abs/../log",
        }
    )
    assert every == Every(
        "http://x/",
        5,
        1.0,
        Method.HEAD,
        Seconds(0.25),
        (200, 204),
        {"X-A": "b"},
        Tls(Path("/etc/st/ca.pem"), True),
        Path("/log"),
    )
    assert isinstance(every.ratio, float)


def test_null_is_taken_where_the_type_allows_it() -> None:
    assert load({"url": "u", "warn_after": None}).warn_after is None


@pytest.mark.parametrize(
    ("data", "key", "problem"),
    [
        ({}, "checks[0].url", "missing: this key is required"),
        (
            {"url": "u", "urls": 1},
            "checks[0].urls",
            "unknown key (known: name, type, url, "
            "retries, ratio, method, warn_after, codes, headers, tls, file)",
        ),
        ({"url": 3}, "checks[0].url", "must be a string, not a number"),
        ({"url": None}, "checks[0].url", "must be a string, not null"),
        (
            {"url": "u", "retries": True},
            "checks[0].retries",
            "must be a whole number, not true/false",
        ),
        ({"url": "u", "retries": 1.5}, "checks[0].retries", "must be a whole number, not a number"),
        ({"url": "u", "ratio": "x"}, "checks[0].ratio", "must be a number, not a string"),
        (
            {"url": "u", "ratio": float("inf")},
            "checks[0].ratio",
            "must be a finite number, not inf",
        ),
        ({"url": "u", "method": "PUT"}, "checks[0].method", "'PUT' is not one of GET, HEAD"),
        (
            {"url": "u", "warn_after": "soon"},
            "checks[0].warn_after",
            "'soon' is not a duration: write it as 500ms, 2s, 1m or 1h30m",
        ),
        ({"url": "u", "warn_after": "0ms"}, "checks[0].warn_after", "'0ms' must be more than 0"),
        ({"url": "u", "codes": 200}, "checks[0].codes", "must be a list, not a number"),
        (
            {"url": "u", "codes": [200, "2xx"]},
            "checks[0].codes[1]",
            "must be a whole number, not a string",
        ),
        ({"url": "u", "headers": ["a"]}, "checks[0].headers", "must be a mapping, not a list"),
        (
            {"url": "u", "headers": {"A": 1}},
            "checks[0].headers.A",
            "must be a string, not a number",
        ),
        ({"url": "u", "tls": True}, "checks[0].tls", "must be a mapping, not true/false"),
        (
            {"url": "u", "tls": {"insecure": "yes"}},
            "checks[0].tls.insecure",
            "must be true or false, not a string",
        ),
        (
            {"url": "u", "tls": {"ca": "x"}},
            "checks[0].tls.ca",
            "unknown key (known: ca_file, insecure)",
        ),
    ],
)
def test_each_refusal_names_the_key_path(data: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(OptionError) as caught:
        load(data)
    assert (caught.value.key, caught.value.problem) == (key, problem)
    assert str(caught.value) == f"{key}: {problem}"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("10", "10 has no unit: write a duration such as 10s or 500ms"),
        ("2.5", "2.5 has no unit: write a duration such as 2500ms"),
        ("10.0", "10.0 has no unit: write a duration such as 10s or 500ms"),
        ("-1", "-1 has no unit: write a duration such as 2s or 500ms"),
        (".inf", "inf has no unit: write a duration such as 2s or 500ms"),
    ],
)
def test_a_bare_number_for_a_duration_says_how_to_write_it(value: str, problem: str) -> None:
    @dataclass(frozen=True)
    class Waits:
        max_delay: Seconds

    with pytest.raises(OptionError) as raised:
        load_options(Waits, yaml.safe_load(f"max_delay: {value}"), "checks[0]", Path("."))
    assert str(raised.value) == f"checks[0].max_delay: {problem}"
