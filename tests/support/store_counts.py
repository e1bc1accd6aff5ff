"""A store's canary counters as a running exporter serves them."""

from __future__ import annotations

from tests.conftest import Exporter


def counts(exporter: Exporter, store: str = "central") -> dict[str, float]:
    names = ("written", "found", "missing", "late", "duplicate", "lost", "dropped_pending")
    return {n: exporter.sample(f"smoke_test_canary_{n}_total", store=store) for n in names}
