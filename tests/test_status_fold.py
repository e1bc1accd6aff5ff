"""The last failures: one line per failed check, identical failures in a row folded."""

from __future__ import annotations

from datetime import UTC, datetime

from exporter.run.history import Entry
from exporter.status.fold import Folded, fold

START = 1_796_523_900.0  # 2026-12-06T02:25:00Z


def iso(offset: float) -> str:
    return datetime.fromtimestamp(START + offset, UTC).isoformat()


def entry(offset: float, **checks: dict[str, str]) -> Entry:
    return Entry(
        time=iso(offset),
        trigger="schedule",
        status="fail",
        duration_seconds=0.1,
        run_id=f"run{offset}",
        cause="x",
        checks=checks,
    )


CONNECT = {"status": "fail", "reason": "connect", "error": "refused"}
STATUS = {"status": "fail", "reason": "status", "error": "HTTP 503"}
OK = {"status": "ok"}


def newest_first(*entries: Entry) -> list[Entry]:
    """The History's order, from entries given oldest first."""
    return list(reversed(entries))


def test_no_failure_no_line() -> None:
    assert fold([]) == []


def test_ten_identical_failures_fold_into_one_line() -> None:
    failures = newest_first(*(entry(i * 30, web=CONNECT, disk=OK) for i in range(10)))
    assert fold(failures) == [Folded("web", "connect", "refused", 10, iso(0), iso(270))]
    assert fold(failures)[0].text() == "\N{MULTIPLICATION SIGN}10 since 02:25"


def test_one_failure_has_no_fold_text() -> None:
    (line,) = fold([entry(0, web=CONNECT)])
    assert line == Folded("web", "connect", "refused", 1, iso(0), iso(0))
    assert line.text() == ""


def test_failures_over_midnight_name_the_day() -> None:
    failures = newest_first(entry(-86400 - 60, web=CONNECT), entry(0, web=CONNECT))
    assert fold(failures)[0].text() == "\N{MULTIPLICATION SIGN}2 since Dec 5 02:24"


def test_fold_text_is_in_utc_whatever_the_offset_written() -> None:
    line = Folded("web", "connect", None, 2, "2026-12-06T03:25:00+01:00", "2026-12-06T02:40:00")
    assert line.text() == "\N{MULTIPLICATION SIGN}2 since 02:25"
    crossing = Folded("web", "connect", None, 2, "2026-12-06T00:30:00+01:00", "2026-12-06T02:40:00")
    assert crossing.text() == "\N{MULTIPLICATION SIGN}2 since Dec 5 23:30"


def test_a_different_failure_in_between_starts_a_new_line() -> None:
    failures = newest_first(
        entry(0, web=CONNECT), entry(30, web=CONNECT), entry(60, web=STATUS), entry(90, web=CONNECT)
    )
    assert fold(failures) == [
        Folded("web", "connect", "refused", 1, iso(90), iso(90)),
        Folded("web", "status", "HTTP 503", 1, iso(60), iso(60)),
        Folded("web", "connect", "refused", 2, iso(0), iso(30)),
    ]


def test_the_same_reason_with_another_error_is_another_failure() -> None:
    other = {"status": "fail", "reason": "connect", "error": "timed out"}
    failures = newest_first(entry(0, web=CONNECT), entry(30, web=other))
    assert [(line.error, line.count) for line in fold(failures)] == [
        ("timed out", 1),
        ("refused", 1),
    ]


def test_two_checks_failing_in_the_same_runs_are_two_lines_in_run_order() -> None:
    failures = newest_first(*(entry(i * 30, web=CONNECT, disk=STATUS) for i in range(3)))
    assert fold(failures) == [
        Folded("web", "connect", "refused", 3, iso(0), iso(60)),
        Folded("disk", "status", "HTTP 503", 3, iso(0), iso(60)),
    ]


def test_a_check_whose_failure_ended_earlier_comes_after_one_still_failing() -> None:
    failures = newest_first(
        entry(0, web=CONNECT, disk=STATUS), entry(30, web=CONNECT, disk=OK), entry(60, web=CONNECT)
    )
    assert fold(failures) == [
        Folded("web", "connect", "refused", 3, iso(0), iso(60)),
        Folded("disk", "status", "HTTP 503", 1, iso(0), iso(0)),
    ]


def test_a_warning_is_not_a_failure_line() -> None:
    warned = {"status": "warn", "reason": "retried"}
    failures = [entry(0, web=warned, disk=CONNECT)]
    assert fold(failures) == [Folded("disk", "connect", "refused", 1, iso(0), iso(0))]


def test_a_failure_without_error_or_reason_folds_on_what_it_has() -> None:
    bare = {"status": "fail", "reason": "timeout"}
    failures = newest_first(entry(0, web=bare), entry(30, web=bare))
    assert fold(failures) == [Folded("web", "timeout", None, 2, iso(0), iso(30))]


def test_a_line_as_json() -> None:
    line = Folded("web", "connect", "refused", 10, iso(0), iso(270))
    assert line.body() == {
        "check": "web",
        "reason": "connect",
        "error": "refused",
        "count": 10,
        "first": "2026-12-06T02:25:00+00:00",
        "last": "2026-12-06T02:29:30+00:00",
        "text": "\N{MULTIPLICATION SIGN}10 since 02:25",
    }
