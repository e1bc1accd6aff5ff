"""The HTTP request series: every route counted, only the routes called in production timed."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter.app import create_app
from exporter.config import Settings
from exporter.metrics import HTTP_BUCKETS, TIMED_HANDLERS
from exporter.web.limit import RESERVED_ROUTES
from exporter.web.routes import route_table
from tests.conftest import StartExporter

DURATION = "smoke_test_http_request_duration_seconds"
REQUESTS = "smoke_test_http_requests_total"
Series = tuple[str, tuple[tuple[str, str], ...]]  # a sample's name and its sorted labels


def duration_series(registry: CollectorRegistry) -> dict[Series, float]:
    """Every sample of the request duration histogram, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        if metric.name == DURATION
        for sample in metric.samples
    }


def test_the_timed_routes_are_the_production_ones_of_the_route_table() -> None:
    routes = {route.name: route.path for route in route_table("/metrics")}
    assert {name: routes[name] for name in TIMED_HANDLERS} == {
        "smoke_test": "/smoke-test",
        "metrics": "/metrics",
        "healthy": "/-/healthy",
        "ready": "/-/ready",
    }
    # The routes that keep a reserve under --web.max-requests are the ones Prometheus and the
    # probes call: each of them is timed.
    assert set(RESERVED_ROUTES) <= set(TIMED_HANDLERS)


def test_only_the_production_routes_have_histogram_series_at_zero_from_start_up() -> None:
    registry = CollectorRegistry()
    create_app(Settings(), registry)
    les = [str(bound) for bound in HTTP_BUCKETS] + ["+Inf"]
    expected: dict[Series, float] = {}
    for handler in ("smoke_test", "metrics", "healthy", "ready"):
        for le in les:
            expected[(DURATION + "_bucket", (("handler", handler), ("le", le)))] = 0.0
        expected[(DURATION + "_count", (("handler", handler),))] = 0.0
        expected[(DURATION + "_sum", (("handler", handler),))] = 0.0
    assert len(expected) == 36  # 4 routes x (7 buckets, count, sum), from 10 x 9
    assert duration_series(registry) == expected


async def test_a_route_not_called_in_production_is_counted_but_not_timed(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    config = tmp_path / "smoke-test.yml"  # a file to reload
    config.write_text("checks:\n  - {name: logging, type: logging}\n")
    exporter = await start_exporter(config_file=config)
    before = duration_series(exporter.registry)
    for path in ("/smoke-test/history", "/openapi.json", "/", "/smoke-test/history", "/nope"):
        async with exporter.client.get(path):
            pass
    await exporter.smoke("/health/smoke-test")
    async with exporter.client.post("/-/reload") as response:
        assert response.status == 200

    def requests(handler: str, code: str, method: str = "GET") -> float | None:
        labels = {"handler": handler, "method": method, "code": code}
        return exporter.registry.get_sample_value(REQUESTS, labels)

    assert requests("history", "200") == 2
    assert requests("openapi", "200") == 1
    assert requests("index", "200") == 1
    assert requests("other", "404") == 1
    assert requests("health_smoke_test", "200") == 1
    assert requests("reload", "200", "POST") == 1
    # Not one duration series appeared, and none of the timed ones moved.
    assert duration_series(exporter.registry) == before


async def test_a_production_route_is_counted_and_timed(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    for _ in range(2):
        async with exporter.client.get("/-/healthy") as response:
            assert response.status == 200
    labels = {"handler": "healthy", "method": "GET", "code": "200"}
    assert exporter.registry.get_sample_value(REQUESTS, labels) == 2
    assert exporter.sample(DURATION + "_count", handler="healthy") == 2
    assert exporter.sample(DURATION + "_bucket", handler="healthy", le="+Inf") == 2
    assert exporter.sample(DURATION + "_sum", handler="healthy") > 0
    assert exporter.sample(DURATION + "_count", handler="smoke_test") == 0
