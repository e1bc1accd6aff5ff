"""The health+json answer of a failing run: each check where it failed, the run's causes."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import StartExporter
from tests.rsyslog import free_port

HEALTH = {"Accept": "application/health+json"}


async def test_a_failing_check_keeps_its_component_in_the_health_answer(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    port = free_port(socket.SOCK_STREAM)  # nothing listens there
    config = tmp_path / "smoke-test.yml"
    config.write_text(
        "checks:\n"
        "  - {name: logging, type: logging}\n"
        f"  - {{name: db, type: tcp, address: '127.0.0.1:{port}'}}\n"
        f"  - {{name: web, type: http, url: 'http://127.0.0.1:{port}/x'}}\n"
    )
    exporter = await start_exporter(config_file=config)
    async with exporter.client.get("/smoke-test", headers=HEALTH) as response:
        assert response.status == 503
        body = await response.json(content_type="application/health+json")
    refused = f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert body["status"] == "fail"
    assert body["output"] == (
        f"check db failed on address 127.0.0.1:{port}: {refused}; "
        f"check web failed on url http://127.0.0.1:{port}/x: {refused}"
    )
    [db] = body["checks"]["db:duration"]
    [web] = body["checks"]["web:duration"]
    assert (db["componentId"], db["componentType"], db["status"], db["output"]) == (
        f"127.0.0.1:{port}",
        "address",
        "fail",
        refused,
    )
    assert (web["componentId"], web["componentType"], web["status"], web["output"]) == (
        f"http://127.0.0.1:{port}/x",
        "url",
        "fail",
        refused,
    )
    [logging] = body["checks"]["logging:duration"]
    assert (logging["componentId"], logging["componentType"]) == ("logging", "component")
