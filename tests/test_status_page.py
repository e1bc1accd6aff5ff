"""The status page at / and /status.json, served by the real app over HTTP."""

from __future__ import annotations

import base64
import hashlib
import re
from html import escape
from pathlib import Path

from exporter import __version__
from exporter.status.fold import TIMES
from tests.conftest import StartExporter
from tests.test_checks_tcp import logging_and_a_refused_db


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


async def test_the_page_admits_only_its_own_script_and_style_by_hash(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    async with exporter.client.get("/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        policy = response.headers["Content-Security-Policy"]
        page = await response.text()
    [script] = re.findall(r"<script>(.*?)</script>", page, re.S)
    [style] = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert policy.split("; ") == [
        "default-src 'none'",
        f"script-src {_sha256(script)}",
        f"style-src {_sha256(style)}",
        "img-src data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    assert page.count("<script") == 1
    assert page.count("<style") == 1
    assert re.search(r"\sstyle=", page) is None  # no inline style attribute
    assert re.search(r"\son[a-z]+=", page) is None  # no inline event handler
    assert re.search(r"(src|href)=\"(https?:)?//", page) is None  # nothing from another host


async def test_the_page_names_the_exporter_and_links_every_endpoint(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(telemetry_path="/custom-metrics", instance="web-1")
    async with exporter.client.get("/") as response:
        page = await response.text()
    assert f'<span id="version">{__version__}</span>' in page
    assert '<span id="instance">web-1</span>' in page
    for path in ("/status.json", "/smoke-test", "/smoke-test/history", "/custom-metrics"):
        assert f'<a href=".{path}">{path}</a>' in page
    assert "<code>POST /-/reload</code>" in page
    assert "<title>✓ OK · smoke-test-exporter · web-1</title>" in page


async def test_each_check_has_its_row_in_config_order_with_status_reason_and_target(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    exporter = await start_exporter(config_file=logging_and_a_refused_db(tmp_path))
    _, body = await exporter.smoke()
    async with exporter.client.get("/status.json") as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        view = await response.json()
    async with exporter.client.get("/") as response:
        page = await response.text()
    rows = re.findall(r'<li class="check" data-check="([^"]+)" data-status="([^"]+)">', page)
    assert rows == [("logging", "ok"), ("db", "fail")]
    assert [(c["name"], c["status"]) for c in view["checks"]] == rows
    db = view["checks"][1]
    address = body["checks"]["db"]["component"]["id"]
    assert (db["reason"], db["error"], db["target"]) == (
        "connect",
        body["checks"]["db"]["error"],
        f"address {address}",
    )
    assert f'<p class="target">address {address}</p>' in page
    assert '<span class="state">✗ fail</span>' in page
    assert '<span class="state">✓ ok</span>' in page
    assert (view["status"], view["verdict"], view["message"]) == (
        "fail",
        "1 of 2 checks fails",
        body["message"],
    )
    assert f'<main id="status" data-status="fail" data-refresh="{view["refresh_seconds"]}">' in page
    # Two runs so far (start-up and this one): each row's strip has a mark of each.
    assert [len(c["strip"]) for c in view["checks"]] == [2, 2]
    assert view["checks"][1]["uptime"] == {"runs": 2, "passed": 0, "percent": 0.0, "text": "0 %"}
    sinks = view["checks"][0]["parts"]
    assert [(sink["name"], sink["status"]) for sink in sinks] == [("stdout", "ok"), ("file", "ok")]
    for sink in sinks:
        line = f"{sink['name']}: ok in {sink['text']}"
        assert f'<li data-part="{sink["name"]}" data-status="ok">{line}</li>' in page


async def test_repeated_identical_failures_are_one_folded_line(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    exporter = await start_exporter(config_file=logging_and_a_refused_db(tmp_path))
    for _ in range(3):
        await exporter.smoke()
    async with exporter.client.get("/status.json") as response:
        view = await response.json()
    [line] = view["failures"]
    assert (line["check"], line["reason"], line["count"]) == ("db", "connect", 4)
    assert line["text"].startswith(f"{TIMES}4 since ")
    async with exporter.client.get("/") as response:
        page = await response.text()
    assert page.count('<li class="failure" data-check="db">') == 1


async def test_text_from_outside_is_escaped_on_the_page(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    hostile = tmp_path / "<img src=x onerror=alert(1)>"
    hostile.mkdir()
    exporter = await start_exporter(log_file=hostile)  # a directory: every run fails
    _, body = await exporter.smoke()
    async with exporter.client.get("/") as response:
        page = await response.text()
    error = body["checks"]["logging"]["error"]
    assert "<img" in error
    assert f'<span class="error">{escape(error)}</span>' in page
    assert "<img" not in page


async def test_the_page_and_its_figures_are_gzipped_when_the_browser_accepts_it(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    for path in ("/", "/status.json"):
        async with exporter.client.get(path, headers={"Accept-Encoding": "gzip"}) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert len(await response.read()) > 0
        async with exporter.client.get(path, headers={"Accept-Encoding": "identity"}) as response:
            assert "Content-Encoding" not in response.headers
