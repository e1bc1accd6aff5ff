"""Runs: checks registered by name, failures as results, the schedule, and coalescing."""

from __future__ import annotations

import asyncio
import enum
import logging
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporter.checks import CHECK_TYPES
from exporter.metrics import create_metrics
from exporter.run.attempts import PlannedCheck
from exporter.run.check_series import CheckSeries
from exporter.run.results import Trigger
from exporter.run.runner import Runner
from exporter.verdict import Check, CheckResult, Component, RunInfo, RunnerReason, Status
from exporter.web.keys import RUNNER
from tests.conftest import CANARY, StartExporter
from tests.wait import until


def test_check_types_are_registered_by_name() -> None:
    assert list(CHECK_TYPES) == [
        "logging",
        "disk",
        "tcp",
        "http",
        "websocket",
        "grpc",
        "dns",
        "file",
        "journal",
        "loki",
        "elasticsearch",
    ]


def test_a_result_that_is_not_ok_names_its_reason() -> None:
    with pytest.raises(ValueError, match=r"^a warn result names its reason$"):
        CheckResult(Status.WARN, error="slow")


def make_runner(
    checks: dict[str, Check], timeout_seconds: float = 1.0
) -> tuple[Runner, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = create_metrics(
        registry,
        triggers=[t.value for t in Trigger],
        handlers=[],
        interval_seconds=0,
    )
    planned = {name: PlannedCheck(check, timeout_seconds) for name, check in checks.items()}
    runner = Runner(planned, metrics.run, CheckSeries(registry), interval_seconds=0, message="fine")
    return runner, registry


async def test_a_check_that_raises_fails_the_run_naming_its_exceptions_type() -> None:
    async def broken(run: RunInfo) -> CheckResult:
        raise ValueError("no such thing")

    async def fine(run: RunInfo) -> CheckResult:
        return CheckResult(Status.OK, detail={"seen": run.run_id})

    runner, registry = make_runner({"fine": fine, "broken": broken})
    result = await runner.run(Trigger.HTTP)
    assert not result.ok
    body = result.body()
    assert body["status"] == "fail"
    assert body["message"] == "Smoke test failed: check broken failed: check raised ValueError"
    assert body["checks"]["fine"] == {
        "status": "ok",
        "duration_seconds": body["checks"]["fine"]["duration_seconds"],
        "seen": result.run_id,
    }
    assert body["checks"]["broken"]["error"] == "check raised ValueError"
    assert body["checks"]["broken"]["reason"] == "exception"
    assert registry.get_sample_value("smoke_test_check_success", {"check": "fine"}) == 1
    assert registry.get_sample_value("smoke_test_check_success", {"check": "broken"}) == 0
    assert registry.get_sample_value("smoke_test_failures_total", {"trigger": "http"}) == 1


async def test_the_message_names_every_failed_check_in_order() -> None:
    class Why(enum.Enum):
        DOWN = "down"

    def failing(error: str) -> Check:
        async def check(run: RunInfo) -> CheckResult:
            return CheckResult(Status.FAIL, Why.DOWN, error, Component("url", f"http://{error}/"))

        return check

    async def fine(run: RunInfo) -> CheckResult:
        return CheckResult(Status.OK)

    runner, _ = make_runner({"a": failing("x"), "b": fine, "c": failing("y")})
    result = await runner.run(Trigger.HTTP)
    assert result.message == (
        "Smoke test failed: check a failed on url http://x/: x; check c failed on url http://y/: y"
    )
    assert [entry.cause for entry in runner.history.failures] == [result.cause]


async def test_a_caller_that_goes_away_does_not_cancel_the_shared_run() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(run: RunInfo) -> CheckResult:
        started.set()
        await release.wait()
        return CheckResult(Status.OK)

    runner, registry = make_runner({"slow": slow})
    first = asyncio.create_task(runner.run(Trigger.HTTP))
    second = asyncio.create_task(runner.run(Trigger.HTTP))
    # Both callers have joined by then: the run's task was queued behind the second caller.
    await until(started.is_set, "the shared run started its check")
    first.cancel()
    release.set()
    result = await second
    assert result.ok
    assert registry.get_sample_value("smoke_test_runs_total", {"trigger": "http"}) == 1


async def test_a_hung_check_fails_with_timeout_inside_its_timeout_while_the_others_pass() -> None:
    never = asyncio.Event()
    loop = asyncio.get_running_loop()
    seen: list[tuple[RunInfo, float]] = []

    async def hung(run: RunInfo) -> CheckResult:
        await never.wait()
        return CheckResult(Status.OK)

    async def healthy(run: RunInfo) -> CheckResult:
        seen.append((run, loop.time()))
        return CheckResult(Status.OK)

    runner, registry = make_runner({"hung": hung, "healthy": healthy}, timeout_seconds=0.2)
    started = loop.time()
    result = await runner.run(Trigger.HTTP)
    elapsed = loop.time() - started
    # The run ends when the hung check's timeout does: not before, and not long after.
    assert 0.2 <= elapsed < 1.0
    [(run, called_at)] = seen
    assert run.timeout_seconds == 0.2
    # The deadline is the timeout counted from the check's start: after the run began, and no
    # later than the check was called.
    assert started + 0.2 <= run.deadline <= called_at + 0.2
    body = result.body()
    assert body["status"] == "fail"
    assert body["message"] == "Smoke test failed: check hung failed: no result within 0.2s"
    hung_body = body["checks"]["hung"]
    assert (hung_body["status"], hung_body["reason"], hung_body["error"]) == (
        "fail",
        "timeout",
        "no result within 0.2s",
    )
    assert 0.2 <= hung_body["duration_seconds"] < 1.0
    assert body["checks"]["healthy"]["status"] == "ok"
    assert registry.get_sample_value("smoke_test_check_success", {"check": "hung"}) == 0
    assert registry.get_sample_value("smoke_test_check_success", {"check": "healthy"}) == 1
    failures = "smoke_test_check_failures_total"
    for check, reason, count in (
        ("hung", "timeout", 1),
        ("hung", "exception", 0),
        ("healthy", "timeout", 0),
        ("healthy", "exception", 0),
    ):
        labels = {"check": check, "reason": reason}
        assert registry.get_sample_value(failures, labels) == count, labels
    assert (
        registry.get_sample_value("smoke_test_check_status", {"check": "hung", "status": "fail"})
        == 1
    )
    assert (
        registry.get_sample_value("smoke_test_check_status", {"check": "hung", "status": "ok"}) == 0
    )


async def test_a_timeout_error_of_the_check_itself_is_an_exception_not_a_timeout() -> None:
    async def own_timeout(run: RunInfo) -> CheckResult:
        raise TimeoutError("upstream gave up")

    runner, _ = make_runner({"own": own_timeout}, timeout_seconds=5)
    body = (await runner.run(Trigger.HTTP)).body()["checks"]["own"]
    assert (body["reason"], body["error"]) == (
        RunnerReason.EXCEPTION.value,
        "check raised TimeoutError",
    )


async def test_checks_of_one_run_run_concurrently() -> None:
    running = 0
    all_running = asyncio.Event()

    async def waits_for_the_others(run: RunInfo) -> CheckResult:
        nonlocal running
        running += 1
        if running == 5:
            all_running.set()
        await all_running.wait()
        return CheckResult(Status.OK)

    runner, _ = make_runner({f"c{i}": waits_for_the_others for i in range(5)}, timeout_seconds=5)
    result = await runner.run(Trigger.HTTP)
    # One after another, the first would wait for the other four until its timeout.
    assert result.ok, result.message
    assert running == 5


async def test_a_warning_passes_the_run_and_shows_in_the_status_gauge() -> None:
    class Why(enum.Enum):
        SLOW = "slow"

    async def slowish(run: RunInfo) -> CheckResult:
        return CheckResult(Status.WARN, Why.SLOW, "took 3s", Component("url", "http://x/"))

    async def fine(run: RunInfo) -> CheckResult:
        return CheckResult(Status.OK)

    runner, registry = make_runner({"slowish": slowish, "fine": fine})
    result = await runner.run(Trigger.HTTP)
    assert result.ok
    body = result.body()
    assert (body["status"], body["message"]) == ("warn", "fine")
    assert body["checks"]["slowish"] == {
        "status": "warn",
        "duration_seconds": body["checks"]["slowish"]["duration_seconds"],
        "reason": "slow",
        "error": "took 3s",
        "component": {"kind": "url", "id": "http://x/"},
    }
    assert registry.get_sample_value("smoke_test_success") == 1
    assert registry.get_sample_value("smoke_test_check_success", {"check": "slowish"}) == 1
    for status, value in (("ok", 0), ("warn", 1), ("fail", 0)):
        labels = {"check": "slowish", "status": status}
        assert registry.get_sample_value("smoke_test_check_status", labels) == value
    assert registry.get_sample_value("smoke_test_failures_total", {"trigger": "http"}) == 0
    assert runner.history.failures == []
    assert [entry.status for entry in runner.history.runs] == ["warn"]


async def test_schedule_runs_every_interval(start_exporter: StartExporter) -> None:
    interval = 0.2
    exporter = await start_exporter(interval_seconds=interval)
    runner = exporter.app[RUNNER]
    await until(
        lambda: exporter.sample("smoke_test_runs_total", trigger="schedule") >= 4,
        "four scheduled runs",
    )
    async with runner.between_runs():  # no run in flight: every run's canary is on disk
        scheduled = exporter.sample("smoke_test_runs_total", trigger="schedule")
        canaries = [line for line in exporter.file_lines() if line.get("trigger") == "schedule"]
        runs = runner.history.runs[::-1]  # oldest first
    assert exporter.sample("smoke_test_runs_total", trigger="startup") == 1
    assert len(canaries) == scheduled
    assert [run.trigger for run in runs] == ["startup"] + ["schedule"] * int(scheduled)
    # The k-th scheduled run keeps to its slot, k intervals after the start-up run ended: never
    # before it, and never a whole interval after it (that tick would have been skipped).
    startup = runs[0]
    ended = datetime.fromisoformat(startup.time).timestamp() + startup.duration_seconds
    for k, run in enumerate(runs[1:], start=1):
        late = datetime.fromisoformat(run.time).timestamp() - (ended + k * interval)
        assert 0 <= late < interval, (k, late)


def schedules_running() -> int:
    """How many unfinished tasks of this loop run Runner.schedule."""
    code = Runner.schedule.__code__
    return sum(getattr(task.get_coro(), "cr_code", None) is code for task in asyncio.all_tasks())


async def test_interval_zero_runs_only_at_startup(start_exporter: StartExporter) -> None:
    exporter = await start_exporter(interval_seconds=0)
    # The app started the schedule before the start-up run; with no interval it ends after
    # that run, so no scheduled run can ever come.
    await until(lambda: schedules_running() == 0, "the schedule ended after the start-up run")
    assert exporter.sample("smoke_test_runs_total", trigger="startup") == 1
    assert exporter.sample("smoke_test_runs_total", trigger="schedule") == 0
    assert exporter.sample("smoke_test_interval_seconds") == 0


async def test_callers_within_the_min_interval_get_the_latest_result_marked_cached(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(min_interval_seconds=30)
    runs = exporter.sample("smoke_test_runs_total", trigger="http")
    # The start-up run was just now: within the minimum interval, so its result is served.
    status, first = await exporter.smoke()
    assert (status, first["cached"], first["trigger"]) == (200, True, "startup")
    assert first["age_seconds"] > 0
    status, second = await exporter.smoke()
    assert second["run_id"] == first["run_id"]
    assert second["cached"] is True
    assert second["age_seconds"] >= first["age_seconds"]
    assert exporter.sample("smoke_test_runs_total", trigger="http") == runs
    canaries = [line for line in exporter.file_lines() if line.get("message") == CANARY]
    assert len(canaries) == 1


async def test_after_the_min_interval_a_caller_starts_a_fresh_run(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(min_interval_seconds=0.3)
    await asyncio.sleep(0.35)
    status, body = await exporter.smoke()
    assert (status, body["cached"], body["age_seconds"], body["trigger"]) == (
        200,
        False,
        0.0,
        "http",
    )
    _, again = await exporter.smoke()
    assert (again["cached"], again["run_id"]) == (True, body["run_id"])


async def test_a_cached_failure_is_still_a_503(
    start_exporter: StartExporter, log_path: Path
) -> None:
    log_path.mkdir()  # a directory where the log file should be: every run fails
    exporter = await start_exporter(min_interval_seconds=30)
    status, body = await exporter.smoke()
    assert (status, body["status"], body["cached"], body["trigger"]) == (
        503,
        "fail",
        True,
        "startup",
    )


TOLD = "Traceback (most recent call last):"
WHILE = "During handling of the above exception, another exception occurred:"


@pytest.mark.parametrize(
    ("suppress", "lines"),
    [
        (False, [TOLD, "KeyError", WHILE, TOLD, "ValueError"]),  # raised in an except: context
        (True, [TOLD, "ValueError"]),  # raised "from None": no context told
    ],
)
async def test_a_raised_checks_traceback_tells_its_chain_without_any_text(
    caplog: pytest.LogCaptureFixture, suppress: bool, lines: list[str]
) -> None:
    secret = "-".join(["sekrit", "token"])  # made at run time, as a secret read from a file

    async def raising(run: RunInfo) -> CheckResult:
        try:
            raise KeyError(secret)
        except KeyError:
            error = ValueError(f"no {secret}")
            error.__suppress_context__ = suppress
            raise error  # noqa: B904 - the context is what is tested

    runner, _ = make_runner({"raising": raising})
    with caplog.at_level(logging.ERROR, logger="exporter.run.runner"):
        await runner.run(Trigger.HTTP)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert (record.getMessage(), record.exc_info) == ("Check raised ValueError", None)
    told = record.exc_text or ""
    assert [line for line in told.splitlines() if line and not line.startswith(" ")] == lines
    assert secret not in caplog.text
