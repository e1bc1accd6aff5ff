"""The ``file`` store check: canaries in a file that a shipper or syslog server writes,
followed from its end."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from exporter.checks.base import CheckDeps
from exporter.checks.canaries import CanaryLedger, Key
from exporter.checks.stores.book import FOUND_KEEP, Sightings, StoreOptions, Wanted
from exporter.checks.stores.check import StoreError, StoreReason, build_store_check, store_type
from exporter.checks.stores.follow import Follower, Place
from exporter.checks.stores.lines import Copies, seen_in_line
from exporter.verdict import Check, Component


@dataclass(frozen=True, kw_only=True)
class FileStoreOptions(StoreOptions):
    """``type: file``: the file the canary should land in (rsyslog's omfile, a node's
    /var/log/pods file), relative to the config file's directory."""

    path: Path


class FileStore:
    """Reads the followed file's new lines; re-checks a found canary where it was found."""

    def __init__(self, follower: Follower, places: OrderedDict[Key, Place]) -> None:
        self.component = Component("path", str(follower.path))
        self._follower = follower
        self._places = places

    async def find(self, wanted: Wanted, ledger: CanaryLedger) -> Sightings:
        return await asyncio.to_thread(self._find, wanted, ledger)

    def _find(self, wanted: Wanted, ledger: CanaryLedger) -> Sightings:
        copies = Copies(wanted)
        try:
            for line, place in self._follower.lines():
                key = copies.add(seen_in_line(line, ledger))
                if key is not None:
                    self._remember(key, place)
        except OSError as error:
            raise StoreError(
                StoreReason.UNREACHABLE, f"cannot read {self._follower.path}: {error.strerror}"
            ) from None
        recheck = None
        if wanted.recheck is not None:
            recheck = self._reread(wanted.recheck.canary.key, ledger)
        # Every new line is read once: a found canary met again is a new copy, a duplicate.
        return Sightings(copies.signed, recheck, frozenset(copies.forged))

    def _remember(self, key: Key, place: Place) -> None:
        if key not in self._places:
            self._places[key] = place
            while len(self._places) > FOUND_KEEP:
                self._places.popitem(last=False)

    def _reread(self, key: Key, ledger: CanaryLedger) -> int | None:
        """1 if the canary is still where it was found, signed, 0 if not; None if the file it
        was in is no longer the one followed (rotated or truncated: moved, not lost)."""
        place = self._places.get(key)
        if place is None:
            return None
        try:
            line = self._follower.reread(place)
        except OSError:
            return None
        if line is None:
            return None
        return 1 if seen_in_line(line, ledger) == (key, True) else 0


def build(name: str, options: FileStoreOptions, deps: CheckDeps) -> Check:
    """A check of one followed file; the position read to lives on across reloads."""
    follower = deps.stores.state(name, "follower", options.path, lambda: Follower(options.path))
    places = deps.stores.state(name, "places", options.path, OrderedDict[Key, Place])
    store = FileStore(follower, places)
    return build_store_check(name, options, deps, ("file", options.path), store)


TYPE = store_type(
    FileStoreOptions,
    build,
    "the canaries land in a file a shipper or syslog server writes, read from its end",
)
