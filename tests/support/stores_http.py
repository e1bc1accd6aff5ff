"""The HTTP stores (loki, elasticsearch, journal) as the store tests see them: each one's
stand-in, its options, and how a shipper puts a canary line in it, signed or forged."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.checks.canaries import Canary
from exporter.checks.stores.client import HttpStoreOptions, StoreClient
from exporter.checks.stores.elasticsearch import ElasticsearchOptions, ElasticsearchStore
from exporter.checks.stores.journal import JournalOptions, JournalStore
from exporter.checks.stores.loki import LokiOptions, LokiStore
from exporter.options import Seconds
from tests.standins.base import Standin
from tests.standins.elasticsearch import Elasticsearch
from tests.standins.gatewayd import Gatewayd
from tests.standins.loki import Loki
from tests.support.books import body

LABELS = {"job": "smoke-test-exporter"}
INDEX = "logs-2026.12.03"
Body = Mapping[str, Any]  # a canary line's JSON object


def line(canary: Canary, instance: str = "host-a", **changed: Any) -> str:
    return json.dumps(body(canary, instance, **changed))


@dataclass
class Kind:
    """One kind of store: its stand-in, its check, and how a shipper puts a line in it."""

    name: str
    standin: Callable[[], Standin]
    options: Callable[[str, float], HttpStoreOptions]
    store: Callable[[StoreClient, Any], Any]
    ship: Callable[[Any, Body, int, float], None]
    wrong_shape: str = '{"data": 1}'  # JSON, but not the documented answer


def ship_loki(loki: Loki, fields: Body, copies: int, after: float) -> None:
    loki.push(json.dumps(fields), LABELS, copies=copies, visible_after=after)


def ship_journal(gatewayd: Gatewayd, fields: Body, copies: int, after: float) -> None:
    entry = {"MESSAGE": json.dumps(fields)}
    # journald made fields of the structured line: RUN_ID, SEQ, INSTANCE, SIGNATURE.
    entry |= {k.upper(): str(v) for k, v in fields.items() if k != "message"}
    gatewayd.add(entry, copies=copies, visible_after=after)


def ship_es(es: Elasticsearch, fields: Body, copies: int, after: float) -> None:
    document = {"@timestamp": "2026-12-03T12:00:00Z", "message": json.dumps(fields)}
    document |= fields  # the shipper parsed the JSON line
    es.index(INDEX, document, copies=copies, visible_after=after)


KINDS = [
    Kind(
        "loki",
        Loki,
        lambda url, delay: LokiOptions(
            url=url, selector='{job="smoke-test-exporter"}', max_delay=Seconds(delay)
        ),
        LokiStore,
        ship_loki,
    ),
    Kind(
        "elasticsearch",
        Elasticsearch,
        lambda url, delay: ElasticsearchOptions(url=url, index="logs-*", max_delay=Seconds(delay)),
        ElasticsearchStore,
        ship_es,
    ),
    Kind(
        "journal",
        Gatewayd,
        lambda url, delay: JournalOptions(url=url, max_delay=Seconds(delay)),
        JournalStore,
        ship_journal,
        "[1, 2]",  # one JSON object per line is an answer; a line with a list is not
    ),
]
