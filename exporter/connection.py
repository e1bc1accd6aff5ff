"""One accepted connection of a capped site: a member of the pool of --web.max-connections,
and the protocol around the app's, its heads capped (exporter.headers)."""

from __future__ import annotations

import asyncio

from prometheus_client import Counter

from exporter.fair import Phase, Pool
from exporter.headers import HeadLimit


class Connection(asyncio.Protocol):
    """One accepted connection: a member of the pool from the accept on, and, once made, the
    protocol around the app's (a HeadLimit), which gives its slot back when it is lost."""

    __slots__ = ("_handler", "_limit", "_pool", "_transport", "key", "task")
    _handler: asyncio.Protocol  # the app's, and
    _limit: HeadLimit  # the cap on its heads: set by wrap(), before the connection is made

    def __init__(self, pool: Pool, key: str) -> None:
        self.key = key
        self.task: asyncio.Task[None] | None = None  # its handshake, until it is made
        self._pool = pool
        self._transport: asyncio.Transport | None = None

    def wrap(self, handler: asyncio.Protocol, refused: Counter) -> Connection:
        """This connection as the protocol around the app's ``handler``."""
        self._handler = handler
        self._limit = HeadLimit(handler, refused)
        return self

    def phase(self) -> Phase:
        if self._transport is None:
            return Phase.HEAD  # its TLS handshake
        # aiohttp has no public word for it: RequestHandler._request_in_progress is true while
        # a handler runs and its answer is written (aiohttp >= 3.9, web_protocol.py). A refused
        # connection lingers to deliver its 431: closed now, a reset could destroy it.
        if self._limit.refused or getattr(self._handler, "_request_in_progress", False):
            return Phase.ANSWER
        return Phase.HEAD if self._limit.reading() else Phase.IDLE

    def evict(self) -> None:
        if self._transport is not None:
            # abort(), not close(): a TLS close waits for the client's close_notify.
            self._transport.abort()
        elif self.task is not None:
            self.task.cancel()  # its handshake: the slot is given back when it ends

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a stream socket's, plain or TLS
        self._transport = transport
        self._limit.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._limit.data_received(data)

    def eof_received(self) -> bool | None:
        return self._limit.eof_received()

    def pause_writing(self) -> None:
        self._limit.pause_writing()

    def resume_writing(self) -> None:
        self._limit.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._pool.release(self)
        self._limit.connection_lost(exc)
