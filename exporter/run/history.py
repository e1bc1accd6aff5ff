"""The last runs and, kept apart so successes cannot push them out, the last failures."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from exporter.verdict import CheckResult, Status

HISTORY_SIZE = 50


def brief(result: CheckResult) -> dict[str, str]:
    """A check's status, and its reason and error when it is not ok, for the history."""
    kept = {"status": result.status.value}
    if result.reason is not None:
        kept["reason"] = str(result.reason.value)
    if result.status is not Status.OK and result.error is not None:
        kept["error"] = result.error
    return kept


@dataclass(frozen=True)
class Entry:
    """One finished run, as an operator reads it."""

    time: str
    trigger: str
    status: str
    duration_seconds: float
    run_id: str
    cause: str | None
    # Each check's status, and its reason when it is not ok: {"status": "fail", "reason": ...}.
    checks: dict[str, dict[str, str]] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The entry as JSON."""
        return asdict(self)


class History:
    """Bounded memory of runs: the newest ``size`` runs, and the newest ``size`` failures."""

    def __init__(self, size: int = HISTORY_SIZE) -> None:
        self._runs: deque[Entry] = deque(maxlen=size)
        self._failures: deque[Entry] = deque(maxlen=size)

    def add(self, entry: Entry) -> None:
        """Remember a finished run."""
        self._runs.appendleft(entry)
        if entry.status == "fail":
            self._failures.appendleft(entry)

    @property
    def runs(self) -> list[Entry]:
        """Newest first."""
        return list(self._runs)

    @property
    def failures(self) -> list[Entry]:
        """Newest first."""
        return list(self._failures)

    def body(self) -> dict[str, Any]:
        """The JSON body of /smoke-test/history."""
        return {
            "runs": [entry.body() for entry in self._runs],
            "failures": [entry.body() for entry in self._failures],
        }
