"""A stand-in for Grafana Loki's query API: ``GET /loki/api/v1/query_range`` as documented at
https://grafana.com/docs/loki/latest/reference/loki-http-api/#query-logs-within-a-range-of-time

It takes ``query`` (a stream selector of ``label="value"`` matchers, then ``|= "text"`` and
``|~ `regex``` filters), ``start`` and ``end`` (nanosecond Unix times; start inclusive, end
exclusive), ``limit`` (default 100) and ``direction`` (``forward`` or ``backward``, the
default), and answers ``{"status": "success", "data": {"resultType": "streams", "result":
[{"stream": {...}, "values": [["<ns>", "<line>"], ...]}], "stats": {}}}``. A bad parameter is a
400 with a plain-text reason, as Loki answers. With a tenant set, a request without
``X-Scope-OrgID`` is a 401 "no org id", as Loki with ``auth_enabled`` answers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from tests.standins.base import Standin, Stored

SELECTOR = re.compile(r"\s*\{([^}]*)\}\s*(.*)", re.S)
MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"\s*')
FILTER = re.compile(r'\s*(\|=|\|~)\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)')


@dataclass
class Loki(Standin):
    """Streams of lines by label set."""

    tenant: str | None = None
    token: str | None = None
    streams: dict[tuple[tuple[str, str], ...], list[Stored]] = field(default_factory=dict)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/loki/api/v1/query_range", self.query_range)]

    def push(
        self,
        line: str,
        labels: Mapping[str, str],
        *,
        copies: int = 1,
        visible_after: float = 0.0,
        timestamp: float | None = None,
    ) -> None:
        """Store ``line`` as a shipper would have pushed it."""
        now = time.time()
        stream = self.streams.setdefault(tuple(sorted(labels.items())), [])
        for _ in range(copies):
            stream.append(Stored(line, timestamp or now, now + visible_after))

    def delete(self, text: str) -> None:
        """Forget every line holding ``text`` (retention, or a compactor that lost a chunk)."""
        for stream in self.streams.values():
            stream[:] = [s for s in stream if text not in s.value]

    async def query_range(self, request: web.Request) -> web.Response:
        if self.tenant is not None and request.headers.get("X-Scope-OrgID") != self.tenant:
            return web.Response(status=401, text="no org id\n")
        if (
            self.token is not None
            and request.headers.get("Authorization") != f"Bearer {self.token}"
        ):
            return web.Response(status=401, text="Unauthorized\n")
        q = request.query
        parsed = _parse(q["query"])
        if isinstance(parsed, str):
            return web.Response(status=400, text=f"parse error : {parsed}\n")
        matchers, filters = parsed
        try:
            now_ns = time.time_ns()
            start = int(q.get("start", now_ns - 3600 * 10**9))
            end = int(q.get("end", now_ns))
            limit = int(q.get("limit", "100"))
        except ValueError:
            return web.Response(status=400, text="invalid parameter: not a number\n")
        direction = q.get("direction", "backward")
        if direction not in ("forward", "backward"):
            return web.Response(status=400, text=f"invalid direction {direction!r}\n")
        picked: list[tuple[int, tuple[tuple[str, str], ...], str]] = []
        for labels, stored in self.streams.items():
            if not all((k, v) in labels for k, v in matchers):
                continue
            for s in stored:
                ns = int(s.timestamp * 1e9)
                if s.visible and start <= ns < end and all(f(s.value) for f in filters):
                    picked.append((ns, labels, s.value))
        picked.sort(key=lambda e: e[0], reverse=direction == "backward")
        result: dict[tuple[tuple[str, str], ...], list[list[str]]] = {}
        for ns, labels, line in picked[:limit]:
            result.setdefault(labels, []).append([str(ns), line])
        streams = [{"stream": dict(k), "values": v} for k, v in result.items()]
        return web.json_response(
            {"status": "success", "data": {"resultType": "streams", "result": streams, "stats": {}}}
        )


def _searcher(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda line: pattern.search(line) is not None


def _parse(text: str) -> tuple[list[tuple[str, str]], list[Callable[[str], bool]]] | str:
    match = SELECTOR.fullmatch(text)
    if match is None:
        return "a query starts with a stream selector"
    matchers = []
    for part in filter(str.strip, match.group(1).split(",")):
        m = MATCHER.fullmatch(part)
        if m is None:
            return f"unsupported matcher {part!r}"
        matchers.append((m.group(1), m.group(2)))
    if not matchers:
        return "queries require at least one regexp or equality matcher"
    filters: list[Callable[[str], bool]] = []
    rest = match.group(2)
    while rest.strip():
        m = FILTER.match(rest)
        if m is None:
            return f"unexpected {rest.strip()[:20]!r}"
        operator, quoted, raw = m.group(1), m.group(2), m.group(3)
        value = raw if raw is not None else quoted.encode().decode("unicode_escape")
        if operator == "|=":
            filters.append(value.__contains__)
        else:
            filters.append(_searcher(re.compile(value)))
        rest = rest[m.end() :]
    return matchers, filters
