"""Runs the smoke test: one run at a time shared by concurrent callers, on a schedule too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime

from exporter.run.attempts import PlannedCheck, attempted
from exporter.run.check_series import CheckSeries
from exporter.run.history import Entry, History, brief
from exporter.run.results import Answer, RunResult, Trigger
from exporter.run.run_series import RunSeries
from exporter.run.timeline import Timeline

log = logging.getLogger("exporter.run.runner")


class Runner:
    """Owns the checks and their metrics; concurrent callers of ``run`` share one run."""

    def __init__(
        self,
        checks: Mapping[str, PlannedCheck],
        metrics: RunSeries,
        series: CheckSeries,
        *,
        interval_seconds: float,
        message: str,
        min_interval_seconds: float = 0.0,
        on_result: Callable[[RunResult], None] = lambda result: None,
    ) -> None:
        self._checks = dict(checks)
        self._metrics = metrics
        self._series = series  # each check's own series, kept in step with the checks run
        for name, planned in self._checks.items():
            series.add(name, planned.shape)
            series.objectify(name, planned.objective)
        self._between_runs = asyncio.Lock()
        self._interval = interval_seconds
        self._message = message
        self._min_interval = min_interval_seconds
        self._on_result = on_result
        self._last_started = -math.inf  # monotonic
        self._last_finished = -math.inf
        self._inflight: asyncio.Future[RunResult] | None = None
        self.last: RunResult | None = None
        self.history = History()
        self.timeline = Timeline()  # each check's strip and uptime, for the status page
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

    @property
    def checks(self) -> Mapping[str, PlannedCheck]:
        """The checks a run runs now, in answer order."""
        return self._checks

    @contextlib.asynccontextmanager
    async def between_runs(self) -> AsyncIterator[None]:
        """Wait for the run in flight to end, and start no run until the block is left."""
        async with self._between_runs:
            yield

    def set_checks(self, checks: Mapping[str, PlannedCheck]) -> None:
        """Run ``checks`` from the next run on (call inside ``between_runs``): the series of
        checks no longer named leave the registry, new ones start at 0."""
        for name, planned in self._checks.items():
            if name not in checks or checks[name].shape != planned.shape:
                self._series.remove(name)
        for name, planned in checks.items():
            if name not in self._checks or self._checks[name].shape != planned.shape:
                self._series.add(name, planned.shape)
            self._series.objectify(name, planned.objective)
        self.timeline.keep(checks)
        self._checks = dict(checks)

    async def close(self) -> None:
        """Cancel a run still in flight (shutdown)."""
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._inflight

    async def _run(self, trigger: Trigger) -> RunResult:
        async with self._between_runs:
            return await self._run_checks(trigger)

    async def _run_checks(self, trigger: Trigger) -> RunResult:
        run_id = uuid.uuid4().hex
        self._last_started = time.monotonic()
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        checks = self._checks
        outcomes = await asyncio.gather(
            *(attempted(planned, run_id, trigger) for planned in checks.values())
        )
        result = RunResult(
            run_id=run_id,
            trigger=trigger,
            started=started,
            duration_seconds=time.perf_counter() - t0,
            checks=dict(zip(checks, outcomes, strict=True)),
            success_message=self._message,
        )
        self._record(result)
        self._on_result(result)
        self._last_finished = time.monotonic()
        return result

    def _record(self, result: RunResult) -> None:
        m, now, trigger = self._metrics, time.time(), result.trigger.value
        m.runs.labels(trigger).inc()
        m.duration.observe(result.duration_seconds)
        m.last_run.set(now)
        m.success.set(1 if result.ok else 0)
        for name, outcome in result.checks.items():
            self._series.record(name, outcome.result, outcome.duration_seconds, outcome.retried)
        self.last = result
        self.timeline.record(result)
        self.history.add(
            Entry(
                time=result.started.isoformat(),
                trigger=trigger,
                status=result.status.value,
                duration_seconds=round(result.duration_seconds, 6),
                run_id=result.run_id,
                cause=result.cause,
                checks={name: brief(o.result) for name, o in result.checks.items()},
            )
        )
        ids = {"run_id": result.run_id, "trigger": trigger}
        if result.ok:
            m.last_success.set(now)
            if log.isEnabledFor(logging.DEBUG):
                body = json.dumps(Answer(result, cached=False, age_seconds=0.0).body())
                log.debug(f"Smoke test successful. Response prepared: {body}", extra=ids)
        else:
            m.failures.labels(trigger).inc()
            log.warning(result.message, extra=ids)
