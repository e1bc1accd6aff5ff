"""Reading canaries back out of what a store holds (a log line, or a document's fields), each
one signed by this process or forged."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from exporter.checks.canaries import CanaryLedger, Key
from exporter.checks.stores.book import Sightings, Wanted

_DECODER = json.JSONDecoder()


class Seen(NamedTuple):
    """A line or document naming one of this instance's canaries."""

    key: Key
    signed: bool  # its signature is this process's for its run_id, seq and instance


def seen_in_fields(fields: Mapping[str, Any], ledger: CanaryLedger) -> Seen | None:
    """The canary in a parsed JSON line (run_id, seq, instance, signature), if it names this
    instance; a missing or wrong signature makes it forged."""
    run_id, seq = fields.get("run_id"), fields.get("seq")
    if fields.get("instance") != ledger.instance or not isinstance(run_id, str):
        return None
    if isinstance(seq, bool) or not isinstance(seq, int):
        return None
    return Seen((run_id, seq), ledger.genuine(run_id, seq, fields.get("signature")))


def seen_in_line(line: str, ledger: CanaryLedger) -> Seen | None:
    """The canary in a log line, if it names this instance. The JSON object may follow a prefix
    that a shipper or syslog server added (a timestamp, a host, a tag)."""
    start = line.find("{")
    if start < 0:
        return None
    try:
        value, _ = _DECODER.raw_decode(line, start)
    except (ValueError, RecursionError):  # not JSON, or nested past the recursion limit
        return None
    return seen_in_fields(value, ledger) if isinstance(value, dict) else None


@dataclass
class Copies:
    """What a store's answer holds of this instance's canaries: copies of signed ones, by
    canary, and which of the canaries ``wanted`` asks for forged lines claimed to be (only
    those: a flood of forged lines costs no memory)."""

    wanted: Wanted
    signed: Counter[Key] = field(default_factory=Counter)
    forged: set[Key] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._asked = {c.key for c in self.wanted.canaries}

    def add(self, seen: Seen | None) -> Key | None:
        """Count what was seen; the canary's key when it is a signed copy."""
        if seen is None:
            return None
        if not seen.signed:
            if seen.key in self._asked:
                self.forged.add(seen.key)
            return None
        self.signed[seen.key] += 1
        return seen.key

    def answer(self) -> Sightings:
        """What a queried store says: the signed copies of the pending and late canaries (a
        found canary met again is no new copy), those of the re-checked one, and the forged."""
        wanted = self.wanted
        settling = {c.key for c in (*wanted.pending, *wanted.late)}
        recheck = None if wanted.recheck is None else self.signed[wanted.recheck.canary.key]
        copies = {k: n for k, n in self.signed.items() if k in settling}
        return Sightings(copies, recheck, frozenset(self.forged))
