"""The route table: every endpoint once, with what the app, auth, OpenAPI and the landing
page need."""

from __future__ import annotations

from exporter import paths
from exporter.web import handlers, openapi_status, operations, status_page
from exporter.web.openapi import openapi_json
from exporter.web.route import Route


def route_table(telemetry_path: str) -> tuple[Route, ...]:
    """Every endpoint; the metrics one at ``telemetry_path``."""
    return (
        Route("GET", paths.INDEX, "index", status_page.page, openapi_status.index),
        Route(
            "GET",
            paths.STATUS,
            "status",
            status_page.status_json,
            openapi_status.status,
            link="the status page's figures (JSON)",
        ),
        Route(
            "GET",
            paths.SMOKE_TEST,
            "smoke_test",
            handlers.smoke_test,
            operations.smoke_test,
            link="run the smoke test (JSON; 200 pass, 503 fail)",
        ),
        Route(  # the seed's path
            "GET",
            paths.HEALTH_SMOKE_TEST,
            "health_smoke_test",
            handlers.smoke_test,
            operations.health_smoke_test,
        ),
        Route(
            "GET",
            paths.HISTORY,
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
            "GET", paths.HEALTHY, "healthy", handlers.healthy, operations.healthy, True, "liveness"
        ),
        Route("GET", paths.READY, "ready", handlers.ready, operations.ready, link="readiness"),
        Route(
            "POST",
            paths.RELOAD,
            "reload",
            handlers.reload,
            operations.reload,
            link="reload --config.file",
        ),
        Route("GET", paths.OPENAPI, "openapi", openapi_json, operations.openapi),
    )
