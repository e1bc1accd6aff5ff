"""The ``elasticsearch`` store check (OpenSearch too): canaries as documents, asked with one
``terms`` search a run.

API: ``POST /<index>/_search`` with ``{"query": {"terms": {<field>: [...]}}, "size": n,
"track_total_hits": false}``; the answer is ``{"timed_out": false, "_shards": {"failed": 0,
...}, "hits": {"hits": [{"_index": ..., "_id": ..., "_source": {...}}]}}``
(https://www.elastic.co/guide/en/elasticsearch/reference/current/search-search.html,
https://opensearch.org/docs/latest/api-reference/search/). An API key goes in
``Authorization: ApiKey <encoded>`` (https://www.elastic.co/guide/en/elasticsearch/reference/current/security-api-create-api-key.html).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from exporter.checks.base import CheckDeps
from exporter.checks.canaries import CanaryLedger
from exporter.checks.secrets import read_secret
from exporter.checks.stores.book import Sightings, Wanted
from exporter.checks.stores.check import StoreError, StoreReason, build_store_check, store_type
from exporter.checks.stores.client import HttpStoreOptions, StoreClient, shape_error
from exporter.checks.stores.lines import Copies, Seen, seen_in_fields, seen_in_line
from exporter.options import Invalid
from exporter.verdict import Check, Component

# index.max_result_window's default: a search returns at most this many hits.
MOST_HITS = 10_000
# Where an unparsed line is kept, by the common shippers (Beats, Logstash, Fluent Bit, Vector).
LINE_FIELDS = ("message", "log")


@dataclass(frozen=True, kw_only=True)
class ElasticsearchOptions(HttpStoreOptions):
    """``type: elasticsearch``: the URL, the index (a pattern), the field holding run_id, and
    an API key or a user and password from files."""

    index: str
    field: str = "run_id"
    api_key_file: Path | None = None
    api_key: str | None = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.index or any(c in self.index for c in ' "\\/?#'):
            raise Invalid("index", f"{self.index!r} is not an index name or pattern")
        if not self.field or not all(self.field.split(".")):
            raise Invalid("field", f"{self.field!r} is not a field name, as run_id or json.run_id")
        key = None
        if self.api_key_file is not None:
            if self.token is not None or self.basic_auth is not None:
                raise Invalid(
                    "api_key_file", "give one of api_key_file, bearer_token_file and basic_auth"
                )
            key = read_secret(self.api_key_file, "api_key_file")
        object.__setattr__(self, "api_key", key)


def _at(document: Any, path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(document, Mapping):
            return None
        document = document.get(part)
    return document


def seen_in_hit(source: Mapping[str, Any], field: str, ledger: CanaryLedger) -> Seen | None:
    """The canary in a document: fields beside ``field`` (run_id, seq, instance, signature),
    or the JSON line kept whole in ``field``, ``message`` or ``log``."""
    *parent, _ = field.split(".")
    beside = _at(source, parent)
    if isinstance(beside, Mapping):
        seen = seen_in_fields(beside, ledger)
        if seen is not None:
            return seen
    for name in (field, *LINE_FIELDS):
        text = _at(source, name.split("."))
        if isinstance(text, str):
            seen = seen_in_line(text, ledger)
            if seen is not None:
                return seen
    return None


def hits(answer: Any) -> list[Mapping[str, Any]]:
    """The documents of a search answer; StoreError when it is partial or not of the
    documented shape."""
    if not isinstance(answer, dict):
        raise shape_error("not a JSON object")
    if answer.get("timed_out") is True:
        raise StoreError(StoreReason.QUERY, "the search timed out: its answer is partial")
    shards = answer.get("_shards")
    if isinstance(shards, dict) and shards.get("failed"):
        failed, total = shards.get("failed"), shards.get("total")
        if not isinstance(failed, int) or not isinstance(total, int):  # quoted: numbers only
            raise shape_error('"_shards" counts that are not numbers')
        raise StoreError(
            StoreReason.QUERY, f"{failed} of {total} shards failed: the answer is partial"
        )
    outer = answer.get("hits")
    inner = outer.get("hits") if isinstance(outer, dict) else None
    if not isinstance(inner, list):
        raise shape_error('no "hits.hits" list')
    documents: list[Mapping[str, Any]] = []
    for hit in inner:
        source = hit.get("_source") if isinstance(hit, dict) else None
        if not isinstance(source, dict):
            raise shape_error('a hit without "_source"')
        documents.append(source)
    return documents


class ElasticsearchStore:
    """One search a run for the pending, late and re-checked canaries' run ids."""

    def __init__(self, client: StoreClient, options: ElasticsearchOptions) -> None:
        self._path = f"/{quote(options.index, safe='*,-_.+')}/_search"
        self.component = Component("url", str(client.url(self._path)))
        self._client = client
        self._o = options

    async def find(self, wanted: Wanted, ledger: CanaryLedger) -> Sightings:
        canaries = wanted.canaries
        if not canaries:
            return Sightings()
        size = min(MOST_HITS, max(100, 4 * len(canaries)))
        body = {
            "size": size,
            "track_total_hits": False,
            "query": {"terms": {self._o.field: list(dict.fromkeys(c.run_id for c in canaries))}},
        }
        documents = hits(await self._client.ask_json("POST", self._path, body=body))
        if len(documents) >= size:
            raise StoreError(
                StoreReason.QUERY, f"the answer was cut at size {size}: more hits match"
            )
        copies = Copies(wanted)
        for source in documents:
            copies.add(seen_in_hit(source, self._o.field, ledger))
        return copies.answer()


def build(name: str, options: ElasticsearchOptions, deps: CheckDeps) -> Check:
    """A check of one Elasticsearch or OpenSearch, through the app's shared HTTP client."""
    headers = {} if options.api_key is None else {"Authorization": f"ApiKey {options.api_key}"}
    secrets = [] if options.api_key is None else [options.api_key]
    client = StoreClient(deps.http, options, headers, secrets)
    identity = ("elasticsearch", options.url, options.index, options.field)
    return build_store_check(name, options, deps, identity, ElasticsearchStore(client, options))


TYPE = store_type(
    ElasticsearchOptions,
    build,
    "the canaries land in Elasticsearch or OpenSearch, asked with one terms search a run",
)
