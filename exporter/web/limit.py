"""--web.max-requests: the cap on requests in flight, with a reserve for scrapes and probes."""

from __future__ import annotations

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from prometheus_client import Counter

from exporter.web.middleware import error_response, route_name

# The routes Prometheus and the liveness and readiness probes call, by route name: a flood of
# /smoke-test must not make Prometheus lose the target or a probe fail.
RESERVED_ROUTES = ("metrics", "healthy", "ready")
# Slots each reserved route has of its own beyond the general pool: one scrape or probe in
# flight, and one more from a second Prometheus (an HA pair) or a probe that overlaps it.
RESERVE = 2
RETRY_AFTER_SECONDS = 1


class RequestLimit:
    """An aiohttp middleware: at most ``max_requests`` requests in flight, the rest refused at
    once with 503 and Retry-After; 0 is no limit.

    The arithmetic: any route takes a slot of the general pool while fewer than
    ``max_requests`` are taken. When the pool is full, each route of RESERVED_ROUTES takes one
    of its own RESERVE slots, while it has one free. So at most ``max_requests`` requests of
    the other routes are in flight, and at most ``max_requests + len(RESERVED_ROUTES) *
    RESERVE`` in all (40 + 3 * 2 = 46 by default); a flood of one reserved route cannot take
    another's reserve. Only requests that wait (on a run, on a password check) hold a slot for
    long: one answered without waiting gives it back before the next request is read.
    """

    # aiohttp calls a middleware without this marker the deprecated old way.
    __middleware_version__ = 1

    def __init__(self, max_requests: int, rejected: Counter) -> None:
        self.max_requests = max_requests
        self.in_flight = 0  # slots of the general pool taken
        self.reserved = dict.fromkeys(RESERVED_ROUTES, 0)  # reserve slots taken, by route
        self._rejected = rejected

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.max_requests == 0 or self.in_flight < self.max_requests:
            self.in_flight += 1
            try:
                return await handler(request)
            finally:
                self.in_flight -= 1
        name = route_name(request)
        taken = self.reserved.get(name, RESERVE)
        if taken < RESERVE:
            self.reserved[name] = taken + 1
            try:
                return await handler(request)
            finally:
                self.reserved[name] -= 1
        self._rejected.inc()
        # no-store, as on every answer of /smoke-test and the probes: a refusal is not kept.
        return error_response(
            503,
            "Service Unavailable",
            f"{self.max_requests} requests are in flight, the most --web.max-requests allows; "
            f"retry in {RETRY_AFTER_SECONDS} s",
            {hdrs.RETRY_AFTER: str(RETRY_AFTER_SECONDS), hdrs.CACHE_CONTROL: "no-store"},
        )
