"""The smoke-test, history, liveness and readiness handlers, over real HTTP."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporter import __version__
from exporter.web.health_json import wants_health_json
from exporter.web.keys import RUNNER
from tests.conftest import CANARY, StartExporter
from tests.pipes import stuck_pipe
from tests.wait import until


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
        "cached",
        "age_seconds",
    }
    assert (body["cached"], body["age_seconds"]) == (False, 0.0)
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
        await until(exporter.app[RUNNER].ready.is_set, "the start-up run ended")
        async with exporter.client.get("/-/ready") as response:
            assert response.status == 200
            assert await response.text() == "Ready\n"
        assert exporter.sample("smoke_test_runs_total", trigger="startup") == 1
        assert exporter.sample("smoke_test_failures_total", trigger="startup") == 1
        pipe.drain()
        await exporter.client.close()


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
        # The start-up run timed out on the stuck stdout; this one waits on it too, up to its
        # timeout after its canary was logged. The canary in the file says it has begun.
        first = asyncio.create_task(exporter.smoke())
        await exporter.until_line(
            exporter.file_lines,
            lambda line: line.get("message") == CANARY and line.get("trigger") == "http",
        )
        second = asyncio.create_task(exporter.smoke())
        (status1, body1), (status2, body2) = await asyncio.gather(first, second)
        assert body1["run_id"] == body2["run_id"]
        assert (status1, status2) == (503, 503)
        assert exporter.sample("smoke_test_runs_total", trigger="http") == 1
        pipe.drain()
        await exporter.client.close()


async def test_health_json_is_served_when_the_accept_header_asks_for_it(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    async with exporter.client.get(
        "/smoke-test", headers={"Accept": "application/health+json"}
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/health+json; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        body = await response.json(content_type="application/health+json")
    assert body["status"] == "pass"
    assert body["releaseId"] == __version__
    assert body["version"] == __version__.split(".")[0]
    assert "output" not in body
    run_id = body["notes"][0].removeprefix("run_id ")
    assert body["notes"] == [f"run_id {run_id}", "trigger http", "fresh"]
    assert set(body["checks"]) == {"logging:duration", "logging:delivery"}
    [duration] = body["checks"]["logging:duration"]
    assert duration["componentId"] == "logging"
    assert duration["observedUnit"] == "s"
    assert duration["status"] == "pass"
    assert 0 < duration["observedValue"] < 1
    delivery = body["checks"]["logging:delivery"]
    assert [entry["componentId"] for entry in delivery] == ["stdout", "file"]
    for entry in delivery:
        assert entry["status"] == "pass"
        assert entry["componentType"] == "component"
        assert entry["observedUnit"] == "s"
        assert 0 < entry["observedValue"] <= duration["observedValue"]
        assert entry["time"] == duration["time"]
        assert "output" not in entry
    canaries = [line for line in exporter.file_lines() if line["message"] == CANARY]
    assert canaries[-1]["run_id"] == run_id


async def test_health_json_failure_names_the_cause_with_503(
    start_exporter: StartExporter, log_path: Path
) -> None:
    exporter = await start_exporter()
    log_path.unlink()
    log_path.mkdir()
    async with exporter.client.get(
        "/smoke-test", headers={"Accept": "application/health+json"}
    ) as response:
        assert response.status == 503
        body = await response.json(content_type="application/health+json")
    error = f"[Errno 21] Is a directory: '{log_path}'"
    assert body["status"] == "fail"
    assert body["output"] == f"check logging failed on sink file: {error}"
    assert body["checks"]["logging:duration"][0]["output"] == error
    stdout, file = body["checks"]["logging:delivery"]
    assert (stdout["status"], file["status"]) == ("pass", "fail")
    assert file["output"] == error
    assert file["observedValue"] is None


@pytest.mark.parametrize(
    ("accept", "health"),
    [
        ("application/health+json", True),
        ("application/json, application/health+json", True),
        ("application/health+json;q=0.5, application/json", False),
        ("application/health+json;q=0", False),
        ("application/json", False),
        ("*/*", False),
        ("", False),
    ],
)
def test_health_json_negotiation(accept: str, health: bool) -> None:
    assert wants_health_json(accept) is health


async def test_history_keeps_the_last_runs_and_failures_apart(
    start_exporter: StartExporter, log_path: Path
) -> None:
    exporter = await start_exporter()
    log_path.unlink()
    log_path.mkdir()
    _, failed = await exporter.smoke()
    log_path.rmdir()
    passed = [body for _, body in [await exporter.smoke() for _ in range(60)]]
    async with exporter.client.get("/smoke-test/history") as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        history = await response.json()
    assert [run["run_id"] for run in history["runs"]] == [
        body["run_id"] for body in reversed(passed[-50:])
    ]
    assert history["failures"] == [
        {
            "time": failed["timestamp"],
            "trigger": "http",
            "status": "fail",
            "duration_seconds": failed["duration_seconds"],
            "run_id": failed["run_id"],
            "cause": f"check logging failed on sink file: [Errno 21] Is a directory: '{log_path}'",
            "checks": {
                "logging": {
                    "status": "fail",
                    "reason": "open",
                    "error": f"[Errno 21] Is a directory: '{log_path}'",
                }
            },
        }
    ]
    newest = history["runs"][0]
    assert newest == {
        "time": passed[-1]["timestamp"],
        "trigger": "http",
        "status": "ok",
        "duration_seconds": passed[-1]["duration_seconds"],
        "run_id": passed[-1]["run_id"],
        "cause": None,
        "checks": {"logging": {"status": "ok"}},
    }
