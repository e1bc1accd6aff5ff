"""Tests of exporter/cli.py: flags and their environment twins become one Settings; main()."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from exporter import __version__
from exporter.cli import main, parse_settings
from exporter.config import DEFAULT_MESSAGE, CanaryKey, ListenAddress, LogLevel, Settings
from exporter.flags import OPTIONS, UsageError
from tests.conftest import FakeServe
from tests.entry_points import ENTRY_POINTS, run_entry_point

PROG_ERROR = "smoke-test-exporter: error: "


@dataclass(frozen=True)
class Case:
    """One option with a flag value, a different environment value, and what each parses to."""

    flag: str
    env: str
    field: str
    flag_text: str
    flag_value: Any
    env_text: str
    env_value: Any
    default: Any

    def __str__(self) -> str:
        return self.flag


# The key files the --smoke-test.canary-key-file case reads, for as long as the tests run.
KEYS = tempfile.TemporaryDirectory(prefix="test-cli-keys-")
FLAG_KEY, ENV_KEY = Path(KEYS.name) / "flag.key", Path(KEYS.name) / "env.key"
FLAG_KEY.write_bytes(b"flag-key-" * 4 + b"\n")
ENV_KEY.write_bytes(b"environment-key-" * 2)

# The environment names are spelt out, not derived, so a change to how they are derived shows.
CASES = [
    Case(
        "--web.listen-address",
        "SMOKE_TEST_EXPORTER_WEB_LISTEN_ADDRESS",
        "listen_address",
        "127.0.0.1:9100",
        ListenAddress("127.0.0.1", 9100),
        "[::1]:9200",
        ListenAddress("::1", 9200),
        ListenAddress(None, 9707),
    ),
    Case(
        "--web.telemetry-path",
        "SMOKE_TEST_EXPORTER_WEB_TELEMETRY_PATH",
        "telemetry_path",
        "/flag-metrics",
        "/flag-metrics",
        "/env-metrics",
        "/env-metrics",
        "/metrics",
    ),
    Case(
        "--log.level",
        "SMOKE_TEST_EXPORTER_LOG_LEVEL",
        "log_level",
        "debug",
        LogLevel.DEBUG,
        "ERROR",
        LogLevel.ERROR,
        LogLevel.INFO,
    ),
    Case(
        "--log.file",
        "SMOKE_TEST_EXPORTER_LOG_FILE",
        "log_file",
        "/var/log/flag.json",
        Path("/var/log/flag.json"),
        "relative/env.json",
        Path("relative/env.json"),
        None,
    ),
    Case(
        "--smoke-test.interval",
        "SMOKE_TEST_EXPORTER_SMOKE_TEST_INTERVAL",
        "interval_seconds",
        "5",
        5.0,
        "0",
        0.0,
        30.0,
    ),
    Case(
        "--smoke-test.timeout",
        "SMOKE_TEST_EXPORTER_SMOKE_TEST_TIMEOUT",
        "timeout_seconds",
        "0.25",
        0.25,
        "7.5",
        7.5,
        2.0,
    ),
    Case(
        "--smoke-test.message",
        "SMOKE_TEST_EXPORTER_SMOKE_TEST_MESSAGE",
        "message",
        "flag says hello",
        "flag says hello",
        "env says hello",
        "env says hello",
        DEFAULT_MESSAGE,
    ),
    Case(
        "--smoke-test.min-interval",
        "SMOKE_TEST_EXPORTER_SMOKE_TEST_MIN_INTERVAL",
        "min_interval_seconds",
        "0",
        0.0,
        "2.5",
        2.5,
        1.0,
    ),
    Case(
        "--smoke-test.slo-window",
        "SMOKE_TEST_EXPORTER_SMOKE_TEST_SLO_WINDOW",
        "slo_window_seconds",
        "7d",
        604800.0,
        "28d",
        2419200.0,
        2592000.0,
    ),
    Case(
        "--smoke-test.instance",
        "SMOKE_TEST_EXPORTER_SMOKE_TEST_INSTANCE",
        "instance",
        "node-a/pod-1",
        "node-a/pod-1",
        "web-7f9c",
        "web-7f9c",
        None,
    ),
    Case(
        "--smoke-test.canary-key-file",
        "SMOKE_TEST_EXPORTER_SMOKE_TEST_CANARY_KEY_FILE",
        "canary_key",
        str(FLAG_KEY),
        CanaryKey(FLAG_KEY, b"flag-key-" * 4),
        str(ENV_KEY),
        CanaryKey(ENV_KEY, b"environment-key-" * 2),
        None,
    ),
    Case(
        "--log.access",
        "SMOKE_TEST_EXPORTER_LOG_ACCESS",
        "access_log",
        "true",
        True,
        "OFF",
        False,
        True,
    ),
    Case(
        "--log.access-probes",
        "SMOKE_TEST_EXPORTER_LOG_ACCESS_PROBES",
        "access_log_probes",
        "off",
        False,
        "true",
        True,
        False,
    ),
    Case(
        "--log.access-max-per-second",
        "SMOKE_TEST_EXPORTER_LOG_ACCESS_MAX_PER_SECOND",
        "access_log_per_second",
        "50",
        50.0,
        "200",
        200.0,
        1000.0,
    ),
    Case(
        "--log.access-max-bytes-per-second",
        "SMOKE_TEST_EXPORTER_LOG_ACCESS_MAX_BYTES_PER_SECOND",
        "access_log_bytes_per_second",
        "50000",
        50000.0,
        "100000",
        100000.0,
        200000.0,
    ),
    Case(
        "--config.file",
        "SMOKE_TEST_EXPORTER_CONFIG_FILE",
        "config_file",
        "/etc/flag-smoke-test.yml",
        Path("/etc/flag-smoke-test.yml"),
        "env-smoke-test.yml",
        Path("env-smoke-test.yml"),
        None,
    ),
    Case(
        "--web.max-requests",
        "SMOKE_TEST_EXPORTER_WEB_MAX_REQUESTS",
        "max_requests",
        "0",
        0,
        "100",
        100,
        40,
    ),
    Case(
        "--web.max-connections",
        "SMOKE_TEST_EXPORTER_WEB_MAX_CONNECTIONS",
        "max_connections",
        "0",
        0,
        "512",
        512,
        100,
    ),
    Case(
        "--web.openmetrics",
        "SMOKE_TEST_EXPORTER_WEB_OPENMETRICS",
        "openmetrics",
        "false",
        False,
        "true",
        True,
        False,
    ),
    Case(
        "--web.config.file",
        "SMOKE_TEST_EXPORTER_WEB_CONFIG_FILE",
        "web_config_file",
        "/etc/flag-web.yml",
        Path("/etc/flag-web.yml"),
        "env-web.yml",
        Path("env-web.yml"),
        None,
    ),
]

each_option = pytest.mark.parametrize("case", CASES, ids=str)


def test_cases_cover_every_option_and_its_environment_name() -> None:
    assert [(case.flag, case.field, case.env) for case in CASES] == [
        (option.flag, option.field, option.env) for option in OPTIONS
    ]


def test_no_flags_and_no_environment_give_the_defaults() -> None:
    assert parse_settings([], {}) == Settings()


@each_option
def test_each_flag_sets_only_its_field(case: Case) -> None:
    settings = parse_settings([case.flag, case.flag_text], {})
    assert settings == replace(Settings(), **{case.field: case.flag_value})


@each_option
def test_each_flag_also_takes_its_value_after_an_equals_sign(case: Case) -> None:
    settings = parse_settings([f"{case.flag}={case.flag_text}"], {})
    assert settings == replace(Settings(), **{case.field: case.flag_value})


@each_option
def test_each_environment_variable_sets_only_its_field(case: Case) -> None:
    settings = parse_settings([], {case.env: case.env_text})
    assert settings == replace(Settings(), **{case.field: case.env_value})


@each_option
def test_flag_beats_environment_which_beats_default(case: Case) -> None:
    # Flag and variable differ, and variable and default differ, or a source could win
    # without the test noticing (a boolean has only two values, so flag may equal default).
    assert repr(case.flag_value) != repr(case.env_value) != repr(case.default)
    both = parse_settings([case.flag, case.flag_text], {case.env: case.env_text})
    env_only = parse_settings([], {case.env: case.env_text})
    neither = parse_settings([], {})
    assert getattr(both, case.field) == case.flag_value
    assert getattr(env_only, case.field) == case.env_value
    assert getattr(neither, case.field) == case.default


# Environment values no option accepts; the log file and the message accept any text.
UNUSABLE_ENV_TEXT = {
    "listen_address": "nowhere",
    "telemetry_path": "no-slash",
    "log_level": "loud",
    "interval_seconds": "-1",
    "timeout_seconds": "0",
    "min_interval_seconds": "-0.5",
    "instance": "two words",
    "canary_key": "/nonexistent/canary.key",
    "access_log": "maybe",
    "access_log_probes": "sometimes",
    "access_log_bytes_per_second": "0",
    "access_log_per_second": "0",
}


@pytest.mark.parametrize("case", [c for c in CASES if c.field in UNUSABLE_ENV_TEXT], ids=str)
def test_bad_environment_value_is_not_read_when_the_flag_is_given(case: Case) -> None:
    environ = {case.env: UNUSABLE_ENV_TEXT[case.field]}
    with pytest.raises(UsageError, match=rf"\Aenvironment variable {case.env}: "):
        parse_settings([], environ)
    settings = parse_settings([case.flag, case.flag_text], environ)
    assert settings == replace(Settings(), **{case.field: case.flag_value})


def test_all_flags_together_fill_every_field() -> None:
    argv = [text for case in CASES for text in (case.flag, case.flag_text)]
    settings = parse_settings(argv, {})
    assert settings == Settings(**{case.field: case.flag_value for case in CASES})


def test_all_environment_variables_together_fill_every_field() -> None:
    environ = {case.env: case.env_text for case in CASES}
    settings = parse_settings([], environ)
    assert settings == Settings(**{case.field: case.env_value for case in CASES})


def test_unrelated_environment_variables_are_ignored() -> None:
    environ = {
        "LOG_LEVEL": "error",
        "SMOKE_TEST_INTERVAL": "-1",
        "SMOKE_TEST_EXPORTER_UNKNOWN": "x",
        "smoke_test_exporter_log_level": "error",
    }
    assert parse_settings([], environ) == Settings()


def test_last_of_a_repeated_flag_wins() -> None:
    settings = parse_settings(["--log.level", "debug", "--log.level", "warning"], {})
    assert settings.log_level is LogLevel.WARNING


def test_message_starting_with_a_dash_is_taken_after_an_equals_sign() -> None:
    settings = parse_settings(["--smoke-test.message=-- all good --"], {})
    assert settings.message == "-- all good --"


@pytest.mark.parametrize(
    ("env", "text", "message"),
    [
        (
            "SMOKE_TEST_EXPORTER_WEB_LISTEN_ADDRESS",
            "::1:9707",
            "'::1:9707': write an IPv6 host in brackets, as [::1]:9707",
        ),
        (
            "SMOKE_TEST_EXPORTER_WEB_TELEMETRY_PATH",
            "/-/ready",
            "'/-/ready' is already one of the exporter's own endpoints",
        ),
        (
            "SMOKE_TEST_EXPORTER_LOG_LEVEL",
            "loud",
            "'loud' is not a level: use one of debug, info, warning, error",
        ),
        (
            "SMOKE_TEST_EXPORTER_SMOKE_TEST_INTERVAL",
            "nan",
            "'nan' must be a finite number of seconds, not negative",
        ),
        ("SMOKE_TEST_EXPORTER_SMOKE_TEST_TIMEOUT", "0", "'0' must be more than 0 seconds"),
    ],
)
def test_bad_environment_value_names_the_variable(env: str, text: str, message: str) -> None:
    expected = f"environment variable {env}: {message}"
    with pytest.raises(UsageError, match=rf"\A{re.escape(expected)}\Z"):
        parse_settings([], {env: text})


@pytest.mark.parametrize(
    ("flag", "text", "message"),
    [
        (
            "--web.listen-address",
            "localhost",
            "'localhost' has no port: use host:port, :port or [v6]:port",
        ),
        (
            "--web.telemetry-path",
            "metrics",
            "'metrics' must be an absolute URL path such as /metrics",
        ),
        (
            "--smoke-test.interval",
            "soon",
            "'soon' is not a duration: write it as 500ms, 2s, 1m or 1h30m, or a number of seconds",
        ),
        ("--web.max-requests", "-1", "'-1' is not a whole number, 0 or more"),
        ("--web.max-requests", "2.5", "'2.5' is not a whole number, 0 or more"),
        ("--web.max-connections", "-1", "'-1' is not a whole number, 0 or more"),
        ("--web.max-connections", "ten", "'ten' is not a whole number, 0 or more"),
    ],
)
def test_bad_flag_value_names_the_flag(flag: str, text: str, message: str) -> None:
    expected = f"argument {flag}: {message}"
    with pytest.raises(UsageError, match=rf"\A{re.escape(expected)}\Z"):
        parse_settings([flag, text], {})


# --- main() ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "environ", "line"),
    [
        pytest.param(
            ["--web.listen-address", "localhost"],
            {},
            "argument --web.listen-address: "
            "'localhost' has no port: use host:port, :port or [v6]:port",
            id="unparseable-address",
        ),
        pytest.param(
            ["--web.listen-address", ":65536"],
            {},
            "argument --web.listen-address: ':65536': port 65536 is out of range 0-65535",
            id="port-out-of-range",
        ),
        pytest.param(
            ["--smoke-test.interval", "-1"],
            {},
            "argument --smoke-test.interval: '-1' must be a finite number of seconds, not negative",
            id="negative-interval",
        ),
        pytest.param(
            ["--smoke-test.timeout", "-0.5"],
            {},
            "argument --smoke-test.timeout: "
            "'-0.5' must be a finite number of seconds, not negative",
            id="negative-timeout",
        ),
        pytest.param(
            ["--smoke-test.timeout", "0"],
            {},
            "argument --smoke-test.timeout: '0' must be more than 0 seconds",
            id="zero-timeout",
        ),
        pytest.param(
            ["--log.level", "verbose"],
            {},
            "argument --log.level: "
            "'verbose' is not a level: use one of debug, info, warning, error",
            id="unknown-level",
        ),
        pytest.param(
            ["--bogus"],
            {},
            "unrecognized arguments: --bogus",
            id="unknown-flag",
        ),
        pytest.param(
            ["--log.lev", "debug"],
            {},
            "unrecognized arguments: --log.lev debug",
            id="abbreviated-flag",
        ),
        pytest.param(
            ["--log.level"],
            {},
            "argument --log.level: expected one argument",
            id="missing-flag-value",
        ),
        pytest.param(
            [],
            {"SMOKE_TEST_EXPORTER_SMOKE_TEST_TIMEOUT": "0"},
            "environment variable SMOKE_TEST_EXPORTER_SMOKE_TEST_TIMEOUT: "
            "'0' must be more than 0 seconds",
            id="zero-timeout-from-environment",
        ),
    ],
)
def test_main_reports_a_usage_error_in_one_line_and_returns_2(
    argv: list[str],
    environ: dict[str, str],
    line: str,
    served: FakeServe,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(argv, environ) == 2
    captured = capsys.readouterr()
    assert captured.err == f"{PROG_ERROR}{line}\n"
    assert captured.out == ""
    assert served.calls == []


def test_main_prints_the_version_and_returns_0(
    served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--version"], {}) == 0
    captured = capsys.readouterr()
    assert captured.out == f"smoke-test-exporter {__version__}\n"
    assert captured.err == ""
    assert served.calls == []


def test_main_help_returns_0_and_names_every_flag_and_variable(
    served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--help"], {}) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("usage: smoke-test-exporter ")
    assert captured.err == ""
    assert served.calls == []
    # argparse wraps help to the terminal width and may break a long name across lines.
    unwrapped = "".join(captured.out.split())
    names = (
        [case.flag for case in CASES]
        + [case.env for case in CASES]
        + ["--version", "--config.check"]
    )
    missing = [name for name in names if name not in unwrapped]
    assert missing == []


def test_main_serves_the_parsed_settings_and_returns_what_serving_returns(
    served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    served.code = 7
    code = main(
        ["--smoke-test.interval", "0"], {"SMOKE_TEST_EXPORTER_WEB_LISTEN_ADDRESS": "[::1]:9200"}
    )
    assert code == 7
    assert served.calls == [
        Settings(listen_address=ListenAddress("::1", 9200), interval_seconds=0.0)
    ]
    assert capsys.readouterr().err == ""


def test_main_warns_in_one_line_about_an_unusable_log_file_and_serves_anyway(
    tmp_path: Path, served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--log.file", str(tmp_path)], {})
    assert code == 0
    assert served.calls == [Settings(log_file=tmp_path)]
    problem = f"[Errno {errno.EISDIR}] {os.strerror(errno.EISDIR)}: {str(tmp_path)!r}"
    assert capsys.readouterr().err == (
        f"smoke-test-exporter: warning: --log.file is unusable ({problem}); "
        "starting anyway, and the smoke test fails until it is fixed\n"
    )


def test_main_is_silent_about_a_usable_log_file(
    tmp_path: Path, served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "exporter.json"
    assert main([], {"SMOKE_TEST_EXPORTER_LOG_FILE": str(log_file)}) == 0
    assert served.calls == [Settings(log_file=log_file)]
    assert capsys.readouterr().err == ""


# --- the real entry points, as subprocesses -------------------------------------------------


@pytest.mark.parametrize("command", list(ENTRY_POINTS.values()), ids=list(ENTRY_POINTS))
def test_entry_point_prints_the_version(command: list[str]) -> None:
    done = run_entry_point(command, "--version")
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"smoke-test-exporter {__version__}\n",
        "",
    )


@pytest.mark.parametrize("command", list(ENTRY_POINTS.values()), ids=list(ENTRY_POINTS))
def test_entry_point_exits_2_on_a_bad_flag_without_serving(command: list[str]) -> None:
    # A valid address first: had the bad flag been ignored, the exporter would bind, log
    # "Listening" to stdout and wait for a signal until the timeout failed the test.
    done = run_entry_point(
        command, "--web.listen-address", "127.0.0.1:0", "--smoke-test.bogus", "1"
    )
    assert done.returncode == 2
    assert done.stderr == f"{PROG_ERROR}unrecognized arguments: --smoke-test.bogus 1\n"
    assert done.stdout == ""


def test_empty_environment_variable_counts_as_unset() -> None:
    environ = {"SMOKE_TEST_EXPORTER_LOG_FILE": "", "SMOKE_TEST_EXPORTER_SMOKE_TEST_MESSAGE": ""}
    assert parse_settings([], environ) == Settings()


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--log.file=", "argument --log.file: the path is empty"),
        ("--smoke-test.message=", "argument --smoke-test.message: the message is empty"),
    ],
)
def test_empty_flag_value_is_a_usage_error(flag: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_settings([flag], {})
    assert str(raised.value) == message


# A bad canary key file's content (None: no file), and the reason main() gives.
BAD_KEY_FILES = {
    "missing": (None, "cannot read {path!r}: No such file or directory"),
    "empty": (b"", "{path!r} is empty"),
    "a-newline": (b"\n", "{path!r} is empty"),
    "14-bytes": (b"hunter2-secret\n", "{path!r} holds 14 bytes: a key is 16 at least"),
    "4200-bytes": (b"hunter2-secret" * 300, "{path!r} holds over 4096 bytes: not a key file"),
}


@pytest.mark.parametrize("bad", BAD_KEY_FILES)
@pytest.mark.parametrize("source", ["flag", "environment"])
def test_main_refuses_a_bad_canary_key_file_in_one_line_naming_the_flag_or_variable(
    tmp_path: Path, served: FakeServe, capsys: pytest.CaptureFixture[str], bad: str, source: str
) -> None:
    content, why = BAD_KEY_FILES[bad]
    path = str(tmp_path / "canary.key")
    if content is not None:
        Path(path).write_bytes(content)
    if source == "flag":
        code = main(["--smoke-test.canary-key-file", path], {})
        named = "argument --smoke-test.canary-key-file"
    else:
        code = main([], {"SMOKE_TEST_EXPORTER_SMOKE_TEST_CANARY_KEY_FILE": path})
        named = "environment variable SMOKE_TEST_EXPORTER_SMOKE_TEST_CANARY_KEY_FILE"
    assert code == 2
    captured = capsys.readouterr()
    assert captured.err == f"{PROG_ERROR}{named}: {why.format(path=path)}\n"
    assert "hunter2" not in captured.err
    assert captured.out == ""
    assert served.calls == []


@pytest.mark.parametrize("command", list(ENTRY_POINTS.values()), ids=list(ENTRY_POINTS))
def test_entry_point_exits_2_on_a_canary_key_file_that_is_a_fifo_without_waiting(
    command: list[str], tmp_path: Path
) -> None:
    fifo = tmp_path / "canary.key"
    os.mkfifo(fifo)  # opened to read, it would wait for a writer: the run's timeout would fail
    done = run_entry_point(
        command, "--web.listen-address", "127.0.0.1:0", "--smoke-test.canary-key-file", str(fifo)
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"{PROG_ERROR}argument --smoke-test.canary-key-file: {str(fifo)!r} is not a regular file\n"
    )
