"""The check plugin contract: what a check may take from the app, and one check type."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from prometheus_client import CollectorRegistry

from exporter.checks.canaries import CanaryLedger
from exporter.checks.stores.registry import Stores
from exporter.logs.pipeline import LogPipeline
from exporter.session import SharedSession
from exporter.verdict import Check, RunnerReason

OptionsT = TypeVar("OptionsT")
Schema = dict[str, Any]


@dataclass(frozen=True)
class CheckDeps:
    """What a check may take from the app when it is built."""

    logs: LogPipeline | None  # None inside a service: its own handlers are the sinks
    http: SharedSession
    registry: CollectorRegistry
    canaries: CanaryLedger  # numbers each canary a logging check writes
    stores: Stores  # what store checks keep across reloads


@dataclass(frozen=True)
class CheckType(Generic[OptionsT]):
    """One kind of check: its options (a frozen dataclass, read from the config file), how to
    build one, its fixed set of reasons, and the fields it adds to its answer (JSON Schema
    properties, for the OpenAPI document)."""

    options: type[OptionsT]
    build: Callable[[str, OptionsT, CheckDeps], Check]
    reasons: type[enum.Enum]
    summary: str
    detail_schema: Schema = field(default_factory=dict)
    unit: str | None = None  # of the value it observes, if it observes one

    @property
    def reason_values(self) -> tuple[str, ...]:
        """Its own reasons, then the runner's (one it shares, as logging's timeout, once)."""
        own = (str(r.value) for r in self.reasons)
        return tuple(dict.fromkeys([*own, *(r.value for r in RunnerReason)]))
