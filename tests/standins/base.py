"""What both stand-ins share: faults on demand, lines that become visible later, and the
requests they were sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Faults:
    """What the stand-in does wrong, until a test clears it."""

    status: int | None = None  # answer this status, with ``body``
    body: str = ""
    garbage: bool = False  # answer 200 with a body that is not JSON
    slow_seconds: float = 0.0  # wait this long before answering


@dataclass
class Request:
    """One request the stand-in was sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Standin:
    """An aiohttp app on loopback; ``url`` once started."""

    faults: Faults = field(default_factory=Faults)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _port: int = 0

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    @web.middleware
    async def _faulty(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        self.requests.append(
            Request(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        f = self.faults
        if f.slow_seconds:
            await asyncio.sleep(f.slow_seconds)
        if f.status is not None:
            return web.Response(status=f.status, text=f.body)
        if f.garbage:
            return web.Response(text="<html>Bad Gateway</html>", content_type="text/html")
        return await handler(request)

    async def start(self) -> None:
        """Listen on loopback; on the same port as before when started again."""
        app = web.Application(middlewares=[self._faulty])
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self._port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@dataclass
class Stored:
    """One copy of a line or document, hidden until ``visible_at``."""

    value: Any
    timestamp: float
    visible_at: float

    @property
    def visible(self) -> bool:
        return time.time() >= self.visible_at


async def running(standin: Standin) -> AsyncIterator[Standin]:
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()
