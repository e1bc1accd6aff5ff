"""The ``loki`` store check: canaries in Grafana Loki, asked with one LogQL range query a run.

API: ``GET /loki/api/v1/query_range`` with ``query``, ``start`` and ``end`` (nanosecond Unix
times), ``limit`` and ``direction``; the answer is ``{"status": "success", "data":
{"resultType": "streams", "result": [{"stream": {...}, "values": [["<ns>", "<line>"], ...]}]}}``
(https://grafana.com/docs/loki/latest/reference/loki-http-api/#query-logs-within-a-range-of-time).
The tenant goes in ``X-Scope-OrgID`` (https://grafana.com/docs/loki/latest/operations/multi-tenancy/).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exporter.checks.base import CheckDeps
from exporter.checks.canaries import Canary, CanaryLedger
from exporter.checks.stores.book import Sightings, Wanted
from exporter.checks.stores.check import StoreError, StoreReason, build_store_check, store_type
from exporter.checks.stores.client import HttpStoreOptions, StoreClient, shape_error
from exporter.checks.stores.lines import Copies, seen_in_line
from exporter.options import Invalid
from exporter.verdict import Check, Component

PATH = "/loki/api/v1/query_range"
# Loki's own cap on entries a query returns (limits_config.max_entries_limit_per_query).
MOST_ENTRIES = 5000
# How far around the canaries' write times the query looks: a shipper may stamp a line with
# a clock a little behind or ahead of ours.
SKEW_SECONDS = 300


@dataclass(frozen=True, kw_only=True)
class LokiOptions(HttpStoreOptions):
    """``type: loki``: the URL, the stream selector the shipper gives our lines, the tenant."""

    selector: str
    tenant: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        text = self.selector.strip()
        if not (text.startswith("{") and text.endswith("}")) or text == "{}":
            raise Invalid("selector", f"{self.selector!r} is not a LogQL stream selector")


def query(selector: str, canaries: Sequence[Canary]) -> str:
    """The selector and one regular expression for every run asked for (run ids are hex)."""
    run_ids = "|".join(dict.fromkeys(c.run_id for c in canaries))
    return f"{selector.strip()} |~ `{run_ids}`"


def entries(answer: Any) -> list[str]:
    """The lines of a streams answer; StoreError when it is not of the documented shape."""
    if not isinstance(answer, dict) or answer.get("status") != "success":
        raise shape_error('no "status": "success"')
    data = answer.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "streams":
        raise shape_error('no "data" with "resultType": "streams"')
    result = data.get("result")
    if not isinstance(result, list):
        raise shape_error('"data.result" is not a list')
    lines = []
    for stream in result:
        values = stream.get("values") if isinstance(stream, dict) else None
        if not isinstance(values, list):
            raise shape_error('a stream without "values"')
        for value in values:
            if not isinstance(value, list) or len(value) < 2 or not isinstance(value[1], str):
                raise shape_error('a value that is not ["<ns>", "<line>"]')
            lines.append(value[1])
    return lines


class LokiStore:
    """Asks for the pending, late and re-checked canaries in one query a run."""

    def __init__(self, client: StoreClient, options: LokiOptions) -> None:
        self.component = Component("url", str(client.url(PATH)))
        self._client = client
        self._o = options

    async def _ask(self, wanted: Wanted, until: float, ledger: CanaryLedger) -> Copies:
        canaries = wanted.canaries
        limit = min(MOST_ENTRIES, max(100, 4 * len(canaries)))
        params = {
            "query": query(self._o.selector, canaries),
            "start": str(int((min(c.written for c in canaries) - SKEW_SECONDS) * 1e9)),
            "end": str(int((until + SKEW_SECONDS) * 1e9)),
            "limit": str(limit),
            "direction": "forward",
        }
        answer = await self._client.ask_json("GET", PATH, params=params)
        lines = entries(answer)
        if len(lines) >= limit:
            raise StoreError(
                StoreReason.QUERY, f"the answer was cut at limit {limit}: more lines match"
            )
        copies = Copies(wanted)
        for line in lines:
            copies.add(seen_in_line(line, ledger))
        return copies

    async def find(self, wanted: Wanted, ledger: CanaryLedger) -> Sightings:
        canaries = wanted.canaries
        if not canaries:
            return Sightings()
        # One query, the re-checked canary among the rest: its range reaches back to that
        # canary's write time (within recheck_window), and a run costs one request.
        copies = await self._ask(wanted, time.time(), ledger)
        return copies.answer()


def build(name: str, options: LokiOptions, deps: CheckDeps) -> Check:
    """A check of one Loki, through the app's shared HTTP client."""
    headers = {} if options.tenant is None else {"X-Scope-OrgID": options.tenant}
    client = StoreClient(deps.http, options, headers)
    identity = ("loki", options.url, options.selector, options.tenant)
    return build_store_check(name, options, deps, identity, LokiStore(client, options))


TYPE = store_type(
    LokiOptions,
    build,
    "the canaries land in Grafana Loki, asked with one LogQL range query a run",
)
