"""The telemetry endpoint: prometheus_client's aiohttp handler, one rendering shared by the
scrapes that arrive within the same few milliseconds."""

from __future__ import annotations

import time

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

# Rendering ~200 series costs about a millisecond of Python; a flood of scrapes shares one
# rendering per window instead of paying it each time. A finished run clears it at once, so
# a cached page never shows a result older than the last run.
SHARE_SECONDS = 0.005

Rendering = tuple[int, dict[str, str], bytes]


class SharedRendering:
    """Renders through the library's handler (content negotiation, ``name[]`` filters) and
    keeps each variant for ``SHARE_SECONDS``."""

    def __init__(self, registry: CollectorRegistry, share_seconds: float = SHARE_SECONDS) -> None:
        # Compression is applied per response below, after the shared rendering.
        self._render = make_aiohttp_handler(registry, disable_compression=True)
        self._share = share_seconds
        self._cache: dict[tuple[str, str], tuple[float, Rendering]] = {}

    def clear(self) -> None:
        """Forget every rendering: the next scrape renders afresh."""
        self._cache.clear()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler for the telemetry path."""
        key = (",".join(request.headers.getall(hdrs.ACCEPT, [])), request.query_string)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is None or now - cached[0] > self._share:
            response = await self._render(request)
            assert isinstance(response, web.Response)  # the library answers with a body
            body = response.body
            assert isinstance(body, bytes)
            # The window starts when the rendering is done, not when it began: on a slow
            # machine a rendering can take most of a window, and the flood would render again
            # and again.
            cached = (time.monotonic(), (response.status, dict(response.headers), body))
            if len(self._cache) > 16:  # bounded: callers choose the keys
                self._cache.clear()
            self._cache[key] = cached
        status, headers, body = cached[1]
        response = web.Response(status=status, headers=headers, body=body)
        response.enable_compression()
        return response
