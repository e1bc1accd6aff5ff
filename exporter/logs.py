"""The logging pipeline: JSON lines fanned out to one bounded queue and thread per sink."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import time
from collections.abc import Sequence
from logging.handlers import QueueHandler, QueueListener
from pathlib import Path
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from exporter.access_log import ACCESS_LOGGER, SERVER_LOGGER, CompactBadRequests, RateLimit
from exporter.config import LogLevel
from exporter.metrics import Metrics
from exporter.sinks import FILE_FLAGS, FILE_MODE, Delivery, Line, Reason, Sink, SinkOutcome

CANARY_LOGGER = "exporter.canary"
QUEUE_SIZE = 10_000
BATCH_LINES = 512
# The default cap on access-log records: generous for a probe target, small enough that a flood
# cannot fill a disk (about 250 bytes a line: under 250 kB/s).
ACCESS_PER_SECOND = 1000.0


class JsonLineFormatter(JsonFormatter):
    """python-json-logger's formatter with the fields named as our lines name them."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,  # RFC 3339, UTC, from the record's creation time
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Put the timestamp first, where people and parsers look for it."""
        return {"timestamp": log_data.pop("timestamp"), **log_data}


class SinkListener(QueueListener):
    """A QueueListener for one sink: a bounded queue of lines, handed over in batches, and a
    stop that keeps to a deadline even when the sink is stuck."""

    def __init__(self, sink: Sink, maxsize: int) -> None:
        # SimpleQueue: put and get are C calls, far cheaper than queue.Queue's condition
        # variables; the bound is kept by offer().
        self._lines: queue.SimpleQueue[Line | None] = queue.SimpleQueue()
        # QueueListener only calls handle() on its handlers, which every Sink has.
        super().__init__(self._lines, sink)  # type: ignore[arg-type]
        self.maxsize = maxsize
        self._stop_next = False

    def offer(self, line: Line) -> bool:
        """Queue a line; False (and nothing queued) when the queue is full."""
        if self._lines.qsize() >= self.maxsize:
            return False
        self._lines.put(line)
        return True

    def dequeue(self, block: bool) -> list[Line] | None:  # type: ignore[override]
        """The next line and every one waiting behind it, up to BATCH_LINES: one write for
        many lines. None, QueueListener's sentinel, once asked to stop."""
        if self._stop_next:
            return None
        first = self._lines.get(block)
        if first is None:
            return None
        batch = [first]
        while len(batch) < BATCH_LINES:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._stop_next = True  # after this batch
                break
            batch.append(line)
        return batch

    def ask_to_stop(self) -> None:
        """Queue the sentinel behind every line."""
        self._lines.put(None)

    def join_by(self, deadline: float) -> bool:
        """Wait for the thread to finish; True if it did before ``deadline``."""
        # QueueListener.stop() would join without a bound; its thread lives in `_thread`.
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
            return not thread.is_alive()
        return True


class FanoutQueue:
    """The queue a QueueHandler puts into: copies each formatted line to every sink's queue.

    Only the line and its canary marker are queued, not the record, so a full queue of a
    stuck sink stays small. A full queue means its sink is stuck or slow: the line is dropped
    and counted, and a dropped canary fails at once rather than waiting for the timeout.
    """

    def __init__(self, listeners: Sequence[SinkListener], sinks: Sequence[Sink], metrics: Metrics):
        self._targets = list(zip(sinks, listeners, strict=True))
        self._dropped = {
            sink: metrics.records_dropped.labels(sink.name, "queue_full") for sink in sinks
        }

    def put_nowait(self, record: logging.LogRecord) -> None:
        delivery: Delivery | None = getattr(record, "_delivery", None)
        line = Line(record.getMessage(), delivery)
        for sink, listener in self._targets:
            if not listener.offer(line):
                self._dropped[sink].inc()
                if delivery is not None:
                    error = f"queue full ({listener.maxsize} records waiting): sink is stuck"
                    delivery.report(sink, SinkOutcome(False, Reason.TIMEOUT, error))


class LogPipeline:
    """Root logger -> QueueHandler (formats once) -> per-sink queue -> sink thread."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        metrics: Metrics,
        level: LogLevel,
        queue_size: int = QUEUE_SIZE,
        *,
        access_log: bool = True,
        access_per_second: float = ACCESS_PER_SECOND,
    ) -> None:
        self.sinks = tuple(sinks)
        self.level = level
        self._metrics = metrics
        self._access_log = access_log
        rate_limited = [metrics.records_dropped.labels(s.name, "rate_limit") for s in self.sinks]

        def dropped() -> None:  # a record dropped before fan-out is lost to every sink
            for counter in rate_limited:
                counter.inc()

        self._access_limit = RateLimit(access_per_second, dropped)
        self._bad_requests = CompactBadRequests(dropped)
        self._listeners = [SinkListener(sink, queue_size) for sink in self.sinks]
        fanout = FanoutQueue(self._listeners, self.sinks, metrics)
        self._handler = QueueHandler(fanout)  # type: ignore[arg-type]
        self._handler.setFormatter(JsonLineFormatter())
        self._saved_level = logging.NOTSET

    def start(self) -> None:
        """Start the sink threads and route every logger of the process through them."""
        for listener in self._listeners:
            listener.start()
        root = logging.getLogger()
        self._saved_level = root.level
        root.setLevel(self.level.number)
        root.addHandler(self._handler)
        # The canary is written whatever --log.level says: a filtered canary proves nothing.
        logging.getLogger(CANARY_LOGGER).setLevel(logging.INFO)
        access = logging.getLogger(ACCESS_LOGGER)
        access.addFilter(self._access_limit)
        # Off: aiohttp asks the access logger whether it is enabled and skips the whole call.
        access.setLevel(logging.NOTSET if self._access_log else logging.CRITICAL + 1)
        logging.getLogger(SERVER_LOGGER).addFilter(self._bad_requests)

    def stop(self, timeout: float) -> list[str]:
        """Detach, then drain every queue to its sink; return the sinks not drained in time."""
        root = logging.getLogger()
        root.removeHandler(self._handler)
        root.setLevel(self._saved_level)
        logging.getLogger(ACCESS_LOGGER).removeFilter(self._access_limit)
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET)
        logging.getLogger(SERVER_LOGGER).removeFilter(self._bad_requests)
        deadline = time.monotonic() + timeout
        # Every sink drains at once, so a stuck one does not eat the others' time.
        for listener in self._listeners:
            listener.ask_to_stop()
        stuck = [
            sink.name
            for sink, listener in zip(self.sinks, self._listeners, strict=True)
            if not listener.join_by(deadline)
        ]
        for sink in self.sinks:
            if sink.name not in stuck:
                sink.close()
        return stuck

    async def deliver_canary(
        self, message: str, seconds: float, **fields: str
    ) -> dict[str, SinkOutcome]:
        """Log the canary at INFO through the real pipeline; each sink's outcome, by name."""
        delivery = Delivery(asyncio.get_running_loop(), self.sinks)
        logging.getLogger(CANARY_LOGGER).info(message, extra={**fields, "_delivery": delivery})
        outcomes = await delivery.wait(seconds)
        for name, outcome in outcomes.items():
            if outcome.reason is Reason.TIMEOUT:
                self._metrics.sink_errors.labels(name, Reason.TIMEOUT.value).inc()
        return outcomes


def probe_log_file(path: Path) -> str | None:
    """Why ``path`` cannot be opened for appending, or None when it can."""
    try:
        os.close(os.open(path, FILE_FLAGS, FILE_MODE))
    except OSError as error:
        return str(error)
    return None
