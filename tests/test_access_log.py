"""aiohttp's own records: the access log on and off, its rate cap, compact parser errors."""

from __future__ import annotations

import asyncio

from tests.conftest import Exporter, StartExporter

# aiohttp logs a request with a malformed header as an error, with a traceback.
MALFORMED = b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"


def access_lines(exporter: Exporter) -> list[str]:
    return [line["path"] for line in exporter.file_lines() if line["logger"] == "aiohttp.access"]


def rate_limited(exporter: Exporter, sink: str) -> float:
    return exporter.sample("smoke_test_log_records_dropped_total", sink=sink, reason="rate_limit")


async def test_access_log_off_writes_no_request_lines_but_the_canary(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(access_log=False)
    _, body = await exporter.smoke()
    async with exporter.client.get("/-/healthy"):
        pass
    await exporter.client.close()
    assert access_lines(exporter) == []
    assert body["run_id"] in [line.get("run_id") for line in exporter.file_lines()]


async def test_access_log_cap_drops_and_counts_what_exceeds_it(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(access_log_per_second=5)
    for _ in range(30):
        async with exporter.client.get("/"):
            pass
    await exporter.client.close()
    logged = len(access_lines(exporter))
    # A bucket of 5, refilled at 5 a second: the first 5 pass, then about one per 0.2 s.
    assert 5 <= logged < 30
    for sink in ("stdout", "file"):
        assert rate_limited(exporter, sink) == 30 - logged


async def test_successful_scrapes_and_probes_are_counted_not_logged_and_failures_are(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    for path in ("/metrics", "/-/healthy", "/-/ready", "/", "/metrics?name[]=x", "/nowhere"):
        async with exporter.client.get(path):
            pass
    async with exporter.client.post("/-/healthy"):  # 405: a failed answer is logged
        pass
    await exporter.client.close()
    assert access_lines(exporter) == ["/", "/nowhere", "/-/healthy"]
    for handler in ("metrics", "healthy", "ready"):
        assert (
            exporter.sample(
                "smoke_test_http_requests_total", handler=handler, method="GET", code="200"
            )
            >= 1
        )
    assert rate_limited(exporter, "file") == 0


async def test_with_access_probes_every_request_is_logged(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(access_log_probes=True)
    for path in ("/metrics", "/-/healthy", "/-/ready", "/"):
        async with exporter.client.get(path):
            pass
    await exporter.client.close()
    assert access_lines(exporter) == ["/metrics", "/-/healthy", "/-/ready", "/"]


async def raw(exporter: Exporter, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(exporter.client.host, exporter.client.port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    return answer


async def test_malformed_requests_get_400_and_one_compact_line_without_traceback(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    answer = await raw(exporter, MALFORMED)
    assert answer.startswith(b"HTTP/1.0 400 Bad Request\r\n")
    await exporter.client.close()
    rejected = [
        line
        for line in exporter.file_lines()
        if line["message"] == "Rejected a malformed HTTP request"
    ]
    assert len(rejected) == 1
    line = rejected[0]
    assert line["logger"] == "aiohttp.server"
    assert line["status"] == 400
    assert line["remote"] == "127.0.0.1"
    assert "exc_info" not in line
    assert "\n" not in line["error"]
    assert 0 < len(line["error"]) <= 200
    assert not [line for line in exporter.file_lines() if "Traceback" in str(line)]


async def test_a_flood_of_malformed_requests_is_logged_at_most_a_few_times_a_second(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(access_log=False)
    answers = await asyncio.gather(*(raw(exporter, MALFORMED) for _ in range(40)))
    assert {answer.split(b"\r\n", 1)[0] for answer in answers} == {b"HTTP/1.0 400 Bad Request"}
    await exporter.client.close()
    rejected = [
        line
        for line in exporter.file_lines()
        if line["message"] == "Rejected a malformed HTTP request"
    ]
    assert 5 <= len(rejected) < 40
    assert rate_limited(exporter, "file") == 40 - len(rejected)
