"""Runs: checks registered by name, failures as results, the schedule, and coalescing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter.checks import CHECKS, CheckContext, CheckFn, CheckResult
from exporter.config import LogLevel
from exporter.logs import LogPipeline
from exporter.metrics import create_metrics
from exporter.runner import Runner, Trigger
from exporter.sinks import FileSink
from tests.conftest import CANARY, StartExporter


def test_checks_are_registered_by_name() -> None:
    assert list(CHECKS) == ["logging"]


def make_runner(checks: dict[str, CheckFn], tmp_path: Path) -> tuple[Runner, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = create_metrics(
        registry,
        triggers=[t.value for t in Trigger],
        checks=checks,
        handlers=[],
        interval_seconds=0,
    )
    logs = LogPipeline([FileSink("file", tmp_path / "x.log", metrics)], metrics, LogLevel.INFO)
    runner = Runner(checks, logs, metrics, timeout_seconds=1, interval_seconds=0, message="fine")
    return runner, registry


async def test_a_check_that_raises_fails_the_run_with_its_exception(tmp_path: Path) -> None:
    async def broken(ctx: CheckContext) -> CheckResult:
        raise ValueError("no such thing")

    async def fine(ctx: CheckContext) -> CheckResult:
        return CheckResult(True, detail={"seen": ctx.run_id})

    runner, registry = make_runner({"fine": fine, "broken": broken}, tmp_path)
    result = await runner.run(Trigger.HTTP)
    assert not result.ok
    body = result.body()
    assert body["status"] == "fail"
    assert body["message"] == (
        "Smoke test failed: check broken failed: check raised ValueError('no such thing')"
    )
    assert body["checks"]["fine"] == {
        "status": "ok",
        "duration_seconds": body["checks"]["fine"]["duration_seconds"],
        "seen": result.run_id,
    }
    assert body["checks"]["broken"]["error"] == "check raised ValueError('no such thing')"
    assert registry.get_sample_value("smoke_test_check_success", {"check": "fine"}) == 1
    assert registry.get_sample_value("smoke_test_check_success", {"check": "broken"}) == 0
    assert registry.get_sample_value("smoke_test_failures_total", {"trigger": "http"}) == 1


async def test_a_caller_that_goes_away_does_not_cancel_the_shared_run(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def slow(ctx: CheckContext) -> CheckResult:
        await release.wait()
        return CheckResult(True)

    runner, registry = make_runner({"slow": slow}, tmp_path)
    first = asyncio.create_task(runner.run(Trigger.HTTP))
    second = asyncio.create_task(runner.run(Trigger.HTTP))
    await asyncio.sleep(0.05)
    first.cancel()
    release.set()
    result = await second
    assert result.ok
    assert registry.get_sample_value("smoke_test_runs_total", {"trigger": "http"}) == 1


async def test_schedule_runs_every_interval(start_exporter: StartExporter) -> None:
    exporter = await start_exporter(interval_seconds=0.2)
    await asyncio.sleep(0.9)
    scheduled = exporter.sample("smoke_test_runs_total", trigger="schedule")
    assert 2 <= scheduled <= 5
    assert exporter.sample("smoke_test_runs_total", trigger="startup") == 1
    canaries = [line for line in exporter.file_lines() if line.get("trigger") == "schedule"]
    assert len(canaries) == scheduled


async def test_interval_zero_runs_only_at_startup(start_exporter: StartExporter) -> None:
    exporter = await start_exporter(interval_seconds=0)
    await asyncio.sleep(0.3)
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
