"""HTTP handlers: the smoke test, the landing page and the liveness and readiness probes."""

from __future__ import annotations

import html

from aiohttp import hdrs, web

from exporter import __version__, health_json
from exporter.history import Entry
from exporter.keys import RUNNER, SETTINGS

NO_STORE = {"Cache-Control": "no-store"}


async def smoke_test(request: web.Request) -> web.Response:
    """Run the smoke test (or join the run in flight): 200 when it passes, 503 when not.

    JSON by default; the health+json format when the Accept header prefers it.
    """
    answer = await request.app[RUNNER].answer()
    status = 200 if answer.result.ok else 503
    if health_json.wants_health_json(request.headers.get(hdrs.ACCEPT, "")):
        return web.json_response(
            health_json.render(answer),
            status=status,
            headers=NO_STORE,
            content_type=health_json.MEDIA_TYPE,
        )
    return web.json_response(answer.body(), status=status, headers=NO_STORE)


async def history(request: web.Request) -> web.Response:
    """The last runs and the last failures, newest first."""
    return web.json_response(request.app[RUNNER].history.body(), headers=NO_STORE)


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
    """A small page naming the exporter, linking its endpoints, and showing recent runs."""
    metrics = html.escape(request.app[SETTINGS].telemetry_path)
    runs = request.app[RUNNER].history
    page = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>smoke-test-exporter</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;text-align:left}}
.fail{{color:#b00}}</style></head>
<body>
<h1>smoke-test-exporter {html.escape(__version__)}</h1>
<p>Proves that this service is up and that its logging reaches every sink.</p>
<ul>
<li><a href="smoke-test">smoke-test</a>: run the smoke test (JSON; 200 pass, 503 fail)</li>
<li><a href="smoke-test/history">smoke-test/history</a>: the last runs and failures (JSON)</li>
<li><a href="{metrics[1:]}">{metrics}</a>: metrics for Prometheus</li>
<li><a href="-/healthy">-/healthy</a>: liveness</li>
<li><a href="-/ready">-/ready</a>: readiness</li>
</ul>
<h2>Last failures</h2>
{_table(runs.failures)}
<h2>Last runs</h2>
{_table(runs.runs)}
</body>
</html>
"""
    return web.Response(text=page, content_type="text/html", headers=NO_STORE)


def _table(entries: list[Entry]) -> str:
    if not entries:
        return "<p>None yet.</p>"
    head = "<tr><th>time</th><th>trigger</th><th>result</th><th>duration (s)</th>"
    head += "<th>run_id</th><th>cause</th></tr>"
    rows = "".join(
        f'<tr class="{html.escape(e.status)}"><td>{html.escape(e.time)}</td>'
        f"<td>{html.escape(e.trigger)}</td><td>{html.escape(e.status)}</td>"
        f"<td>{e.duration_seconds:.6f}</td><td><code>{html.escape(e.run_id)}</code></td>"
        f"<td>{html.escape(e.cause or '')}</td></tr>"
        for e in entries
    )
    return f"<table>\n{head}\n{rows}\n</table>"
