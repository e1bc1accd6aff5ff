"""aiohttp's own log records: the JSON access log, its caps, and compact parser errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import BaseRequest, Request, StreamResponse

from exporter.logs.cut import cut, cut_or_none

ACCESS_LOGGER = "aiohttp.access"
SERVER_LOGGER = "aiohttp.server"
# Malformed requests are logged at most this often (per second, with a burst of as many).
BAD_REQUESTS_PER_SECOND = 5.0
# The most a parser error takes in its line, in bytes of its JSON form: it quotes the request.
MAX_ERROR_BYTES = 200
# aiohttp answers a request its parser rejected through a stand-in request with this method
# (aiohttp.web_protocol.ERROR); real methods never spell it, since the parser refuses them.
REJECTED_METHOD = "UNKNOWN"
# Marks a record that already took its token (leading underscore: not a JSON field).
ADMITTED = "_admitted"
# Marks a record any client can make, one per request: its line is charged to the byte budget
# (LogPipeline's), so that no flood writes more than that to a sink.
BUDGETED = "_budgeted"
# Routes polled on a schedule, by route name: Prometheus' scrape and the liveness and readiness
# probes. Their successful answers are counted in smoke_test_http_requests_total, and logged
# only with --log.access-probes: at a scrape every 15 s and probes every 10 s they would be
# most of the log, and each line costs a scrape about a tenth of its CPU.
ROUTINE_ROUTES = frozenset({"metrics", "healthy", "ready"})


class JsonAccessLogger(AbstractAccessLogger):
    """aiohttp's access log as one JSON record per request."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if request.method == REJECTED_METHOD:
            return  # CompactBadRequests already logged it, with the reason
        for quiet in self.logger.filters:
            if isinstance(quiet, RoutineAnswers) and quiet.skips(request, response):
                return  # before the cap: a line left out takes no token
        # Over the cap, stop before a record is made: under a flood most lines are dropped,
        # and making each one (Logger.info walks the stack for its caller) would cost more
        # than answering the request.
        for limit in self.logger.filters:
            if isinstance(limit, RateLimit) and not limit.admit():
                return
        # Every value the client chose is cut to size (exporter.logs.cut): an 8 KB header of
        # invalid bytes would otherwise take 48 KB of the line.
        method = cut(request.method)
        record = self.logger.makeRecord(
            self.logger.name,
            logging.INFO,
            "(access log)",
            0,
            "%s %s %s",
            (method, cut(request.path), response.status),
            None,
            extra={
                "remote": cut_or_none(request.remote),
                "method": method,
                "path": cut(request.raw_path),  # the query with it
                "status": response.status,
                "response_bytes": response.body_length,  # headers included, like %b
                "duration_seconds": round(time, 6),
                "user_agent": cut_or_none(request.headers.get("User-Agent")),
                ADMITTED: True,
                BUDGETED: True,
            },
        )
        self.logger.handle(record)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class RateLimit(logging.Filter):
    """A token bucket: at most ``per_second`` tokens a second, bursts of ``burst`` (as many
    by default). A record costs a token, a line of the byte budget its bytes; what finds too
    few is dropped and reported to ``on_drop``."""

    def __init__(
        self, per_second: float, on_drop: Callable[[], None], burst: float | None = None
    ) -> None:
        super().__init__()
        self._rate = per_second
        self._burst = per_second if burst is None else burst
        self._tokens = self._burst
        self._last = time.monotonic()
        self._on_drop = on_drop

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, ADMITTED, False) or self.admit()

    def admit(self, cost: float = 1) -> bool:
        """Take ``cost`` tokens if there are as many; count a drop if not."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        self._on_drop()
        return False


class RoutineAnswers(logging.Filter):
    """Leaves out of the access log the successful answers to routine routes; a failed one
    (status 400 and above) is logged. A filter on the access logger, added and removed with
    the rate cap; the access logger asks it before a record is made."""

    def __init__(self, routes: frozenset[str] = ROUTINE_ROUTES) -> None:
        super().__init__()
        self.routes = routes

    def filter(self, record: logging.LogRecord) -> bool:
        return True  # the choice is made in skips(), where the request is at hand

    def skips(self, request: BaseRequest, response: StreamResponse) -> bool:
        """True when ``response`` answers a routine route successfully."""
        if response.status >= 400 or not isinstance(request, Request):
            return False
        return request.match_info.route.name in self.routes


class CompactBadRequests(logging.Filter):
    """aiohttp logs every request its parser rejects with a whole traceback, so anyone could
    fill the sinks with them. Keep one short line per rejection, and few of those."""

    def __init__(self, on_drop: Callable[[], None]) -> None:
        super().__init__()
        self._limit = RateLimit(BAD_REQUESTS_PER_SECOND, on_drop)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        if not self._limit.filter(record):
            return False
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else None
        record.msg, record.args = "Rejected a malformed HTTP request", None
        record.exc_info, record.exc_text = None, None
        record.remote = cut(str(remote)) if remote is not None else None
        record.status = error.code
        record.error = cut(" ".join(str(error.message).split()), MAX_ERROR_BYTES)
        setattr(record, BUDGETED, True)
        return True
