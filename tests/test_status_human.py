"""Values in the words and units people read, and where each unit gives way to the next."""

from __future__ import annotations

import math

from exporter.status.human import (
    ago,
    cert_expiry,
    clock,
    day_clock,
    duration,
    exact,
    free_bytes,
    observed,
    percent,
)

WHEN = 1_796_523_907.0  # 2026-12-06T02:25:07Z
DAY = 86400


def test_duration_below_ten_milliseconds_has_one_decimal() -> None:
    assert duration(0) == "0.0 ms"
    assert duration(0.0004) == "0.4 ms"
    assert duration(0.00004) == "0.0 ms"
    assert duration(0.0041) == "4.1 ms"
    assert duration(0.00994) == "9.9 ms"


def test_duration_in_whole_milliseconds_below_a_second() -> None:
    assert duration(0.00996) == "10 ms"  # 9.96 would print "10.0 ms": carried
    assert duration(0.012) == "12 ms"
    assert duration(0.999) == "999 ms"
    assert duration(0.9994) == "999 ms"


def test_duration_in_seconds_below_a_minute() -> None:
    assert duration(0.9996) == "1.00 s"  # never "1000 ms"
    assert duration(1.25) == "1.25 s"
    assert duration(9.994) == "9.99 s"
    assert duration(9.996) == "10.0 s"  # never "10.00 s"
    assert duration(12.34) == "12.3 s"
    assert duration(59.94) == "59.9 s"


def test_duration_in_minutes_and_hours() -> None:
    assert duration(59.96) == "1 min 0 s"  # never "60.0 s"
    assert duration(125) == "2 min 5 s"
    assert duration(125.4) == "2 min 5 s"
    assert duration(125.5) == "2 min 6 s"
    assert duration(3599.4) == "59 min 59 s"
    assert duration(3599.5) == "1 h 0 min"  # never "60 min 0 s"
    assert duration(3720) == "1 h 2 min"
    assert duration(3749) == "1 h 2 min"
    assert duration(3750) == "1 h 3 min"
    assert duration(90000) == "25 h 0 min"


def test_duration_that_is_not_a_number_or_negative() -> None:
    assert duration(math.nan) == "—"
    assert duration(math.inf) == "—"
    assert duration(-0.5) == "0.0 ms"


def test_free_bytes_in_iec_units() -> None:
    assert free_bytes(0) == "0 B free"
    assert free_bytes(512) == "512 B free"
    assert free_bytes(1023.4) == "1023 B free"
    assert free_bytes(1023.6) == "1.0 KiB free"  # never "1024 B free"
    assert free_bytes(1536) == "1.5 KiB free"
    assert free_bytes(3.4 * 1024**3) == "3.4 GiB free"
    assert free_bytes(1024**4 - 1) == "1.0 TiB free"  # never "1024.0 GiB free"
    assert free_bytes(1024**4) == "1.0 TiB free"
    assert free_bytes(1023.94 * 1024**2) == "1023.9 MiB free"
    assert free_bytes(2 * 1024**7) == "2048.0 EiB free"
    assert free_bytes(math.nan) == "—"


def test_cert_expiry_in_days_hours_minutes() -> None:
    assert cert_expiry(WHEN + 41 * DAY + 23 * 3600, WHEN) == "cert expires in 41 days"
    assert cert_expiry(WHEN + DAY, WHEN) == "cert expires in 1 day"
    assert cert_expiry(WHEN + DAY - 1, WHEN) == "cert expires in 23 h"
    assert cert_expiry(WHEN + 5 * 3600 + 59, WHEN) == "cert expires in 5 h"
    assert cert_expiry(WHEN + 3599, WHEN) == "cert expires in 59 min"
    assert cert_expiry(WHEN + 59.9, WHEN) == "cert expires in 59 s"
    assert cert_expiry(WHEN, WHEN) == "cert expires in 0 s"


def test_cert_expired() -> None:
    assert cert_expiry(WHEN - 3 * DAY - 5, WHEN) == "cert expired 3 days ago"
    assert cert_expiry(WHEN - DAY, WHEN) == "cert expired 1 day ago"
    assert cert_expiry(WHEN - 7200, WHEN) == "cert expired 2 h ago"
    assert cert_expiry(WHEN - 0.5, WHEN) == "cert expired 0 s ago"


def test_ago_floors_each_unit() -> None:
    assert ago(WHEN, WHEN) == "just now"
    assert ago(WHEN - 0.99, WHEN) == "just now"
    assert ago(WHEN + 5, WHEN) == "just now"  # a clock behind the run's
    assert ago(WHEN - 1, WHEN) == "1 s ago"
    assert ago(WHEN - 12.9, WHEN) == "12 s ago"
    assert ago(WHEN - 59.9, WHEN) == "59 s ago"
    assert ago(WHEN - 60, WHEN) == "1 min ago"
    assert ago(WHEN - 239, WHEN) == "3 min ago"
    assert ago(WHEN - 3599, WHEN) == "59 min ago"
    assert ago(WHEN - 2 * 3600, WHEN) == "2 h ago"
    assert ago(WHEN - DAY + 1, WHEN) == "23 h ago"
    assert ago(WHEN - DAY, WHEN) == "1 day ago"
    assert ago(WHEN - 4 * DAY - 3600, WHEN) == "4 days ago"


def test_percent_is_floored_to_hundredths_and_only_all_or_none_passed_is_whole() -> None:
    assert percent(0, 0) == "—"
    assert percent(0, 3) == "0 %"
    assert percent(1, 3) == "33.33 %"
    assert percent(2, 3) == "66.66 %"
    assert percent(1439, 1440) == "99.93 %"
    assert percent(99999, 100000) == "99.99 %"
    assert percent(1, 1) == "100 %"
    assert percent(4320, 4320) == "100 %"


def test_times_of_day_and_exact_times_are_utc() -> None:
    assert clock(WHEN) == "02:25"
    assert day_clock(WHEN - DAY) == "Dec 5 02:25"
    assert day_clock(0) == "Jan 1 00:00"
    assert exact(WHEN) == "2026-12-06T02:25:07Z"
    assert exact(WHEN + 0.999) == "2026-12-06T02:25:07Z"


def test_observed_values_by_unit() -> None:
    assert observed(0.012, "s") == "12 ms"
    assert observed(3.4 * 1024**3, "bytes") == "3.4 GiB free"
    assert observed(3.0, "records") == "3 records"
    assert observed(0.25, "ratio") == "0.25 ratio"
    assert observed(math.nan, "s") is None
    assert observed(math.inf, "bytes") is None
