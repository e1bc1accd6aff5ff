"""One syntax for a length of time: a Prometheus duration everywhere, and a bare number of
seconds for a flag too."""

from __future__ import annotations

import re

import pytest

from exporter.cli import parse_settings
from exporter.durations import parse_flag_seconds
from exporter.flags import OPTIONS

NOT_A_DURATION = "is not a duration: write it as 500ms, 2s, 1m or 1h30m, or a number of seconds"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30.0),
        ("0.5", 0.5),
        ("0", 0.0),
        ("30s", 30.0),
        ("500ms", 0.5),
        ("1m", 60.0),
        ("1h30m", 5400.0),
        ("0s", 0.0),
        ("1y", 365 * 86400.0),
    ],
)
def test_a_flag_takes_a_duration_or_a_number_of_seconds(text: str, seconds: float) -> None:
    assert parse_flag_seconds(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", f"'soon' {NOT_A_DURATION}"),
        ("", f"'' {NOT_A_DURATION}"),
        ("1.5s", f"'1.5s' {NOT_A_DURATION}"),
        ("-1s", f"'-1s' {NOT_A_DURATION}"),
        ("-1", "'-1' must be a finite number of seconds, not negative"),
        ("nan", "'nan' must be a finite number of seconds, not negative"),
        ("inf", "'inf' must be a finite number of seconds, not negative"),
        ("1y1s", "'1y1s' is longer than a year"),
        ("31536001", "'31536001' is longer than a year"),
    ],
)
def test_a_bad_flag_duration_says_how_to_write_one(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=rf"\A{re.escape(message)}\Z"):
        parse_flag_seconds(text)


def test_the_issue_s_flag_and_its_variable_take_durations() -> None:
    settings = parse_settings(
        ["--smoke-test.interval", "30s", "--smoke-test.min-interval=500ms"],
        {"SMOKE_TEST_EXPORTER_SMOKE_TEST_TIMEOUT": "1m"},
    )
    assert (
        settings.interval_seconds,
        settings.min_interval_seconds,
        settings.timeout_seconds,
    ) == (30.0, 0.5, 60.0)


def test_every_time_flag_says_it_takes_a_duration_in_help() -> None:
    seconds = {"interval_seconds", "timeout_seconds", "min_interval_seconds"}
    helps = {option.field: option.help for option in OPTIONS if option.field in seconds}
    assert set(helps) == seconds
    for field, text in helps.items():
        assert "a duration (" in text, field
        assert "or a number of seconds" in text, field
