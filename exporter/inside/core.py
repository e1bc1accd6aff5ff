"""The smoke test inside a service, whichever web framework serves it: its checks built from the
settings, its runs on the service's lifespan, and its answer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from exporter.build import build_checks
from exporter.checks import CHECK_TYPES
from exporter.checks.base import CheckDeps
from exporter.checks.canaries import CanaryLedger
from exporter.checks.logging import LoggingOptions
from exporter.checks.stores.registry import Stores
from exporter.config_file import load_checks
from exporter.inside.check import HostLoggingCheck, check_type
from exporter.inside.settings import InsideSettings
from exporter.plan import CheckSpec
from exporter.run.check_series import CheckSeries
from exporter.run.results import Trigger, unknown_excluded
from exporter.run.run_series import create_run_series
from exporter.run.runner import Runner
from exporter.session import SharedSession
from exporter.web import health_json

JSON = "application/json"
# Seconds a stopping service waits for a canary still being written.
DRAIN_SECONDS = 2.0


@dataclass(frozen=True)
class Reply:
    """What the smoke test answers, for the framework to send."""

    status: int
    body: dict[str, Any]
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = (("Cache-Control", "no-store"),)


def specs(settings: InsideSettings) -> tuple[CheckSpec, ...]:
    """The checks of the settings: the config file's, those built in code, or the logging
    check. ConfigError names the file and key of a config file that cannot be used."""
    if settings.config_file is not None:
        return load_checks(Path(settings.config_file), settings.timeout_seconds, "config_file")
    if settings.checks is not None:
        return settings.checks
    return (CheckSpec("logging", "logging", settings.timeout_seconds, LoggingOptions()),)


class InsideSmokeTest:
    """The checks, their series on ``registry``, and the runner; runs in the background while
    ``running`` (the service's lifespan), and on demand for each caller without it."""

    def __init__(self, settings: InsideSettings, registry: CollectorRegistry) -> None:
        instance = settings.instance or socket.gethostname()
        canaries = CanaryLedger(instance, settings.canary_key)
        self._http = SharedSession()
        self._users = 0  # callers and lifespans using the HTTP client now
        deps = CheckDeps(None, self._http, registry, canaries, Stores(registry, canaries))
        self._logging_checks: list[HostLoggingCheck] = []
        types = {**CHECK_TYPES, "logging": check_type(settings.logger, self._logging_checks)}
        self.runner = Runner(
            build_checks(specs(settings), deps, types),
            create_run_series(
                registry,
                triggers=[trigger.value for trigger in Trigger],
                interval_seconds=settings.interval_seconds,
            ),
            CheckSeries(registry),
            interval_seconds=settings.interval_seconds,
            min_interval_seconds=settings.min_interval_seconds,
            message=settings.message,
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The start-up run and the background runs, for as long as the block lasts."""
        async with self._client():
            task = asyncio.create_task(self.runner.schedule())
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await self.runner.close()
                # A canary still being written finishes before the service closes its handlers.
                for check in self._logging_checks:
                    await check.drained(DRAIN_SECONDS)

    async def respond(self, exclude: Iterable[str], accept: str) -> Reply:
        """Run the smoke test, or join the run in flight: 200 when it passes, 503 when not,
        400 for an ``exclude`` naming no check. health+json when ``accept`` prefers it."""
        runner = self.runner
        excluded = frozenset(exclude)
        problem = unknown_excluded(excluded, runner.checks)
        if problem is not None:
            return Reply(400, {"status": 400, "error": "Bad Request", "message": problem})
        async with self._client():
            answer = (await runner.answer()).excluding(excluded)
        status = 200 if answer.result.ok else 503
        if health_json.wants_health_json(accept):
            return Reply(status, health_json.render(answer), health_json.MEDIA_TYPE)
        return Reply(status, answer.body())

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[None]:
        """The checks' HTTP client, open while a lifespan or a caller uses it: a service that
        never starts the lifespan (FastAPI's TestClient outside ``with``) still gets answers."""
        self._users += 1
        if self._users == 1:
            await self._http.open()
        try:
            yield
        finally:
            self._users -= 1
            if self._users == 0:
                await self._http.close()
