"""The sinks' own series: records a sink failed to deliver or never got, and how long the
canary took to reach it, by sink."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from exporter.run.run_series import DURATION_BUCKETS


class SinkSeries:
    """The three families every sink counts on, registered once on the app's registry; each
    sink makes and removes its own labelled children."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.errors = Counter(
            "smoke_test_log_sink_errors",
            "Log records a sink failed to deliver, by sink and reason.",
            ["sink", "reason"],
            registry=registry,
        )
        self.dropped = Counter(
            "smoke_test_log_records_dropped",
            "Log records a sink never got: its queue was full, or a rate cap dropped them.",
            ["sink", "reason"],
            registry=registry,
        )
        self.delivery = Histogram(
            "smoke_test_log_delivery_seconds",
            "Time from emitting the canary to its confirmed delivery, by sink.",
            ["sink"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
