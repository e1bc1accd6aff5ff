"""python -m bench: run every measurement and write BENCHMARKS.md."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.report import document, ratios, table
from bench.runs import Settings
from bench.suite import run_suite


def main() -> None:
    """Parse the run's size, run it, print the tables, write the document."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up")
    parser.add_argument("--records", type=int, default=100_000, help="for the pipeline rows")
    parser.add_argument("--requests", type=int, default=2000, help="for log delivery latency")
    parser.add_argument("--store-runs", type=int, default=500, help="for the store checks' CPU")
    parser.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    settings = Settings(seconds=args.seconds, rounds=args.rounds, warmup_seconds=args.warmup)
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        results = run_suite(
            settings,
            Path(work),
            records=args.records,
            requests=args.requests,
            store_runs=args.store_runs,
        )
    print(table(results), ratios(results), sep="\n\n")
    args.output.write_text(
        document(results, settings, args.records, args.requests, args.store_runs)
    )


if __name__ == "__main__":
    main()
