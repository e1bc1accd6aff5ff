"""Each store check's canary series: written, found, missing, late, duplicate, lost, dropped and
forged canaries, the pending gauge, and the delay and query-time histograms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

P = "smoke_test_canary_"
# From 100 ms to 5 min: a shipper batches for a second or so, a store may index for minutes.
DELAY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# From 1 ms to 10 s: a query is cut off at the check's timeout.
QUERY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
COUNTED = (
    "written",
    "found",
    "missing",
    "late",
    "duplicate",
    "lost",
    "dropped_pending",
    "forged",
)
HELP = {
    "written": "Canaries written that this store check looks for.",
    "found": "Canaries found in the store within max_delay.",
    "missing": "Canaries not found by the first query made max_delay after they were written.",
    "late": "Missing canaries that showed up in the store later.",
    "duplicate": "Extra copies of canaries the store holds (same run_id and seq).",
    "lost": "Canaries found earlier that a re-check no longer found.",
    "dropped_pending": "Canaries given up on unsettled: more than max_pending were pending.",
    "forged": "Canaries asked for that the store also held a line for with a missing or wrong "
    "signature; each counted once.",
}


@dataclass(frozen=True)
class StoreChildren:
    """One store's series, at hand."""

    counters: dict[str, Any]
    pending: Any
    delay: Any
    query: Any


class CanarySeries:
    """The canary metrics on one registry; a store check's series exist while it is configured."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counters = {
            name: Counter(P + name, HELP[name], ["store"], registry=registry) for name in COUNTED
        }
        self._pending = Gauge(
            P + "pending",
            "Canaries written and not yet found or declared missing.",
            ["store"],
            registry=registry,
        )
        self._delay = Histogram(
            P + "delay_seconds",
            "Time from writing a canary to the query that found it in the store.",
            ["store"],
            buckets=DELAY_BUCKETS,
            registry=registry,
        )
        self._query = Histogram(
            P + "store_query_duration_seconds",
            "Time a store check's queries took, answered or not.",
            ["store"],
            buckets=QUERY_BUCKETS,
            registry=registry,
        )

    def children(self, store: str) -> StoreChildren:
        """``store``'s series, created at 0."""
        return StoreChildren(
            {name: counter.labels(store) for name, counter in self._counters.items()},
            self._pending.labels(store),
            self._delay.labels(store),
            self._query.labels(store),
        )

    def remove(self, store: str) -> None:
        """Take ``store``'s series out of the registry."""
        for metric in (*self._counters.values(), self._pending, self._delay, self._query):
            metric.remove(store)
