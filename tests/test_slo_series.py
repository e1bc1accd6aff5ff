"""Each check's objective and runs, and the SLO window: the series the SLO rules read."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import Settings
from exporter.run.check_series import SLO_WINDOW_SECONDS
from tests.conftest import Exporter, StartExporter
from tests.support.config_files import load, refused
from tests.support.reload import reload
from tests.support.sockets import refused_port


def write(path: Path, checks: str) -> Path:
    path.write_text(f"checks:\n  - {{name: logging, type: logging, objective: 0.999}}\n{checks}")
    return path


def objectives(exporter: Exporter) -> dict[str, float]:
    return {
        sample.labels["check"]: sample.value
        for metric in exporter.registry.collect()
        if metric.name == "smoke_test_check_objective"
        for sample in metric.samples
    }


async def test_runs_count_every_result_and_only_checks_with_an_objective_have_one(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    db = f"  - {{name: db, type: tcp, address: '127.0.0.1:{refused_port()}'}}\n"
    exporter = await start_exporter(config_file=write(tmp_path / "smoke-test.yml", db))
    for _ in range(3):
        await exporter.smoke()
    # The start-up run and three more: each check ran four times, whatever its result.
    assert exporter.sample("smoke_test_check_runs_total", check="logging") == 4
    assert exporter.sample("smoke_test_check_runs_total", check="db") == 4
    assert exporter.sample("smoke_test_check_failures_total", check="db", reason="connect") == 4
    assert objectives(exporter) == {"logging": 0.999}
    assert exporter.sample("smoke_test_slo_window_seconds") == 30 * 86400


async def test_the_slo_window_is_the_flags(start_exporter: StartExporter) -> None:
    exporter = await start_exporter(slo_window_seconds=7 * 86400.0)
    assert exporter.sample("smoke_test_slo_window_seconds") == 604800


def test_the_window_defaults_agree() -> None:
    assert Settings().slo_window_seconds == SLO_WINDOW_SECONDS == 2592000


async def test_a_reload_changes_objectives_and_keeps_the_runs_of_the_checks_that_stay(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    path = tmp_path / "smoke-test.yml"
    disk = f"  - {{name: disk, type: disk, path: '{tmp_path}', min_free_bytes: 1}}\n"
    exporter = await start_exporter(config_file=write(path, disk))
    await exporter.smoke()
    assert exporter.sample("smoke_test_check_runs_total", check="disk") == 2
    path.write_text(
        "checks:\n  - {name: logging, type: logging}\n"
        f"  - {{name: disk, type: disk, path: '{tmp_path}', min_free_bytes: 1, objective: 0.99}}\n"
    )
    status, _ = await reload(exporter)
    assert status == 200
    assert objectives(exporter) == {"disk": 0.99}
    assert exporter.sample("smoke_test_check_runs_total", check="disk") == 2
    path.write_text("checks:\n  - {name: logging, type: logging}\n")
    assert (await reload(exporter))[0] == 200
    assert objectives(exporter) == {}
    gone = exporter.registry.get_sample_value("smoke_test_check_runs_total", {"check": "disk"})
    assert gone is None


def test_an_objective_is_read_per_check(tmp_path: Path) -> None:
    plan = load(
        tmp_path,
        "checks:\n  - {name: logging, type: logging, objective: 0.999}\n"
        "  - {name: web, type: tcp, address: '127.0.0.1:80'}\n",
    )
    assert [(c.name, c.objective) for c in plan.checks] == [("logging", 0.999), ("web", None)]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1", "1 is not between 0 and 1 (both excluded): write it as 0.999"),
        ("0", "0 is not between 0 and 1 (both excluded): write it as 0.999"),
        ("1.5", "1.5 is not between 0 and 1 (both excluded): write it as 0.999"),
        ("-0.5", "-0.5 is not between 0 and 1 (both excluded): write it as 0.999"),
        (".nan", "nan is not between 0 and 1 (both excluded): write it as 0.999"),
        ("'99.9%'", "'99.9%' is not a number: write it as 0.999"),
        ("true", "True is not a number: write it as 0.999"),
    ],
)
def test_a_bad_objective_is_refused_naming_its_key(
    tmp_path: Path, value: str, problem: str
) -> None:
    text = f"checks:\n  - {{name: logging, type: logging, objective: {value}}}\n"
    refused(tmp_path, text, f"checks[0].objective: {problem}")
