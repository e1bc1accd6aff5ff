"""The loki store check against its stand-in on loopback: one range query asks for the batch,
with the tenant's header."""

from __future__ import annotations

import asyncio

from exporter.checks.stores.check import StoreCheck
from exporter.checks.stores.client import StoreClient
from exporter.checks.stores.loki import LokiOptions, LokiStore
from exporter.session import SharedSession
from exporter.verdict import RunInfo, Status
from tests.standins.loki import Loki
from tests.support.books import Books, zero
from tests.support.stores_http import LABELS, line


async def test_loki_is_asked_one_range_query_for_the_batch() -> None:
    loki = Loki(tenant="team-a")
    await loki.start()
    http = SharedSession()
    await http.open()
    try:
        books = Books()
        options = LokiOptions(
            url=loki.url + "/", selector='{job="smoke-test-exporter"}', tenant="team-a"
        )
        client = StoreClient(http, options, {"X-Scope-OrgID": "team-a"})
        check = StoreCheck(books.book, LokiStore(client, options))
        one, two = books.write(2)
        loki.push(line(one), LABELS)
        loop = asyncio.get_running_loop()
        result = await check(RunInfo("r" * 32, "http", loop.time() + 1, 1))
        assert result.status is Status.OK
        (asked,) = loki.requests
        assert asked.path == "/loki/api/v1/query_range"
        assert asked.headers["X-Scope-OrgID"] == "team-a"
        assert (
            asked.query["query"] == f'{{job="smoke-test-exporter"}} |~ `{one.run_id}|{two.run_id}`'
        )
        assert asked.query["direction"] == "forward"
        assert asked.query["limit"] == "100"
        assert int(asked.query["start"]) == int((one.written - 300) * 1e9)
        assert books.counts() == zero(written=2, found=1)
    finally:
        await http.close()
        await loki.stop()
