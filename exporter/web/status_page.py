"""The status page at / and its figures at /status.json: one view, as HTML and as JSON."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from exporter import __version__
from exporter.status.assets import page_assets
from exporter.status.page import render
from exporter.status.view import Link, Sources, status_view
from exporter.web.keys import INSTANCE, ROUTES, RUNNER

NO_STORE = {"Cache-Control": "no-store"}


def view(request: web.Request) -> dict[str, Any]:
    """The page's figures now."""
    runner = request.app[RUNNER]
    links = [
        Link(route.method, route.path, route.link)
        for route in request.app[ROUTES]
        if route.link is not None
    ]
    sources = Sources(
        last=runner.last,
        checks=list(runner.checks),
        timeline=runner.timeline,
        failures=runner.history.failures,
        instance=request.app[INSTANCE],
        version=__version__,
        links=links,
    )
    return status_view(sources, time.time())


async def page(request: web.Request) -> web.Response:
    """The status page: complete without JavaScript; its one script refreshes it in place."""
    assets = page_assets()
    headers = {
        **NO_STORE,
        "Content-Security-Policy": assets.policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    answer = web.Response(
        text=render(view(request), assets), content_type="text/html", headers=headers
    )
    answer.enable_compression()  # when the browser accepts it: about a tenth of the bytes
    return answer


async def status_json(request: web.Request) -> web.Response:
    """Every figure of the status page; compressed when accepted, as each open page asks for
    it every few seconds (194 KB at 50 checks, 5 KB gzipped)."""
    figures = web.json_response(view(request), headers=NO_STORE)
    figures.enable_compression()
    return figures
