"""The ``journal`` store check: canaries in the systemd journal, asked of
systemd-journal-gatewayd's ``/entries``.

With ``field: RUN_ID`` (or any field that holds the run_id) one request matches every canary
asked for: gatewayd ORs the values of one field (systemd-journal-gatewayd.service(8), "URL
GET parameters"). With ``field: MESSAGE``, the JSON line only in the message, the newest
``scan_entries`` entries (of ``match``) are read and searched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field

from exporter.checks.base import CheckDeps
from exporter.checks.canaries import CanaryLedger
from exporter.checks.stores.book import Sightings, Wanted
from exporter.checks.stores.check import StoreError, StoreReason, build_store_check, store_type
from exporter.checks.stores.client import HttpStoreOptions, StoreClient, shape_error
from exporter.checks.stores.lines import Copies, Seen, seen_in_fields, seen_in_line
from exporter.options import Invalid
from exporter.verdict import Check, Component

# Journal field names: upper-case letters, digits and underscores, not starting with a digit.
FIELD = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
SEARCHED = "MESSAGE"


@dataclass(frozen=True, kw_only=True)
class JournalOptions(HttpStoreOptions):
    """``type: journal``: the gatewayd URL, the field holding the run_id, and for a search of
    MESSAGE, which entries and how many."""

    field: str = "RUN_ID"
    match: Mapping[str, str] = dataclass_field(default_factory=dict)
    scan_entries: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        for key, name in [("field", self.field), *((f"match.{k}", k) for k in self.match)]:
            if not FIELD.fullmatch(name):
                raise Invalid(key, f"{name!r} is not a journal field name, as RUN_ID")
        if self.scan_entries < 1:
            raise Invalid("scan_entries", f"{self.scan_entries} must be at least 1")


def seen_in_entry(entry: Mapping[str, object], ledger: CanaryLedger) -> Seen | None:
    """The canary in a journal entry: the JSON line in MESSAGE, or the fields a shipper made of
    it (RUN_ID, SEQ, INSTANCE, SIGNATURE)."""
    message = entry.get("MESSAGE")
    if isinstance(message, str):
        seen = seen_in_line(message, ledger)
        if seen is not None:
            return seen
    seq = entry.get("SEQ")
    if not isinstance(seq, str) or not (seq.isascii() and seq.isdigit()):
        return None
    fields = {
        "run_id": entry.get("RUN_ID"),
        "seq": int(seq),
        "instance": entry.get("INSTANCE"),
        "signature": entry.get("SIGNATURE"),
    }
    return seen_in_fields(fields, ledger)


class JournalStore:
    """One GET of ``/entries`` a run, answered as one JSON object per line."""

    def __init__(self, client: StoreClient, options: JournalOptions) -> None:
        self.component = Component("url", str(client.url("/entries")))
        self._client = client
        self._o = options

    async def find(self, wanted: Wanted, ledger: CanaryLedger) -> Sightings:
        canaries = wanted.canaries
        if not canaries:
            return Sightings()
        headers = {"Accept": "application/json"}
        params: list[tuple[str, str]] = list(self._o.match.items())
        if self._o.field == SEARCHED:
            n = self._o.scan_entries  # the newest n: skip back n - 1 from the last, take n
            headers["Range"] = f"entries=:-{n - 1}:{n}"
        else:
            run_ids = dict.fromkeys(c.run_id for c in canaries)
            params += [(self._o.field, run_id) for run_id in run_ids]
        data = await self._client.ask("GET", "/entries", params=params, headers=headers)
        copies = Copies(wanted)
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                why = f"not JSON: {self._client.quote(line.encode())}"  # secrets redacted
                raise StoreError(StoreReason.QUERY, why) from None
            except RecursionError:  # json's C scanner stops at the recursion limit
                raise StoreError(StoreReason.QUERY, "JSON nested too deep to read") from None
            if not isinstance(entry, dict):
                raise shape_error(f"line {number} is not a JSON object")
            copies.add(seen_in_entry(entry, ledger))
        seen = copies.answer()
        if self._o.field == SEARCHED and not seen.recheck:
            seen = replace(seen, recheck=None)  # older than the entries read: cannot say
        return seen


def build(name: str, options: JournalOptions, deps: CheckDeps) -> Check:
    """A check of one gatewayd, through the app's shared HTTP client."""
    client = StoreClient(deps.http, options)
    identity = ("journal", options.url, options.field, tuple(sorted(options.match.items())))
    return build_store_check(name, options, deps, identity, JournalStore(client, options))


TYPE = store_type(
    JournalOptions,
    build,
    "the canaries land in the systemd journal, asked of systemd-journal-gatewayd",
)
