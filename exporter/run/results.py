"""A finished run: each check's outcome, the run's status, and their JSON bodies."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exporter.verdict import CheckResult, Status


class Trigger(enum.Enum):
    """What started a run: the ``trigger`` label and log field."""

    STARTUP = "startup"
    SCHEDULE = "schedule"
    HTTP = "http"


@dataclass(frozen=True)
class Attempt:
    """One attempt of a check in a run, as the answer lists it when there were more."""

    status: Status
    reason: str | None
    error: str | None
    duration_seconds: float

    def body(self) -> dict[str, Any]:
        """The attempt's entry in ``attempts``: its status, reason and duration."""
        return {
            "status": self.status.value,
            "reason": self.reason,
            "duration_seconds": round(self.duration_seconds, 6),
        }


@dataclass(frozen=True)
class CheckOutcome:
    """A check's result, how long it took, and its attempts."""

    result: CheckResult
    duration_seconds: float
    attempts: tuple[Attempt, ...] = ()

    @property
    def retried(self) -> tuple[str, ...]:
        """The reasons of the attempts that failed and were tried again."""
        return tuple(a.reason or "" for a in self.attempts[:-1] if a.status is Status.FAIL)

    def body(self) -> dict[str, Any]:
        """The check's entry in the response body."""
        result = self.result
        body: dict[str, Any] = {
            "status": result.status.value,
            "duration_seconds": round(self.duration_seconds, 6),
            **result.detail,
        }
        if len(self.attempts) > 1:
            body["attempts"] = [attempt.body() for attempt in self.attempts]
        if result.observed is not None:
            body["observed_value"] = result.observed.value
            body["observed_unit"] = result.observed.unit
        if result.status is not Status.OK:
            body["reason"] = None if result.reason is None else result.reason.value
            body["error"] = result.error
            if result.component is not None:
                body["component"] = {"kind": result.component.kind, "id": result.component.id}
        return body

    def cause(self, name: str) -> str:
        """Why the check failed, in one line."""
        component = self.result.component
        where = f" on {component.kind} {component.id}" if component else ""
        return f"check {name} failed{where}: {self.result.error}"


def run_status(statuses: Mapping[str, Status]) -> Status:
    """fail if any check failed, else warn if any warned, else ok."""
    for status in (Status.FAIL, Status.WARN):
        if status in statuses.values():
            return status
    return Status.OK


@dataclass(frozen=True)
class RunResult:
    """One finished run."""

    run_id: str
    trigger: Trigger
    started: datetime
    duration_seconds: float
    checks: Mapping[str, CheckOutcome]
    success_message: str
    # Checks that ran and are shown, but do not decide the status (``?exclude=``).
    excluded: frozenset[str] = frozenset()

    def _judged(self) -> dict[str, CheckOutcome]:
        return {name: o for name, o in self.checks.items() if name not in self.excluded}

    @property
    def status(self) -> Status:
        """The worst status among the checks that are not excluded."""
        return run_status({name: o.result.status for name, o in self._judged().items()})

    @property
    def ok(self) -> bool:
        """True when no check failed: warnings pass."""
        return self.status is not Status.FAIL

    @property
    def cause(self) -> str | None:
        """None on success; else every failed check and its cause, in the answer's order."""
        causes = [o.cause(name) for name, o in self._judged().items() if not o.result.ok]
        return "; ".join(causes) if causes else None

    @property
    def message(self) -> str:
        """The configured message on success; else what failed and why."""
        cause = self.cause
        return self.success_message if cause is None else f"Smoke test failed: {cause}"

    def body(self) -> dict[str, Any]:
        """The JSON body of /smoke-test."""
        return {
            "status": self.status.value,
            "message": self.message,
            "timestamp": self.started.isoformat(),
            "run_id": self.run_id,
            "trigger": self.trigger.value,
            "duration_seconds": round(self.duration_seconds, 6),
            "checks": {
                name: {**outcome.body(), **({"excluded": True} if name in self.excluded else {})}
                for name, outcome in self.checks.items()
            },
        }


def unknown_excluded(excluded: frozenset[str], checks: Iterable[str]) -> str | None:
    """Why ``?exclude=`` cannot be used when it names a check that does not run; else None."""
    names = list(checks)
    unknown = sorted(excluded - set(names))
    if not unknown:
        return None
    return f"exclude: no check named {', '.join(unknown)} (checks: {', '.join(names)})"


@dataclass(frozen=True)
class Answer:
    """What an HTTP caller gets: a run's result, and whether it was run for this caller."""

    result: RunResult
    cached: bool
    age_seconds: float

    def excluding(self, names: frozenset[str]) -> Answer:
        """The same answer, its status decided without the checks ``names``."""
        if not names:
            return self
        return dataclasses.replace(
            self, result=dataclasses.replace(self.result, excluded=names & set(self.result.checks))
        )

    def body(self) -> dict[str, Any]:
        """The result's body, marked cached (with its age) or fresh."""
        return {
            **self.result.body(),
            "cached": self.cached,
            "age_seconds": round(self.age_seconds, 6),
        }
