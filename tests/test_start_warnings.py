"""Start-up warnings for what still works but is likely a mistake: a misspelled environment
variable, and a config file whose checks write no canary (at start-up and on reload)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.cli import main
from exporter.environ import nearest, unknown_variables
from exporter.flags import OPTIONS
from tests.conftest import FakeServe, StartExporter
from tests.support.reload import reload

KNOWN = [option.env for option in OPTIONS]
NO_CANARY = (
    "--config.file: no check has type logging, so no canary is written and no log sink is "
    "proven; add `- {name: logging, type: logging}` to checks"
)
DISK_ONLY = "checks:\n  - {name: root, type: disk, path: /, min_free_bytes: 1}\n"


@pytest.mark.parametrize(
    ("name", "guess"),
    [
        ("SMOKE_TEST_EXPORTER_INTERVAL", "SMOKE_TEST_EXPORTER_SMOKE_TEST_INTERVAL"),
        ("SMOKE_TEST_EXPORTER_LOG_LEVLE", "SMOKE_TEST_EXPORTER_LOG_LEVEL"),
        ("SMOKE_TEST_EXPORTER_WEB_LISTEN_ADRESS", "SMOKE_TEST_EXPORTER_WEB_LISTEN_ADDRESS"),
        ("SMOKE_TEST_EXPORTER_CONFIG", "SMOKE_TEST_EXPORTER_CONFIG_FILE"),
        ("SMOKE_TEST_EXPORTER_ZZZZZZZZZZZZZZZZZZZZ", None),
    ],
)
def test_the_nearest_known_variable_is_named(name: str, guess: str | None) -> None:
    assert nearest(name, KNOWN) == guess


def test_known_and_foreign_variables_get_no_warning() -> None:
    environ = {"SMOKE_TEST_EXPORTER_LOG_LEVEL": "debug", "PATH": "/bin", "SMOKE_TEST": "1"}
    assert unknown_variables(environ, KNOWN) == []


def test_a_misspelled_variable_is_a_warning_naming_it_and_the_nearest_one(
    served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"SMOKE_TEST_EXPORTER_INTERVAL": "5", "SMOKE_TEST_EXPORTER_QQQQQQQQQQQQQQQQQ": "1"}
    assert main([], environ) == 0
    assert capsys.readouterr().err == (
        "smoke-test-exporter: warning: environment variable SMOKE_TEST_EXPORTER_INTERVAL is not "
        "one the exporter reads; did you mean SMOKE_TEST_EXPORTER_SMOKE_TEST_INTERVAL?\n"
        "smoke-test-exporter: warning: environment variable "
        "SMOKE_TEST_EXPORTER_QQQQQQQQQQQQQQQQQ is not one the exporter reads; see --help for "
        "the variables\n"
    )
    assert len(served.calls) == 1  # a warning, not a stop


def test_a_config_without_a_logging_check_is_a_warning_at_start_and_in_config_check(
    tmp_path: Path, served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "smoke-test.yml"
    config.write_text(DISK_ONLY)
    assert main([f"--config.file={config}"], {}) == 0
    assert capsys.readouterr().err == f"smoke-test-exporter: warning: {NO_CANARY}\n"
    assert main(["--config.check", f"--config.file={config}"], {}) == 0
    assert capsys.readouterr() == (
        "config OK: 1 sinks, 1 checks\n",
        f"smoke-test-exporter: warning: {NO_CANARY}\n",
    )
    assert len(served.calls) == 1


def test_a_config_with_a_logging_check_of_any_name_gets_no_warning(
    tmp_path: Path, served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "smoke-test.yml"
    config.write_text(DISK_ONLY + "  - {name: canary, type: logging}\n")
    assert main([f"--config.file={config}"], {}) == 0
    assert capsys.readouterr().err == ""


async def test_a_reload_to_a_config_without_a_logging_check_logs_the_warning(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text("checks:\n  - {name: logging, type: logging}\n")
    exporter = await start_exporter(config_file=path)
    path.write_text(DISK_ONLY)
    assert (await reload(exporter))[0] == 200
    written = await exporter.until_line(
        exporter.stdout_lines, lambda line: line["message"] == "Configuration reloaded"
    )
    warnings = [line for line in written if line["level"] == "WARNING"]
    assert [(w["logger"], w["message"]) for w in warnings] == [("exporter.reload", NO_CANARY)]
    assert exporter.sample("smoke_test_exporter_config_last_reload_successful") == 1
