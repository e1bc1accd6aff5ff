"""Tests of exporter/config_file.py: every error class with its exact key path and message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter.checks.disk import DiskOptions
from exporter.checks.dns_options import DnsOptions, Protocol, QueryType, Rcode
from exporter.checks.grpc_options import GrpcOptions
from exporter.checks.http_options import HttpOptions, Method
from exporter.checks.logging import LoggingOptions
from exporter.checks.stores.loki import LokiOptions
from exporter.checks.tcp import TcpOptions
from exporter.checks.websocket_options import WebSocketOptions
from exporter.cli import main
from exporter.config import Settings
from exporter.config_file import ConfigError, load_plan
from exporter.options import Seconds
from exporter.plan import CheckSpec, Plan, SinkSpec, default_plan
from exporter.sinks.file import FileOptions
from exporter.sinks.stream import StdoutOptions
from exporter.sinks.syslog import Format, Framing, SyslogOptions, Transport
from tests.conftest import FakeServe
from tests.support.config_files import load, refused

ROOT = Path(__file__).resolve().parent.parent


def test_no_file_is_the_default_plan_stdout_and_logging() -> None:
    assert load_plan(Settings()) == Plan(
        (SinkSpec("stdout", "stdout", StdoutOptions()),),
        (CheckSpec("logging", "logging", 2.0, LoggingOptions()),),
    )


def test_log_file_adds_a_file_sink_named_file(tmp_path: Path) -> None:
    plan = load_plan(Settings(log_file=tmp_path / "x.log"))
    assert [(s.name, s.type) for s in plan.sinks] == [("stdout", "stdout"), ("file", "file")]
    assert plan.sinks[1].options == FileOptions(tmp_path / "x.log")


def test_an_empty_file_is_the_default_plan(tmp_path: Path) -> None:
    assert load(tmp_path, "") == default_plan(Settings())


def test_the_example_file_loads_with_every_key(tmp_path: Path) -> None:
    example = ROOT / "examples" / "smoke-test.yml"
    plan = load_plan(Settings(config_file=example, timeout_seconds=5))
    assert plan == Plan(
        (
            SinkSpec("stdout", "stdout", StdoutOptions()),
            SinkSpec(
                "app-log", "file", FileOptions(Path("/var/log/smoke-test-exporter/exporter.log"))
            ),
            SinkSpec(
                "central-syslog",
                "syslog",
                SyslogOptions(
                    "127.0.0.1:514",
                    Transport.TCP,
                    Format.RFC5424,
                    Framing.OCTET_COUNTING,
                    "local0",
                    "smoke-test-exporter",
                ),
            ),
        ),
        (
            CheckSpec("logging", "logging", 2.0, LoggingOptions()),
            CheckSpec(
                "log-disk",
                "disk",
                5.0,
                DiskOptions(
                    Path("/var/log/smoke-test-exporter"),
                    min_free_bytes=104857600,
                    min_free_ratio=0.05,
                    warn_free_bytes=1073741824,
                    warn_free_ratio=0.1,
                    writable=True,
                ),
            ),
            CheckSpec(
                "database",
                "tcp",
                1.0,
                TcpOptions("127.0.0.1:5432", warn_after=Seconds(0.25)),
            ),
            CheckSpec(
                "app",
                "http",
                2.0,
                HttpOptions(
                    "http://127.0.0.1:8080/healthz",
                    method=Method.GET,
                    headers={"Accept": "application/json"},
                    expect_status=(200, 204),
                    json_path="status",
                    json_equals="UP",
                    warn_after=Seconds(0.5),
                    follow_redirects=True,
                ),
            ),
            CheckSpec(
                "live-updates",
                "websocket",
                2.0,
                WebSocketOptions(
                    "wss://app.internal/ws",
                    send='{"type": "ping"}',
                    expect_regex='"type": ?"pong"',
                    min_cert_days=14.0,
                    warn_after=Seconds(0.5),
                ),
                retries=1,
            ),
            CheckSpec(
                "api",
                "grpc",
                2.0,
                GrpcOptions(
                    "api.internal:50051",
                    service="petsage.v1.Api",
                    tls=True,
                    min_cert_days=14.0,
                    metadata={"x-tenant": "blue"},
                    warn_after=Seconds(0.3),
                ),
            ),
            CheckSpec(
                "mail-routing",
                "dns",
                5.0,
                DnsOptions(
                    "example.com",
                    query_type=QueryType.MX,
                    server="192.0.2.53:53",
                    protocol=Protocol.UDP,
                    expect=(r"^10 mx1\.example\.com\.$",),
                    expect_rcode=Rcode.NOERROR,
                    min_answers=1,
                    warn_after=Seconds(0.2),
                ),
                retries=2,
            ),
            CheckSpec(
                "central-logs",
                "loki",
                5.0,
                LokiOptions(
                    url="http://loki.monitoring:3100",
                    selector='{job="smoke-test-exporter"}',
                    tenant="ops",
                    max_delay=Seconds(30),
                    late_window=Seconds(600),
                    recheck_window=Seconds(14400),
                    max_pending=1000,
                ),
            ),
        ),
    )


def test_sinks_and_checks_in_the_files_order_with_their_timeouts(tmp_path: Path) -> None:
    plan = load(
        tmp_path,
        """
sinks:
  - {name: local, type: file, path: logs/a.log}
  - {name: out, type: stdout}
checks:
  - {name: second, type: logging, timeout: 1m30s}
  - {name: first, type: logging}
  - {name: quick, type: logging, timeout: 250ms}
""",
        timeout_seconds=3.0,
        log_file=tmp_path / "b.log",
    )
    assert plan.sinks == (
        # A relative path is taken from the config file's directory.
        SinkSpec("local", "file", FileOptions(tmp_path / "logs" / "a.log")),
        SinkSpec("out", "stdout", StdoutOptions()),
        SinkSpec("file", "file", FileOptions(tmp_path / "b.log")),
    )
    assert [(c.name, c.timeout_seconds) for c in plan.checks] == [
        ("second", 90.0),
        ("first", 3.0),
        ("quick", 0.25),
    ]


def test_only_checks_given_keeps_the_default_sinks(tmp_path: Path) -> None:
    plan = load(tmp_path, "checks: [{name: logs, type: logging}]\n")
    assert [s.name for s in plan.sinks] == ["stdout"]
    assert [c.name for c in plan.checks] == ["logs"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            "sinkz: []\n", "sinkz: unknown key (known: sinks, checks, heartbeat)", id="top-key"
        ),
        pytest.param("- 1\n", "(top level): must be a mapping, not a list", id="top-list"),
        pytest.param("sinks: {}\n", "sinks: must be a list, not a mapping", id="sinks-mapping"),
        pytest.param("checks: 3\n", "checks: must be a list, not a number", id="checks-number"),
        pytest.param(
            "sinks: [stdout]\n", "sinks[0]: must be a mapping, not a string", id="sink-string"
        ),
        pytest.param(
            "checks: [{type: logging}]\n",
            "checks[0].name: missing: this key is required",
            id="missing-name",
        ),
        pytest.param(
            "sinks: [{name: out}]\n",
            "sinks[0].type: missing: this key is required",
            id="missing-type",
        ),
        pytest.param(
            "checks: [{name: 3, type: logging}]\n",
            "checks[0].name: must be a string, not a number",
            id="name-number",
        ),
        pytest.param(
            "checks: [{name: Logging, type: logging}]\n",
            "checks[0].name: 'Logging' must match [a-z][a-z0-9_-]{0,62} (a label value)",
            id="name-capital",
        ),
        pytest.param(
            f"checks: [{{name: {'a' * 64}, type: logging}}]\n",
            f"checks[0].name: {'a' * 64!r} must match [a-z][a-z0-9_-]{{0,62}} (a label value)",
            id="name-too-long",
        ),
        pytest.param(
            "checks:\n  - {name: logs, type: logging}\n  - {name: logs, type: logging}\n",
            "checks[1].name: 'logs' is already the name of checks[0]",
            id="duplicate-name",
        ),
        pytest.param(
            "checks: [{name: ping, type: icmp}]\n",
            "checks[0].type: unknown type 'icmp' (known: logging, disk, tcp, http, websocket, grpc,"
            " dns, file, journal, loki, elasticsearch)",
            id="unknown-check-type",
        ),
        pytest.param(
            "sinks: [{name: s, type: kafka}]\n",
            "sinks[0].type: unknown type 'kafka' (known: stdout, file, syslog)",
            id="unknown-sink-type",
        ),
        pytest.param(
            "checks: [{name: logs, type: logging, url: 'http://x/'}]\n",
            "checks[0].url: unknown key (known: name, type, timeout, objective)",
            id="unknown-check-key",
        ),
        pytest.param(
            "sinks: [{name: f, type: file, path: a.log, mode: 644}]\n",
            "sinks[0].mode: unknown key (known: name, type, path)",
            id="unknown-sink-key",
        ),
        pytest.param(
            "checks: [{name: logs, type: logging, timeout: 2x}]\n",
            "checks[0].timeout: '2x' is not a duration: write it as 500ms, 2s, 1m or 1h30m",
            id="bad-duration",
        ),
        pytest.param(
            "checks:\n  - {name: a, type: logging}\n  - {name: b, type: logging, timeout: 2}\n",
            "checks[1].timeout: 2 has no unit: write a duration such as 2s or 500ms",
            id="duration-number",
        ),
        pytest.param(
            "checks: [{name: logs, type: logging, timeout: 0s}]\n",
            "checks[0].timeout: '0s' must be more than 0",
            id="zero-duration",
        ),
        pytest.param(
            "sinks: [{name: f, type: file}]\n",
            "sinks[0].path: missing: this key is required",
            id="missing-path",
        ),
        pytest.param(
            "sinks: [{name: f, type: file, path: 3}]\n",
            "sinks[0].path: must be a non-empty path, not a number",
            id="path-number",
        ),
        pytest.param(
            "sinks: [{name: f, type: file, path: ''}]\n",
            "sinks[0].path: must be a non-empty path, not a string",
            id="path-empty",
        ),
        pytest.param(
            "sinks:\n  - {name: a, type: file, path: x.log}\n"
            "  - {name: b, type: file, path: ./x.log}\n",
            "sinks[1]: writes where sinks[0] writes (same file)",
            id="same-path-twice",
        ),
        pytest.param(
            "sinks:\n  - {name: a, type: stdout}\n  - {name: b, type: stdout}\n",
            "sinks[1]: writes where sinks[0] writes (same stdout)",
            id="stdout-twice",
        ),
        pytest.param(
            "sinks: [{name: a, type: stdout}]\nsinks: []\n",
            "not valid YAML: duplicate key 'sinks' (line 2, column 1)",
            id="duplicate-yaml-key",
        ),
        pytest.param(
            "sinks: [\n",
            "not valid YAML: expected the node content, but found '<stream end>' "
            "(line 2, column 1)",
            id="yaml-syntax",
        ),
    ],
)
def test_each_error_names_its_key_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    refused(tmp_path, text, problem)


def test_the_log_file_path_may_not_be_a_sink_of_the_file_too(tmp_path: Path) -> None:
    refused(
        tmp_path,
        f"sinks: [{{name: mine, type: file, path: {tmp_path / 'x.log'}}}]\n",
        "sinks[0]: writes where --log.file writes (same file)",
        log_file=tmp_path / "x.log",
    )


def test_the_name_file_is_taken_when_log_file_is_set(tmp_path: Path) -> None:
    refused(
        tmp_path,
        "sinks: [{name: file, type: file, path: other.log}]\n",
        "sinks[0].name: 'file' is the name of the --log.file sink",
        log_file=tmp_path / "x.log",
    )


def test_a_missing_file_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "absent.yml"
    with pytest.raises(ConfigError) as caught:
        load_plan(Settings(config_file=path))
    assert str(caught.value) == (
        f"--config.file: {path}: cannot read it: No such file or directory"
    )


def test_main_exits_2_with_one_line_naming_the_file_and_key(
    tmp_path: Path, served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text(
        "checks:\n  - {name: a, type: logging}\n  - {name: b, type: logging, timeout: -1s}\n"
    )
    assert main(["--config.file", str(path)], {}) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"smoke-test-exporter: error: --config.file: {path}: checks[1].timeout: "
        "'-1s' is not a duration: write it as 500ms, 2s, 1m or 1h30m\n"
    )
    assert (captured.out, served.calls) == ("", [])


def test_main_serves_with_a_good_file(
    tmp_path: Path, served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text("checks: [{name: logs, type: logging, timeout: 500ms}]\n")
    assert main([], {"SMOKE_TEST_EXPORTER_CONFIG_FILE": str(path)}) == 0
    assert capsys.readouterr().err == ""
    assert [settings.config_file for settings in served.calls] == [path]


def test_error_lines_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text("checks: [\n  {name: a,\n")
    with pytest.raises(ConfigError) as caught:
        load_plan(Settings(config_file=path))
    assert "\n" not in str(caught.value)
    assert re.fullmatch(
        rf"--config\.file: {re.escape(str(path))}: not valid YAML: .+", str(caught.value)
    )
