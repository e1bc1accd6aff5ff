"""JSON error bodies and per-route request metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import StartExporter


async def test_unknown_path_is_a_json_404(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    async with exporter.client.get("/nope?x=1") as response:
        assert response.status == 404
        assert response.content_type == "application/json"
        assert await response.json() == {
            "status": 404,
            "error": "Not Found",
            "message": "no endpoint at /nope; see / for the list",
        }


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_wrong_method_is_a_json_405_with_allow(
    start_exporter: StartExporter, method: str
) -> None:
    exporter = await start_exporter()
    async with exporter.client.request(method, "/smoke-test") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET,HEAD"
        assert await response.json() == {
            "status": 405,
            "error": "Method Not Allowed",
            "message": f"method {method} is not allowed on /smoke-test; use GET, HEAD",
        }


async def test_wrong_method_does_not_run_the_smoke_test(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    before = exporter.sample("smoke_test_runs_total", trigger="http")
    async with exporter.client.post("/smoke-test") as response:
        assert response.status == 405
    assert exporter.sample("smoke_test_runs_total", trigger="http") == before


async def test_declared_large_body_is_refused_with_413_before_it_is_read(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    async with exporter.client.get("/-/healthy", data=b"x" * 4096) as response:
        assert response.status == 413
        assert await response.json() == {
            "status": 413,
            "error": "Request Entity Too Large",
            "message": "request body of 4096 bytes refused: no endpoint takes more than 1024 bytes",
        }


async def test_chunked_body_is_refused_with_413(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"x" * 100

    async with exporter.client.get("/-/healthy", data=chunks()) as response:
        assert response.status == 413
        assert (await response.json())["message"] == "chunked request bodies are refused"


async def test_small_body_is_ignored(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    async with exporter.client.get("/-/healthy", data=b"x" * 10) as response:
        assert response.status == 200


async def test_requests_are_counted_by_route_name_method_and_code(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()

    def count(handler: str, method: str, code: str) -> float:
        value = exporter.registry.get_sample_value(
            "smoke_test_http_requests_total",
            {"handler": handler, "method": method, "code": code},
        )
        return value or 0.0

    await exporter.smoke()
    await exporter.smoke("/health/smoke-test")
    for path in ("/metrics", "/-/healthy", "/-/ready", "/", "/a/b/c", "/x?y"):
        async with exporter.client.get(path):
            pass
    async with exporter.client.post("/metrics"):
        pass
    assert count("smoke_test", "GET", "200") == 1
    assert count("health_smoke_test", "GET", "200") == 1
    assert count("metrics", "GET", "200") == 1
    assert count("healthy", "GET", "200") == 1
    assert count("ready", "GET", "200") == 1
    assert count("index", "GET", "200") == 1
    assert count("other", "GET", "404") == 2
    assert count("other", "POST", "405") == 1
    assert exporter.sample("smoke_test_http_request_duration_seconds_count", handler="other") == 3


async def test_paths_and_methods_create_no_new_series(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    for n in range(3):
        async with exporter.client.get(f"/random-{n}"):
            pass
        async with exporter.client.request("PUT", f"/-/healthy/{n}"):
            pass
    names = {
        (metric.name, tuple(sorted(sample.labels.items())))
        for metric in exporter.registry.collect()
        for sample in metric.samples
        if metric.name.startswith("smoke_test_http")
    }
    for n in range(3):
        assert not any(f"random-{n}" in str(labels) for _, labels in names)
    assert {dict(labels)["handler"] for _, labels in names} == {
        "index",
        "smoke_test",
        "health_smoke_test",
        "history",
        "metrics",
        "healthy",
        "ready",
        "reload",
        "openapi",
        "other",
    }
