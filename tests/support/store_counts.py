"""A store's canary counters as a running exporter serves them."""

from __future__ import annotations

from tests.conftest import Exporter

NAMES = ("written", "found", "missing", "late", "duplicate", "lost", "dropped_pending", "forged")


def counts(exporter: Exporter, store: str = "central") -> dict[str, float]:
    return {n: exporter.sample(f"smoke_test_canary_{n}_total", store=store) for n in NAMES}
