"""The smoke-test, landing, liveness and readiness handlers, over real HTTP."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest

from exporter import __version__
from tests.conftest import CANARY, StartExporter
from tests.pipes import stuck_pipe


async def test_passing_smoke_test_answers_200_with_the_seed_contract(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    async with exporter.client.get("/smoke-test") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        body = await response.json()
    assert set(body) == {
        "status",
        "message",
        "timestamp",
        "run_id",
        "trigger",
        "duration_seconds",
        "checks",
    }
    assert body["status"] == "ok"
    assert body["message"] == "PetSage systems are purring perfectly!"
    assert body["trigger"] == "http"
    assert re.fullmatch(r"[0-9a-f]{32}", body["run_id"])
    stamp = datetime.fromisoformat(body["timestamp"])
    assert stamp.utcoffset() is not None
    assert stamp.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 10
    assert 0 < body["duration_seconds"] < 1
    logging_check = body["checks"]["logging"]
    assert set(logging_check) == {"status", "duration_seconds", "sinks"}
    assert logging_check["status"] == "ok"
    assert logging_check["sinks"] == {"stdout": "ok", "file": "ok"}
    assert 0 < logging_check["duration_seconds"] <= body["duration_seconds"]


async def test_smoke_test_writes_the_canary_with_run_id_to_every_sink(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    _, body = await exporter.smoke()
    for lines in (exporter.stdout_lines(), exporter.file_lines()):
        canaries = [line for line in lines if line.get("run_id") == body["run_id"]]
        assert len(canaries) == 1
        canary = canaries[0]
        assert canary["message"] == CANARY
        assert canary["level"] == "INFO"
        assert canary["logger"] == "exporter.canary"
        assert canary["trigger"] == "http"
        assert datetime.fromisoformat(canary["timestamp"]).utcoffset() == UTC.utcoffset(None)


async def test_seed_path_is_an_alias_of_the_smoke_test(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    before = exporter.sample("smoke_test_runs_total", trigger="http")
    status, body = await exporter.smoke("/health/smoke-test")
    assert status == 200
    assert body["status"] == "ok"
    assert body["message"] == "PetSage systems are purring perfectly!"
    assert exporter.sample("smoke_test_runs_total", trigger="http") == before + 1


async def test_head_runs_the_smoke_test_without_a_body(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    before = exporter.sample("smoke_test_runs_total", trigger="http")
    async with exporter.client.head("/smoke-test") as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert await response.read() == b""
    assert exporter.sample("smoke_test_runs_total", trigger="http") == before + 1


async def test_custom_message_is_returned_on_success(start_exporter: StartExporter) -> None:
    exporter = await start_exporter(message="All good here")
    status, body = await exporter.smoke()
    assert (status, body["message"]) == (200, "All good here")


async def test_healthy_answers_200_text_without_running_a_check(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    runs = exporter.sample("smoke_test_runs_total", trigger="http")
    async with exporter.client.get("/-/healthy") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        assert await response.text() == "Healthy\n"
    assert exporter.sample("smoke_test_runs_total", trigger="http") == runs


async def test_ready_is_503_until_the_startup_run_finishes(
    start_exporter: StartExporter,
) -> None:
    with stuck_pipe() as pipe:
        # stdout cannot take the canary, so the start-up run lasts the whole timeout.
        exporter = await start_exporter(
            stdout_fd=pipe.write_fd, wait_ready=False, timeout_seconds=1.0
        )
        async with exporter.client.get("/-/ready") as response:
            assert response.status == 503
            assert await response.text() == (
                "Not ready: the start-up smoke test has not finished\n"
            )
        await asyncio.sleep(1.5)
        async with exporter.client.get("/-/ready") as response:
            assert response.status == 200
            assert await response.text() == "Ready\n"
        assert exporter.sample("smoke_test_runs_total", trigger="startup") == 1
        assert exporter.sample("smoke_test_failures_total", trigger="startup") == 1
        pipe.drain()
        await exporter.client.close()


async def test_landing_page_names_the_exporter_and_links_the_endpoints(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(telemetry_path="/custom-metrics")
    async with exporter.client.get("/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert f"<h1>smoke-test-exporter {__version__}</h1>" in page
    for link in ("smoke-test", "custom-metrics", "-/healthy", "-/ready"):
        assert f'<a href="{link}">' in page


@pytest.mark.parametrize("path", ["/smoke-test", "/health/smoke-test"])
async def test_concurrent_callers_share_one_run(start_exporter: StartExporter, path: str) -> None:
    exporter = await start_exporter()
    before = exporter.sample("smoke_test_runs_total", trigger="http")
    results = await asyncio.gather(*(exporter.smoke(path) for _ in range(8)))
    run_ids = {body["run_id"] for _, body in results}
    assert {status for status, _ in results} == {200}
    runs = exporter.sample("smoke_test_runs_total", trigger="http") - before
    # Eight callers at once coalesce: as many runs as distinct run_ids, and fewer than callers.
    assert runs == len(run_ids)
    assert runs < 8
    canaries = [line for line in exporter.file_lines() if line.get("run_id") in run_ids]
    assert len(canaries) == len(run_ids)


async def test_callers_joining_a_run_in_flight_get_its_run_id(
    start_exporter: StartExporter,
) -> None:
    with stuck_pipe() as pipe:
        exporter = await start_exporter(stdout_fd=pipe.write_fd, timeout_seconds=0.5)
        # The start-up run timed out on the stuck stdout; this one waits on it too.
        first = asyncio.create_task(exporter.smoke())
        await asyncio.sleep(0.2)
        second = asyncio.create_task(exporter.smoke())
        (status1, body1), (status2, body2) = await asyncio.gather(first, second)
        assert body1["run_id"] == body2["run_id"]
        assert (status1, status2) == (503, 503)
        assert exporter.sample("smoke_test_runs_total", trigger="http") == 1
        pipe.drain()
        await exporter.client.close()
