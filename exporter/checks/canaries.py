"""The canaries this process has written: run, sequence number and instance, for the store
checks to look for."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

# The canaries the ledger remembers. A store check that falls further behind counts the ones it
# never saw as written and dropped (its own max_pending is smaller anyway).
KEEP = 10_000
Key = tuple[str, int]  # run_id, seq: one canary, however many copies of it a store holds


@dataclass(frozen=True)
class Canary:
    """One canary line: the run it belongs to, its number in this process, its instance."""

    run_id: str
    seq: int
    instance: str
    written: float  # Unix time it was handed to the sinks
    # What tells this canary from every other, in any store; looked up for every canary of
    # every run, so it is made once.
    key: Key = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.run_id, self.seq))


class CanaryLedger:
    """Numbers each canary 1, 2, 3, … and keeps the newest for the store checks."""

    def __init__(self, instance: str, keep: int = KEEP) -> None:
        self.instance = instance
        self._written: deque[Canary] = deque(maxlen=keep)
        self.last_seq = 0

    def write(self, run_id: str) -> Canary:
        """The next canary of ``run_id``, recorded as written now."""
        self.last_seq += 1
        canary = Canary(run_id, self.last_seq, self.instance, time.time())
        self._written.append(canary)
        return canary

    def after(self, seq: int) -> list[Canary]:
        """The remembered canaries numbered above ``seq``, oldest first."""
        newer: list[Canary] = []
        for canary in reversed(self._written):
            if canary.seq <= seq:
                break
            newer.append(canary)
        newer.reverse()
        return newer
