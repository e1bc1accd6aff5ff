"""The Grafana-managed alert rules are what monitoring/grafana_rules.py writes from the shipped
Prometheus rule files, and each fires, waits, labels and annotates as its Prometheus alert does."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.grafana_queries import RULES, datasource_uid

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "monitoring"
SCRIPT = "monitoring/grafana_rules.py"
TARGET = RULES.relative_to(ROOT).as_posix()
REGENERATE = (
    f"{TARGET} is out of step with the Prometheus rule files: regenerate it with "
    "`make grafana-rules` (.venv/bin/python monitoring/grafana_rules.py)"
)
# Fires for every series query A returns, whatever its value: Prometheus' rule for an alert.
CONDITION = "is_number($A) || is_nan($A) || is_inf($A)"
# Prometheus' $value is Grafana's $values.A.Value; Grafana's own $value is a string.
PROMETHEUS_VALUE = re.compile(r"\$value\b")
GRAFANA_VALUE = "$values.A.Value"
# Grafana's rule uids: letters, digits, '-' and '_', 40 at most.
UID = re.compile(r"^[a-z0-9-]{1,40}$")


def load_generator() -> ModuleType:
    """The script as a module, for its SOURCES and uid(); it does nothing on import."""
    spec = importlib.util.spec_from_file_location("grafana_rules", ROOT / SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = load_generator()


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def prometheus_groups() -> dict[str, list[dict[str, Any]]]:
    """Every group of alerts in every monitoring/*.yml, found by looking: name -> alerts."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(MONITORING.glob("*.yml")):
        document = load_yaml(path)
        for group in document.get("groups", []) if isinstance(document, dict) else []:
            alerts = [rule for rule in group["rules"] if "alert" in rule]
            if alerts:
                assert group["name"] not in groups, group["name"]
                groups[group["name"]] = alerts
    return groups


def prometheus_alerts() -> dict[str, dict[str, Any]]:
    alerts = [alert for group in prometheus_groups().values() for alert in group]
    by_name = {alert["alert"]: alert for alert in alerts}
    assert len(by_name) == len(alerts), "an alert name is used twice"
    return by_name


def grafana_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"]]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The generator as `make grafana-rules` runs it."""
    return subprocess.run(
        [sys.executable, str(ROOT / SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_the_committed_rules_are_what_the_generator_writes_now(tmp_path: Path) -> None:
    output = tmp_path / "rules.yml"
    done = run("--output", str(output))
    assert (done.returncode, done.stderr) == (0, "")
    assert output.read_bytes() == RULES.read_bytes(), REGENERATE
    count = len(grafana_rules())
    sources = len(GENERATOR.SOURCES)
    assert done.stdout == f"grafana_rules: {count} rules from {sources} files written to {output}\n"


def test_the_generator_reads_every_shipped_rule_file_that_holds_alerts() -> None:
    holding_alerts = set()
    for path in sorted(MONITORING.glob("*.yml")):
        document = load_yaml(path)
        groups = document.get("groups", []) if isinstance(document, dict) else []
        if any("alert" in rule for group in groups for rule in group["rules"]):
            holding_alerts.add(path.relative_to(ROOT).as_posix())
    assert "monitoring/alerts.yml" in holding_alerts
    assert len(set(GENERATOR.SOURCES)) == len(GENERATOR.SOURCES)
    assert set(GENERATOR.SOURCES) == holding_alerts, "add the file to SOURCES in " + SCRIPT


def test_each_prometheus_group_of_alerts_is_a_grafana_group_with_the_same_alerts() -> None:
    grafana = load_yaml(RULES)
    assert grafana["apiVersion"] == 1
    expected = {
        name: [alert["alert"] for alert in alerts] for name, alerts in prometheus_groups().items()
    }
    found = {
        group["name"]: [rule["title"] for rule in group["rules"]] for group in grafana["groups"]
    }
    assert found == expected, REGENERATE
    for group in grafana["groups"]:
        assert (group["orgId"], group["folder"], group["interval"]) == (
            1,
            "Smoke test exporter",
            "1m",
        )


def test_each_grafana_rule_runs_its_alerts_expression_and_fires_on_every_series_returned() -> None:
    alerts = prometheus_alerts()
    for rule in grafana_rules():
        title = rule["title"]
        assert rule["condition"] == "C", title
        assert rule["data"] == [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 600, "to": 0},
                "datasourceUid": datasource_uid(),
                "model": {
                    "refId": "A",
                    "expr": str(alerts[title]["expr"]),
                    "instant": True,
                    "range": False,
                },
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {"refId": "C", "type": "math", "expression": CONDITION},
            },
        ], f"{title}: {REGENERATE}"
        # Nothing returned is the alert's quiet state; a Prometheus that fails is an error.
        assert (rule["noDataState"], rule["execErrState"]) == ("OK", "Error"), title


def test_each_grafana_rule_waits_and_is_labelled_as_its_alert() -> None:
    alerts = prometheus_alerts()
    for rule in grafana_rules():
        alert = alerts[rule["title"]]
        assert rule["for"] == alert.get("for", "0s"), f"{rule['title']}: {REGENERATE}"
        assert rule.get("keepFiringFor") == alert.get("keep_firing_for"), rule["title"]
        assert rule["labels"] == alert["labels"], f"{rule['title']}: {REGENERATE}"


def test_each_grafana_rule_is_annotated_as_its_alert_with_value_read_from_query_a() -> None:
    alerts = prometheus_alerts()
    translated = 0
    for rule in grafana_rules():
        source = alerts[rule["title"]]["annotations"]
        expected = {
            key: PROMETHEUS_VALUE.sub(GRAFANA_VALUE, value) for key, value in source.items()
        }
        assert rule["annotations"] == expected, f"{rule['title']}: {REGENERATE}"
        assert rule["annotations"]["runbook_url"] == source["runbook_url"], rule["title"]
        assert set(rule["annotations"]) >= {"summary", "description", "runbook_url"}
        for text in rule["annotations"].values():
            assert not PROMETHEUS_VALUE.search(text), rule["title"]
        translated += sum(value != expected[key] for key, value in source.items())
    assert translated > 0  # the translation is exercised by the shipped alerts


def test_uids_follow_the_alert_names_are_unique_and_fit_grafana() -> None:
    rules = grafana_rules()
    uids = [rule["uid"] for rule in rules]
    assert len(set(uids)) == len(uids)
    for rule in rules:
        assert UID.match(rule["uid"]), rule["uid"]
        assert rule["uid"] == GENERATOR.uid(rule["title"])
    # The three rules shipped before the generator keep their uids, so a Grafana that
    # provisioned them updates them instead of adding copies.
    by_title = {rule["title"]: rule["uid"] for rule in rules}
    assert by_title["SmokeTestFailing"] == "smoke-test-failing"
    assert by_title["SmokeTestStale"] == "smoke-test-stale"
    assert by_title["SmokeTestExporterDown"] == "smoke-test-exporter-down"


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        ("SmokeTestCheckFailing", "smoke-test-check-failing"),
        ("SmokeTestSLOBurnFast", "smoke-test-slo-burn-fast"),
        ("HTTPServerDown", "http-server-down"),
        ("SmokeTestCheckErrorBudgetBurningFastPage", "smoke-test-check-error-budget-b-eb8d1393"),
    ],
)
def test_uid_is_the_name_in_kebab_case_cut_to_40_with_a_hash(alert: str, expected: str) -> None:
    assert GENERATOR.uid(alert) == expected
    assert len(GENERATOR.uid(alert)) <= 40


def copy_sources(root: Path) -> None:
    """The generator's inputs, copied under ``root``."""
    for name in (*GENERATOR.SOURCES, GENERATOR.DATASOURCES):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, root / name)


def first_alert(root: Path) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The first source file under ``root``, its document, and its first alert to change."""
    path = root / GENERATOR.SOURCES[0]
    document = load_yaml(path)
    alert = next(rule for rule in document["groups"][0]["rules"] if "alert" in rule)
    return path, document, alert


def test_a_copy_of_the_sources_gives_the_committed_rules(tmp_path: Path) -> None:
    copy_sources(tmp_path)
    output = tmp_path / "out.yml"
    assert run("--root", str(tmp_path), "--output", str(output)).returncode == 0
    assert output.read_bytes() == RULES.read_bytes()
    assert not (tmp_path / TARGET).exists()
    (tmp_path / TARGET).parent.mkdir(parents=True)
    assert run("--root", str(tmp_path)).returncode == 0
    assert (tmp_path / TARGET).read_bytes() == RULES.read_bytes()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda alert: alert["annotations"].update(summary="see {{ $externalURL }}"),
            "{alert}: annotation summary uses $externalURL, which Grafana lacks",
        ),
        (
            lambda alert: alert["labels"].update(team="{{ $labels.team }}"),
            "{alert}: a label is templated, which Grafana's provisioning would expand",
        ),
        (lambda alert: alert.pop("expr"), "{source}: alert {alert} has no expr"),
    ],
)
def test_an_alert_grafana_cannot_copy_exits_1_naming_it_and_writes_nothing(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], problem: str
) -> None:
    copy_sources(tmp_path)
    path, document, alert = first_alert(tmp_path)
    change(alert)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    output = tmp_path / "out.yml"
    refused = run("--root", str(tmp_path), "--output", str(output))
    assert (refused.returncode, refused.stdout) == (1, "")
    message = problem.format(alert=alert["alert"], source=GENERATOR.SOURCES[0])
    assert refused.stderr == f"grafana_rules: {message}\n"
    assert not output.exists()


def test_an_alert_name_used_twice_exits_1(tmp_path: Path) -> None:
    copy_sources(tmp_path)
    path, document, alert = first_alert(tmp_path)
    document["groups"][0]["rules"].append(dict(alert))
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    refused = run("--root", str(tmp_path), "--output", str(tmp_path / "out.yml"))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"grafana_rules: {GENERATOR.SOURCES[0]}: alert {alert['alert']} is defined twice\n"
    )


def test_a_missing_source_exits_1_naming_it(tmp_path: Path) -> None:
    copy_sources(tmp_path)
    missing = tmp_path / GENERATOR.SOURCES[-1]
    missing.unlink()
    refused = run("--root", str(tmp_path), "--output", str(tmp_path / "out.yml"))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"grafana_rules: {missing}: [Errno 2] No such file or directory: '{missing}'\n"
    )
    assert not (tmp_path / "out.yml").exists()


def test_value_becomes_query_as_value_and_the_rest_of_a_template_is_kept() -> None:
    source = {
        "summary": "{{ $labels.check }} at {{ $value | humanizePercentage }}",
        "description": '{{ with printf "up{job=%q}" $labels.job | query }}{{ . }}{{ end }}',
    }
    assert GENERATOR.grafana_annotations("X", source) == {
        "summary": "{{ $labels.check }} at {{ $values.A.Value | humanizePercentage }}",
        "description": source["description"],
    }
