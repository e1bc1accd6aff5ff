"""The performance issue's targets: each one's goal, and the measurements it is judged on."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.bursts import BURST_RSS_GOAL_MB, SMOKE_TEST_BURST
from bench.curves import SLOW_SECONDS
from bench.status_page import PAGE_LIMIT_BYTES
from bench.suite import Results

MB = 1024 * 1024
LINE_LIMIT_AT_50 = 2000
NOT_MEASURED = "n.a."


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or NaN (not measured) when the denominator is 0: in a short
    round a p99, a CPU time read in clock ticks or a rate can come out as 0."""
    return numerator / denominator if denominator else math.nan


@dataclass(frozen=True)
class Target:
    """One goal from the performance issue. ``values`` are its measurements: one, or one per
    pair of interleaved rounds; the target is met when their median meets it. A value that
    could not be measured is NaN: it shows as ``n.a.`` and meets no goal."""

    name: str
    goal: str
    values: Callable[[Results], Sequence[float]]
    met: Callable[[float], bool]
    shown: str  # format of a value

    def show(self, value: float) -> str:
        """One value as the report writes it."""
        return NOT_MEASURED if math.isnan(value) else self.shown.format(value)


def _p99s(r: Results, name: str) -> list[float]:
    return [x.result.p99 * 1000 for x in r.rows[name].rounds]


def _point(r: Results, checks: int) -> float:
    [point] = [p for p in r.curves.points if p.checks == checks]
    return point.metrics_lines


def _page_bytes(r: Results, checks: int) -> float:
    [point] = [p for p in r.status_page if p.checks == checks]
    return point.page_bytes


def _cadence_ratios(r: Results) -> list[float]:
    """Round by round, ours' CPU a scrape at the 50 ms cadence over blackbox's."""
    pairs = zip(r.cadence["ours"], r.cadence["blackbox"], strict=True)
    return [ratio(ours.cpu_per_scrape, peer.cpu_per_scrape) for ours, peer in pairs]


def _scrape_growth(r: Results) -> float:
    """How scrape CPU grew from 1 to 50 checks, over how the series grew: at most 1.0 is at
    most linear in the series."""
    at = {p.checks: p for p in r.curves.points}
    cpu = ratio(at[50].scrape_cpu_seconds, at[1].scrape_cpu_seconds)
    return ratio(cpu, ratio(at[50].metrics_series, at[1].metrics_series))


TARGETS = [
    Target(
        "/smoke-test (min-interval 0) / blackbox /probe, req/s",
        ">= 1.5",
        lambda r: r.ratios["/smoke-test / blackbox /probe"],
        lambda v: v >= 1.5,
        "{:.2f}",
    ),
    Target(
        "/metrics / blackbox /metrics, req/s",
        ">= 1.0",
        lambda r: r.ratios["/metrics / blackbox"],
        lambda v: v >= 1.0,
        "{:.2f}",
    ),
    Target(
        "/metrics as Prometheus scrapes (gzip) / blackbox's, req/s",
        ">= 1.5",
        lambda r: r.ratios["/metrics as Prometheus scrapes / blackbox"],
        lambda v: v >= 1.5,
        "{:.2f}",
    ),
    Target(
        "CPU per scrape as Prometheus scrapes, flood / blackbox's",
        "<= 1.0",
        lambda r: r.ratios["CPU per scrape as Prometheus scrapes / blackbox"],
        lambda v: v <= 1.0,
        "{:.2f}",
    ),
    Target(
        "CPU per scrape as Prometheus scrapes, 50 ms apart / blackbox's",
        "<= 1.0",
        _cadence_ratios,
        lambda v: v <= 1.0,
        "{:.2f}",
    ),
    Target(
        "the same, against the trust issue's goal (from 5.7)",
        "<= 3.0",
        _cadence_ratios,
        lambda v: v <= 3.0,
        "{:.2f}",
    ),
    Target(
        "/-/healthy / floor, req/s",
        ">= 0.6",
        lambda r: r.ratios["/-/healthy / floor"],
        lambda v: v >= 0.6,
        "{:.2f}",
    ),
    Target(
        "/smoke-test (min-interval 0) p99 at 50 connections",
        "< 10 ms",
        lambda r: _p99s(r, "ours /smoke-test, min-interval 0"),
        lambda v: v < 10,
        "{:.2f} ms",
    ),
    Target(
        "log delivery p99 (emit to read-back, file)",
        "< 2 ms",
        lambda r: [r.delivery_p99 * 1000],
        lambda v: v < 2,
        "{:.3f} ms",
    ),
    Target(
        "queue pipeline / FileHandler, records/s",
        ">= 0.8",
        lambda r: [ratio(r.queue_records_per_second, r.file_handler_records_per_second)],
        lambda v: v >= 0.8,
        "{:.2f}",
    ),
    Target(
        "/metrics p99 with stdout stuck / drained",
        "<= 2",
        lambda r: [ratio(r.rows["ours /metrics, stdout stuck"].p99, r.rows["ours /metrics"].p99)],
        lambda v: v <= 2,
        "{:.2f}",
    ),
    Target(
        "RSS after every load (the most)",
        "< 45 MB",
        lambda r: [max(rss for _, rss in r.memory + r.burst_memory) / MB],
        lambda v: v < 45,
        "{:.1f} MB",
    ),
    Target(
        f"RSS after {SMOKE_TEST_BURST.removeprefix('ours ')}, --web.max-requests 40",
        f"< {BURST_RSS_GOAL_MB} MB",
        lambda r: [r.rows[SMOKE_TEST_BURST].rss_after / MB],
        lambda v: v < BURST_RSS_GOAL_MB,
        "{:.1f} MB",
    ),
    Target(
        "start-up to /-/ready",
        "< 1 s",
        lambda r: [r.startup_seconds],
        lambda v: v < 1,
        "{:.2f} s",
    ),
    Target(
        "store check CPU per run, 100 pending (loki, steady)",
        "<= 1 ms",
        lambda r: [r.store_cpu["loki steady 100"] * 1000],
        lambda v: v <= 1,
        "{:.3f} ms",
    ),
    Target(
        "store check CPU per run, 100 pending (file, steady)",
        "<= 1 ms",
        lambda r: [r.store_cpu["file steady 100"] * 1000],
        lambda v: v <= 1,
        "{:.3f} ms",
    ),
    Target(
        f"run wall time / its slowest check, 20 checks of ~{SLOW_SECONDS * 1000:.0f} ms",
        "<= 1.2",
        lambda r: r.curves.concurrency.ratios,
        lambda v: v <= 1.2,
        "{:.3f}",
    ),
    Target(
        "/metrics lines at 50 checks",
        f"< {LINE_LIMIT_AT_50}",
        lambda r: [_point(r, 50)],
        lambda v: v < LINE_LIMIT_AT_50,
        "{:.0f}",
    ),
    Target(
        "scrape CPU growth from 1 to 50 checks / series growth",
        "<= 1.0 (at most linear)",
        lambda r: [_scrape_growth(r)],
        lambda v: v <= 1.0,
        "{:.2f}",
    ),
    Target(
        "status page at 50 checks",
        f"< {PAGE_LIMIT_BYTES // 1000} KB",
        lambda r: [_page_bytes(r, 50)],
        lambda v: v < PAGE_LIMIT_BYTES,
        "{:,.0f} bytes",
    ),
]
