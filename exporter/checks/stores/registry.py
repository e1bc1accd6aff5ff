"""What store checks keep across reloads: their series, and state they must not lose, such as
the pending canaries and a followed file's position."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from exporter.checks.canaries import CanaryLedger
from exporter.checks.stores.series import CanarySeries, StoreChildren

T = TypeVar("T")


class Stores:
    """The app's store-check state, by check name. A reload that keeps a check's name and the
    store it asks keeps its state; one that drops the name drops its state and series."""

    def __init__(self, registry: CollectorRegistry, ledger: CanaryLedger) -> None:
        self.ledger = ledger
        self._series = CanarySeries(registry)
        self._children: dict[str, StoreChildren] = {}
        self._states: dict[tuple[str, str], tuple[Hashable, Any]] = {}

    def series(self, store: str) -> StoreChildren:
        """``store``'s series, created at 0 the first time."""
        if store not in self._children:
            self._children[store] = self._series.children(store)
        return self._children[store]

    def state(self, store: str, slot: str, identity: Hashable, make: Callable[[], T]) -> T:
        """The state ``store`` keeps in ``slot`` while it asks the same store (``identity``);
        ``make`` builds it the first time and whenever the identity changes."""
        kept = self._states.get((store, slot))
        if kept is not None and kept[0] == identity:
            value: T = kept[1]
            return value
        if kept is not None:
            _close(kept[1])
        value = make()
        self._states[(store, slot)] = (identity, value)
        return value

    def keep(self, stores: Iterable[str]) -> None:
        """Forget the state and series of every store check not named in ``stores``."""
        names = set(stores)
        for store in [s for s in self._children if s not in names]:
            self._series.remove(store)
            del self._children[store]
        for key in [k for k in self._states if k[0] not in names]:
            _close(self._states.pop(key)[1])


def _close(state: Any) -> None:
    """Let go of what a dropped state holds open (a followed file)."""
    close = getattr(state, "close", None)
    if callable(close):
        close()
