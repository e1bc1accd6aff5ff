"""The ``logging`` check: this run's canary written, flushed and read back by every sink."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from exporter.checks.base import CheckDeps, CheckType
from exporter.checks.canaries import CanaryLedger
from exporter.logs.pipeline import LogPipeline
from exporter.sinks import Reason
from exporter.verdict import Check, CheckResult, Component, Part, RunInfo, Status

CANARY_MESSAGE = "Smoke test endpoint triggered. Logging is confirmed to be operational."


@dataclass(frozen=True)
class LoggingOptions:
    """``type: logging`` takes no options: it checks every configured sink."""


def build(name: str, options: LoggingOptions, deps: CheckDeps) -> Check:
    """The canary check over the app's log pipeline."""
    if deps.logs is None:
        raise ValueError("the exporter's logging check needs its log pipeline")
    return LoggingCheck(deps.logs, deps.canaries)


class LoggingCheck:
    """Every sink wrote, flushed and (for files) read back this run's canary in time.

    The canary carries the run, its number in this process, the instance and their signature,
    so that the store checks can find it in the central log store and tell it from a forgery."""

    def __init__(self, logs: LogPipeline, canaries: CanaryLedger) -> None:
        self._logs = logs
        self._canaries = canaries

    async def __call__(self, run: RunInfo) -> CheckResult:
        # Until the check's own deadline: a silent sink is named, not the whole check timed out.
        wait = max(0.0, run.own_deadline - asyncio.get_running_loop().time())
        canary = self._canaries.write(run.run_id)
        outcomes = await self._logs.deliver_canary(
            CANARY_MESSAGE,
            wait,
            timeout_text=f"{run.timeout_seconds:g}s",
            run_id=run.run_id,
            trigger=run.trigger,
            seq=canary.seq,
            instance=canary.instance,
            signature=canary.signature,
        )
        sinks = {name: "ok" if outcome.ok else "fail" for name, outcome in outcomes.items()}
        parts = {
            name: Part(Status.OK if o.ok else Status.FAIL, o.seconds, o.error)
            for name, o in outcomes.items()
        }
        for name, outcome in outcomes.items():
            if not outcome.ok:
                return CheckResult(
                    Status.FAIL,
                    reason=outcome.reason,
                    error=outcome.error,
                    component=Component("sink", name),
                    detail={"sinks": sinks, "failed_sink": name},
                    parts=parts,
                    measurement="delivery",
                )
        return CheckResult(Status.OK, detail={"sinks": sinks}, parts=parts, measurement="delivery")


TYPE = CheckType(
    LoggingOptions,
    build,
    Reason,
    "this run's canary written, flushed and read back by every log sink",
    {
        "sinks": {"type": "object", "additionalProperties": {"enum": ["ok", "fail"]}},
        "failed_sink": {"type": "string"},
    },
)
