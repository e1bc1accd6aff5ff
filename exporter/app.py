"""create_app(settings, registry): routes, middleware and the lifecycle of the exporter's parts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from exporter import handlers
from exporter.access_log import JsonAccessLogger
from exporter.auth import basic_auth, extra_headers
from exporter.checks import CHECKS
from exporter.config import Settings
from exporter.keys import LOGS, METRICS, RUNNER, SETTINGS
from exporter.logs import LogPipeline
from exporter.metrics import Metrics, create_metrics
from exporter.middleware import OTHER, instrument, json_errors
from exporter.openapi import openapi_json
from exporter.runner import Runner, Trigger
from exporter.scrape import SharedRendering
from exporter.sinks import FileSink, Sink, StreamSink
from exporter.web_config import WebConfig

log = logging.getLogger("exporter")

# Seconds the log queues get to drain at shutdown before a stuck sink is abandoned.
DRAIN_TIMEOUT = 5.0
# Seconds in-flight requests get to finish after a stop signal.
SHUTDOWN_TIMEOUT = 5.0
# Seconds a connection may stay open without a whole request. aiohttp's keep-alive timer starts
# when the connection opens and bytes do not reset it, so this also cuts off a client that drips
# its request line a byte at a time (aiohttp's default is an hour).
KEEPALIVE_TIMEOUT = 5.0

Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]


def routes(
    settings: Settings, registry: CollectorRegistry, scrape: SharedRendering | None = None
) -> list[Route]:
    """Every endpoint as (path, name, handler); the name is the ``handler`` metric label."""
    scrape = scrape or SharedRendering(registry)
    return [
        ("/", "index", handlers.index),
        ("/smoke-test", "smoke_test", handlers.smoke_test),
        ("/health/smoke-test", "health_smoke_test", handlers.smoke_test),  # the seed's path
        ("/smoke-test/history", "history", handlers.history),
        (settings.telemetry_path, "metrics", scrape.handle),
        ("/-/healthy", "healthy", handlers.healthy),
        ("/-/ready", "ready", handlers.ready),
        ("/openapi.json", "openapi", openapi_json),
    ]


def build_sinks(settings: Settings, metrics: Metrics, stdout_fd: int) -> list[Sink]:
    """stdout always; the log file when one is configured."""
    sinks: list[Sink] = [StreamSink("stdout", stdout_fd, metrics)]
    if settings.log_file is not None:
        sinks.append(FileSink("file", settings.log_file, metrics))
    return sinks


def runner_options() -> dict[str, Any]:
    """Options for the web.AppRunner that serves the app: JSON access log, bounded shutdown,
    idle and dripping connections closed."""
    return {
        "access_log_class": JsonAccessLogger,
        "shutdown_timeout": SHUTDOWN_TIMEOUT,
        "keepalive_timeout": KEEPALIVE_TIMEOUT,
    }


def create_app(
    settings: Settings,
    registry: CollectorRegistry,
    *,
    stdout_fd: int | None = None,
    web_config: WebConfig | None = None,
) -> web.Application:
    """Build the whole exporter; nothing starts until the application does."""
    scrape = SharedRendering(registry)
    table = routes(settings, registry, scrape)
    metrics = create_metrics(
        registry,
        triggers=[trigger.value for trigger in Trigger],
        checks=CHECKS,
        handlers=[name for _, name, _ in table] + [OTHER],
        interval_seconds=settings.interval_seconds,
    )
    stdout = sys.stdout.fileno() if stdout_fd is None else stdout_fd
    logs = LogPipeline(
        build_sinks(settings, metrics, stdout),
        metrics,
        settings.log_level,
        access_log=settings.access_log,
        access_per_second=settings.access_log_per_second,
    )
    runner = Runner(
        CHECKS,
        logs,
        metrics,
        timeout_seconds=settings.timeout_seconds,
        interval_seconds=settings.interval_seconds,
        min_interval_seconds=settings.min_interval_seconds,
        message=settings.message,
        on_result=scrape.clear,  # a scrape after a run never sees the run before it
    )
    # Outermost first: headers go on every answer, and a 401 is counted like any other answer.
    app = web.Application(
        middlewares=[*extra_headers(web_config), instrument, json_errors, *basic_auth(web_config)]
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[LOGS] = logs
    app[RUNNER] = runner
    for path, name, handler in table:
        app.router.add_get(path, handler, name=name)
    app.cleanup_ctx.append(_logging)
    app.cleanup_ctx.append(_schedule)
    return app


async def _logging(app: web.Application) -> AsyncIterator[None]:
    """Start the log pipeline first; stop it last, after the final line, draining every queue."""
    logs = app[LOGS]
    logs.start()
    yield
    log.info("Stopped; draining the log queues")
    stuck = await asyncio.to_thread(logs.stop, DRAIN_TIMEOUT)
    if stuck:
        print(
            f"smoke-test-exporter: log sinks not drained within {DRAIN_TIMEOUT:g}s: "
            + ", ".join(stuck),
            file=sys.stderr,
        )


async def _schedule(app: web.Application) -> AsyncIterator[None]:
    """The start-up run and the background runs, cancelled at shutdown."""
    runner = app[RUNNER]
    task = asyncio.create_task(runner.schedule())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await runner.close()
