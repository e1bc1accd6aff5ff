"""The smoke test's checks: CHECKS maps each name to one small async function."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.logs import LogPipeline

CANARY_MESSAGE = "Smoke test endpoint triggered. Logging is confirmed to be operational."


@dataclass(frozen=True)
class CheckContext:
    """What a check may use: the run it belongs to and the exporter's parts."""

    run_id: str
    trigger: str
    logs: LogPipeline
    timeout_seconds: float


@dataclass(frozen=True)
class Component:
    """One part a check looked at (a log sink, say), and how long it took to answer."""

    ok: bool
    seconds: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """A check's verdict: ok, or the cause; ``detail`` goes into the response body."""

    ok: bool
    error: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    components: Mapping[str, Component] = field(default_factory=dict)


CheckFn = Callable[[CheckContext], Awaitable[CheckResult]]


async def check_logging(ctx: CheckContext) -> CheckResult:
    """Every sink wrote, flushed and (for files) read back this run's canary in time."""
    outcomes = await ctx.logs.deliver_canary(
        CANARY_MESSAGE, ctx.timeout_seconds, run_id=ctx.run_id, trigger=ctx.trigger
    )
    sinks = {name: "ok" if outcome.ok else "fail" for name, outcome in outcomes.items()}
    components = {name: Component(o.ok, o.seconds, o.error) for name, o in outcomes.items()}
    for name, outcome in outcomes.items():
        if not outcome.ok:
            reason = outcome.reason.value if outcome.reason else None
            detail = {"sinks": sinks, "failed_sink": name, "reason": reason}
            return CheckResult(False, outcome.error, detail, components)
    return CheckResult(True, detail={"sinks": sinks}, components=components)


CHECKS: Mapping[str, CheckFn] = {
    "logging": check_logging,
}
