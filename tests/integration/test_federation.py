"""The fleet rules through real federation: a cluster Prometheus scraping 20 exporter
processes (3 broken on purpose) and recording the fleet rules, SLO error ratios included, a
global Prometheus federating the recorded series, and the fleet alert reaching a real
Alertmanager from the global level."""

from __future__ import annotations

import functools
import time
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from tests.integration.conftest import Start
from tests.integration.exporter_process import ExporterProcess, open_output
from tests.integration.stack import (
    Alertmanager,
    ConfiguredPrometheus,
    free_port,
    poll,
    shorten_for,
)
from tests.promtool import require, tool

ROOT = Path(__file__).resolve().parents[2]
FLEET_RULES = ROOT / "monitoring" / "fleet-rules.yml"
FLEET_TESTS = ["monitoring/fleet-rules_test.yml", "monitoring/fleet-rules_days_test.yml"]
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
EXPORTERS = 20
BROKEN = 3
JOB = "smoke-test-exporter"
LABELS = {"cluster": "test-1", "namespace": "shop", "job": JOB}
INTERVAL = 1.0  # every scrape and evaluation, as every exporter's runs


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def exporters(start: Start, tmp_path: Path) -> list[ExporterProcess]:
    """20 exporters; the first 3 check a database port nothing listens on."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "checks:\n  - {name: logging, type: logging}\n"
        f"  - {{name: db, type: tcp, address: '127.0.0.1:{free_port()}'}}\n"
    )
    started = []
    for n in range(EXPORTERS):
        out = tmp_path / f"exporter-{n}.log"
        args = [f"--smoke-test.interval={INTERVAL:g}", "--log.access=false"]
        args.append(f"--smoke-test.instance=node-{n}")
        if n < BROKEN:
            args.append(f"--config.file={broken}")
        started.append(start(*args, stdout=open_output(out), announce=out))
    return started


def fleet_rules() -> dict[str, Any]:
    rules: dict[str, Any] = shorten_for(yaml.safe_load(FLEET_RULES.read_text()), "1s")
    return rules


def labelled(result: list[dict[str, Any]]) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(
            r["value"][1]
        )
        for r in result
    }


def recorded_at(
    server: ConfiguredPrometheus, name: str
) -> dict[tuple[tuple[str, str], ...], float]:
    return labelled(server.result(name))


def minutes(duration: str) -> int:
    """A promtool eval_time of minutes and hours ("5m", "1h10m") in minutes."""
    hours, _, rest = duration.rpartition("h")
    return int(hours or 0) * 60 + int(rest.rstrip("m") or 0)


def key(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({**LABELS, **labels}.items()))


def test_fleet_rules_and_alert_through_real_federation(start: Start, tmp_path: Path) -> None:
    prometheus = require("prometheus")
    processes = exporters(start, tmp_path)
    rss = sum(rss_bytes(p.process.pid) for p in processes)
    print(f"RSS of {EXPORTERS} exporters: {rss / 2**20:.0f} MiB")  # noted in docs/fleet.md
    targets = [urllib.parse.urlsplit(p.url).netloc for p in processes]
    timing = {"scrape_interval": f"{INTERVAL:g}s", "evaluation_interval": f"{INTERVAL:g}s"}
    alertmanager = Alertmanager(require("prometheus-alertmanager"), tmp_path / "alertmanager")
    cluster = global_ = None
    try:
        cluster = ConfiguredPrometheus(
            prometheus,
            tmp_path / "cluster",
            {
                "global": {**timing, "external_labels": {"cluster": "test-1"}},
                "scrape_configs": [
                    {
                        "job_name": JOB,
                        "static_configs": [{"targets": targets, "labels": {"namespace": "shop"}}],
                    }
                ],
            },
            {"fleet-rules.yml": fleet_rules()},
        )
        global_ = ConfiguredPrometheus(
            prometheus,
            tmp_path / "global",
            {
                "global": timing,
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [alertmanager.address]}]}]
                },
                "scrape_configs": [
                    {
                        "job_name": "federate",
                        "honor_labels": True,
                        "metrics_path": "/federate",
                        "params": {
                            "match[]": [
                                '{__name__=~"smoke_test:.*"}',
                                '{__name__=~"cluster:smoke_test_.*"}',
                            ]
                        },
                        "static_configs": [{"targets": [cluster.address]}],
                    }
                ],
            },
            {"fleet-rules.yml": fleet_rules()},
        )
        # Every exporter up and past its first runs, at the cluster level.
        poll(
            "20 exporters up",
            lambda: cluster.result(f'sum(up{{job="{JOB}"}})'),
            lambda r: bool(r) and float(r[0]["value"][1]) == EXPORTERS,
            30,
        )
        ratio = poll(
            "the success ratio at the global level",
            lambda: labelled(global_.result("smoke_test:success:ratio")),
            lambda r: r.get(key()) == (EXPORTERS - BROKEN) / EXPORTERS,
            30,
        )
        seen_at = time.monotonic()
        assert ratio == {key(): 0.85}
        assert labelled(global_.result("smoke_test:exporters:count")) == {key(): 20}
        assert labelled(global_.result("smoke_test:failing:count")) == {key(): 3}
        # increase() needs two points of each exporter's series: wait for the third one's.
        failing = poll(
            "3 exporters failing by check and reason",
            lambda: labelled(global_.result("smoke_test:check_failing:count5m")),
            lambda r: sum(r.values()) >= BROKEN,
            15,
        )
        assert failing == {key(check="db", reason="connect"): 3}
        # Every reason of every check is recorded (its counter starts at 0); only one is not 0.
        failures = poll(
            "failures by check and reason",
            lambda: labelled(global_.result("smoke_test:check_failures:rate5m")),
            lambda r: any(r.values()),
            10,
        )
        assert [k for k, rate in failures.items() if rate] == [key(check="db", reason="connect")]
        assert key(check="logging", reason="write") in failures
        firing = poll(
            "SmokeTestFleetFailing in Alertmanager",
            lambda: [
                a
                for a in alertmanager.alerts()
                if a["labels"]["alertname"] == "SmokeTestFleetFailing"
            ],
            bool,
            15,
        )
        took = time.monotonic() - seen_at
        print(f"SmokeTestFleetFailing reached Alertmanager {took:.1f}s after the ratio")
        # `for` (1s) plus two evaluation intervals, and the time Alertmanager takes to list it.
        assert took <= 1 + 2 * INTERVAL + 1.0
        (alert,) = firing
        assert alert["labels"] == {
            "alertname": "SmokeTestFleetFailing",
            "severity": "critical",
            **LABELS,
        }
        assert (
            alert["annotations"]["summary"]
            == "15% of job smoke-test-exporter in test-1/shop failing"
        )
        # The member alert stays silent: this is the fleet's failure, not one exporter's.
        assert not [
            a
            for a in global_.get("/api/v1/alerts")["data"]["alerts"]
            if a["labels"]["alertname"] == "SmokeTestFleetMemberFailing"
        ]
        # The cluster Prometheus records the same series without `cluster`, and fires nothing.
        local = [a["labels"]["alertname"] for a in cluster.get("/api/v1/alerts")["data"]["alerts"]]
        assert local == ["SmokeTestWatchdog"]
        # Each check's error ratio over the fleet, in every window of the SLO rules: db runs on
        # the 3 broken exporters only and fails every run there; logging runs on all 20 and
        # never fails. A scrape between a run's two counts makes a ratio a run off while it is
        # a window's end, so each is waited for.
        ratios = {key(check="db"): 1.0, key(check="logging"): 0.0}
        for window in SLO_WINDOWS:
            name = f"cluster:smoke_test_check_error_ratio:rate{window}"
            poll(
                f"{name} at the global level",
                functools.partial(recorded_at, global_, name),
                ratios.__eq__,
                15,
            )
    finally:
        for server in (global_, cluster):
            if server is not None:
                server.kill()
        alertmanager.kill()


def test_promtool_accepts_the_fleet_rules_and_their_unit_tests_pass() -> None:
    checked = tool("promtool", "check", "rules", "monitoring/fleet-rules.yml")
    assert (checked.returncode, checked.stdout) == (
        0,
        "Checking monitoring/fleet-rules.yml\n  SUCCESS: 17 rules found\n\n",
    )
    for test_file in FLEET_TESTS:
        tested = tool("promtool", "test", "rules", test_file)
        assert (tested.returncode, tested.stdout, tested.stderr) == (
            0,
            f"Unit Testing:  {test_file}\n  SUCCESS\n\n",
            "",
        )


def test_every_fleet_alert_fires_and_all_but_the_watchdog_stay_silent_and_resolve() -> None:
    rules = [r for g in yaml.safe_load(FLEET_RULES.read_text())["groups"] for r in g["rules"]]
    alerts = {r["alert"]: r["labels"]["severity"] for r in rules if "alert" in r}
    assert alerts == {
        "SmokeTestFleetFailing": "critical",
        "SmokeTestFleetMemberFailing": "warning",
        "SmokeTestWatchdog": "none",
    }
    tests = [t for name in FLEET_TESTS for t in yaml.safe_load((ROOT / name).read_text())["tests"]]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    assert {c["alertname"] for c in cases if c["exp_alerts"]} == set(alerts)
    assert {c["alertname"] for c in cases if not c["exp_alerts"]} == set(alerts) - {
        "SmokeTestWatchdog"
    }
    # Resolving: in one test, the alert fires, then is silent at a later evaluation.
    resolved = set()
    for test in tests:
        states = [
            (c["alertname"], bool(c["exp_alerts"]), c["eval_time"])
            for c in test.get("alert_rule_test", [])
        ]
        for name, fired, when in states:
            later = [w for n, f, w in states if n == name and not f and minutes(w) > minutes(when)]
            if fired and later:
                resolved.add(name)
    assert resolved == set(alerts) - {"SmokeTestWatchdog"}  # the Watchdog never resolves
    recorded = {r["record"] for r in rules if "record" in r}
    tested = {case["expr"] for test in tests for case in test.get("promql_expr_test", [])}
    assert recorded == tested  # every recording rule has an exact-value case
