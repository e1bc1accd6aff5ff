"""The whole run's series: success, last run and success times, the interval, counts, duration."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# From 250 µs to 5 s: a canary reaches stdout in about 250 µs, a healthy run takes about a
# millisecond, a stuck sink up to the timeout. Ten buckets: each is a series in every scrape,
# once for the run and once per sink; the alerts read the quantiles at 1 s and above.
DURATION_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05, 0.25, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class RunSeries:
    """Handles on the run's families; docs/metrics.md says what each one means."""

    success: Gauge
    last_run: Gauge
    last_success: Gauge
    interval: Gauge
    runs: Counter
    failures: Counter
    duration: Histogram


def create_run_series(
    registry: CollectorRegistry, *, triggers: Iterable[str], interval_seconds: float
) -> RunSeries:
    """Register the run's families on ``registry``, each trigger's counts at 0: the exporter's
    own, and the only ones the smoke test inside a service adds to the service's registry
    besides the checks'."""
    p = "smoke_test_"
    series = RunSeries(
        success=Gauge(p + "success", "1 if the last smoke test passed, else 0.", registry=registry),
        last_run=Gauge(
            p + "last_run_timestamp_seconds",
            "Unix time the last smoke test finished.",
            registry=registry,
        ),
        last_success=Gauge(
            p + "last_success_timestamp_seconds",
            "Unix time the last passing smoke test finished (0 if none yet).",
            registry=registry,
        ),
        interval=Gauge(
            p + "interval_seconds",
            "Seconds between background runs; 0 when they are turned off.",
            registry=registry,
        ),
        runs=Counter(p + "runs", "Smoke tests run, by trigger.", ["trigger"], registry=registry),
        failures=Counter(
            p + "failures", "Smoke tests failed, by trigger.", ["trigger"], registry=registry
        ),
        duration=Histogram(
            p + "duration_seconds",
            "Duration of a whole smoke test.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
    )
    series.interval.set(interval_seconds)
    for trigger in triggers:
        series.runs.labels(trigger)
        series.failures.labels(trigger)
    return series
