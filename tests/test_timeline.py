"""Each check's last results and its 24-hour uptime, kept in bounded memory."""

from __future__ import annotations

from datetime import UTC, datetime

from exporter.run.results import CheckOutcome, RunResult, Trigger
from exporter.run.timeline import (
    BYTES_PER_MINUTE,
    MINUTES,
    STRIP_SIZE,
    CheckTimeline,
    Mark,
    Timeline,
    Uptime,
    ring_bytes,
)
from exporter.verdict import CheckResult, RunnerReason, Status

NOW = 1_800_000_000.0  # a whole minute: 2027-01-15T08:00:00Z


def test_marks_are_the_last_fifty_oldest_first() -> None:
    timeline = CheckTimeline()
    for i in range(STRIP_SIZE + 10):
        timeline.record(Status.OK if i % 2 else Status.FAIL, NOW + i, None if i % 2 else "x")
    marks = timeline.marks()
    assert len(marks) == STRIP_SIZE == 50
    assert marks[0] == Mark(Status.FAIL, NOW + 10, "x")
    assert marks[-1] == Mark(Status.OK, NOW + 59, None)


def test_uptime_counts_warnings_as_passed_and_failures_not() -> None:
    timeline = CheckTimeline()
    timeline.record(Status.OK, NOW - 120, None)
    timeline.record(Status.WARN, NOW - 61, "retried")
    timeline.record(Status.FAIL, NOW - 60, "connect")
    timeline.record(Status.OK, NOW + 59, None)
    assert timeline.uptime(NOW) == Uptime(runs=4, passed=3)
    assert timeline.uptime(NOW).percent == 75.0


def test_uptime_with_no_run_has_no_percent() -> None:
    assert CheckTimeline().uptime(NOW) == Uptime(runs=0, passed=0)
    assert Uptime(0, 0).percent is None
    assert Uptime(3, 2).percent == 200 / 3


def test_uptime_window_is_the_last_1440_minutes_up_to_now() -> None:
    timeline = CheckTimeline()
    timeline.record(Status.FAIL, NOW - MINUTES * 60 + 59.9, "old")  # minute now-1440
    timeline.record(Status.OK, NOW - (MINUTES - 1) * 60, None)  # minute now-1439
    timeline.record(Status.OK, NOW - 0.1, None)  # minute now-1
    assert timeline.uptime(NOW - 60) == Uptime(runs=3, passed=2)
    assert timeline.uptime(NOW + 59.9) == Uptime(runs=2, passed=2)
    timeline.record(Status.FAIL, NOW + 120 * 60, "later")  # minute now+120
    assert timeline.uptime(NOW) == Uptime(runs=2, passed=2)
    # Two hours on, the minutes now-1440 and now-1439 have left the window.
    assert timeline.uptime(NOW + 120 * 60) == Uptime(runs=2, passed=1)


def test_a_slot_reused_a_day_later_starts_from_zero() -> None:
    timeline = CheckTimeline()
    timeline.record(Status.FAIL, NOW, "connect")
    timeline.record(Status.FAIL, NOW + 1, "connect")
    timeline.record(Status.OK, NOW + MINUTES * 60, None)  # the same slot, a day later
    assert timeline.uptime(NOW + MINUTES * 60) == Uptime(runs=1, passed=1)


def test_a_result_a_day_older_than_its_slot_does_not_erase_it() -> None:
    timeline = CheckTimeline()
    timeline.record(Status.OK, NOW, None)
    timeline.record(Status.FAIL, NOW - MINUTES * 60, "late")  # the same slot, a day before
    assert timeline.uptime(NOW) == Uptime(runs=1, passed=1)
    assert timeline.marks()[-1] == Mark(Status.FAIL, NOW - MINUTES * 60, "late")


def test_uptime_read_again_in_the_same_minute_sees_a_new_record() -> None:
    timeline = CheckTimeline()
    timeline.record(Status.OK, NOW, None)
    assert timeline.uptime(NOW + 1) == Uptime(runs=1, passed=1)
    timeline.record(Status.FAIL, NOW + 2, "connect")
    assert timeline.uptime(NOW + 3) == Uptime(runs=2, passed=1)
    # A later minute in which the first results have left the window.
    assert timeline.uptime(NOW + MINUTES * 60) == Uptime(runs=0, passed=0)


def test_a_full_day_of_runs_every_20_seconds() -> None:
    timeline = CheckTimeline()
    start = NOW - MINUTES * 60
    for i in range(3 * MINUTES * 2):  # two days, three runs a minute
        failed = i % 300 == 0
        timeline.record(
            Status.FAIL if failed else Status.OK, start + i * 20, "x" if failed else None
        )
    end = start + (3 * MINUTES * 2 - 1) * 20
    # The last 1440 minutes hold 4320 runs; one in 300 failed.
    assert timeline.uptime(end) == Uptime(runs=4320, passed=4320 - 4320 // 300)


def test_each_check_keeps_twelve_bytes_a_minute_measured_on_its_ring() -> None:
    timeline = CheckTimeline()
    assert BYTES_PER_MINUTE == 12
    assert timeline.ring_nbytes == ring_bytes(1) == 17_280
    for i in range(3 * MINUTES):
        timeline.record(Status.OK, NOW + i * 60, None)
    assert timeline.ring_nbytes == ring_bytes(1)  # allocated once: records do not grow it
    assert ring_bytes(50) == 864_000


def run_result(started: datetime, duration: float, **results: CheckResult) -> RunResult:
    return RunResult(
        run_id="r",
        trigger=Trigger.SCHEDULE,
        started=started,
        duration_seconds=duration,
        checks={name: CheckOutcome(result, 0.1) for name, result in results.items()},
        success_message="fine",
    )


def test_timeline_records_each_check_when_the_run_finished() -> None:
    timeline = Timeline()
    started = datetime.fromtimestamp(NOW, UTC)
    timeline.record(
        run_result(
            started,
            1.5,
            web=CheckResult(Status.OK),
            disk=CheckResult(Status.FAIL, RunnerReason.TIMEOUT, "no answer"),
        )
    )
    web, disk = timeline.get("web"), timeline.get("disk")
    assert web is not None
    assert disk is not None
    assert web.marks() == [Mark(Status.OK, NOW + 1.5, None)]
    assert disk.marks() == [Mark(Status.FAIL, NOW + 1.5, "timeout")]
    assert disk.uptime(NOW) == Uptime(runs=1, passed=0)
    assert timeline.get("dns") is None


def test_keep_drops_checks_no_longer_named_and_keeps_the_others() -> None:
    timeline = Timeline()
    started = datetime.fromtimestamp(NOW, UTC)
    timeline.record(
        run_result(started, 0.0, web=CheckResult(Status.OK), disk=CheckResult(Status.OK))
    )
    web = timeline.get("web")
    timeline.keep(["web", "dns"])
    assert timeline.get("disk") is None
    assert timeline.get("dns") is None
    assert timeline.get("web") is web
    timeline.record(run_result(started, 1.0, web=CheckResult(Status.OK)))
    assert web is not None
    assert [mark.time for mark in web.marks()] == [NOW, NOW + 1.0]
