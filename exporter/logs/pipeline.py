"""The logging pipeline: JSON lines fanned out to one bounded queue and thread per sink."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from exporter.config import LogLevel
from exporter.logs.access_log import (
    ACCESS_LOGGER,
    BUDGETED,
    SERVER_LOGGER,
    CompactBadRequests,
    RateLimit,
    RoutineAnswers,
)
from exporter.logs.formatter import JsonLineFormatter
from exporter.logs.listener import SinkThread
from exporter.sinks import Delivery, Line, Sink, SinkOutcome

CANARY_LOGGER = "exporter.canary"
# Lines a sink's queue holds. An access line is at most 1 800 bytes (every value a client
# chooses is cut: exporter.logs.cut), so a queue full of them holds 18 MB at most, the same
# strings in every sink's queue.
QUEUE_SIZE = 10_000
# The default cap on access-log records: generous for a probe target.
ACCESS_PER_SECOND = 1000.0
# The byte budget of the lines any client can make (the access log and rejected requests),
# charged at the size of each line: 200 kB a second, bursts of 40 kB. No flood writes more
# than 240 kB to a sink in any second, and the rest of the log has room under 250 kB.
ACCESS_BYTES_PER_SECOND = 200_000.0
ACCESS_BURST_BYTES = 40_000.0


class _Target:
    """One sink as the fan-out sees it: its thread and its dropped-records counters."""

    def __init__(self, thread: SinkThread) -> None:
        self.thread = thread
        self.sink = thread.sink
        self.dropped = thread.sink.series.dropped.labels(thread.sink.name, "queue_full")
        self.rate_limited = thread.sink.series.dropped.labels(thread.sink.name, "rate_limit")


@dataclass(frozen=True)
class Retired:
    """Sinks a swap took out of use, still draining their queues."""

    targets: Sequence[_Target]


class FanoutHandler(logging.Handler):
    """Formats each record once and copies the line to every sink's queue.

    Only the line and its canary marker are queued, not the record, so a full queue of a
    stuck sink stays small. A full queue means its sink is stuck or slow: the line is dropped
    and counted, and a dropped canary fails at once rather than waiting for the timeout.
    A line any client can make is charged its bytes (and a newline) to ``budget`` first.
    """

    def __init__(self, targets: Sequence[_Target], budget: RateLimit) -> None:
        super().__init__()
        self.targets = tuple(targets)  # replaced whole by a reload, read once per record
        self.budget = budget

    def emit(self, record: logging.LogRecord) -> None:
        try:
            delivery = getattr(record, "_delivery", None)
            line = Line(self.format(record), delivery, record.levelno, record.created)
        except Exception:  # noqa: BLE001 - logging's own convention for a broken record
            self.handleError(record)
            return
        if getattr(record, BUDGETED, False) and not self.budget.admit(len(line.text) + 1):
            return  # counted for every sink by the budget (ASCII: a character is a byte)
        for target in self.targets:
            if not target.thread.offer(line):
                target.dropped.inc()
                if line.delivery is not None:
                    error = f"queue full ({target.thread.maxsize} records waiting): sink is stuck"
                    line.delivery.give_up(target.sink, error)


class LogPipeline:
    """Root logger -> FanoutHandler (formats once) -> per-sink queue -> sink thread."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        level: LogLevel,
        queue_size: int = QUEUE_SIZE,
        *,
        access_log: bool = True,
        access_per_second: float = ACCESS_PER_SECOND,
        access_probes: bool = False,
        access_bytes_per_second: float = ACCESS_BYTES_PER_SECOND,
        access_burst_bytes: float = ACCESS_BURST_BYTES,
    ) -> None:
        self.level = level
        self._queue_size = queue_size
        self._access_log = access_log
        budget = RateLimit(access_bytes_per_second, self._dropped_before_fanout, access_burst_bytes)
        self._handler = FanoutHandler([self._target(sink) for sink in sinks], budget)
        self._handler.setFormatter(JsonLineFormatter())
        self._access_limit = RateLimit(access_per_second, self._dropped_before_fanout)
        # Without --log.access-probes, successful scrapes and probes are left out.
        self._access_filters: tuple[logging.Filter, ...] = (self._access_limit,)
        if not access_probes:
            self._access_filters = (RoutineAnswers(), self._access_limit)
        self._bad_requests = CompactBadRequests(self._dropped_before_fanout)
        self._saved_level = logging.NOTSET
        self._started = False

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """The sinks every line goes to now."""
        return tuple(target.sink for target in self._handler.targets)

    def waiting(self) -> dict[str, int]:
        """Lines queued for each sink in use and not yet taken by it, by sink name."""
        return {target.sink.name: target.thread.waiting for target in self._handler.targets}

    def _target(self, sink: Sink) -> _Target:
        return _Target(SinkThread(sink, self._queue_size))

    def _dropped_before_fanout(self) -> None:
        """A record dropped before fan-out is lost to every sink."""
        for target in self._handler.targets:
            target.rate_limited.inc()

    def start(self) -> None:
        """Start the sink threads and route every logger of the process through them."""
        for target in self._handler.targets:
            target.thread.start()
        self._started = True
        root = logging.getLogger()
        self._saved_level = root.level
        root.setLevel(self.level.number)
        root.addHandler(self._handler)
        # The canary is written whatever --log.level says: a filtered canary proves nothing.
        logging.getLogger(CANARY_LOGGER).setLevel(logging.INFO)
        access = logging.getLogger(ACCESS_LOGGER)
        for access_filter in self._access_filters:
            access.addFilter(access_filter)
        # Off: aiohttp asks the access logger whether it is enabled and skips the whole call.
        access.setLevel(logging.NOTSET if self._access_log else logging.CRITICAL + 1)
        logging.getLogger(SERVER_LOGGER).addFilter(self._bad_requests)

    def stop(self, timeout: float) -> list[str]:
        """Detach, then drain every queue to its sink; return the sinks not drained in time."""
        root = logging.getLogger()
        root.removeHandler(self._handler)
        root.setLevel(self._saved_level)
        for access_filter in self._access_filters:
            logging.getLogger(ACCESS_LOGGER).removeFilter(access_filter)
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET)
        logging.getLogger(SERVER_LOGGER).removeFilter(self._bad_requests)
        return self._drain(self._handler.targets, timeout)

    def swap(self, sinks: Sequence[Sink]) -> Retired:
        """Send lines to ``sinks`` from now on. A sink object already in use keeps its queue
        and thread, so it loses no line; a new one starts. The series of a sink name no longer
        configured are removed at once. Returns the sinks no longer in use, for ``retire``."""
        running = {id(target.sink): target for target in self._handler.targets}
        targets = [running.get(id(sink)) or self._target(sink) for sink in sinks]
        if self._started:
            for target in targets:
                if id(target.sink) not in running:
                    target.thread.start()
        kept = {id(target.sink) for target in targets}
        removed = [target for target in self._handler.targets if id(target.sink) not in kept]
        self._handler.targets = tuple(targets)  # one assignment: a record sees old or new
        # The series of names no longer in use leave the registry in the same step, so a
        # scrape never sees the new checks beside the old sinks. A draining sink still counts
        # on its own children, which are no longer exposed.
        names = {sink.name for sink in sinks}
        for target in removed:
            if target.sink.name not in names:
                target.sink.remove_series()
        return Retired(removed)

    def retire(self, retired: Retired, timeout: float) -> list[str]:
        """Drain and close swapped-out sinks. Returns the sinks not drained within
        ``timeout``."""
        return self._drain(retired.targets, timeout)

    @staticmethod
    def _drain(targets: Sequence[_Target], timeout: float) -> list[str]:
        """Stop the threads of ``targets`` after their queued lines; close the sinks that
        finished."""
        deadline = time.monotonic() + timeout
        # Every sink drains at once, so a stuck one does not eat the others' time.
        for target in targets:
            target.thread.ask_to_stop()
        stuck = []
        for target in targets:
            if target.thread.join_by(deadline):
                target.sink.close()
            else:
                stuck.append(target.sink.name)
        return stuck

    async def deliver_canary(
        self,
        message: str,
        seconds: float,
        *,
        timeout_text: str | None = None,
        **fields: str | int,
    ) -> dict[str, SinkOutcome]:
        """Log the canary at INFO through the real pipeline; each sink's outcome, by name.

        A sink silent for ``seconds`` fails with "no confirmation within ``timeout_text``"."""
        delivery = Delivery(asyncio.get_running_loop(), self.sinks)
        logging.getLogger(CANARY_LOGGER).info(message, extra={**fields, "_delivery": delivery})
        return await delivery.wait(seconds, timeout_text or f"{seconds:g}s")
