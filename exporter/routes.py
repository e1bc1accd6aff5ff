"""ROUTES: every endpoint once, with what the app, auth, OpenAPI and the landing page need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp.typedefs import Handler

from exporter.web import handlers, operations
from exporter.web.openapi import openapi_json
from exporter.web.operations import Schema


@dataclass(frozen=True)
class Route:
    """One endpoint: method and path, the route name (the ``handler`` metric label), its
    handler, whether it needs no credentials, its OpenAPI operation, and what the landing
    page says of it (no line when None)."""

    method: str
    path: str
    name: str
    handler: Handler
    operation: Callable[[], Schema]
    open: bool = False
    link: str | None = None


def route_table(telemetry_path: str) -> tuple[Route, ...]:
    """Every endpoint; the metrics one at ``telemetry_path``."""
    return (
        Route("GET", "/", "index", handlers.index, operations.index),
        Route(
            "GET",
            "/smoke-test",
            "smoke_test",
            handlers.smoke_test,
            operations.smoke_test,
            link="run the smoke test (JSON; 200 pass, 503 fail)",
        ),
        Route(  # the seed's path
            "GET",
            "/health/smoke-test",
            "health_smoke_test",
            handlers.smoke_test,
            operations.health_smoke_test,
        ),
        Route(
            "GET",
            "/smoke-test/history",
            "history",
            handlers.history,
            operations.history,
            link="the last runs and failures (JSON)",
        ),
        Route(
            "GET",
            telemetry_path,
            "metrics",
            handlers.metrics,
            operations.metrics,
            link="metrics for Prometheus",
        ),
        # Liveness stays open: it says nothing about the checks.
        Route(
            "GET", "/-/healthy", "healthy", handlers.healthy, operations.healthy, True, "liveness"
        ),
        Route("GET", "/-/ready", "ready", handlers.ready, operations.ready, link="readiness"),
        Route(
            "POST",
            "/-/reload",
            "reload",
            handlers.reload,
            operations.reload,
            link="reload --config.file",
        ),
        Route("GET", "/openapi.json", "openapi", openapi_json, operations.openapi),
    )


def own_paths() -> frozenset[str]:
    """The paths of every endpoint but metrics: --web.telemetry-path may not take one."""
    return frozenset(r.path for r in route_table("/metrics") if r.name != "metrics")
