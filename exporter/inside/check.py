"""The ``logging`` check inside a service: the canary sent through the service's own logger and
followed through its handlers, with no handler of our own."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
from dataclasses import replace

from exporter.checks.base import CheckDeps, CheckType
from exporter.checks.canaries import CanaryLedger
from exporter.checks.logging import CANARY_MESSAGE, LoggingOptions
from exporter.inside.delivery import delivered
from exporter.inside.follow import (
    Dropped,
    Handled,
    HostReason,
    State,
    dropped_by_logger,
)
from exporter.inside.queues import Listeners, canary_key
from exporter.inside.trail import Trail, start
from exporter.verdict import Check, CheckResult, Component, Part, RunInfo, Status

# The seed's line is logged at INFO: the level a service's own routine lines use.
CANARY_LEVEL = logging.INFO


def check_type(
    logger: str, built: list[HostLoggingCheck] | None = None
) -> CheckType[LoggingOptions]:
    """``type: logging`` inside a service: the canary goes through the logger named ``logger``;
    each check built is added to ``built``, to be drained at shutdown."""

    def build(name: str, options: LoggingOptions, deps: CheckDeps) -> Check:
        check = HostLoggingCheck(logger, deps.canaries)
        if built is not None:
            built.append(check)
        return check

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


class HostLoggingCheck:
    """Every handler that took this run's canary wrote it: streams by their write, regular
    files by reading the line back, queues by their listener's handlers."""

    def __init__(self, logger: str, canaries: CanaryLedger) -> None:
        self._logger = logger
        self._canaries = canaries
        self._busy: Trail | None = None  # the trail of a write that has not returned
        self._sending: asyncio.Future[None] | None = None  # the send thread's end
        self._listeners = Listeners()

    async def drained(self, seconds: float) -> None:
        """Wait, at most ``seconds``, for a send still writing: at shutdown, before the service
        closes the handlers it writes to."""
        sending = self._sending
        here = sending is not None and sending.get_loop() is asyncio.get_running_loop()
        if sending is not None and here and not sending.done():
            await asyncio.wait({sending}, timeout=seconds)

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
        trail = self._busy = Trail()
        loop = asyncio.get_running_loop()
        wait = max(0.0, run.own_deadline - loop.time())
        key = canary_key(record)
        written = self._sending = start(logger, record, trail, key, self._listeners)
        # Timed out, or the run cut off: the listeners it tapped are let go once it returns.
        try:
            await asyncio.wait_for(asyncio.shield(written), wait)
        except asyncio.CancelledError:
            written.add_done_callback(lambda _: trail.forget(key))
            raise
        except TimeoutError:
            written.add_done_callback(lambda _: trail.forget(key))
            what = f"did not return within {run.timeout_seconds:g}s"
            return _stuck(self._logger, list(trail.handled), trail.current, what)
        finally:
            if trail.done:
                self._busy = None
        try:
            await delivered(trail, run.own_deadline, run.timeout_seconds)
        finally:
            trail.forget(key)
        return _verdict(self._logger, trail)


def _verdict(logger: str, trail: Trail) -> CheckResult:
    """The check's result from how far the canary got."""
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
    """The check's own fields: the logger, and what each handler did."""
    return {"logger": logger, "handlers": {entry.name: entry.state.value for entry in handled}}


def _parts(handled: list[Handled]) -> dict[str, Part]:
    """The handlers that took the record, for the health+json answer."""
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
    """A failed result, its component the handler at fault, or the logger."""
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
    """A logger dropped the canary before any handler saw it."""
    result = _failed(logger, [], HostReason.FILTERED, dropped.error, None)
    return replace(result, component=Component("logger", dropped.logger))
