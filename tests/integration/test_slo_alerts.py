"""The error-budget page, live: a check with an objective failing against a refused port pages
through a real Prometheus and Alertmanager, alone, and the page resolves once it passes."""

from __future__ import annotations

import socket
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import Start
from tests.integration.stack import Alertmanager, Prometheus, poll, scaled
from tests.promtool import require
from tests.support.monitoring import ALERTS
from tests.support.sockets import refused_port

ROOT = Path(__file__).resolve().parents[2]
SLO_RULES = ROOT / "monitoring" / "slo-rules.yml"
# A test copy of the rules 30 times faster: the page's hour is 2 minutes, its 5 minutes 10 s,
# SmokeTestFailing's and SmokeTestCheckFailing's `for: 2m` 4 s. The shipped files are what
# promtool tests.
FASTER = 1 / 30


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    server = Alertmanager(require("prometheus-alertmanager"), tmp_path / "alertmanager")
    yield server
    server.kill()


def active(alertmanager: Alertmanager, alertname: str) -> list[dict[str, Any]]:
    return [a for a in alertmanager.alerts() if a["labels"]["alertname"] == alertname]


def states(server: Prometheus) -> dict[tuple[str, str], str]:
    """Each pending or firing alert of Prometheus, by name and check, and its state."""
    return {
        (a["labels"]["alertname"], a["labels"].get("check", "")): a["state"]
        for a in server.alerts()
    }


def evaluated(server: Prometheus, alertname: str) -> float:
    """When Prometheus last evaluated the rule ``alertname``, as a Unix time."""
    groups = server.get("/api/v1/rules", type="alert")["data"]["groups"]
    [when] = [
        rule["lastEvaluation"] for g in groups for rule in g["rules"] if rule["name"] == alertname
    ]
    return datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()


def test_a_check_with_an_objective_pages_its_budget_burn_alone_and_resolves(
    alertmanager: Alertmanager, start: Start, tmp_path: Path
) -> None:
    port = refused_port()
    config = tmp_path / "smoke-test.yml"
    config.write_text(
        "checks:\n  - {name: logging, type: logging}\n"
        f"  - {{name: db, type: tcp, address: '127.0.0.1:{port}', objective: 0.999}}\n"
    )
    exporter = start(f"--config.file={config}", "--smoke-test.interval=1")
    prometheus = Prometheus(
        require("prometheus"),
        tmp_path / "prometheus",
        target=urllib.parse.urlsplit(exporter.url).netloc,
        rules=scaled(yaml.safe_load(ALERTS.read_text()), FASTER),
        rule_files={"slo-rules.yml": scaled(yaml.safe_load(SLO_RULES.read_text()), FASTER)},
        alertmanager=alertmanager.address,
    )
    try:
        instance = urllib.parse.urlsplit(exporter.url).netloc
        page = poll(
            "SmokeTestErrorBudgetBurn in Alertmanager",
            lambda: active(alertmanager, "SmokeTestErrorBudgetBurn"),
            bool,
            60,
        )
        assert [a["labels"] for a in page] == [
            {
                "alertname": "SmokeTestErrorBudgetBurn",
                "severity": "critical",
                "check": "db",
                "instance": instance,
                "job": "smoke-test-exporter",
            }
        ]
        summary = page[0]["annotations"]["summary"]
        assert summary.startswith(f"Check db on {instance} burning its error budget at "), summary
        # One cause, one page: the check's own alert leaves it to its budget, and the run's
        # alert stays quiet while one check explains it. Once Prometheus has seen every run fail
        # for three times their `for` (4 s here), and its rules have run since, either would be
        # firing if it were going to.
        failed_throughout = "min_over_time((smoke_test_success == bool 0)[12s:1s])"
        poll(
            "12 s of failed runs in Prometheus",
            lambda: prometheus.result(failed_throughout),
            lambda result: [r["value"][1] for r in result] == ["1"],
            60,
        )
        seen = time.time()
        poll(
            "the alert rules evaluated since",
            lambda: evaluated(prometheus, "SmokeTestFailing"),
            lambda when: when > seen,
            20,
        )
        shown = states(prometheus)
        assert shown.get(("SmokeTestErrorBudgetBurn", "db")) == "firing"
        assert ("SmokeTestFailing", "") not in shown, shown
        assert ("SmokeTestCheckFailing", "db") not in shown, shown
        assert active(alertmanager, "SmokeTestFailing") == []

        # The port answers: the page resolves once both short windows are clean, the 1h pair's
        # 5 minutes (10 s here) and the 6h pair's 30 minutes (60 s here).
        with socket.create_server(("127.0.0.1", port)) as listener:
            listener.listen(64)
            poll(
                "the page resolved in Prometheus",
                lambda: states(prometheus).get(("SmokeTestErrorBudgetBurn", "db")),
                lambda state: state is None,
                120,
            )
            poll(
                "the page resolved in Alertmanager",
                lambda: active(alertmanager, "SmokeTestErrorBudgetBurn"),
                lambda alerts: alerts == [],
                30,
            )
            # Alone throughout, not only at the moment looked at above: neither other alert
            # fired in any evaluation since Prometheus started.
            ever = (
                'ALERTS{alertname=~"SmokeTestFailing|SmokeTestCheckFailing", alertstate="firing"}'
                "[1h]"
            )
            assert prometheus.result(f"count_over_time({ever})") == []
    finally:
        prometheus.kill()
