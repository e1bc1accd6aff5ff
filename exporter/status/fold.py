"""The last failures, one line per failed check, repeated identical failures folded into one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from exporter.run.history import Entry
from exporter.status.human import clock, day_clock

TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class Folded:
    """One check's identical failures in a row: why, how many, the first and the last."""

    check: str
    reason: str | None
    error: str | None
    count: int
    first: str  # ISO-8601, the first failure's run
    last: str  # ISO-8601, the last failure's run

    def text(self) -> str:
        """The fold: empty for a single failure; else the count after TIMES and the first
        time, "since 02:25", or "since Dec 5 02:25" when the first and the last are on
        different UTC days."""
        if self.count == 1:
            return ""
        first, last = _utc(self.first), _utc(self.last)
        since = clock if first.date() == last.date() else day_clock
        return f"{TIMES}{self.count} since {since(first.timestamp())}"

    def body(self) -> dict[str, Any]:
        """The line as an entry of the status JSON's ``failures``."""
        return {
            "check": self.check,
            "reason": self.reason,
            "error": self.error,
            "count": self.count,
            "first": self.first,
            "last": self.last,
            "text": self.text(),
        }


def fold(failures: list[Entry]) -> list[Folded]:
    """One line per failed check of each failed run, newest first; a check's failures in a row
    with the same reason and error fold into one line, a different one starts another."""
    lines: list[Folded] = []
    newest: list[tuple[int, int]] = []  # per line: the run it was last seen in, its place there
    open_line: dict[str, int] = {}  # check -> its latest line
    for run, entry in enumerate(reversed(failures)):  # oldest first
        for place, (check, brief) in enumerate(entry.checks.items()):
            if brief.get("status") != "fail":
                continue
            reason, error = brief.get("reason"), brief.get("error")
            index = open_line.get(check)
            if index is not None and (lines[index].reason, lines[index].error) == (reason, error):
                line = lines[index]
                lines[index] = Folded(check, reason, error, line.count + 1, line.first, entry.time)
                newest[index] = (run, place)
            else:
                open_line[check] = len(lines)
                lines.append(Folded(check, reason, error, 1, entry.time, entry.time))
                newest.append((run, place))
    order = sorted(range(len(lines)), key=lambda i: (-newest[i][0], newest[i][1]))
    return [lines[i] for i in order]


def _utc(iso: str) -> datetime:
    """An ISO-8601 time as UTC; one without an offset is taken to be UTC already."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
