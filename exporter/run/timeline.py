"""Each check's recent results in bounded memory: its last 50 marks and its per-minute counts
over the last 24 hours."""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.run.results import RunResult
from exporter.verdict import Status

STRIP_SIZE = 50  # marks kept per check
MINUTES = 1440  # the uptime window: 24 h
BYTES_PER_MINUTE = 12  # three 4-byte counters a minute: its number, runs, passed
# A ring slot not yet used: a stamp above any minute a test or a clock gives.
_UNUSED = 0xFFFFFFFF


def ring_bytes(checks: int) -> int:
    """The bytes the per-minute rings take at ``checks`` checks."""
    return checks * MINUTES * BYTES_PER_MINUTE


@dataclass(frozen=True, slots=True)
class Mark:
    """One result of a check, as the strip shows it."""

    status: Status
    time: float  # Unix seconds the run finished
    reason: str | None


@dataclass(frozen=True)
class Uptime:
    """How many runs of a check there were in the window, and how many passed."""

    runs: int
    passed: int

    @property
    def percent(self) -> float | None:
        """The share of runs that passed, in percent; None when there was no run."""
        return None if self.runs == 0 else self.passed * 100 / self.runs


class CheckTimeline:
    """One check's last ``STRIP_SIZE`` marks and a ring of ``MINUTES`` per-minute counts,
    allocated once."""

    def __init__(self) -> None:
        self._marks: deque[Mark] = deque(maxlen=STRIP_SIZE)
        # slot = minute % MINUTES; the stamp says which minute the slot's counts belong to.
        self._stamps = array("I", [_UNUSED]) * MINUTES
        self._runs = array("I", [0]) * MINUTES
        self._passed = array("I", [0]) * MINUTES
        # Summing the ring costs about 0.1 ms; a page refreshed every few seconds between runs
        # reads the same minute's sum again, so it is kept until a record or a new minute.
        self._sum: tuple[int, Uptime] | None = None

    def record(self, status: Status, when: float, reason: str | None) -> None:
        """Count one result of the check, finished at Unix time ``when``."""
        self._marks.append(Mark(status, when, reason))
        self._sum = None
        minute = int(when // 60)
        slot = minute % MINUTES
        stamp = self._stamps[slot]
        if stamp != minute:
            if stamp != _UNUSED and minute < stamp:
                return  # a day or more older than what the slot holds: out of the window
            self._stamps[slot] = minute
            self._runs[slot] = 0
            self._passed[slot] = 0
        self._runs[slot] += 1
        if status is not Status.FAIL:  # a warning passes
            self._passed[slot] += 1

    def marks(self) -> list[Mark]:
        """The last results, oldest first."""
        return list(self._marks)

    def uptime(self, now: float) -> Uptime:
        """The runs and passes in the minutes m with now_minute - MINUTES < m <= now_minute."""
        now_minute = int(now // 60)
        if self._sum is not None and self._sum[0] == now_minute:
            return self._sum[1]
        oldest = now_minute - MINUTES
        runs = passed = 0
        for stamp, slot_runs, slot_passed in zip(
            self._stamps, self._runs, self._passed, strict=True
        ):
            if oldest < stamp <= now_minute:
                runs += slot_runs
                passed += slot_passed
        uptime = Uptime(runs, passed)
        self._sum = (now_minute, uptime)
        return uptime

    @property
    def ring_nbytes(self) -> int:
        """The bytes the per-minute ring holds, measured on its arrays."""
        rings = (self._stamps, self._runs, self._passed)
        return sum(ring.buffer_info()[1] * ring.itemsize for ring in rings)


class Timeline:
    """Every check's timeline, fed with each finished run."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckTimeline] = {}

    def record(self, result: RunResult) -> None:
        """Record each check of ``result`` at the time the run finished."""
        when = result.started.timestamp() + result.duration_seconds
        for name, outcome in result.checks.items():
            check = self._checks.get(name)
            if check is None:
                check = self._checks[name] = CheckTimeline()
            reason = outcome.result.reason
            check.record(outcome.result.status, when, None if reason is None else str(reason.value))

    def get(self, name: str) -> CheckTimeline | None:
        """The check's timeline, or None if it has not run."""
        return self._checks.get(name)

    def keep(self, names: Iterable[str]) -> None:
        """Forget the checks not in ``names`` (after a reload); keep the others' data."""
        kept = set(names)
        for name in [name for name in self._checks if name not in kept]:
            del self._checks[name]
