"""The flag table: every flag, its environment twin, the Settings field it fills, its parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

from exporter.config import (
    parse_bool,
    parse_canary_key_file,
    parse_count,
    parse_instance,
    parse_listen_address,
    parse_log_level,
    parse_message,
    parse_path,
    parse_rate,
    parse_seconds,
    parse_telemetry_path,
)

ENV_PREFIX = "SMOKE_TEST_EXPORTER_"


class UsageError(ValueError):
    """A flag or environment variable has a value the exporter cannot use."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become UsageError instead of usage text and exit: the
    caller prints them on one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


@dataclass(frozen=True)
class Option:
    """One flag: its name, the Settings field it fills, how its text is parsed."""

    flag: str
    field: str
    parse: Callable[[str], Any]
    help: str

    @property
    def env(self) -> str:
        """The environment variable that stands in when the flag is not given."""
        name = self.flag.lstrip("-").upper().replace(".", "_").replace("-", "_")
        return ENV_PREFIX + name


OPTIONS = (
    Option(
        "--web.listen-address",
        "listen_address",
        parse_listen_address,
        "address to listen on: host:port, :port (all interfaces) or [v6]:port (default :9707)",
    ),
    Option(
        "--web.telemetry-path",
        "telemetry_path",
        parse_telemetry_path,
        "path under which to expose metrics (default /metrics)",
    ),
    Option(
        "--log.level",
        "log_level",
        parse_log_level,
        "debug, info, warning or error (default info); the canary is written at any level",
    ),
    Option(
        "--log.file",
        "log_file",
        parse_path,
        "also append JSON logs to this file, reopened when moved or deleted (default: none)",
    ),
    Option(
        "--smoke-test.interval",
        "interval_seconds",
        partial(parse_seconds, allow_zero=True),
        "time between background runs, a duration (30s, 1m) or a number of seconds; 0 turns "
        "them off (default 30s)",
    ),
    Option(
        "--smoke-test.timeout",
        "timeout_seconds",
        partial(parse_seconds, allow_zero=False),
        "how long a run waits for each check, a duration (2s, 500ms) or a number of seconds: "
        "the logging check for every sink to confirm, the others for their answer; a check's "
        "timeout key overrides it (default 2s)",
    ),
    Option(
        "--smoke-test.message",
        "message",
        parse_message,
        "message of a passing smoke test (default: PetSage systems are purring perfectly!)",
    ),
    Option(
        "--smoke-test.min-interval",
        "min_interval_seconds",
        partial(parse_seconds, allow_zero=True),
        "HTTP-triggered runs start at most this often, a duration (1s, 500ms) or a number of "
        "seconds; callers in between get the latest result, marked cached (default 1s; 0: "
        "every request runs, concurrent ones still share)",
    ),
    Option(
        "--smoke-test.slo-window",
        "slo_window_seconds",
        partial(parse_seconds, allow_zero=False),
        "the window of every check's error budget, exported as smoke_test_slo_window_seconds "
        "for the SLO rules and dashboard (default 30d)",
    ),
    Option(
        "--smoke-test.instance",
        "instance",
        parse_instance,
        "the instance every canary names, so that store checks find this exporter's own "
        "canaries (default: the host name)",
    ),
    Option(
        "--smoke-test.canary-key-file",
        "canary_key",
        parse_canary_key_file,
        "file whose bytes (one trailing newline dropped, 16 at least) are the key every canary "
        "is signed with, so that store checks count no forged line; exporters sharing a store "
        "may share it (default: a key made at start-up)",
    ),
    Option(
        "--log.access",
        "access_log",
        parse_bool,
        "log every HTTP request: true or false (default true)",
    ),
    Option(
        "--log.access-probes",
        "access_log_probes",
        parse_bool,
        "log the successful answers to the telemetry path, /-/healthy and /-/ready too "
        "(Prometheus' scrapes and the probes): true or false (default false: they are counted "
        "in smoke_test_http_requests_total, and only their failures are logged)",
    ),
    Option(
        "--log.access-max-per-second",
        "access_log_per_second",
        parse_rate,
        "cap on access-log records per second; the rest are dropped and counted (default 1000)",
    ),
    Option(
        "--log.access-max-bytes-per-second",
        "access_log_bytes_per_second",
        parse_rate,
        "cap on the bytes a second of the lines any client can make (the access log, rejected "
        "requests), bursts of a fifth as many; the rest are dropped and counted (default 200000)",
    ),
    Option(
        "--config.file",
        "config_file",
        parse_path,
        "YAML file naming the sinks and checks; reloaded on SIGHUP and POST /-/reload "
        "(default: none: stdout and --log.file, and the logging check)",
    ),
    Option(
        "--web.max-requests",
        "max_requests",
        parse_count,
        "most requests served at once; beyond it the answer is 503 with Retry-After: 1, and "
        "/metrics and the health probes keep a reserve of their own; 0: no limit (default 40)",
    ),
    Option(
        "--web.max-connections",
        "max_connections",
        parse_count,
        "most connections open at once; the rest wait in the listen backlog until one closes "
        "(idle ones close after 5 s); 0: no limit (default 100)",
    ),
    Option(
        "--web.openmetrics",
        "openmetrics",
        parse_bool,
        "answer OpenMetrics to a scrape that asks for it, as Prometheus does first: true or "
        "false (default false: the text format, as client_golang's handler by default)",
    ),
    Option(
        "--web.config.file",
        "web_config_file",
        parse_path,
        "exporter-toolkit web configuration (TLS, basic auth, headers) (default: none)",
    ),
)
