"""The status view: every figure of the page from a run, the timeline and the failures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from exporter.checks.http_failure import HttpReason
from exporter.checks.tcp import TcpReason
from exporter.run.history import Entry
from exporter.run.results import CheckOutcome, RunResult, Trigger
from exporter.run.timeline import Timeline
from exporter.status.fold import TIMES
from exporter.status.view import Link, Sources, status_view
from exporter.verdict import CheckResult, Component, Observed, Part, Status

STARTED = datetime(2026, 12, 6, 2, 25, 0, tzinfo=UTC)
NOW = STARTED.timestamp() + 12.5  # the run took 0.5 s: it finished 12 s before NOW
DAY = 86400.0


def run(checks: dict[str, CheckResult], started: datetime = STARTED) -> RunResult:
    return RunResult(
        run_id="r1",
        trigger=Trigger.SCHEDULE,
        started=started,
        duration_seconds=0.5,
        checks={name: CheckOutcome(result, 0.1) for name, result in checks.items()},
        success_message="All good",
    )


def view(last: RunResult | None, names: list[str], **more: Any) -> dict[str, Any]:
    timeline = more.pop("timeline", Timeline())
    sources = Sources(
        last=last,
        checks=names,
        timeline=timeline,
        failures=more.pop("failures", []),
        instance="web-1",
        version="1.2.3",
        links=[Link("GET", "/metrics", "metrics for Prometheus")],
    )
    return status_view(sources, NOW)


OK = CheckResult(Status.OK)
REFUSED = CheckResult(
    Status.FAIL,
    TcpReason.CONNECT,
    "cannot connect to 127.0.0.1:9: Connection refused",
    Component("address", "127.0.0.1:9"),
)


def test_before_the_first_run_every_check_is_unknown_and_the_page_says_no_run_yet() -> None:
    body = view(None, ["logging", "db"])
    assert {key: body[key] for key in ("status", "symbol", "verdict", "message")} == {
        "status": "unknown",
        "symbol": "…",
        "verdict": "No run yet",
        "message": "",
    }
    assert (body["finished"], body["age"], body["run_id"]) == (None, None, None)
    assert [(c["name"], c["status"], c["uptime"]["text"]) for c in body["checks"]] == [
        ("logging", "unknown", "—"),
        ("db", "unknown", "—"),
    ]
    assert body["links"] == [
        {"method": "GET", "path": "/metrics", "text": "metrics for Prometheus"}
    ]
    assert (body["instance"], body["version"], body["refresh_seconds"]) == ("web-1", "1.2.3", 5)


def test_the_verdict_counts_the_checks_in_words() -> None:
    warn = CheckResult(Status.WARN, HttpReason.TIMEOUT, "slower than warn_after")
    cases = [
        ({"a": OK}, "The check passes"),
        ({"a": OK, "b": OK, "c": OK}, "All 3 checks pass"),
        ({"a": OK, "b": warn, "c": OK}, "1 of 3 checks warns"),
        ({"a": REFUSED, "b": warn, "c": REFUSED}, "2 of 3 checks fail"),
        ({"a": REFUSED}, "1 check fails"),
        ({"a": REFUSED, "b": REFUSED}, "2 checks fail"),
    ]
    for checks, verdict in cases:
        assert view(run(checks), list(checks))["verdict"] == verdict


def test_a_failing_check_says_what_it_looked_at_why_and_when_the_run_finished() -> None:
    body = view(run({"logging": OK, "db": REFUSED}), ["logging", "db"])
    assert (body["status"], body["symbol"], body["run_id"]) == ("fail", "✗", "r1")
    assert body["message"] == (
        "Smoke test failed: check db failed on address 127.0.0.1:9: "
        "cannot connect to 127.0.0.1:9: Connection refused"
    )
    assert (body["finished"], body["age"]) == ("2026-12-06T02:25:00Z", "12 s ago")
    db = body["checks"][1]
    assert {key: db[key] for key in ("name", "status", "symbol", "reason", "error", "target")} == {
        "name": "db",
        "status": "fail",
        "symbol": "✗",
        "reason": "connect",
        "error": "cannot connect to 127.0.0.1:9: Connection refused",
        "target": "address 127.0.0.1:9",
    }
    ok = body["checks"][0]
    assert (ok["status"], ok["symbol"], ok["reason"], ok["error"], ok["target"]) == (
        "ok",
        "✓",
        None,
        None,
        None,
    )


def test_observed_values_are_in_human_units() -> None:
    checks = {
        "web": CheckResult(
            Status.OK, observed=Observed(0.0123, "s"), cert_expiry=NOW + 41 * DAY + 60
        ),
        "disk": CheckResult(Status.OK, observed=Observed(3.4 * 2**30, "bytes")),
    }
    web, disk = view(run(checks), ["web", "disk"])["checks"]
    assert (web["observed"], web["cert"]) == ("12 ms", "cert expires in 41 days")
    assert (disk["observed"], disk["cert"]) == ("3.4 GiB free", None)


def test_the_logging_check_lists_each_sink_and_its_delivery_time() -> None:
    logging = CheckResult(
        Status.FAIL,
        HttpReason.CONNECT,  # any reason: the sink's own is not the point here
        "write failed",
        Component("sink", "file"),
        parts={
            "stdout": Part(Status.OK, 0.0041),
            "file": Part(Status.FAIL, None, "write failed"),
        },
    )
    [row] = view(run({"logging": logging}), ["logging"])["checks"]
    assert row["parts"] == [
        {"name": "stdout", "status": "ok", "seconds": 0.0041, "text": "4.1 ms"},
        {"name": "file", "status": "fail", "seconds": None, "text": ""},
    ]
    assert row["target"] == "sink file"


def test_a_store_check_shows_its_canary_accounting_and_newest_delay() -> None:
    store = CheckResult(
        Status.OK,
        observed=Observed(1.25, "s"),
        detail={
            "canaries": {"pending": 2, "written": 9, "found": 6, "missing": 1, "late": 0},
            "newest": {"run_id": "r0", "seq": 7, "state": "found", "delay_seconds": 1.25},
        },
    )
    [row] = view(run({"loki": store}), ["loki"])["checks"]
    assert row["canaries"] == {
        "found": 6,
        "pending": 2,
        "missing": 1,
        "late": 0,
        "duplicate": 0,
        "lost": 0,
    }
    assert (row["newest_delay"], row["observed"]) == ("1.25 s", None)


def test_the_strip_and_uptime_come_from_the_timeline() -> None:
    timeline = Timeline()
    for minute, result in enumerate([OK, OK, REFUSED, OK]):
        timeline.record(run({"db": result}, datetime.fromtimestamp(NOW - 600 + minute * 60, UTC)))
    [row] = view(run({"db": OK}), ["db"], timeline=timeline)["checks"]
    assert [mark["status"] for mark in row["strip"]] == ["ok", "ok", "fail", "ok"]
    assert row["strip"][2] == {
        "status": "fail",
        "time": "2026-12-06T02:17:13Z",
        "reason": "connect",
    }
    assert row["strip_text"] == "Last 4 results: 3 ok, 1 fail"
    assert row["uptime"] == {"runs": 4, "passed": 3, "percent": 75.0, "text": "75.00 %"}


def test_a_check_the_timeline_dropped_has_an_empty_strip() -> None:
    timeline = Timeline()
    timeline.record(run({"db": OK}))
    timeline.keep(["logging"])
    [row] = view(run({"db": OK}), ["db"], timeline=timeline)["checks"]
    assert (row["strip"], row["strip_text"], row["uptime"]["runs"]) == ([], "No results yet", 0)


def test_identical_failures_fold_into_one_line() -> None:
    def failed(minute: int) -> Entry:
        return Entry(
            time=datetime(2026, 12, 6, 2, minute, tzinfo=UTC).isoformat(),
            trigger="schedule",
            status="fail",
            duration_seconds=0.5,
            run_id=f"r{minute}",
            cause="check db failed",
            checks={"db": {"status": "fail", "reason": "connect", "error": "refused"}},
        )

    failures = [failed(minute) for minute in range(34, 24, -1)]  # newest first: 02:34 .. 02:25
    body = view(run({"db": REFUSED}), ["db"], failures=failures)
    assert body["failures"] == [
        {
            "check": "db",
            "reason": "connect",
            "error": "refused",
            "count": 10,
            "first": "2026-12-06T02:25:00+00:00",
            "last": "2026-12-06T02:34:00+00:00",
            "at": "02:34",
            "text": f"{TIMES}10 since 02:25",
        }
    ]
