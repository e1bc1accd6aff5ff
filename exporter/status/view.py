"""What the status page shows, as one JSON document: the page is rendered from it, and
/status.json serves it as it is."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from exporter.run.history import Entry
from exporter.run.results import CheckOutcome, RunResult
from exporter.run.timeline import CheckTimeline, Timeline
from exporter.status import human
from exporter.status.fold import fold
from exporter.verdict import Status

# How often the open page asks /status.json again.
REFRESH_SECONDS = 5
# The most lines of the last failures shown: 50 checks failing together would be 50 a run.
FAILURE_LINES = 20
# The most lines of the last failures shown: 50 checks failing together would be 50 a run.
FAILURE_LINES = 20
UNKNOWN = "unknown"
SYMBOLS = {"ok": "✓", "warn": "!", "fail": "✗", UNKNOWN: "…"}
# A store check's canary accounting, in the order the page lists it.
CANARY_COUNTS = ("found", "pending", "missing", "late", "duplicate", "lost")


@dataclass(frozen=True)
class Link:
    """One endpoint the page links to (GET) or names (POST)."""

    method: str
    path: str
    text: str


@dataclass(frozen=True)
class Sources:
    """What the page is made of, read at one moment."""

    last: RunResult | None
    checks: Sequence[str]  # the checks a run runs now, in config order
    timeline: Timeline
    failures: Sequence[Entry]  # newest first
    instance: str
    version: str
    links: Sequence[Link]


def status_view(sources: Sources, now: float) -> dict[str, Any]:
    """The whole page as JSON, its relative times taken at ``now`` (Unix seconds)."""
    last = sources.last
    finished = None if last is None else last.started.timestamp() + last.duration_seconds
    status = UNKNOWN if last is None else last.status.value
    checks = [_check(name, last, sources.timeline.get(name), now) for name in sources.checks]
    return {
        "status": status,
        "symbol": SYMBOLS[status],
        "verdict": _verdict([check["status"] for check in checks], last is not None),
        "message": "" if last is None else last.message,
        "finished": None if finished is None else human.exact(finished),
        "age": None if finished is None else human.ago(finished, now),
        "instance": sources.instance,
        "version": sources.version,
        "run_id": None if last is None else last.run_id,
        "refresh_seconds": REFRESH_SECONDS,
        "links": [asdict(link) for link in sources.links],
        "checks": checks,
        "failures": [
            {**f.body(), "at": human.clock(_unix(f.last))}
            for f in fold(list(sources.failures))[:FAILURE_LINES]
        ],
    }


@functools.lru_cache(maxsize=4096)
def _exact(when: float) -> str:
    """human.exact, kept for the marks' times: each is formatted once, not at every render."""
    return human.exact(when)


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _strip_text(statuses: list[str]) -> str:
    """What the strip shows, for a screen reader: ``Last 50 results: 48 ok, 2 fail``."""
    if not statuses:
        return "No results yet"
    counts = ", ".join(
        f"{statuses.count(status)} {status}"
        for status in ("ok", "warn", "fail")
        if status in statuses
    )
    return f"Last {len(statuses)} results: {counts}"


def _verdict(statuses: list[str], ran: bool) -> str:
    """``All 3 checks pass``, ``1 of 3 checks warns``, ``2 of 3 checks fail``."""
    if not ran:
        return "No run yet"
    total = len(statuses)
    noun = "check" if total == 1 else "checks"
    for status, one, many in (("fail", "fails", "fail"), ("warn", "warns", "warn")):
        count = statuses.count(status)
        if count:
            verb = one if count == 1 else many
            return (
                f"{total} {noun} {verb}" if count == total else f"{count} of {total} {noun} {verb}"
            )
    return "The check passes" if total == 1 else f"All {total} checks pass"


def _check(
    name: str, last: RunResult | None, timeline: CheckTimeline | None, now: float
) -> dict[str, Any]:
    """One check's row."""
    outcome = None if last is None else last.checks.get(name)
    uptime = None if timeline is None else timeline.uptime(now)
    runs, passed = (0, 0) if uptime is None else (uptime.runs, uptime.passed)
    marks = [] if timeline is None else timeline.marks()
    row: dict[str, Any] = {
        "name": name,
        "status": UNKNOWN,
        "symbol": SYMBOLS[UNKNOWN],
        "reason": None,
        "error": None,
        "target": None,
        "observed": None,
        "cert": None,
        "strip": [
            {"status": m.status.value, "time": _exact(m.time), "reason": m.reason} for m in marks
        ],
        "strip_text": _strip_text([m.status.value for m in marks]),
        "uptime": {
            "runs": runs,
            "passed": passed,
            "percent": None if uptime is None else uptime.percent,
            "text": human.percent(passed, runs),
        },
        "parts": [],
        "canaries": None,
        "newest_delay": None,
    }
    if outcome is not None:
        row.update(_outcome(outcome, now))
    return row


def _outcome(outcome: CheckOutcome, now: float) -> dict[str, Any]:
    """The fields a check's last result fills."""
    r = outcome.result
    status = r.status.value
    fields: dict[str, Any] = {
        "status": status,
        "symbol": SYMBOLS[status],
        "reason": None if r.status is Status.OK or r.reason is None else str(r.reason.value),
        "error": None if r.status is Status.OK else r.error,
        "target": None if r.component is None else f"{r.component.kind} {r.component.id}",
        "observed": None
        if r.observed is None
        else human.observed(r.observed.value, r.observed.unit),
        "cert": None if r.cert_expiry is None else human.cert_expiry(r.cert_expiry, now),
        "parts": [
            {
                "name": part,
                "status": p.status.value,
                "seconds": p.seconds,
                "text": "" if p.seconds is None else human.duration(p.seconds),
            }
            for part, p in r.parts.items()
        ],
    }
    counts = r.detail.get("canaries")
    if isinstance(counts, Mapping):
        fields["canaries"] = {key: int(counts.get(key, 0)) for key in CANARY_COUNTS}
        newest = r.detail.get("newest")
        delay = newest.get("delay_seconds") if isinstance(newest, Mapping) else None
        fields["newest_delay"] = None if delay is None else human.duration(float(delay))
        fields["observed"] = None  # a store check observes that delay: shown once, named
    return fields
