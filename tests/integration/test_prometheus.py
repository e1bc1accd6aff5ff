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
from tests.grafana_queries import dashboard_queries, grafana_alert_queries
from tests.integration.conftest import Start
from tests.integration.exporter_process import ExporterProcess
from tests.integration.stack import DURATION_PART, SECONDS, Alertmanager, Prometheus, poll, scaled
from tests.promtool import require, tool
from tests.support.monitoring import ALERTS

ROOT = Path(__file__).resolve().parents[2]
SLO_RULES = ROOT / "monitoring" / "slo-rules.yml"
JOB = "smoke-test-exporter"
# The live Prometheus runs a test copy of the rules 30 times faster: a `for: 2m` is 4 s, an
# hour's window 2 minutes (the shipped files are what promtool tests).
FASTER = 1 / 30


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
SLO_SEVERITIES = {
    "SmokeTestErrorBudgetBurn": "critical",
    "SmokeTestErrorBudgetSlowBurn": "warning",
    "SmokeTestBudgetWindowMismatch": "info",
}
# Each rule file, its promtool test files, and how many rules `promtool check rules` finds.
RULE_FILES = {
    "monitoring/alerts.yml": (["monitoring/alerts_test.yml"], 13),
    "monitoring/slo-rules.yml": (
        ["monitoring/slo-rules_test.yml", "monitoring/slo-rules_days_test.yml"],
        20,
    ),
}

StartPrometheus = Callable[[ExporterProcess, Alertmanager], Prometheus]
Samples = list[tuple[dict[str, str], str]]


def alert_rules() -> list[dict[str, Any]]:
    (group,) = yaml.safe_load(ALERTS.read_text())["groups"]
    assert group["name"] == JOB
    rules: list[dict[str, Any]] = group["rules"]
    return rules


def slo_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(SLO_RULES.read_text())["groups"]
    assert [g["name"] for g in groups] == ["smoke-test-slo", "smoke-test-slo-budget"]
    return [rule for group in groups for rule in group["rules"]]


def unit_tests(names: list[str]) -> list[dict[str, Any]]:
    """Every test group of the promtool test files ``names``."""
    return [test for name in names for test in yaml.safe_load((ROOT / name).read_text())["tests"]]


def seconds(duration: str) -> float:
    return sum(int(n) * SECONDS[unit] for n, unit in DURATION_PART.findall(duration))


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
    assert "Checking monitoring/slo-rules.yml\n  SUCCESS: 20 rules found\n" in done.stdout


@pytest.mark.parametrize("rule_file", RULE_FILES)
def test_promtool_accepts_the_rules(rule_file: str) -> None:
    done = tool("promtool", "check", "rules", rule_file)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"Checking {rule_file}\n  SUCCESS: {RULE_FILES[rule_file][1]} rules found\n\n",
        "",
    )


@pytest.mark.parametrize("test_file", [name for names, _ in RULE_FILES.values() for name in names])
def test_promtool_unit_tests_of_the_rules_pass(test_file: str) -> None:
    done = tool("promtool", "test", "rules", test_file)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"Unit Testing:  {test_file}\n  SUCCESS\n\n",
        "",
    )


@pytest.mark.parametrize(
    ("rules", "severities", "rule_file"),
    [
        (alert_rules, SEVERITIES, "monitoring/alerts.yml"),
        (slo_rules, SLO_SEVERITIES, "monitoring/slo-rules.yml"),
    ],
    ids=["alerts", "slo-rules"],
)
def test_every_alert_has_severity_runbook_and_fires_stays_silent_and_resolves_in_unit_tests(
    rules: Callable[[], list[dict[str, Any]]], severities: dict[str, str], rule_file: str
) -> None:
    alerts = [rule for rule in rules() if "alert" in rule]
    assert {r["alert"]: r["labels"] for r in alerts} == {
        name: {"severity": severity} for name, severity in severities.items()
    }
    for rule in alerts:
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
        assert rule["annotations"]["runbook_url"] == RUNBOOK + rule["alert"].lower()
    tests = unit_tests(RULE_FILES[rule_file][0])
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert firing == silent == set(severities)
    # Resolving: in one test, the alert fires, and is silent at a later evaluation.
    resolved = set()
    for test in tests:
        times: dict[str, dict[bool, list[float]]] = {}
        for case in test.get("alert_rule_test", []):
            by_state = times.setdefault(case["alertname"], {True: [], False: []})
            by_state[bool(case["exp_alerts"])].append(seconds(case["eval_time"]))
        resolved |= {
            name
            for name, by_state in times.items()
            if by_state[True] and any(t > min(by_state[True]) for t in by_state[False])
        }
    assert resolved == set(severities)


def test_every_slo_recording_rule_has_an_exact_value_case() -> None:
    recorded = {rule["record"] for rule in slo_rules() if "record" in rule}
    tests = unit_tests(RULE_FILES["monitoring/slo-rules.yml"][0])
    checked = {case["expr"] for test in tests for case in test.get("promql_expr_test", [])}
    assert recorded == checked
    assert len(recorded) == 17


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
    """Factory: Prometheus scraping an exporter with the shipped alert and SLO rules, as a test
    copy running FASTER (every `for`, window and group interval scaled)."""
    binary = require("prometheus")
    servers: list[Prometheus] = []

    def run(exporter: ExporterProcess, alertmanager: Alertmanager) -> Prometheus:
        server = Prometheus(
            binary,
            tmp_path / "prometheus",
            target=urllib.parse.urlsplit(exporter.url).netloc,
            rules=scaled(yaml.safe_load(ALERTS.read_text()), FASTER),
            rule_files={"slo-rules.yml": scaled(yaml.safe_load(SLO_RULES.read_text()), FASTER)},
            alertmanager=alertmanager.address,
        )
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.kill()


def test_a_failing_check_pages_once_by_name_resolves_and_a_stopped_exporter_is_down(
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
    check_failing = poll(
        "SmokeTestCheckFailing in Alertmanager",
        lambda: named(alertmanager.alerts(), "SmokeTestCheckFailing"),
        bool,
        20,
    )
    assert [(a["labels"], a["annotations"], a["status"]["state"]) for a in check_failing] == [
        (
            {
                "alertname": "SmokeTestCheckFailing",
                "severity": "critical",
                "check": "logging",
                **target,
            },
            {
                "summary": f"Check logging failing on {instance}: open",
                "description": f"The logging check on {instance} (job {JOB}) has failed in every"
                " run for 2 minutes. The reason is the one it gave most in the last 5 minutes;"
                " GET /smoke-test on the exporter gives the error and the component.",
                "runbook_url": RUNBOOK + "smoketestcheckfailing",
            },
            "active",
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
        "SmokeTestCheckFailing resolved in Alertmanager",
        lambda: named(alertmanager.alerts(), "SmokeTestCheckFailing"),
        lambda alerts: alerts == [],
        20,
    )
    assert samples(server.result("smoke_test_success")) == passing
    # One cause, one page: every run failed, yet SmokeTestFailing never fired, in any
    # evaluation since Prometheus started.
    ever = 'ALERTS{alertname="SmokeTestFailing", alertstate="firing"}[1h]'
    assert server.result(f"count_over_time({ever})") == []
    assert named(alertmanager.alerts(), "SmokeTestFailing") == []

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
    # store row has data; web has an objective, so the SLO rules and row have data too.
    config.write_text(
        "checks:\n  - {name: logging, type: logging}\n"
        f"  - {{name: web, type: http, url: 'https://127.0.0.1:{service.server_port}/',"
        f" tls: {{ca_file: '{ca.cert}'}}, objective: 0.999}}\n"
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
    server = prometheus(exporter, alertmanager)
    # Several scrapes first, so rates and quantiles have two points or more in their window.
    poll(
        "five scrapes",
        lambda: samples(server.result(f'count_over_time(up{{job="{JOB}"}}[1m])')),
        lambda s: len(s) == 1 and float(s[0][1]) >= 5,
        20,
    )

    rules = [(r.get("alert", r.get("record")), str(r["expr"])) for r in alert_rules() + slo_rules()]
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
        "smoke_test_check_runs_total",
        "smoke_test_check_objective",
        "smoke_test_slo_window_seconds",
    }
    assert sorted(name for name in names if not server.result(name)) == []
    # And every SLO recording rule records, the budget's slower group too.
    recorded = [rule["record"] for rule in slo_rules() if "record" in rule]
    poll(
        "every SLO recording rule recorded",
        lambda: [name for name in recorded if not server.result(name)],
        lambda empty: empty == [],
        20,
    )

    dashboard = dashboard_queries()
    assert dashboard != []
    poll(
        "data for every dashboard panel",
        lambda: [title for title, expr in dashboard if not server.result(expr)],
        lambda empty: empty == [],
        15,
    )
