"""The PromQL in the Grafana dashboard and alert rules, with Grafana's variables filled in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path(__file__).resolve().parent.parent / "monitoring" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "smoke-test-exporter.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
RULES = GRAFANA / "provisioning" / "alerting" / "rules.yml"

# Values for Grafana's built-in variables that suit a Prometheus scraping every second or so.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}
# `$name` or `${name}`; `${name:format}` is not used by this dashboard and is left unmatched.
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
REGEX_MATCHER = re.compile(r'=~"([^"]*)"')
# The dashboard's own variables, each "All" when filled in.
OWN = re.compile(r"\$(?:\{(?:instance|store)\}|(?:instance|store)\b)")


def substitute(expr: str) -> str:
    """``expr`` as Prometheus can run it; ValueError for a variable this module does not know."""
    # Any instance and store match, as Grafana's "All" does.
    expr = REGEX_MATCHER.sub(lambda m: '=~"' + OWN.sub(".+", m.group(1)) + '"', expr)

    def builtin(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in BUILTINS:
            raise ValueError(f"unknown Grafana variable {match.group(0)} in {expr!r}")
        return BUILTINS[name]

    return VARIABLE.sub(builtin, expr)


def datasource_uid(path: Path = DATASOURCES) -> str:
    """The uid of the one provisioned Prometheus datasource."""
    (datasource,) = yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]
    uid = datasource["uid"]
    assert isinstance(uid, str)
    return uid


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows included, and the panels folded inside collapsed rows."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(path: Path = DASHBOARD) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel in the dashboard."""
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    return [
        (panel["title"], substitute(target["expr"]))
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def grafana_alert_queries(
    path: Path = RULES, datasources: Path = DATASOURCES
) -> list[tuple[str, str]]:
    """(rule title, PromQL) for every query a Grafana alert rule sends to Prometheus."""
    uid = datasource_uid(datasources)
    groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return [
        (rule["title"], substitute(query["model"]["expr"]))
        for group in groups
        for rule in group["rules"]
        for query in rule["data"]
        if query["datasourceUid"] == uid
    ]
