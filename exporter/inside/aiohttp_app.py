"""The smoke test inside an aiohttp service: ``app.add_subapp("/health", smoke_test_app())``
serves GET /health/smoke-test, and runs in the background while the service runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import hdrs, web
from prometheus_client import REGISTRY, CollectorRegistry

from exporter.inside.core import InsideSmokeTest
from exporter.inside.settings import InsideSettings

SMOKE_TEST = web.AppKey("smoke_test", InsideSmokeTest)


def smoke_test_app(
    settings: InsideSettings | None = None, *, registry: CollectorRegistry | None = None
) -> web.Application:
    """A sub-app serving ``GET /smoke-test``. Its series go on ``registry`` (by default the
    client library's global one, which the service's own /metrics serves); its background
    runs start and stop with the service, through the sub-app's cleanup_ctx."""
    app = web.Application()
    app[SMOKE_TEST] = InsideSmokeTest(
        settings or InsideSettings(), REGISTRY if registry is None else registry
    )
    app.router.add_get("/smoke-test", smoke_test, name="smoke_test")
    app.cleanup_ctx.append(_runs)
    return app


async def smoke_test(request: web.Request) -> web.Response:
    """Run the smoke test (or join the run in flight): 200 when it passes, 503 when not."""
    reply = await request.app[SMOKE_TEST].respond(
        request.query.getall("exclude", []), request.headers.get(hdrs.ACCEPT, "")
    )
    return web.json_response(
        reply.body,
        status=reply.status,
        content_type=reply.content_type,
        headers=dict(reply.headers),
    )


async def _runs(app: web.Application) -> AsyncIterator[None]:
    async with app[SMOKE_TEST].running():
        yield
