"""The elasticsearch store check against its stand-in on loopback: one terms search asks for
the batch, with the API key."""

from __future__ import annotations

import asyncio

from exporter.checks.stores.check import StoreCheck
from exporter.checks.stores.client import StoreClient
from exporter.checks.stores.elasticsearch import ElasticsearchOptions, ElasticsearchStore
from exporter.session import SharedSession
from exporter.verdict import RunInfo, Status
from tests.standins.elasticsearch import Elasticsearch
from tests.support.books import Books, body, zero
from tests.support.stores_http import ship_es


async def test_elasticsearch_is_asked_one_terms_search_for_the_batch() -> None:
    es = Elasticsearch(api_key="a2V5OnNlY3JldA==")
    await es.start()
    http = SharedSession()
    await http.open()
    try:
        books = Books()
        options = ElasticsearchOptions(url=es.url, index="logs-*", field="run_id")
        client = StoreClient(http, options, {"Authorization": "ApiKey a2V5OnNlY3JldA=="})
        check = StoreCheck(books.book, ElasticsearchStore(client, options))
        one, two = books.write(2)
        ship_es(es, body(one), 1, 0.0)
        loop = asyncio.get_running_loop()
        result = await check(RunInfo("r" * 32, "http", loop.time() + 1, 1))
        assert result.status is Status.OK
        (asked,) = es.requests
        assert (asked.method, asked.path) == ("POST", "/logs-*/_search")
        assert asked.body == {
            "size": 100,
            "track_total_hits": False,
            "query": {"terms": {"run_id": [one.run_id, two.run_id]}},
        }
        assert books.counts() == zero(written=2, found=1)
    finally:
        await http.close()
        await es.stop()
