"""Durations as Prometheus writes them (500ms, 30s, 1m, 1h30m), the one syntax of every flag
and key that takes a length of time; a flag also takes a bare number of seconds."""

from __future__ import annotations

import math
import re
import reprlib

DURATION = re.compile(r"((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?")
DURATION_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
# The longest duration taken: beyond it a value is a typo (or an overflow waiting).
MAX_DURATION_SECONDS = 365 * 86400
EXAMPLES = "500ms, 2s, 1m or 1h30m"


def quoted(text: str) -> str:
    """``text``'s repr, cut short: an error never quotes a long value whole."""
    short = reprlib.Repr()
    short.maxstring = 100
    return short.repr(text)


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as 500ms, 2s or 1h30m, at most a year;
    ValueError if not one."""
    match = DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"{quoted(text)} is not a duration: write it as {EXAMPLES}")
    numbers = match.groups()[1::2]
    seconds = sum(int(n) * unit for n, unit in zip(numbers, DURATION_UNITS, strict=True) if n)
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"{quoted(text)} is longer than a year")
    return seconds


def parse_flag_seconds(text: str) -> float:
    """A flag's length of time: a Prometheus duration (``30s``) or a bare number of seconds
    (``30``, ``0.5``), finite, not negative, at most a year; ValueError if neither."""
    if text and DURATION.fullmatch(text):
        return parse_duration(text)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"{quoted(text)} is not a duration: write it as {EXAMPLES}, or a number of seconds"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{quoted(text)} must be a finite number of seconds, not negative")
    if value > MAX_DURATION_SECONDS:
        raise ValueError(f"{quoted(text)} is longer than a year")
    return value
