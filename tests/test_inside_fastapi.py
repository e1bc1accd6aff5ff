"""The smoke test inside a FastAPI service: the router's route, OpenAPI entry and lifespan,
beside the service's own routes, middleware and registry."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from exporter.inside.fastapi_router import DESCRIPTION, SUMMARY, smoke_test_router
from exporter.inside.settings import InsideSettings
from tests.conftest import CANARY
from tests.support.inside import host_logger
from tests.wait import wait_until

MESSAGE = "PetSage systems are purring perfectly!"
LOGGER = "petsage.fastapi"


def host(registry: CollectorRegistry, events: list[str], **settings: object) -> FastAPI:
    """A service with its own lifespan, route and middleware; the router included as the
    original design's main.py includes it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("host started")
        yield
        events.append("host stopped")

    app = FastAPI(title="PetSage", lifespan=lifespan)

    @app.middleware("http")
    async def host_header(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["X-Host"] = "petsage"
        return response

    @app.get("/pets")
    async def pets() -> list[str]:
        return ["Rex"]

    fields: dict[str, object] = {"logger": LOGGER, "interval_seconds": 0, "min_interval_seconds": 0}
    fields.update(settings)
    app.include_router(smoke_test_router(InsideSettings(**fields), registry=registry))  # type: ignore[arg-type]
    return app


def runs(registry: CollectorRegistry, trigger: str) -> float | None:
    return registry.get_sample_value("smoke_test_runs_total", {"trigger": trigger})


def test_the_router_runs_with_the_service_s_lifespan_beside_its_own_route(tmp_path: Path) -> None:
    registry, events = CollectorRegistry(), list[str]()
    log_file = tmp_path / "host.log"
    with host_logger(LOGGER, log_file), TestClient(host(registry, events)) as client:
        wait_until(lambda: runs(registry, "startup") == 1, "the start-up run")
        pets = client.get("/pets")
        answer = client.get("/health/smoke-test")
    body = answer.json()
    assert events == ["host started", "host stopped"]
    assert (pets.status_code, pets.json(), pets.headers["X-Host"]) == (200, ["Rex"], "petsage")
    assert (answer.status_code, answer.headers["X-Host"]) == (200, "petsage")
    assert answer.headers["Cache-Control"] == "no-store"
    assert (body["status"], body["message"], body["trigger"]) == ("ok", MESSAGE, "http")
    assert body["checks"]["logging"]["handlers"] == {f"FileHandler {log_file}": "ok"}
    assert log_file.read_text(encoding="utf-8").splitlines() == [CANARY, CANARY]
    assert runs(registry, "http") == 1
    assert registry.get_sample_value("smoke_test_success") == 1


def test_background_runs_stop_when_the_lifespan_ends(tmp_path: Path) -> None:
    registry, events = CollectorRegistry(), list[str]()
    with host_logger(LOGGER, tmp_path / "host.log"):
        with TestClient(host(registry, events, interval_seconds=0.05)):
            wait_until(lambda: (runs(registry, "schedule") or 0) >= 2, "two scheduled runs")
        stopped_at = runs(registry, "schedule")
        assert events == ["host started", "host stopped"]
    assert runs(registry, "schedule") == stopped_at


def test_without_the_lifespan_each_call_runs_the_smoke_test(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    client = TestClient(host(registry, []))  # not entered: no lifespan, as the seed's test
    with host_logger(LOGGER, tmp_path / "host.log", level=logging.WARNING) as logger:
        failed = client.get("/health/smoke-test")
        logger.setLevel(logging.INFO)
        passed = client.get("/health/smoke-test")
    assert (failed.status_code, failed.json()["checks"]["logging"]["reason"]) == (503, "filtered")
    assert (passed.status_code, passed.json()["status"]) == (200, "ok")
    assert runs(registry, "startup") == 0
    assert runs(registry, "http") == 2
    assert registry.get_sample_value("smoke_test_failures_total", {"trigger": "http"}) == 1


def test_exclude_and_health_json_are_served_as_by_the_exporter(tmp_path: Path) -> None:
    with host_logger(LOGGER, tmp_path / "host.log"):
        client = TestClient(host(CollectorRegistry(), []))
        unknown = client.get("/health/smoke-test", params={"exclude": "nope"})
        health = client.get("/health/smoke-test", headers={"Accept": "application/health+json"})
        excluded = client.get("/health/smoke-test", params={"exclude": "logging"})
    assert unknown.status_code == 400
    assert unknown.json() == {
        "status": 400,
        "error": "Bad Request",
        "message": "exclude: no check named nope (checks: logging)",
    }
    assert health.headers["Content-Type"] == "application/health+json"
    assert health.json()["status"] == "pass"
    assert excluded.json()["checks"]["logging"]["excluded"] is True


def test_the_openapi_document_keeps_the_original_design_s_operation() -> None:
    document = TestClient(host(CollectorRegistry(), [])).get("/openapi.json").json()
    operation = document["paths"]["/health/smoke-test"]["get"]
    assert operation["summary"] == SUMMARY == "Perform a System Smoke Test"
    assert operation["description"] == DESCRIPTION
    assert operation["tags"] == ["Health & Monitoring"]
    assert sorted(operation["responses"]) == ["200", "400", "404", "422", "503"]
    schema = document["components"]["schemas"]["SmokeTestResponse"]
    assert schema["required"] == ["status", "message", "timestamp", "run_id", "checks"]
    assert "/pets" in document["paths"]
