"""One store's canary book over a ledger and a registry, the counters it is expected to show,
and a canary's line as the exporter writes it."""

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


def body(canary: Canary, instance: str = "host-a", **changed: Any) -> dict[str, Any]:
    """The canary's line as the exporter writes it (its signature made for ``host-a``), with
    ``changed`` fields; a field changed to None is left out."""
    fields = {
        "message": "m",
        "run_id": canary.run_id,
        "seq": canary.seq,
        "instance": instance,
        "signature": canary.signature,
    }
    fields |= changed
    return {k: v for k, v in fields.items() if v is not None}


# The ways a line can claim to be a canary without this process's signature for it.
FORGERIES = ("no signature", "a wrong signature", "another key's", "another seq's")


def forged(how: str, ledger: CanaryLedger, canary: Canary) -> dict[str, Any]:
    """The fields that forge a line of ``canary`` ``how``: its signature left out, made up,
    made with another key, or the right one for the next canary."""
    forgeries: dict[str, dict[str, Any]] = {
        "no signature": {"signature": None},
        "a wrong signature": {"signature": "0123456789abcdef" * 2},
        "another key's": {
            "signature": CanaryLedger(ledger.instance).sign(canary.run_id, canary.seq)
        },
        "another seq's": {"signature": ledger.sign(canary.run_id, canary.seq + 1)},
    }
    return forgeries[how]
