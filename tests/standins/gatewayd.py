"""A stand-in for systemd-journal-gatewayd's ``GET /entries``, for the faults the real daemon
cannot be made to show (a 5xx, a 401 from a proxy in front, garbage, slowness); the journal
chain itself is tested against the real daemons.

As systemd-journal-gatewayd.service(8) documents it: URL parameters ``FIELD=value`` are
matches, values of one field ORed and different fields ANDed; ``Accept: application/json``
answers one JSON object per line; the ``Range: entries=cursor[[:num_skip]:num_entries]``
header with an empty cursor counts from the newest entry (``:-4:5`` is the newest five).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from tests.standins.base import Standin, Stored

RANGE = re.compile(r"entries=:(-?\d+):(\d+)")


@dataclass
class Gatewayd(Standin):
    """Journal entries, oldest first."""

    entries: list[Stored] = field(default_factory=list)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/entries", self.entries_handler)]

    def add(self, entry: Mapping[str, str], *, copies: int = 1, visible_after: float = 0.0) -> None:
        now = time.time()
        for _ in range(copies):
            self.entries.append(Stored(dict(entry), now, now + visible_after))

    def delete(self, text: str) -> None:
        """Forget every entry holding ``text`` (journal vacuuming)."""
        self.entries = [e for e in self.entries if text not in json.dumps(e.value)]

    async def entries_handler(self, request: web.Request) -> web.Response:
        if request.headers.get("Accept") != "application/json":
            return web.Response(text="export format is not what this stand-in answers\n")
        matches: dict[str, set[str]] = {}
        for key, value in request.query.items():
            matches.setdefault(key, set()).add(value)
        visible = [e.value for e in self.entries if e.visible]
        picked = [e for e in visible if all(e.get(k) in v for k, v in matches.items())]
        wanted = request.headers.get("Range")
        if wanted is not None:
            m = RANGE.fullmatch(wanted)
            if m is None:
                return web.Response(status=400, text="Failed to parse Range header.\n")
            skip, count = int(m.group(1)), int(m.group(2))
            start = max(0, len(picked) - 1 + skip)
            picked = picked[start : start + count]
        body = "".join(json.dumps(e) + "\n" for e in picked)
        return web.Response(text=body, content_type="application/json")
