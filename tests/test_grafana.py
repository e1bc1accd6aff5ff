"""The Grafana provisioning, dashboard and alert rules agree with each other and the exporter."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from exporter.app import create_app
from exporter.config import Settings
from tests.grafana_queries import (
    DASHBOARD,
    GRAFANA,
    dashboard_queries,
    datasource_uid,
    grafana_alert_queries,
    panels,
    substitute,
)

PROVISIONING = GRAFANA / "provisioning"
MONITORING = GRAFANA.parent
# Where docker-compose mounts monitoring/grafana/dashboards inside the Grafana container.
DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards"
# What Grafana's "Export for sharing" adds and a hand-kept dashboard leaves out.
EXPORT_NOISE = {"id", "iteration", "version", "gnetId", "__inputs", "__requires", "__elements"}
INSTANCE_MATCHER = 'instance=~"$instance"'
# Series Prometheus makes itself rather than scraping them.
PROMETHEUS_OWN = {"up"}
# The Pushgateway's own series beside each pushed group, which SmokeTestHeartbeatMissing reads.
PUSHGATEWAY_OWN = {"push_time_seconds"}
# The one alert that selects no series: it always fires (vector(1)).
WATCHDOG = "SmokeTestWatchdog"
# The sample names each metric type puts in the exposition (`_created` is turned off).
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "info": ("_info",),
}
# `group_left` and `group_right` may come without a label list.
PROMQL_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "group_left",
    "group_right",
}
STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""")
LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# Durations (after `offset`, in `[...]`) before plain numbers, so `1m` does not leave an `m`.
NUMBER = re.compile(r"\b(?:(?:\d+(?:ms|[smhdwy]))+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\b")
IDENTIFIER = re.compile(r"[A-Za-z_:][\w:]*")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_dashboard() -> dict[str, Any]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(dashboard, dict)
    return dashboard


def graph_panels() -> list[dict[str, Any]]:
    """Every panel that queries Prometheus: all but the rows."""
    return [panel for panel in panels(load_dashboard()) if panel["type"] != "row"]


def raw_dashboard_queries() -> list[str]:
    return [target["expr"] for panel in graph_panels() for target in panel["targets"]]


def recorded() -> set[str]:
    """The series the shipped Prometheus rule files record (smoke_test:...)."""
    names: set[str] = set()
    for path in sorted(MONITORING.glob("*.yml")):
        document = load_yaml(path)
        for group in document.get("groups", []) if isinstance(document, dict) else []:
            names.update(rule["record"] for rule in group["rules"] if "record" in rule)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: not functions, labels or keywords."""
    expr = STRING.sub('""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = NUMBER.sub(" ", LABEL_LIST.sub(" ", expr))
    return {
        match.group(0)
        for match in IDENTIFIER.finditer(expr)
        if match.group(0) not in PROMQL_KEYWORDS
        and not expr[match.end() :].lstrip().startswith("(")
    }


def receivers(route: dict[str, Any]) -> Iterator[str]:
    """The receiver of a notification policy and of every route nested under it."""
    if "receiver" in route:
        yield route["receiver"]
    for child in route.get("routes", []):
        yield from receivers(child)


@pytest.fixture
def served(tmp_path: Path) -> set[str]:
    """Every sample name an exporter built as production builds it can serve."""
    registry = CollectorRegistry()
    create_app(Settings(log_file=tmp_path / "x.log"), registry)
    names = set(PROMETHEUS_OWN)
    for family in registry.collect():
        # Labelled series without fixed labels (HTTP codes) have no samples until used.
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


def test_metric_names_finds_selectors_and_skips_functions_labels_and_keywords() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (sink, le) (rate(a_bucket{sink=~"x|y"}[5m]))) '
        "and on (instance) b > bool 3 * c_total offset 1m or absent(up{job='j'}) "
        "/ ignoring (check) group_left d:e:rate5m"
    )
    assert metric_names(expr) == {"a_bucket", "b", "c_total", "up", "d:e:rate5m"}


def test_substitute_fills_in_instance_and_grafana_intervals() -> None:
    assert substitute('rate(m{instance=~"$instance"}[$__rate_interval])') == (
        'rate(m{instance=~".+"}[1m])'
    )
    assert substitute('m{a="b", instance=~"${instance}"}[${__range}:$__interval]') == (
        'm{a="b", instance=~".+"}[5m:15s]'
    )


@pytest.mark.parametrize("expr", ['m{job=~"$job"}', 'm{instance="$instance"}', "m[$__range_s]"])
def test_substitute_refuses_a_variable_it_cannot_fill_in(expr: str) -> None:
    with pytest.raises(ValueError, match="unknown Grafana variable"):
        substitute(expr)


def test_dashboard_is_hand_kept_json_without_ui_export_noise() -> None:
    text = DASHBOARD.read_text(encoding="utf-8")
    dashboard = load_dashboard()
    assert text == json.dumps(dashboard, indent=2) + "\n", "keep the file as json.dumps(indent=2)"
    assert EXPORT_NOISE.isdisjoint(dashboard)
    assert dashboard["uid"] == "smoke-test-exporter"
    assert dashboard["schemaVersion"] == 39
    assert not any("pluginVersion" in panel for panel in panels(dashboard))
    assert {panel["type"] for panel in panels(dashboard)} == {"row", "stat", "timeseries"}


def test_provisioned_datasource_is_the_compose_prometheus_with_a_fixed_uid() -> None:
    (datasource,) = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource_uid() == datasource["uid"] == "prometheus"


def test_every_panel_target_and_variable_uses_the_provisioned_datasource() -> None:
    expected = {"type": "prometheus", "uid": datasource_uid()}
    for variable in load_dashboard()["templating"]["list"]:
        assert variable["datasource"] == expected, variable["name"]
    for panel in graph_panels():
        assert panel["datasource"] == expected, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == expected, panel["title"]


def test_panel_ids_and_titles_are_unique() -> None:
    ids = [panel["id"] for panel in panels(load_dashboard())]
    titles = [panel["title"] for panel in panels(load_dashboard())]
    assert len(ids) == len(set(ids))
    assert len(titles) == len(set(titles))


def test_instance_variable_lists_every_exporter_and_allows_all() -> None:
    instance, store = load_dashboard()["templating"]["list"]
    assert (instance["name"], store["name"]) == ("instance", "store")
    assert instance["definition"] == "label_values(smoke_test_success, instance)"
    # Only the stores of the instances chosen; the store row repeats for each.
    assert store["definition"] == (
        'label_values(smoke_test_canary_written_total{instance=~"$instance"}, store)'
    )
    for variable in (instance, store):
        assert variable["type"] == "query"
        assert variable["query"]["query"] == variable["definition"]
        assert variable["multi"] is True
        assert variable["includeAll"] is True
    rows = [panel for panel in load_dashboard()["panels"] if panel.get("repeat")]
    assert [(row["title"], row["repeat"]) for row in rows] == [("Log store $store", "store")]


def test_every_dashboard_selector_filters_by_instance() -> None:
    for expr in raw_dashboard_queries():
        names = metric_names(expr)
        assert names, expr
        for name in names:
            pattern = rf"(?<![\w:]){re.escape(name)}(?![\w:])(\{{[^}}]*\}})?"
            for matchers in re.findall(pattern, expr):
                assert INSTANCE_MATCHER in matchers, f"{name} in {expr}"


def test_dashboard_queries_fill_in_every_variable() -> None:
    queries = dashboard_queries()
    assert len(queries) == len(raw_dashboard_queries())
    for title, expr in queries:
        assert "$" not in expr, title
        assert 'instance=~".+"' in expr, title


def test_dashboard_shows_every_metric_the_monitoring_issue_asks_for() -> None:
    used = set().union(*(metric_names(expr) for _, expr in dashboard_queries()))
    assert used == {
        "smoke_test_success",
        "smoke_test_last_run_timestamp_seconds",
        "smoke_test_last_success_timestamp_seconds",
        "smoke_test_runs_total",
        "smoke_test_failures_total",
        "smoke_test_duration_seconds_bucket",
        "smoke_test_log_delivery_seconds_bucket",
        "smoke_test_log_sink_errors_total",
        "smoke_test_log_records_dropped_total",
        "smoke_test_check_success",
        "smoke_test_check_failures_total",
        "smoke_test_check_status",
        "smoke_test_check_cert_expiry_timestamp_seconds",
        "smoke_test_canary_found_total",
        "smoke_test_canary_missing_total",
        "smoke_test_canary_late_total",
        "smoke_test_canary_duplicate_total",
        "smoke_test_canary_lost_total",
        "smoke_test_canary_dropped_pending_total",
        "smoke_test_canary_pending",
        "smoke_test_canary_delay_seconds_bucket",
        "smoke_test_canary_store_query_duration_seconds_bucket",
        "smoke_test_http_requests_total",
        "smoke_test_http_request_duration_seconds_bucket",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "smoke_test:check_error_budget_remaining:ratio",
        "smoke_test:check_burn_rate:rate1h",
        "smoke_test:check_burn_rate:rate6h",
    }


def test_recorded_finds_the_recording_rules_of_the_shipped_files() -> None:
    assert {
        "smoke_test:success:ratio",
        "smoke_test:check_error_budget_remaining:ratio",
        "smoke_test:check_burn_rate:rate1h",
        "smoke_test:check_burn_rate:rate6h",
    } <= recorded()
    assert all(":" in name for name in recorded())


def test_every_metric_in_the_dashboard_and_grafana_rules_is_served(served: set[str]) -> None:
    """Served by the exporter, or recorded from its series by the shipped rule files (whose own
    inputs promtool's tests check), or the Pushgateway's for the heartbeat alert."""
    known = served | recorded() | PUSHGATEWAY_OWN
    queries = dashboard_queries() + grafana_alert_queries()
    instance, store = load_dashboard()["templating"]["list"]
    queries.append(("variable instance", "smoke_test_success"))
    queries.append(("variable store", "smoke_test_canary_written_total"))
    assert "smoke_test_success" in instance["definition"]
    assert "smoke_test_canary_written_total" in store["definition"]
    selecting_nothing = [title for title, expr in queries if not metric_names(expr)]
    assert selecting_nothing == [WATCHDOG]
    for title, expr in queries:
        names = metric_names(expr)
        assert names <= known, f"{title}: {sorted(names - known)} not served"


def test_slo_row_shows_each_checks_budget_left_and_burn_rate_from_the_recording_rules() -> None:
    top = load_dashboard()["panels"]
    start = next(i for i, panel in enumerate(top) if panel["title"] == "SLOs")
    end = next(i for i in range(start + 1, len(top)) if top[i]["type"] == "row")
    row = [
        (panel["title"], [(target["expr"], target["legendFormat"]) for target in panel["targets"]])
        for panel in top[start + 1 : end]
    ]
    budget = 'smoke_test:check_error_budget_remaining:ratio{instance=~"$instance"}'
    assert row == [
        ("Error budget remaining", [(budget, "{{instance}} {{check}}")]),
        ("Error budget remaining over time", [(budget, "{{instance}} {{check}}")]),
        (
            "Burn rate by check",
            [
                (
                    'smoke_test:check_burn_rate:rate1h{instance=~"$instance"}',
                    "{{instance}} {{check}} 1h",
                ),
                (
                    'smoke_test:check_burn_rate:rate6h{instance=~"$instance"}',
                    "{{instance}} {{check}} 6h",
                ),
            ],
        ),
    ]
    units = [panel["fieldConfig"]["defaults"]["unit"] for panel in top[start + 1 : end]]
    assert units == ["percentunit", "percentunit", "short"]


def test_dashboard_provider_reads_the_mounted_dashboards_directory() -> None:
    (provider,) = load_yaml(PROVISIONING / "dashboards" / "provider.yml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == DASHBOARDS_MOUNT
    assert DASHBOARD.parent == GRAFANA / "dashboards"


def test_notification_policy_routes_to_an_existing_contact_point() -> None:
    alerting = PROVISIONING / "alerting"
    contact_points = load_yaml(alerting / "contact-points.yml")["contactPoints"]
    names = {contact_point["name"] for contact_point in contact_points}
    (policy,) = load_yaml(alerting / "policies.yml")["policies"]
    routed = list(receivers(policy))
    assert routed
    assert set(routed) <= names
    (receiver,) = next(cp for cp in contact_points if cp["name"] == policy["receiver"])["receivers"]
    assert receiver["type"] == "webhook"
    assert receiver["settings"]["url"].startswith("http")
