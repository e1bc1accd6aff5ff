"""Runs the smoke test: one run at a time shared by concurrent callers, on a schedule too."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from exporter.checks import CheckContext, CheckFn, CheckResult
from exporter.history import Entry, History
from exporter.logs import LogPipeline
from exporter.metrics import Metrics

log = logging.getLogger("exporter.runner")


class Trigger(enum.Enum):
    """What started a run: the ``trigger`` label and log field."""

    STARTUP = "startup"
    SCHEDULE = "schedule"
    HTTP = "http"


@dataclass(frozen=True)
class CheckOutcome:
    """A check's result and how long it took."""

    result: CheckResult
    duration_seconds: float

    def body(self) -> dict[str, Any]:
        """The check's entry in the response body."""
        body: dict[str, Any] = {
            "status": "ok" if self.result.ok else "fail",
            "duration_seconds": round(self.duration_seconds, 6),
            **self.result.detail,
        }
        if not self.result.ok:
            body["error"] = self.result.error
        return body


@dataclass(frozen=True)
class RunResult:
    """One finished run."""

    run_id: str
    trigger: Trigger
    started: datetime
    duration_seconds: float
    checks: Mapping[str, CheckOutcome]
    success_message: str

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(outcome.result.ok for outcome in self.checks.values())

    @property
    def cause(self) -> str | None:
        """None on success; else the first failed check and its cause."""
        for name, outcome in self.checks.items():
            if not outcome.result.ok:
                sink = outcome.result.detail.get("failed_sink")
                where = f" on sink {sink}" if sink else ""
                return f"check {name} failed{where}: {outcome.result.error}"
        return None

    @property
    def message(self) -> str:
        """The configured message on success; else what failed and why."""
        cause = self.cause
        return self.success_message if cause is None else f"Smoke test failed: {cause}"

    def body(self) -> dict[str, Any]:
        """The JSON body of /smoke-test."""
        return {
            "status": "ok" if self.ok else "fail",
            "message": self.message,
            "timestamp": self.started.isoformat(),
            "run_id": self.run_id,
            "trigger": self.trigger.value,
            "duration_seconds": round(self.duration_seconds, 6),
            "checks": {name: outcome.body() for name, outcome in self.checks.items()},
        }


@dataclass(frozen=True)
class Answer:
    """What an HTTP caller gets: a run's result, and whether it was run for this caller."""

    result: RunResult
    cached: bool
    age_seconds: float

    def body(self) -> dict[str, Any]:
        """The result's body, marked cached (with its age) or fresh."""
        return {
            **self.result.body(),
            "cached": self.cached,
            "age_seconds": round(self.age_seconds, 6),
        }


class Runner:
    """Owns the checks and their metrics; concurrent callers of ``run`` share one run."""

    def __init__(
        self,
        checks: Mapping[str, CheckFn],
        logs: LogPipeline,
        metrics: Metrics,
        *,
        timeout_seconds: float,
        interval_seconds: float,
        message: str,
        min_interval_seconds: float = 0.0,
        on_result: Callable[[], None] = lambda: None,
    ) -> None:
        self._checks = checks
        self._logs = logs
        self._metrics = metrics
        self._timeout = timeout_seconds
        self._interval = interval_seconds
        self._message = message
        self._min_interval = min_interval_seconds
        self._on_result = on_result
        self._last_started = -math.inf  # monotonic
        self._last_finished = -math.inf
        self._inflight: asyncio.Future[RunResult] | None = None
        self.last: RunResult | None = None
        self.history = History()
        self.ready = asyncio.Event()

    async def run(self, trigger: Trigger) -> RunResult:
        """Start a run, or join the one in flight."""
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._run(trigger))
        # shield: a caller that goes away must not cancel the run the others wait for.
        return await asyncio.shield(self._inflight)

    async def answer(self) -> Answer:
        """For an HTTP caller: join the run in flight; else the latest result if the last run
        started less than the minimum interval ago; else a new run."""
        if self._inflight is None or self._inflight.done():
            recent = time.monotonic() - self._last_started < self._min_interval
            if recent and self.last is not None:
                return Answer(self.last, True, time.monotonic() - self._last_finished)
        return Answer(await self.run(Trigger.HTTP), False, 0.0)

    async def schedule(self) -> None:
        """The start-up run, then one run every interval (none when the interval is 0)."""
        await self.run(Trigger.STARTUP)
        self.ready.set()
        if self._interval <= 0:
            return
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self._interval
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                await self.run(Trigger.SCHEDULE)
            except Exception:  # keep the schedule alive; the failure is in the logs
                log.exception("Scheduled run crashed")
            # Keep to the grid; after a run longer than the interval, skip the missed ticks.
            next_at = max(next_at + self._interval, loop.time())

    async def close(self) -> None:
        """Cancel a run still in flight (shutdown)."""
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._inflight

    async def _run(self, trigger: Trigger) -> RunResult:
        run_id = uuid.uuid4().hex
        self._last_started = time.monotonic()
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        ctx = CheckContext(run_id, trigger.value, self._logs, self._timeout)
        outcomes = await asyncio.gather(*(self._check(fn, ctx) for fn in self._checks.values()))
        result = RunResult(
            run_id=run_id,
            trigger=trigger,
            started=started,
            duration_seconds=time.perf_counter() - t0,
            checks=dict(zip(self._checks, outcomes, strict=True)),
            success_message=self._message,
        )
        self._record(result)
        self._on_result()
        self._last_finished = time.monotonic()
        return result

    @staticmethod
    async def _check(fn: CheckFn, ctx: CheckContext) -> CheckOutcome:
        t0 = time.perf_counter()
        try:
            result = await fn(ctx)
        except Exception as error:  # a broken check is a failed check
            log.exception("Check raised", extra={"run_id": ctx.run_id})
            result = CheckResult(False, f"check raised {error!r}")
        return CheckOutcome(result, time.perf_counter() - t0)

    def _record(self, result: RunResult) -> None:
        m, now, trigger = self._metrics, time.time(), result.trigger.value
        m.runs.labels(trigger).inc()
        m.duration.observe(result.duration_seconds)
        m.last_run.set(now)
        m.success.set(1 if result.ok else 0)
        for name, outcome in result.checks.items():
            m.check_success.labels(name).set(1 if outcome.result.ok else 0)
            m.check_duration.labels(name).set(outcome.duration_seconds)
        self.last = result
        self.history.add(
            Entry(
                time=result.started.isoformat(),
                trigger=trigger,
                status="ok" if result.ok else "fail",
                duration_seconds=round(result.duration_seconds, 6),
                run_id=result.run_id,
                cause=result.cause,
            )
        )
        if result.ok:
            m.last_success.set(now)
            if log.isEnabledFor(logging.DEBUG):
                body = json.dumps(Answer(result, cached=False, age_seconds=0.0).body())
                log.debug(
                    f"Smoke test successful. Response prepared: {body}",
                    extra={"run_id": result.run_id, "trigger": trigger},
                )
        else:
            m.failures.labels(trigger).inc()
            log.warning(
                result.message,
                extra={"run_id": result.run_id, "trigger": trigger},
            )
