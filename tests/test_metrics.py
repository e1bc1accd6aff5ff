"""Every metric by its exact name, its series made at start-up, /metrics as Prometheus reads it."""

from __future__ import annotations

import asyncio
import gzip
import platform
from asyncio.subprocess import PIPE

import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from exporter import __version__
from exporter.app import create_app
from exporter.config import Settings
from exporter.metrics import create_connection_metrics
from tests.conftest import StartExporter
from tests.promtool import require


def test_every_known_series_exists_at_zero_before_any_run() -> None:
    registry = CollectorRegistry()
    create_app(Settings(interval_seconds=15), registry)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    for trigger in ("startup", "schedule", "http"):
        assert value("smoke_test_runs_total", trigger=trigger) == 0
        assert value("smoke_test_failures_total", trigger=trigger) == 0
    assert value("smoke_test_success") == 0
    assert value("smoke_test_last_run_timestamp_seconds") == 0
    assert value("smoke_test_last_success_timestamp_seconds") == 0
    assert value("smoke_test_interval_seconds") == 15
    assert value("smoke_test_duration_seconds_count") == 0
    bounds = ["0.00025", "0.0005", "0.001", "0.0025", "0.01", "0.05", "0.25", "1.0", "2.5", "5.0"]
    for histogram in ("smoke_test_duration_seconds", "smoke_test_log_delivery_seconds"):
        buckets = [
            sample
            for family in registry.collect()
            for sample in family.samples
            if sample.name == histogram + "_bucket"
        ]
        # One series of buckets each: the run's, and the one sink's (stdout)
        assert [bucket.labels["le"] for bucket in buckets] == [*bounds, "+Inf"]
        assert {bucket.value for bucket in buckets} == {0}
    assert value("smoke_test_check_success", check="logging") == 0
    assert value("smoke_test_check_duration_seconds", check="logging") == 0
    for reason in ("write", "open", "timeout", "verify"):
        assert value("smoke_test_log_sink_errors_total", sink="stdout", reason=reason) == 0
    for reason in ("queue_full", "rate_limit"):
        assert value("smoke_test_log_records_dropped_total", sink="stdout", reason=reason) == 0
    assert value("smoke_test_log_delivery_seconds_count", sink="stdout") == 0
    # No log file configured: no file series.
    assert value("smoke_test_log_records_dropped_total", sink="file", reason="queue_full") is None
    # Only the routes called in production are timed; the others are only counted.
    for handler in ("smoke_test", "metrics", "healthy", "ready"):
        assert value("smoke_test_http_request_duration_seconds_count", handler=handler) == 0
    for handler in ("index", "health_smoke_test", "history", "reload", "openapi", "other"):
        assert value("smoke_test_http_request_duration_seconds_count", handler=handler) is None
    assert value("smoke_test_http_requests_rejected_total") == 0
    assert (
        value(
            "smoke_test_exporter_build_info",
            version=__version__,
            python_version=platform.python_version(),
        )
        == 1
    )
    assert value("process_resident_memory_bytes") is not None
    assert value("python_info", **_python_info()) == 1


def _python_info() -> dict[str, str]:
    major, minor, patch = platform.python_version_tuple()
    return {
        "implementation": platform.python_implementation(),
        "major": major,
        "minor": minor,
        "patchlevel": patch,
        "version": platform.python_version(),
    }


def test_the_connection_counters_are_made_at_zero_on_the_registry_passed_in() -> None:
    registry = CollectorRegistry()
    counted = create_connection_metrics(registry)
    families = {family.name: family for family in registry.collect()}
    assert {name: (f.type, [s.value for s in f.samples]) for name, f in families.items()} == {
        "smoke_test_http_request_heads_refused": ("counter", [0.0]),
        "smoke_test_http_connections_evicted": ("counter", [0.0]),
    }
    counted.heads_refused.inc()
    counted.evicted.inc(2)
    assert registry.get_sample_value("smoke_test_http_request_heads_refused_total") == 1
    assert registry.get_sample_value("smoke_test_http_connections_evicted_total") == 2
    assert REGISTRY.get_sample_value("smoke_test_http_connections_evicted_total") is None


def test_no_created_series_and_no_global_registry_use() -> None:
    registry = CollectorRegistry()
    create_app(Settings(), registry)
    names = {sample.name for metric in registry.collect() for sample in metric.samples}
    assert not [name for name in names if name.endswith("_created")]
    assert "smoke_test_success" not in {m.name for m in REGISTRY.collect()}


async def test_successful_run_sets_gauges_and_counters(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    runs = exporter.sample("smoke_test_runs_total", trigger="http")
    count = exporter.sample("smoke_test_duration_seconds_count")
    delivered = exporter.sample("smoke_test_log_delivery_seconds_count", sink="file")
    _, body = await exporter.smoke()
    assert exporter.sample("smoke_test_runs_total", trigger="http") == runs + 1
    assert exporter.sample("smoke_test_failures_total", trigger="http") == 0
    assert exporter.sample("smoke_test_success") == 1
    assert exporter.sample("smoke_test_duration_seconds_count") == count + 1
    assert exporter.sample("smoke_test_log_delivery_seconds_count", sink="file") == delivered + 1
    assert exporter.sample("smoke_test_check_success", check="logging") == 1
    # The body rounds to microseconds; the gauge keeps the full float.
    assert exporter.sample("smoke_test_check_duration_seconds", check="logging") == pytest.approx(
        body["checks"]["logging"]["duration_seconds"], abs=1e-6
    )
    last_run = exporter.sample("smoke_test_last_run_timestamp_seconds")
    assert last_run == exporter.sample("smoke_test_last_success_timestamp_seconds")
    assert last_run > 1.7e9


async def test_failed_run_keeps_the_last_success_time(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    last_success = exporter.sample("smoke_test_last_success_timestamp_seconds")
    exporter.log_path.unlink()
    exporter.log_path.mkdir()
    status, _ = await exporter.smoke()
    assert status == 503
    assert exporter.sample("smoke_test_last_success_timestamp_seconds") == last_success
    assert exporter.sample("smoke_test_last_run_timestamp_seconds") > last_success
    assert exporter.sample("smoke_test_failures_total", trigger="http") == 1
    assert exporter.sample("smoke_test_success") == 0


async def test_metrics_endpoint_serves_text_format_without_running_the_smoke_test(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    runs = sum(
        exporter.sample("smoke_test_runs_total", trigger=t) for t in ("startup", "schedule", "http")
    )
    async with exporter.client.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await response.text()
    families = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "smoke_test_success",
        "smoke_test_last_run_timestamp_seconds",
        "smoke_test_last_success_timestamp_seconds",
        "smoke_test_runs",
        "smoke_test_failures",
        "smoke_test_duration_seconds",
        "smoke_test_check_success",
        "smoke_test_check_duration_seconds",
        "smoke_test_log_sink_errors",
        "smoke_test_log_delivery_seconds",
        "smoke_test_exporter_build_info",
        "smoke_test_http_requests",
        "smoke_test_http_request_duration_seconds",
        "smoke_test_http_requests_rejected",
        "process_cpu_seconds",
        "python_info",
    } <= families
    assert runs == sum(
        exporter.sample("smoke_test_runs_total", trigger=t) for t in ("startup", "schedule", "http")
    )


async def test_metrics_endpoint_negotiates_openmetrics_gzip_and_name_filters(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(openmetrics=True)
    async with exporter.client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    ) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert (await response.text()).endswith("# EOF\n")
    async with exporter.client.get(
        "/metrics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    ) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert b"smoke_test_success" in gzip.decompress(await response.read())
    async with exporter.client.get("/metrics", params={"name[]": "smoke_test_success"}) as response:
        lines = [line for line in (await response.text()).splitlines() if line[0] != "#"]
        assert lines == ["smoke_test_success 1.0"]


async def test_by_default_a_scrape_asking_for_openmetrics_gets_the_text_format(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    async with exporter.client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    ) as response:
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "# EOF" not in await response.text()


async def test_head_on_metrics_answers_without_a_body(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    async with exporter.client.head("/metrics") as response:
        assert response.status == 200
        assert await response.read() == b""


async def test_custom_telemetry_path_serves_metrics_and_metrics_is_404(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(telemetry_path="/prom")
    async with exporter.client.get("/prom") as response:
        assert response.status == 200
        assert "smoke_test_success 1.0" in await response.text()
    async with exporter.client.get("/metrics") as response:
        assert response.status == 404


async def test_promtool_finds_nothing_to_report_in_live_metrics(
    start_exporter: StartExporter,
) -> None:
    promtool = require("promtool")
    exporter = await start_exporter()
    await exporter.smoke()
    async with exporter.client.get("/metrics") as response:
        text = await response.read()
    check = await asyncio.create_subprocess_exec(
        promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(check.communicate(text), 30)
    assert (check.returncode, out, err) == (0, b"", b"")
