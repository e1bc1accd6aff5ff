"""The grpc, websocket and dns checks in a running exporter, from the config file: their answer and
its OpenAPI schema, the health+json latency entries, a retried pass, and their series."""

from __future__ import annotations

import json
from pathlib import Path

from exporter.checks import CHECK_TYPES
from tests.conftest import StartExporter
from tests.support.dnsmasq import ZONE, dnsmasq
from tests.support.grpc_server import NOT_SERVING, SERVING, grpc_server
from tests.support.openapi_spec import answer, fetch_spec, operation
from tests.support.ws_server import Mode, ws_server


async def test_grpc_websocket_and_dns_checks_answer_through_the_exporter_and_recover(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    records = [f"--host-record=www.{ZONE},192.0.2.10"]
    with grpc_server() as grpc, dnsmasq(tmp_path / "dnsmasq", records) as resolver:
        grpc.set("", SERVING)
        async with ws_server() as ws:
            config = tmp_path / "smoke-test.yml"
            config.write_text(
                "checks:\n"
                "  - {name: logging, type: logging}\n"
                f"  - {{name: api, type: grpc, address: '{grpc.address}', retries: 1,"
                " retry_delay: 50ms}\n"
                f"  - {{name: live, type: websocket, url: '{ws.url}', send: ping,"
                " expect_regex: '^ping$'}\n"
                f"  - {{name: names, type: dns, query_name: www.{ZONE},"
                f" server: '{resolver.address}', expect: ['^192\\.0\\.2\\.10$']}}\n"
            )
            exporter = await start_exporter(config_file=config)
            status, headers, raw = await answer(exporter, "GET", "/smoke-test")
            body = json.loads(raw)
            assert (status, body["status"]) == (200, "ok")
            assert (body["checks"]["api"]["status"], body["checks"]["api"]["observed_unit"]) == (
                "ok",
                "s",
            )
            assert body["checks"]["api"]["serving_status"] == "SERVING"
            assert (body["checks"]["live"]["status"], body["checks"]["live"]["http_status"]) == (
                "ok",
                101,
            )
            assert (body["checks"]["names"]["status"], body["checks"]["names"]["answers"]) == (
                "ok",
                ["192.0.2.10"],
            )
            spec = await fetch_spec(exporter)
            spec.check(operation("/smoke-test", "get", 200), headers, raw)

            health = {"Accept": "application/health+json"}
            status, headers, raw = await answer(exporter, "GET", "/smoke-test", headers=health)
            document = json.loads(raw)
            spec.check(operation("/smoke-test", "get", 200), headers, raw)
            [api] = document["checks"]["api:responseTime"]
            [live] = document["checks"]["live:responseTime"]
            assert (api["componentType"], api["observedUnit"]) == ("address", "s")
            assert (live["componentType"], live["observedUnit"]) == ("url", "s")
            [names] = document["checks"]["names:responseTime"]
            assert names["observedUnit"] == "s"

            grpc.set("", NOT_SERVING)
            ws.mode = Mode.FORBID
            resolver.restart([])  # the name is gone: NXDOMAIN
            status, headers, raw = await answer(exporter, "GET", "/smoke-test")
            body = json.loads(raw)
            spec.check(operation("/smoke-test", "get", 503), headers, raw)
            assert status == 503
            api_check, live_check = body["checks"]["api"], body["checks"]["live"]
            assert (api_check["reason"], len(api_check["attempts"])) == ("not_serving", 2)
            assert live_check["reason"] == "handshake"
            assert (body["checks"]["names"]["reason"], body["checks"]["names"]["error"]) == (
                "rcode",
                f"www.{ZONE} A: rcode NXDOMAIN, expected NOERROR",
            )
            retried = {"check": "api", "reason": "not_serving"}
            assert exporter.sample("smoke_test_check_retries_total", **retried) == 1
            assert (
                exporter.sample("smoke_test_check_failures_total", check="live", reason="handshake")
                == 1
            )

            grpc.set("", SERVING)
            ws.mode = Mode.ECHO
            resolver.restart(records)
            status, _, raw = await answer(exporter, "GET", "/smoke-test")
            assert (status, json.loads(raw)["status"]) == (200, "ok")
    for reason in CHECK_TYPES["grpc"].reason_values:
        labels = {"check": "api", "reason": reason}
        assert exporter.registry.get_sample_value("smoke_test_check_retries_total", labels) == (
            1 if reason == "not_serving" else 0
        ), reason
