"""The status page's cost at 1, 20 and 50 checks: its size, and the server CPU of one render of
the page and of /status.json, from a day of runs built in this process."""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from exporter.checks.disk import DiskReason
from exporter.checks.http_failure import HttpReason
from exporter.checks.stores.check import StoreReason
from exporter.checks.tcp import TcpReason
from exporter.run.history import Entry, History, brief
from exporter.run.results import CheckOutcome, RunResult, Trigger
from exporter.run.timeline import Timeline
from exporter.sinks import Reason as SinkReason
from exporter.status.assets import page_assets
from exporter.status.page import render
from exporter.status.view import Link, Sources, status_view
from exporter.verdict import CheckResult, Component, Observed, Part, Status
from exporter.web.routes import route_table

CHECKS = (1, 20, 50)
PAGE_LIMIT_BYTES = 100_000  # the goal for the page at 50 checks: under 100 KB
REPEATS = 5  # the CPU figures are the median of this many rounds of renders
RENDERS = 50  # renders a round, at each count of checks
RUN_SECONDS = 30  # the default --smoke-test.interval: two runs a minute
DAY_RUNS = 24 * 3600 // RUN_SECONDS  # a day of runs fills the uptime window
# When the page is rendered; the last run finished 12.5 s before.
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0
# A check's results, chosen for each run by _pick: ok, warn, and two ways of failing.
Variants = tuple[CheckResult, CheckResult, CheckResult, CheckResult]


@dataclass(frozen=True)
class StatusPoint:
    """The page at one number of checks: its size, and the server CPU of one render."""

    checks: int
    page_bytes: int  # UTF-8
    page_seconds: float  # the page, rendered again between runs (the uptime sums are kept)
    json_seconds: float  # /status.json's body, the same way
    first_seconds: float  # the page, first rendered in a new minute: every uptime summed again


def _logging() -> Variants:
    """Three sinks, each with its delivery time; a failure names its sink."""
    sinks = {"file": Part(Status.OK, 0.0009), "stdout": Part(Status.OK, 0.0004)}
    sinks["syslog"] = Part(Status.OK, 0.0021)

    def failed(sink: str, reason: SinkReason, error: str) -> CheckResult:
        parts = {**sinks, sink: Part(Status.FAIL, None, error)}
        detail = {"sinks": {name: p.status.value for name, p in parts.items()}, "failed_sink": sink}
        where = Component("sink", sink)
        return CheckResult(Status.FAIL, reason, error, where, None, detail, parts, "delivery")

    ok = CheckResult(Status.OK, detail={"sinks": dict.fromkeys(sinks, "ok")}, parts=sinks)
    refused = "cannot connect to 10.20.0.5:514: Connection refused"
    return (
        ok,
        ok,  # the logging check never warns
        failed("syslog", SinkReason.WRITE, refused),
        failed("file", SinkReason.TIMEOUT, "no confirmation within 2s"),
    )


def _made(
    where: Component, observed: Observed, bad: Sequence[tuple[Enum, str]], **ok: Any
) -> Variants:
    """A check at ``where``: ok (with ``ok``'s fields), a warning, then two failures."""
    warn, fail, other = (CheckResult(Status.FAIL, r, e, where, observed) for r, e in bad)
    ok_result = CheckResult(Status.OK, component=where, observed=observed, **ok)
    return ok_result, replace(warn, status=Status.WARN), fail, other


def _check(c: int) -> tuple[str, Variants]:
    """The ``c``th check after the logging check: disk, http, store or tcp in turn, with the
    errors those checks write."""
    kind = ("disk", "web", "loki", "db")[c % 4]
    name, host = f"{kind}-{c:02d}", f"{kind}-{c:02d}.internal.example.com"
    if kind == "web":
        url = f"https://{host}:8443/healthz?from=smoke-test-exporter"
        http = [(HttpReason.TIMEOUT, "answered in 2.153s, slower than warn_after 2s")]
        http += [(HttpReason.CONNECT, f"no answer from {url}: Server disconnected")]
        http += [(HttpReason.STATUS, "status 503, expected 200")]
        expires = NOW + 41 * DAY + 3600
        return name, _made(Component("url", url), Observed(0.0123, "s"), http, cert_expiry=expires)
    if kind == "loki":
        run_id = f"{c * 0x9E3779B97F4A7C15:032x}"[-32:]
        counts = {"pending": 2, "written": 2882, "found": 2874, "missing": 3, "late": 3}
        counts |= {"duplicate": 1, "lost": 0, "dropped_pending": 0, "forged": 0}
        newest = {"run_id": run_id, "seq": 2880, "state": "found", "delay_seconds": 1.234}
        store = [(StoreReason.PENDING, "3 canaries pending, none found or missing yet")]
        store += [
            (StoreReason.MISSING, f"canary seq 2871 of run {run_id} not found within max_delay 30s")
        ]
        store += [(StoreReason.UNREACHABLE, "no answer within 5s")]
        where = Component("url", f"http://{host}:3100/loki/api/v1/query")
        detail = {"canaries": counts, "newest": newest}
        return name, _made(where, Observed(1.234, "s"), store, detail=detail)
    if kind == "db":
        tcp = [(TcpReason.TIMEOUT, "connected in 0.612s, slower than warn_after 0.5s")]
        tcp += [(TcpReason.CONNECT, f"cannot connect to {host}:5432: Connection refused")]
        tcp += [(TcpReason.TIMEOUT, "no connection within 5s")]
        return name, _made(Component("address", f"{host}:5432"), Observed(0.0008, "s"), tcp)
    path = f"/var/lib/app-{c:02d}"
    disk = [(DiskReason.FREE_SPACE, "3.4 GiB free (8.5 %), under warn_free_ratio 0.1 (10 %)")]
    disk += [
        (DiskReason.FREE_SPACE, "412.0 MiB free (1.0 %), under min_free_bytes 1073741824 (1.0 GiB)")
    ]
    disk += [(DiskReason.WRITE, f"cannot write {path}/.smoke-test-probe: No space left on device")]
    return name, _made(Component("path", path), Observed(3.4 * 2**30, "bytes"), disk)


def _pick(run: int, check: int) -> int:
    """Which of a check's variants a run gives: each check fails in 3 runs of 60 and warns in
    one; one failure in 7 is its other kind, so runs of the same failure fold, not all."""
    slot = (run * 7 + check * 11) % 60
    if slot < 3:
        return 3 if (run * 13 + check * 5) % 7 == 0 else 2
    return 1 if slot == 3 else 0


def state(count: int) -> Sources:
    """The page's sources after a day of runs of ``count`` checks, the last ending at NOW -
    12.5 s: each check's last 50 marks and a day of per-minute counts, the last run, and the
    last 50 failed runs as the runner keeps them."""
    checks = dict([("logging", _logging()), *(_check(c) for c in range(1, count))])
    outcomes = [[CheckOutcome(v, 0.0123) for v in variants] for variants in checks.values()]
    timeline, history = Timeline(), History()
    for run in range(DAY_RUNS):
        started = NOW - 13 - (DAY_RUNS - 1 - run) * RUN_SECONDS
        result = RunResult(
            run_id=f"{run:032x}",
            trigger=Trigger.SCHEDULE,
            started=datetime.fromtimestamp(started, UTC),
            duration_seconds=0.5,
            checks={name: outcomes[c][_pick(run, c)] for c, name in enumerate(checks)},
            success_message="Smoke test successful.",
        )
        timeline.record(result)
        if result.status is Status.FAIL:  # the runner's history, of which the page reads these
            briefs = {name: brief(o.result) for name, o in result.checks.items()}
            time_text = result.started.isoformat()
            history.add(
                Entry(time_text, "schedule", "fail", 0.5, result.run_id, result.cause, briefs)
            )
    links = [Link(r.method, r.path, r.link) for r in route_table("/metrics") if r.link is not None]
    return Sources(result, list(checks), timeline, history.failures, "web-1", "1.0.0", links)


def _cpu(call: Callable[[], object], calls: int) -> float:
    """The median over REPEATS rounds of this process's CPU seconds a call."""
    call()  # warm: the first call sums the uptimes
    rounds = []
    for _ in range(REPEATS):
        start = time.process_time()
        for _ in range(calls):
            call()
        rounds.append((time.process_time() - start) / calls)
    return statistics.median(rounds)


def measure_status_page(renders: int) -> tuple[StatusPoint, ...]:
    """Each count of checks: the page's bytes, and ``renders`` renders a round."""
    return tuple(_point(count, renders) for count in CHECKS)


def _point(count: int, renders: int) -> StatusPoint:
    sources, assets, minutes = state(count), page_assets(), itertools.count(1)
    return StatusPoint(
        count,
        len(render(status_view(sources, NOW), assets).encode("utf-8")),
        _cpu(lambda: render(status_view(sources, NOW), assets), renders),
        _cpu(lambda: json.dumps(status_view(sources, NOW)), renders),
        _cpu(lambda: render(status_view(sources, NOW + 60 * next(minutes)), assets), renders),
    )


def status_table(points: Sequence[StatusPoint]) -> str:
    """One row a count of checks."""
    lines = [
        "| checks | page bytes | CPU per page render | CPU per status.json "
        "| CPU per page render, first in a minute |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in points:
        lines.append(
            f"| {p.checks} | {p.page_bytes:,} | {p.page_seconds * 1000:.2f} ms "
            f"| {p.json_seconds * 1000:.2f} ms | {p.first_seconds * 1000:.2f} ms |"
        )
    return "\n".join(lines)


def status_section(points: Sequence[StatusPoint], renders: int) -> str:
    """BENCHMARKS.md's section on the status page."""
    return f"""## Status page

Built in this process, as a day of runs leaves it: the logging check (three sinks), then http,
store, tcp and disk checks in turn; a run every {RUN_SECONDS} s for 24 h, each check failing in 3
runs of 60 and warning in one, with the errors those checks write. So each check has its 50
marks and a day of per-minute counts, and the last 50 failed runs are kept. CPU is this
process's, the median of {REPEATS} rounds of {renders} renders: the page (`/`) and its figures
(`/status.json`, `json.dumps` of the same view) as a refresh between runs finds them; and the
page first rendered in a new minute, when each check's 1440 per-minute counts are summed
again. Page bytes are the HTML's UTF-8 length, before any compression.

{status_table(points)}"""


if __name__ == "__main__":
    print(status_table(measure_status_page(RENDERS)))
