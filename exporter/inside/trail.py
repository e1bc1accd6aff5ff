"""One canary's way through a service's logger: Logger.handle and Logger.callHandlers as
logging runs them, each handler watched, on a thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
import threading
from dataclasses import dataclass, field

from exporter.inside.follow import Dropped, Handled, handlers_of, names, offer
from exporter.inside.queues import Delivered, Key, Listeners, expect, forget, in_another_process


@dataclass(frozen=True)
class Wait:
    """A listener that may deliver the canary a QueueHandler (``index`` in ``handled``) queued."""

    index: int
    listener: logging.handlers.QueueListener
    delivered: Delivered


@dataclass
class Trail:
    """How far one canary got: the logger that dropped it, or each handler's part, the
    listeners that may deliver it, and the queues no listener here reads."""

    dropped: Dropped | None = None
    handled: list[Handled] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    unread: set[int] = field(default_factory=set)  # in-process queues with no listener
    current: str | None = None  # the handler being offered the canary now
    done: bool = False
    followed: set[str] = field(default_factory=set)  # the queues whose listener delivered it

    def forget(self, key: Key) -> None:
        """Take the taps off the listeners this canary was awaited through."""
        for wait in self.waits:
            forget(wait.listener, key)


def start(
    logger: logging.Logger,
    record: logging.LogRecord,
    trail: Trail,
    key: Key,
    listeners: Listeners,
) -> asyncio.Future[None]:
    """Send ``record`` on a daemon thread of its own (a handler may block, and neither the
    event loop nor the service's own executor may wait for it); the future is done when the
    send returns. The check starts no second one while one has not returned."""
    loop = asyncio.get_running_loop()
    sent: asyncio.Future[None] = loop.create_future()

    def done() -> None:
        if not sent.done():
            sent.set_result(None)

    def send() -> None:
        try:
            _send(logger, record, trail, key, listeners)
        finally:
            # A service that stopped meanwhile has closed its loop: nobody waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(done)

    threading.Thread(target=send, name="smoke-test-canary", daemon=True).start()
    return sent


def _send(
    logger: logging.Logger,
    record: logging.LogRecord,
    trail: Trail,
    key: Key,
    listeners: Listeners,
) -> None:
    try:
        kept = logger.filter(record)
        if not kept:
            text = f"logger {logger.name} drops the record: a filter refused it"
            trail.dropped = Dropped(logger.name, text)
            return
        if isinstance(kept, logging.LogRecord):  # Python 3.12: a filter may replace it
            record = kept

        def enqueued(handler: logging.Handler, name: str, queued: logging.LogRecord) -> None:
            assert isinstance(handler, logging.handlers.QueueHandler)
            found = listeners.of(handler)
            if not found and not in_another_process(handler):
                trail.unread.add(len(trail.handled))
            for listener in found:
                delivered = expect(listener, key, name)
                trail.waits.append(Wait(len(trail.handled), listener, delivered))

        handlers = handlers_of(logger)
        for handler, name in zip(handlers, names(handlers), strict=True):
            trail.current = name
            trail.handled.append(offer(handler, name, record, enqueued=enqueued))
    finally:
        trail.current = None
        trail.done = True
