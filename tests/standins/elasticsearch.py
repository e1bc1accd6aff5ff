"""A stand-in for Elasticsearch's (and OpenSearch's) search API: ``POST /<target>/_search`` as
documented at
https://www.elastic.co/guide/en/elasticsearch/reference/current/search-search.html

The target is a comma-separated list of index names and ``*`` patterns; a name that matches no
index is a 404 ``index_not_found_exception``, a pattern that matches none finds nothing
(``allow_no_indices``). The body's ``query`` is a ``terms`` query (the only one the exporter
sends): a keyword field matches a value exactly, a text field (a string with spaces) when one
of its tokens is the value, as the standard analyzer splits it. ``size`` defaults to 10 and may
not pass 10 000 (``index.max_result_window``). The answer is ``{"took", "timed_out",
"_shards", "hits": {"max_score", "hits": [{"_index", "_id", "_score", "_source"}]}}``, with
``hits.total`` only when ``track_total_hits`` is not false. Errors are Elasticsearch's JSON
error object with ``status``.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.standins.base import Standin, Stored

TOKEN = re.compile(r"[a-z0-9]+")
_ids = itertools.count(1)


def error(status: int, kind: str, reason: str) -> web.Response:
    cause = {"type": kind, "reason": reason}
    return web.json_response(
        {"error": {"root_cause": [cause], **cause}, "status": status}, status=status
    )


def _value(document: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(document, Mapping):
            return None
        document = document.get(part)
    return document


def _matches(value: Any, terms: list[Any]) -> bool:
    if isinstance(value, str) and " " in value:
        tokens = set(TOKEN.findall(value.lower()))
        return any(str(t).lower() in tokens for t in terms)
    return value in terms


@dataclass
class Elasticsearch(Standin):
    """Documents by index."""

    api_key: str | None = None
    indices: dict[str, list[tuple[str, Stored]]] = field(default_factory=dict)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/{target}/_search", self.search)]

    def index(
        self, name: str, document: Mapping[str, Any], *, copies: int = 1, visible_after: float = 0.0
    ) -> None:
        """Index ``document`` as a shipper would have, searchable after ``visible_after``
        seconds (a refresh interval)."""
        now = time.time()
        docs = self.indices.setdefault(name, [])
        for _ in range(copies):
            docs.append((str(next(_ids)), Stored(dict(document), now, now + visible_after)))

    def delete(self, text: str) -> None:
        """Delete every document holding ``text`` (an ILM delete phase, say)."""
        for docs in self.indices.values():
            docs[:] = [(i, s) for i, s in docs if text not in repr(s.value)]

    async def search(self, request: web.Request) -> web.Response:
        if (
            self.api_key is not None
            and request.headers.get("Authorization") != f"ApiKey {self.api_key}"
        ):
            return error(
                401, "security_exception", "missing authentication credentials for REST request"
            )
        try:
            body = await request.json()
        except ValueError:
            return error(400, "parse_exception", "request body is required")
        terms = body.get("query", {}).get("terms") if isinstance(body, dict) else None
        if not isinstance(terms, dict) or len(terms) != 1:
            return error(400, "parsing_exception", "the stand-in answers terms queries only")
        ((path, values),) = terms.items()
        size = body.get("size", 10)
        if not isinstance(size, int) or size < 0 or size > 10_000:
            return error(400, "illegal_argument_exception", "Result window is too large")
        names = []
        for item in request.match_info["target"].split(","):
            found = [n for n in self.indices if fnmatch.fnmatchcase(n, item)]
            if not found and "*" not in item:
                return error(404, "index_not_found_exception", f"no such index [{item}]")
            names += found
        hits = [
            {"_index": name, "_id": doc_id, "_score": 1.0, "_source": stored.value}
            for name in dict.fromkeys(names)
            for doc_id, stored in self.indices[name]
            if stored.visible and _matches(_value(stored.value, path), values)
        ]
        shards = len(set(names))
        outer: dict[str, Any] = {"max_score": 1.0 if hits else None, "hits": hits[:size]}
        if body.get("track_total_hits") is not False:
            outer = {"total": {"value": len(hits), "relation": "eq"}, **outer}
        return web.json_response(
            {
                "took": 1,
                "timed_out": False,
                "_shards": {"total": shards, "successful": shards, "skipped": 0, "failed": 0},
                "hits": outer,
            }
        )
