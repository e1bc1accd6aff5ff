"""One store check's canary accounting: pending, found, missing, late, duplicate, lost, dropped,
forged.

A canary is pending until a query finds it, or until the first query made at least
``max_delay`` after it was written misses it: then it is missing. A missing canary is still
looked for during ``late_window``; found then, it is late, never found. Each run also re-checks
one canary found earlier, within ``recheck_window``: gone, it is lost. Only copies whose
signature verifies count; a canary asked for that the store also holds a line with a missing or
wrong signature for is forged, counted once however many such lines there are.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from exporter.checks.canaries import Canary, CanaryLedger, Key
from exporter.checks.stores.series import StoreChildren
from exporter.options import Invalid, Seconds

# Found canaries kept for re-checks, whatever recheck_window says: 4 h of runs every second.
FOUND_KEEP = 16_384
MAX_DELAY = Seconds(30.0)
LATE_WINDOW = Seconds(600.0)
RECHECK_WINDOW = Seconds(4 * 3600.0)


@dataclass(frozen=True, kw_only=True)
class StoreOptions:
    """What every store check takes: how long a canary may take, and how much is kept."""

    max_delay: Seconds = MAX_DELAY
    late_window: Seconds = LATE_WINDOW
    recheck_window: Seconds = RECHECK_WINDOW
    max_pending: int = 1000

    def __post_init__(self) -> None:
        if self.max_pending < 1:
            raise Invalid("max_pending", f"{self.max_pending} must be at least 1")
        if self.late_window < self.max_delay:
            raise Invalid(
                "late_window",
                f"{self.late_window:g}s is shorter than max_delay {self.max_delay:g}s",
            )


@dataclass
class Found:
    """A canary the store had: when a query found it, and how many copies it held."""

    canary: Canary
    at: float
    copies: int


@dataclass(frozen=True)
class Wanted:
    """What one run asks the store for."""

    pending: tuple[Canary, ...]
    late: tuple[Canary, ...]  # missing ones, still watched for
    recheck: Found | None
    asked_at: float

    @property
    def canaries(self) -> tuple[Canary, ...]:
        """Every canary asked for, the re-checked one last."""
        again = () if self.recheck is None else (self.recheck.canary,)
        return (*self.pending, *self.late, *again)

    @property
    def oldest(self) -> float | None:
        """When the oldest canary asked for was written."""
        return min((c.written for c in self.canaries), default=None)


@dataclass(frozen=True)
class Sightings:
    """What the store answered: copies of the pending and late canaries it holds (and, for a
    store read as a stream, more copies of found ones); copies of the re-checked one."""

    copies: Mapping[Key, int] = field(default_factory=dict)
    recheck: int | None = None
    forged: frozenset[Key] = frozenset()  # canaries named by lines whose signature fails


@dataclass(frozen=True)
class Settled:
    """The newest canary settled: found (with its delay) or missing."""

    canary: Canary
    found: bool
    delay: float | None = None


@dataclass
class Tally:
    """Every count since the check began, as its series show them."""

    written: int = 0
    found: int = 0
    missing: int = 0
    late: int = 0
    duplicate: int = 0
    lost: int = 0
    dropped_pending: int = 0
    forged: int = 0


class CanaryBook:
    """Takes the ledger's new canaries, says what to ask for, and settles what was found."""

    def __init__(self, ledger: CanaryLedger, series: StoreChildren, options: StoreOptions) -> None:
        self.ledger = ledger
        self.series = series
        self.options = options
        self._seen_seq = ledger.last_seq  # canaries written before the check began are not its
        self.pending: dict[Key, Canary] = {}
        self._late: dict[Key, Canary] = {}
        self._found: deque[Found] = deque(maxlen=FOUND_KEEP)
        self._forged: dict[Key, None] = {}  # counted already, oldest first
        self.tally = Tally()
        self.newest: Settled | None = None
        self.lost: str | None = None  # why the last re-check failed, until one succeeds
        self._random = random.Random()  # noqa: S311 - picks a canary to re-check, no secret

    def _count(self, name: str, amount: int = 1) -> None:
        if amount:
            setattr(self.tally, name, getattr(self.tally, name) + amount)
            self.series.counters[name].inc(amount)

    def take(self, now: float) -> Wanted:
        """Take in the canaries written since the last run and say what to ask the store."""
        new = self.ledger.after(self._seen_seq)
        first = new[0].seq if new else self.ledger.last_seq + 1
        unseen = first - self._seen_seq - 1  # written, but forgotten by the ledger already
        self._count("written", unseen + len(new))
        self._seen_seq = self.ledger.last_seq
        pending = self.pending
        for canary in new:
            pending[canary.key] = canary
        overflow = len(pending) - self.options.max_pending
        for key in list(pending)[: max(0, overflow)]:
            del pending[key]
        self._count("dropped_pending", unseen + max(0, overflow))
        for key, canary in list(self._late.items()):
            if now - canary.written > self.options.late_window:
                del self._late[key]
        while self._found and now - self._found[0].at > self.options.recheck_window:
            self._found.popleft()
        self.series.pending.set(len(pending))
        recheck = self._random.choice(self._found) if self._found else None
        return Wanted(tuple(pending.values()), tuple(self._late.values()), recheck, now)

    def settle(self, wanted: Wanted, seen: Sightings, answered_at: float) -> None:
        """Settle what the store's answer to ``wanted`` says."""
        max_delay = self.options.max_delay
        copies_of = seen.copies
        found = missing = extra = 0
        newest: Settled | None = None
        observe = self.series.delay.observe
        for canary in wanted.pending:
            key = canary.key
            copies = copies_of.get(key, 0)
            if copies:
                delay = answered_at - canary.written
                found += 1
                extra += copies - 1
                observe(delay)
                self._found.append(Found(canary, answered_at, copies))
                if newest is None or canary.seq > newest.canary.seq:
                    newest = Settled(canary, True, delay)
            elif wanted.asked_at - canary.written >= max_delay:
                missing += 1
                self._late[key] = canary
                if newest is None or canary.seq > newest.canary.seq:
                    newest = Settled(canary, False)
            else:
                continue
            del self.pending[key]
        late = 0
        for canary in wanted.late:
            copies = copies_of.get(canary.key, 0)
            if copies and canary.key in self._late:
                del self._late[canary.key]
                late += 1
                extra += copies - 1
        self._count("found", found)
        self._count("missing", missing)
        self._count("late", late)
        self._count("duplicate", extra)
        if newest is not None:
            self._newest(newest)
        if len(copies_of) > found + late:  # more keys than settled: copies of found ones?
            self._more_copies(copies_of, wanted)
        if wanted.recheck is not None and seen.recheck is not None:
            self._rechecked(wanted.recheck, seen.recheck)
        if seen.forged:
            self._forgeries(seen.forged, wanted)
        self.series.pending.set(len(self.pending))

    def _more_copies(self, copies: Mapping[Key, int], wanted: Wanted) -> None:
        """Copies of found canaries met again in a stream: each is a duplicate."""
        asked = {canary.key for canary in (*wanted.pending, *wanted.late)}
        extra = {key: n for key, n in copies.items() if key not in asked}
        if not extra:
            return
        for found in self._found:
            n = extra.get(found.canary.key, 0)
            if n:
                found.copies += n
                self._count("duplicate", n)

    def _forgeries(self, forged: frozenset[Key], wanted: Wanted) -> None:
        """Count each canary asked for that forged lines name, once."""
        new = [c.key for c in wanted.canaries if c.key in forged and c.key not in self._forged]
        for key in new:
            self._forged[key] = None
        while len(self._forged) > FOUND_KEEP:
            del self._forged[next(iter(self._forged))]
        self._count("forged", len(new))

    def _rechecked(self, found: Found, copies: int) -> None:
        if copies == 0:
            self._count("lost")
            canary = found.canary
            self.lost = (
                f"canary seq {canary.seq} of run {canary.run_id}, found "
                f"{found.at - canary.written:.3f}s after it was written, is gone from the store"
            )
            if found in self._found:
                self._found.remove(found)
            return
        self.lost = None
        if copies > found.copies:
            self._count("duplicate", copies - found.copies)
            found.copies = copies

    def _newest(self, settled: Settled) -> None:
        if self.newest is None or settled.canary.seq > self.newest.canary.seq:
            self.newest = settled
