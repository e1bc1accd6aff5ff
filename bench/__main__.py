"""python -m bench: run every measurement, write BENCHMARKS.md and its plots under docs/."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.plots import plot
from bench.report import document, ratios, table
from bench.runs import Settings
from bench.status_page import RENDERS
from bench.stores import CURVE
from bench.suite import Results, Sizes, run_suite


def draw(results: Results, docs: Path) -> None:
    """The three cost curves as PNGs in ``docs``."""
    points = results.curves.points
    checks = [p.checks for p in points]
    plot(
        docs / "bench-runs.png",
        title="A run's cost against its checks",
        xlabel="checks",
        xs=checks,
        lines={
            "wall time (median)": [p.run_wall_seconds * 1000 for p in points],
            "server CPU": [p.run_cpu_seconds * 1000 for p in points],
        },
        ylabel="ms per run",
    )
    plot(
        docs / "bench-metrics.png",
        title="/metrics against checks",
        xlabel="checks",
        xs=checks,
        lines={
            "series / 100": [p.metrics_series / 100 for p in points],
            "scrape CPU, ms": [p.scrape_cpu_seconds * 1000 for p in points],
        },
        ylabel="series / 100; ms per scrape",
    )
    plot(
        docs / "bench-stores.png",
        title="A store check's CPU against pending canaries",
        xlabel="pending canaries",
        xs=list(CURVE),
        lines={
            kind: [results.store_cpu[f"{kind} steady {n}"] * 1000 for n in CURVE]
            for kind in ("loki", "file")
        },
        ylabel="ms per run",
    )


def main() -> None:
    """Parse the run's size, run it, print the tables, write the document and the plots."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up")
    parser.add_argument("--records", type=int, default=100_000, help="for the pipeline rows")
    parser.add_argument("--requests", type=int, default=2000, help="log delivery, the soak")
    parser.add_argument("--store-runs", type=int, default=500, help="for the store checks' CPU")
    parser.add_argument("--cadence-scrapes", type=int, default=150, help="a round, 50 ms apart")
    parser.add_argument("--curve-runs", type=int, default=100, help="per cost-curve point")
    parser.add_argument("--footprint-starts", type=int, default=3, help="per config, RSS by type")
    parser.add_argument("--footprint-runs", type=int, default=100, help="after each start-up")
    parser.add_argument("--status-renders", type=int, default=RENDERS, help="a round, per count")
    parser.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    settings = Settings(seconds=args.seconds, rounds=args.rounds, warmup_seconds=args.warmup)
    sizes = Sizes(
        records=args.records,
        requests=args.requests,
        store_runs=args.store_runs,
        cadence_scrapes=args.cadence_scrapes,
        curve_runs=args.curve_runs,
        footprint_starts=args.footprint_starts,
        footprint_runs=args.footprint_runs,
        status_renders=args.status_renders,
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        results = run_suite(settings, Path(work), sizes)
    print(table(results), ratios(results), sep="\n\n")
    args.output.write_text(document(results, settings, sizes))
    draw(results, args.output.parent / "docs")


if __name__ == "__main__":
    main()
