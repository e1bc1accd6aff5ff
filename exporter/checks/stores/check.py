"""A store check: asks a central log store for the pending canaries, once a run, and says
what the newest settled canary says."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar

from exporter.checks.base import CheckDeps, CheckType, Schema
from exporter.checks.canaries import CanaryLedger
from exporter.checks.stores.book import CanaryBook, Sightings, StoreOptions, Wanted
from exporter.checks.stores.series import COUNTED
from exporter.verdict import Check, CheckResult, Component, Observed, RunInfo, Status

OptionsT = TypeVar("OptionsT", bound=StoreOptions)


class StoreReason(enum.Enum):
    """Why a store check is not ok."""

    PENDING = "pending"  # (warn) no canary has settled yet
    MISSING = "missing"  # the newest settled canary was not found within max_delay
    LOST = "lost"  # a canary found earlier is gone
    UNREACHABLE = "unreachable"  # no connection, or no answer within the timeout
    AUTH = "auth"  # the store said 401 or 403
    QUERY = "query"  # another 4xx or 5xx, or an answer not of the documented shape
    TLS = "tls"  # the handshake failed, or the certificate was not trusted


class StoreError(Exception):
    """The store could not be asked: the reason, and what went wrong."""

    def __init__(self, reason: StoreReason, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error


class Store(Protocol):
    """One kind of store, as a check asks it."""

    component: Component

    async def find(self, wanted: Wanted, ledger: CanaryLedger) -> Sightings:
        """Signed copies of the wanted canaries the store holds (the ledger knows the instance
        and checks signatures), and the forged; StoreError when it cannot say."""


DETAIL_SCHEMA: Schema = {
    "canaries": {
        "type": "object",
        "description": "Counts since the check began, and how many are pending now.",
        "properties": {name: {"type": "integer", "minimum": 0} for name in ("pending", *COUNTED)},
    },
    "newest": {
        "type": "object",
        "description": "The newest settled canary.",
        "properties": {
            "run_id": {"type": "string"},
            "seq": {"type": "integer"},
            "state": {"enum": ["found", "missing"]},
            "delay_seconds": {"type": "number"},
        },
    },
}


class StoreCheck:
    """Asks ``store`` for what ``book`` says is wanted, within the run's deadline."""

    def __init__(self, book: CanaryBook, store: Store) -> None:
        self._book = book
        self._store = store

    async def __call__(self, run: RunInfo) -> CheckResult:
        book = self._book
        # Let the canary this run writes (by a logging check listed before) be asked for too.
        await asyncio.sleep(0)
        wanted = book.take(time.time())
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(run.own_deadline):
                seen = await self._store.find(wanted, book.ledger)
        except TimeoutError:
            error = f"no answer within {run.timeout_seconds:g}s"
            return self._result(Status.FAIL, StoreReason.UNREACHABLE, error)
        except StoreError as failure:
            return self._result(Status.FAIL, failure.reason, failure.error)
        finally:
            book.series.query.observe(time.perf_counter() - started)
        book.settle(wanted, seen, time.time())
        return self._verdict()

    def _verdict(self) -> CheckResult:
        book = self._book
        if book.lost is not None:
            return self._result(Status.FAIL, StoreReason.LOST, book.lost)
        newest = book.newest
        if newest is None:
            pending = f"{len(book.pending)} canaries pending, none found or missing yet"
            return self._result(Status.WARN, StoreReason.PENDING, pending)
        if not newest.found:
            c = newest.canary
            error = (
                f"canary seq {c.seq} of run {c.run_id} not found within max_delay "
                f"{book.options.max_delay:g}s"
            )
            return self._result(Status.FAIL, StoreReason.MISSING, error)
        return self._result(Status.OK)

    def _result(
        self, status: Status, reason: StoreReason | None = None, error: str | None = None
    ) -> CheckResult:
        book = self._book
        detail: dict[str, Any] = {"canaries": {"pending": len(book.pending), **vars(book.tally)}}
        observed = None
        if book.newest is not None:
            c = book.newest.canary
            newest: dict[str, Any] = {
                "run_id": c.run_id,
                "seq": c.seq,
                "state": "found" if book.newest.found else "missing",
            }
            if book.newest.delay is not None:
                newest["delay_seconds"] = round(book.newest.delay, 6)
                observed = Observed(book.newest.delay, "s")
            detail["newest"] = newest
        return CheckResult(
            status,
            reason,
            error,
            self._store.component,
            observed,
            detail=detail,
        )


def build_store_check(
    name: str,
    options: StoreOptions,
    deps: CheckDeps,
    identity: Hashable,
    store: Store,
) -> Check:
    """A store check whose accounting lives on while ``name`` asks the same store."""
    stores = deps.stores
    book = stores.state(
        name, "book", identity, lambda: CanaryBook(stores.ledger, stores.series(name), options)
    )
    book.options = options
    return StoreCheck(book, store)


def store_type(
    options: type[OptionsT],
    build: Callable[[str, OptionsT, CheckDeps], Check],
    summary: str,
) -> CheckType[OptionsT]:
    """The CheckType of one kind of store."""
    return CheckType(options, build, StoreReason, summary, DETAIL_SCHEMA, unit="s")
