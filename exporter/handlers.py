"""HTTP handlers: the smoke test, the landing page and the liveness and readiness probes."""

from __future__ import annotations

import html

from aiohttp import web

from exporter import __version__
from exporter.keys import RUNNER, SETTINGS
from exporter.runner import Trigger

NO_STORE = {"Cache-Control": "no-store"}


async def smoke_test(request: web.Request) -> web.Response:
    """Run the smoke test (or join the run in flight): 200 when it passes, 503 when not."""
    result = await request.app[RUNNER].run(Trigger.HTTP)
    return web.json_response(result.body(), status=200 if result.ok else 503, headers=NO_STORE)


async def healthy(request: web.Request) -> web.Response:
    """Liveness: the process answers HTTP. Runs no check."""
    return web.Response(text="Healthy\n", headers=NO_STORE)


async def ready(request: web.Request) -> web.Response:
    """Readiness: 200 once the start-up run has finished, whatever its result."""
    if request.app[RUNNER].ready.is_set():
        return web.Response(text="Ready\n", headers=NO_STORE)
    return web.Response(
        status=503, text="Not ready: the start-up smoke test has not finished\n", headers=NO_STORE
    )


async def index(request: web.Request) -> web.Response:
    """A small page naming the exporter and linking its endpoints."""
    metrics = html.escape(request.app[SETTINGS].telemetry_path)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>smoke-test-exporter</title></head>
<body>
<h1>smoke-test-exporter {html.escape(__version__)}</h1>
<p>Proves that this service is up and that its logging reaches every sink.</p>
<ul>
<li><a href="smoke-test">smoke-test</a>: run the smoke test (JSON; 200 pass, 503 fail)</li>
<li><a href="{metrics[1:]}">{metrics}</a>: metrics for Prometheus</li>
<li><a href="-/healthy">-/healthy</a>: liveness</li>
<li><a href="-/ready">-/ready</a>: readiness</li>
</ul>
</body>
</html>
"""
    return web.Response(text=page, content_type="text/html")
