"""The telemetry endpoint shares one rendering between scrapes close together, never across a
finished run."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import CollectorRegistry, Gauge

from exporter.web.scrape import SharedRendering, accepts_gzip, without_openmetrics
from tests.conftest import StartExporter


def text(response: web.StreamResponse) -> str:
    assert isinstance(response, web.Response)
    assert isinstance(response.body, bytes)
    return response.body.decode()


async def test_scrapes_within_the_window_share_one_rendering_until_cleared() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("thing", "A thing.", registry=registry)
    shared = SharedRendering(registry, share_seconds=3600)
    request = make_mocked_request("GET", "/metrics")
    gauge.set(1)
    first = text(await shared.handle(request))
    gauge.set(2)
    assert text(await shared.handle(request)) == first
    assert "thing 1.0" in first
    shared.clear()
    assert "thing 2.0" in text(await shared.handle(request))


async def test_each_format_and_filter_is_rendered_for_itself() -> None:
    registry = CollectorRegistry()
    Gauge("thing", "A thing.", registry=registry).set(1)
    Gauge("other", "Another.", registry=registry).set(2)
    shared = SharedRendering(registry, share_seconds=3600, openmetrics=True)
    plain = await shared.handle(make_mocked_request("GET", "/metrics"))
    openmetrics = await shared.handle(
        make_mocked_request(
            "GET", "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
    )
    filtered = await shared.handle(make_mocked_request("GET", "/metrics?name[]=other"))
    assert plain.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert text(openmetrics).endswith("# EOF\n")
    assert "thing 1.0" in text(plain)
    assert "thing" not in text(filtered)
    assert "other 2.0" in text(filtered)


async def test_a_finished_run_is_in_the_very_next_scrape(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    async with exporter.client.get("/metrics") as response:
        before = await response.text()
    assert 'smoke_test_runs_total{trigger="http"} 0.0' in before
    await exporter.smoke()
    async with exporter.client.get("/metrics") as response:
        assert 'smoke_test_runs_total{trigger="http"} 1.0' in await response.text()


async def test_a_gzip_scrape_gets_the_rendering_compressed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = CollectorRegistry()
    Gauge("thing", "A thing.", registry=registry).set(1)
    shared = SharedRendering(registry, share_seconds=3600)
    compressions = []
    real = gzip.compress

    def counted(data: bytes, **kwargs: Any) -> bytes:
        compressions.append(len(data))
        return real(data, **kwargs)

    monkeypatch.setattr(gzip, "compress", counted)
    asks = make_mocked_request("GET", "/metrics", headers={"Accept-Encoding": "gzip, deflate"})
    first, second = await shared.handle(asks), await shared.handle(asks)
    plain = await shared.handle(make_mocked_request("GET", "/metrics"))
    assert isinstance(first, web.Response)
    assert isinstance(first.body, bytes)
    assert first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(first.body).decode() == text(plain)
    assert isinstance(second, web.Response)
    assert second.body == first.body
    assert len(compressions) == 1  # one rendering, compressed once, for both scrapes
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, deflate", False),
        ("identity", False),
        ("br", False),
        ("gzip;q=x", False),
    ],
)
def test_accept_encoding_is_read_with_its_q_values(header: str, gzipped: bool) -> None:
    request = make_mocked_request("GET", "/metrics", headers={"Accept-Encoding": header})
    assert accepts_gzip(request) is gzipped


PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.mark.parametrize(
    "accept",
    [
        PROMETHEUS_ACCEPT,
        "application/openmetrics-text; version=1.0.0",
        "Application/OpenMetrics-Text",
    ],
)
async def test_without_openmetrics_a_scrape_asking_for_it_gets_the_text_format(accept: str) -> None:
    registry = CollectorRegistry()
    Gauge("thing", "A thing.", registry=registry).set(1)
    shared = SharedRendering(registry, share_seconds=3600)
    answer = await shared.handle(make_mocked_request("GET", "/metrics", headers={"Accept": accept}))
    assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert text(answer) == "# HELP thing A thing.\n# TYPE thing gauge\nthing 1.0\n"


def test_without_openmetrics_keeps_every_other_media_range_as_it_was() -> None:
    assert without_openmetrics(PROMETHEUS_ACCEPT) == "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    assert without_openmetrics("application/openmetrics-text") == ""
    text_1 = "text/plain;version=1.0.0;escaping=allow-utf-8"
    assert without_openmetrics(f"application/openmetrics-text;version=1.0.0,{text_1}") == text_1
