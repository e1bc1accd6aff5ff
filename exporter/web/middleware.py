"""Middleware: per-route request metrics, and JSON bodies for every error."""

from __future__ import annotations

import logging
import time

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from exporter.logs.cut import cut
from exporter.web.keys import METRICS

log = logging.getLogger("exporter.http")

# No endpoint takes a body; a bigger one is refused before anything reads it.
MAX_BODY_BYTES = 1024
METHODS = frozenset(hdrs.METH_ALL)
OTHER = "other"


def route_name(request: web.Request) -> str:
    """The matched route's name; ``other`` for anything unmatched, so paths make no series."""
    return request.match_info.route.name or OTHER


@web.middleware
async def instrument(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every answered request by route name, method and status code; time it too when
    its route is one of the timed ones (exporter.metrics.TIMED_HANDLERS)."""
    start = time.perf_counter()
    response = await handler(request)
    metrics = request.app[METRICS]
    name = route_name(request)
    method = request.method if request.method in METHODS else OTHER
    metrics.http.observe(name, method, response.status, time.perf_counter() - start)
    return response


def error_response(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """The one shape of every error body."""
    body = {"status": status, "error": error, "message": message}
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn aiohttp's HTTP errors and any unexpected exception into a JSON body."""
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        return error_response(
            413,
            "Request Entity Too Large",
            f"request body of {length} bytes refused: no endpoint takes more than "
            f"{MAX_BODY_BYTES} bytes",
        )
    if length is None and request.body_exists:
        # A chunked body has no size until it is read, and no endpoint reads one.
        return error_response(413, "Request Entity Too Large", "chunked request bodies are refused")
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return error_response(
            exc.status,
            exc.reason,
            f"method {request.method} is not allowed on {request.path}; use {allowed}",
            {hdrs.ALLOW: exc.headers[hdrs.ALLOW]},
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = (
            f"no endpoint at {request.path}; see / for the list"
            if exc.status == 404
            else exc.text or exc.reason
        )
        return error_response(exc.status, exc.reason, message)
    except Exception:
        log.exception("Unhandled error", extra={"path": cut(request.path)})
        return error_response(500, "Internal Server Error", "unexpected error; see the logs")
