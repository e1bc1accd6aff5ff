"""What the exporter runs: its sinks and checks, by name and type, with their options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.checks.logging import LoggingOptions
from exporter.config import Settings
from exporter.heartbeat.options import HeartbeatOptions
from exporter.sinks.file import FileOptions
from exporter.sinks.stream import StdoutOptions


@dataclass(frozen=True)
class SinkSpec:
    """One sink of the config file: its name (the ``sink`` label), type and typed options."""

    name: str
    type: str
    options: Any


@dataclass(frozen=True)
class CheckSpec:
    """One check of the config file: its name (the ``check`` label), type, timeout, options."""

    name: str
    type: str
    timeout_seconds: float
    options: Any
    retries: int = 0  # attempts after a failed one, each with the timeout
    retry_delay_seconds: float = 0.2
    objective: float | None = None  # the share of runs that should pass, for the SLO rules


@dataclass(frozen=True)
class Plan:
    """Every sink and check, in the config file's order, and the heartbeat if there is one."""

    sinks: tuple[SinkSpec, ...]
    checks: tuple[CheckSpec, ...]
    heartbeat: HeartbeatOptions | None = None


def with_log_file(sinks: tuple[SinkSpec, ...], settings: Settings) -> tuple[SinkSpec, ...]:
    """``--log.file`` adds a file sink named ``file``."""
    if settings.log_file is None:
        return sinks
    return (*sinks, SinkSpec("file", "file", FileOptions(settings.log_file)))


def default_plan(settings: Settings) -> Plan:
    """Without a config file: stdout (plus --log.file), and the logging check."""
    sinks = (SinkSpec("stdout", "stdout", StdoutOptions()),)
    checks = (CheckSpec("logging", "logging", settings.timeout_seconds, LoggingOptions()),)
    return Plan(with_log_file(sinks, settings), checks)


def plan_warnings(plan: Plan) -> tuple[str, ...]:
    """What a plan that works still gets wrong: no logging check writes a canary."""
    if any(spec.type == "logging" for spec in plan.checks):
        return ()
    return (
        "--config.file: no check has type logging, so no canary is written and no log sink "
        "is proven; add `- {name: logging, type: logging}` to checks",
    )
