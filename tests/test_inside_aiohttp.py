"""The smoke test inside an aiohttp service: the sub-app beside the service's own routes,
middleware and registry."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry

from exporter.checks.disk import DiskOptions
from exporter.checks.logging import LoggingOptions
from exporter.config_file import ConfigError
from exporter.inside.aiohttp_app import SMOKE_TEST, smoke_test_app
from exporter.inside.settings import InsideSettings
from exporter.plan import CheckSpec
from tests.conftest import CANARY
from tests.support.inside import host_logger
from tests.wait import until

Client = TestClient[web.Request, web.Application]
MESSAGE = "PetSage systems are purring perfectly!"
LOGGER = "petsage.aiohttp"


@web.middleware
async def host_header(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The service's own middleware."""
    response = await handler(request)
    response.headers["X-Host"] = "petsage"
    return response


async def pets(request: web.Request) -> web.Response:
    return web.json_response(["Rex"])


def host(settings: InsideSettings, registry: CollectorRegistry) -> web.Application:
    """A service with its own route and middleware, the smoke test mounted under /health."""
    app = web.Application(middlewares=[host_header])
    app.router.add_get("/pets", pets)
    app.add_subapp("/health", smoke_test_app(settings, registry=registry))
    return app


def started(registry: CollectorRegistry) -> bool:
    """Whether the start-up run has finished (a request during it would join it)."""
    return registry.get_sample_value("smoke_test_runs_total", {"trigger": "startup"}) == 1


def quiet(**changes: object) -> InsideSettings:
    """Settings with no background runs and no reuse of a recent result."""
    fields: dict[str, object] = {"logger": LOGGER, "interval_seconds": 0, "min_interval_seconds": 0}
    fields.update(changes)
    return InsideSettings(**fields)  # type: ignore[arg-type]


async def test_the_smoke_test_answers_beside_the_service_s_own_route_and_middleware(
    aiohttp_client: pytest.FixtureDef[Client], tmp_path: Path
) -> None:
    registry = CollectorRegistry()
    log_file = tmp_path / "host.log"
    with host_logger(LOGGER, log_file):
        client = await aiohttp_client(host(quiet(), registry))  # type: ignore[operator]
        await until(lambda: started(registry), "the start-up run")
        pets_answer = await client.get("/pets")
        answer = await client.get("/health/smoke-test")
        body = await answer.json()
    assert (pets_answer.status, await pets_answer.json()) == (200, ["Rex"])
    assert pets_answer.headers["X-Host"] == "petsage"
    assert answer.status == 200
    assert answer.headers["X-Host"] == "petsage"
    assert answer.headers["Cache-Control"] == "no-store"
    assert (body["status"], body["message"], body["trigger"]) == ("ok", MESSAGE, "http")
    assert re.fullmatch(r"[0-9a-f]{32}", body["run_id"])
    assert body["checks"]["logging"]["logger"] == LOGGER
    assert body["checks"]["logging"]["handlers"] == {f"FileHandler {log_file}": "ok"}
    assert log_file.read_text(encoding="utf-8").splitlines() == [CANARY, CANARY]
    assert registry.get_sample_value("smoke_test_runs_total", {"trigger": "http"}) == 1
    assert registry.get_sample_value("smoke_test_failures_total", {"trigger": "http"}) == 0
    assert registry.get_sample_value("smoke_test_success") == 1
    assert registry.get_sample_value("smoke_test_check_success", {"check": "logging"}) == 1
    assert registry.get_sample_value("smoke_test_interval_seconds") == 0


async def test_a_logger_that_drops_info_fails_with_503_and_is_counted(
    aiohttp_client: pytest.FixtureDef[Client], tmp_path: Path
) -> None:
    registry = CollectorRegistry()
    with host_logger(LOGGER, tmp_path / "host.log", level=logging.WARNING):
        client = await aiohttp_client(host(quiet(), registry))  # type: ignore[operator]
        await until(lambda: started(registry), "the start-up run")
        answer = await client.get("/health/smoke-test")
        body = await answer.json()
    error = f"logger {LOGGER} drops INFO: its level is WARNING"
    assert answer.status == 503
    assert body["message"] == f"Smoke test failed: check logging failed on logger {LOGGER}: {error}"
    assert body["checks"]["logging"]["reason"] == "filtered"
    assert body["checks"]["logging"]["error"] == error
    for trigger in ("startup", "http"):
        assert registry.get_sample_value("smoke_test_failures_total", {"trigger": trigger}) == 1
    assert registry.get_sample_value("smoke_test_success") == 0
    labels = {"check": "logging", "reason": "filtered"}
    assert registry.get_sample_value("smoke_test_check_failures_total", labels) == 2


async def test_exclude_naming_no_check_is_a_400_with_a_json_reason(
    aiohttp_client: pytest.FixtureDef[Client], tmp_path: Path
) -> None:
    with host_logger(LOGGER, tmp_path / "host.log"):
        registry = CollectorRegistry()
        client = await aiohttp_client(host(quiet(), registry))  # type: ignore[operator]
        # The start-up run's canary is written before the test's handler is closed.
        await until(lambda: started(registry), "the start-up run")
        answer = await client.get("/health/smoke-test", params={"exclude": "nope"})
        body = await answer.json()
    assert answer.status == 400
    assert body == {
        "status": 400,
        "error": "Bad Request",
        "message": "exclude: no check named nope (checks: logging)",
    }


async def test_health_json_is_answered_when_asked_for(
    aiohttp_client: pytest.FixtureDef[Client], tmp_path: Path
) -> None:
    with host_logger(LOGGER, tmp_path / "host.log"):
        registry = CollectorRegistry()
        client = await aiohttp_client(host(quiet(), registry))  # type: ignore[operator]
        # The start-up run's canary is written before the test's handler is closed.
        await until(lambda: started(registry), "the start-up run")
        answer = await client.get(
            "/health/smoke-test", headers={"Accept": "application/health+json"}
        )
        body = await answer.json(content_type="application/health+json")
    assert answer.status == 200
    assert answer.content_type == "application/health+json"
    assert body["status"] == "pass"


async def test_checks_built_in_code_run_beside_the_logging_check(
    aiohttp_client: pytest.FixtureDef[Client], tmp_path: Path
) -> None:
    checks = (
        CheckSpec("logging", "logging", 1.0, LoggingOptions()),
        CheckSpec("data", "disk", 1.0, DiskOptions(path=tmp_path, min_free_ratio=0.0)),
    )
    registry = CollectorRegistry()
    with host_logger(LOGGER, tmp_path / "host.log"):
        client = await aiohttp_client(host(quiet(checks=checks), registry))  # type: ignore[operator]
        await until(lambda: started(registry), "the start-up run")
        body = await (await client.get("/health/smoke-test")).json()
    assert list(body["checks"]) == ["logging", "data"]
    assert body["checks"]["data"]["status"] == "ok"
    assert registry.get_sample_value("smoke_test_check_success", {"check": "data"}) == 1


async def test_background_runs_follow_the_service_s_lifespan(tmp_path: Path) -> None:
    registry = CollectorRegistry()

    def runs(trigger: str) -> float | None:
        return registry.get_sample_value("smoke_test_runs_total", {"trigger": trigger})

    with host_logger(LOGGER, tmp_path / "host.log"):
        runner = web.AppRunner(host(quiet(interval_seconds=0.05), registry))
        await runner.setup()
        try:
            await until(lambda: (runs("schedule") or 0) >= 2, "two scheduled runs")
        finally:
            await runner.cleanup()
        stopped_at = runs("schedule")
        # Nothing runs after cleanup: a further run would need the cancelled schedule.
        assert runs("startup") == 1
        assert registry.get_sample_value("smoke_test_interval_seconds") == 0.05
    assert runs("schedule") == stopped_at


def test_a_config_file_naming_sinks_is_refused_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "smoke.yml"
    config.write_text("sinks:\n  - {name: out, type: stdout}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        smoke_test_app(InsideSettings(config_file=config), registry=CollectorRegistry())
    assert str(raised.value) == (
        f"config_file: {config}: sinks: not used inside a service (known: checks)"
    )


def test_a_config_file_s_checks_are_the_exporter_s_format(tmp_path: Path) -> None:
    config = tmp_path / "smoke.yml"
    config.write_text(
        "checks:\n  - {name: logging, type: logging, timeout: 500ms}\n"
        "  - {name: data, type: disk, path: ., min_free_ratio: 0.01}\n",
        encoding="utf-8",
    )
    app = smoke_test_app(InsideSettings(config_file=config), registry=CollectorRegistry())
    checks = app[SMOKE_TEST].runner.checks
    assert list(checks) == ["logging", "data"]
    assert checks["logging"].timeout_seconds == 0.5


def test_the_default_registry_is_the_client_library_s_global_one() -> None:
    code = (
        "from prometheus_client import REGISTRY\n"
        "from exporter.inside.aiohttp_app import SMOKE_TEST, smoke_test_app\n"
        "smoke_test_app()\n"
        "print(REGISTRY.get_sample_value('smoke_test_success'),"
        " REGISTRY.get_sample_value('smoke_test_runs_total', {'trigger': 'http'}),"
        " REGISTRY.get_sample_value('process_cpu_seconds_total') is not None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "0.0 0.0 True\n"
    assert json.dumps(done.stderr) == '""'
