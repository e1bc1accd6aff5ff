"""The ``logging`` check inside a service: the canary sent through the service's own logger and
followed through its handlers, with no handler of our own."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
from dataclasses import dataclass, field, replace

from exporter.checks.base import CheckDeps, CheckType
from exporter.checks.canaries import CanaryLedger
from exporter.checks.logging import CANARY_MESSAGE, LoggingOptions
from exporter.inside.follow import (
    Dropped,
    Handled,
    HostReason,
    State,
    dropped_by_logger,
    handlers_of,
    names,
    offer,
)
from exporter.inside.queues import Delivered, Key, canary_key, expect, forget, listeners_of, running
from exporter.verdict import Check, CheckResult, Component, Part, RunInfo, Status

# The seed's line is logged at INFO: the level a service's own routine lines use.
CANARY_LEVEL = logging.INFO


def check_type(logger: str) -> CheckType[LoggingOptions]:
    """``type: logging`` inside a service: the canary goes through the logger named ``logger``."""

    def build(name: str, options: LoggingOptions, deps: CheckDeps) -> Check:
        return HostLoggingCheck(logger, deps.canaries)

    return CheckType(
        LoggingOptions,
        build,
        HostReason,
        "this run's canary taken and written by every handler of the service's own logger",
        {
            "logger": {"type": "string"},
            "handlers": {
                "type": "object",
                "additionalProperties": {"enum": [state.value for state in State]},
            },
            "failed_handler": {"type": "string"},
        },
    )


@dataclass
class _Trail:
    """How far one canary got: the logger that dropped it, or each handler's part, and the
    listeners still to deliver it."""

    dropped: Dropped | None = None
    handled: list[Handled] = field(default_factory=list)
    waits: list[tuple[int, logging.handlers.QueueListener, Delivered]] = field(default_factory=list)
    current: str | None = None  # the handler being offered the canary now
    done: bool = False
    followed: set[str] = field(default_factory=set)  # the queues whose listener delivered it


class HostLoggingCheck:
    """Every handler that took this run's canary wrote it: streams by their write, regular
    files by reading the line back, queues by their listener's handlers."""

    def __init__(self, logger: str, canaries: CanaryLedger) -> None:
        self._logger = logger
        self._canaries = canaries
        self._busy: _Trail | None = None  # the trail of a write that has not returned

    async def __call__(self, run: RunInfo) -> CheckResult:
        logger = logging.getLogger(self._logger)
        dropped = dropped_by_logger(logger, CANARY_LEVEL)
        if dropped is not None:
            return _dropped(self._logger, dropped)
        if self._busy is not None and not self._busy.done:
            what = "has not returned from writing an earlier canary"
            return _stuck(self._logger, [], self._busy.current, what)
        canary = self._canaries.write(run.run_id)
        fn, lno, func, _ = logger.findCaller()
        extra = {
            "run_id": run.run_id,
            "trigger": run.trigger,
            "seq": canary.seq,
            "instance": canary.instance,
            "signature": canary.signature,
        }
        record = logger.makeRecord(
            logger.name, CANARY_LEVEL, fn, lno, CANARY_MESSAGE, (), None, func, extra
        )
        trail = self._busy = _Trail()
        loop = asyncio.get_running_loop()
        wait = max(0.0, run.own_deadline - loop.time())
        key = canary_key(record)
        written = loop.run_in_executor(None, _send, logger, record, trail, key)
        # Timed out, or the run cut off: the listeners it tapped are let go once it returns.
        try:
            await asyncio.wait_for(asyncio.shield(written), wait)
        except asyncio.CancelledError:
            written.add_done_callback(lambda _: _forget_all(trail, key))
            raise
        except TimeoutError:
            written.add_done_callback(lambda _: _forget_all(trail, key))
            what = f"did not return within {run.timeout_seconds:g}s"
            return _stuck(self._logger, list(trail.handled), trail.current, what)
        finally:
            if trail.done:
                self._busy = None
        try:
            await _delivered(trail, loop, run, key)
        finally:
            _forget_all(trail, key)
        return _verdict(self._logger, trail)


def _forget_all(trail: _Trail, key: Key) -> None:
    for _, listener, _ in trail.waits:
        forget(listener, key)


def _send(logger: logging.Logger, record: logging.LogRecord, trail: _Trail, key: Key) -> None:
    """Logger.handle and Logger.callHandlers, each handler watched (on a worker thread: a
    handler may block, and the event loop must not)."""
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
            for listener in listeners_of(handler):
                delivered = expect(listener, key, name)
                trail.waits.append((len(trail.handled), listener, delivered))

        handlers = handlers_of(logger)
        for handler, name in zip(handlers, names(handlers), strict=True):
            trail.current = name
            trail.handled.append(offer(handler, name, record, enqueued=enqueued))
    finally:
        trail.current = None
        trail.done = True


async def _delivered(
    trail: _Trail, loop: asyncio.AbstractEventLoop, run: RunInfo, key: Key
) -> None:
    """Wait for each listener that reads a queue the canary went on; put what its handlers
    did after the queue's own entry, or fail the queue's entry as timed out."""
    added: dict[int, list[Handled]] = {}
    for index, listener, delivered in trail.waits:
        entry = trail.handled[index]
        if entry.state is not State.OK:
            delivered.cancel()  # the queue refused it: nothing to wait for
            continue
        wait = max(0.0, run.own_deadline - loop.time())
        try:
            added[index] = await asyncio.wait_for(asyncio.wrap_future(delivered, loop=loop), wait)
            trail.followed.add(entry.name)
        except TimeoutError:
            why = "" if running(listener) else " (its thread is not running)"
            text = (
                f"{entry.name}: its QueueListener did not deliver the canary within "
                f"{run.timeout_seconds:g}s{why}"
            )
            trail.handled[index] = replace(
                entry, state=State.FAIL, reason=HostReason.TIMEOUT, error=text
            )
    for index in sorted(added, reverse=True):
        trail.handled[index + 1 : index + 1] = added[index]


def _verdict(logger: str, trail: _Trail) -> CheckResult:
    if trail.dropped is not None:
        return _dropped(logger, trail.dropped)
    handled = trail.handled
    for entry in handled:
        if entry.state is State.FAIL:
            assert entry.reason is not None
            return _failed(logger, handled, entry.reason, entry.error, entry.name)
    # A queue its listener delivered from wrote nothing itself: its listener's handlers did.
    if not any(e.state is State.OK and e.name not in trail.followed for e in handled):
        refused = [entry for entry in handled if entry.state is State.FILTERED]
        if refused:
            return _failed(logger, handled, HostReason.FILTERED, refused[0].error, refused[0].name)
        queues = [entry.name for entry in handled if entry.name in trail.followed]
        if queues:
            text = f"no handler of the QueueListener behind {queues[0]} writes the record"
            return _failed(logger, handled, HostReason.NO_HANDLER, text, queues[0])
        text = (
            f"no handler took the record: logger {logger} and its parents have "
            + ("only a NullHandler" if handled else "none")
            + ", so Python's last resort gets it (stderr, WARNING and above only)"
        )
        return _failed(logger, handled, HostReason.NO_HANDLER, text, None)
    return CheckResult(
        Status.OK, detail=_detail(logger, handled), parts=_parts(handled), measurement="delivery"
    )


def _detail(logger: str, handled: list[Handled]) -> dict[str, object]:
    return {"logger": logger, "handlers": {entry.name: entry.state.value for entry in handled}}


def _parts(handled: list[Handled]) -> dict[str, Part]:
    took = {State.OK: Status.OK, State.FAIL: Status.FAIL}  # the handlers that took the record
    return {e.name: Part(took[e.state], e.seconds, e.error) for e in handled if e.state in took}


def _stuck(logger: str, handled: list[Handled], stuck: str | None, what: str) -> CheckResult:
    """A timeout naming the handler whose write has not returned, listed as failed."""
    if stuck is None:  # no handler offered it yet: a logger's filter, or no thread to write
        return _failed(logger, handled, HostReason.TIMEOUT, f"logger {logger} {what}", None)
    text = f"{stuck} {what}"
    handled = [*handled, Handled(stuck, State.FAIL, HostReason.TIMEOUT, text)]
    return _failed(logger, handled, HostReason.TIMEOUT, text, stuck)


def _failed(
    logger: str, handled: list[Handled], reason: HostReason, error: str | None, handler: str | None
) -> CheckResult:
    detail = _detail(logger, handled)
    component = Component("logger", logger)
    if handler is not None:
        detail["failed_handler"] = handler
        component = Component("handler", handler)
    return CheckResult(
        Status.FAIL,
        reason=reason,
        error=error,
        component=component,
        detail=detail,
        parts=_parts(handled),
        measurement="delivery",
    )


def _dropped(logger: str, dropped: Dropped) -> CheckResult:
    result = _failed(logger, [], HostReason.FILTERED, dropped.error, None)
    return replace(result, component=Component("logger", dropped.logger))
