"""A check's verdict and the run it belongs to: the types every layer reads, importing
nothing of the exporter's own."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# The most a check keeps back from its deadline for saying what was slow (RunInfo.own_deadline).
MAX_LEEWAY_SECONDS = 0.05


class Status(enum.Enum):
    """A check's verdict. ``warn`` still passes: HTTP 200, check_success 1."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


class RunnerReason(enum.Enum):
    """Reasons the runner gives for any check, whatever its type."""

    TIMEOUT = "timeout"  # no result within the check's timeout
    EXCEPTION = "exception"  # the check raised


class RetryReason(enum.Enum):
    """The reason of a check that failed and passed on a later attempt of the same run: a
    warning, never ok (exporter.run.attempts)."""

    RETRIED = "retried"


@dataclass(frozen=True)
class Component:
    """The part a check found at fault: a sink, a URL, a path."""

    kind: str
    id: str


@dataclass(frozen=True)
class Observed:
    """A value the check measured, in base units."""

    value: float
    unit: str


@dataclass(frozen=True)
class Part:
    """One of the parts a check looked at (each log sink, say) and what it said."""

    status: Status
    seconds: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """A check's verdict: its status and, when not ok, the reason, the component and the error.

    ``detail`` goes into the check's entry of the answer as it is; ``parts`` are listed in the
    health+json answer under ``{check}:{measurement}``; ``cert_expiry`` sets the check's
    certificate expiry gauge.
    """

    status: Status
    reason: enum.Enum | None = None
    error: str | None = None
    component: Component | None = None
    observed: Observed | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    parts: Mapping[str, Part] = field(default_factory=dict)
    measurement: str = "result"
    cert_expiry: float | None = None  # Unix time the server's TLS certificate expires

    def __post_init__(self) -> None:
        if self.status is not Status.OK and self.reason is None:
            raise ValueError(f"a {self.status.value} result names its reason")

    @property
    def ok(self) -> bool:
        """True unless the check failed: a warning passes."""
        return self.status is not Status.FAIL


@dataclass(frozen=True)
class RunInfo:
    """The run a check belongs to."""

    run_id: str
    trigger: str
    deadline: float  # the event loop's time by which the runner stops waiting for the check
    timeout_seconds: float

    @property
    def own_deadline(self) -> float:
        """When a check should stop waiting itself: a little before ``deadline``, so that it,
        not the runner, says which step was slow."""
        return self.deadline - min(MAX_LEEWAY_SECONDS, self.timeout_seconds / 10)


class Check(Protocol):
    """A built check: an async function of the run."""

    def __call__(self, run: RunInfo, /) -> Awaitable[CheckResult]:
        """Look at what the check looks at; report, never raise."""
