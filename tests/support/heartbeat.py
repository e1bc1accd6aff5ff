"""A run's result to send as a heartbeat, and the heartbeat failures counted for a target."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from exporter.run.results import CheckOutcome, RunResult, Trigger
from exporter.verdict import CheckResult, RunnerReason, Status


def result(run_id: str, ok: bool = True) -> RunResult:
    check = CheckResult(Status.OK) if ok else CheckResult(Status.FAIL, RunnerReason.TIMEOUT, "x")
    return RunResult(
        run_id=run_id,
        trigger=Trigger.HTTP,
        started=datetime(2026, 12, 3, tzinfo=UTC),
        duration_seconds=0.001,
        checks={"logging": CheckOutcome(check, 0.001)},
        success_message="fine",
    )


def failures(registry: CollectorRegistry, target: str, reason: str) -> float | None:
    return registry.get_sample_value(
        "smoke_test_heartbeat_failures_total", {"target": target, "reason": reason}
    )
