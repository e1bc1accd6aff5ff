"""The http check in a running exporter: from the config file to the smoke test's answers,
its health+json form, and its certificate series."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporter.run.check_series import CheckSeries, Shape
from exporter.verdict import CheckResult, Status
from tests.certs import CA
from tests.conftest import StartExporter
from tests.support import http_check as support
from tests.support.http_check import server, serving

# The fixtures these tests share, by the names the tests ask for.
base = support.base
ca = support.ca


async def test_an_http_check_in_the_config_file_fails_the_run_and_recovers(
    start_exporter: StartExporter, tmp_path: Path, ca: CA
) -> None:
    context = serving(ca, datetime.timedelta(days=30))
    async with server(context) as url:
        config = tmp_path / "smoke-test.yml"
        config.write_text(
            "checks:\n"
            f"  - {{name: web, type: http, url: '{url}/health', tls: {{ca_file: {ca.cert}}},"
            " json_path: status, json_equals: up}\n"
        )
        exporter = await start_exporter(config_file=config)
        status, body = await exporter.smoke()
        assert (status, body["checks"]["web"]["status"]) == (200, "ok")
        assert body["checks"]["web"]["http_status"] == 200
        assert body["checks"]["web"]["observed_unit"] == "s"
        expiry = exporter.sample("smoke_test_check_cert_expiry_timestamp_seconds", check="web")
        assert abs(expiry - (time.time() + 30 * 86400)) < 120
    status, body = await exporter.smoke()  # the server is gone
    assert status == 503
    assert body["checks"]["web"]["reason"] == "connect"
    assert body["message"].startswith(f"Smoke test failed: check web failed on url {url}/health: ")
    assert exporter.sample("smoke_test_check_failures_total", check="web", reason="connect") == 1
    assert exporter.sample("smoke_test_check_failures_total", check="web", reason="json") == 0
    port = int(url.rsplit(":", 1)[1])
    async with server(context, port):  # back on the same port: the next run passes
        status, body = await exporter.smoke()
    assert (status, body["checks"]["web"]["status"]) == (200, "ok")


async def test_the_health_json_answer_carries_the_observed_latency_on_the_url(
    start_exporter: StartExporter, tmp_path: Path, base: str
) -> None:
    config = tmp_path / "smoke-test.yml"
    config.write_text(
        f"checks:\n  - {{name: web, type: http, url: '{base}/error'}}\n"
        f"  - {{name: disk, type: disk, path: '{tmp_path}', min_free_bytes: 0}}\n"
    )
    exporter = await start_exporter(config_file=config)
    async with exporter.client.get(
        "/smoke-test", headers={"Accept": "application/health+json"}
    ) as response:
        assert response.status == 503
        body = await response.json(content_type="application/health+json")
    assert set(body["checks"]) == {
        "web:duration",
        "web:responseTime",
        "disk:duration",
        "disk:freeSpace",
    }
    [latency] = body["checks"]["web:responseTime"]
    assert {k: v for k, v in latency.items() if k not in ("observedValue", "time")} == {
        "componentId": f"{base}/error",
        "componentType": "url",
        "observedUnit": "s",
        "status": "fail",
        "output": "status 500, expected 2xx",
    }
    assert latency["observedValue"] > 0
    [free] = body["checks"]["disk:freeSpace"]
    assert (free["componentType"], free["observedUnit"], free["status"]) == (
        "path",
        "bytes",
        "pass",
    )
    assert free["observedValue"] == pytest.approx(
        os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize, rel=0.01
    )


def test_the_certificate_series_comes_with_a_handshake_and_goes_with_the_check() -> None:
    registry = CollectorRegistry()
    series = CheckSeries(registry)
    series.add("web", Shape(("connect",), observes=True))
    name = "smoke_test_check_cert_expiry_timestamp_seconds"
    assert registry.get_sample_value(name, {"check": "web"}) is None  # no handshake yet
    series.record("web", CheckResult(Status.OK, cert_expiry=1_900_000_000.0), 0.1)
    assert registry.get_sample_value(name, {"check": "web"}) == 1_900_000_000.0
    series.remove("web")
    assert registry.get_sample_value(name, {"check": "web"}) is None
    assert registry.get_sample_value("smoke_test_check_success", {"check": "web"}) is None
