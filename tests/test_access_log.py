"""aiohttp's own records: the access log on and off, its caps, compact parser errors."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from exporter.config import LogLevel
from exporter.logs.access_log import ACCESS_LOGGER, ADMITTED, BUDGETED, JsonAccessLogger
from exporter.logs.cut import FIELD_BYTES, cut, cut_or_none, json_bytes
from exporter.logs.formatter import JsonLineFormatter
from exporter.logs.pipeline import LogPipeline
from exporter.sinks.file import FileSink
from exporter.sinks.series import SinkSeries
from tests.conftest import Exporter, StartExporter, json_lines

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


def test_a_value_of_256_json_bytes_is_kept_whole_and_one_byte_more_is_cut_and_marked() -> None:
    assert FIELD_BYTES == 256
    assert cut("a" * 256) == "a" * 256
    # Room is kept for the mark of the whole value, "…[cut 257 bytes]": 6 bytes ("…" is
    # written \u2026) and 15. 235 bytes are kept, and the mark says what was left out.
    assert cut("a" * 257) == "a" * 235 + "…[cut 22 bytes]"
    assert cut('"' * 128) == '"' * 128  # each written \": 2 bytes
    assert cut('"' * 129) == '"' * 117 + "…[cut 12 bytes]"  # 117 x 2 = 234 of 235
    # An invalid byte the client sent (a lone surrogate) is written \udcff: 6 bytes, counted
    # as the one byte it was.
    assert cut("\udcff" * 42) == "\udcff" * 42  # 252
    assert cut("\udcff" * 43) == "\udcff" * 39 + "…[cut 4 bytes]"  # 234 of 236
    # A character beyond the BMP takes 12 bytes, a pair; a cut never keeps half of one. Room
    # 236: "aa" and 19 of them take 230, and the next one's first half 6 more.
    assert cut("aa" + "\U0001f600" * 22) == "aa" + "\U0001f600" * 19 + "…[cut 12 bytes]"
    assert cut_or_none(None) is None
    assert cut("x" * 300, 40) == "x" * 19 + "…[cut 281 bytes]"


def test_a_cut_value_never_takes_more_than_its_limit_in_the_line() -> None:
    for char in ("a", '"', "\\", "\x00", "é", "\udcff", "\U0001f600"):
        for count in range(1, 300):
            value = char * count
            kept = cut(value)
            assert json_bytes(kept) <= FIELD_BYTES, (char, count)
            assert kept == value or json_bytes(value) > FIELD_BYTES, (char, count)


async def request_line(exporter: Exporter, data: bytes) -> dict[str, Any]:
    """The access line of the one request ``data``, from the file sink."""
    await raw(exporter, data)
    lines = await exporter.until_line(
        exporter.file_lines, lambda line: line["logger"] == ACCESS_LOGGER
    )
    return next(line for line in lines if line["logger"] == ACCESS_LOGGER)


async def test_every_value_a_client_chose_is_cut_to_256_bytes_in_its_access_line(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    # The method is cut too (aiohttp's C parser takes only the methods it knows; its Python
    # parser takes any token): the cut itself is the test above.
    target = "/" + "%22" * 200 + "?q=" + "%00" * 100
    agent = b"\xff" * 8000
    data = f"GET {target} HTTP/1.1\r\nHost: x\r\n".encode() + b"User-Agent: " + agent
    line = await request_line(exporter, data + b"\r\nConnection: close\r\n\r\n")
    await exporter.client.close()
    # Room for "…[cut 904 bytes]" (21 bytes) leaves 235 of the 904 ASCII bytes.
    assert line["path"] == target[:235] + "…[cut 669 bytes]"
    # Decoded, without its query: "/" and 200 quotes of 2 bytes, of which 1 + 117 x 2 kept.
    assert line["message"] == "GET /" + '"' * 117 + "…[cut 83 bytes] 404"
    assert line["user_agent"] == "\udcff" * 39 + "…[cut 7961 bytes]"  # 39 x 6 = 234
    assert (line["method"], line["status"], line["remote"]) == ("GET", 404, "127.0.0.1")


def access_line_bytes(message: str) -> int:
    """Bytes of the line an access record of ``message`` makes, its newline included."""
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, message, None, None)
    return len(JsonLineFormatter().format(record)) + 1


def test_lines_any_client_can_make_are_charged_their_bytes_and_dropped_past_the_budget(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    series = SinkSeries(registry)
    sinks = [FileSink(name, tmp_path / f"{name}.log", series) for name in ("a", "b")]
    # Room for three lines and a half, refilled too slowly to matter while the test runs.
    budget = 3.5 * access_line_bytes("request 0")
    pipeline = LogPipeline(
        sinks, LogLevel.INFO, access_bytes_per_second=0.001, access_burst_bytes=budget
    )
    pipeline.start()
    try:
        for n in range(10):
            extra = {ADMITTED: True, BUDGETED: True}
            logging.getLogger(ACCESS_LOGGER).info("request %d", n, extra=extra)
        logging.getLogger("exporter.test").info("a line no client made")
    finally:
        assert pipeline.stop(5.0) == []
    for name in ("a", "b"):
        assert [line["message"] for line in json_lines(tmp_path / f"{name}.log")] == [
            "request 0",
            "request 1",
            "request 2",
            "a line no client made",
        ]
        dropped = registry.get_sample_value(
            "smoke_test_log_records_dropped_total", {"sink": name, "reason": "rate_limit"}
        )
        assert dropped == 7


# The longest access line: every value a client chooses at its cap, the response's size and
# the duration long. A sink's queue (exporter.logs.pipeline.QUEUE_SIZE, 10 000 lines) full of
# them holds at most 18 MB, and its lines are the same strings as the other sinks' queues.
ACCESS_LINE_MAX_BYTES = 1_800


class PeerTransport:
    """Just enough of a transport for a request's ``remote``: its peer's address."""

    def __init__(self, host: str) -> None:
        self.host = host

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.host, 0) if name == "peername" else default


class HugeAnswer(web.Response):
    """An answer that says it sent a terabyte: the response_bytes field at its longest."""

    @property
    def body_length(self) -> int:
        return 10**12


class Lines(logging.Handler):
    """The formatted lines of the records it handles."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonLineFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_an_access_line_takes_at_most_1800_bytes_whatever_the_request() -> None:
    # Each value at its most expensive: a quote is 2 bytes, a control character 6.
    request = make_mocked_request(
        '"' * 9000,
        "/" + "%22" * 2700 + "?" + "%00" * 2700,
        headers=CIMultiDict({"User-Agent": "\x01" * 8000}),
        transport=PeerTransport('"' * 300),
    )
    response = HugeAnswer(status=404)
    logger = logging.getLogger("test.access")
    lines = Lines()
    logger.addHandler(lines)
    try:
        JsonAccessLogger(logger, "").log(request, response, 86_400.123456)
    finally:
        logger.removeHandler(lines)
    (line,) = lines.lines
    assert len(line) + 1 <= ACCESS_LINE_MAX_BYTES
    record = json.loads(line)
    for field in ("method", "path", "user_agent", "remote"):
        assert json_bytes(record[field]) <= FIELD_BYTES
        assert record[field].endswith(" bytes]")
