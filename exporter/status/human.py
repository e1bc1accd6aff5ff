"""Values in the words and units people read: durations, free space, certificate expiry,
ages, percentages and times of day."""

from __future__ import annotations

import math
from datetime import UTC, datetime

MINUTE = 60
HOUR = 3600
DAY = 86400
_IEC = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
# Below a minute: (scale, format, the figure it must print below, unit), tried in turn.
_SHORT = (
    (1000, ".1f", 10, "ms"),
    (1000, ".0f", 1000, "ms"),
    (1, ".2f", 10, "s"),
    (1, ".1f", 60, "s"),
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def duration(seconds: float) -> str:
    """A duration: "0.4 ms", "12 ms", "1.25 s", "12.3 s", "2 min 5 s", "1 h 2 min"; "—"
    when it is not a number.

    Each unit is chosen on the rounded figure, so 999.6 ms carries into "1.00 s" and never
    prints "1000 ms".
    """
    if not math.isfinite(seconds):
        return "—"
    seconds = max(0.0, seconds)
    for scale, spec, below, unit in _SHORT:
        text = format(seconds * scale, spec)
        if float(text) < below:
            return f"{text} {unit}"
    whole = math.floor(seconds + 0.5)
    if whole < HOUR:
        return f"{whole // MINUTE} min {whole % MINUTE} s"
    minutes = math.floor(seconds / MINUTE + 0.5)
    return f"{minutes // 60} h {minutes % 60} min"


def free_bytes(n: float) -> str:
    """Free space in IEC units, one decimal above bytes: "512 B free", "3.4 GiB free"; "—"
    when it is not a number."""
    if not math.isfinite(n):
        return "—"
    n = max(0.0, n)
    if math.floor(n + 0.5) < 1024:
        return f"{math.floor(n + 0.5)} B free"
    value = n / 1024
    for unit in _IEC[:-1]:
        # Move up when the figure would print as 1024.0 of this unit.
        if float(f"{value:.1f}") < 1024:
            return f"{value:.1f} {unit} free"
        value /= 1024
    return f"{value:.1f} {_IEC[-1]} free"


def cert_expiry(expires: float, now: float) -> str:
    """A certificate's expiry, floored: "cert expires in 41 days", "cert expires in 5 h",
    "cert expired 3 days ago"."""
    if expires >= now:
        return f"cert expires in {_span(expires - now)}"
    return f"cert expired {_span(now - expires)} ago"


def ago(then: float, now: float) -> str:
    """How long ago: "just now", "12 s ago", "3 min ago", "2 h ago", "4 days ago" (floored)."""
    if now - then < 1:
        return "just now"
    return f"{_span(now - then)} ago"


def _span(seconds: float) -> str:
    """A positive span in its largest whole unit, floored: "41 days", "1 day", "5 h"."""
    if seconds >= DAY:
        days = math.floor(seconds / DAY)
        return "1 day" if days == 1 else f"{days} days"
    if seconds >= HOUR:
        return f"{math.floor(seconds / HOUR)} h"
    if seconds >= MINUTE:
        return f"{math.floor(seconds / MINUTE)} min"
    return f"{math.floor(seconds)} s"


def percent(passed: int, runs: int) -> str:
    """A share of runs: "99.93 %", floored so that only every run passing shows "100 %";
    "0 %" when none passed, "—" with no run."""
    if runs == 0:
        return "—"
    if passed == runs:
        return "100 %"
    if passed == 0:
        return "0 %"
    hundredths = passed * 10000 // runs
    return f"{hundredths // 100}.{hundredths % 100:02d} %"


def clock(when: float) -> str:
    """The UTC time of day: "02:25"."""
    return f"{datetime.fromtimestamp(when, UTC):%H:%M}"


def day_clock(when: float) -> str:
    """The UTC day and time of day: "Dec 5 02:25" (month names in English, whatever the
    locale)."""
    moment = datetime.fromtimestamp(when, UTC)
    return f"{_MONTHS[moment.month - 1]} {moment.day} {moment:%H:%M}"


def exact(when: float) -> str:
    """ISO-8601 UTC to the second: "2026-12-06T02:25:07Z"."""
    return f"{datetime.fromtimestamp(when, UTC):%Y-%m-%dT%H:%M:%SZ}"


def observed(value: float, unit: str) -> str | None:
    """A check's observed value in human units: "12 ms", "3.4 GiB free"; None when it is not
    a number (NaN or infinite)."""
    if not math.isfinite(value):
        return None
    if unit == "s":
        return duration(value)
    if unit == "bytes":
        return free_bytes(value)
    return f"{value:g} {unit}"
