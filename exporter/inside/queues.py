"""A QueueHandler's canary followed to the QueueListener that reads its queue, and through that
listener's handlers on the listener's own thread."""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import logging.handlers
import threading
import weakref
from collections.abc import Callable
from typing import Any

from exporter.inside.follow import Handled, names, offer

Key = tuple[object, object]  # the canary's run_id and seq, which a queued copy keeps
Delivered = concurrent.futures.Future[list[Handled]]

# Guards putting a tap on a listener and taking it off; the listener's thread only reads it.
_LOCK = threading.Lock()


def canary_key(record: logging.LogRecord) -> Key:
    """What tells the canary's queued copy (QueueHandler.prepare copies the record)."""
    return getattr(record, "run_id", None), getattr(record, "seq", None)


def listeners_of(handler: logging.handlers.QueueHandler) -> list[logging.handlers.QueueListener]:
    """The listeners that read ``handler``'s queue: the one logging.config made for it
    (Python 3.12 sets ``handler.listener``), else those in this process that hold the queue."""
    made = getattr(handler, "listener", None)
    if isinstance(made, logging.handlers.QueueListener):
        return [made]
    queue = handler.queue
    holders = gc.get_referrers(queue)
    # A listener holds the queue itself, or through its __dict__ once CPython has made one
    # for it (vars(listener) does, so does setting an attribute it did not have: expect's tap).
    dicts = [holder for holder in holders if isinstance(holder, dict)]
    found: list[logging.handlers.QueueListener] = []
    for holder in [*holders, *(gc.get_referrers(*dicts) if dicts else [])]:
        listens = isinstance(holder, logging.handlers.QueueListener) and holder.queue is queue
        if listens and holder not in found:
            found.append(holder)
    return found


class Listeners:
    """The listeners found for each QueueHandler, kept while one of them runs: the search
    scans every object in the process, under the handler's lock, so it is made again only
    when none of those found runs (a listener stopped and replaced)."""

    def __init__(self) -> None:
        self._found: weakref.WeakKeyDictionary[
            logging.Handler, list[weakref.ref[logging.handlers.QueueListener]]
        ] = weakref.WeakKeyDictionary()

    def of(self, handler: logging.handlers.QueueHandler) -> list[logging.handlers.QueueListener]:
        """``handler``'s listeners: those found before while one of them runs, else found now."""
        kept = [ref() for ref in self._found.get(handler, [])]
        alive = [listener for listener in kept if listener is not None]
        if any(running(listener) for listener in alive):
            return alive
        found = listeners_of(handler)
        self._found[handler] = [weakref.ref(listener) for listener in found]
        return found


def in_another_process(handler: logging.handlers.QueueHandler) -> bool:
    """Whether the handler's queue is a multiprocessing queue, which another process may read:
    the canary is then confirmed by its enqueue alone."""
    return type(handler.queue).__module__.startswith("multiprocessing")


def running(listener: logging.handlers.QueueListener) -> bool:
    """Whether the listener's thread is alive (its ``_thread``: the stdlib has no public
    accessor; None once stopped)."""
    thread = getattr(listener, "_thread", None)
    return isinstance(thread, threading.Thread) and thread.is_alive()


class _Tap:
    """Stands in for a listener's ``handle`` while canaries are on its queue: a canary is
    followed through the listener's handlers; every other record is handled as before."""

    def __init__(self, listener: logging.handlers.QueueListener) -> None:
        self.listener = listener
        self.own: Any = vars(listener).get("handle")  # an instance's own override, if any
        # Each canary's followers, first queued first: two QueueHandlers on one queue each put
        # a copy of it there, and each copy is followed for the handler that queued it.
        self.pending: dict[Key, list[Callable[[logging.LogRecord], None]]] = {}

    def __call__(self, record: logging.LogRecord) -> None:
        awaited = self.pending.get(canary_key(record)) if self.pending else None
        follow = awaited.pop(0) if awaited else None  # only this thread takes from the list
        if follow is not None:
            follow(record)
        elif self.own is not None:
            self.own(record)
        else:
            type(self.listener).handle(self.listener, record)


def expect(listener: logging.handlers.QueueListener, key: Key, queue_name: str) -> Delivered:
    """Tap ``listener`` until the canary ``key`` comes through it: the future then holds what
    each of its handlers did. Call ``forget`` when done waiting, however it ended."""
    delivered: Delivered = concurrent.futures.Future()

    def follow(record: logging.LogRecord) -> None:
        record = listener.prepare(record)
        handlers = list(listener.handlers)
        prefix = f"{queue_name} > "
        handled = [
            offer(handler, name, record, by_level=listener.respect_handler_level)
            for handler, name in zip(handlers, names(handlers, prefix), strict=True)
        ]
        if delivered.set_running_or_notify_cancel():
            delivered.set_result(handled)

    with _LOCK:
        tap = vars(listener).get("handle")
        if not isinstance(tap, _Tap):
            tap = _Tap(listener)
            listener.handle = tap  # type: ignore[method-assign]
        tap.pending.setdefault(key, []).append(follow)
    return delivered


def forget(listener: logging.handlers.QueueListener, key: Key) -> None:
    """Stop waiting for ``key`` (every copy of it); the listener gets its own ``handle`` back
    once no canary is awaited through it."""
    with _LOCK:
        tap = vars(listener).get("handle")
        if not isinstance(tap, _Tap):
            return
        tap.pending.pop(key, None)
        if tap.pending:
            return
        if tap.own is not None:
            listener.handle = tap.own  # type: ignore[method-assign]
        else:
            del listener.handle
