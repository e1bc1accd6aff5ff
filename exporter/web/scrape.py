"""The telemetry endpoint: prometheus_client's aiohttp handler, one rendering shared by the
scrapes that arrive within the same few milliseconds, and gzip'd once for all of them;
OpenMetrics only when --web.openmetrics offers it, as client_golang's EnableOpenMetrics."""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass, field

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

# Rendering ~200 series costs about a millisecond of Python; a flood of scrapes shares one
# rendering per window instead of paying it each time. A finished run clears it at once, so
# a cached page never shows a result older than the last run.
SHARE_SECONDS = 0.005
OPENMETRICS = "application/openmetrics-text"
# Prometheus' own scrapes ask for gzip. Level 6, zlib's default, as client_golang's handler.
GZIP_LEVEL = 6


@dataclass
class Rendering:
    """One rendering: the library's status, headers and body, and its gzip'd body once a
    scrape has asked for it."""

    at: float
    status: int
    headers: dict[str, str]
    body: bytes
    gzipped: bytes | None = field(default=None, repr=False)

    def compressed(self) -> bytes:
        """The body gzip'd, once per rendering, in the event loop: a body this small costs
        less to compress than to hand to a thread (aiohttp's way, per response)."""
        if self.gzipped is None:
            self.gzipped = gzip.compress(self.body, compresslevel=GZIP_LEVEL, mtime=0)
        return self.gzipped


def accepts_gzip(request: web.Request) -> bool:
    """True when Accept-Encoding lists gzip (or *) with a q above 0."""
    for header in request.headers.getall(hdrs.ACCEPT_ENCODING, []):
        for item in header.split(","):
            coding, *params = (part.strip() for part in item.split(";"))
            if coding.lower() in ("gzip", "*"):
                q = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
                try:
                    if float(q) > 0:
                        return True
                except ValueError:
                    continue
    return False


def without_openmetrics(accept: str) -> str:
    """An Accept header's media ranges less OpenMetrics: what the library then negotiates is
    the text format (of the version asked for, or 0.0.4)."""
    ranges = (item for item in accept.split(",") if item.strip())
    return ",".join(r for r in ranges if r.split(";")[0].strip().lower() != OPENMETRICS)


class SharedRendering:
    """Renders through the library's handler (content negotiation, ``name[]`` filters) and
    keeps each variant, plain and gzip'd, for ``SHARE_SECONDS``.

    Without ``openmetrics``, a scrape that asks for OpenMetrics gets the text format, as from
    client_golang's default handler: Prometheus asks for OpenMetrics first, and
    prometheus_client renders it at about 1.5 times the CPU (it escapes every sample's name a
    character at a time)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        share_seconds: float = SHARE_SECONDS,
        *,
        openmetrics: bool = False,
    ) -> None:
        # Compression is applied below, once per rendering, not by aiohttp per response.
        self._render = make_aiohttp_handler(registry, disable_compression=True)
        self._share = share_seconds
        self._openmetrics = openmetrics
        self._cache: dict[tuple[str, str], Rendering] = {}

    def clear(self) -> None:
        """Forget every rendering: the next scrape renders afresh."""
        self._cache.clear()

    async def _rendering(self, request: web.Request) -> Rendering:
        asked = ",".join(request.headers.getall(hdrs.ACCEPT, []))
        offered = asked
        if not self._openmetrics and OPENMETRICS in asked.lower():
            offered = without_openmetrics(asked)
        key = (offered, request.query_string)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached.at <= self._share:
            return cached
        if offered != asked:
            request = request.clone(headers={**request.headers, hdrs.ACCEPT: offered})
        response = await self._render(request)
        assert isinstance(response, web.Response)  # the library answers with a body
        body = response.body
        assert isinstance(body, bytes)
        # The window starts when the rendering is done, not when it began: on a slow machine a
        # rendering can take most of a window, and the flood would render again and again.
        rendering = Rendering(time.monotonic(), response.status, dict(response.headers), body)
        if len(self._cache) > 16:  # bounded: callers choose the keys
            self._cache.clear()
        self._cache[key] = rendering
        return rendering

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler for the telemetry path."""
        rendering = await self._rendering(request)
        headers = {**rendering.headers, hdrs.VARY: hdrs.ACCEPT_ENCODING}
        if accepts_gzip(request):
            headers[hdrs.CONTENT_ENCODING] = "gzip"
            return web.Response(
                status=rendering.status, headers=headers, body=rendering.compressed()
            )
        return web.Response(status=rendering.status, headers=headers, body=rendering.body)
