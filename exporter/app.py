"""create_app(settings, registry): routes, middleware and the lifecycle of the exporter's parts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from exporter.build import build_checks, build_sinks
from exporter.checks.base import CheckDeps
from exporter.checks.canaries import CanaryLedger
from exporter.checks.stores.registry import Stores
from exporter.config import Settings
from exporter.config_file import load_plan
from exporter.heartbeat.build import build_targets
from exporter.heartbeat.sender import Heartbeat, HeartbeatSeries
from exporter.logs.access_log import JsonAccessLogger
from exporter.logs.pipeline import LogPipeline
from exporter.metrics import create_metrics
from exporter.plan import Plan
from exporter.reload import Live, Reloader
from exporter.run.check_series import CheckSeries
from exporter.run.results import RunResult, Trigger
from exporter.run.runner import Runner
from exporter.session import SharedSession
from exporter.sinks import SinkDeps
from exporter.sinks.series import SinkSeries
from exporter.web.auth import basic_auth, extra_headers
from exporter.web.keys import (
    INSTANCE,
    LOGS,
    METRICS,
    RELOADER,
    ROUTES,
    RUNNER,
    SCRAPE,
    SETTINGS,
)
from exporter.web.limit import RequestLimit
from exporter.web.middleware import OTHER, instrument, json_errors
from exporter.web.openapi import forget_document
from exporter.web.routes import route_table
from exporter.web.scrape import SharedRendering
from exporter.webconfig.load import WebConfig

log = logging.getLogger("exporter")

# Seconds the log queues get to drain at shutdown before a stuck sink is abandoned.
DRAIN_TIMEOUT = 5.0
# Seconds in-flight requests get to finish after a stop signal.
SHUTDOWN_TIMEOUT = 5.0
# Seconds a connection may stay open without a whole request. aiohttp's keep-alive timer starts
# when the connection opens and bytes do not reset it, so this also cuts off a client that drips
# its request line a byte at a time (aiohttp's default is an hour).
KEEPALIVE_TIMEOUT = 5.0


def runner_options() -> dict[str, Any]:
    """Options for the web.AppRunner that serves the app: JSON access log, bounded shutdown,
    idle and dripping connections closed, aiohttp's limits on a request's lines."""
    return {
        "access_log_class": JsonAccessLogger,
        "shutdown_timeout": SHUTDOWN_TIMEOUT,
        "keepalive_timeout": KEEPALIVE_TIMEOUT,
        # aiohttp's limits on one line and on the number of header fields, pinned: releases
        # before aio-libs/aiohttp#11955 took 32 768 fields, and each costs a few objects. The
        # cap on a head's total, 16 KiB, is exporter.headers'.
        "max_line_size": 8190,
        "max_field_size": 8190,
        "max_headers": 128,
    }


def create_app(
    settings: Settings,
    registry: CollectorRegistry,
    *,
    stdout_fd: int | None = None,
    web_config: WebConfig | None = None,
    plan: Plan | None = None,
) -> web.Application:
    """Build the whole exporter; nothing starts until the application does.

    ``plan`` is what main() already read from --config.file; without it the file is read
    here, and ConfigError is raised when it cannot be used.
    """
    plan = load_plan(settings) if plan is None else plan
    scrape = SharedRendering(registry, openmetrics=settings.openmetrics)
    table = route_table(settings.telemetry_path)
    metrics = create_metrics(
        registry,
        triggers=[trigger.value for trigger in Trigger],
        handlers=[route.name for route in table] + [OTHER],
        interval_seconds=settings.interval_seconds,
    )
    stdout = sys.stdout.fileno() if stdout_fd is None else stdout_fd
    sink_deps = SinkDeps(SinkSeries(registry), stdout)
    sinks = build_sinks(plan.sinks, sink_deps)
    logs = LogPipeline(
        [sink for _, sink in sinks],
        settings.log_level,
        access_log=settings.access_log,
        access_per_second=settings.access_log_per_second,
        access_probes=settings.access_log_probes,
        access_bytes_per_second=settings.access_log_bytes_per_second,
        access_burst_bytes=settings.access_log_bytes_per_second / 5,
    )
    http = SharedSession()
    heartbeat = Heartbeat(HeartbeatSeries(registry))

    def finished(result: RunResult) -> None:
        scrape.clear()  # a scrape after a run never sees the run before it
        heartbeat.notify(result)

    instance = settings.instance or socket.gethostname()
    canaries = CanaryLedger(instance, settings.canary_key.key if settings.canary_key else None)
    check_deps = CheckDeps(logs, http, registry, canaries, Stores(registry, canaries))
    runner = Runner(
        build_checks(plan.checks, check_deps),
        metrics.run,
        CheckSeries(registry, settings.slo_window_seconds),
        interval_seconds=settings.interval_seconds,
        min_interval_seconds=settings.min_interval_seconds,
        message=settings.message,
        on_result=finished,
    )
    # Outermost first: headers go on every answer, and a 401 is counted like any other answer.
    # The cap on requests in flight sits just inside the count: a refusal costs next to nothing,
    # and it is counted as the 503 its client got.
    open_routes = [route.name for route in table if route.open]
    app = web.Application(
        middlewares=[
            *extra_headers(web_config),
            instrument,
            RequestLimit(settings.max_requests, metrics.http_rejected),
            json_errors,
            *basic_auth(web_config, open_routes),
        ]
    )

    def heartbeat_to(plan: Plan) -> None:
        targets = build_targets(plan.heartbeat, registry, http, instance)
        timeout = plan.heartbeat.timeout if plan.heartbeat else 0.0
        heartbeat.configure(targets, timeout)

    def changed(plan: Plan) -> None:
        scrape.clear()
        forget_document(app)
        heartbeat_to(plan)

    heartbeat_to(plan)

    app[SETTINGS] = settings
    app[INSTANCE] = instance
    app[METRICS] = metrics
    app[LOGS] = logs
    app[RUNNER] = runner
    app[SCRAPE] = scrape
    app[ROUTES] = table
    app[RELOADER] = Reloader(
        lambda: load_plan(settings),
        Live(plan, sinks),
        logs=logs,
        runner=runner,
        metrics=metrics,
        sink_deps=sink_deps,
        check_deps=check_deps,
        on_change=changed,
    )
    for route in table:
        if route.method == "GET":  # and HEAD
            app.router.add_get(route.path, route.handler, name=route.name)
        else:
            app.router.add_route(route.method, route.path, route.handler, name=route.name)
    app.cleanup_ctx.append(_logging)
    app.cleanup_ctx.append(_http_client(http))
    app.cleanup_ctx.append(_heartbeat(heartbeat))
    app.cleanup_ctx.append(_schedule)
    return app


def _heartbeat(heartbeat: Heartbeat) -> Callable[[web.Application], AsyncIterator[None]]:
    """The task that sends each run's heartbeat; started before the first run."""

    async def sender(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(heartbeat.serve())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return sender


def _http_client(http: SharedSession) -> Callable[[web.Application], AsyncIterator[None]]:
    """The shared HTTP client of the checks: open while the app runs."""

    async def client(app: web.Application) -> AsyncIterator[None]:
        await http.open()
        yield
        await http.close()

    return client


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
