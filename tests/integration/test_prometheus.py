"""The monitoring files against the real tools: promtool, amtool, Prometheus and Alertmanager."""

from __future__ import annotations

import datetime
import http.server
import re
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.certs import CA
from tests.integration.conftest import Start
from tests.integration.exporter_process import ExporterProcess
from tests.integration.stack import Alertmanager, Prometheus, poll, shorten_for
from tests.promtool import require, tool
from tests.support.monitoring import ALERTS

ROOT = Path(__file__).resolve().parents[2]
JOB = "smoke-test-exporter"


def runbook_base() -> str:
    """BASE of the shipped runbook_url, BASE#<alert> (the alert's heading in docs/runbook.md):
    wherever `make runbook-base` pointed it. tests/test_runbook_base.py checks every shipped file
    shares it."""
    first = yaml.safe_load((ROOT / "monitoring" / "alerts.yml").read_text())["groups"][0]
    return str(first["rules"][0]["annotations"]["runbook_url"]).rpartition("#")[0]


RUNBOOK = runbook_base() + "#"
SEVERITIES = {
    "SmokeTestFailing": "critical",
    "SmokeTestCheckFailing": "critical",
    "SmokeTestCheckFlapping": "critical",
    "SmokeTestCheckWarning": "warning",
    "SmokeTestCertExpiringSoon": "warning",
    "SmokeTestCanaryMissing": "critical",
    "SmokeTestCanaryLoss": "warning",
    "SmokeTestCanaryDelaySlow": "warning",
    "SmokeTestStale": "warning",
    "SmokeTestHeartbeatMissing": "critical",
    "SmokeTestExporterDown": "critical",
    "SmokeTestLogSinkErrors": "warning",
    "SmokeTestLogDeliverySlow": "warning",
}

StartPrometheus = Callable[[ExporterProcess, Alertmanager], Prometheus]
Samples = list[tuple[dict[str, str], str]]


def alert_rules() -> list[dict[str, Any]]:
    (group,) = yaml.safe_load(ALERTS.read_text())["groups"]
    assert group["name"] == JOB
    rules: list[dict[str, Any]] = group["rules"]
    return rules


def samples(result: list[dict[str, Any]]) -> Samples:
    return [(r["metric"], r["value"][1]) for r in result]


def named(alerts: list[dict[str, Any]], alertname: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["labels"]["alertname"] == alertname]


def firing(server: Prometheus, alertname: str) -> list[dict[str, str]]:
    """The label sets of ``alertname``'s firing alerts in Prometheus (pending ones left out)."""
    return [a["labels"] for a in named(server.alerts(), alertname) if a["state"] == "firing"]


@pytest.mark.parametrize("config", ["prometheus.yml", "monitoring/prometheus-compose.yml"])
def test_promtool_accepts_the_prometheus_config_and_its_rules(config: str) -> None:
    done = tool("promtool", "check", "config", config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f" SUCCESS: {config} is valid prometheus config file syntax\n" in done.stdout
    assert "Checking monitoring/alerts.yml\n  SUCCESS: 13 rules found\n" in done.stdout


def test_promtool_accepts_the_alert_rules() -> None:
    done = tool("promtool", "check", "rules", "monitoring/alerts.yml")
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "Checking monitoring/alerts.yml\n  SUCCESS: 13 rules found\n\n",
        "",
    )


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    done = tool("promtool", "test", "rules", "monitoring/alerts_test.yml")
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "Unit Testing:  monitoring/alerts_test.yml\n  SUCCESS\n\n",
        "",
    )


def test_every_alert_has_severity_runbook_and_a_firing_and_a_silent_unit_test() -> None:
    rules = alert_rules()
    assert {r["alert"]: r["labels"] for r in rules} == {
        name: {"severity": severity} for name, severity in SEVERITIES.items()
    }
    for rule in rules:
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
        assert rule["annotations"]["runbook_url"] == RUNBOOK + rule["alert"].lower()
    unit_tests = yaml.safe_load((ROOT / "monitoring" / "alerts_test.yml").read_text())
    cases = [case for test in unit_tests["tests"] for case in test["alert_rule_test"]]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert firing == silent == set(SEVERITIES)


def test_amtool_accepts_the_alertmanager_config() -> None:
    done = tool("amtool", "check-config", "monitoring/alertmanager.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Checking 'monitoring/alertmanager.yml'  SUCCESS\n" in done.stdout


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    server = Alertmanager(require("prometheus-alertmanager"), tmp_path / "alertmanager")
    yield server
    server.kill()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[StartPrometheus]:
    """Factory: Prometheus scraping an exporter with the shipped rules, `for:` shortened to 1s."""
    binary = require("prometheus")
    servers: list[Prometheus] = []

    def run(exporter: ExporterProcess, alertmanager: Alertmanager) -> Prometheus:
        server = Prometheus(
            binary,
            tmp_path / "prometheus",
            target=urllib.parse.urlsplit(exporter.url).netloc,
            rules=shorten_for(yaml.safe_load(ALERTS.read_text()), "1s"),
            alertmanager=alertmanager.address,
        )
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.kill()


def test_failing_smoke_test_reaches_alertmanager_resolves_and_a_stopped_exporter_is_down(
    alertmanager: Alertmanager, prometheus: StartPrometheus, start: Start, tmp_path: Path
) -> None:
    log_file = tmp_path / "exporter.log"
    exporter = start(f"--log.file={log_file}", "--smoke-test.interval=1")
    server = prometheus(exporter, alertmanager)
    instance = urllib.parse.urlsplit(exporter.url).netloc
    target = {"instance": instance, "job": JOB}

    up = [({"__name__": "up", **target}, "1")]
    poll("target up", lambda: samples(server.result(f'up{{job="{JOB}"}}')), up.__eq__, 15)
    passing = [({"__name__": "smoke_test_success", **target}, "1")]
    assert samples(server.result("smoke_test_success")) == passing

    # A directory in the log file's place: every run fails on the file sink with reason `open`.
    log_file.unlink()
    log_file.mkdir()
    failing = poll(
        "SmokeTestFailing in Alertmanager",
        lambda: named(alertmanager.alerts(), "SmokeTestFailing"),
        bool,
        20,
    )
    assert [(a["labels"], a["annotations"], a["status"]["state"]) for a in failing] == [
        (
            {"alertname": "SmokeTestFailing", "severity": "critical", **target},
            {
                "summary": f"Smoke test failing on {instance}",
                "description": f"Every smoke test on {instance} (job {JOB}) has failed for"
                " 2 minutes; failing checks: logging. GET /smoke-test on the exporter names"
                " the failed sink and the cause.",
                "runbook_url": RUNBOOK + "smoketestfailing",
            },
            "active",
        )
    ]
    check_failing = poll(
        "SmokeTestCheckFailing in Alertmanager",
        lambda: named(alertmanager.alerts(), "SmokeTestCheckFailing"),
        bool,
        20,
    )
    assert [(a["labels"], a["annotations"]["summary"]) for a in check_failing] == [
        (
            {
                "alertname": "SmokeTestCheckFailing",
                "severity": "critical",
                "check": "logging",
                **target,
            },
            f"Check logging failing on {instance}: open",
        )
    ]
    sink_errors = poll(
        "SmokeTestLogSinkErrors firing in Prometheus",
        lambda: firing(server, "SmokeTestLogSinkErrors"),
        bool,
        10,
    )
    assert sink_errors == [
        {
            "alertname": "SmokeTestLogSinkErrors",
            "severity": "warning",
            "sink": "file",
            "reason": "open",
            **target,
        }
    ]

    log_file.rmdir()
    poll(
        "SmokeTestFailing resolved in Alertmanager",
        lambda: named(alertmanager.alerts(), "SmokeTestFailing"),
        lambda alerts: alerts == [],
        20,
    )
    assert samples(server.result("smoke_test_success")) == passing
    assert named(server.alerts(), "SmokeTestFailing") == []

    assert exporter.stop() == 0
    down = {"alertname": "SmokeTestExporterDown", "severity": "critical", **target}
    poll(
        "SmokeTestExporterDown firing in Prometheus",
        lambda: firing(server, "SmokeTestExporterDown"),
        [down].__eq__,
        15,
    )
    reached = poll(
        "SmokeTestExporterDown in Alertmanager",
        lambda: named(alertmanager.alerts(), "SmokeTestExporterDown"),
        bool,
        10,
    )
    assert [(a["labels"], a["annotations"]) for a in reached] == [
        (
            down,
            {
                "summary": f"Smoke-test exporter {instance} is down",
                "description": f"Prometheus cannot scrape {instance} (job {JOB}): the exporter is"
                " down, unreachable or too slow to answer. No smoke-test alert can fire for it"
                " until it is scraped again.",
                "runbook_url": RUNBOOK + "smoketestexporterdown",
            },
        )
    ]


def test_every_alert_and_dashboard_query_runs_on_live_prometheus_and_panels_have_data(
    alertmanager: Alertmanager, prometheus: StartPrometheus, start: Start, tmp_path: Path
) -> None:
    # An https service beside it, so the certificate panel and rule have a series too.
    ca = CA(tmp_path, "ca")
    pair = ca.issue("service", server=True, expires_in=datetime.timedelta(days=30))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pair.cert, pair.key)
    service = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler
    )
    service.socket = context.wrap_socket(service.socket, server_side=True)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    config = tmp_path / "smoke-test.yml"
    # And a store check that finds the canaries in the exporter's own log file, so the log
    # store row has data.
    config.write_text(
        "checks:\n  - {name: logging, type: logging}\n"
        f"  - {{name: web, type: http, url: 'https://127.0.0.1:{service.server_port}/',"
        f" tls: {{ca_file: '{ca.cert}'}}}}\n"
        f"  - {{name: central, type: file, path: '{tmp_path / 'exporter.log'}'}}\n"
    )
    try:
        _queries_run_and_panels_have_data(
            start(
                f"--log.file={tmp_path / 'exporter.log'}",
                "--smoke-test.interval=1",
                f"--config.file={config}",
            ),
            prometheus,
            alertmanager,
        )
    finally:
        service.shutdown()
        service.server_close()


def _queries_run_and_panels_have_data(
    exporter: ExporterProcess, prometheus: StartPrometheus, alertmanager: Alertmanager
) -> None:
    # Written by the Grafana work; imported here so the rest of this file runs without it.
    from tests.grafana_queries import dashboard_queries, grafana_alert_queries

    server = prometheus(exporter, alertmanager)
    # Several scrapes first, so rates and quantiles have two points or more in their window.
    poll(
        "five scrapes",
        lambda: samples(server.result(f'count_over_time(up{{job="{JOB}"}}[1m])')),
        lambda s: len(s) == 1 and float(s[0][1]) >= 5,
        20,
    )

    rules = [(r["alert"], str(r["expr"])) for r in alert_rules()]
    queries = rules + grafana_alert_queries() + dashboard_queries()
    errors = {title: server.query(expr).get("error") for title, expr in queries}
    assert {title: error for title, error in errors.items() if error is not None} == {}

    # A misspelt metric name is no query error, only silence: every series the rules read exists.
    names = {name for _, expr in rules for name in re.findall(r"\b(?:smoke_test_\w+|up)\b", expr)}
    assert names == {
        "smoke_test_success",
        "smoke_test_last_run_timestamp_seconds",
        "smoke_test_interval_seconds",
        "up",
        "smoke_test_log_sink_errors_total",
        "smoke_test_log_delivery_seconds_bucket",
        "smoke_test_check_success",
        "smoke_test_check_failures_total",
        "smoke_test_runs_total",
        "smoke_test_check_status",
        "smoke_test_check_cert_expiry_timestamp_seconds",
        "smoke_test_canary_written_total",
        "smoke_test_canary_missing_total",
        "smoke_test_canary_lost_total",
        "smoke_test_canary_delay_seconds_bucket",
    }
    assert sorted(name for name in names if not server.result(name)) == []

    dashboard = dashboard_queries()
    assert dashboard != []
    poll(
        "data for every dashboard panel",
        lambda: [title for title, expr in dashboard if not server.result(expr)],
        lambda empty: empty == [],
        15,
    )
