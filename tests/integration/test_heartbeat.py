"""The heartbeat against Debian's real prometheus-pushgateway: the pushed values are exact, and
once the exporter stops, a real Prometheus scraping the gateway sees the push age grow and
fires the shipped SmokeTestHeartbeatMissing."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import Start
from tests.integration.stack import Alertmanager, Prometheus, Pushgateway, poll, shorten_for
from tests.promtool import require
from tests.support.monitoring import ALERTS

JOB = "smoke-test-heartbeat"


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[Pushgateway]:
    server = Pushgateway(require("prometheus-pushgateway"), tmp_path / "pushgateway")
    yield server
    server.kill()


def pushed(gateway: Pushgateway, instance: str) -> dict[str, float]:
    """The samples of ``instance``'s group, by name and labels, as the gateway serves them."""
    samples = {}
    for line in gateway.metrics().splitlines():
        if line.startswith("#") or f'instance="{instance}"' not in line:
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return samples


def config(tmp_path: Path, gateway: Pushgateway) -> Path:
    path = tmp_path / "smoke-test.yml"
    path.write_text(f"heartbeat:\n  pushgateway: {{url: '{gateway.url}', job: {JOB}}}\n")
    return path


def test_each_run_pushes_its_exact_values_with_put(
    pushgateway: Pushgateway, start: Start, tmp_path: Path
) -> None:
    exporter = start(
        f"--config.file={config(tmp_path, pushgateway)}",
        "--smoke-test.interval=0",
        "--smoke-test.instance=web-1",
    )
    exporter.wait_ready()  # each GET below then runs a run of its own, trigger "http"
    for _ in range(3):
        assert exporter.get("/smoke-test").status == 200
    group = f'{{instance="web-1",job="{JOB}"'
    try:
        got = poll(
            "the third run's push",
            lambda: pushed(pushgateway, "web-1"),
            lambda s: s.get(f'smoke_test_runs_total{group},trigger="http"}}') == 3,
            10,
        )
    except AssertionError as missing:
        # What the exporter said of its heartbeat, and of anything else going wrong.
        said = [
            line
            for line in (tmp_path / "stdout.log").read_text().splitlines()
            if '"WARNING"' in line or '"ERROR"' in line
        ]
        raise AssertionError(
            f"{missing}\nexporter said: {said}\nstderr: {exporter.stderr}"
        ) from None
    metrics = exporter.get("/metrics").body.decode()
    last_run = next(
        float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("smoke_test_last_run_timestamp_seconds ")
    )
    assert got == {
        f"push_failure_time_seconds{group}}}": 0,
        f"push_time_seconds{group}}}": got[f"push_time_seconds{group}}}"],
        f"smoke_test_interval_seconds{group}}}": 0,
        f"smoke_test_last_run_timestamp_seconds{group}}}": last_run,
        f'smoke_test_runs_total{group},trigger="http"}}': 3,
        f'smoke_test_runs_total{group},trigger="schedule"}}': 0,
        f'smoke_test_runs_total{group},trigger="startup"}}': 1,
        f"smoke_test_success{group}}}": 1,
    }
    assert got[f"push_time_seconds{group}}}"] >= last_run


def test_a_stopped_exporter_fires_heartbeat_missing_through_real_prometheus(
    pushgateway: Pushgateway, start: Start, tmp_path: Path
) -> None:
    alertmanager = Alertmanager(require("prometheus-alertmanager"), tmp_path / "alertmanager")
    exporter = start(
        f"--config.file={config(tmp_path, pushgateway)}",
        "--smoke-test.interval=1",
        "--smoke-test.instance=web-1",
    )
    server = Prometheus(
        require("prometheus"),
        tmp_path / "prometheus",
        target=urllib.parse.urlsplit(exporter.url).netloc,
        rules=shorten_for(yaml.safe_load(ALERTS.read_text()), "1s"),
        alertmanager=alertmanager.address,
        scrape_configs=[
            {
                "job_name": "pushgateway",
                "honor_labels": True,  # the pushed job and instance, not the gateway's
                "static_configs": [{"targets": [pushgateway.address]}],
            }
        ],
    )
    try:
        age = f'time() - push_time_seconds{{job="{JOB}",instance="web-1"}}'

        def fresh(result: list[dict[str, Any]]) -> bool:
            return bool(result) and float(result[0]["value"][1]) < 3

        poll("a fresh push", lambda: server.result(age), fresh, 20)
        assert server.result('ALERTS{alertname="SmokeTestHeartbeatMissing"}') == []
        exporter.stop()
        first = poll("the age", lambda: server.result(age), bool, 10)
        firing = poll(
            "SmokeTestHeartbeatMissing firing",
            lambda: [
                a
                for a in server.alerts()
                if a["labels"]["alertname"] == "SmokeTestHeartbeatMissing"
                and a["state"] == "firing"
            ],
            bool,
            20,
        )
        later = server.result(age)
        assert float(later[0]["value"][1]) > float(first[0]["value"][1])
        assert firing[0]["labels"] == {
            "alertname": "SmokeTestHeartbeatMissing",
            "instance": "web-1",
            "job": JOB,
            "severity": "critical",
        }
    finally:
        server.kill()
        alertmanager.kill()
