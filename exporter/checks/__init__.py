"""The smoke test's checks: CHECK_TYPES maps each ``type:`` of the config file to one module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.checks import disk, http, logging, tcp
from exporter.checks.base import (
    Check,
    CheckDeps,
    CheckResult,
    CheckType,
    Component,
    Observed,
    Part,
    RunInfo,
    RunnerReason,
    SharedSession,
    Status,
)

CHECK_TYPES: Mapping[str, CheckType[Any]] = {
    "logging": logging.TYPE,
    "disk": disk.TYPE,
    "tcp": tcp.TYPE,
    "http": http.TYPE,
}

__all__ = [
    "CHECK_TYPES",
    "Check",
    "CheckDeps",
    "CheckResult",
    "CheckType",
    "Component",
    "Observed",
    "Part",
    "RunInfo",
    "RunnerReason",
    "SharedSession",
    "Status",
]
