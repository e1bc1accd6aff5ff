"""Reload: read --config.file again and swap in its sinks and checks between runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exporter.build import build_checks, build_sinks
from exporter.checks import STORE_TYPES
from exporter.checks.base import CheckDeps
from exporter.config_file import ConfigError
from exporter.logs.pipeline import LogPipeline
from exporter.metrics import Metrics
from exporter.plan import Plan, SinkSpec, plan_warnings
from exporter.run.runner import Runner
from exporter.sinks import Sink, SinkDeps

log = logging.getLogger("exporter.reload")

# Seconds a removed sink gets to write what was queued for it before it is abandoned.
RETIRE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Live:
    """The plan in use and the sinks built from it."""

    plan: Plan
    sinks: Sequence[tuple[SinkSpec, Sink]]


class Reloader:
    """Loads the plan again on demand; a bad one leaves the running one in place."""

    def __init__(
        self,
        load: Callable[[], Plan],
        live: Live,
        *,
        logs: LogPipeline,
        runner: Runner,
        metrics: Metrics,
        sink_deps: SinkDeps,
        check_deps: CheckDeps,
        on_change: Callable[[Plan], None],
    ) -> None:
        self._load = load
        self.live = live
        self._logs = logs
        self._runner = runner
        self._metrics = metrics
        self._sink_deps = sink_deps
        self._check_deps = check_deps
        self._on_change = on_change
        self._lock = asyncio.Lock()

    async def reload(self) -> str | None:
        """Load and apply the config file; None when applied, else the one-line error."""
        async with self._lock:
            try:
                # Off the event loop: a slow disk, a FIFO or a big file must not stop serving.
                plan = await asyncio.to_thread(self._load)
            except ConfigError as error:
                self._metrics.reload_ok.set(0)
                log.warning(str(error))
                return str(error)
            sinks = build_sinks(plan.sinks, self._sink_deps, self.live.sinks)
            checks = build_checks(plan.checks, self._check_deps)
            async with self._runner.between_runs():
                retired = self._logs.swap([sink for _, sink in sinks])
                self._runner.set_checks(checks)
                self._check_deps.stores.keep(
                    spec.name for spec in plan.checks if spec.type in STORE_TYPES
                )
                self.live = Live(plan, sinks)
                self._metrics.reload_ok.set(1)
                self._metrics.reload_time.set_to_current_time()
                self._on_change(plan)
            for warning in plan_warnings(plan):
                log.warning(warning)
            stuck = await asyncio.to_thread(self._logs.retire, retired, RETIRE_TIMEOUT)
            log.info(
                "Configuration reloaded",
                extra={
                    "sinks": [spec.name for spec in plan.sinks],
                    "checks": [spec.name for spec in plan.checks],
                    "sinks_not_drained": stuck,
                },
            )
            return None
