"""A record followed through a host's loggers and handlers, as Python's logging would pass it,
each handler's write observed: whether it took the record, raised, or wrote its file."""

from __future__ import annotations

import enum
import logging
import logging.handlers
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from exporter.inside.targets import FileMark, describe, mark, read_back


class HostReason(enum.Enum):
    """Why the smoke test inside a service failed its logging check."""

    FILTERED = "filtered"  # a logger's or handler's level or filter dropped the canary
    NO_HANDLER = "no_handler"  # no handler took it: Python's last resort would have it
    HANDLER_ERROR = "handler_error"  # a handler raised writing it (handleError was called)
    VERIFY = "verify"  # a handler's file was written, but not with the canary
    TIMEOUT = "timeout"  # a queue's listener did not deliver it in time


class State(enum.Enum):
    """What one handler did with the canary: the value beside its name in the answer."""

    OK = "ok"
    FAIL = "fail"
    FILTERED = "filtered"  # its level or a filter dropped the record
    DISCARDED = "discarded"  # a NullHandler: it takes records to write none


@dataclass(frozen=True)
class Handled:
    """One handler's part in the canary's path."""

    name: str  # exporter.inside.targets.describe
    state: State
    reason: HostReason | None = None
    error: str | None = None
    seconds: float | None = None


# Records a QueueHandler put on a queue, handed on: (the handler, its name, the queued record).
Enqueued = Callable[[logging.Handler, str, logging.LogRecord], None]


@dataclass(frozen=True)
class Dropped:
    """A logger that dropped the canary before any handler saw it."""

    logger: str
    error: str


def dropped_by_logger(logger: logging.Logger, level: int) -> Dropped | None:
    """Why ``logger`` would not make a record at ``level`` (logger.info returns at once)."""
    if logger.manager.disable >= level:
        disabled = logging.getLevelName(logger.manager.disable)
        return Dropped(logger.name, f"logging.disable({disabled}) drops every record at it")
    if not logger.isEnabledFor(level):
        if logger.disabled:
            text = "is disabled (logging.config's disable_existing_loggers)"
            return Dropped(logger.name, f"logger {logger.name} {text}")
        setter = _level_setter(logger)
        effective = logging.getLevelName(logger.getEffectiveLevel())
        return Dropped(
            setter.name,
            f"logger {logger.name} drops {logging.getLevelName(level)}: its level is "
            f"{effective}" + ("" if setter is logger else f", set on {setter.name}"),
        )
    return None


def _level_setter(logger: logging.Logger) -> logging.Logger:
    """The logger whose level ``logger`` takes: itself, or its first parent with one."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.level:
            return current
        current = current.parent
    return logger


def handlers_of(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers Logger.callHandlers offers a record: the logger's, then its parents' while
    ``propagate`` is true."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        handlers.extend(current.handlers)
        current = current.parent if current.propagate else None
    return handlers


def names(handlers: Iterable[logging.Handler], prefix: str = "") -> list[str]:
    """Each handler's name in the answer; a second one of the same name gets ``#2``."""
    seen: dict[str, int] = {}
    named = []
    for handler in handlers:
        name = prefix + describe(handler)
        seen[name] = seen.get(name, 0) + 1
        named.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return named


def offer(
    handler: logging.Handler,
    name: str,
    record: logging.LogRecord,
    *,
    by_level: bool = True,
    enqueued: Enqueued | None = None,
) -> Handled:
    """Offer ``record`` to ``handler`` as logging does (its level, its filters, its write
    under its lock) and say how it went. The handler's own ``format`` and ``handleError`` are
    watched for this one call, under the handler's lock, so no other record is mistaken for
    the canary; both still do what they always do."""
    if isinstance(handler, logging.NullHandler):
        return Handled(name, State.DISCARDED)
    if by_level and record.levelno < handler.level:
        level = logging.getLevelName(handler.level)
        text = f"{name} drops {record.levelname}: its level is {level}"
        return Handled(name, State.FILTERED, HostReason.FILTERED, text)
    before = mark(handler)
    watch = _Watch(handler, record, enqueued, name)
    t0 = time.perf_counter()
    handler.acquire()
    try:
        with watch:
            try:
                taken = handler.handle(record)
            except Exception as error:  # noqa: BLE001 - a handler that raises past handleError
                watch.errors.append(error)
                taken = True
    finally:
        handler.release()
    seconds = time.perf_counter() - t0
    if not taken:
        text = f"{name} drops the record: a filter refused it"
        return Handled(name, State.FILTERED, HostReason.FILTERED, text, seconds)
    return _written(handler, name, record, watch=watch, before=before, seconds=seconds)


def _written(
    handler: logging.Handler,
    name: str,
    record: logging.LogRecord,
    *,
    watch: _Watch,
    before: FileMark | None,
    seconds: float,
) -> Handled:
    """How a handler that took the record did: raised, holds it unwritten, or wrote it (a
    regular file: the line read back)."""
    if watch.errors:
        text = f"{name} failed to write it: {_error_text(watch.errors[0])}"
        return Handled(name, State.FAIL, HostReason.HANDLER_ERROR, text, seconds)
    if isinstance(handler, logging.handlers.BufferingHandler) and _held(handler, record):
        text = f"{name} holds it in its buffer, written only when the buffer is flushed"
        return Handled(name, State.FAIL, HostReason.TIMEOUT, text, seconds)
    if before is not None:
        # One that formatted nothing is read back for the bare message: a closed FileHandler
        # in mode "w" takes every record and writes none (https://bugs.python.org/issue42378).
        line = record.getMessage() if watch.line is None else watch.line
        problem = read_back(handler, before, line)
        if problem is not None:
            return Handled(name, State.FAIL, HostReason.VERIFY, f"{name}: {problem}", seconds)
    return Handled(name, State.OK, seconds=seconds)


def _held(handler: logging.handlers.BufferingHandler, record: logging.LogRecord) -> bool:
    """Whether the record waits in the handler's buffer (a MemoryHandler below its capacity
    and flush level): nothing has written it, so nothing confirms it."""
    handler.acquire()
    try:
        return any(held is record for held in handler.buffer)
    finally:
        handler.release()


def _error_text(error: BaseException | None) -> str:
    """The exception's type, and an OSError's system text (a fixed set): never its own text,
    which may quote a record or a secret."""
    if error is None:
        return "handleError was called"
    kind = type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        return f"{kind}: {error.strerror}"
    return kind


class _Watch:
    """For one call of a handler, under its lock: the text its ``format`` made and what its
    ``handleError`` was called for; a QueueHandler's queued record too."""

    def __init__(
        self,
        handler: logging.Handler,
        record: logging.LogRecord,
        enqueued: Enqueued | None,
        name: str,
    ) -> None:
        self.handler = handler
        self.line: str | None = None
        self.errors: list[BaseException | None] = []
        self._enqueued = enqueued
        self._name = name
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> None:
        handler = self.handler
        format_, handle_error = handler.format, handler.handleError

        def watched_format(record: logging.LogRecord) -> str:
            self.line = format_(record)
            return self.line

        def watched_error(record: logging.LogRecord) -> None:
            self.errors.append(sys.exc_info()[1])
            handle_error(record)

        patches: dict[str, Any] = {"format": watched_format, "handleError": watched_error}
        if self._enqueued is not None and isinstance(handler, logging.handlers.QueueHandler):
            enqueue, told = handler.enqueue, self._enqueued

            def watched_enqueue(record: logging.LogRecord) -> None:
                told(handler, self._name, record)  # before the listener can take it
                enqueue(record)

            patches["enqueue"] = watched_enqueue
        for attribute, patch in patches.items():
            if attribute in vars(handler):
                self._saved[attribute] = vars(handler)[attribute]
            setattr(handler, attribute, patch)
        self._patched = tuple(patches)

    def __exit__(self, *exc: object) -> None:
        for attribute in self._patched:
            if attribute in self._saved:
                setattr(self.handler, attribute, self._saved[attribute])
            else:
                delattr(self.handler, attribute)
