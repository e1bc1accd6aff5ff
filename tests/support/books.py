"""One store's canary book over a ledger and a registry, and the counters it is expected to show."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from exporter.checks.canaries import Canary, CanaryLedger
from exporter.checks.stores.book import CanaryBook, StoreOptions
from exporter.checks.stores.registry import Stores
from exporter.checks.stores.series import COUNTED
from exporter.options import Seconds

STORE = "central"


class Books:
    """A ledger, a registry, and one store's book over them."""

    def __init__(self, **options: float) -> None:
        self.registry = CollectorRegistry()
        self.ledger = CanaryLedger("host-a")
        self.stores = Stores(self.registry, self.ledger)
        typed: dict[str, Any] = {
            k: (int(v) if k == "max_pending" else Seconds(v)) for k, v in options.items()
        }
        self.book = CanaryBook(self.ledger, self.stores.series(STORE), StoreOptions(**typed))

    def write(self, n: int = 1) -> list[Canary]:
        return [self.ledger.write(f"run{self.ledger.last_seq + 1:029d}") for _ in range(n)]

    def counts(self) -> dict[str, float]:
        values = {}
        for name in COUNTED:
            sample = f"smoke_test_canary_{name}_total"
            value = self.registry.get_sample_value(sample, {"store": STORE})
            assert value is not None
            values[name] = value
        return values

    def pending(self) -> float | None:
        return self.registry.get_sample_value("smoke_test_canary_pending", {"store": STORE})

    def delays(self) -> float | None:
        return self.registry.get_sample_value(
            "smoke_test_canary_delay_seconds_count", {"store": STORE}
        )


def zero(**changed: int) -> dict[str, float]:
    return {name: float(changed.get(name, 0)) for name in COUNTED}
