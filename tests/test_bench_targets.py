"""Tests of bench/targets.py: a figure measured as 0 under a ratio reads n.a., it does not
crash the report."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from bench.bursts import SMOKE_TEST_BURST
from bench.cadence import Cadence
from bench.curves import Concurrency, Curves, Point
from bench.footprint import Footprint
from bench.report import ratios
from bench.runs import Round, Row
from bench.status_page import StatusPoint
from bench.suite import Results
from bench.targets import TARGETS, Target, ratio
from bench.wrk import WrkResult

MB = 1024 * 1024
CADENCE = "CPU per scrape as Prometheus scrapes, 50 ms apart / blackbox's"
CADENCE_TRUST = "the same, against the trust issue's goal (from 5.7)"
QUEUE = "queue pipeline / FileHandler, records/s"
STUCK = "/metrics p99 with stdout stuck / drained"
GROWTH = "scrape CPU growth from 1 to 50 checks / series growth"
PAGE = "status page at 50 checks"


def row(name: str, p99: float) -> Row:
    """A row of one round: 1 000 req/s, p50 1 ms, ``p99``."""
    result = WrkResult(1000, 1.0, 1000.0, 0.001, p99, 0, 0)
    return Row(name, (Round(result, 0.5, 30 * MB),))


def point(checks: int, series: int, scrape_cpu: float) -> Point:
    return Point(checks, 0.001, 0.002, 20_000, series + 100, series, scrape_cpu)


def measured() -> Results:
    """Every figure a target reads, none of them 0."""
    return Results(
        rows={
            name: row(name, p99)
            for name, p99 in (
                ("ours /smoke-test, min-interval 0", 0.004),
                ("ours /metrics", 0.002),
                ("ours /metrics, stdout stuck", 0.003),
                (SMOKE_TEST_BURST, 0.1),
            )
        },
        ratios={
            "/smoke-test / blackbox /probe": [1.6],
            "/metrics / blackbox": [1.1],
            "/metrics as Prometheus scrapes / blackbox": [1.2],
            "CPU per scrape as Prometheus scrapes / blackbox": [0.9],
            "/-/healthy / floor": [0.7],
        },
        cadence={
            # 0.004 s and 0.002 s of CPU a scrape beyond idle
            "ours": [Cadence(100, 0.05, 0.5, 0.1, 3000)],
            "blackbox": [Cadence(100, 0.05, 0.3, 0.1, 1000)],
        },
        memory=[("at start", 30 * MB)],
        burst_memory=[("at start", 30 * MB)],
        delivery_p50=0.0005,
        delivery_p99=0.001,
        startup_seconds=0.5,
        queue_records_per_second=90_000.0,
        file_handler_records_per_second=100_000.0,
        store_cpu={"loki steady 100": 0.0005, "file steady 100": 0.0005},
        curves=Curves(
            points=(point(1, 100, 0.002), point(50, 1000, 0.004)),
            series_per_check={"http": 14, "tcp": 13, "disk": 12},
            concurrency=Concurrency(20, (1.01,), 0.05),
        ),
        footprints=(Footprint("default (the logging check)", 43 * MB, 43 * MB, 0),),
        status_page=(
            StatusPoint(1, 19_000, 0.0008, 0.0005, 0.0006),
            StatusPoint(50, 99_999, 0.012, 0.013, 0.018),
        ),
    )


def cells(results: Results) -> dict[str, str]:
    """The report's targets table: each target's measured cell and its verdict."""
    found = {}
    for line in ratios(results).splitlines()[2:]:
        name, _, value, met = line.strip("| ").split(" | ")
        found[name] = f"{value} | {met}"
    assert list(found) == [target.name for target in TARGETS]
    return found


def test_ratio_divides_and_gives_nan_for_a_zero_denominator() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(0.0, 2.0) == 0.0
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(0.0, 0.0))
    assert math.isnan(ratio(math.nan, 2.0))
    assert math.isnan(ratio(2.0, math.nan))


def test_a_value_not_measured_is_shown_as_n_a() -> None:
    def target(shown: str) -> Target:
        return Target("t", "< 1", lambda r: [], lambda v: v < 1, shown)

    assert target("{:.2f} ms").show(1.234) == "1.23 ms"
    assert target("{:.2f} ms").show(math.nan) == "n.a."
    assert target("{:.0f}").show(0.0) == "0"


def test_the_ratio_targets_read_their_figures() -> None:
    found = cells(measured())
    assert found[CADENCE] == "2.00 | **no**"
    assert found[CADENCE_TRUST] == "2.00 | yes"
    assert found[QUEUE] == "0.90 | yes"
    assert found[STUCK] == "1.50 | yes"
    assert found[GROWTH] == "0.20 | yes"  # CPU grew 2x while the series grew 10x
    assert found[PAGE] == "99,999 bytes | yes"  # under 100 KB: 100 000 bytes
    assert not [name for name, cell in found.items() if "n.a." in cell]


@pytest.mark.parametrize(
    ("targets", "unmeasured"),
    [
        # The blackbox's CPU over the scrapes came out below its idle CPU: 0 a scrape.
        (
            (CADENCE, CADENCE_TRUST),
            lambda r: {"cadence": {**r.cadence, "blackbox": [Cadence(20, 0.05, 0.01, 0.02, 1)]}},
        ),
        ((QUEUE,), lambda r: {"file_handler_records_per_second": 0.0}),
        ((STUCK,), lambda r: {"rows": {**r.rows, "ours /metrics": row("ours /metrics", 0.0)}}),
        (
            (GROWTH,),
            lambda r: {
                "curves": replace(r.curves, points=(point(1, 100, 0.0), point(50, 1000, 0.004)))
            },
        ),
        (
            (GROWTH,),
            lambda r: {
                "curves": replace(r.curves, points=(point(1, 0, 0.002), point(50, 1000, 0.004)))
            },
        ),
    ],
    ids=[
        "blackbox scrape CPU 0",
        "FileHandler rate 0",
        "drained p99 0",
        "scrape CPU at 1 check 0",
        "series at 1 check 0",
    ],
)
def test_a_zero_denominator_reads_n_a_instead_of_crashing(
    targets: tuple[str, ...], unmeasured: Callable[[Results], dict[str, Any]]
) -> None:
    results = measured()
    changed = replace(results, **unmeasured(results))
    found = cells(changed)
    assert [found[target] for target in targets] == ["n.a. | n.a."] * len(targets)
    # Every other target reads as before.
    before = cells(results)
    assert {n: c for n, c in found.items() if n not in targets} == {
        n: c for n, c in before.items() if n not in targets
    }
