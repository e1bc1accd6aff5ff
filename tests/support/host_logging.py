"""A service's logging set up for one test of the smoke test inside it, and put back after: the
loggers, handlers and queue listeners the test made, the root logger, logging.disable."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import logging.handlers
import os
import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

from exporter.checks.canaries import CanaryLedger
from exporter.inside.check import HostLoggingCheck
from exporter.verdict import CheckResult, RunInfo, Status
from tests.wait import DEADLINE

TOP = "host_test"  # the service's own top logger: every logger a test makes is under it
LOGGER = f"{TOP}.smoke_test"  # the logger the canary goes through
KEY = b"host-logging-test-key-32-bytes!!"
INSTANCE = "host-1"
HandlerT = TypeVar("HandlerT", bound=logging.Handler)


class Closed(io.StringIO):
    """A stream that fails every write, as a closed file does."""

    def write(self, text: str) -> int:
        raise ValueError("I/O operation on closed file.")


class Raising(logging.Handler):
    """Raises past handleError, as a handler with its own emit may; its error quotes the
    record, which the check must not repeat."""

    def emit(self, record: logging.LogRecord) -> None:
        raise RuntimeError(f"a secret the record held: {record.getMessage()}")


class Blocking(logging.Handler):
    """A handler whose write waits until ``gate`` is set (closing it sets it)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.entered.set()
        self.gate.wait(DEADLINE)

    def close(self) -> None:
        self.gate.set()
        super().close()


def sending() -> bool:
    """Whether a canary's send thread is still running."""
    return any(thread.name == "smoke-test-canary" for thread in threading.enumerate())


def to_devnull(handler: logging.StreamHandler[Any]) -> None:
    """Point the handler's file at /dev/null: the line a full device would not take is then
    flushed when it closes, instead of failing again as the test ends."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, handler.stream.fileno())
    os.close(null)


class Host:
    """The service under test: its loggers and handlers, and the smoke test's logging check
    on ``LOGGER`` with its own canary ledger."""

    def __init__(self) -> None:
        self.canaries = CanaryLedger(INSTANCE, KEY)
        self.check = HostLoggingCheck(LOGGER, self.canaries)
        self.runs = 0
        self._handlers: list[logging.Handler] = []
        self._listeners: list[logging.handlers.QueueListener] = []

    def handler(self, handler: HandlerT, level: int = logging.NOTSET) -> HandlerT:
        """``handler``, closed when the test ends."""
        handler.setLevel(level)
        self._handlers.append(handler)
        return handler

    def logger(
        self,
        *handlers: logging.Handler,
        name: str = LOGGER,
        level: int = logging.INFO,
        propagate: bool = False,
    ) -> logging.Logger:
        """The logger ``name`` with these handlers; it does not propagate unless told to, so
        that the root logger (pytest's handlers are on it) plays no part."""
        logger = logging.getLogger(name)
        assert name == TOP or name.startswith(f"{TOP}."), name
        logger.setLevel(level)
        logger.propagate = propagate
        for handler in handlers:
            logger.addHandler(self.handler(handler, handler.level))
        return logger

    def listener(
        self,
        on: queue.Queue[Any],
        *handlers: logging.Handler,
        respect_handler_level: bool = False,
    ) -> logging.handlers.QueueListener:
        """A started QueueListener reading ``on`` into ``handlers``; stopped when the test ends."""
        for handler in handlers:
            self.handler(handler, handler.level)
        listener = logging.handlers.QueueListener(
            on, *handlers, respect_handler_level=respect_handler_level
        )
        listener.start()
        self._listeners.append(listener)
        return listener

    async def run(self, seconds: float = DEADLINE) -> CheckResult:
        """One run of the check, its deadline (the check's timeout) ``seconds`` from now."""
        self.runs += 1
        loop = asyncio.get_running_loop()
        info = RunInfo(f"run-{self.runs}", "http", loop.time() + seconds, seconds)
        return await self.check(info)

    @contextlib.contextmanager
    def root_handlers(self, *handlers: logging.Handler) -> Iterator[logging.Logger]:
        """The root logger with only ``handlers`` inside the block; pytest's own handlers on it
        are put back as the block ends, inside the test (pytest takes them off after it)."""
        root = logging.getLogger()
        saved = list(root.handlers)
        root.handlers = [self.handler(handler, handler.level) for handler in handlers]
        try:
            yield root
        finally:
            root.handlers = saved

    def close(self) -> None:
        for listener in self._listeners:
            if getattr(listener, "_thread", None) is not None:
                listener.stop()
        for handler in self._handlers:
            handler.close()


def verdict(result: CheckResult) -> dict[str, Any]:
    """Everything a result says but the measured seconds, to compare with one ``==``."""
    component = result.component
    return {
        "status": result.status.value,
        "reason": None if result.reason is None else result.reason.value,
        "error": result.error,
        "component": None if component is None else (component.kind, component.id),
        "detail": dict(result.detail),
        "parts": {name: (part.status.value, part.error) for name, part in result.parts.items()},
    }


def passed(handlers: dict[str, str], logger: str = LOGGER) -> dict[str, Any]:
    """The verdict of a run every handler in ``handlers`` confirmed (the others refused)."""
    return {
        "status": Status.OK.value,
        "reason": None,
        "error": None,
        "component": None,
        "detail": {"logger": logger, "handlers": handlers},
        "parts": {name: ("ok", None) for name, state in handlers.items() if state == "ok"},
    }


def failed(
    reason: str, error: str, handlers: dict[str, str], at: str | None, logger: str = LOGGER
) -> dict[str, Any]:
    """The verdict of a failed run: ``at`` the failed handler, or None when a logger failed
    (``logger``: the one that dropped the canary)."""
    detail: dict[str, Any] = {"logger": LOGGER, "handlers": handlers}
    if at is not None:
        detail["failed_handler"] = at
    parts: dict[str, tuple[str, str | None]] = {
        name: ("ok", None) for name, state in handlers.items() if state == "ok"
    }
    parts.update({name: ("fail", error) for name, state in handlers.items() if state == "fail"})
    return {
        "status": Status.FAIL.value,
        "reason": reason,
        "error": error,
        "component": ("logger", logger) if at is None else ("handler", at),
        "detail": detail,
        "parts": parts,
    }


@contextlib.contextmanager
def host_logging() -> Iterator[Host]:
    """A Host, and afterwards logging as it was: the root logger's level and handlers, every
    logger's ``disabled`` (dictConfig sets it), logging.disable and raiseExceptions; the
    loggers under ``TOP`` are removed, the test's handlers closed and its listeners stopped."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    manager = logging.Logger.manager
    disabled = {
        name: logger.disabled
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    raise_exceptions = logging.raiseExceptions
    host = Host()
    try:
        yield host
    finally:
        host.close()
        logging.disable(logging.NOTSET)
        logging.raiseExceptions = raise_exceptions
        for name, logger in list(manager.loggerDict.items()):
            if name == TOP or name.startswith(f"{TOP}."):
                del manager.loggerDict[name]
            elif isinstance(logger, logging.Logger):
                logger.disabled = disabled.get(name, False)
        # Only what the test added comes off: pytest puts its own handlers on and off the
        # root logger around each phase of the test.
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)  # and clears every logger's cache of enabled levels
